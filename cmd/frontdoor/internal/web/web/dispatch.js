// The rapid response dispatch board and the alerts list. The board is
// GET /v1/dispatches kept live by GET /v1/dispatches/stream: every event
// reloads the list (debounced), so the 2-hour clock and the team's status
// change in front of the desk. Responders accept (with an ETA), decline
// (with a reason) and report en route / on scene / completed. Alerts stay
// until a person acknowledges them.

import { api } from './api.js';
import { can } from './roles.js';
import { h, $, field, formValues, showErrors, fmtTime, patientName } from './dom.js';
import { readSSE } from './sse.js';

const STATUS = {
  pending: 'Waiting for a team', notified: 'Team notified', accepted: 'Accepted', declined: 'Declined',
  en_route: 'En route', on_scene: 'On scene', completed: 'Completed', escalated: 'Escalated to ED',
};
const CLOCK = { running: 'running', breached: 'over 2 hours', met: 'met', not_met: 'not met' };

export class DispatchBoard {
  // onAlert is told when the stream carries an alert (raised or acknowledged).
  constructor(onAlert) {
    this.onAlert = onAlert || (() => {});
    this.running = false;
    this.timer = null;
    this.lastEventId = '';
    this.list = [];
    this.announce = $('#dispatch-updates');
  }

  // start follows the board while it is on screen; stop ends the stream,
  // so a tab holds one long-lived connection at a time (browsers allow
  // six per server across all tabs).
  start() {
    if (this.running || !can('GET', '/v1/dispatches')) return;
    this.running = true;
    this.abort = new AbortController();
    this.loop();
    this.tick = setInterval(() => this.reload(), 15000);
  }

  stop() {
    if (!this.running) return;
    this.running = false;
    this.abort.abort();
    clearInterval(this.tick);
    document.body.dataset.dispatchLive = 'false';
  }

