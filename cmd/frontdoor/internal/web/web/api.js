// The API client: the Bearer key from sessionStorage, problem+json errors,
// and patience with a cluster that is electing a leader (503: retry with
// backoff, same Idempotency-Key, while telling the desk what is going on).

const KEY = 'frontdoor.key';

export function getKey() { return sessionStorage.getItem(KEY) || ''; }
export function setKey(k) { sessionStorage.setItem(KEY, k); }
export function clearKey() { sessionStorage.removeItem(KEY); }

// ApiError carries the HTTP status and the problem document.
export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || ('HTTP ' + status));
    this.status = status;
    this.problem = problem || {};
    this.fields = (problem && problem.errors) || {};
  }
}

let statusListener = () => {};
let unauthorizedListener = () => {};
export function onClusterStatus(fn) { statusListener = fn; }
export function onUnauthorized(fn) { unauthorizedListener = fn; }

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function newIdempotencyKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Date.now().toString(36) + Math.random().toString(36).slice(2);
}

export function headers(extra) {
  const h = Object.assign({ Accept: 'application/json' }, extra || {});
  const k = getKey();
  if (k) h.Authorization = 'Bearer ' + k;
  return h;
}

// electing says whether a response means "no leader right now".
function electing(status) { return status === 503 || status === 502 || status === 504; }

// api sends one request. Writes get an Idempotency-Key, kept across the
// retries, so a write whose outcome was unknown is never made twice.
// opts: {retryFor: ms to keep retrying on 503 (default 30 s), raw: return
// the Response, key: the key to use instead of the stored one}.
export async function api(method, path, body, opts = {}) {
  const h = headers(opts.key ? { Authorization: 'Bearer ' + opts.key } : {});
  if (body !== undefined) h['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD') h['Idempotency-Key'] = opts.idempotencyKey || newIdempotencyKey();
  const deadline = Date.now() + (opts.retryFor ?? 30000);
  let delay = 250;
  for (let attempt = 0; ; attempt++) {
    let res;
    try {
      res = await fetch(path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) {
      res = null; // network error: the node may be restarting
    }
    if (res && !electing(res.status)) {
      if (attempt > 0) statusListener(null);
      if (opts.raw) {
        if (!res.ok) throw new ApiError(res.status, await problemOf(res));
        return res;
      }
      if (res.status === 204) return null;
      const text = await res.text();
      let data = null;
      try { data = text ? JSON.parse(text) : null; } catch { data = { detail: text }; }
      if (!res.ok) {
        if (res.status === 401 && !opts.key) unauthorizedListener();
        throw new ApiError(res.status, data);
      }
      return data;
    }
    if (Date.now() + delay > deadline) {
      statusListener(null);
      const p = res ? await problemOf(res) : { title: 'The server cannot be reached' };
      throw new ApiError(res ? res.status : 0, p);
    }
    statusListener('The cluster is electing a leader, retrying…');
    let wait = delay;
    const ra = res && Number(res.headers.get('Retry-After'));
    if (ra > 0) wait = Math.max(wait, Math.min(ra * 1000, 4000));
    await sleep(wait);
    delay = Math.min(delay * 2, 4000);
  }
}

async function problemOf(res) {
  try { return await res.json(); } catch { return { title: res.statusText }; }
}
