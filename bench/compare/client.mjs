// Closed-loop HTTP load client for the side-by-side benchmark (one client drives every server).
//   node client.mjs run --servers servers.json --texts texts.json --out results.json [options]
//   node client.mjs report --out results.json [--peak-gflops G] [--md table.md]
// run options: --shapes short,long,mixed --batches 1,32 --clients 1,4,16,64 --duration 15 --warmup 3 --reps 3
// servers.json: [{name, tessera: bool, model, route: "embed"|"predict", url, pid, config}]  (one model per file)
// Per cell (model, shape, batch, clients) the servers run in rotating order, rep after rep; medians reported.
import fs from 'node:fs';
import http from 'node:http';
import { parseArgs } from 'node:util';

const { positionals, values: o } = parseArgs({ allowPositionals: true, options: {
  servers: { type: 'string' }, texts: { type: 'string' }, out: { type: 'string' }, md: { type: 'string' },
  shapes: { type: 'string', default: 'short,long,mixed' }, batches: { type: 'string', default: '1,32' },
  clients: { type: 'string', default: '1,4,16,64' }, duration: { type: 'string', default: '15' },
  warmup: { type: 'string', default: '3' }, reps: { type: 'string', default: '3' },
  'mixed-batch': { type: 'string', default: '8' }, 'peak-gflops': { type: 'string', default: '390' },
  cmdline: { type: 'string', default: '' },
} });
const list = (s) => s.split(',').map((x) => x.trim()).filter(Boolean);

// ---------- HTTP ----------
function post(agent, url, body) {
  return new Promise((resolve) => {
    const u = new URL(url), t0 = process.hrtime.bigint();
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8'), ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
    });
    req.on('error', (e) => resolve({ status: 0, body: String(e), ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
    req.end(body);
  });
}
// TEI's /predict takes a batch as [["t1"], ["t2"], ...] (a flat list of more than two strings is refused, as in TEI);
// the node peers take a flat list everywhere
const bodyOf = (texts, server) => JSON.stringify(texts.length === 1 ? { inputs: texts[0], truncate: true }
  : { inputs: server?.tessera && server.route === 'predict' ? texts.map((t) => [t]) : texts, truncate: true });

async function closedLoop(server, texts, batch, clients, seconds) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  const url = `${server.url}/${server.route}`;
  const lat = []; let seqs = 0, reqs = 0, errors = 0; let firstError = null;
  const t0 = performance.now(), deadline = t0 + seconds * 1000;
  const worker = async (c) => {
    let k = c * batch * 7;
    while (performance.now() < deadline) {
      const b = []; for (let i = 0; i < batch; i++) b.push(texts[(k + i) % texts.length]);
      k += batch;
      const r = await post(agent, url, bodyOf(b, server));
      if (performance.now() > deadline) break; // finished after the window: not counted
      if (r.status === 200) { reqs++; seqs += batch; lat.push(r.ms); } else { errors++; firstError ??= `${r.status} ${r.body.slice(0, 200)}`; }
    }
  };
  await Promise.all(Array.from({ length: clients }, (_, c) => worker(c))); // waits for in-flight requests to drain
  agent.destroy();
  lat.sort((x, y) => x - y);
  const q = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] : NaN);
  return { seqs_per_s: seqs / seconds, reqs_per_s: reqs / seconds, p50_ms: q(0.5), p99_ms: q(0.99), errors, first_error: firstError, requests: reqs };
}
function rssMB(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => +(s.match(new RegExp(`${k}:\\s+(\\d+)`))?.[1] ?? NaN);
    return { hwm_mb: kb('VmHWM') / 1024, rss_mb: kb('VmRSS') / 1024 };
  } catch { return { hwm_mb: NaN, rss_mb: NaN }; }
}
const median = (a) => { const b = a.filter((x) => !Number.isNaN(x)).sort((x, y) => x - y); return b.length ? (b.length % 2 ? b[(b.length - 1) / 2] : (b[b.length / 2 - 1] + b[b.length / 2]) / 2) : NaN; };

// FLOPs of one sequence of L tokens: 2·(matmul params per layer)·L + 4·L²·H per layer (QKᵀ and AV).
// Classic BERT FFN: 2·H·I; MosaicBERT GeGLU: 3·H·I (gated up-projection H→2I, down I→H). Pooler/head ignored.
function flopsPerSeq(cfg, L) {
  const H = cfg.hidden_size, I = cfg.intermediate_size, N = cfg.num_hidden_layers;
  const geglu = cfg.alibi_starting_size !== undefined;
  const p = 4 * H * H + (geglu ? 3 : 2) * H * I;
  return N * (2 * p * L + 4 * L * L * H);
}

