#!/usr/bin/env node
// ort-detect.js: fr_detect in ONNX Runtime (CPU) at the input sizes mien's pyramid used for a
// photo, as the reference for bench/detect.sh. Benchmark tooling only.
//   node bench/ort-detect.js --model PATH --passes 576x384,192x128 [--threads 1] [--runs 20]
//        [--warmup 3]
// fr_detect declares a fixed 1x3x240x320 input and ends in a tail with priors baked for that
// size, so (like mien) the model is cut at its eight head convolutions and its input height and
// width are made free: a copy of the model is rewritten in memory (graph outputs replaced by the
// heads, input dims 2 and 3 by dim_params). One timed run = every pass once, on deterministic
// pseudo-random input. Prints one JSON line: {"passes","threads","runs","ms_median","ms_p10",
// "ms_p90"}. ORT is found in $MIEN_ORT_DIR or build/ort/node_modules (scripts/setup-ort).
'use strict';
const fs = require('fs');
const path = require('path');

const HEADS = ['319', '333', '365', '379', '405', '419', '437', '449'];

// --- protobuf wire format: just enough to rewrite a ModelProto's graph inputs and outputs ---
function varint(buf, pos) {
  let v = 0, mul = 1, b;
  do {
    if (pos >= buf.length) throw new Error('truncated varint');
    b = buf[pos++];
    v += (b & 0x7f) * mul;
    mul *= 128;
  } while (b & 0x80);
  return [v, pos];
}
function encVarint(n) {
  const out = [];
  while (n >= 0x80) { out.push((n % 128) | 0x80); n = Math.floor(n / 128); }
  out.push(n);
  return Buffer.from(out);
}
// Splits a message into its fields: {field, raw (whole field bytes), data (payload of type 2)}.
function split(buf) {
  const out = [];
  for (let pos = 0; pos < buf.length;) {
    const start = pos;
    let key, len, dataStart;
    [key, pos] = varint(buf, pos);
    const wire = key & 7;
    if (wire === 0) [, pos] = varint(buf, pos);
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) { [len, dataStart] = varint(buf, pos); pos = dataStart + len; }
    else throw new Error(`unsupported wire type ${wire}`);
    out.push({ field: Math.floor(key / 8), raw: buf.subarray(start, pos),
      data: wire === 2 ? buf.subarray(dataStart, pos) : null });
  }
  return out;
}
const msg = (field, payload) => Buffer.concat([encVarint(field * 8 + 2), encVarint(payload.length), payload]);
// Rebuilds a message, passing each field through fn (which returns replacement bytes).
const rewrite = (buf, fn) => Buffer.concat(split(buf).map((f) => fn(f) ?? f.raw));

const MODEL_GRAPH = 7, GRAPH_NODE = 1, GRAPH_INPUT = 11, GRAPH_OUTPUT = 12, GRAPH_INITIALIZER = 5;
const NODE_INPUT = 1, NODE_OUTPUT = 2;
const VALUEINFO_NAME = 1, VALUEINFO_TYPE = 2, TYPE_TENSOR = 1, TENSOR_SHAPE = 2, SHAPE_DIM = 1,
  DIM_PARAM = 2;

function freeHeightWidth(valueInfo) {
  return rewrite(valueInfo, (f) => f.field !== VALUEINFO_TYPE ? null :
    msg(VALUEINFO_TYPE, rewrite(f.data, (t) => t.field !== TYPE_TENSOR ? null :
      msg(TYPE_TENSOR, rewrite(t.data, (s) => {
        if (s.field !== TENSOR_SHAPE) return null;
        let i = 0;
        return msg(TENSOR_SHAPE, rewrite(s.data, (d) => {
          if (d.field !== SHAPE_DIM) return null;
          const k = i++;
          return k === 2 || k === 3 ? msg(SHAPE_DIM, msg(DIM_PARAM, Buffer.from(k === 2 ? 'h' : 'w'))) : null;
        }));
      })))));
}

const strings = (m, field) => split(m).filter((f) => f.field === field).map((f) => f.data.toString());

// Nodes the heads depend on, by the offset of their bytes (ORT would otherwise still run the
// prior tail, which fails at any size but 320x240).
function neededNodes(graph) {
  const nodes = split(graph).filter((g) => g.field === GRAPH_NODE).map((g) => g.data);
  const want = new Set(HEADS), keep = new Set();
  for (let i = nodes.length - 1; i >= 0; i--) {  // ONNX nodes are topologically sorted
    if (!strings(nodes[i], NODE_OUTPUT).some((o) => want.has(o))) continue;
    keep.add(nodes[i].byteOffset);
    for (const x of strings(nodes[i], NODE_INPUT)) want.add(x);
  }
  return keep;
}

