// New attendance and triage: the life-threat check first (one keystroke
// raises "clinician now" before anyone is named), then the patient
// (identity second: search, candidates with reasons, or create), the
// presenting complaint by typing, the questions one at a time, and the
// outcome with where and why, the slip, confirmation, override and GP
// registration. Observations can be entered at any point once the
// attendance exists.

import { api, ApiError } from './api.js';
import { can, has, currentRole, schemaHas } from './roles.js';
import { h, $, $$, field, showErrors, clearErrors, formValues, patientName, fmtTime, clockEl, refreshClocks } from './dom.js';
import { news2, response } from './news2.js';
import { statusWord, tierWord, priorityOf } from './queue.js';

const TIER_RANK = { self_care: 1, pharmacy: 2, gp: 3, rapid_response: 4, ed: 5 };
const TIERS = [['ed', 'Emergency department'], ['rapid_response', 'Urgent community (rapid) response'], ['gp', 'GP'], ['pharmacy', 'Pharmacy'], ['self_care', 'Self care']];
const TIMEFRAMES = ['immediate', '1h', '2h', '4h', '6h', '12h', '24h', '72h', '1w', 'none'];
const LIFE_THREATS = [
  'not breathing, or choking',
  'unconscious or not responding',
  'bleeding heavily and it will not stop',
  'signs of a stroke: face drooping, arm weak, speech slurred',
  'a severe allergic reaction: swelling of lips, tongue or throat, struggling to breathe',
  'fitting now',
  'struggling to breathe, cannot finish a sentence',
  'chest pain that is heavy or spreading, with sweating or sickness',
];

// The attendance workflow routes (cmd/frontdoor/workflow.go).
// GENERAL_PROTOCOL is offered when no presentation fits the words.
const GENERAL_PROTOCOL = 'unwell-non-specific';

// matchedWords: the words of a search hit that matched, as a short note
// ("diarea" → diarrhoea; "no rash" not counted; ranked lower: usually under 5).
function matchedWords(x) {
  const words = (x.words || []).map((w) => w.as ? w.said + ' → ' + w.as : w.said);
  let s = words.length ? ' — ' + words.join(', ') : '';
  if (x.ignored && x.ignored.length) s += '; not counted: no ' + x.ignored.join(', ');
  if (x.demoted) s += '; ranked lower: ' + x.demoted;
  return s;
}

const ROUTES = {
  answers: '/v1/attendances/{id}/answers',
  observations: '/v1/attendances/{id}/observations',
  confirm: '/v1/attendances/{id}/confirm',
  override: '/v1/attendances/{id}/override',
  slip: '/v1/attendances/{id}/slip',
  protocols: '/v1/protocols',
};
function allowed(name, method) { const p = ROUTES[name]; return can(method, p) ? p : ''; }
const withID = (p, id) => p.replace('{id}', encodeURIComponent(id));

function attOf(x) { return x && (x.attendance || x); }

// The age units an age without a date of birth may be given in; each is
// sent as context.age_<unit>.
const AGE_UNITS = [['years', 'years'], ['months', 'months'], ['weeks', 'weeks'], ['days', 'days']];
// Context flags in plain words (context.flags).
const FLAGS = [
  ['usual_residence', 'At home or in their care home now'],
  ['anticoagulated', 'On blood thinners (such as warfarin, apixaban, rivaroxaban)'],
  ['dnacpr', 'Has a DNACPR form (do not attempt CPR)'],
  ['advance_care_plan', 'Has an advance care plan, or wishes to die at home'],
  ['alone', 'Here alone, or calling for themselves'],
  ['immunosuppressed', 'Weakened immune system (chemotherapy, steroids, transplant)'],
  ['carer_very_worried', 'Parent or carer is very worried'],
];
// Where an earlier contact was (context.earlier_contacts[].service).
const CONTACT_SERVICES = [['nhs111', 'NHS 111'], ['gp', 'GP'], ['this_centre', 'This centre'], ['ed', 'A&E'], ['other', 'Other']];

// contextOf builds the create payload's context from the complaint form.
function contextOf(form, v) {
  const ctx = {};
  if (v['context.age'] != null) ctx['age_' + (v['context.age_unit'] || 'years')] = v['context.age'];
  if (v['context.sex']) ctx.sex = v['context.sex'];
  if (v['context.pregnant']) ctx.pregnant = v['context.pregnant'];
  if (ctx.pregnant === 'yes' && v['context.gestation_weeks'] != null) ctx.gestation_weeks = v['context.gestation_weeks'];
  if (ctx.pregnant !== 'yes' && v['context.postnatal_weeks'] != null) ctx.postnatal_weeks = v['context.postnatal_weeks'];
  const contacts = $$('.contact-row', form).map((r) => {
    const c = { service: $('select', r).value };
    const hrs = $('input', r).value.trim();
    if (hrs !== '') c.hours_ago = Number(hrs);
    return c;
  });
  if (contacts.length) ctx.earlier_contacts = contacts;
  const flags = FLAGS.map(([f]) => f).filter((f) => v['context.flags.' + f]);
  if (flags.length) ctx.flags = flags;
  if (v['context.registered_practice']) ctx.registered_practice = v['context.registered_practice'];
  return ctx;
}

// NO_GP is context.registered_practice for someone with no GP, or who
// does not know theirs.
const NO_GP = 'none';

// contextErrors puts the API's field names on the form's fields: the age
// in any unit is the age box, and context.flags[i] is the box of that flag.
function contextErrors(e, ctx) {
  if (!e.fields) return e;
  const fields = {};
  for (const [k, m] of Object.entries(e.fields)) {
    let key = k;
    if (/^context\.age_(years|months|weeks|days)$/.test(k)) key = 'context.age';
    const fl = /^context\.flags\[(\d+)\]$/.exec(k);
    if (fl && ctx.flags && ctx.flags[+fl[1]]) key = 'context.flags.' + ctx.flags[+fl[1]];
    fields[key] = m;
  }
  return { message: e.message, fields };
}

// choicesOf lists a question's answers as [value, label]; a desk sign's
// yes/no/not sure are what reception sees: Normal / Not normal / Can't tell.
function choicesOf(q, desk) {
  if (q.choices && q.choices.length) return q.choices.map((c) => [c.value, c.label || c.value]);
  const yn = desk ? [['no', 'Normal'], ['yes', 'Not normal'], ['not_sure', 'Can’t tell']] : [['yes', 'Yes'], ['no', 'No'], ['not_sure', 'Not sure']];
  return q.allowed && q.allowed.length ? yn.filter(([v]) => q.allowed.includes(v)) : yn;
}

// formCut is the index of the last question of a form that must be
// answered: a form holds the questions reached if each is answered "no"
// (for the desk: Normal or Can't tell), so after the first other answer
// the rest may not be asked at all. They are sent if answered.
function formCut(f, qs, desk) {
  for (let i = 0; i < qs.length; i++) {
    if (qs[i].type === 'number') continue;
    const el = f.elements.namedItem(qs[i].id);
    const v = el ? el.value : '';
    if (v && v !== 'no' && !(desk && v === 'not_sure')) return i;
  }
  return qs.length;
}

function sentenceCase(s) { return s ? s.charAt(0).toUpperCase() + s.slice(1) : s; }

// shortSign is the first clause of a sign's question, for the alarm line.
function shortSign(text) {
  const s = text.split(/ — |\?|, with /)[0].replace(/^(Are|Is) (they|their|there|one)\s*/i, '').trim();
  return s.length > 70 ? s.slice(0, 67) + '…' : s;
}

// clinicianFirstOf: the attendance's clinician-first floor (stream,
// reasons, then, clinician_due) from its disposition, else from the
// session's outcome; null when none.
export function clinicianFirstOf(a) {
  const t = a.triage || {};
  const d = t.disposition;
  if (!d) return null;
  let cf = d.clinician_first;
  // An API without disposition.clinician_first: the session's outcome
  // says it, while the disposition is still the clinician-first one.
  if (!cf && d.decided_by === 'clinician_first') cf = t.session && t.session.outcome && t.session.outcome.clinician_first;
  if (!cf || !cf.stream) return null;
  const o = t.session && t.session.outcome;
  // Once the protocol has finished, what follows is the session's latest.
  const then = (o && o.clinician_first && o.clinician_first.then) || cf.then || null;
  return { stream: cf.stream, reasons: cf.reasons || [], then, due: a.clinician_due || cf.due || '', lapsed: !!a.clinician_lapsed,
    waiting: a.status === 'awaiting_clinician', questions: (t.questions || []).length };
}

// findingsOf: what the session found or did not rule out, in path order.
function findingsOf(a) {
  const t = a.triage || {};
  const d = t.disposition || {};
  return d.findings || (t.session && t.session.outcome && t.session.outcome.findings) || [];
}

