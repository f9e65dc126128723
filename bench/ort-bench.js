#!/usr/bin/env node
// ort-bench.js: time one model in ONNX Runtime (CPU) the way mien is timed,
// as the reference for bench/engine.sh. Test/benchmark tooling only.
//   node bench/ort-bench.js --model PATH --shape 1,3,240,320 [--threads 1]
//        [--runs 50] [--warmup 10] [--input NAME] [--flush-denormals 1]
// --flush-denormals 1: zero denormal float weights first (these models have
// thousands; they make ORT's convs ~3.5x slower on fr_feature). Default off.
// Input: deterministic pseudo-random floats in [-1,1). Prints one JSON line:
// {"model","shape","threads","runs","ms_median","ms_p10","ms_p90"}.
// ORT is found in $MIEN_ORT_DIR or build/ort/node_modules (scripts/setup-ort).
'use strict';
const path = require('path');

function parseArgs(argv) {
  const a = { threads: 1, runs: 50, warmup: 10, 'flush-denormals': '0' };
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, ''), v = argv[i + 1];
    if (v === undefined || !['model', 'shape', 'threads', 'runs', 'warmup', 'input', 'flush-denormals'].includes(k)) {
      throw new Error(`bad argument ${argv[i]}`);
    }
    a[k] = v;
  }
  if (!a.model || !a.shape) throw new Error('--model and --shape are required');
  a.shape = a.shape.split(',').map(Number);
  for (const k of ['threads', 'runs', 'warmup']) a[k] = Number(a[k]);
  if (!(a.threads >= 1 && a.runs >= 1 && a.warmup >= 0)) throw new Error('bad --threads/--runs/--warmup');
  return a;
}

// Percentile with linear interpolation over sorted values.
function pct(sorted, p) {
  const x = (sorted.length - 1) * p, lo = Math.floor(x), hi = Math.ceil(x);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (x - lo);
}

async function main() {
  let a;
  try { a = parseArgs(process.argv.slice(2)); } catch (e) {
    console.error(`ort-bench: ${e.message}\nusage: node bench/ort-bench.js --model PATH --shape 1,3,240,320 [--threads 1] [--runs 50] [--warmup 10]`);
    process.exit(2);
  }
  const dir = path.resolve(process.env.MIEN_ORT_DIR || path.join(__dirname, '..', 'build', 'ort', 'node_modules'));
  let ort;
  try { ort = require(path.join(dir, 'onnxruntime-node')); } catch (e) {
    console.error(`ort-bench: cannot load onnxruntime-node from ${dir}: run scripts/setup-ort`);
    process.exit(2);
  }
  let model = a.model, flushed;
  if (a['flush-denormals'] === '1') {
    model = require('../scripts/ort-run.js').flushDenormals(require('fs').readFileSync(a.model));
    flushed = model.flushed;
  }
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ['cpu'], intraOpNumThreads: a.threads, interOpNumThreads: 1,
    executionMode: 'sequential', graphOptimizationLevel: 'all',
  });
  const n = a.shape.reduce((x, y) => x * y, 1);
  const data = new Float32Array(n);
  let s = 0x9e3779b9;  // xorshift32, fixed seed
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    data[i] = (s / 4294967296) * 2 - 1;
  }
  const feeds = { [a.input || session.inputNames[0]]: new ort.Tensor('float32', data, a.shape) };
  for (let i = 0; i < a.warmup; i++) await session.run(feeds);
  const ms = [];
  for (let i = 0; i < a.runs; i++) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  ms.sort((x, y) => x - y);
  const r3 = (x) => Math.round(x * 1000) / 1000;
  console.log(JSON.stringify({
    model: a.model, shape: a.shape, threads: a.threads, runs: a.runs,
    ms_median: r3(pct(ms, 0.5)), ms_p10: r3(pct(ms, 0.1)), ms_p90: r3(pct(ms, 0.9)),
    ...(flushed === undefined ? {} : { denormals_flushed: flushed }),
  }));
}

main().catch((e) => { console.error(`ort-bench: error: ${e.message}`); process.exit(1); });
