-- detect_faces.lua: a wrk script that POSTs one Rekognition request over and over (unsigned: a
-- server without access keys serves loopback clients unsigned), for tests/test_server_load.sh
-- and bench/serve.sh. Environment:
--   MIEN_BODY   file holding the JSON request body (e.g. {"Image":{"Bytes":"<base64 JPEG>"}})
--   MIEN_OP     the operation (default DetectFaces)
--   MIEN_LABEL  JSON members put first in the result line (e.g. "connections":8)
-- At the end it prints one JSON line: requests, rps, non2xx (responses not 2xx), socket_errors
-- (connect, read, write, timeout) and latency p50/p90/p99/max in ms.
local f = assert(io.open(assert(os.getenv("MIEN_BODY"), "MIEN_BODY not set"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/x-amz-json-1.1"
wrk.headers["X-Amz-Target"] = "RekognitionService." .. (os.getenv("MIEN_OP") or "DetectFaces")

function done(summary, latency, requests)
  local e = summary.errors
  local label = os.getenv("MIEN_LABEL")
  local s = summary.duration / 1e6
  io.write(string.format(
    '{%s"requests":%d,"seconds":%.2f,"rps":%.1f,"non2xx":%d,"socket_errors":%d,' ..
    '"p50_ms":%.2f,"p90_ms":%.2f,"p99_ms":%.2f,"max_ms":%.2f}\n',
    label and label ~= "" and label .. "," or "", summary.requests, s, summary.requests / s,
    e.status, e.connect + e.read + e.write + e.timeout, latency:percentile(50) / 1e3,
    latency:percentile(90) / 1e3, latency:percentile(99) / 1e3, latency.max / 1e3))
end