// thenWords says what follows a clinician-first floor.
export function thenWords(then) {
  const when = then.timeframe === 'immediate' ? 'now' : then.timeframe && then.timeframe !== 'none' ? 'within ' + then.timeframe : '';
  return (then.title || tierWord(then.tier)) + ' — ' + [tierWord(then.tier), when, then.dx].filter(Boolean).join(', ');
}

// streamWords says what a clinician-first stream means.
export function streamWords(stream) {
  return stream === 'clinician_callback' ? 'A clinician calls them back' : stream === 'clinician_now' ? 'A clinician sees them now' : '';
}

// interimBanner shows what a session in progress already demands (an
// early raise: observations, or a clinician-first floor passed).
function interimBanner(i) {
  const what = i.stream ? streamWords(i.stream) :
    tierWord(i.tier) + (i.timeframe === 'immediate' ? ', now' : i.timeframe && i.timeframe !== 'none' ? ', within ' + i.timeframe : '');
  return h('div', { class: 'banner banner-warn', id: 'interim', role: 'status' },
    h('p', {}, h('strong', {}, 'Raised already: '), what + (i.dx ? ' (' + i.dx + ')' : '') + '. The questions go on and may raise it further.'),
    i.reason ? h('p', {}, 'Why: ' + i.reason) : null);
}

export class Wizard {
  constructor(queue) {
    this.queue = queue;
    this.root = $('#wizard');
    this.side = $('#side');
    this.reset();
    document.addEventListener('keydown', (e) => this.key(e));
    setInterval(() => refreshClocks(document.getElementById('view-new')), 15000);
  }

  reset() {
    this.att = null;
    this.patient = null;
    this.noGP = false;
    this.complaint = null;
    this.step = 'screen';
    this.render();
  }

  // open shows an existing attendance at the step it has reached.
  async open(a, intent) {
    this.att = a;
    this.patient = null;
    this.step = 'patient';
    if (a.triage && a.triage.disposition && (!a.triage.questions || a.triage.questions.length === 0)) this.step = 'outcome';
    else if (a.triage) this.step = 'triage';
    else if (a.patient_id || a.patient && a.patient.family_name) this.step = 'complaint';
    if (a.patient_id && can('GET', '/v1/patients/{id}')) {
      try { this.patient = await api('GET', '/v1/patients/' + encodeURIComponent(a.patient_id)); } catch { /* shown without */ }
    }
    this.render();
  }

  setAtt(x) {
    this.att = attOf(x);
    if (this.queue) this.queue.reload();
  }

  key(e) {
    if ($('#view-new').hidden || e.altKey || e.ctrlKey || e.metaKey) return;
    const t = e.target;
    if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT')) return;
    const k = e.key.toLowerCase();
    if (this.step === 'screen') {
      if (k === 'c') { e.preventDefault(); this.clinicianNow(); }
      else if (k === 'n') { e.preventDefault(); this.go('patient'); }
      return;
    }
    if (this.step === 'triage') {
      const f = this.root.querySelector('form[data-form]');
      if (f) { this.formKey(e, f); return; }
      const b = this.root.querySelector('[data-key="' + k + '"]');
      if (b) { e.preventDefault(); b.click(); }
    }
  }

  go(step) { this.step = step; this.render(); }

  render() {
    for (const li of $$('#steps li')) {
      if (li.dataset.step === this.step) li.setAttribute('aria-current', 'step'); else li.removeAttribute('aria-current');
    }
    const fn = {
      screen: this.screen, patient: this.patientStep, complaint: this.complaintStep, triage: this.triage,
      outcome: this.outcome, clinician: this.clinicianCalled,
    }[this.step];
    this.root.replaceChildren(fn.call(this));
    this.renderSide();
    const focus = this.root.querySelector('[data-autofocus]') || this.root.querySelector('h1, h2');
    if (focus) { if (!focus.hasAttribute('tabindex') && /^H/.test(focus.tagName)) focus.setAttribute('tabindex', '-1'); focus.focus(); }
  }

  // Step 1: the life-threat check.
  screen() {
    return h('div', { class: 'panel card-urgent' },
      h('h1', { id: 'screen-h', tabindex: '-1', 'data-autofocus': true }, 'Is anyone in immediate danger?'),
      h('p', {}, 'Look at the person first. Is the person:'),
      h('ul', {}, LIFE_THREATS.map((t) => h('li', {}, t))),
      h('button', { type: 'button', class: 'btn btn-warning btn-big', id: 'clinician-now', onclick: () => this.clinicianNow() },
        h('kbd', {}, 'C'), 'Yes — clinician now'),
      h('button', { type: 'button', class: 'btn btn-big', id: 'no-threat', onclick: () => this.go('patient') },
        h('kbd', {}, 'N'), 'No — continue'),
      h('p', { class: 'shortcuts' }, 'Press C for a clinician now: the arrival is recorded at once, without a name. Press N to continue.'));
  }

  async clinicianNow() {
    const btn = $('#clinician-now');
    if (btn) btn.disabled = true;
    try {
      const body = { complaint: 'Life threat at the front door: clinician now', channel: 'walk_in', patient: {} };
      if (schemaHas('AttendanceCreate', 'clinician_now')) body.clinician_now = true;
      this.setAtt(await api('POST', '/v1/attendances', body));
      this.go('clinician');
    } catch (e) {
      if (btn) btn.disabled = false;
      showErrors(this.root, e);
    }
  }

  clinicianCalled() {
    return h('div', { class: 'panel card-urgent' },
      h('h1', { tabindex: '-1', 'data-autofocus': true, id: 'clinician-called' }, 'Clinician called'),
      h('p', {}, 'Arrival recorded at ' + fmtTime(this.att.arrived_at) + ' without a name. Stay with the person and call for help now.'),
      h('p', {}, 'Name them later: open this attendance from the queue.'),
      h('button', { type: 'button', class: 'btn', onclick: () => this.go('patient') }, 'Add who they are'),
      h('button', { type: 'button', class: 'btn btn-secondary', onclick: () => this.reset() }, 'Next person'));
  }

  // Step 2: who is it (identity second: may be skipped).
  patientStep() {
    const out = h('div', {});
    const results = h('div', { id: 'candidates', 'aria-live': 'polite' });
    const search = h('form', { class: 'panel', id: 'find-form', novalidate: true, onsubmit: (e) => { e.preventDefault(); this.find(search, results); } },
      h('h1', { tabindex: '-1', 'data-autofocus': true }, this.att ? 'Who is ' + patientName(this.att.patient) + '?' : 'Find the patient'),
      h('p', { class: 'hint' }, 'NHS number, or surname with date of birth and postcode. You can skip this and name them later.'),
      field({ name: 'nhs_number', label: 'NHS number', hint: '10 digits, for example 943 476 5919', cls: 'narrow', attrs: { inputmode: 'numeric' } }),
      h('div', { class: 'inline' },
        field({ name: 'given_name', label: 'First name' }),
        field({ name: 'family_name', label: 'Last name' })),
      h('div', { class: 'inline' },
        field({ name: 'date_of_birth', label: 'Date of birth', type: 'date' }),
        field({ name: 'postcode', label: 'Postcode', cls: 'narrow' })),
      h('button', { type: 'submit', class: 'btn', id: 'find-btn' }, 'Find'),
      h('button', { type: 'button', class: 'btn btn-secondary', id: 'new-patient-btn', onclick: () => this.newPatientForm(out, search) }, 'New patient'),
      h('button', { type: 'button', class: 'btn btn-secondary', id: 'skip-patient', onclick: () => this.go(this.att && this.att.triage ? 'triage' : 'complaint') }, 'Skip: unknown for now'),
      results);
    out.append(search);
    return out;
  }

  async find(form, results) {
    clearErrors(form);
    const v = formValues(form);
    const q = new URLSearchParams(v).toString();
    try {
      const r = await api('GET', '/v1/patients?' + q);
      const cands = r.candidates || [];
      results.replaceChildren(h('h2', {}, cands.length ? cands.length + ' possible match' + (cands.length > 1 ? 'es' : '') : 'No match'),
        ...cands.map((c) => this.candidate(c)));
      if (!cands.length) results.append(h('p', {}, 'Check the details, or add them as a new patient.'));
    } catch (e) { showErrors(form, e); }
  }

  candidate(c) {
    const p = c.patient;
    return h('div', { class: 'candidate' },
      h('strong', {}, patientName(p)), ' ', c.exact ? h('span', { class: 'tag tag-pharmacy' }, 'Same NHS number') : null,
      h('div', { class: 'muted' }, ['Born ' + (p.date_of_birth || 'unknown'), p.postcode, p.nhs_number ? 'NHS ' + p.nhs_number : null,
        p.gp_practice ? 'GP ' + p.gp_practice : 'No GP recorded'].filter(Boolean).join(' · ')),
      h('p', { class: 'muted' }, 'Why it may be them: ' + (c.reasons || []).join('; ')),
      h('button', { type: 'button', class: 'btn btn-small', onclick: () => this.usePatient(p) }, 'This is them'));
  }