async function run() {
  const servers = JSON.parse(fs.readFileSync(o.servers, 'utf8'));
  const T = JSON.parse(fs.readFileSync(o.texts, 'utf8'));
  const results = fs.existsSync(o.out) ? JSON.parse(fs.readFileSync(o.out, 'utf8')) : { command: o.cmdline, started: new Date().toISOString(), checks: [], tokens: [], cells: [] };
  const model = servers[0].model;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  // 1. same answers? first 4 short texts, one request each, against the first server
  const ref = [];
  for (const s of servers) {
    const outs = [];
    for (const t of T.short.slice(0, 4)) outs.push(JSON.parse((await post(agent, `${s.url}/${s.route}`, bodyOf([t]))).body));
    ref.push(outs);
  }
  for (let i = 1; i < servers.length; i++) {
    let maxd = 0, minCos = 1, same = true;
    for (let j = 0; j < 4; j++) {
      if (servers[0].route === 'embed') {
        const x = ref[0][j][0], y = ref[i][j][0]; let d = 0, xx = 0, yy = 0;
        x.forEach((v, k) => { maxd = Math.max(maxd, Math.abs(v - y[k])); d += v * y[k]; xx += v * v; yy += y[k] * y[k]; });
        minCos = Math.min(minCos, d / Math.sqrt(xx * yy));
      } else {
        const x = ref[0][j], y = ref[i][j]; same &&= x[0].label === y[0].label;
        x.forEach((e) => { maxd = Math.max(maxd, Math.abs(e.score - y.find((f) => f.label === e.label).score)); });
      }
    }
    const c = { model, a: servers[0].name, b: servers[i].name, max_abs_diff: maxd, ...(servers[0].route === 'embed' ? { min_cosine: minCos } : { same_top_label: same }) };
    results.checks.push(c);
    console.error(`check ${model}: ${c.a} vs ${c.b}: max|Δ| ${maxd.toExponential(2)} ${c.min_cosine !== undefined ? `min cosine ${c.min_cosine.toFixed(7)}` : `same top label ${same}`}`);
  }
  // 2. tokens per sequence, each server counting with its own tokenizer (/tokenize, one text per request)
  const shapes = list(o.shapes), tok = {};
  for (const s of servers) for (const sh of shapes) {
    const n = [];
    for (const t of T[sh]) { const r = await post(agent, `${s.url}/tokenize`, JSON.stringify({ inputs: t, truncate: true })); n.push(JSON.parse(r.body)[0].length); }
    const mean = n.reduce((x, y) => x + y, 0) / n.length;
    const flops = n.reduce((x, L) => x + flopsPerSeq(s.config, Math.min(L, T.max_length)), 0) / n.length;
    tok[`${s.name}|${sh}`] = { mean, max: Math.max(...n), flops };
    results.tokens.push({ server: s.name, model, shape: sh, tokens_mean: mean, tokens_max: Math.max(...n), flops_per_seq: flops });
  }
  for (const sh of shapes) console.error(`tokens/seq ${model} ${sh}: ` + servers.map((s) => `${s.name} ${tok[`${s.name}|${sh}`].mean.toFixed(1)} (max ${tok[`${s.name}|${sh}`].max})`).join(', '));
  agent.destroy();
  // 3. cells, servers interleaved in rotating order
  let cellNo = 0;
  for (const sh of shapes) for (const batch of (sh === 'mixed' ? [+o['mixed-batch']] : list(o.batches).map(Number))) for (const clients of list(o.clients).map(Number)) {
    const per = Object.fromEntries(servers.map((s) => [s.name, []]));
    for (let rep = 0; rep < +o.reps; rep++) {
      const order = servers.map((_, i) => servers[(i + rep + cellNo) % servers.length]);
      for (const s of order) {
        if (+o.warmup > 0) await closedLoop(s, T[sh], batch, clients, +o.warmup);
        const r = await closedLoop(s, T[sh], batch, clients, +o.duration);
        per[s.name].push({ ...r, ...rssMB(s.pid) });
        console.error(`  ${model} ${sh} b${batch} c${clients} rep${rep} ${s.name}: ${r.seqs_per_s.toFixed(1)} seq/s p50 ${r.p50_ms.toFixed(1)} ms p99 ${r.p99_ms.toFixed(1)} ms err ${r.errors}${r.first_error ? ` (${r.first_error})` : ''}`);
      }
    }
    for (const s of servers) {
      const rs = per[s.name], tk = tok[`${s.name}|${sh}`];
      results.cells.push({ server: s.name, tessera: !!s.tessera, model, shape: sh, batch, clients, reps: rs.length, duration_s: +o.duration,
        tokens_per_seq: tk.mean, seqs_per_s: median(rs.map((r) => r.seqs_per_s)), p50_ms: median(rs.map((r) => r.p50_ms)), p99_ms: median(rs.map((r) => r.p99_ms)),
        errors: rs.reduce((x, r) => x + r.errors, 0), first_error: rs.find((r) => r.first_error)?.first_error ?? null,
        peak_rss_mb: Math.max(...rs.map((r) => r.hwm_mb)), min_requests: Math.min(...rs.map((r) => r.requests)), flops_per_seq: tk.flops, runs: rs.map((r) => r.seqs_per_s) });
    }
    cellNo++;
    fs.writeFileSync(o.out, JSON.stringify(results, null, 1));
  }
  results.finished = new Date().toISOString();
  fs.writeFileSync(o.out, JSON.stringify(results, null, 1));
}

