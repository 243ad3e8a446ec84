// The reception page: sign in with an API key (sessionStorage only), show
// who is signed in and what their role may do, and switch between the
// queue, a new attendance, the dispatch board and alerts.

import { api, setKey, getKey, clearKey, onClusterStatus, onUnauthorized } from './api.js';
import { loadRoutes, setRole, canAll, can } from './roles.js';
import { $, $$, showErrors, clearErrors } from './dom.js';
import { Queue } from './queue.js';
import { Wizard } from './attend.js';
import { DispatchBoard, Alerts } from './dispatch.js';

const VIEWS = ['signin', 'queue', 'new', 'dispatch', 'alerts', 'none'];
let queue = null;
let wizard = null;
let board = null;
let alerts = null;

function show(view) {
  for (const v of VIEWS) $('#view-' + v).hidden = v !== view;
  for (const b of $$('#nav button')) {
    if (b.dataset.view === view) b.setAttribute('aria-current', 'page'); else b.removeAttribute('aria-current');
  }
  document.body.dataset.view = view;
  if (board) { if (view === 'dispatch') board.start(); else board.stop(); }
}

async function signIn(key) {
  const who = await api('GET', '/v1/whoami', undefined, { key });
  setKey(key);
  return who;
}

async function enter(who, routes) {
  await (routes || loadRoutes());
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
  alerts = new Alerts();
  board = new DispatchBoard(() => alerts.load());
  alerts.start();
  if (canQueue) { queue.start(); show('queue'); }
  else if (!$('#nav-dispatch').closest('li').hidden) show('dispatch');
  else if (!$('#nav-new').closest('li').hidden) show('new');
  else show('none');
}

function signOut() {
  clearKey();
  location.reload();
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
      const routes = loadRoutes(); // in parallel with the key check
      routes.catch(() => {});
      await enter(await signIn(key), routes);
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