  newPatientForm(out, search) {
    const vals = formValues(search);
    const practices = h('div', {});
    const form = h('form', { class: 'panel', id: 'patient-form', novalidate: true, onsubmit: (e) => { e.preventDefault(); this.createPatient(form, false); } },
      h('h1', { tabindex: '-1', 'data-autofocus': true, id: 'new-patient-h' }, 'New patient'),
      h('div', { class: 'inline' },
        field({ name: 'given_name', label: 'First name', value: vals.given_name }),
        field({ name: 'family_name', label: 'Last name', value: vals.family_name })),
      h('div', { class: 'inline' },
        field({ name: 'date_of_birth', label: 'Date of birth', type: 'date', value: vals.date_of_birth }),
        field({ name: 'sex', label: 'Sex', type: 'select', options: [['', 'Not given'], ['female', 'Female'], ['male', 'Male'], ['unknown', 'Unknown']] })),
      field({ name: 'nhs_number', label: 'NHS number (if known)', cls: 'narrow', value: vals.nhs_number }),
      h('div', { class: 'inline' },
        field({ name: 'postcode', label: 'Postcode', cls: 'narrow', value: vals.postcode }),
        field({ name: 'phone', label: 'Phone' })),
      field({ name: 'no_fixed_abode', label: 'No fixed abode', type: 'checkbox' }),
      practices,
      h('div', { id: 'patient-dupes' }),
      h('button', { type: 'submit', class: 'btn', id: 'create-patient' }, 'Save patient'));
    out.replaceChildren(form);
    this.practiceSelect(practices);
    form.querySelector('h1').focus();
  }

  async practiceSelect(box) {
    let opts = [['', 'No GP / not registered'], ['?', 'Registered, practice not known']];
    if (can('GET', '/v1/practices')) {
      try {
        const r = await api('GET', '/v1/practices');
        const list = r.practices || r || [];
        opts = opts.concat(list.map((p) => [p.ods_code, p.name + ' (' + p.ods_code + ')' + (p.list_open ? '' : ' — list closed')]));
      } catch { /* free text below */ }
    }
    box.replaceChildren(field({ name: 'gp_practice', label: 'GP practice', type: 'select', options: opts,
      hint: 'Patients without a GP can be registered with a practice after triage.' }));
  }

  async createPatient(form, confirmNew) {
    clearErrors(form);
    const v = formValues(form);
    this.noGP = !v.gp_practice;
    if (v.gp_practice === '?') delete v.gp_practice;
    if (!v.no_fixed_abode) delete v.no_fixed_abode;
    if (confirmNew) v.confirm_new = true;
    try {
      const p = await api('POST', '/v1/patients', v);
      this.usePatient(p.patient || p);
    } catch (e) {
      if (e.status === 409 && e.problem.candidates) {
        const box = $('#patient-dupes', form);
        box.replaceChildren(h('div', { class: 'banner banner-warn', role: 'alert' },
          h('p', {}, 'This looks like someone already on record. Is it one of them?'),
          e.problem.candidates.map((c) => this.candidate(c)),
          h('button', { type: 'button', class: 'btn btn-secondary', onclick: () => this.createPatient(form, true) }, 'Someone else: save as a new patient')));
        return;
      }
      showErrors(form, e);
    }
  }

  async usePatient(p) {
    this.patient = p;
    if (p.gp_practice) this.noGP = false; else this.noGP = true;
    if (this.att) {
      try { this.setAtt(await api('POST', '/v1/attendances/' + encodeURIComponent(this.att.id) + '/patient', { patient_id: p.id })); } catch (e) { showErrors(this.root, e); return; }
      this.go(this.att.triage ? (this.att.triage.disposition ? 'outcome' : 'triage') : 'complaint');
      return;
    }
    this.go('complaint');
  }

  // Step 3: the presenting complaint, by typing.
  complaintStep() {
    const hits = h('div', { id: 'protocol-hits', role: 'listbox', 'aria-label': 'Matching presentations' });
    const chosen = h('p', { id: 'protocol-chosen', 'aria-live': 'polite' });
    const searchable = allowed('protocols', 'GET');
    let timer = null;
    const form = h('form', { class: 'panel', id: 'complaint-form', novalidate: true, onsubmit: (e) => { e.preventDefault(); this.start(form); } },
      h('h1', { tabindex: '-1' }, 'What has brought ' + (this.patient ? patientName(this.patient) : 'them') + ' in?'),
      field({ name: 'complaint', label: 'Presenting complaint, in their words', hint: searchable ? 'Type a few words, then press the down arrow and choose the closest presentation.' : '',
        attrs: { 'data-autofocus': true, oninput: null } }),
      hits, chosen,
      field({ name: 'channel', label: 'How they came to us', type: 'select', value: currentRole() === 'nhs111' ? 'nhs111' : 'walk_in',
        options: [['walk_in', 'Walked in'], ['nhs111', 'NHS 111 referral'], ['ambulance', 'Brought by ambulance'], ['referral', 'Referred by a GP or other service']] }),
      field({ name: 'case_ref', label: 'NHS 111 case reference (if any)', cls: 'narrow' }),
      currentRole() === 'nhs111' ? field({ name: 'expected', label: 'Announce only: they are on their way (reception checks them in)', type: 'checkbox' }) : null,
      h('h2', {}, 'What else is known'),
      this.knownFields(),
      h('button', { type: 'submit', class: 'btn', id: 'start-triage' }, 'Start questions'));
    // Down arrow from the complaint box goes to the matches; arrows move
    // between them; Enter or Space chooses.
    hits.addEventListener('keydown', (e) => {
      const opts = $$('.protocol-hit', hits);
      const i = opts.indexOf(document.activeElement);
      if (e.key === 'ArrowDown' && i < opts.length - 1) { e.preventDefault(); opts[i + 1].focus(); }
      if (e.key === 'ArrowUp') { e.preventDefault(); (i > 0 ? opts[i - 1] : form.querySelector('input[name=complaint]')).focus(); }
    });
    const input = form.querySelector('input[name=complaint]');
    input.addEventListener('keydown', (e) => {
      const first = hits.querySelector('.protocol-hit');
      if (e.key === 'ArrowDown' && first) { e.preventDefault(); first.focus(); }
    });
    // Search as they type, and again when the age or sex that rank the
    // matches are filled in.
    const research = () => {
      clearTimeout(timer);
      if (!searchable) return;
      timer = setTimeout(() => this.searchProtocols(input.value, hits, chosen, form), 200);
    };
    input.addEventListener('input', research);
    form.addEventListener('change', (e) => { if (/^context\.(age|age_unit|sex)$/.test(e.target.name || '')) research(); });
    if (this.complaint) chosen.textContent = 'Chosen: ' + this.complaint.title;
    return form;
  }

  // knownFields: the context that decides, before the first question. An
  // age without a date of birth is a number and a unit (a 9-week-old is
  // not "0 years": the infant rules need days); weeks pregnant when
  // pregnant; earlier contacts one row each; the flags in plain words.
  // Units and fields the API does not publish yet are not offered.
  knownFields() {
    const box = h('div', { id: 'known' });
    const has = (prop) => schemaHas('TriageContext', prop);
    const units = AGE_UNITS.filter(([u]) => u === 'years' || has('age_' + u));
    const noDOB = !(this.patient && this.patient.date_of_birth);
    box.append(h('div', { class: 'inline' },
      noDOB ? field({ name: 'context.age', label: 'Age (if no date of birth)', type: 'number', cls: 'narrow', attrs: { min: 0, max: 130, step: 1, inputmode: 'numeric' } }) : null,
      noDOB ? field({ name: 'context.age_unit', label: 'Age in', type: 'select', value: 'years', options: units,
        hint: units.length > 1 ? 'A baby: weeks or days' : '' }) : null,
      field({ name: 'context.sex', label: 'Sex', type: 'select', value: (this.patient && this.patient.sex) || '', options: [['', 'Not given'], ['female', 'Female'], ['male', 'Male'], ['unknown', 'Unknown']] }),
      field({ name: 'context.pregnant', label: 'Pregnant', type: 'select', options: [['', 'Not asked'], ['no', 'No'], ['yes', 'Yes'], ['unknown', 'Not sure']] })));
    const gestation = has('gestation_weeks') ? field({ name: 'context.gestation_weeks', label: 'Weeks pregnant', type: 'number', cls: 'narrow',
      hint: 'Completed weeks, if she knows', attrs: { min: 0, max: 45, inputmode: 'numeric' } }) : null;
    const postnatal = has('postnatal_weeks') ? field({ name: 'context.postnatal_weeks', label: 'Gave birth in the last 6 weeks: how many weeks ago', type: 'number', cls: 'narrow',
      hint: 'Leave empty if she has not given birth recently', attrs: { min: 0, max: 52, inputmode: 'numeric' } }) : null;
    if (gestation) { gestation.id = 'gestation-group'; gestation.hidden = true; box.append(gestation); }
    if (postnatal) { postnatal.id = 'postnatal-group'; postnatal.hidden = true; box.append(postnatal); }
    const sync = () => {
      const preg = box.querySelector('select[name="context.pregnant"]').value;
      const sex = box.querySelector('select[name="context.sex"]').value;
      if (gestation) gestation.hidden = preg !== 'yes';
      if (postnatal) postnatal.hidden = preg === 'yes' || sex !== 'female';
    };
    box.addEventListener('change', sync);
    sync();
    if (has('registered_practice')) box.append(this.practiceQuestion());
    if (has('earlier_contacts')) box.append(this.contactsFieldset());
    box.append(h('fieldset', { class: 'form-group', id: 'flags' }, h('legend', {}, 'About them (tick what applies)'),
      FLAGS.map(([f, label]) => field({ name: 'context.flags.' + f, label, type: 'checkbox' }))));
    return box;
  }