function report() {
  const R = JSON.parse(fs.readFileSync(o.out, 'utf8')), peak = +o['peak-gflops'];
  const f = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '—');
  const lines = [`# command: ${R.command}`, `# started ${R.started}, finished ${R.finished ?? '(incomplete)'}; medians of ${R.cells[0]?.reps ?? 0} interleaved runs per cell; fp32 peak taken as ${peak} GFLOP/s`, ''];
  for (const c of R.checks) lines.push(`- same work: ${c.model}: ${c.a} vs ${c.b}: max |Δ| ${c.max_abs_diff.toExponential(2)}${c.min_cosine !== undefined ? `, min cosine ${c.min_cosine.toFixed(7)}` : `, same top label: ${c.same_top_label}`}`);
  lines.push('', '| server | model | shape | batch | clients | tokens/seq | seq/s | p50 ms | p99 ms | errors | peak RSS MB | GFLOP/s | % of peak | Tessera / peer |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  const csv = ['server,model,shape,batch,clients,tokens_per_seq,seqs_per_s,p50_ms,p99_ms,errors,peak_rss_mb,gflops,pct_peak'];
  let anyFew = false;
  const key = (c) => `${c.model}|${c.shape}|${c.batch}|${c.clients}`;
  for (const c of R.cells) {
    const gf = c.seqs_per_s * c.flops_per_seq / 1e9;
    const ts = R.cells.filter((t) => t.tessera && key(t) === key(c));
    const ratio = c.tessera ? '' : ts.map((t) => `${ts.length > 1 ? t.server + ' ' : ''}${c.seqs_per_s > 0 ? f(t.seqs_per_s / c.seqs_per_s, 2) + '×' : '—'}`).join(' · ');
    const few = (c.min_requests ?? Infinity) < 5 * c.clients ? '*' : ''; // too few completions per run to trust
    if (few) anyFew = true;
    lines.push(`| ${c.server} | ${c.model} | ${c.shape} | ${c.batch} | ${c.clients} | ${f(c.tokens_per_seq)} | ${f(c.seqs_per_s)}${few} | ${f(c.p50_ms)} | ${f(c.p99_ms)} | ${c.errors} | ${f(c.peak_rss_mb, 0)} | ${f(gf)} | ${f(100 * gf / peak)}% | ${ratio} |`);
    csv.push([c.server, c.model, c.shape, c.batch, c.clients, f(c.tokens_per_seq), f(c.seqs_per_s, 2), f(c.p50_ms, 2), f(c.p99_ms, 2), c.errors, f(c.peak_rss_mb, 0), f(gf, 2), f(100 * gf / peak, 2)].join(','));
  }
  if (anyFew) lines.push('', '\\* fewer than 5 completed requests per client in at least one run of the cell: throughput is quantised; use a longer --duration.');
  const md = lines.join('\n') + '\n';
  process.stdout.write(md);
  if (o.md) fs.writeFileSync(o.md, md);
  fs.writeFileSync(o.out.replace(/\.json$/, '') + '.csv', csv.join('\n') + '\n');
}

if (positionals[0] === 'run') await run();
else if (positionals[0] === 'report') report();
else { console.error('usage: node client.mjs run|report ...'); process.exit(2); }
