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
// As a module (bench/ort-detect.js) it lends parseArgs, randomFloats and timeRuns.
'use strict';
const fs = require('fs');
const { loadOrt, sessionOptions, flushDenormals } = require('../scripts/ort-run.js');

// Parses `--key value` pairs over a copy of defaults: keys lists the names allowed, required
// those that must be given; post(a) converts and checks the script's own; threads, runs and
// warmup become numbers. On a bad command line prints `tool: why` and the usage, and exits 2.
function parseArgs(tool, usage, argv, { defaults, keys, required, post = () => {} }) {
  try {
    const a = { ...defaults };
    for (let i = 0; i < argv.length; i += 2) {
      const k = argv[i].replace(/^--/, ''), v = argv[i + 1];
      if (v === undefined || !keys.includes(k)) throw new Error(`bad argument ${argv[i]}`);
      a[k] = v;
    }
    if (required.some((k) => !a[k])) {
      throw new Error(`${required.map((k) => `--${k}`).join(' and ')} are required`);
    }
    post(a);
    for (const k of ['threads', 'runs', 'warmup']) a[k] = Number(a[k]);
    if (!(a.threads >= 1 && a.runs >= 1 && a.warmup >= 0)) throw new Error('bad --threads/--runs/--warmup');
    return a;
  } catch (e) {
    console.error(`${tool}: ${e.message}\nusage: ${usage}`);
    process.exit(2);
  }
}

// Deterministic pseudo-random input in [-1,1): xorshift32 from a fixed seed. The returned
// function gives the next n floats of the one stream.
function randomFloats() {
  let s = 0x9e3779b9;
  return (n) => {
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
      data[i] = (s / 4294967296) * 2 - 1;
    }
    return data;
  };
}

// Percentile with linear interpolation over sorted values.
function pct(sorted, p) {
  const x = (sorted.length - 1) * p, lo = Math.floor(x), hi = Math.ceil(x);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (x - lo);
}

// Awaits once() warmup times, then times it runs times: {ms_median, ms_p10, ms_p90}, to 0.001 ms.
async function timeRuns(once, warmup, runs) {
  for (let i = 0; i < warmup; i++) await once();
  const ms = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    await once();
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  ms.sort((x, y) => x - y);
  const r3 = (x) => Math.round(x * 1000) / 1000;
  return { ms_median: r3(pct(ms, 0.5)), ms_p10: r3(pct(ms, 0.1)), ms_p90: r3(pct(ms, 0.9)) };
}

async function main() {
  const a = parseArgs('ort-bench', 'node bench/ort-bench.js --model PATH --shape 1,3,240,320 [--threads 1] [--runs 50] [--warmup 10]',
    process.argv.slice(2), {
      defaults: { threads: 1, runs: 50, warmup: 10, 'flush-denormals': '0' },
      keys: ['model', 'shape', 'threads', 'runs', 'warmup', 'input', 'flush-denormals'],
      required: ['model', 'shape'],
      post: (x) => { x.shape = x.shape.split(',').map(Number); },
    });
  const ort = loadOrt('ort-bench');
  let model = a.model, flushed;
  if (a['flush-denormals'] === '1') {
    model = flushDenormals(fs.readFileSync(a.model));
    flushed = model.flushed;
  }
  const session = await ort.InferenceSession.create(model, sessionOptions(a.threads));
  const data = randomFloats()(a.shape.reduce((x, y) => x * y, 1));
  const feeds = { [a.input || session.inputNames[0]]: new ort.Tensor('float32', data, a.shape) };
  const stats = await timeRuns(() => session.run(feeds), a.warmup, a.runs);
  console.log(JSON.stringify({
    model: a.model, shape: a.shape, threads: a.threads, runs: a.runs, ...stats,
    ...(flushed === undefined ? {} : { denormals_flushed: flushed }),
  }));
}

module.exports = { parseArgs, randomFloats, pct, timeRuns };
if (require.main === module) {
  main().catch((e) => { console.error(`ort-bench: error: ${e.message}`); process.exit(1); });
}