  // practices lists the directory's GP practices (GET /v1/practices), asked
  // once per page.
  practices() {
    if (!this.practiceList) {
      this.practiceList = can('GET', '/v1/practices') ?
        api('GET', '/v1/practices').then((r) => { this.practicesKnown = (r && r.practices) || []; return this.practicesKnown; })
          .catch(() => { this.practiceList = null; return []; }) : Promise.resolve([]);
    }
    return this.practiceList;
  }

  // practiceQuestion: who their GP practice is (context.registered_practice):
  // a practice from the directory, or "No GP / don't know". Their own
  // practice sees them first when it is open with room; without a GP they
  // are offered registration. The patient record's practice is the answer
  // when it has one.
  practiceQuestion() {
    const rec = (this.patient && this.patient.gp_practice) || '';
    const box = h('div', { id: 'practice-question' });
    const render = (list) => {
      const sel = box.querySelector('select');
      const value = sel ? sel.value : rec;
      const opts = [['', 'Not asked'], [NO_GP, 'No GP / don’t know']]
        .concat(list.map((p) => [p.ods_code, p.name + ' (' + p.ods_code + ')']));
      if (rec && !list.some((p) => p.ods_code === rec)) opts.push([rec, rec]);
      box.replaceChildren(field({ name: 'context.registered_practice', label: 'Who is their GP practice?', type: 'select', options: opts, value,
        hint: rec ? 'From their patient record.' : 'Their own practice sees them first when it is open and has room. No GP: they can be registered with one.' }));
      box.dataset.loaded = list.length ? 'true' : 'false';
    };
    render([]);
    this.practices().then(render);
    return box;
  }

  // practiceWords names the practice an attendance's context gives.
  practiceWords(code) {
    if (code === NO_GP) return 'No GP / don’t know';
    const p = (this.practicesKnown || []).find((x) => x.ods_code === code);
    return p ? p.name + ' (' + code + ')' : code;
  }

  // contactsFieldset: earlier contacts about this problem, one row each
  // (service and how many hours ago), counted by service as they are added.
  contactsFieldset() {
    const rows = h('div', { id: 'contacts-rows' });
    const count = h('p', { id: 'contacts-count', class: 'muted', 'aria-live': 'polite' });
    const renumber = () => {
      $$('.contact-row', rows).forEach((r, i) => {
        for (const el of $$('[name]', r)) el.name = el.name.replace(/\[\d+\]/, '[' + i + ']');
        for (const g of $$('[data-field]', r)) g.dataset.field = g.dataset.field.replace(/\[\d+\]/, '[' + i + ']');
        $('.remove-contact', r).setAttribute('aria-label', 'Remove earlier contact ' + (i + 1));
      });
      const by = {};
      for (const s of $$('select', rows)) by[s.value] = (by[s.value] || 0) + 1;
      const n = $$('.contact-row', rows).length;
      count.textContent = n ? n + ' earlier contact' + (n > 1 ? 's' : '') + ': ' +
        CONTACT_SERVICES.filter(([v]) => by[v]).map(([v, l]) => l + ' ' + by[v]).join(', ') : 'None recorded.';
    };
    const add = () => {
      const i = $$('.contact-row', rows).length;
      const row = h('div', { class: 'inline contact-row' },
        field({ name: 'context.earlier_contacts[' + i + '].service', label: 'Where', type: 'select', options: CONTACT_SERVICES }),
        field({ name: 'context.earlier_contacts[' + i + '].hours_ago', label: 'How many hours ago', type: 'number', cls: 'narrow', attrs: { min: 0, max: 96, inputmode: 'numeric' } }),
        h('button', { type: 'button', class: 'btn btn-secondary btn-small remove-contact', onclick: () => { row.remove(); renumber(); addBtn.focus(); } }, 'Remove'));
      rows.append(row);
      renumber();
      $('select', row).focus();
    };
    const addBtn = h('button', { type: 'button', class: 'btn btn-secondary btn-small', id: 'add-contact', onclick: add }, 'Add an earlier contact');
    rows.addEventListener('change', renumber);
    renumber();
    return h('fieldset', { class: 'form-group', id: 'contacts' },
      h('legend', {}, 'Earlier contacts about this in the last 4 days'),
      h('span', { class: 'hint' }, 'NHS 111, their GP, this centre, A&E: one row each. Two or more mean a clinician reviews them.'),
      rows, count, addBtn);
  }

  // searchProtocols asks the API which presentations fit the words, with
  // the age and sex known so far (they rank, never hide), and lists the
  // best six with why each matched. When nothing fits, the general
  // "unwell, no specific complaint" presentation is offered.
  async searchProtocols(q, hits, chosen, form) {
    if (q.trim().length < 2) { hits.replaceChildren(); return; }
    const params = new URLSearchParams({ q });
    const p = this.patient;
    if (p && p.date_of_birth) {
      const days = Math.floor((Date.now() - Date.parse(p.date_of_birth)) / 86400000);
      if (days >= 0) params.set('age_days', String(days));
    } else if (form) {
      const age = form.querySelector('input[name="context.age"]');
      const unit = form.querySelector('select[name="context.age_unit"]');
      if (age && age.value !== '' && Number(age.value) >= 0) params.set('age_' + ((unit && unit.value) || 'years'), String(Math.floor(Number(age.value))));
    }
    const sexSel = form && form.querySelector('select[name="context.sex"]');
    const sex = (sexSel && sexSel.value) || (p && p.sex) || '';
    if (sex === 'female' || sex === 'male') params.set('sex', sex);
    const choose = (id, title) => {
      this.complaint = { id, title };
      chosen.textContent = 'Chosen: ' + title;
      $$('.protocol-hit', hits).forEach((b) => b.setAttribute('aria-selected', b.dataset.protocol === id ? 'true' : 'false'));
    };
    try {
      const r = await api('GET', ROUTES.protocols + '?' + params.toString());
      const list = (r && r.search) || [];
      const options = list.slice(0, 6).map((x) => h('button', {
        type: 'button', role: 'option', class: 'btn btn-secondary btn-small protocol-hit', 'data-protocol': x.id,
        'aria-selected': this.complaint && this.complaint.id === x.id ? 'true' : 'false', title: x.why || '',
        onclick: () => choose(x.id, x.title),
      }, x.title, h('span', { class: 'hit-why' }, matchedWords(x))));
      const general = ((r && r.protocols) || []).find((x) => x.id === GENERAL_PROTOCOL && x.active !== false);
      if (general && !list.some((x) => x.id === GENERAL_PROTOCOL)) {
        options.push(h('button', { type: 'button', role: 'option', class: 'btn btn-secondary btn-small protocol-hit protocol-general', 'data-protocol': general.id,
          'aria-selected': this.complaint && this.complaint.id === general.id ? 'true' : 'false',
          onclick: () => choose(general.id, general.title) }, (list.length ? 'None of these: ' : 'Nothing matches: ') + general.title));
      }
      hits.replaceChildren(...options);
      if (!options.length) hits.replaceChildren(h('p', { class: 'muted' }, 'No presentation matches; try other words.'));
    } catch { /* searching is a help, not a must */ }
  }

