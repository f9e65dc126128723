#!/usr/bin/env node
// ort-run.js: reference runner for mien's parity fixtures (ONNX Runtime, CPU,
// 1 thread). Test tooling only; mien never depends on ORT.
//   node scripts/ort-run.js CASES_DIR
// CASES_DIR/cases.tsv lines (tab-separated; '#' comments and blanks skipped):
//   name  model_path  input_name  dims(a,b,..)  input_file  outputs(x,y,..)
// input_file: raw float32 LE, relative to CASES_DIR. model_path: absolute, or
// relative to the current dir (else to CASES_DIR). Outputs may be
// intermediate tensors: a copy of the model (in memory) gets them appended as
// graph outputs. Writes CASES_DIR/out/<name>.<output>.f32 (float32 LE) and
// .shape (comma-separated dims); characters other than [A-Za-z0-9._-] in
// <output> become '_'. ORT is found in $MIEN_ORT_DIR or build/ort/node_modules
// (see scripts/setup-ort).
// As a module (bench/ort-bench.js, bench/ort-detect.js) it lends its ORT loading and its
// protobuf wire-format helpers: see module.exports.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');

// onnxruntime-node from $MIEN_ORT_DIR or build/ort/node_modules; exits 2 (naming `tool`) if absent.
function loadOrt(tool = 'ort-run') {
  const dir = path.resolve(process.env.MIEN_ORT_DIR ||
    path.join(__dirname, '..', 'build', 'ort', 'node_modules'));
  try {
    return require(path.join(dir, 'onnxruntime-node'));
  } catch (e) {
    console.error(`${tool}: cannot load onnxruntime-node from ${dir}: run scripts/setup-ort\n  (${e.message})`);
    process.exit(2);
  }
}

// Session options of every ORT reference run: CPU, sequential, `threads` intra-op threads.
function sessionOptions(threads, extra = {}) {
  return {
    executionProviders: ['cpu'], intraOpNumThreads: threads, interOpNumThreads: 1,
    executionMode: 'sequential', graphOptimizationLevel: 'all', ...extra,
  };
}

// --- minimal protobuf walking (wire format), enough to add graph outputs or rewrite a graph ---
function readVarint(buf, pos) {
  let v = 0, mul = 1, b;
  do {
    if (pos >= buf.length) throw new Error('truncated varint');
    b = buf[pos++];
    v += (b & 0x7f) * mul;
    mul *= 128;
  } while (b & 0x80);
  return [v, pos];
}
function varint(n) {
  const out = [];
  while (n >= 0x80) { out.push((n % 128) | 0x80); n = Math.floor(n / 128); }
  out.push(n);
  return Buffer.from(out);
}
// Yields {field, wire, start, dataStart, end} for each top-level field.
function* fields(buf) {
  let pos = 0;
  while (pos < buf.length) {
    const start = pos;
    let key, len;
    [key, pos] = readVarint(buf, pos);
    const field = Math.floor(key / 8), wire = key & 7;
    let dataStart = pos;
    if (wire === 0) [, pos] = readVarint(buf, pos);
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) { [len, dataStart] = readVarint(buf, pos); pos = dataStart + len; }
    else throw new Error(`unsupported wire type ${wire}`);
    if (pos > buf.length) throw new Error('truncated field');
    yield { field, wire, start, dataStart, end: pos };
  }
}
// Splits a message into its fields: {field, raw (whole field bytes), data (payload of type 2)}.
function split(buf) {
  return Array.from(fields(buf), (f) => ({
    field: f.field, raw: buf.subarray(f.start, f.end),
    data: f.wire === 2 ? buf.subarray(f.dataStart, f.end) : null,
  }));
}
function lenField(num, payload) {
  return Buffer.concat([varint(num * 8 + 2), varint(payload.length), payload]);
}
// ONNX field numbers (onnx.proto).
const ONNX = {
  MODEL_GRAPH: 7, GRAPH_NODE: 1, GRAPH_INITIALIZER: 5, GRAPH_INPUT: 11, GRAPH_OUTPUT: 12,
  NODE_INPUT: 1, NODE_OUTPUT: 2, VALUEINFO_NAME: 1, VALUEINFO_TYPE: 2, TYPE_TENSOR: 1,
  TENSOR_SHAPE: 2, SHAPE_DIM: 1, DIM_PARAM: 2, TENSOR_DATA_TYPE: 2, TENSOR_NAME: 8,
  TENSOR_RAW_DATA: 9, FLOAT: 1,
};
const { MODEL_GRAPH, GRAPH_OUTPUT, VALUEINFO_NAME } = ONNX;

