// A TEI-shaped HTTP server around one model, for the side-by-side benchmark.
//   node peer-server.mjs --engine tjs|ort|ortb --task embed|predict --model-dir DIR --port P [--threads N]
// Routes (as Tessera's default-model routes): POST /embed, POST /predict, POST /tokenize, GET /health/ready.
// Body {"inputs": "text" | ["t1", "t2", ...]}; /embed -> [[floats], ...] (mean-pooled, L2-normalised);
// /predict -> [[{label, score}, ...], ...] sorted by score (softmax); a single string -> one list, as TEI.
// Engines: tjs  = transformers.js pipeline ('feature-extraction' / 'text-classification'), one request at a time;
//          ort  = raw onnxruntime-node session, transformers.js tokenizer, pooling in JS, one request at a time;
//          ortb = as ort, but inputs queued while a run is in flight are coalesced into the next runs
//                 (FIFO up to a token budget, then length-sorted, a new run where a sequence would be over
//                 half padding): a simple stand-in for Tessera's batcher, not a copy of it.
// Models are read from local files only (env.allowRemoteModels = false).
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { AutoTokenizer, pipeline, env } from '@huggingface/transformers';

const { values: a } = parseArgs({ options: {
  engine: { type: 'string' }, task: { type: 'string' }, 'model-dir': { type: 'string' }, port: { type: 'string' },
  threads: { type: 'string', default: String(os.availableParallelism()) },
  'max-length': { type: 'string', default: '512' }, 'max-batch-tokens': { type: 'string', default: '16384' },
} });
const engine = a.engine, task = a.task, MAXLEN = +a['max-length'], THREADS = +a.threads, BUDGET = +a['max-batch-tokens'];
const modelDir = path.resolve(a['model-dir']);
env.allowRemoteModels = false;
env.localModelPath = path.dirname(modelDir);
const modelName = path.basename(modelDir);
const sessionOptions = { intraOpNumThreads: THREADS, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionProviders: ['cpu'] };

const tokenizer = await AutoTokenizer.from_pretrained(modelName);
const config = JSON.parse(await (await import('node:fs/promises')).readFile(path.join(modelDir, 'config.json'), 'utf8'));
const labels = config.id2label ? Object.keys(config.id2label).sort((x, y) => x - y).map((k) => config.id2label[k]) : [];