  async start(form) {
    clearErrors(form);
    const v = formValues(form);
    const ctx = contextOf(form, v);
    const missing = {};
    (ctx.earlier_contacts || []).forEach((c, i) => { if (c.hours_ago == null) missing['context.earlier_contacts[' + i + '].hours_ago'] = 'enter how many hours ago (0 to 96)'; });
    if (Object.keys(missing).length) { showErrors(form, { message: 'Say when each earlier contact was', fields: missing }); return; }
    const p = this.patient;
    const body = { complaint: v.complaint || '', channel: v.channel || 'walk_in',
      patient: p ? { given_name: p.given_name, family_name: p.family_name, date_of_birth: p.date_of_birth, nhs_number: p.nhs_number, postcode: p.postcode } : {} };
    for (const k of Object.keys(body.patient)) if (!body.patient[k]) delete body.patient[k];
    if (v.case_ref) body.case_ref = v.case_ref;
    if (v.expected) body.expected = true;
    if (this.complaint) body.protocol = this.complaint.id;
    if (Object.keys(ctx).length) body.context = ctx;
    try {
      if (this.att) {
        // An attendance already recorded (clinician now, check-in):
        // triage it where the API allows; otherwise it stays as it is.
        this.go('triage');
        return;
      }
      this.setAtt(await api('POST', '/v1/attendances', body));
      if (p) this.setAtt(await api('POST', '/v1/attendances/' + encodeURIComponent(this.att.id) + '/patient', { patient_id: p.id }));
      this.go(this.att.triage ? (this.att.triage.disposition && !(this.att.triage.questions || []).length ? 'outcome' : 'triage') : 'outcome');
    } catch (e) { showErrors(form, contextErrors(e, ctx)); }
  }

  // Step 4: the questions. A form (the desk observations, the caller's
  // checks, or several questions at once) is one screen and one request;
  // a single question is one screen with keys 1 2 3.
  triage() {
    const a = this.att;
    const t = a.triage || {};
    const qs = t.questions || [];
    if (!qs.length) {
      return h('div', { class: 'panel' }, h('h1', { tabindex: '-1' }, 'No questions to ask'),
        h('p', {}, a.triage ? 'Triage is complete.' : 'This attendance has no protocol: a clinician decides.'),
        h('button', { type: 'button', class: 'btn', onclick: () => this.go('outcome') }, 'See the outcome'));
    }
    const out = h('div', {});
    const cf = clinicianFirstOf(a);
    if (cf) out.append(this.clinicianFirstPanel(cf));
    else if (t.interim) out.append(interimBanner(t.interim));
    out.append(qs.length > 1 || qs[0].group ? this.formStep(qs) : this.questionStep(qs[0]));
    return out;
  }

  questionStep(q) {
    const answered = (this.att.triage.answers || []).length;
    const panel = h('div', { class: 'panel' + (q.follow_up ? ' card-care' : ''), id: 'question', 'data-question': q.id, 'data-attendance': this.att.id },
      h('p', { class: 'progress' }, 'Question ' + (answered + 1) + (q.id.startsWith('screen.') ? ' · life-threat screen' : ''),
        q.follow_up ? [' · ', h('span', { class: 'tag tag-gp', id: 'follow-up-tag' }, 'Follow-up to a “not sure”')] : null),
      h('h1', { class: 'question-text', id: 'q-text', tabindex: '-1', 'data-autofocus': q.type === 'number' ? null : true }, q.text),
      q.help ? h('p', { class: 'hint' }, q.help) : null);
    const send = (value) => this.sendAnswers([{ question: q.id, value }], panel);
    if (q.type === 'number') {
      const notSure = (q.allowed || []).includes('not_sure');
      const f = h('form', { novalidate: true, onsubmit: (e) => { e.preventDefault(); send(String(formValues(f).value ?? '')); } },
        field({ name: 'value', label: 'Answer' + (q.unit ? ' (' + q.unit + ')' : ''), type: 'number', cls: 'narrow',
          attrs: { min: q.min, max: q.max, step: 'any', 'data-autofocus': true } }),
        h('button', { type: 'submit', class: 'btn', id: 'number-next' }, 'Next'),
        notSure ? h('button', { type: 'button', class: 'btn btn-secondary', 'data-value': 'not_sure', onclick: () => send('not_sure') }, 'Not sure') : null);
      panel.append(f);
    } else {
      panel.append(h('div', { class: 'answers', role: 'group', 'aria-labelledby': 'q-text' },
        choicesOf(q, false).map(([v, l], i) => h('button', { type: 'button', class: 'btn btn-big answer', 'data-key': String(i + 1), 'data-value': v,
          onclick: () => send(v) }, h('kbd', {}, String(i + 1)), l))));
      panel.append(h('p', { class: 'shortcuts' }, 'Press the number key for an answer.'));
    }
    return panel;
  }

  // formStep shows several questions as one form: each yes/no question a
  // row of three choices (for the desk: Normal / Not normal / Can't tell,
  // "Not normal" marked as an emergency sign), sent in one request.
  formStep(qs) {
    const group = qs.every((q) => q.group === qs[0].group) ? qs[0].group || '' : '';
    const desk = group === 'desk';
    const n = qs.length;
    const heading = desk ? 'At the desk: how do they look?' : group === 'caller' ? 'Checks with the caller' : 'Questions';
    const intro = desk ? 'Look at the person now. For each sign choose Normal, Not normal or Can’t tell — do not guess.' :
      group === 'caller' ? 'Ask each one as written: some ask the caller to check something and tell you what they find.' : 'Answer each question.';
    const sendWords = desk ? (n > 1 ? 'Record the ' + n + ' signs' : 'Record it') : (n > 1 ? 'Send the ' + n + ' answers' : 'Send');
    const submit = h('button', { type: 'submit', class: 'btn btn-big', id: 'form-submit' }, sendWords);
    const alarm = h('p', { class: 'banner banner-error', id: 'form-alarm', role: 'alert' });
    const f = h('form', { class: 'panel question-form' + (desk ? ' desk-form' : ''), id: 'question', 'data-form': group || 'questions', 'data-attendance': this.att.id,
      'data-question': qs.map((q) => q.id).join(' '), novalidate: true, onsubmit: (e) => { e.preventDefault(); this.submitForm(f, qs, desk); } },
    h('p', { class: 'progress' }, (desk ? 'What reception sees' : group === 'caller' ? 'NHS 111 caller' : 'Questions') + (n > 1 ? ' · ' + n + ' at once' : '')),
    h('h1', { class: 'question-text', id: 'q-text', tabindex: '-1', 'data-autofocus': true }, heading),
    h('p', { class: 'hint', id: 'form-hint' }, intro),
    h('p', { class: 'shortcuts' }, n > 1 ? 'Keys 1, 2 and 3 answer the question you are on and move to the next; Tab and the arrow keys work too. One send records them all.' :
      'Keys 1, 2 and 3 answer; then Enter.'),
    alarm,
    qs.map((q, i) => this.formItem(q, i, desk)),
    submit);
    const update = () => {
      const bad = desk ? $$('fieldset.sign', f).filter((fs) => (fs.querySelector('input:checked') || {}).value === 'yes') : [];
      const cut = formCut(f, qs, desk);
      $$('.form-item, fieldset.sign', f).forEach((fs, i) => {
        const v = (fs.querySelector('input:checked') || {}).value;
        fs.classList.toggle('sign-alarm', desk && v === 'yes');
        fs.classList.toggle('sign-later', i > cut);
        for (const l of $$('label.choice', fs)) l.classList.toggle('checked', l.querySelector('input').checked);
      });
      alarm.textContent = bad.length ? 'Not normal: ' + bad.map((fs) => fs.dataset.short).join('; ') + '. Tell the clinician on duty now, then record.' : '';
      submit.classList.toggle('btn-warning', bad.length > 0);
      submit.textContent = sendWords + (bad.length ? ' — not normal: clinician now' : '');
    };
    f.addEventListener('change', update);
    f.addEventListener('keydown', (e) => this.formKey(e, f));
    return f;
  }

  formItem(q, i, desk) {
    const text = desk ? sentenceCase(q.text.replace(/^At the desk:\s*/i, '')) : q.text;
    const hintID = 'q' + i + '-hint', errID = 'q' + i + '-error';
    if (q.type === 'number') {
      const g = field({ name: q.id, label: text, type: 'number', cls: 'narrow', hint: q.help, attrs: { min: q.min, max: q.max, step: 'any' } });
      g.classList.add('form-item');
      return g;
    }
    const fs = h('fieldset', { class: 'form-group sign', 'data-field': q.id, 'data-sign': q.id, 'data-short': shortSign(text),
      'aria-describedby': (q.help ? hintID + ' ' : '') + errID },
    h('legend', { class: 'sign-text' }, h('span', { class: 'sign-no' }, (i + 1) + '. '), text,
      q.follow_up ? h('span', { class: 'tag tag-gp' }, ' Follow-up') : null),
    q.help ? h('span', { class: 'hint', id: hintID }, q.help) : null,
    h('span', { class: 'error-message', id: errID }),
    h('div', { class: 'choices' }, choicesOf(q, desk).map(([v, l], k) => h('label', { class: 'choice choice-' + v },
      h('input', { type: 'radio', name: q.id, value: v, 'data-choice-key': String(k + 1) }),
      h('kbd', { 'aria-hidden': 'true' }, String(k + 1)), l))),
    desk ? h('p', { class: 'alarm-text' }, h('strong', {}, 'Not normal'), ' Tell the clinician on duty now.') : null,
    h('p', { class: 'later-text' }, 'May not be asked after an answer above: answer it if you can, or leave it.'));
    return fs;
  }

