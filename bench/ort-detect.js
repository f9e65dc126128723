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
const { loadOrt, sessionOptions, split, lenField: msg, ONNX } = require('../scripts/ort-run.js');
const { parseArgs, randomFloats, timeRuns } = require('./ort-bench.js');

const HEADS = ['319', '333', '365', '379', '405', '419', '437', '449'];

// Rebuilds a message, passing each field through fn (which returns replacement bytes).
const rewrite = (buf, fn) => Buffer.concat(split(buf).map((f) => fn(f) ?? f.raw));

const { MODEL_GRAPH, GRAPH_NODE, GRAPH_INPUT, GRAPH_OUTPUT, GRAPH_INITIALIZER, NODE_INPUT,
  NODE_OUTPUT, VALUEINFO_NAME, VALUEINFO_TYPE, TYPE_TENSOR, TENSOR_SHAPE, SHAPE_DIM, DIM_PARAM,
  TENSOR_NAME } = ONNX;

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
      .map((g) => split(g.data).find((t) => t.field === TENSOR_NAME)?.data?.toString()));
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

async function main() {
  const a = parseArgs('ort-detect', 'node bench/ort-detect.js --model PATH --passes WxH[,WxH...] [--threads 1] [--runs 20] [--warmup 3]',
    process.argv.slice(2), {
      defaults: { threads: 1, runs: 20, warmup: 3 },
      keys: ['model', 'passes', 'threads', 'runs', 'warmup'],
      required: ['model', 'passes'],
      post: (x) => {
        x.passes = x.passes.split(',').map((p) => p.split('x').map(Number));
        if (x.passes.some((p) => p.length !== 2 || !(p[0] >= 1 && p[1] >= 1))) throw new Error('bad --passes');
      },
    });
  const ort = loadOrt('ort-detect');
  const session = await ort.InferenceSession.create(detectorHeads(fs.readFileSync(a.model)),
    sessionOptions(a.threads, {
      logSeverityLevel: 3,  // the cut leaves the tail's constants unused; ORT warns about each
    }));
  const random = randomFloats();
  const feeds = a.passes.map(([w, h]) => (
    { [session.inputNames[0]]: new ort.Tensor('float32', random(3 * w * h), [1, 3, h, w]) }));
  const stats = await timeRuns(async () => { for (const f of feeds) await session.run(f, HEADS); },
    a.warmup, a.runs);
  console.log(JSON.stringify({
    passes: a.passes.map(([w, h]) => `${w}x${h}`), threads: a.threads, runs: a.runs, ...stats,
  }));
}

main().catch((e) => { console.error(`ort-detect: ${e.message}`); process.exit(1); });