let infer; // (texts: string[]) => Promise<result per text>
if (engine === 'tjs') {
  const pipe = await pipeline(task === 'embed' ? 'feature-extraction' : 'text-classification', modelName,
    { dtype: 'fp32', device: 'cpu', session_options: sessionOptions });
  infer = task === 'embed'
    ? async (texts) => (await pipe(texts, { pooling: 'mean', normalize: true })).tolist()
    : async (texts) => { const r = await pipe(texts, { top_k: null }); return texts.length === 1 && !Array.isArray(r[0]) ? [r] : r; };
} else {
  const session = await ort.InferenceSession.create(path.join(modelDir, 'onnx/model.onnx'), sessionOptions);
  const out = task === 'embed' ? 'last_hidden_state' : 'logits';
  const runBatch = async (texts) => {
    const enc = tokenizer(texts, { padding: true, truncation: true, max_length: MAXLEN });
    const feeds = {};
    for (const n of session.inputNames) {
      const t = enc[n] ?? (n === 'token_type_ids' ? null : undefined);
      if (t) feeds[n] = new ort.Tensor('int64', t.data, t.dims);
      else if (n === 'token_type_ids') feeds[n] = new ort.Tensor('int64', new BigInt64Array(enc.input_ids.data.length), enc.input_ids.dims);
    }
    const r = (await session.run(feeds, [out]))[out];
    const [b, s] = enc.input_ids.dims, mask = enc.attention_mask.data, res = [];
    if (task === 'embed') {
      const h = r.dims[2], x = r.data;
      for (let i = 0; i < b; i++) {
        const v = new Float64Array(h); let n = 0;
        for (let t = 0; t < s; t++) {
          if (mask[i * s + t] === 0n) continue;
          n++; const o = (i * s + t) * h;
          for (let k = 0; k < h; k++) v[k] += x[o + k];
        }
        let norm = 0; for (let k = 0; k < h; k++) { v[k] /= n; norm += v[k] * v[k]; }
        norm = Math.sqrt(norm) || 1;
        res.push(Array.from(v, (y) => y / norm));
      }
    } else {
      const c = r.dims[1], x = r.data;
      for (let i = 0; i < b; i++) {
        const z = Array.from(x.subarray(i * c, (i + 1) * c)), m = Math.max(...z), e = z.map((y) => Math.exp(y - m)), sum = e.reduce((p, q) => p + q, 0);
        res.push(e.map((y, k) => ({ label: labels[k] ?? `LABEL_${k}`, score: y / sum })).sort((p, q) => q.score - p.score));
      }
    }
    return res;
  };
  if (engine === 'ort') infer = runBatch;
  else { // ortb: continuous batching of whatever queued during the previous run
    const queue = []; let busy = false;
    const pump = async () => {
      if (busy || queue.length === 0) return;
      busy = true;
      // FIFO: take queued inputs up to the token budget (so early requests finish first), then sort
      // that chunk by length and cut it where a sequence would be over half padding or the budget ends
      let n = 0, tokens = 0;
      while (n < queue.length && (n === 0 || tokens + queue[n].len <= BUDGET)) tokens += queue[n++].len;
      const items = queue.splice(0, n); // [{text, len, resolve, reject}]
      items.sort((p, q) => q.len - p.len);
      const groups = []; let g = [];
      for (const it of items) {
        const maxl = g.length ? g[0].len : it.len;
        if (g.length && ((g.length + 1) * maxl > BUDGET || it.len * 2 < maxl)) { groups.push(g); g = []; }
        g.push(it);
      }
      if (g.length) groups.push(g);
      for (const grp of groups) {
        try { const r = await runBatch(grp.map((i) => i.text)); grp.forEach((i, k) => i.resolve(r[k])); }
        catch (e) { grp.forEach((i) => i.reject(e)); }
      }
      busy = false;
      setImmediate(pump);
    };
    infer = (texts) => Promise.all(texts.map((text) => new Promise((resolve, reject) => {
      queue.push({ text, len: Math.min(MAXLEN, tokenizer(text).input_ids.dims.at(-1)), resolve, reject });
      pump();
    })));
  }
}
// tjs and ort: one inference at a time (concurrent session.run calls would each take THREADS threads)
if (engine !== 'ortb') {
  const run = infer; let tail = Promise.resolve();
  infer = (texts) => { const p = tail.then(() => run(texts)); tail = p.catch(() => {}); return p; };
}

function tokenize(texts) {
  return texts.map((t) => {
    const ids = tokenizer(t, { truncation: true, max_length: MAXLEN }).input_ids.data;
    return Array.from(ids, (id) => ({ id: Number(id) }));
  });
}
const server = http.createServer((req, res) => {
  const send = (code, obj) => { const b = JSON.stringify(obj); res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(b) }); res.end(b); };
  if (req.method === 'GET' && (req.url === '/health/ready' || req.url === '/health')) return send(200, { status: 'UP' });
  if (req.method === 'GET' && req.url === '/info') return send(200, { model_id: modelName, engine, task, threads: THREADS, max_input_length: MAXLEN, pid: process.pid });
  if (req.method !== 'POST') return send(404, { detail: 'not found' });
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      const single = typeof body.inputs === 'string';
      const texts = single ? [body.inputs] : body.inputs;
      if (!Array.isArray(texts) || texts.some((t) => typeof t !== 'string')) return send(422, { detail: 'inputs: a string or an array of strings' });
      if (!single && texts.length === 2) return send(422, { detail: 'two strings would be a pair in TEI; pairs are not supported here' });
      if (req.url === '/tokenize') return send(200, tokenize(texts));
      if (req.url !== `/${task}`) return send(404, { detail: `this server only serves /${task}` });
      const r = await infer(texts);
      send(200, single && task === 'predict' ? r[0] : r);
    } catch (e) { send(500, { detail: String(e?.message ?? e) }); }
  });
});
server.keepAliveTimeout = 120000;
server.listen(+a.port, '127.0.0.1', () => console.log(`${engine} ${task} ${modelName} on :${a.port} (threads ${THREADS}, pid ${process.pid})`));