  // formKey: a number key answers the question that has the focus (or
  // the first unanswered one) and moves the focus to the next unanswered
  // question, then to the send button.
  formKey(e, f) {
    if (e.altKey || e.ctrlKey || e.metaKey || !/^[1-9]$/.test(e.key)) return false;
    const t = e.target;
    if (t && (t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || (t.tagName === 'INPUT' && t.type !== 'radio'))) return false;
    const signs = $$('fieldset.sign', f);
    let fs = t && t.closest ? t.closest('fieldset.sign') : null;
    if (!fs) fs = signs.find((s) => !s.querySelector('input:checked'));
    if (!fs) return false;
    const r = fs.querySelector('input[data-choice-key="' + e.key + '"]');
    if (!r) return false;
    e.preventDefault();
    e.stopPropagation();
    r.checked = true;
    r.dispatchEvent(new Event('change', { bubbles: true }));
    const i = signs.indexOf(fs);
    const next = signs.slice(i + 1).find((s) => !s.querySelector('input:checked')) || signs.find((s) => !s.querySelector('input:checked'));
    const num = $$('.form-item input', f).find((x) => x.value === '');
    if (next) (next.querySelector('input:checked') || next.querySelector('input[type=radio]')).focus();
    else if (num) num.focus();
    else $('#form-submit', f).focus();
    return true;
  }

  async submitForm(f, qs, desk) {
    clearErrors(f);
    const answers = [];
    const missing = {};
    const cut = formCut(f, qs, desk);
    qs.forEach((q, i) => {
      const el = f.elements.namedItem(q.id);
      const v = el ? String(el.value || '').trim() : '';
      if (v !== '') answers.push({ question: q.id, value: v });
      else if (i <= cut) missing[q.id] = q.type === 'number' ? 'enter a number' : desk ? 'choose Normal, Not normal or Can’t tell' : 'choose an answer';
    });
    if (Object.keys(missing).length) {
      showErrors(f, { message: 'Answer every question: ' + Object.keys(missing).length + ' not answered yet', fields: missing });
      return;
    }
    await this.sendAnswers(answers, f);
  }

  // sendAnswers posts answers in one request; the API names a refused
  // answer by its place (answers[i]), shown next to that question.
  async sendAnswers(answers, panel) {
    const p = allowed('answers', 'POST');
    if (!p) { showErrors(panel, new ApiError(0, { title: 'Answering questions is not available to this key' })); return; }
    const controls = $$('button, input', panel);
    for (const b of controls) b.disabled = true;
    try {
      this.setAtt(await api('POST', withID(p, this.att.id), { answers }));
      const t = this.att.triage || {};
      this.go((t.questions || []).length ? 'triage' : 'outcome');
    } catch (e) {
      for (const b of controls) b.disabled = false;
      const fields = {};
      for (const [k, m] of Object.entries(e.fields || {})) {
        const i = /^answers\[(\d+)\]$/.exec(k);
        fields[i && answers[+i[1]] ? answers[+i[1]].question : k] = m;
      }
      showErrors(panel, { message: e.message, fields });
    }
  }

  // Step 5: the outcome, where and why.
  outcome() {
    const a = this.att;
    const t = a.triage || {};
    const d = t.disposition;
    const dec = a.routing && a.routing.decision;
    const out = h('div', {});
    const pr = priorityOf(a);
    const cf = clinicianFirstOf(a);
    const main = h('div', { class: 'panel ' + (pr.immediate || pr.tier === 'ed' ? 'card-urgent' : 'card-care'), id: 'outcome', 'data-attendance': a.id },
      h('h1', { tabindex: '-1', 'data-autofocus': true }, d ? (d.title || tierWord(d.tier)) : 'Waiting for a clinician'),
      h('p', {}, h('span', { class: 'tag ' + (pr.immediate ? 'tag-immediate' : 'tag-' + (pr.tier || 'none')), id: 'outcome-tier' }, tierWord(pr.tier)), ' ',
        cf ? [h('span', { class: 'tag tag-clinician', id: 'outcome-stream' }, cf.stream === 'clinician_callback' ? 'Clinician call-back' : 'Clinician now'), ' '] : null,
        h('span', { id: 'outcome-status' }, statusWord(a.status))));
    if (cf) main.append(this.clinicianFirstPanel(cf));
    if (a.status === 'awaiting_address') main.append(this.addressPanel());
    if (d) {
      const info = t.dx_info;
      main.append(h('dl', { class: 'summary-list' },
        h('dt', {}, 'Level of care'), h('dd', {}, tierWord(d.tier)),
        h('dt', {}, 'Within'), h('dd', { id: 'outcome-timeframe' }, d.timeframe === 'immediate' ? 'Now' : d.timeframe),
        h('dt', {}, 'Dx'), h('dd', { id: 'outcome-dx' }, (d.dx || '—') + (info && info.meaning ? ': ' + info.meaning : '')),
        h('dt', {}, 'Decided by'), h('dd', {}, (d.source || '') + (d.decided_by ? ' (' + d.decided_by + ')' : '')),
        a.context && a.context.registered_practice ? [h('dt', {}, 'Their GP practice'), h('dd', { id: 'outcome-practice' }, this.practiceWords(a.context.registered_practice))] : null,
        dec ? [h('dt', {}, 'Going to'), h('dd', { id: 'outcome-service' }, dec.service_name || dec.service_id)] : null,
        dec && dec.see_from ? [h('dt', {}, 'Can be seen from'), h('dd', {}, fmtTime(dec.see_from))] : null,
        dec && dec.distance_m ? [h('dt', {}, 'Distance'), h('dd', {}, (dec.distance_m / 1000).toFixed(1) + ' km')] : null));
      const reasons = new Set(cf ? cf.reasons : []);
      const findings = findingsOf(a).filter((x) => !reasons.has(x));
      if (findings.length) main.append(h('h2', {}, 'Found, or not ruled out'), h('ul', { class: 'reasons', id: 'findings' }, findings.map((x) => h('li', {}, x))));
      if (d.advice) main.append(h('h2', {}, 'Advice'), h('p', {}, d.advice));
      if (d.safety_net) main.append(h('h2', {}, 'If things change'), h('p', {}, d.safety_net));
      if (t.review) main.append(h('p', { class: 'banner banner-warn' }, 'A clinician must decide: ' + t.review));
      if (d.action === 'clinician_now' && !cf) main.prepend(h('p', { class: 'banner banner-error', role: 'alert', id: 'action-banner' }, 'Get a clinician now: an emergency at the front door.'));
      if (d.action === 'ambulance') main.prepend(h('p', { class: 'banner banner-error', role: 'alert', id: 'action-banner' }, 'Emergency: an ambulance is needed (999).'));
    }
    if (dec) {
      const chosenRank = TIER_RANK[dec.tier] || 9;
      const cheaper = (dec.rejections || []).filter((r) => (TIER_RANK[r.tier] || 9) < chosenRank);
      const others = (dec.rejections || []).filter((r) => (TIER_RANK[r.tier] || 9) >= chosenRank);
      main.append(h('h2', {}, 'Why not somewhere less intensive'));
      if (cheaper.length) main.append(h('ul', { class: 'reasons', id: 'why-not-cheaper' }, cheaper.map((r) => h('li', {}, tierWord(r.tier) + ' — ' + r.service_id + ': ' + r.reason))));
      else main.append(h('p', { id: 'why-not-cheaper' }, dec.tier === 'self_care' ? 'Self care is the least intensive option.' : 'No less intensive service was considered suitable for this need.'));
      // A gap: nothing suitable at the outcome's own level (recorded for
      // commissioners); a fallback: the ED as the safe default.
      if (dec.gap) main.append(h('p', { class: 'banner banner-warn', id: 'routing-gap' }, h('strong', {}, 'Gap: '),
        dec.gap.reason ? sentenceCase(dec.gap.reason) + '.' : 'No ' + tierWord(dec.gap.tier) + ' service could take them; sent to the next level up.'));
      if (dec.fallback) main.append(h('p', { class: 'banner banner-warn', id: 'routing-fallback' }, h('strong', {}, 'Safe default: '),
        dec.fallback_reason ? sentenceCase(dec.fallback_reason) + '.' : 'nothing suitable could see them in time, so the emergency department (always open).'));
      if (others.length) main.append(h('details', {}, h('summary', {}, 'Other services considered (' + others.length + ')'),
        h('ul', { class: 'reasons' }, others.map((r) => h('li', {}, r.service_id + ': ' + r.reason)))));
    }
    const said = a.context && a.context.registered_practice;
    if (said && said !== NO_GP && !this.practicesKnown) {
      this.practices().then(() => { const el = $('#outcome-practice'); if (el) el.textContent = this.practiceWords(said); });
    }
    const checks = t.session && t.session.outcome && t.session.outcome.checks;
    if (checks && checks.length) {
      main.append(h('details', {}, h('summary', {}, 'Safety checks'), h('ul', { class: 'reasons' }, checks.map((c) => h('li', {}, c.check + ': ' + (c.reason || (c.applies ? 'applies' : 'does not apply')) + (c.raises ? ' — raised the level' : ''))))));
    }
    const slip = allowed('slip', 'GET');
    if (slip) main.append(h('button', { type: 'button', class: 'btn btn-secondary', id: 'print-slip', onclick: () => this.printSlip(withID(slip, a.id)) }, 'Print the patient\'s slip'));
    main.append(h('button', { type: 'button', class: 'btn btn-secondary', onclick: () => this.reset() }, 'Next person'));
    out.append(main);
    if (can('POST', '/v1/attendances/{id}/status')) out.append(this.statusPanel());
    if (a.status === 'awaiting_confirmation') out.append(this.confirmPanel());
    if (this.needsRegistration()) out.append(this.registrationPanel());
    else if (this.noGPUnnamed()) out.append(this.registrationHint());
    if (allowed('override', 'POST')) out.append(this.overridePanel());
    return out;
  }