// Returns a copy of the ONNX model bytes whose graph outputs include `names`.
function withOutputs(model, names) {
  for (const f of fields(model)) {
    if (f.field !== MODEL_GRAPH || f.wire !== 2) continue;
    const graph = model.subarray(f.dataStart, f.end);
    const have = new Set();
    for (const g of fields(graph)) {
      if (g.field !== GRAPH_OUTPUT || g.wire !== 2) continue;
      for (const v of fields(graph.subarray(g.dataStart, g.end)))
        if (v.field === VALUEINFO_NAME && v.wire === 2)
          have.add(graph.subarray(v.dataStart, v.end).toString('utf8'));
    }
    const extra = names.filter((n) => !have.has(n))
      .map((n) => lenField(GRAPH_OUTPUT, lenField(VALUEINFO_NAME, Buffer.from(n, 'utf8'))));
    if (extra.length === 0) return model;
    const newGraph = Buffer.concat([graph, ...extra]);
    return Buffer.concat([model.subarray(0, f.start), lenField(MODEL_GRAPH, newGraph), model.subarray(f.end)]);
  }
  throw new Error('model has no graph');
}

// Returns a copy of the model with denormal float32 initializer values
// (raw_data) set to 0; counts them in .flushed. Same byte length.
const { GRAPH_INITIALIZER, TENSOR_DATA_TYPE, TENSOR_RAW_DATA, FLOAT } = ONNX;
function flushDenormals(model) {
  const out = Buffer.from(model);
  let flushed = 0;
  for (const f of fields(out)) {
    if (f.field !== MODEL_GRAPH || f.wire !== 2) continue;
    const graph = out.subarray(f.dataStart, f.end);
    for (const g of fields(graph)) {
      if (g.field !== GRAPH_INITIALIZER || g.wire !== 2) continue;
      const t = graph.subarray(g.dataStart, g.end);
      let type = 0, raw = null;
      for (const v of fields(t)) {
        if (v.field === TENSOR_DATA_TYPE && v.wire === 0) type = readVarint(t, v.dataStart)[0];
        if (v.field === TENSOR_RAW_DATA && v.wire === 2) raw = t.subarray(v.dataStart, v.end);
      }
      if (type !== FLOAT || !raw) continue;
      for (let i = 0; i + 4 <= raw.length; i += 4) {
        const x = raw.readFloatLE(i);
        if (x !== 0 && Math.abs(x) < 1.1754943508222875e-38) { raw.writeFloatLE(0, i); flushed++; }
      }
    }
  }
  out.flushed = flushed;
  return out;
}

async function main() {
  const dir = process.argv[2];
  if (!dir) { console.error('usage: node scripts/ort-run.js CASES_DIR'); process.exit(2); }
  if (os.endianness() !== 'LE') throw new Error('little-endian host required');
  const ort = loadOrt();
  const opts = sessionOptions(1);
  const outDir = path.join(dir, 'out');
  fs.mkdirSync(outDir, { recursive: true });
  const sessions = new Map();
  const lines = fs.readFileSync(path.join(dir, 'cases.tsv'), 'utf8').split('\n');
  let n = 0;
  for (const [i, raw] of lines.entries()) {
    const line = raw.replace(/\r$/, '');
    if (!line.trim() || line.startsWith('#')) continue;
    const cols = line.split('\t');
    if (cols.length !== 6) throw new Error(`cases.tsv:${i + 1}: expected 6 tab-separated fields, got ${cols.length}`);
    const [name, modelArg, inputName, dimsStr, inputFile, outStr] = cols;
    const dims = dimsStr.split(',').map(Number);
    const outputs = outStr.split(',').filter(Boolean);
    let modelPath = path.resolve(modelArg);
    if (!path.isAbsolute(modelArg) && !fs.existsSync(modelPath)) modelPath = path.resolve(dir, modelArg);

    const key = modelPath + '\0' + outputs.join('\0');
    if (!sessions.has(key)) {
      const bytes = withOutputs(fs.readFileSync(modelPath), outputs);
      sessions.set(key, await ort.InferenceSession.create(bytes, opts));
    }
    const session = sessions.get(key);

    const buf = fs.readFileSync(path.resolve(dir, inputFile));
    const count = dims.reduce((a, b) => a * b, 1);
    if (buf.length !== count * 4) throw new Error(`${name}: ${inputFile} has ${buf.length} bytes, dims ${dimsStr} need ${count * 4}`);
    const data = new Float32Array(count);
    Buffer.from(data.buffer).set(buf);
    const t0 = process.hrtime.bigint();
    const res = await session.run({ [inputName]: new ort.Tensor('float32', data, dims) }, outputs);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;

    const desc = [];
    for (const o of outputs) {
      const t = res[o];
      const f32 = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data, Number);
      const base = path.join(outDir, `${name}.${o.replace(/[^A-Za-z0-9._-]/g, '_')}`);
      fs.writeFileSync(base + '.f32', Buffer.from(f32.buffer, f32.byteOffset, f32.byteLength));
      fs.writeFileSync(base + '.shape', t.dims.join(','));
      desc.push(`${o}[${t.dims.join(',')}]`);
    }
    console.log(`${name}: ${path.basename(modelPath)} ${ms.toFixed(1)} ms -> ${desc.join(' ')}`);
    n++;
  }
  console.log(`ort-run: ${n} case(s) -> ${outDir}`);
}

module.exports = {
  loadOrt, sessionOptions, readVarint, varint, fields, split, lenField, ONNX, withOutputs,
  flushDenormals,
};
if (require.main === module) {
  main().catch((e) => { console.error(`ort-run: error: ${e.message}`); process.exit(1); });
}
