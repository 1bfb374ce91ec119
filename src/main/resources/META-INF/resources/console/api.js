// HTTP calls of the console. Every call carries the API key when one was given; a 401 asks for one (once for
// all calls waiting on it) and retries. The key lives in this tab's sessionStorage only and is never shown.

const KEY = 'tessera.api-key';
let asking = null; // the pending prompt, shared by concurrent 401s
let declined = false; // cancelled: polls must not pop the dialog up again until the user asks for it

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

export function hasKey() { return !!sessionStorage.getItem(KEY); }

export function forgetKey() { sessionStorage.removeItem(KEY); }

/** The user asked to enter a key (after cancelling the dialog, or to change it). */
export function promptKey() {
  declined = false;
  return askForKey('Enter the API key for this server.');
}

/** Whether a call was refused for want of a key the user declined to give. */
export function keyDeclined() { return declined; }

function headers(extra) {
  const h = new Headers(extra || {});
  const key = sessionStorage.getItem(KEY);
  if (key) h.set('Authorization', 'Bearer ' + key);
  return h;
}

/** Shows the key dialog; resolves true once a key was entered, false when cancelled. */
function askForKey(message) {
  if (asking) return asking;
  if (declined) return Promise.resolve(false);
  const dialog = document.getElementById('key-dialog');
  const input = document.getElementById('key-input');
  document.getElementById('key-message').textContent = message;
  asking = new Promise(resolve => {
    const done = ok => {
      dialog.removeEventListener('close', onClose);
      document.getElementById('key-cancel').onclick = null;
      input.value = ''; // the key is not kept in the page
      asking = null;
      document.dispatchEvent(new CustomEvent('tessera-key'));
      resolve(ok);
    };
    const onClose = () => {
      const v = input.value.trim();
      if (dialog.returnValue === 'ok' && v) {
        sessionStorage.setItem(KEY, v);
        done(true);
      } else {
        declined = true;
        done(false);
      }
    };
    dialog.addEventListener('close', onClose);
    document.getElementById('key-cancel').onclick = () => { dialog.returnValue = 'cancel'; dialog.close(); };
    dialog.returnValue = '';
    dialog.showModal();
    input.focus();
  });
  return asking;
}

/** fetch with the key; a 401 asks for a key and retries. Returns the Response (ok or not). */
export async function send(path, init = {}) {
  for (;;) {
    const res = await fetch(path, { ...init, headers: headers(init.headers) });
    const write = init.method && init.method !== 'GET';
    const refused = res.status === 403 && write ? await problemOf(res.clone()) : null;
    // a key that may read but not write (the key filter's 403): offer an admin key for this action. Other 403s
    // (a job reaching outside the allowed directories) list their problems like any error.
    if (refused && refused.title === 'Forbidden' && !Array.isArray(refused.problems)) {
      const why = refused.detail || 'This key may not do that.';
      declined = false;
      if (!(await askForKey(why + ' Enter an admin key to go on.'))) return res;
      continue;
    }
    if (res.status !== 401) return res;
    const hadKey = hasKey();
    if (hadKey) forgetKey();
    const ok = await askForKey(hadKey ? 'That API key was refused. Enter another one.'
      : 'This server asks for an API key.');
    if (!ok) return res;
  }
}

async function problemOf(res) {
  try { return await res.json(); } catch { return null; }
}

/** JSON call: resolves to the parsed body, rejects with ApiError (its problem+json) otherwise. */
export async function json(path, body, method) {
  const init = body === undefined ? { method: method || 'GET' }
    : { method: method || 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } };
  const res = await send(path, init);
  if (!res.ok) throw new ApiError(res.status, await problemOf(res));
  return res.status === 204 ? null : res.json();
}

export async function text(path) {
  const res = await send(path);
  if (!res.ok) throw new ApiError(res.status, await problemOf(res));
  return res.text();
}

/**
 * Server-Sent Events over fetch (EventSource cannot send an Authorization header). Calls onEvent(name, data) per
 * event; resolves when the server ends the stream, rejects on an HTTP error or a broken connection. abort() stops.
 */
export async function events(path, onEvent, signal) {
  const res = await send(path, { headers: { Accept: 'text/event-stream' }, signal });
  if (!res.ok) throw new ApiError(res.status, await problemOf(res));
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '', name = 'message', data = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let nl;
    while ((nl = buffer.search(/\r?\n/)) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + (buffer[nl] === '\r' ? 2 : 1));
      if (line === '') {
        if (data.length) onEvent(name, data.join('\n'));
        name = 'message'; data = [];
      } else if (line.startsWith(':')) {
        // comment (keep-alive)
      } else {
        const i = line.indexOf(':');
        const field = i < 0 ? line : line.slice(0, i);
        const v = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
        if (field === 'event') name = v;
        else if (field === 'data') data.push(v);
      }
    }
  }
}
