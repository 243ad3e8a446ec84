// Small DOM helpers: building elements without innerHTML (no injection
// from patient names), and showing API field errors next to their fields.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export const $ = (sel, root) => (root || document).querySelector(sel);
export const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));

let uid = 0;
// field builds a labelled input with hint and error slots. opts: {name
// (the API field path it maps to), label, type, hint, value, options
// [[value,label]], cls, attrs}.
export function field(opts) {
  const id = 'f' + (++uid) + '-' + opts.name.replace(/[^a-z0-9]/gi, '-');
  const hintId = id + '-hint', errId = id + '-error';
  let input;
  if (opts.type === 'select') {
    input = h('select', Object.assign({ id, name: opts.name }, opts.attrs),
      (opts.options || []).map(([v, l]) => h('option', { value: v, selected: v === opts.value }, l)));
  } else if (opts.type === 'textarea') {
    input = h('textarea', Object.assign({ id, name: opts.name, rows: 3 }, opts.attrs));
    input.value = opts.value || '';
  } else if (opts.type === 'checkbox') {
    input = h('input', Object.assign({ id, name: opts.name, type: 'checkbox', checked: !!opts.value }, opts.attrs));
    return h('div', { class: 'form-group', 'data-field': opts.name },
      h('span', { class: 'error-message', id: errId }),
      h('label', { class: 'checkbox', for: id }, input, opts.label));
  } else {
    input = h('input', Object.assign({ id, name: opts.name, type: opts.type || 'text', class: opts.cls, autocomplete: 'off' }, opts.attrs));
    if (opts.value !== undefined) input.value = opts.value;
  }
  input.setAttribute('aria-describedby', (opts.hint ? hintId + ' ' : '') + errId);
  return h('div', { class: 'form-group', 'data-field': opts.name },
    h('label', { for: id }, opts.label),
    opts.hint ? h('span', { class: 'hint', id: hintId }, opts.hint) : null,
    h('span', { class: 'error-message', id: errId }),
    input);
}

// clearErrors removes field errors shown in root.
export function clearErrors(root) {
  for (const g of $$('.form-group.error', root)) {
    g.classList.remove('error');
    const m = $('.error-message', g);
    if (m) m.textContent = '';
    for (const i of $$('[aria-invalid]', g)) i.removeAttribute('aria-invalid');
  }
  const s = $('.error-summary', root);
  if (s) s.remove();
}

// showErrors puts each message of a problem's `errors` map next to the
// field whose data-field matches the key (or its last part: the API may
// say "patient.nhs_number" or "context.observations.spo2" for a field the
// form calls "nhs_number"/"spo2"). Anything unmatched, and the detail, go
// in a summary at the top of root. Returns the first field focused.
export function showErrors(root, err) {
  clearErrors(root);
  const groups = $$('[data-field]', root);
  const unmatched = [];
  let first = null;
  for (const [key, msg] of Object.entries(err.fields || {})) {
    const g = groups.find((x) => x.dataset.field === key) ||
      groups.find((x) => key.endsWith('.' + x.dataset.field)) ||
      groups.find((x) => x.dataset.field.endsWith('.' + key));
    if (!g) { unmatched.push(key + ': ' + msg); continue; }
    g.classList.add('error');
    $('.error-message', g).textContent = 'Error: ' + sentence(msg);
    const input = $('input, select, textarea', g);
    if (input) { input.setAttribute('aria-invalid', 'true'); first = first || input; }
  }
  const lines = [];
  if (!first || unmatched.length) lines.push(err.message || 'The request was not accepted');
  lines.push(...unmatched);
  if (lines.length) {
    const box = h('div', { class: 'banner banner-error error-summary', role: 'alert', tabindex: '-1' },
      lines.map((l) => h('p', {}, l)));
    root.prepend(box);
    if (!first) box.focus();
  }
  if (first) first.focus();
  return first;
}

function sentence(s) {
  s = String(s).replace(/\bnhs\b/gi, 'NHS').replace(/\bods\b/gi, 'ODS').replace(/\bgp\b/g, 'GP');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

export function fmtTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  // The centre's clock, whatever the desk computer's time zone.
  return d.toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit', timeZone: 'Europe/London' });
}

export function fmtWait(ms) {
  if (ms < 0) ms = 0;
  const m = Math.floor(ms / 60000);
  return m < 60 ? m + ' min' : Math.floor(m / 60) + ' h ' + String(m % 60).padStart(2, '0') + ' min';
}

export function patientName(p) {
  if (!p) return 'Not yet named';
  const n = [p.given_name, p.family_name].filter(Boolean).join(' ');
  return n || 'Not yet named';
}

// formValues reads named inputs into an object; empty strings are left
// out, numbers parsed for type=number, checkboxes as booleans.
export function formValues(form) {
  const out = {};
  for (const el of $$('input[name], select[name], textarea[name]', form)) {
    if (el.type === 'checkbox') { out[el.name] = el.checked; continue; }
    if (el.type === 'radio') { if (el.checked) out[el.name] = el.value; continue; }
    const v = el.value.trim();
    if (v === '') continue;
    out[el.name] = el.type === 'number' ? Number(v) : v;
  }
  return out;
}

// The server's clock as the page last saw it (the queue's generated_at):
// a clinician's due time is counted against it, not the desk computer's.
let serverOffset = 0;
export function setServerNow(iso, at) {
  const t = Date.parse(iso);
  if (!Number.isNaN(t)) serverOffset = t - (at || Date.now());
}
export function serverNow() { return Date.now() + serverOffset; }

// clockText says how long is left until due (ISO), or how long ago it lapsed.
export function clockText(due) {
  const left = Date.parse(due) - serverNow();
  if (left >= 0) return 'Clinician due by ' + fmtTime(due) + ' · ' + fmtWait(left) + ' left';
  return 'Lapsed: clinician was due by ' + fmtTime(due) + ' · ' + fmtWait(-left) + ' ago';
}

// clockEl is a clinician-first clock, red once lapsed; refreshClocks
// brings every clock in root up to date.
export function clockEl(due, id) {
  const el = h('span', { class: 'clock', id, 'data-due': due });
  updateClock(el);
  return el;
}

function updateClock(el) {
  const lapsed = Date.parse(el.dataset.due) < serverNow();
  el.textContent = clockText(el.dataset.due);
  el.classList.toggle('clock-lapsed', lapsed);
  el.dataset.lapsed = String(lapsed);
}

export function refreshClocks(root) {
  for (const el of $$('[data-due]', root)) updateClock(el);
}