  // addressPanel: a rapid response need without a postcode waits for
  // where the person is now (awaiting_address); it is routed once given.
  addressPanel() {
    const a = this.att;
    const path = '/v1/attendances/{id}/address';
    const box = h('div', { class: 'banner banner-warn', id: 'address-needed' },
      h('h2', {}, 'Where are they now?'),
      h('p', {}, 'The rapid response team visits them: routing needs the postcode of where they are now (usually home). Nothing is sent anywhere else meanwhile.'));
    if (!can('POST', path)) {
      box.append(h('p', {}, has('POST', path) ? 'Ask reception or NHS 111 to add it.' : 'Add it by choosing or creating their patient record (Patient step).'));
      return box;
    }
    const f = h('form', { id: 'address-form', novalidate: true, onsubmit: async (e) => {
      e.preventDefault();
      const v = formValues(f);
      try { this.setAtt(await api('POST', withID(path, a.id), v)); this.render(); } catch (err) { showErrors(f, err); }
    } },
    field({ name: 'postcode', label: 'Postcode where they are now', cls: 'narrow', value: (this.patient && this.patient.postcode) || (a.patient && a.patient.postcode) || '', attrs: { 'data-autofocus': true } }),
    field({ name: 'address', label: 'Street address for the team' }),
    field({ name: 'access_notes', label: 'Getting in (key safe, door code, pets)', type: 'textarea' }),
    h('button', { type: 'submit', class: 'btn', id: 'address-btn' }, 'Save and route'));
    box.append(f);
    return box;
  }

  // clinicianFirstPanel: an unresolved uncertainty brings a clinician in
  // first: why, the clock to clinician_due, what follows unless the
  // clinician decides otherwise, and the clinician's confirmation.
  clinicianFirstPanel(cf) {
    const a = this.att;
    const box = h('div', { class: 'clinician-first', id: 'clinician-first' },
      h('h2', {}, streamWords(cf.stream)),
      cf.due ? clockEl(cf.due, 'clinician-clock') : null,
      cf.reasons.length ? [h('p', { class: 'cf-why' }, 'Because:'), h('ul', { class: 'reasons', id: 'clinician-reasons' }, cf.reasons.map((r) => h('li', {}, r)))] : null,
      cf.then ? h('p', { id: 'clinician-then' }, h('strong', {}, 'Then, unless the clinician decides otherwise: '), thenWords(cf.then)) : null);
    if (cf.lapsed) box.append(h('p', { class: 'banner banner-error', id: 'clinician-lapsed' }, 'Nobody has confirmed in time: an alert has been raised. A clinician must assess them now.'));
    if (!cf.waiting) return box;
    if (cf.questions) {
      box.append(h('p', { class: 'muted', id: 'clinician-questions' }, 'Finish the questions: the clinician confirms once they are answered (or overrides at any time).'));
      return box;
    }
    const p = allowed('confirm', 'POST');
    if (!p) {
      box.append(h('p', { class: 'banner banner-warn', id: 'clinician-ask' }, cf.stream === 'clinician_callback' ?
        'A clinician calls them back and confirms here.' : 'Ask the clinician on duty to see them now; the clinician confirms here.'));
      return box;
    }
    const f = h('form', { id: 'clinician-confirm', novalidate: true, onsubmit: async (e) => {
      e.preventDefault();
      try { this.setAtt(await api('POST', withID(p, a.id), formValues(f))); this.render(); } catch (err) { showErrors(f, err); }
    } },
    field({ name: 'note', label: 'What you found (optional)', type: 'textarea' }),
    h('button', { type: 'submit', class: 'btn', id: 'clinician-confirm-btn' }, cf.stream === 'clinician_callback' ? 'Confirm: I have called them back' : 'Confirm: I have assessed them'));
    box.append(f);
    return box;
  }

  statusPanel() {
    const a = this.att;
    const moves = [['called', 'Call in'], ['seen', 'Seen'], ['handed_over', 'Handed over'], ['left', 'Left without being seen']]
      .filter(([st]) => st !== a.status);
    const box = h('div', { class: 'panel', id: 'status-panel' }, h('h2', {}, 'Move on'),
      moves.map(([st, label]) => h('button', { type: 'button', class: 'btn btn-secondary btn-small', 'data-status': st, onclick: async () => {
        try { this.setAtt(await api('POST', withID('/v1/attendances/{id}/status', a.id), { status: st })); this.render(); } catch (e) { showErrors(box, e); }
      } }, label)));
    return box;
  }

  // printSlip shows the patient's slip (GET .../slip, which needs the key,
  // so it cannot be a plain link) in a preview frame with a Print button.
  async printSlip(path) {
    try {
      const res = await api('GET', path, undefined, { raw: true });
      const html = await res.text();
      let box = $('#slip-box');
      if (!box) {
        box = h('div', { class: 'panel', id: 'slip-box' });
        $('#outcome').after(box);
      }
      const frame = h('iframe', { id: 'slip-frame', title: 'The patient\'s slip', sandbox: 'allow-same-origin allow-modals' });
      frame.srcdoc = html;
      box.replaceChildren(h('h2', {}, 'The patient\'s slip'), frame,
        h('button', { type: 'button', class: 'btn', id: 'slip-print', onclick: () => frame.contentWindow.print() }, 'Print'));
      frame.addEventListener('load', () => $('#slip-print').focus(), { once: true });
    } catch (e) { showErrors(this.root, e); }
  }

  confirmPanel() {
    const p = allowed('confirm', 'POST');
    if (!p) {
      return h('div', { class: 'panel card-urgent', id: 'confirm-panel' }, h('h2', {}, 'A clinician must confirm this'),
        h('p', {}, 'Walk-ins sent to a pharmacy or home are confirmed by a clinician before they leave. Ask a clinician to open this attendance.'));
    }
    const f = h('form', { class: 'panel card-urgent', id: 'confirm-panel', novalidate: true, onsubmit: async (e) => {
      e.preventDefault();
      try { this.setAtt(await api('POST', withID(p, this.att.id), formValues(f))); this.render(); } catch (err) { showErrors(f, err); }
    } }, h('h2', {}, 'Clinician confirmation'),
    h('p', {}, 'Confirm that this walk-in can safely go to ' + tierWord(priorityOf(this.att).tier).toLowerCase() + '.'),
    field({ name: 'note', label: 'Note (optional)', type: 'textarea' }),
    h('button', { type: 'submit', class: 'btn', id: 'confirm-btn' }, 'Confirm redirection'));
    return f;
  }

  needsRegistration() {
    const a = this.att;
    if (a.registration_id || !a.patient_id) return false;
    if (!can('POST', '/v1/attendances/{id}/registration')) return false;
    if (this.patient && this.patient.gp_practice) return false;
    // They named their practice: they have a GP, though the record does not say.
    const said = a.context && a.context.registered_practice;
    if (said && said !== NO_GP) return false;
    return this.noGP || said === NO_GP || (this.patient && !this.patient.gp_practice);
  }

  // noGPUnnamed: they said they have no GP, but registering needs their
  // patient record, which is not linked yet.
  noGPUnnamed() {
    const a = this.att;
    return !a.patient_id && !a.registration_id && a.context && a.context.registered_practice === NO_GP &&
      can('POST', '/v1/attendances/{id}/registration');
  }

  registrationHint() {
    return h('div', { class: 'panel', id: 'registration-hint' },
      h('h2', {}, 'Register with a GP'),
      h('p', {}, 'They have no GP (or do not know theirs). To register them with a practice, find or add their patient record first.'),
      h('button', { type: 'button', class: 'btn btn-secondary', id: 'registration-find', onclick: () => this.go('patient') }, 'Find or add their record'));
  }