function detectorHeads(model) {
  return rewrite(model, (f) => {
    if (f.field !== MODEL_GRAPH) return null;
    const initializers = new Set(split(f.data).filter((g) => g.field === GRAPH_INITIALIZER)
      .map((g) => split(g.data).find((t) => t.field === 8)?.data?.toString()));  // TensorProto.name = 8
    const keep = neededNodes(f.data);
    const graph = rewrite(f.data, (g) => {
      if (g.field === GRAPH_OUTPUT || (g.field === GRAPH_NODE && !keep.has(g.data.byteOffset))) return Buffer.alloc(0);
      if (g.field !== GRAPH_INPUT) return null;
      const name = split(g.data).find((v) => v.field === VALUEINFO_NAME).data.toString();
      return initializers.has(name) ? null : msg(GRAPH_INPUT, freeHeightWidth(g.data));
    });
    const outputs = HEADS.map((n) => msg(GRAPH_OUTPUT, msg(VALUEINFO_NAME, Buffer.from(n))));
    return msg(MODEL_GRAPH, Buffer.concat([graph, ...outputs]));
  });
}

function parseArgs(argv) {
  const a = { threads: 1, runs: 20, warmup: 3 };
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, ''), v = argv[i + 1];
    if (v === undefined || !['model', 'passes', 'threads', 'runs', 'warmup'].includes(k)) {
      throw new Error(`bad argument ${argv[i]}`);
    }
    a[k] = v;
  }
  if (!a.model || !a.passes) throw new Error('--model and --passes are required');
  a.passes = a.passes.split(',').map((p) => p.split('x').map(Number));
  if (a.passes.some((p) => p.length !== 2 || !(p[0] >= 1 && p[1] >= 1))) throw new Error('bad --passes');
  for (const k of ['threads', 'runs', 'warmup']) a[k] = Number(a[k]);
  if (!(a.threads >= 1 && a.runs >= 1 && a.warmup >= 0)) throw new Error('bad --threads/--runs/--warmup');
  return a;
}

function pct(sorted, p) {
  const x = (sorted.length - 1) * p, lo = Math.floor(x), hi = Math.ceil(x);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (x - lo);
}

async function main() {
  let a;
  try { a = parseArgs(process.argv.slice(2)); } catch (e) {
    console.error(`ort-detect: ${e.message}\nusage: node bench/ort-detect.js --model PATH --passes WxH[,WxH...] [--threads 1] [--runs 20] [--warmup 3]`);
    process.exit(2);
  }
  const dir = path.resolve(process.env.MIEN_ORT_DIR || path.join(__dirname, '..', 'build', 'ort', 'node_modules'));
  let ort;
  try { ort = require(path.join(dir, 'onnxruntime-node')); } catch (e) {
    console.error(`ort-detect: cannot load onnxruntime-node from ${dir}: run scripts/setup-ort`);
    process.exit(2);
  }
  const session = await ort.InferenceSession.create(detectorHeads(fs.readFileSync(a.model)), {
    executionProviders: ['cpu'], intraOpNumThreads: a.threads, interOpNumThreads: 1,
    executionMode: 'sequential', graphOptimizationLevel: 'all',
    logSeverityLevel: 3,  // the cut leaves the tail's constants unused; ORT warns about each
  });
  let s = 0x9e3779b9;  // xorshift32, fixed seed
  const feeds = a.passes.map(([w, h]) => {
    const data = new Float32Array(3 * w * h);
    for (let i = 0; i < data.length; i++) {
      s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
      data[i] = (s / 4294967296) * 2 - 1;
    }
    return { [session.inputNames[0]]: new ort.Tensor('float32', data, [1, 3, h, w]) };
  });
  const once = async () => { for (const f of feeds) await session.run(f, HEADS); };
  for (let i = 0; i < a.warmup; i++) await once();
  const ms = [];
  for (let i = 0; i < a.runs; i++) {
    const t0 = process.hrtime.bigint();
    await once();
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  ms.sort((x, y) => x - y);
  const r3 = (x) => Math.round(x * 1000) / 1000;
  console.log(JSON.stringify({
    passes: a.passes.map(([w, h]) => `${w}x${h}`), threads: a.threads, runs: a.runs,
    ms_median: r3(pct(ms, 0.5)), ms_p10: r3(pct(ms, 0.1)), ms_p90: r3(pct(ms, 0.9)),
  }));
}

main().catch((e) => { console.error(`ort-detect: ${e.message}`); process.exit(1); });
