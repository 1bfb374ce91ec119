// The Tessera web console: models, try a model, training jobs with live curves, health. Plain DOM, no framework;
// server data only ever reaches the page as text (textContent), never as HTML.
import * as api from './api.js';
import { draw, fmt } from './chart.js';

const $ = id => document.getElementById(id);

/** h('td', {class: 'x', onclick: f}, child, 'text', ...): an element; false/null children are skipped. */
function h(tag, props = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of kids.flat()) if (c !== null && c !== undefined && c !== false) e.append(c instanceof Node ? c : String(c));
  return e;
}

const num = v => (v === null || v === undefined || Number.isNaN(v)) ? '–' : v;
const pct = v => (100 * v).toFixed(1) + '%';
const int = v => v == null ? '–' : Math.round(v).toLocaleString('en');

function duration(s) {
  if (s == null || !Number.isFinite(s) || s < 0) return '–';
  s = Math.round(s);
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor(s % 3600 / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return s + 's';
}

function problemText(e) {
  if (e instanceof api.ApiError) {
    const p = e.problem;
    const head = p?.title ? `${e.status} ${p.title}` : `HTTP ${e.status}`;
    return p?.detail ? `${head}: ${p.detail}` : head;
  }
  return String(e.message || e);
}

function errorBox(e) { return h('p', { class: 'error', role: 'alert' }, problemText(e)); }

function banner(msg) {
  const b = $('banner');
  b.textContent = msg || '';
  b.hidden = !msg;
}

// ---------------------------------------------------------------- state shared by the views

let models = [];        // /v1/models "models"
let defaultModel = null;

async function loadModels() {
  const r = await api.json('/v1/models');
  models = r.models;
  defaultModel = r.default;
  return r;
}

function modelNamed(name) { return models.find(m => m.model_id === name); }

// TEI's model_type says "classifier", or "reranker" for one output (regression); Tessera's head says which
function labelsOf(m) {
  const c = m.model_type?.classifier || m.model_type?.reranker;
  return c ? Object.values(c.id2label) : [];
}

function isClassifier(m) { return m?.architecture.head === 'classification' || m?.architecture.head === 'regression'; }

// ---------------------------------------------------------------- router: #models, #try[/NAME], #jobs, #job/ID, #health

let leave = () => {}; // stops the current view's timers and streams
let navigation = 0;     // a view still loading when the user moved on must stop as soon as it has started

async function route() {
  const [name, ...rest] = location.hash.replace(/^#/, '').split('/');
  const arg = rest.length ? decodeURIComponent(rest.join('/')) : null;
  const view = ['models', 'try', 'jobs', 'job', 'health'].includes(name) ? name : 'models';
  leave();
  leave = () => {};
  banner('');
  for (const s of document.querySelectorAll('main > section')) s.hidden = s.id !== 'view-' + view;
  for (const a of document.querySelectorAll('nav a')) {
    if (a.dataset.view === (view === 'job' ? 'jobs' : view)) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.title = `${$('view-' + view).dataset.title} · Tessera`;
  const mine = ++navigation;
  try {
    const stop = (await VIEWS[view](arg)) || (() => {});
    if (mine === navigation) leave = stop;
    else stop();
  } catch (e) {
    if (mine === navigation) banner(problemText(e));
  }
}

// ---------------------------------------------------------------- Models

async function modelsView() {
  const r = await loadModels();
  const rows = r.models.map(m => h('tr', {},
    h('th', { scope: 'row' }, m.model_id, m.model_id === r.default ? h('span', { class: 'pill' }, 'default') : null),
    h('td', {}, m.architecture.variant),
    h('td', {}, m.architecture.head),
    h('td', {}, labelsOf(m).join(', ') || '–'),
    h('td', { class: 'num' }, m.max_input_length),
    h('td', { class: 'num', title: m.architecture.variant === 'mosaic_bert'
      ? 'alibi_starting_size: the length it was built for; ALiBi extrapolates past it' : 'learned positions' },
      m.architecture.max_position_embeddings),
    h('td', {}, m.dialect), h('td', {}, m.precision), h('td', {}, m.device),
    h('td', {}, `${m.architecture.num_hidden_layers}×${m.architecture.hidden_size}, ${m.architecture.num_attention_heads} heads`),
    h('td', {}, h('a', { href: '#try/' + encodeURIComponent(m.model_id) }, 'Try'),
      m.engine_note ? h('div', { class: 'muted' }, m.engine_note) : null)));
  $('models-table').replaceChildren(r.models.length ? h('div', { class: 'scroll' }, h('table', {},
    h('caption', { class: 'sr-only' }, 'Loaded models'),
    h('thead', {}, h('tr', {}, ['Name', 'Variant', 'Head', 'Labels', 'Max length', 'Position range', 'Dialect',
      'Precision', 'Device', 'Size', ''].map(t => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rows))) : h('p', { class: 'muted' }, 'No model is loaded (yet).'));
  const failed = Object.entries(r.failed || {});
  $('models-failed').replaceChildren(failed.length ? h('div', { class: 'card' },
    h('h3', {}, 'Directories that failed to load'),
    h('ul', { class: 'problems' }, failed.map(([dir, why]) => h('li', {}, h('strong', {}, dir), ': ', why)))) : '');
}

// ---------------------------------------------------------------- Try it

let shownFor = null; // the model the Try view last showed

function selectedModel() { return modelNamed($('try-model').value); }

function describeForTry(m) {
  if (!m) return '';
  const labels = labelsOf(m);
  return `${m.architecture.variant} · ${m.architecture.head}${labels.length ? ' · ' + labels.join(' / ') : ''}`
    + ` · up to ${m.max_input_length} tokens · ${m.dialect}/${m.precision} on ${m.device}`;
}

/** Results belong to the model and mode that made them: cleared when either changes. */
function clearTry() {
  $('try-result').replaceChildren(h('p', { class: 'muted' }, 'Nothing yet.'));
  $('try-tokens').replaceChildren(h('p', { class: 'muted' }, 'Nothing yet.'));
  $('try-status').textContent = '';
}

function syncTryMode() {
  const m = selectedModel();
  const classify = document.querySelector('input[name=mode][value=classify]');
  classify.disabled = !isClassifier(m);
  if (classify.disabled && classify.checked) document.querySelector('input[name=mode][value=similarity]').checked = true;
  const mode = document.querySelector('input[name=mode]:checked').value;
  $('classify-inputs').hidden = mode !== 'classify';
  $('similarity-inputs').hidden = mode !== 'similarity';
  $('try-model-info').textContent = describeForTry(m);
}

async function tryView(name) {
  await loadModels();
  const sel = $('try-model');
  const keep = name || sel.value || defaultModel;
  sel.replaceChildren(...models.map(m => h('option', { value: m.model_id }, m.model_id)));
  if (modelNamed(keep)) sel.value = keep;
  if (sel.value !== shownFor) clearTry();
  shownFor = sel.value;
  syncTryMode();
  $('try-run').disabled = !models.length; // enabled once there is something to run
  if (!models.length) $('try-result').replaceChildren(h('p', { class: 'muted' }, 'No model is loaded (yet).'));
}

function bars(scores, regression) {
  if (regression) {
    return h('p', { class: 'score' }, h('span', { class: 'muted' }, (scores[0].label || 'score') + ' '), fmt(scores[0].score));
  }
  const max = Math.max(...scores.map(s => s.score));
  return h('ul', { class: 'bars', 'aria-label': 'Scores by label' }, scores.map(s => h('li', {},
    h('span', { class: 'bar-label' }, s.label),
    h('span', { class: 'bar-track' }, h('span', { class: 'bar' + (s.score === max ? ' top' : ''), style: `width:${(100 * s.score).toFixed(1)}%` })),
    h('span', { class: 'bar-value' }, pct(s.score)))));
}

function cosine(a, b) {
  let d = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) { d += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
  return d / Math.sqrt(na * nb);
}

function similarityTable(texts, vectors) {
  // columns by number, rows by number and text (cut by CSS): readable for a handful of texts at 800 px
  return h('div', { class: 'scroll' }, h('table', { class: 'sim' },
    h('caption', {}, 'Cosine similarity of the mean-pooled embeddings'),
    h('thead', {}, h('tr', {}, h('td', {}), texts.map((t, j) => h('th', { scope: 'col', title: t, class: 'num' }, String(j + 1))))),
    h('tbody', {}, texts.map((t, i) => h('tr', {}, h('th', { scope: 'row', title: t }, `${i + 1}. ${t}`),
      vectors.map(v => {
        const c = cosine(vectors[i], v);
        return h('td', { class: 'num', style: `background: rgba(37, 99, 235, ${(Math.max(0, c) * 0.3).toFixed(3)})` }, c.toFixed(3));
      }))))));
}

function tokenView(m, lists, texts, truncate, embedding) {
  const windows = embedding && m.long_inputs?.strategy === 'windows';
  return lists.map((tokens, i) => {
    const n = tokens.length, notes = [];
    if (n > m.max_input_length && windows && !truncate) {
      notes.push(`${n} tokens: longer than this model's maximum of ${m.max_input_length}, so it is embedded in windows`
        + ` of ${m.long_inputs.window} tokens (${m.long_inputs.overlap} shared) whose vectors are averaged.`);
    } else if (n > m.max_input_length) {
      notes.push(truncate ? `${n} tokens: truncated to this model's maximum of ${m.max_input_length}.`
        : `${n} tokens: longer than this model's maximum of ${m.max_input_length}; it is refused unless “Truncate” is on.`);
    } else if (m.architecture.variant === 'mosaic_bert' && n > m.architecture.max_position_embeddings) {
      notes.push(`${n} tokens: longer than the ${m.architecture.max_position_embeddings} this model was built for`
        + ' (alibi_starting_size); MosaicBERT extrapolates with ALiBi, so it still reads all of them.');
    }
    return h('div', { class: 'tokens-of' },
      lists.length > 1 ? h('h4', {}, `${i + 1}. ${texts[i]}`) : null,
      h('p', { class: 'muted' }, `${n} tokens`),
      notes.map(t => h('p', { class: 'note', role: 'note' }, t)),
      h('ol', { class: 'tokens' }, tokens.map(t => h('li', {
        class: (t.special ? 'special' : '') + (t.type_id ? ' second' : ''),
        title: `id ${t.id}${t.type_id ? ', segment B' : ''}`,
      }, t.text))));
  });
}

async function runTry(ev) {
  ev.preventDefault();
  const m = selectedModel();
  if (!m) return;
  const mode = document.querySelector('input[name=mode]:checked').value;
  const truncate = $('try-truncate').checked;
  const base = '/v1/models/' + encodeURIComponent(m.model_id);
  let inputs, texts;
  if (mode === 'classify') {
    const a = $('try-text').value.trim(), b = $('try-text-b').value.trim();
    if (!a) { $('try-status').textContent = 'Enter a text first.'; $('try-text').focus(); return; }
    inputs = b ? [a, b] : a;
    texts = [b ? `${a} | ${b}` : a];
  } else {
    texts = $('try-texts').value.split('\n').map(s => s.trim()).filter(Boolean);
    if (texts.length < 2) { $('try-status').textContent = 'Enter two or more texts, one per line.'; $('try-texts').focus(); return; }
    inputs = texts;
  }
  $('try-status').textContent = 'Running…';
  $('try-run').disabled = true;
  const t0 = performance.now();
  const result = mode === 'classify'
    ? api.json(base + '/predict', { inputs, truncate })
    : api.json(base + '/embed', { inputs, truncate });
  // always an explicit batch: a top-level array of two strings would be read as one pair
  const tokens = api.json(base + '/tokenize', {
    inputs: mode === 'classify' ? [Array.isArray(inputs) ? inputs : [inputs]] : texts.map(t => [t]),
  });
  try {
    const r = await result;
    const ms = performance.now() - t0;
    $('try-result').replaceChildren(mode === 'classify' ? bars(r, m.architecture.head === 'regression')
      : similarityTable(texts, r));
    $('try-status').textContent = `Done in ${ms.toFixed(0)} ms.`;
  } catch (e) {
    $('try-result').replaceChildren(errorBox(e));
    $('try-status').textContent = 'Failed.';
  } finally {
    $('try-run').disabled = false;
  }
  try {
    $('try-tokens').replaceChildren(...tokenView(m, await tokens, texts, truncate, mode !== 'classify'));
  } catch (e) {
    $('try-tokens').replaceChildren(errorBox(e));
  }
}

// ---------------------------------------------------------------- Jobs

let recipes = [];

async function loadRecipes() {
  const r = await api.json('/v1/recipes');
  recipes = r.recipes;
  const sel = $('job-recipe'), keep = sel.value;
  sel.replaceChildren(...recipes.map(x => h('option', { value: x.path }, x.kind ? `${x.name} (${x.kind})` : x.name)));
  if (!recipes.length) sel.append(h('option', { value: '' }, `no recipes in ${r.dir}`));
  if (recipes.some(x => x.path === keep)) sel.value = keep;
  syncRecipe();
  $('job-submit').disabled = !recipes.length;
}

function syncRecipe() {
  const r = recipes.find(x => x.path === $('job-recipe').value);
  $('job-recipe-text').textContent = r ? r.text : '';
  if (r?.kind) $('job-kind').value = r.kind;
}

/** "key=value" lines → {key: "value"}; the server reads each value as YAML (numbers, lists, ...). */
function parseOverrides(text) {
  const out = {}, bad = [];
  text.split('\n').forEach((line, i) => {
    const s = line.trim();
    if (!s || s.startsWith('#')) return;
    const eq = s.indexOf('=');
    if (eq <= 0) bad.push(`overrides line ${i + 1}: expected key=value, got “${s}”`);
    else out[s.slice(0, eq).trim()] = s.slice(eq + 1).trim();
  });
  return { out, bad };
}

async function submitJob(ev) {
  ev.preventDefault();
  const problems = $('job-problems');
  problems.replaceChildren();
  const { out, bad } = parseOverrides($('job-overrides').value);
  if (bad.length) { problems.replaceChildren(...bad.map(p => h('li', {}, p))); $('job-overrides').focus(); return; }
  const body = { kind: $('job-kind').value, recipe_path: $('job-recipe').value };
  if (Object.keys(out).length) body.overrides = out;
  const serveAs = $('job-serve-as').value.trim();
  if (serveAs) body.serve_as = serveAs;
  $('job-submit').disabled = true;
  $('job-form-status').textContent = 'Submitting…';
  try {
    const j = await api.json('/v1/jobs', body);
    $('job-form-status').textContent = `Job ${j.id} queued.`;
    location.hash = '#job/' + encodeURIComponent(j.id);
  } catch (e) {
    $('job-form-status').textContent = problemText(e).split('\n')[0];
    const list = e.problem?.problems || [];
    problems.replaceChildren(...list.map(p => h('li', {}, p)));
  } finally {
    $('job-submit').disabled = false;
  }
}

async function cancelJob(id) {
  try {
    await api.json('/v1/jobs/' + encodeURIComponent(id) + '/cancel', {});
  } catch (e) {
    banner(problemText(e));
  }
}

function canCancel(j) { return (j.status === 'queued' || j.status === 'running') && !j.cancel_requested; }

function statusPill(j) {
  const s = j.cancel_requested && !['cancelled', 'failed', 'succeeded'].includes(j.status) ? 'cancelling' : j.status;
  return h('span', { class: 'pill status-' + s }, s);
}

function renderJobs(list) {
  const jobs = [...list].reverse(); // newest first
  $('jobs-table').replaceChildren(jobs.length ? h('div', { class: 'scroll' }, h('table', {},
    h('caption', { class: 'sr-only' }, 'Jobs, newest first'),
    h('thead', {}, h('tr', {}, ['Job', 'Kind', 'Status', 'Steps', 'Loss', 'Recipe', 'Created', ''].map(t => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, jobs.map(j => h('tr', { 'data-job': j.id },
      h('th', { scope: 'row' }, h('a', { href: '#job/' + encodeURIComponent(j.id) }, j.id)),
      h('td', {}, j.kind), h('td', {}, statusPill(j)),
      h('td', { class: 'num' }, j.total_steps ? `${j.step} / ${j.total_steps}` : '–'),
      h('td', { class: 'num' }, j.loss != null ? j.loss.toFixed(4) : '–'),
      h('td', {}, (j.recipe_source || '').split('/').pop()),
      h('td', {}, j.created_at ? new Date(j.created_at).toLocaleString() : ''),
      h('td', {}, canCancel(j) ? h('button', { type: 'button', class: 'danger small', 'aria-label': `Cancel ${j.id}`,
        onclick: () => cancelJob(j.id).then(pollJobs) }, 'Cancel') : null)))))) : h('p', { class: 'muted' }, 'No jobs yet.'));
}

async function pollJobs() { renderJobs((await api.json('/v1/jobs')).jobs); }

async function jobsView() {
  await Promise.all([loadRecipes(), pollJobs()]);
  const t = setInterval(() => pollJobs().catch(e => banner(problemText(e))), 2000);
  return () => clearInterval(t);
}

// ---------------------------------------------------------------- one job, live

function renderJob(j, history) {
  $('job-id').textContent = j.id;
  $('job-status').replaceWith(Object.assign(statusPill(j), { id: 'job-status' }));
  const stat = (k, v) => h('div', {}, h('span', { class: 'stat-k' }, k), h('span', { class: 'stat-v' }, v));
  $('job-stats').replaceChildren(
    stat('Kind', j.kind), stat('Steps', j.total_steps ? `${j.step} / ${j.total_steps}` : '–'),
    stat('Loss', j.loss != null ? j.loss.toFixed(4) : '–'), stat('Tokens/s', int(j.tokens_per_second)),
    stat('ETA', j.status === 'running' ? duration(j.eta_seconds) : '–'),
    stat('Recipe', (j.recipe_source || '–').split('/').pop()), stat('Attempts', num(j.attempts)));
  const p = j.total_steps ? Math.round(100 * j.step / j.total_steps) : 0;
  $('job-progress').setAttribute('aria-valuenow', p);
  $('job-progress').firstElementChild.style.width = p + '%';
  $('job-cancel').disabled = !canCancel(j);
  $('job-cancel').textContent = j.cancel_requested && j.status === 'running' ? 'Cancelling…' : 'Cancel job';
  $('job-error').hidden = !j.error;
  $('job-error').textContent = j.error || '';
  let result = '';
  if (j.served_as) {
    result = h('span', {}, 'Served as ', h('a', { href: '#try/' + encodeURIComponent(j.served_as) }, `${j.served_as} → try it`));
  } else if (j.status === 'succeeded') {
    const dir = j.best_dir || j.final_dir;
    result = h('span', {}, 'Result: ', h('code', {}, dir || '–'),
      ' — to serve it, copy it under the model directory or submit again with “Serve the result as”.');
  } else if (j.serve_as) {
    result = h('span', { class: 'muted' }, `Will be served as ${j.serve_as} when it succeeds.`);
  }
  $('job-result').replaceChildren(result);
  draw($('chart-loss'), history.map(q => [q.step, q.loss]), { label: 'Training loss', xLabel: 'step', color: '#2563eb' });
  draw($('chart-lr'), history.filter(q => q.lr != null).map(q => [q.step, q.lr]),
    { label: 'Learning rate', xLabel: 'step', color: '#c2410c', yMin: 0 });
  const metrics = Object.entries(j.metrics || {});
  $('job-metrics').replaceChildren(metrics.length ? h('table', { class: 'metrics' },
    h('tbody', {}, metrics.map(([k, v]) => h('tr', {}, h('th', { scope: 'row' }, k), h('td', { class: 'num' }, fmt(v))))))
    : h('p', { class: 'muted' }, 'No evaluation yet.'));
}

async function jobView(id) {
  if (!id) { location.hash = '#jobs'; return; }
  const ctl = new AbortController();
  let job = null, history = [], ended = false, stopped = false;
  $('job-cancel').onclick = () => cancelJob(id);
  $('job-stream').textContent = 'Connecting…';
  // first paint from the plain record; the stream then brings every change
  try {
    job = await api.json('/v1/jobs/' + encodeURIComponent(id));
    history = job.loss_history || [];
    $('job-recipe-run').textContent = job.recipe || '';
    renderJob(job, history);
  } catch (e) {
    $('job-stream').textContent = '';
    throw e;
  }
  (async () => {
    let wait = 1000;
    while (!stopped && !ended) {
      try {
        $('job-stream').textContent = 'Live: updates stream from the server.';
        await api.events('/v1/jobs/' + encodeURIComponent(id) + '/events', (name, data) => {
          if (name === 'job') {
            const j = JSON.parse(data);
            history = history.slice(0, j.history_from).concat(j.loss_history);
            job = j;
            renderJob(job, history);
            wait = 1000;
          } else if (name === 'end') {
            ended = true;
          }
        }, ctl.signal);
        if (ended) $('job-stream').textContent = `Finished: ${job.status}.`;
      } catch (e) {
        if (stopped) return;
        if (e instanceof api.ApiError && e.status !== 503) { $('job-stream').textContent = problemText(e); return; }
        $('job-stream').textContent = 'Connection lost; reconnecting…';
      }
      if (!ended && !stopped) await new Promise(r => setTimeout(r, wait));
      wait = Math.min(wait * 2, 10000);
    }
  })();
  return () => { stopped = true; ctl.abort(); };
}

// ---------------------------------------------------------------- Health

/** Prometheus text → [{name, labels: {..}, value}]. */
function parseMetrics(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = line.match(/^([a-zA-Z_:][\w:]*)(\{(.*)\})?\s+(\S+)/);
    if (!m) continue;
    const labels = {};
    if (m[3]) for (const l of m[3].matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return out;
}

function sum(metrics, name, pred = () => true) {
  return metrics.filter(x => x.name === name && pred(x.labels)).reduce((a, x) => a + x.value, 0);
}

async function healthView() {
  let prev = null;
  const rates = [];
  const tick = async () => {
    const [text, ready] = await Promise.all([api.text('/metrics'),
      api.send('/health/ready').then(r => r.ok ? 'ready' : 'not ready').catch(() => 'unreachable')]);
    const ms = parseMetrics(text), now = performance.now();
    const names = [...new Set(ms.filter(x => x.name.startsWith('tessera_')).map(x => x.labels.model).filter(Boolean))].sort();
    const per = names.map(model => {
      const own = l => l.model === model;
      return {
        model,
        queue: sum(ms, 'tessera_queue_size', own),
        requests: sum(ms, 'tessera_requests_seconds_count', own),
        errors: sum(ms, 'tessera_requests_seconds_count', l => own(l) && l.outcome !== 'ok'),
        latency: sum(ms, 'tessera_requests_seconds_sum', own),
        batches: sum(ms, 'tessera_batch_size_count', own),
        sequences: sum(ms, 'tessera_batch_size_sum', own),
        maxBatch: sum(ms, 'tessera_batch_size_max', own),
      };
    });
    const total = per.reduce((a, p) => a + p.requests, 0);
    let rate = null;
    if (prev) rate = Math.max(0, (total - prev.total) / ((now - prev.t) / 1000));
    const prevOf = model => prev?.per.find(p => p.model === model);
    if (rate !== null) { rates.push([rates.length ? rates[rates.length - 1][0] + 2 : 0, rate]); if (rates.length > 60) rates.shift(); }
    prev = { total, t: now, per };
    const stat = (k, v) => h('div', {}, h('span', { class: 'stat-k' }, k), h('span', { class: 'stat-v' }, v));
    $('health-stats').replaceChildren(stat('Readiness', ready), stat('Requests/s', rate === null ? '…' : rate.toFixed(1)),
      stat('Queued inputs', int(per.reduce((a, p) => a + p.queue, 0))), stat('Requests served', int(total)));
    $('health-models').replaceChildren(per.length ? h('div', { class: 'scroll' }, h('table', {},
      h('caption', { class: 'sr-only' }, 'Per model'),
      h('thead', {}, h('tr', {}, ['Model', 'Queue', 'Requests', 'Errors', 'Mean latency', 'Mean batch', 'Largest batch (2 min)', 'Batch (last 2 s)']
        .map(t => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, per.map(p => {
        const q = prevOf(p.model), db = q ? p.batches - q.batches : 0;
        return h('tr', {}, h('th', { scope: 'row' }, p.model), h('td', { class: 'num' }, int(p.queue)),
          h('td', { class: 'num' }, int(p.requests)), h('td', { class: 'num' }, int(p.errors)),
          h('td', { class: 'num' }, p.requests ? (1000 * p.latency / p.requests).toFixed(1) + ' ms' : '–'),
          h('td', { class: 'num' }, p.batches ? (p.sequences / p.batches).toFixed(1) : '–'),
          h('td', { class: 'num' }, p.batches ? int(p.maxBatch) : '–'),
          h('td', { class: 'num' }, db > 0 ? ((p.sequences - q.sequences) / db).toFixed(1) : '–'));
      })))) : h('p', { class: 'muted' }, 'No model has served a request yet.'));
    draw($('chart-rate'), rates, { label: 'Requests per second', xLabel: 'seconds', color: '#15803d', yMin: 0 });
  };
  await tick();
  const t = setInterval(() => tick().catch(e => banner(problemText(e))), 2000);
  return () => clearInterval(t);
}

const VIEWS = { models: modelsView, try: tryView, jobs: jobsView, job: jobView, health: healthView };

// ---------------------------------------------------------------- header: readiness, key

async function pollReady() {
  const pill = $('server-state');
  try {
    const r = await fetch('/health/ready');
    pill.textContent = r.ok ? 'ready' : 'loading models…';
    pill.className = 'pill ' + (r.ok ? 'status-succeeded' : 'status-queued');
  } catch {
    pill.textContent = 'server unreachable';
    pill.className = 'pill status-failed';
  }
}

function syncKeyButton() {
  const b = $('forget-key');
  b.hidden = !api.hasKey() && !api.keyDeclined();
  b.textContent = api.hasKey() ? 'Forget API key' : 'Enter API key';
}

function init() {
  $('try-form').addEventListener('submit', runTry);
  $('try-model').addEventListener('change', () => { shownFor = $('try-model').value; clearTry(); syncTryMode(); });
  for (const r of document.querySelectorAll('input[name=mode]')) r.addEventListener('change', clearTry);
  for (const r of document.querySelectorAll('input[name=mode]')) r.addEventListener('change', syncTryMode);
  $('job-form').addEventListener('submit', submitJob);
  $('job-recipe').addEventListener('change', syncRecipe);
  $('forget-key').addEventListener('click', async () => {
    if (api.hasKey()) { api.forgetKey(); syncKeyButton(); return; }
    if (await api.promptKey()) route();
  });
  document.addEventListener('tessera-key', syncKeyButton);
  window.addEventListener('hashchange', route);
  syncKeyButton();
  pollReady();
  setInterval(pollReady, 5000);
  route();
}

init();
