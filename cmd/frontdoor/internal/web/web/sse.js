// Server-sent events over fetch (EventSource cannot send the Bearer
// header): readSSE resolves when the stream ends and throws on an HTTP
// error; onEvent gets {id, type, data}.

import { headers } from './api.js';

export async function readSSE(path, { lastEventId, signal, onOpen, onEvent }) {
  const hdr = headers({ Accept: 'text/event-stream' });
  if (lastEventId) hdr['Last-Event-ID'] = lastEventId;
  const res = await fetch(path, { headers: hdr, signal, cache: 'no-store' });
  if (!res.ok) {
    let p = {};
    try { p = await res.json(); } catch { /* not json */ }
    throw Object.assign(new Error(p.detail || p.title || 'HTTP ' + res.status), { status: res.status });
  }
  if (onOpen) onOpen();
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += dec.decode(value, { stream: true });
    let m;
    while ((m = /\r?\n\r?\n/.exec(buf))) {
      const raw = buf.slice(0, m.index);
      buf = buf.slice(m.index + m[0].length);
      let id = '', type = 'message', data = '';
      for (const line of raw.split(/\r?\n/)) {
        if (line.startsWith(':')) continue;
        const c = line.indexOf(':');
        const k = c < 0 ? line : line.slice(0, c);
        const v = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
        if (k === 'id') id = v; else if (k === 'event') type = v; else if (k === 'data') data += (data ? '\n' : '') + v;
      }
      if (id || data) onEvent({ id, type, data });
    }
  }
}
