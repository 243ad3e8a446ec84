// The live queue: GET /v1/queue (a local read on whichever node serves
// the page, so it works without a leader and then says stale: true), kept
// live by GET /v1/queue/stream, read through fetch because EventSource
// cannot send the Bearer header. A first connection reloads the snapshot
// on the stream's "ready" event, so nothing between the two is missed; a
// reconnection resumes with Last-Event-ID; each
// queue event updates its row at once and a short, debounced reload of
// the snapshot fills in names and service names. With no quorum the last
// queue stays on screen, marked stale.

import { api, headers } from './api.js';
import { h, $, fmtWait, fmtTime, clockEl, setServerNow } from './dom.js';
import { can } from './roles.js';

const STATUS_WORDS = {
  arrived: 'Arrived', expected: 'Expected (NHS 111)', triaged: 'Triaged', routed: 'Routed',
  awaiting_confirmation: 'Awaiting clinician confirmation', clinician_review: 'Clinician review',
  called: 'Called', seen: 'Seen', handed_over: 'Handed over', left: 'Left without being seen',
  dispatched: 'Dispatched', awaiting_clinician: 'Waiting for the clinician', awaiting_address: 'Needs where they are (postcode)',
};
const TIER_WORDS = { ed: 'Emergency', rapid_response: 'Rapid response', gp: 'GP', pharmacy: 'Pharmacy', self_care: 'Self care' };
const FOUR_HOURS = 4 * 3600 * 1000;
const ASKING_WORDS = { 'patient.postcode': 'postcode', 'dispatch.address': 'address for the team' };

export function statusWord(s) { return STATUS_WORDS[s] || s; }
export function tierWord(t) { return TIER_WORDS[t] || 'Not triaged'; }

// priorityOf is an attendance's (or queue entry's) tier and whether it is
// immediate.
export function priorityOf(a) {
  const d = (a.triage && a.triage.disposition) || null;
  const tier = (d && d.tier) || a.tier || '';
  const tf = (d && d.timeframe) || a.timeframe || '';
  return { tier, immediate: tf === 'immediate', timeframe: tf };
}

// entryOf turns a queue entry into the row model.
function entryOf(e, fetchedAt) {
  return {
    id: e.attendance_id, arrived_at: e.arrived_at, status: e.status, channel: e.channel, name: e.name || '',
    complaint: e.complaint || '', priority: e.priority || 0, tier: e.tier || '', timeframe: e.timeframe || '',
    dx: e.dx || '', service_id: e.service_id || '', service_name: e.service_name || '',
    waitBase: (e.waiting_minutes || 0) * 60000, fetchedAt, over4h: !!e.over_4h,
    // A clinician-first attendance: its stream, why, its clock and what follows.
    stream: e.stream || (e.dx === 'Dx9002' ? 'clinician_now' : ''), reasons: e.reasons || [], clinicianDue: e.clinician_due || '', then: e.then || null, lapsed: !!e.clinician_lapsed,
    // What a session still asking questions already demands.
    interim: e.interim || null, askingFor: e.asking_for || [],
    // An NHS 111 booking: the session the patient is due in.
    appointment: e.appointment || null,
  };
}