  async loop() {
    let delay = 500;
    while (this.running) {
      try {
        await this.load();
        await readSSE('/v1/dispatches/stream', {
          lastEventId: this.lastEventId,
          signal: this.abort.signal,
          onOpen: () => { delay = 500; document.body.dataset.dispatchLive = 'true'; },
          onEvent: (ev) => {
            if (ev.id) this.lastEventId = ev.id;
            if (ev.type === 'alert') this.onAlert();
            else if (ev.type !== 'ready') this.reload();
          },
        });
      } catch (e) {
        if (!this.running || e.status === 401 || e.status === 403) return;
      }
      document.body.dataset.dispatchLive = 'false';
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 8000);
    }
  }

  reload() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.load().catch(() => {}), 100);
  }

  async load() {
    const r = await api('GET', '/v1/dispatches', undefined, { retryFor: 3000 });
    const old = new Map(this.list.map((d) => [d.id, d.status]));
    this.list = (r && r.dispatches) || [];
    for (const d of this.list) {
      if (old.has(d.id) && old.get(d.id) !== d.status && this.announce) this.announce.textContent = 'Dispatch for ' + patientName(d.patient) + ': ' + (STATUS[d.status] || d.status);
    }
    this.clock = r && r.clock;
    this.render();
  }

  render() {
    const body = $('#dispatch-body');
    const active = this.list.filter((d) => d.status !== 'completed' || (Date.now() - Date.parse(d.updated_at || d.created_at)) < 3600000);
    const summary = this.clock && this.clock.completed
      ? h('p', {}, 'On scene within 2 hours: ' + this.clock.on_scene_within_2h + ' of ' + this.clock.completed + ' completed (' + Math.round(this.clock.ratio * 100) + '%, target ' + Math.round(this.clock.target * 100) + '%)')
      : null;
    if (!active.length) { body.replaceChildren(summary || '', h('p', {}, 'No dispatches.')); return; }
    body.replaceChildren(summary || '', h('table', { id: 'dispatch-table' },
      h('caption', { class: 'visually-hidden' }, 'Rapid response dispatches'),
      h('thead', {}, h('tr', {}, ['Patient', 'Needs', 'Team', 'Status', '2-hour clock', 'Actions'].map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', {}, active.map((d) => this.row(d)))));
  }

  row(d) {
    const c = d.clock_now || {};
    const p = d.patient || {};
    return h('tr', { 'data-id': d.id, 'data-status': d.status, class: c.state === 'breached' ? 'prio-immediate' : 'prio-rapid_response' },
      h('td', {}, h('strong', {}, patientName(p)), h('div', { class: 'muted' }, [p.age_years != null ? p.age_years + ' years' : p.date_of_birth, p.postcode].filter(Boolean).join(' · '))),
      h('td', {}, d.complaint || '', h('div', { class: 'muted' }, (d.condition_group || []).join(', '))),
      h('td', {}, d.service_name || d.service_id),
      h('td', { class: 'status' }, STATUS[d.status] || d.status, d.eta ? h('div', { class: 'muted' }, 'ETA ' + fmtTime(d.eta)) : null),
      h('td', { class: 'num' }, h('span', { class: 'tag ' + (c.state === 'breached' || c.state === 'not_met' ? 'tag-breach' : c.state === 'met' ? 'tag-pharmacy' : 'tag-rapid_response') },
        Math.round(c.elapsed_minutes || 0) + ' min ' + (CLOCK[c.state] || '')),
      h('div', { class: 'muted' }, 'since ' + fmtTime(d.clock && d.clock.referral_at || d.created_at))),
      h('td', {}, this.actions(d)));
  }

  actions(d) {
    const id = encodeURIComponent(d.id);
    const who = patientName(d.patient);
    const out = [];
    const post = async (path, body, form) => {
      try { await api('POST', path, body); this.reload(); } catch (e) { showErrors(form || $('#dispatch-body'), e); }
    };
    if ((d.status === 'pending' || d.status === 'notified') && can('POST', '/v1/dispatches/{id}/accept')) {
      const f = h('form', { class: 'inline', novalidate: true, onsubmit: (e) => {
        e.preventDefault();
        const mins = Number(formValues(f).eta_minutes || 30);
        post('/v1/dispatches/' + id + '/accept', { eta: new Date(Date.now() + mins * 60000).toISOString() }, f);
      } },
      field({ name: 'eta', label: 'ETA for ' + who, type: 'select', options: [['15', '15 min'], ['30', '30 min'], ['45', '45 min'], ['60', '1 hour'], ['90', '1½ hours']], value: '30', attrs: { name: 'eta_minutes' } }),
      h('button', { type: 'submit', class: 'btn btn-small accept-btn' }, 'Accept'));
      out.push(f);
      const g = h('form', { class: 'inline', novalidate: true, onsubmit: (e) => { e.preventDefault(); post('/v1/dispatches/' + id + '/decline', { reason: formValues(g).reason || '' }, g); } },
        field({ name: 'reason', label: 'Reason to decline' }),
        h('button', { type: 'submit', class: 'btn btn-secondary btn-small decline-btn' }, 'Decline'));
      out.push(h('details', {}, h('summary', {}, 'Decline'), g));
    }
    if (can('POST', '/v1/dispatches/{id}/status')) {
      if (d.status === 'accepted') out.push(h('button', { type: 'button', class: 'btn btn-small en-route-btn', onclick: () => post('/v1/dispatches/' + id + '/status', { status: 'en_route' }) }, 'En route'));
      if (d.status === 'accepted' || d.status === 'en_route') out.push(h('button', { type: 'button', class: 'btn btn-small on-scene-btn', onclick: () => post('/v1/dispatches/' + id + '/status', { status: 'on_scene' }) }, 'On scene'));
      if (d.status === 'on_scene') {
        const f = h('form', { class: 'inline', novalidate: true, onsubmit: (e) => { e.preventDefault(); post('/v1/dispatches/' + id + '/status', Object.assign({ status: 'completed' }, formValues(f)), f); } },
          field({ name: 'outcome', label: 'Outcome', type: 'select', options: [['stayed_at_home', 'Stayed at home'], ['admitted', 'Admitted'], ['referred', 'Referred']] }),
          h('button', { type: 'submit', class: 'btn btn-small complete-btn' }, 'Completed'));
        out.push(f);
      }
    }
    return out;
  }
}

export class Alerts {
  constructor() { this.list = []; }

  start() {
    if (!can('GET', '/v1/alerts')) return;
    this.load();
    this.tick = setInterval(() => this.load(), 5000);
  }

  async load() {
    if (!can('GET', '/v1/alerts')) return;
    try {
      const r = await api('GET', '/v1/alerts', undefined, { retryFor: 3000 });
      this.list = ((r && r.alerts) || []).filter((a) => a.open);
    } catch { return; }
    $('#alert-count').textContent = this.list.length ? '(' + this.list.length + ')' : '';
    this.render();
  }

  render() {
    const body = $('#alerts-body');
    if (!this.list.length) { body.replaceChildren(h('p', {}, 'No alerts waiting.')); return; }
    const ack = can('POST', '/v1/alerts/{id}/ack');
    body.replaceChildren(...this.list.map((a) => {
      const f = h('form', { class: 'panel card-urgent', 'data-id': a.id, novalidate: true, onsubmit: async (e) => {
        e.preventDefault();
        try { await api('POST', '/v1/alerts/' + encodeURIComponent(a.id) + '/ack', formValues(f)); this.load(); } catch (err) { showErrors(f, err); }
      } },
      h('h2', {}, a.kind.replace(/_/g, ' ')),
      h('p', {}, a.message, h('span', { class: 'muted' }, ' — raised ' + fmtTime(a.raised_at))),
      ack ? [field({ name: 'note', label: 'Note (optional)' }), h('button', { type: 'submit', class: 'btn btn-small' }, 'Acknowledge')] : null);
      return f;
    }));
  }
}
