// node run.mjs MODEL.onnx LIB.so [INPUTS.json]
//
// Runs a tessera-dialect ONNX model (custom domain "tessera") in onnxruntime-node on packed inputs and
// prints its outputs. INPUTS.json defaults to MODEL with .onnx replaced by .json: {"inputs": {name: {type:
// "float32"|"int64", dims, data}}, "expected": {name: {dims, data}}} (TesseraOpsLibraryTest writes
// target/tessera-ops-smoke.{onnx,json}); with "expected", outputs are compared (|Δ| <= 1e-5·max(1,|ref|)).
//
// Loading the custom-op library: onnxruntime-node (checked on 1.23.2) has no session option that registers
// a custom-op library. Its native binding reads only executionProviders, intra/interOpNumThreads,
// graphOptimizationLevel, enableCpuMemArena, enableMemPattern, executionMode, optimizedModelFilePath,
// logId, logSeverityLevel, enableProfiling, profileFilePrefix, externalData and `extra` (string session
// config entries, i.e. AddSessionConfigEntry), and ONNX Runtime has no config entry that loads a library.
// So this script tries the plausible spellings and reports whether the tessera ops were resolved.
// Exit status: 0 = ran (and matched), 2 = the library could not be registered (ops unresolved), 1 = other.
import fs from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';

const [model, lib, inputsArg] = process.argv.slice(2);
if (!model || !lib) {
  console.error('usage: node run.mjs MODEL.onnx LIB.so [INPUTS.json]');
  process.exit(1);
}
const inputsPath = inputsArg ?? model.replace(/\.onnx$/, '.json');
const spec = JSON.parse(fs.readFileSync(inputsPath, 'utf8'));
const libPath = path.resolve(lib);

const feeds = {};
for (const [name, t] of Object.entries(spec.inputs)) {
  const data = t.type === 'int64' ? BigInt64Array.from(t.data.map((x) => BigInt(x))) : Float32Array.from(t.data);
  feeds[name] = new ort.Tensor(t.type, data, t.dims);
}

// None of these is a registration API of onnxruntime-node; they are tried so that a future version that
// adds one under such a name (or a config key) is noticed. Unknown keys of `extra` are ignored by ORT.
const attempts = [
  { name: 'sessionOptions.extra.session.custom_op_library', options: { extra: { session: { custom_op_library: libPath } } } },
  { name: 'sessionOptions.customOpLibraries', options: { customOpLibraries: [libPath] } },
  { name: 'sessionOptions.registerCustomOpsLibrary', options: { registerCustomOpsLibrary: libPath } },
];

console.log(`onnxruntime-node ${ort.env.versions?.node ?? '(version unknown)'}, model ${model}, library ${libPath}`);
let session = null;
let lastError = null;
for (const a of attempts) {
  try {
    session = await ort.InferenceSession.create(model, { ...a.options, executionProviders: ['cpu'] });
    console.log(`session created with ${a.name}`);
    break;
  } catch (e) {
    lastError = e;
    console.log(`${a.name}: ${String(e.message ?? e).split('\n')[0]}`);
  }
}
if (!session) {
  const unresolved = /not a registered function\/op|No opset import for domain|Unrecognized|tessera/i.test(String(lastError));
  console.log(unresolved
    ? 'RESULT: onnxruntime-node cannot register a custom-op library; the tessera ops were not resolved.'
    : 'RESULT: session creation failed for another reason.');
  process.exit(unresolved ? 2 : 1);
}

const out = await session.run(feeds);
let ok = true;
for (const [name, t] of Object.entries(out)) {
  console.log(`${name} dims=${JSON.stringify(t.dims)} data=${JSON.stringify(Array.from(t.data).map((x) => +x.toFixed(6)))}`);
  const exp = spec.expected?.[name];
  if (exp) {
    let worst = 0;
    exp.data.forEach((r, i) => (worst = Math.max(worst, Math.abs(t.data[i] - r) / Math.max(1, Math.abs(r)))));
    const match = JSON.stringify(exp.dims) === JSON.stringify(t.dims) && worst <= 1e-5;
    console.log(`${name}: ${match ? 'matches' : 'DIFFERS from'} the expected output (max scaled error ${worst})`);
    ok &&= match;
  }
}
process.exit(ok ? 0 : 1);