// fmtDayTime is a date and time at the centre, e.g. "Mon 7 Dec, 14:00".
function fmtDayTime(iso) {
  return new Date(iso).toLocaleString('en-GB', { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', timeZone: 'Europe/London' });
}

export class Queue {
  constructor(onOpen) {
    this.items = new Map();
    this.onOpen = onOpen;
    this.filter = '';
    this.stale = false;
    this.lastEventId = '';
    this.abort = null;
    this.running = false;
    this.reloadTimer = null;
    this.announce = $('#queue-updates');
    $('#queue-filter').addEventListener('change', (e) => { this.filter = e.target.value; this.render(); });
  }

  start() {
    if (this.running) return;
    this.running = true;
    this.tick = setInterval(() => this.reload(), 5000); // waiting times, and staleness
    this.loop();
  }

  stop() {
    this.running = false;
    clearInterval(this.tick);
    if (this.abort) this.abort.abort();
  }

  async loop() {
    let delay = 500;
    while (this.running) {
      try {
        await this.snapshot();
        await this.stream(() => { delay = 500; });
      } catch (e) {
        if (!this.running) return;
        if (e.status === 401 || e.status === 403) { this.setState('The queue cannot be shown to this key: ' + e.message); return; }
        this.setState(this.stale ? this.staleText() : 'Reconnecting to the live queue…');
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 8000);
    }
  }

  // snapshot loads GET /v1/queue and returns its index.
  async snapshot() {
    const body = await api('GET', '/v1/queue', undefined, { retryFor: 3000 });
    const now = Date.now();
    if (body && body.generated_at) setServerNow(body.generated_at, now);
    const fresh = new Map();
    for (const e of (body && body.entries) || []) { const x = entryOf(e, now); fresh.set(x.id, x); }
    for (const [id, x] of fresh) this.note(this.items.get(id), x);
    for (const [id, x] of this.items) if (!fresh.has(id)) this.note(x, null);
    this.items = fresh;
    this.expected = ((body && body.expected) || []).map((e) => entryOf(e, now));
    this.setStale(!!(body && body.stale));
    this.render();
    return body && body.index;
  }

  reload() {
    clearTimeout(this.reloadTimer);
    this.reloadTimer = setTimeout(() => this.snapshot().catch(() => this.setStale(true)), 150);
  }

  async stream(onOpen) {
    this.abort = new AbortController();
    const hdr = headers({ Accept: 'text/event-stream' });
    if (this.lastEventId) hdr['Last-Event-ID'] = this.lastEventId;
    const res = await fetch('/v1/queue/stream', { headers: hdr, signal: this.abort.signal, cache: 'no-store' });
    if (!res.ok) {
      let p = {};
      try { p = await res.json(); } catch { /* not json */ }
      throw Object.assign(new Error(p.detail || p.title || 'HTTP ' + res.status), { status: res.status });
    }
    onOpen();
    if (!this.stale) this.setState('Live');
    document.body.dataset.queueLive = 'true';
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let buf = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let m;
        while ((m = /\r?\n\r?\n/.exec(buf))) {
          const raw = buf.slice(0, m.index);
          buf = buf.slice(m.index + m[0].length);
          this.event(raw);
        }
      }
    } finally {
      document.body.dataset.queueLive = 'false';
    }
    throw Object.assign(new Error('the stream ended'), { status: 0 });
  }

  event(raw) {
    let id = '', type = 'message', data = '';
    for (const line of raw.split(/\r?\n/)) {
      if (line.startsWith(':')) continue;
      const c = line.indexOf(':');
      const k = c < 0 ? line : line.slice(0, c);
      const v = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
      if (k === 'id') id = v; else if (k === 'event') type = v; else if (k === 'data') data += (data ? '\n' : '') + v;
    }
    if (id) this.lastEventId = id;
    // ready: a fresh stream starts here; reload once to cover anything
    // between the snapshot and this point. reset: too far behind.
    if (type === 'reset' || type === 'ready') { this.reload(); return; }
    if (type !== 'queue' || !data) return;
    let ev;
    try { ev = JSON.parse(data); } catch { return; }
    const old = this.items.get(ev.attendance_id);
    if (!ev.in_queue) {
      if (old) { this.items.delete(ev.attendance_id); this.note(old, null); }
    } else if (old) {
      const x = Object.assign({}, old, { status: ev.status, tier: ev.tier || '', timeframe: ev.timeframe || '', priority: ev.priority || 0 });
      Object.assign(x, { stream: ev.stream || '', reasons: ev.reasons || [], clinicianDue: ev.clinician_due || '' });
      if (ev.service_id !== old.service_id) { x.service_id = ev.service_id || ''; x.service_name = ''; }
      this.note(old, x);
      this.items.set(x.id, x);
    }
    this.render();
    this.reload(); // names, services and new arrivals
  }

  note(old, x) {
    if (!this.announce) return;
    if (!old && x) this.announce.textContent = (x.name || 'Someone not yet named') + ' joined the queue: ' + x.complaint;
    else if (old && !x) this.announce.textContent = (old.name || 'Someone') + ' left the queue';
    else if (old && x && old.status !== x.status) this.announce.textContent = (x.name || 'Someone') + ' is now ' + statusWord(x.status);
  }

  staleText() {
    return 'Stale: this node cannot reach a majority of the cluster. The queue below is what it last knew and may be out of date.';
  }

  setStale(s) {
    this.stale = s;
    $('#queue-panel').classList.toggle('stale', s);
    $('#queue-stale').hidden = !s;
    this.setState(s ? this.staleText() : (document.body.dataset.queueLive === 'true' ? 'Live' : 'Connecting…'));
  }

  setState(t) { $('#queue-state').textContent = t; }

  visible() {
    let rows = Array.from(this.items.values());
    if (this.filter) rows = rows.filter((a) => a.status === this.filter);
    rows.sort((x, y) => y.priority - x.priority || Date.parse(x.arrived_at) - Date.parse(y.arrived_at));
    return rows;
  }

  render() {
    const sel = $('#queue-filter');
    const statuses = new Set(Array.from(this.items.values()).map((a) => a.status));
    for (const s of statuses) {
      if (!Array.from(sel.options).some((o) => o.value === s)) sel.append(h('option', { value: s }, statusWord(s)));
    }
    const rows = this.visible();
    const now = Date.now();
    const body = $('#queue-body');
    // Keep the rows that did not change (and so the keyboard focus on
    // them); a changed row that had the focus gives it to its new button.
    const old = new Map(Array.from(body.children).filter((tr) => tr.dataset.id).map((tr) => [tr.dataset.id, tr]));
    const focusedID = document.activeElement && document.activeElement.closest && (document.activeElement.closest('#queue-body tr') || {}).dataset?.id;
    const next = rows.map((a) => {
      const sig = JSON.stringify([a.status, a.tier, a.timeframe, a.name, a.complaint, a.service_name, a.service_id, a.over4h, Math.floor((a.waitBase + now - a.fetchedAt) / 60000),
        a.stream, a.reasons, a.clinicianDue, a.lapsed, a.then && a.then.tier, a.interim && a.interim.tier, a.askingFor, Math.floor(now / 60000)]);
      const tr = old.get(a.id);
      if (tr && tr.dataset.sig === sig) return tr;
      const n = this.row(a, now);
      n.dataset.sig = sig;
      return n;
    });
    if (rows.length === 0) next.push(h('tr', {}, h('td', { colspan: 7, class: 'muted' }, 'Nobody waiting in this view.')));
    const same = next.length === body.children.length && next.every((tr, i) => body.children[i] === tr);
    if (!same) body.replaceChildren(...next);
    if (focusedID && !body.contains(document.activeElement)) {
      const b = body.querySelector('tr[data-id="' + CSS.escape(focusedID) + '"] button');
      if (b) b.focus();
    }
    $('#queue-count').textContent = '(' + this.items.size + ')';
    this.renderExpected();
  }

  // renderExpected lists the patients NHS 111 announced, with a check-in
  // button for those who may check them in.
  renderExpected() {
    const list = this.expected || [];
    $('#expected-panel').hidden = list.length === 0;
    const checkIn = can('POST', '/v1/attendances/{id}/check-in');
    const body = $('#expected-body');
    const focused = document.activeElement && body.contains(document.activeElement);
    body.replaceChildren(...list.map((a) => {
      const box = h('td', {});
      return h('tr', { 'data-id': a.id, class: 'prio-' + (a.timeframe === 'immediate' ? 'immediate' : (a.tier || 'none')) },
        h('td', {}, h('span', { class: 'tag tag-' + (a.tier || 'none') }, tierWord(a.tier)), a.timeframe && a.timeframe !== 'none' ? h('div', { class: 'muted' }, 'within ' + a.timeframe) : null),
        h('td', {}, h('strong', {}, a.name || 'Not yet named')),
        h('td', {}, a.complaint),
        h('td', {}, a.service_name || a.service_id,
          a.appointment ? h('div', { class: 'appointment' }, 'Booked ' + fmtDayTime(a.appointment.start) + '–' + fmtTime(a.appointment.end)) : null),
        h('td', {}, fmtTime(a.arrived_at)),
        box);
    }));
    if (checkIn) {
      for (const tr of body.children) {
        const a = list.find((x) => x.id === tr.dataset.id);
        tr.lastChild.append(h('button', { type: 'button', class: 'btn btn-small check-in', 'aria-label': 'Check in ' + (a.name || 'attendance ' + a.id), onclick: async (e) => {
          e.target.disabled = true;
          try { await api('POST', '/v1/attendances/' + encodeURIComponent(a.id) + '/check-in', {}); this.reload(); } catch (err) {
            e.target.disabled = false;
            tr.lastChild.append(h('span', { class: 'error-message', role: 'alert' }, 'Error: ' + err.message));
          }
        } }, 'Check in'));
      }
    }
    if (focused && body.querySelector('button')) body.querySelector('button').focus();
  }

  row(a, now) {
    const immediate = a.timeframe === 'immediate';
    const wait = a.waitBase + (now - a.fetchedAt);
    const breach = a.over4h || wait >= FOUR_HOURS;
    const tagCls = immediate ? 'tag tag-immediate' : 'tag tag-' + (a.tier || 'none');
    const who = a.name || 'attendance ' + a.id;
    const actions = h('td', {}, h('button', { type: 'button', class: 'btn btn-secondary btn-small', onclick: () => this.onOpen(a.id),
      'aria-label': 'Open ' + who }, 'Open'));
    // A clinician confirms a clinician-first attendance from the queue.
    if (a.stream && a.status === 'awaiting_clinician' && can('POST', '/v1/attendances/{id}/confirm')) {
      actions.append(h('button', { type: 'button', class: 'btn btn-small confirm-clinician', 'aria-label': 'Confirm you have assessed ' + who, onclick: async (e) => {
        e.target.disabled = true;
        try { await api('POST', '/v1/attendances/' + encodeURIComponent(a.id) + '/confirm', {}); this.reload(); } catch (err) {
          e.target.disabled = false;
          actions.append(h('span', { class: 'error-message', role: 'alert' }, 'Error: ' + err.message));
        }
      } }, 'Confirm'));
    }
    return h('tr', { class: 'prio-' + (immediate ? 'immediate' : (a.tier || 'none')) + (a.stream ? ' row-clinician-first' : ''), 'data-id': a.id, 'data-status': a.status,
      'data-stream': a.stream || null },
    h('td', {}, h('span', { class: tagCls }, immediate ? 'Immediate' : tierWord(a.tier)),
      a.timeframe && !immediate && a.timeframe !== 'none' ? h('div', { class: 'muted' }, 'within ' + a.timeframe) : null,
      a.stream ? h('div', {}, h('span', { class: 'tag tag-clinician' }, a.stream === 'clinician_callback' ? 'Clinician call-back' : 'Clinician now')) : null,
      a.clinicianDue ? h('div', {}, clockEl(a.clinicianDue, null)) : null,
      a.lapsed ? h('div', {}, h('span', { class: 'tag tag-breach' }, 'Lapsed: alert raised')) : null,
      a.interim && !a.stream ? h('div', { class: 'muted interim' }, 'Raised already: ' + tierWord(a.interim.tier) +
        (a.interim.timeframe === 'immediate' ? ' now' : a.interim.timeframe && a.interim.timeframe !== 'none' ? ' within ' + a.interim.timeframe : '')) : null),
    h('td', {}, h('strong', {}, a.name || 'Not yet named'), a.channel === 'nhs111' ? h('div', { class: 'muted' }, 'NHS 111') : null),
    h('td', {}, a.complaint, a.reasons.length ? h('div', { class: 'reasons-line' }, 'Why a clinician first: ' + a.reasons.join('; ')) : null),
    h('td', { class: 'status' }, statusWord(a.status),
      a.askingFor.length ? h('div', { class: 'muted' }, 'Needs: ' + a.askingFor.map((f) => ASKING_WORDS[f] || f).join(', ')) : null),
    h('td', {}, a.service_name || a.service_id,
      a.then ? h('div', { class: 'muted' }, 'then, unless the clinician decides otherwise: ' + tierWord(a.then.tier) +
        (a.then.timeframe && a.then.timeframe !== 'none' && a.then.timeframe !== 'immediate' ? ' within ' + a.then.timeframe : '')) : null),
    h('td', { class: 'num' }, fmtWait(wait), h('div', { class: 'muted' }, 'since ' + fmtTime(a.arrived_at)),
      breach ? h('span', { class: 'tag tag-breach' }, 'Over 4 hours') : null),
    actions);
  }
}