  registrationPanel() {
    const result = h('div', { id: 'registration-result', 'aria-live': 'polite' });
    const f = h('form', { class: 'panel', id: 'registration-form', novalidate: true, onsubmit: async (e) => {
      e.preventDefault();
      const v = formValues(f);
      if (v.stay_days != null && v.type !== 'temporary') delete v.stay_days;
      try {
        const r = await api('POST', withID('/v1/attendances/{id}/registration', this.att.id), v);
        this.att.registration_id = r.id;
        f.replaceChildren(h('h2', { tabindex: '-1' }, 'Registered with a GP'),
          h('p', { id: 'registered-practice' }, (r.practice_name || r.practice || '') + ' — ' + (r.type || v.type) + ' registration, ' + (r.status || 'proposed')),
          r.reason ? h('p', {}, 'Why this practice: ' + r.reason) : null);
        f.querySelector('h2').focus();
      } catch (err) { showErrors(f, err); }
    } },
    h('h2', {}, 'Register with a GP'),
    h('p', {}, 'This patient has no GP. A practice that covers their address and is open to new patients is allocated.'),
    h('fieldset', { 'data-field': 'type', class: 'form-group' }, h('legend', {}, 'Registration'), h('span', { class: 'error-message' }),
      h('label', { class: 'checkbox' }, h('input', { type: 'radio', name: 'type', value: 'permanent', checked: true }), 'Permanent'),
      h('label', { class: 'checkbox' }, h('input', { type: 'radio', name: 'type', value: 'temporary' }), 'Temporary (staying under 3 months)')),
    field({ name: 'stay_days', label: 'Days staying (temporary only)', type: 'number', cls: 'narrow', attrs: { min: 1, max: 90 } }),
    field({ name: 'postcode', label: 'Postcode where they live or stay', cls: 'narrow', value: (this.patient && this.patient.postcode) || '' }),
    field({ name: 'no_fixed_abode', label: 'No fixed abode', type: 'checkbox', value: this.patient && this.patient.no_fixed_abode }),
    field({ name: 'no_proof_of_address', label: 'No proof of address (they can still register)', type: 'checkbox' }),
    field({ name: 'consent', label: 'The patient agrees to be registered', type: 'checkbox' }),
    h('button', { type: 'submit', class: 'btn', id: 'register-btn' }, 'Register'),
    result);
    return f;
  }

  overridePanel() {
    const p = allowed('override', 'POST');
    const services = h('div', {});
    if (can('GET', '/v1/services')) {
      api('GET', '/v1/services').then((r) => {
        const list = (r && r.services) || [];
        services.replaceChildren(field({ name: 'service_id', label: 'Service', type: 'select',
          options: [['', 'Any suitable service']].concat(list.map((x) => [x.id, x.name + ' (' + tierWord(x.tier) + ')'])) }));
      }).catch(() => {});
    }
    const f = h('form', { class: 'panel', id: 'override-form', novalidate: true, onsubmit: async (e) => {
      e.preventDefault();
      try { this.setAtt(await api('POST', withID(p, this.att.id), formValues(f))); this.render(); } catch (err) { showErrors(f, err); }
    } },
    h('details', {}, h('summary', {}, 'Clinician override'),
      h('div', { class: 'inline' },
        field({ name: 'tier', label: 'Level of care', type: 'select', options: [['', 'Keep']].concat(TIERS) }),
        field({ name: 'timeframe', label: 'Within', type: 'select', options: [['', 'Keep']].concat(TIMEFRAMES.map((x) => [x, x])) })),
      services,
      field({ name: 'reason', label: 'Reason (required)', type: 'textarea', hint: 'Recorded in the audit trail with your name.' }),
      h('button', { type: 'submit', class: 'btn btn-warning', id: 'override-btn' }, 'Override')));
    return f;
  }

  // Side panel: the attendance and observations with NEWS2.
  renderSide() {
    const a = this.att;
    if (!a) { this.side.replaceChildren(); return; }
    const cfSide = clinicianFirstOf(a);
    const items = [h('div', { class: 'panel' }, h('h2', {}, patientName(a.patient)),
      h('dl', { class: 'summary-list' },
        h('dt', {}, 'Arrived'), h('dd', {}, fmtTime(a.arrived_at)),
        h('dt', {}, 'Status'), h('dd', { id: 'side-status' }, statusWord(a.status)),
        a.complaint ? [h('dt', {}, 'Complaint'), h('dd', {}, a.complaint)] : null,
        cfSide && cfSide.due ? [h('dt', {}, 'Clinician'), h('dd', {}, clockEl(cfSide.due, 'side-clock'))] : null))];
    const p = allowed('observations', 'POST');
    if (p) items.push(this.observationsForm(p));
    this.side.replaceChildren(...items);
  }

  observationsForm(p) {
    const t = this.att.triage || {};
    const recorded = (t.observations || []).length;
    const serverBox = h('p', { id: 'news2-server', 'aria-live': 'polite' });
    const showScore = (n) => {
      if (n) serverBox.textContent = 'NEWS2 on record: ' + n.score + (n.complete ? '' : ' (incomplete)') + (n.response ? ' — ' + n.response.replace(/_/g, ' ') : '');
    };
    const serverScore = t.news2 || (t.session && t.session.outcome && t.session.outcome.news2);
    if (serverScore) showScore(serverScore);
    else if (recorded) {
      // Mid-triage the server scores the observations when the outcome is
      // reached; until then show the same RCP score of the last set saved.
      const r = news2(t.observations[recorded - 1].observations || {});
      serverBox.textContent = 'NEWS2 of the last saved set: ' + r.score + (r.complete ? '' : ' (incomplete)') + ' — ' + response(r);
    }
    const live = h('p', { class: 'news2', id: 'news2-live', 'aria-live': 'polite' });
    const f = h('form', { class: 'panel', id: 'obs-form', novalidate: true, onsubmit: async (e) => {
      e.preventDefault();
      const o = this.obsValues(f);
      try {
        this.setAtt(await api('POST', withID(p, this.att.id), o));
        const tt = this.att.triage || {};
        this.go(tt.disposition && !(tt.questions || []).length ? 'outcome' : this.step);
      } catch (err) { showErrors(f, err); }
    } },
    h('h2', {}, 'Observations'),
    recorded ? h('p', { class: 'muted' }, recorded + ' set' + (recorded > 1 ? 's' : '') + ' recorded, last at ' + fmtTime(t.observations[recorded - 1].at)) : null,
    recorded && t.observations[recorded - 1].raised ? h('p', { class: 'banner banner-warn', id: 'obs-raised' },
      h('strong', {}, 'These observations raised the level'), t.observations[recorded - 1].reason ? ': ' + t.observations[recorded - 1].reason : '') : null,
    serverBox,
    h('div', { class: 'inline' },
      field({ name: 'respiratory_rate', label: 'Resp. rate /min', type: 'number', cls: 'narrow' }),
      field({ name: 'spo2', label: 'SpO₂ %', type: 'number', cls: 'narrow' }),
      field({ name: 'systolic_bp', label: 'Systolic BP mmHg', type: 'number', cls: 'narrow' }),
      field({ name: 'diastolic_bp', label: 'Diastolic BP mmHg', type: 'number', cls: 'narrow' }),
      field({ name: 'pulse', label: 'Pulse /min', type: 'number', cls: 'narrow' }),
      field({ name: 'temperature_c', label: 'Temperature °C', type: 'number', cls: 'narrow', attrs: { step: '0.1' } })),
    field({ name: 'consciousness', label: 'Consciousness (ACVPU)', type: 'select',
      options: [['', 'Not assessed'], ['alert', 'Alert'], ['confusion', 'New confusion'], ['voice', 'Responds to voice'], ['pain', 'Responds to pain'], ['unresponsive', 'Unresponsive']] }),
    field({ name: 'on_oxygen', label: 'On oxygen', type: 'checkbox' }),
    field({ name: 'spo2_scale2', label: 'SpO₂ scale 2 (target 88–92%, e.g. COPD)', type: 'checkbox' }),
    live,
    h('button', { type: 'submit', class: 'btn', id: 'obs-save' }, 'Save observations'));
    const update = () => {
      const r = news2(this.obsValues(f));
      live.textContent = Object.keys(r.parts).length ? 'NEWS2 ' + r.score + (r.complete ? '' : ' so far') + ': ' + response(r) : '';
    };
    f.addEventListener('input', update);
    f.addEventListener('change', update);
    return f;
  }

  obsValues(f) {
    const v = formValues(f);
    const o = {};
    for (const k of ['respiratory_rate', 'spo2', 'systolic_bp', 'diastolic_bp', 'pulse']) if (v[k] != null) o[k] = Math.round(v[k]);
    if (v.temperature_c != null) o.temperature_c = v.temperature_c;
    if (v.consciousness) o.consciousness = v.consciousness;
    if (v.on_oxygen) o.on_oxygen = true; else if (Object.keys(o).length) o.on_oxygen = false;
    if (v.spo2_scale2) o.spo2_scale2 = true;
    return o;
  }
}
