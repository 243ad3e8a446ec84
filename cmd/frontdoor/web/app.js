// The reception page: sign in with an API key (sessionStorage only), show
// who is signed in and what their role may do, and switch between the
// queue, a new attendance, the dispatch board and alerts.

import { api, setKey, getKey, clearKey, onClusterStatus, onUnauthorized } from './api.js';
import { loadRoutes, setRole, canAll, has, can } from './roles.js';
import { $, $$, h, showErrors, clearErrors, fmtTime, fmtWait } from './dom.js';
import { Queue } from './queue.js';
import { Wizard } from './attend.js';

const VIEWS = ['signin', 'queue', 'new', 'dispatch', 'alerts', 'none'];
let queue = null;
let wizard = null;
let boards = null;

function show(view) {
  for (const v of VIEWS) $('#view-' + v).hidden = v !== view;
  for (const b of $$('#nav button')) {
    if (b.dataset.view === view) b.setAttribute('aria-current', 'page'); else b.removeAttribute('aria-current');
  }
  document.body.dataset.view = view;
  if (view === 'dispatch' || view === 'alerts') boards.refresh(view);
}

async function signIn(key) {
  const who = await api('GET', '/v1/whoami', undefined, { key });
  setKey(key);
  return who;
}

async function enter(who) {
  await loadRoutes();
  setRole(who.role);
  $('#who-name').textContent = who.name || who.id;
  $('#who-role').textContent = who.role;
  $('#who').hidden = false;
  $('#nav').hidden = false;
  for (const b of $$('#nav button[data-needs]')) {
    const li = b.closest('li');
    li.hidden = !canAll(b.dataset.needs);
  }
  const canQueue = can('GET', '/v1/queue');
  queue = new Queue(async (id) => {
    try {
      const a = await api('GET', '/v1/attendances/' + encodeURIComponent(id));
      show('new');
      wizard.open(a);
    } catch (e) { $('#page-error').textContent = e.message; }
  });
  wizard = new Wizard(queue);
  boards = new Boards();
  if (canQueue) { queue.start(); show('queue'); }
  else if (!$('#nav-dispatch').closest('li').hidden) show('dispatch');
  else if (!$('#nav-new').closest('li').hidden) show('new');
  else show('none');
}

function signOut() {
  clearKey();
  location.reload();
}

// Boards: the dispatch board and alerts, shown only when the API has them
// and the role may read them.
class Boards {
  constructor() { this.timer = null; }
  async refresh(view) {
    clearTimeout(this.timer);
    if ($('#view-' + view).hidden) return;
    try {
      if (view === 'dispatch') await this.dispatches();
      else await this.alerts();
    } catch (e) {
      const body = $('#' + view + '-body');
      body.replaceChildren(h('p', { class: 'banner banner-error' }, e.message));
    }
    this.timer = setTimeout(() => this.refresh(view), 3000);
  }
  async dispatches() {
    const r = await api('GET', '/v1/dispatches');
    const list = r.dispatches || r || [];
    const canAccept = has('POST', '/v1/dispatches/{id}/accept') && can('POST', '/v1/dispatches/{id}/accept');
    $('#dispatch-body').replaceChildren(list.length ? h('table', {},
      h('thead', {}, h('tr', {}, ['Patient', 'Status', 'Service', 'Requested', '2-hour clock', ''].map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', {}, list.map((d) => {
        const left = d.due_at ? Date.parse(d.due_at) - Date.now() : (Date.parse(d.created_at) + 7200000 - Date.now());
        return h('tr', { 'data-id': d.id },
          h('td', {}, d.patient_name || d.attendance_id || ''),
          h('td', { class: 'status' }, d.status),
          h('td', {}, d.service_name || d.service_id || ''),
          h('td', {}, fmtTime(d.created_at)),
          h('td', { class: 'num' }, left >= 0 ? fmtWait(left) + ' left' : h('span', { class: 'tag tag-breach' }, 'Over 2 hours')),
          h('td', {}, canAccept && d.status !== 'accepted' ? h('button', { type: 'button', class: 'btn btn-small', onclick: async () => {
            await api('POST', '/v1/dispatches/' + encodeURIComponent(d.id) + '/accept', {}); this.refresh('dispatch');
          } }, 'Accept') : null));
      }))) : h('p', {}, 'No dispatches.'));
  }
  async alerts() {
    const r = await api('GET', '/v1/alerts');
    const list = (r.alerts || r || []).filter((a) => !a.acknowledged_at && !a.acknowledged);
    $('#alert-count').textContent = list.length ? '(' + list.length + ')' : '';
    const canAck = has('POST', '/v1/alerts/{id}/ack') && can('POST', '/v1/alerts/{id}/ack');
    $('#alerts-body').replaceChildren(list.length ? h('ul', {}, list.map((a) => h('li', {},
      h('strong', {}, a.kind || a.type || 'Alert'), ': ' + (a.message || a.detail || ''), ' ',
      canAck ? h('button', { type: 'button', class: 'btn btn-small', onclick: async () => {
        await api('POST', '/v1/alerts/' + encodeURIComponent(a.id) + '/ack', {}); this.refresh('alerts');
      } }, 'Acknowledge') : null))) : h('p', {}, 'No alerts waiting.'));
  }
}

function init() {
  onClusterStatus((msg) => { $('#cluster-banner').textContent = msg || ''; });
  onUnauthorized(() => { $('#page-error').textContent = 'Your key is no longer accepted. Sign in again.'; clearKey(); setTimeout(() => location.reload(), 1500); });
  $('#signin-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const form = e.target;
    clearErrors(form);
    const key = $('#key').value.trim();
    if (!key) { showErrors(form, { message: 'Enter your API key', fields: { key: 'enter your API key' } }); return; }
    try {
      await enter(await signIn(key));
    } catch (err) {
      const msg = err.status === 401 ? 'this key is not known or has been revoked' : err.message;
      showErrors(form, { message: 'Sign-in failed', fields: { key: msg } });
    }
  });
  $('#signout').addEventListener('click', signOut);
  for (const b of $$('#nav button')) b.addEventListener('click', () => { show(b.dataset.view); if (b.dataset.view === 'new' && wizard) wizard.render(); });
  document.addEventListener('keydown', (e) => {
    if (!e.altKey || $('#nav').hidden) return;
    const map = { q: 'queue', n: 'new', d: 'dispatch', a: 'alerts' };
    const v = map[e.key.toLowerCase()];
    if (!v) return;
    const b = $('#nav-' + v);
    if (b && !b.closest('li').hidden) {
      e.preventDefault();
      show(v);
      if (v === 'new') { wizard.reset(); }
    }
  });
  if (getKey()) {
    signIn(getKey()).then(enter).catch(() => { clearKey(); show('signin'); });
  } else {
    show('signin');
    $('#key').focus();
  }
}

init();
