// Herald's operator console: plain JavaScript over the admin API, no build step.
//
// Safety rules this file keeps:
// - Everything that came from Herald (message texts, data, ids, errors) reaches the page as
//   text nodes (el() / textContent), never as markup. The page's Content-Security-Policy
//   enforces Trusted Types, so an innerHTML assignment would throw anyway.
// - The admin key lives in sessionStorage (this tab only), is sent only as the X-API-Key
//   header, and never goes into a URL, the DOM or the browser console.
'use strict';

const KEY_STORAGE = 'herald.adminKey';
const OPERATOR_STORAGE = 'herald.operator';
const SCOPES = ['read', 'operate', 'admin'];
const POLL_MS = 2000;
const PAGE_SIZE = 25;
const COUNT_LIMIT = 100;

const state = {
  key: sessionStorage.getItem(KEY_STORAGE),
  endpoints: [],
  view: null,
  pollTimer: null,
  generation: 0,
  sessions: { urlToken: '', userId: '', cursors: [null] },
  session: { urlToken: null, sessionId: null, userId: null, last: null, attempts: new Map(), open: new Set() },
  dead: { urlToken: '' },
  audit: { cursors: [null] },
  // The signed-in key's name and scopes (GET /admin/v1/me).
  me: null,
};

// ---------------------------------------------------------------------------------------------
// DOM helpers: every string becomes a text node.

function $(id) {
  return document.getElementById(id);
}

function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === 'onclick') node.addEventListener('click', value);
    else if (name === 'className') node.className = value;
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function sessionHref(urlToken, sessionId) {
  return '#session/' + encodeURIComponent(urlToken) + '/' + encodeURIComponent(sessionId);
}

function shortTime(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

function timeElement(iso) {
  return iso ? el('time', { datetime: iso, title: iso }, shortTime(iso)) : '';
}

function pill(text, kind) {
  return el('span', { className: 'pill ' + (kind || text) }, text);
}

function json(value) {
  return JSON.stringify(value, null, 2);
}

// Whether a view's data differs from what it last rendered. Views re-render only on change, so
// a poll does not replace the button under the operator's pointer (or a selected text) for nothing.
const rendered = new Map();

function changed(view, ...data) {
  const fingerprint = JSON.stringify(data);
  if (rendered.get(view) === fingerprint) return false;
  rendered.set(view, fingerprint);
  return true;
}

function countText(list) {
  return list.length >= COUNT_LIMIT ? COUNT_LIMIT + '+' : String(list.length);
}

// ---------------------------------------------------------------------------------------------
// Banner: one line of feedback, errors stay until the next action.

let bannerTimer = null;

function notice(message, kind) {
  const banner = $('banner');
  banner.textContent = message;
  banner.className = 'banner ' + (kind || 'ok');
  banner.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  banner.hidden = false;
  clearTimeout(bannerTimer);
  if (kind !== 'error') bannerTimer = setTimeout(() => { banner.hidden = true; }, 5000);
}

function clearNotice() {
  $('banner').hidden = true;
}

// ---------------------------------------------------------------------------------------------
// The admin API.

class APIError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function request(method, path, body, key = state.key, as = 'json') {
  const headers = { 'X-API-Key': key, 'Accept': as === 'json' ? 'application/json' : 'text/plain' };
  const options = { method, headers, cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, options);
  } catch (error) {
    throw new APIError(0, 'Herald did not answer (is it running?)');
  }
  let answer = null;
  if (!response.ok || as === 'json') {
    if (response.status !== 204) {
      try { answer = await response.json(); } catch (error) { answer = null; }
    }
  } else {
    answer = await response.text();
  }
  if (!response.ok) {
    const message = answer && answer.error && answer.error.message ? answer.error.message : 'HTTP ' + response.status;
    throw new APIError(response.status, message);
  }
  return answer;
}

// A call from a signed-in view: a 401 means the key stopped working, so sign out.
async function api(method, path, body, as = 'json') {
  try {
    return await request(method, path, body, state.key, as);
  } catch (error) {
    if (error.status === 401) {
      signOut('The admin key is no longer accepted. Sign in again.');
    }
    throw error;
  }
}

function query(parameters) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(parameters)) {
    if (value !== null && value !== undefined && value !== '') search.set(name, value);
  }
  const text = search.toString();
  return text ? '?' + text : '';
}

// ---------------------------------------------------------------------------------------------
// Scopes: the console shows only what the key may do. Herald checks every call anyway (403).

function can(scope) {
  return Boolean(state.me && state.me.scopes.includes(scope));
}

function applyScopes() {
  for (const node of document.querySelectorAll('[data-scope]')) node.classList.toggle('no-scope', !can(node.dataset.scope));
  const whoami = $('whoami');
  whoami.textContent = state.me ? state.me.name + ' · ' + state.me.scopes.join(', ') : '';
  whoami.hidden = !state.me;
  if (state.me && !$('operator-name').value) $('operator-name').value = sessionStorage.getItem(OPERATOR_STORAGE) || state.me.name;
}

async function loadMe(key = state.key) {
  state.me = await request('GET', '/admin/v1/me', undefined, key);
  applyScopes();
}

// ---------------------------------------------------------------------------------------------
// Sign in and out.

async function signIn(event) {
  event.preventDefault();
  const input = $('sign-in-key');
  const key = input.value.trim();
  const error = $('sign-in-error');
  error.textContent = '';
  if (!key) {
    error.textContent = 'Enter an admin key.';
    return;
  }
  $('sign-in-button').disabled = true;
  try {
    const answer = await request('GET', '/admin/v1/endpoints', undefined, key);
    await loadMe(key);
    state.key = key;
    sessionStorage.setItem(KEY_STORAGE, key);
    input.value = '';
    setEndpoints(answer.endpoints);
    showSignedIn();
    if (!location.hash || location.hash === '#sign-in') location.hash = '#endpoints';
    else route();
  } catch (failure) {
    error.textContent = failure.status === 401
      ? 'That key was not accepted (401). Use one of the keys in admin.keys.'
      : 'Could not sign in: ' + failure.message;
  } finally {
    $('sign-in-button').disabled = false;
  }
}

function signOut(message) {
  stopPolling();
  state.key = null;
  state.me = null;
  sessionStorage.removeItem(KEY_STORAGE);
  state.session.attempts.clear();
  state.session.open.clear();
  // Nothing seen with the key stays in the page.
  rendered.clear();
  for (const id of ['endpoints-rows', 'sessions-rows', 'dead-rows', 'audit-rows', 'transcript', 'session-facts']) $(id).replaceChildren();
  $('operator-state').textContent = '';
  applyScopes();
  $('session-context').textContent = '';
  state.session.last = null;
  showView('sign-in');
  $('nav').hidden = true;
  $('sign-out').hidden = true;
  $('live').hidden = true;
  clearNotice();
  $('sign-in-error').textContent = message || '';
  $('sign-in-key').focus();
}

function showSignedIn() {
  $('nav').hidden = false;
  $('sign-out').hidden = false;
  $('sign-in-error').textContent = '';
}

// ---------------------------------------------------------------------------------------------
// Views and polling. Each view has a load function; the current one runs every POLL_MS while
// the tab is visible. A generation number drops answers that arrive after the view changed.

const views = {
  endpoints: loadEndpoints,
  sessions: loadSessions,
  session: loadSession,
  dead: loadDead,
  audit: loadAudit,
};

function showView(name) {
  for (const section of document.querySelectorAll('.view')) section.hidden = section.id !== 'view-' + name;
  for (const link of document.querySelectorAll('#nav a')) {
    const current = link.dataset.view === name || (name === 'session' && link.dataset.view === 'sessions');
    if (current) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

function route() {
  if (!state.key) {
    signOut();
    return;
  }
  const hash = location.hash.replace(/^#/, '');
  const parts = hash.split('/');
  let name = parts[0] || 'endpoints';
  if (name === 'session' && parts.length === 3) {
    const urlToken = decodeURIComponent(parts[1]);
    const sessionId = decodeURIComponent(parts[2]);
    if (state.session.urlToken !== urlToken || state.session.sessionId !== sessionId) {
      state.session = { urlToken, sessionId, userId: null, last: null, attempts: new Map(), open: new Set() };
      $('transcript').replaceChildren();
      $('session-facts').replaceChildren();
      $('session-context').textContent = '';
      $('session-gone').hidden = true;
      $('message-form').hidden = false;
      $('end-session').hidden = false;
    }
    $('session-title').textContent = sessionId;
    $('session-crumb').textContent = urlToken + ' / ' + sessionId;
  } else if (!views[name]) {
    name = 'endpoints';
  }
  state.view = name;
  showView(name);
  startPolling();
}

function startPolling() {
  stopPolling();
  const generation = ++state.generation;
  $('live').hidden = false;
  const tick = async () => {
    if (generation !== state.generation) return;
    if (!document.hidden) {
      try {
        await views[state.view](generation);
      } catch (error) {
        if (generation === state.generation && error.status !== 401) notice(error.message, 'error');
      }
    }
    if (generation === state.generation && state.key) state.pollTimer = setTimeout(tick, POLL_MS);
  };
  tick();
}

function stopPolling() {
  state.generation++;
  clearTimeout(state.pollTimer);
  state.pollTimer = null;
}

// Loads the view again now (after an action), keeping the polling rhythm.
function refresh() {
  if (state.view) startPolling();
}

// ---------------------------------------------------------------------------------------------
// Endpoints.

function setEndpoints(endpoints) {
  state.endpoints = endpoints;
  for (const select of document.querySelectorAll('.endpoint-select')) {
    const chosen = select.value;
    const options = [];
    if (select.dataset.any) options.push(el('option', { value: '' }, select.dataset.any));
    for (const endpoint of endpoints) options.push(el('option', { value: endpoint.urlToken }, endpoint.urlToken));
    select.replaceChildren(...options);
    if ([...select.options].some((option) => option.value === chosen)) select.value = chosen;
  }
}

// Delivery attempts per endpoint and result since Herald started, from the Prometheus text of
// /metrics (which takes the same key): {urlToken: {delivered, retry, dead, paused}}.
function deliveryAttempts(metrics) {
  const attempts = {};
  for (const line of metrics.split('\n')) {
    const sample = /^herald_delivery_attempts_total\{([^}]*)\}\s+(\S+)/.exec(line);
    if (!sample) continue;
    const labels = {};
    for (const [, name, value] of sample[1].matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[name] = value;
    if (!labels.url_token || !labels.result) continue;
    const counts = attempts[labels.url_token] || (attempts[labels.url_token] = {});
    counts[labels.result] = (counts[labels.result] || 0) + Number(sample[2]);
  }
  return attempts;
}

function failureRate(counts) {
  const total = Object.values(counts || {}).reduce((sum, n) => sum + n, 0);
  if (!total) return { text: '—', title: 'No delivery attempt yet', failing: false };
  const failed = total - ((counts && counts.delivered) || 0);
  return {
    text: Math.round((100 * failed) / total) + '%',
    title: failed + ' of ' + total + ' delivery attempts failed since Herald started',
    failing: failed > 0,
  };
}

async function loadEndpoints(generation) {
  const [answer, metrics] = await Promise.all([api('GET', '/admin/v1/endpoints'), api('GET', '/metrics', undefined, 'text')]);
  const attempts = deliveryAttempts(metrics);
  const counts = await Promise.all(answer.endpoints.map(async (endpoint) => {
    const [failed, dead] = await Promise.all(['failed', 'dead'].map((status) =>
      api('GET', '/admin/v1/deliveries' + query({ status, urlToken: endpoint.urlToken, limit: COUNT_LIMIT }))));
    return { failed: failed.deliveries, dead: dead.deliveries };
  }));
  if (generation !== state.generation) return;
  setEndpoints(answer.endpoints);
  if (!changed('endpoints', answer, counts, attempts)) return;
  const rows = answer.endpoints.map((endpoint, index) => {
    const { failed, dead } = counts[index];
    const rate = failureRate(attempts[endpoint.urlToken]);
    const delivery = endpoint.paused
      ? [pill('paused', 'dead'), ' ', el('span', { className: 'hint' }, 'after 410 Gone')]
      : pill('delivering', 'delivered');
    const resume = endpoint.paused && can('admin')
      ? el('button', { type: 'button', className: 'small', 'data-resume': endpoint.urlToken, onclick: () => resumeEndpoint(endpoint.urlToken) }, 'Resume')
      : '';
    const viaAPI = endpoint.origin && endpoint.origin.type === 'api';
    const manage = viaAPI && can('admin')
      ? [el('button', { type: 'button', className: 'small', 'data-edit': endpoint.urlToken, onclick: () => editEndpoint(endpoint) }, 'Edit'), ' ',
        el('button', { type: 'button', className: 'small', 'data-delete': endpoint.urlToken, onclick: () => deleteEndpoint(endpoint.urlToken) }, 'Delete')]
      : [];
    const flowName = endpoint.flow.storedName || endpoint.flow.name;
    const flowHint = viaAPI ? 'api · version ' + endpoint.flow.version : endpoint.flow.file;
    return el('tr', { 'data-endpoint': endpoint.urlToken },
      el('td', {}, el('a', { href: '#sessions', onclick: () => filterSessions(endpoint.urlToken) }, el('b', {}, endpoint.urlToken))),
      el('td', {}, flowName, el('div', { className: 'hint' }, flowHint)),
      el('td', { className: 'mono' }, endpoint.webhook.url, el('div', { className: 'hint' }, endpoint.webhook.format + ' · timeout ' + endpoint.webhook.timeout)),
      el('td', { className: 'num' }, String(endpoint.backlog)),
      el('td', { className: 'num' + (failed.length ? ' warn' : '') }, countText(failed)),
      el('td', { className: 'num' + (rate.failing ? ' warn' : ''), title: rate.title }, rate.text),
      el('td', { className: 'num' }, dead.length ? el('a', { href: '#dead', onclick: () => { state.dead.urlToken = endpoint.urlToken; } }, countText(dead)) : '0'),
      el('td', {}, delivery),
      el('td', {}, resume, ...manage));
  });
  $('endpoints-rows').replaceChildren(...rows);
}

// A copy without nulls: the API reads a null as absent only where the config file would.
function withoutNulls(value) {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (value && typeof value === 'object') {
    const copy = {};
    for (const [key, inner] of Object.entries(value)) if (inner !== null) copy[key] = withoutNulls(inner);
    return copy;
  }
  return value;
}

// Fills the form with an endpoint made through the API, as GET shows it: secrets stay "***"
// (saving keeps them), the flow by its stored name or its version.
function editEndpoint(endpoint) {
  const definition = {
    flow: endpoint.flow.storedName || { version: endpoint.flow.version },
    webhook: endpoint.webhook,
    apiKeys: endpoint.apiKeys,
    sessionTTL: endpoint.sessionTTL,
  };
  if (endpoint.statusWebhook) definition.statusWebhook = endpoint.statusWebhook;
  if (endpoint.handover && (endpoint.handover.webhook || endpoint.handover.idleTimeout)) definition.handover = endpoint.handover;
  if (endpoint.channel) {
    definition.channel = endpoint.channel.file;
    definition.channelVars = endpoint.channel.vars;
    for (const key of ['url', 'user', 'password', 'signingSecret', 'format']) delete definition.webhook[key];
  }
  $('endpoint-token').value = endpoint.urlToken;
  $('endpoint-definition').value = JSON.stringify(withoutNulls(definition), null, 2);
  $('endpoint-definition').focus();
}

async function saveEndpoint(event) {
  event.preventDefault();
  const urlToken = $('endpoint-token').value.trim();
  let definition;
  try {
    definition = readData($('endpoint-definition'));
    if (!urlToken) throw new Error('urlToken: is required.');
    if (!definition) throw new Error('Definition: write the endpoint as a JSON object.');
  } catch (error) {
    notice(error.message, 'error');
    return;
  }
  $('endpoint-save').disabled = true;
  try {
    await api('PUT', '/admin/v1/endpoints/' + encodeURIComponent(urlToken), definition);
    notice('Endpoint ' + urlToken + ' saved; it serves now.');
    $('endpoint-definition').value = '';
    refresh();
  } catch (error) {
    notice('Saving ' + urlToken + ' failed: ' + error.message, 'error');
  } finally {
    $('endpoint-save').disabled = false;
  }
}

async function deleteEndpoint(urlToken) {
  if (!confirm('Delete endpoint ' + urlToken + '? New messages get 404; its queued outputs still go out.')) return;
  try {
    await api('DELETE', '/admin/v1/endpoints/' + encodeURIComponent(urlToken));
    notice('Endpoint ' + urlToken + ' deleted.');
    refresh();
  } catch (error) {
    notice('Deleting ' + urlToken + ' failed: ' + error.message, 'error');
  }
}

// One admin POST behind a button: a notice saying how it went, then a refresh.
async function adminAction(path, done, failed) {
  try {
    await api('POST', path);
    notice(done);
    refresh();
  } catch (error) {
    notice(failed + ': ' + error.message, 'error');
  }
}

function resumeEndpoint(urlToken) {
  return adminAction('/admin/v1/endpoints/' + encodeURIComponent(urlToken) + '/resume',
    'Delivery to ' + urlToken + ' resumed.', 'Resume failed');
}

// Reads an optional JSON object from a textarea; throws a readable error otherwise.
function readData(textarea) {
  const text = textarea.value.trim();
  if (!text) return undefined;
  let value;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error('Data is not valid JSON: ' + error.message);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('Data must be a JSON object, like {"key": "value"}.');
  return value;
}

async function broadcast(event) {
  event.preventDefault();
  const body = { urlToken: $('broadcast-endpoint').value };
  try {
    const userId = $('broadcast-user').value.trim();
    const text = $('broadcast-text').value;
    const data = readData($('broadcast-data'));
    if (userId) body.userId = userId;
    const delay = $('message-delay').value.trim();
    if (text) body.text = text;
    if (data) body.data = data;
    if (delay) body.delay = delay;
    if (!text && !data) throw new Error('Write a text or a data object.');
  } catch (error) {
    notice(error.message, 'error');
    return;
  }
  $('broadcast-button').disabled = true;
  try {
    const answer = await api('POST', '/admin/v1/notify', body);
    notice('Notified ' + answer.notified + (answer.notified === 1 ? ' session' : ' sessions') + ' of ' + answer.urlToken + '.');
    $('broadcast-text').value = '';
    $('broadcast-data').value = '';
  } catch (error) {
    notice('Broadcast failed: ' + error.message, 'error');
  } finally {
    $('broadcast-button').disabled = false;
  }
}

// ---------------------------------------------------------------------------------------------
// Sessions.

function filterSessions(urlToken) {
  state.sessions = { urlToken, userId: '', cursors: [null] };
  $('sessions-endpoint').value = urlToken;
  $('sessions-user').value = '';
}

async function loadSessions(generation) {
  const filter = state.sessions;
  const cursor = filter.cursors[filter.cursors.length - 1];
  const answer = await api('GET', '/admin/v1/sessions' + query({ urlToken: filter.urlToken, userId: filter.userId, limit: PAGE_SIZE, cursor }));
  if (generation !== state.generation) return;
  if (!changed('sessions', answer, filter.urlToken, filter.userId, filter.cursors)) return;
  const rows = answer.sessions.map((session) => el('tr', {},
    el('td', {}, session.urlToken),
    el('td', {}, el('a', { href: sessionHref(session.urlToken, session.sessionId), className: 'session-link' }, session.sessionId)),
    el('td', {}, session.userId),
    el('td', {}, timeElement(session.createdAt)),
    el('td', {}, timeElement(session.updatedAt)),
    el('td', {}, session.waitingAt || ''),
    el('td', { className: 'num' }, String(session.outputs))));
  $('sessions-rows').replaceChildren(...rows);
  $('sessions-empty').hidden = rows.length > 0;
  state.sessions.nextCursor = answer.nextCursor;
  $('sessions-next').disabled = !answer.nextCursor;
  $('sessions-previous').disabled = filter.cursors.length <= 1;
  $('sessions-page').textContent = 'Page ' + filter.cursors.length;
}

function applySessionFilter(event) {
  event.preventDefault();
  state.sessions = { urlToken: $('sessions-endpoint').value, userId: $('sessions-user').value.trim(), cursors: [null] };
  refresh();
}

// ---------------------------------------------------------------------------------------------
// One session.

async function loadSession(generation) {
  const current = state.session;
  const path = '/admin/v1/sessions/' + encodeURIComponent(current.urlToken) + '/' + encodeURIComponent(current.sessionId);
  let session;
  try {
    session = await api('GET', path);
  } catch (error) {
    if (error.status === 404 && generation === state.generation) {
      const gone = $('session-gone');
      gone.textContent = 'This session is not active (it ended, expired, or never existed): ' + error.message;
      gone.hidden = false;
      $('message-form').hidden = true;
      $('end-session').hidden = true;
      return;
    }
    throw error;
  }
  // Attempt logs of the outputs shown open, fetched again when their attempt count changed.
  const outputs = session.messages.filter((message) => message.kind === 'output');
  await Promise.all(outputs.filter((output) => current.open.has(output.outputId)).map(async (output) => {
    const known = current.attempts.get(output.outputId);
    if (!known || known.attempts !== output.attempts || known.status !== output.status) {
      current.attempts.set(output.outputId, await api('GET', '/admin/v1/deliveries/' + encodeURIComponent(output.outputId)));
    }
  }));
  if (generation !== state.generation || current !== state.session) return;
  current.userId = session.userId;
  const fingerprint = JSON.stringify(session) + '|' + [...current.open].join(',');
  if (fingerprint === current.last) return;
  current.last = fingerprint;
  renderSession(session);
}

function renderSession(session) {
  $('session-gone').hidden = true;
  $('session-facts').replaceChildren(
    el('dt', {}, 'Endpoint'), el('dd', {}, session.urlToken),
    el('dt', {}, 'User'), el('dd', {}, session.userId),
    el('dt', {}, 'Started'), el('dd', {}, timeElement(session.createdAt)),
    el('dt', {}, 'Last activity'), el('dd', {}, timeElement(session.updatedAt)),
    el('dt', {}, 'Waiting at'), el('dd', {}, session.waitingAt || '—'),
    el('dt', {}, 'Next seq'), el('dd', {}, String(session.nextSeq)),
    el('dt', {}, 'Mode'), el('dd', { id: 'session-mode' }, session.mode === 'operator' ? 'operator (' + session.operator + ')' : 'flow'));
  $('session-context').textContent = json(session.context);
  const scheduled = session.scheduled || [];
  $('session-scheduled').replaceChildren(...scheduled.map(renderScheduled));
  $('session-scheduled-empty').hidden = scheduled.length > 0;
  renderOperator(session);

  const list = $('transcript');
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.replaceChildren(...session.messages.map(renderMessage));
  $('transcript-empty').hidden = session.messages.length > 0;
  if (atBottom) list.scrollTop = list.scrollHeight;
}

// A pending schedule: a scheduled notify or inject, a flow's reminder, an ask's timeout.
function renderScheduled(entry) {
  const what = entry.kind === 'timeout' ? 'timeout of ' + entry.nodeId : (entry.text || (entry.data ? JSON.stringify(entry.data) : ''));
  return el('li', { 'data-id': entry.id },
    el('div', { className: 'meta' }, pill(entry.kind), ' due ', timeElement(entry.dueAt),
      entry.key ? el('span', { className: 'hint' }, ' key ' + entry.key) : null,
      entry.cancelOnUserMessage ? el('span', { className: 'hint' }, ' · dropped if the user writes') : null),
    what ? el('div', { className: 'text' }, what) : null,
    can('operate') ? el('button', { type: 'button', className: 'small', onclick: () => cancelScheduled(entry.id) }, 'Cancel') : null);
}

async function cancelScheduled(id) {
  try {
    await api('DELETE', '/admin/v1/scheduled/' + encodeURIComponent(id));
    notice('Cancelled ' + id + '.');
    refresh();
  } catch (error) {
    notice('Cancel failed: ' + error.message, 'error');
  }
}

function renderMessage(message) {
  if (message.kind === 'input') {
    return el('li', { className: 'message input ' + message.source, 'data-id': message.id },
      el('div', { className: 'meta' }, pill(message.source), ' ', timeElement(message.at)),
      message.text ? el('div', { className: 'text' }, message.text) : null,
      message.data ? el('pre', { className: 'json' }, json(message.data)) : null);
  }
  const open = state.session.open.has(message.outputId);
  const actions = [
    el('button', { type: 'button', className: 'link', 'aria-expanded': open ? 'true' : 'false', onclick: () => toggleAttempts(message.outputId) },
      (open ? 'Hide attempts' : 'Attempts') + ' (' + message.attempts + ')'),
  ];
  if ((message.status === 'dead' || message.status === 'failed') && can('admin')) {
    actions.push(' ', el('button', { type: 'button', className: 'small', onclick: () => retry(message.outputId) }, 'Retry'));
  }
  const lastError = message.lastError && message.status !== 'delivered' ? el('div', { className: 'error' }, message.lastError) : null;
  const attempts = open ? renderAttempts(state.session.attempts.get(message.outputId)) : null;
  // A status event for the endpoint's statusWebhook: one compact line, not a message to the user.
  if (message.type === 'status') {
    return el('li', { className: 'message output status', 'data-id': message.outputId },
      el('div', { className: 'meta' },
        pill('status'), ' ', el('span', { className: 'seq' }, '#' + message.seq), ' ', timeElement(message.at), ' ', pill(message.status),
        el('span', { className: 'hint' }, ' to the status webhook')),
      el('div', { className: 'text' }, statusEventText(message.data)),
      lastError,
      el('div', { className: 'actions' }, actions),
      attempts);
  }
  let origin = null;
  if (message.source === 'operator') origin = el('span', { className: 'hint' }, ' from operator ' + message.operator);
  else if (message.type === 'call') origin = el('span', { className: 'hint' }, ' to the API the flow calls; its answer comes back as an input');
  else if (message.type === 'userMessage') origin = el('span', { className: 'hint' }, ' to the operators (' + message.operator + ')');
  else if (message.source) origin = el('span', { className: 'hint' }, ' for ' + message.source + ' input');
  return el('li', { className: 'message output ' + message.type + (message.source === 'operator' ? ' operator' : ''), 'data-id': message.outputId },
    el('div', { className: 'meta' },
      pill(message.source === 'operator' ? 'operator' : message.type), ' ', el('span', { className: 'seq' }, '#' + message.seq), ' ',
      timeElement(message.at), ' ', pill(message.status), ' ', receiptBadge(message), origin),
    message.text ? el('div', { className: 'text' }, message.text) : null,
    message.data ? el('pre', { className: 'json' }, json(message.data)) : null,
    renderRich(message),
    lastError,
    el('div', { className: 'actions' }, actions),
    attempts);
}

// ---------------------------------------------------------------------------------------------
// Rich outputs (SPEC §12) and where an output is on its way to the user. Like everything else,
// titles, payloads, names and URLs reach the page as text and attributes only; a URL becomes a
// link or an image only when it is http(s).

// The URL when it is an absolute http:// or https:// URL, otherwise null.
function httpURL(value) {
  if (typeof value !== 'string') return null;
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch (error) {
    return null;
  }
}

// A link that opens in a new tab, which gets no handle on this page and no referrer.
function externalLink(href, attributes, ...children) {
  return el('a', { ...attributes, href, target: '_blank', rel: 'noopener noreferrer', referrerpolicy: 'no-referrer' }, ...children);
}

// `outputStatus` as a small badge: ✓ sent, ✓✓ delivered, ✓✓ read, failed (why, on hover).
const RECEIPTS = { sent: '✓ sent', delivered: '✓✓ delivered', read: '✓✓ read', failed: '✗ failed' };

function receiptBadge(message) {
  const status = message.outputStatus;
  if (!status || !RECEIPTS[status]) return null;
  const title = [
    status === 'failed' && message.statusError ? message.statusError : 'Output status: ' + status,
    message.statusAt ? 'at ' + message.statusAt : null,
    message.channelMessageId ? 'channel message ' + message.channelMessageId : null,
  ].filter(Boolean).join(' · ');
  return el('span', { className: 'receipt ' + status, 'data-output-status': status, title }, RECEIPTS[status]);
}

function statusEventText(data) {
  const event = data && typeof data === 'object' ? data : {};
  return 'status: ' + (event.status || '?') + ' for ' + (event.outputId || '?') + (event.error ? ' (' + event.error + ')' : '');
}

function chip(choice, kind) {
  const url = choice.url !== undefined && choice.url !== null ? String(choice.url) : null;
  if (url !== null) {
    const href = httpURL(url);
    if (href) return externalLink(href, { className: 'chip url', title: url }, choice.title, ' ↗');
    return el('span', { className: 'chip url', title: url }, choice.title);
  }
  const payload = choice.payload !== undefined && choice.payload !== null ? String(choice.payload) : choice.title;
  return el('span', { className: 'chip ' + kind, title: 'payload: ' + payload }, choice.title);
}

function chips(list, kind, label) {
  if (!Array.isArray(list) || list.length === 0) return null;
  return el('div', { className: 'chips ' + kind, 'aria-label': label }, list.map((choice) => chip(choice || {}, kind)));
}

function renderAttachment(attachment) {
  const type = attachment.type || 'file';
  const label = attachment.caption || attachment.name || attachment.url || type;
  const href = httpURL(attachment.url);
  if (!href) return el('li', { className: 'attachment ' + type }, pill(type, 'attachment'), ' ', label, el('span', { className: 'hint' }, ' ' + (attachment.url || '')));
  if (type === 'image') {
    const image = el('img', { src: href, alt: attachment.caption || attachment.name || 'image', loading: 'lazy', className: 'thumb' });
    // An image the browser cannot show (elsewhere than this Herald, under the page's img-src
    // policy, or gone) leaves its link and caption.
    image.addEventListener('error', () => image.classList.add('broken'));
    return el('li', { className: 'attachment image' }, externalLink(href, { className: 'image-link', title: attachment.url }, image, el('span', { className: 'caption' }, label)));
  }
  return el('li', { className: 'attachment ' + type }, pill(type, 'attachment'), ' ', externalLink(href, { className: 'file-link', title: attachment.url }, label));
}

function renderCard(card) {
  if (!card || typeof card !== 'object') return null;
  const image = httpURL(card.imageUrl);
  const thumb = image ? el('img', { src: image, alt: card.title || 'card image', loading: 'lazy', className: 'thumb' }) : null;
  if (thumb) thumb.addEventListener('error', () => thumb.classList.add('broken'));
  return el('div', { className: 'rich-card' },
    thumb,
    el('div', { className: 'card-title' }, card.title || ''),
    card.subtitle ? el('div', { className: 'card-subtitle' }, card.subtitle) : null,
    !image && card.imageUrl ? el('div', { className: 'hint' }, card.imageUrl) : null,
    chips(card.buttons, 'button', 'Card buttons'));
}

function renderTemplate(template) {
  if (!template || typeof template !== 'object') return null;
  const parameters = Array.isArray(template.parameters) ? template.parameters.map(String) : [];
  return el('div', { className: 'template' },
    'template ' + (template.name || '?') + ' (' + (template.language || '?') + ')' + (parameters.length ? ': ' + parameters.join(', ') : ''));
}

function renderRich(message) {
  const attachments = Array.isArray(message.attachments) && message.attachments.length
    ? el('ul', { className: 'attachments' }, message.attachments.map((attachment) => renderAttachment(attachment || {})))
    : null;
  const parts = [
    renderTemplate(message.template),
    attachments,
    renderCard(message.card),
    chips(message.buttons, 'button', 'Buttons'),
    chips(message.quickReplies, 'quick-reply', 'Quick replies'),
  ].filter(Boolean);
  return parts.length ? el('div', { className: 'rich' }, parts) : null;
}

function renderAttempts(delivery) {
  if (!delivery) return el('p', { className: 'hint' }, 'Loading attempts…');
  const log = delivery.attemptLog || [];
  if (log.length === 0) return el('p', { className: 'hint attempts' }, 'Not attempted yet.');
  return el('table', { className: 'attempts' },
    el('thead', {}, el('tr', {}, el('th', {}, '#'), el('th', {}, 'At'), el('th', { className: 'num' }, 'ms'), el('th', {}, 'Status'), el('th', {}, 'Error / answer'))),
    el('tbody', {}, log.map((attempt) => el('tr', {},
      el('td', {}, String(attempt.number)),
      el('td', {}, timeElement(attempt.at)),
      el('td', { className: 'num' }, String(attempt.durationMs)),
      el('td', {}, attempt.statusCode === null ? '—' : String(attempt.statusCode)),
      el('td', { className: 'mono' }, [attempt.error, attempt.responseBody].filter(Boolean).join(' · '))))));
}

function toggleAttempts(outputId) {
  const open = state.session.open;
  if (open.has(outputId)) open.delete(outputId);
  else open.add(outputId);
  state.session.attempts.delete(outputId);
  refresh();
}

function retry(outputId) {
  return adminAction('/admin/v1/deliveries/' + encodeURIComponent(outputId) + '/retry',
    'Retrying ' + outputId + '.', 'Retry failed');
}

async function sendToSession(event) {
  event.preventDefault();
  const kind = event.submitter && event.submitter.value === 'inject' ? 'inject' : 'notify';
  const current = state.session;
  const body = { userId: current.userId, sessionId: current.sessionId };
  try {
    const text = $('message-text').value;
    const data = readData($('message-data'));
    const delay = $('message-delay').value.trim();
    const quickReplies = $('message-quick-replies').value.split('\n').map((line) => line.trim()).filter(Boolean);
    if (text) body.text = text;
    if (data) body.data = data;
    if (delay) body.delay = delay;
    if (!text && !data && !quickReplies.length) throw new Error('Write a text or a data object.');
    if (quickReplies.length) {
      if (kind !== 'notify') throw new Error('Quick replies go with Notify (an inject is the user\'s message).');
      body.quickReplies = quickReplies.map((title) => ({ title }));
    }
    if (!current.userId) throw new Error('The session has not loaded yet.');
  } catch (error) {
    notice(error.message, 'error');
    return;
  }
  const buttons = [$('notify-button'), $('inject-button')];
  for (const button of buttons) button.disabled = true;
  try {
    const answer = await api('POST', '/' + kind + '/' + encodeURIComponent(current.urlToken), body);
    if (answer.scheduledId) notice((kind === 'notify' ? 'Notify' : 'Inject') + ' scheduled for ' + answer.dueAt + '.');
    else notice(kind === 'notify' ? 'Notify sent.' : 'Injected into the flow.');
    $('message-text').value = '';
    $('message-data').value = '';
    $('message-delay').value = '';
    $('message-quick-replies').value = '';
    refresh();
  } catch (error) {
    notice((kind === 'notify' ? 'Notify' : 'Inject') + ' failed: ' + error.message, 'error');
  } finally {
    for (const button of buttons) button.disabled = false;
  }
}

async function endSession() {
  const current = state.session;
  if (!confirm('End session ' + current.sessionId + '? Its undelivered outputs still go out.')) return;
  try {
    await api('DELETE', '/admin/v1/sessions/' + encodeURIComponent(current.urlToken) + '/' + encodeURIComponent(current.sessionId));
    notice('Session ' + current.sessionId + ' ended.');
    location.hash = '#sessions';
  } catch (error) {
    notice('Ending the session failed: ' + error.message, 'error');
  }
}

// ---------------------------------------------------------------------------------------------
// Handover: take over, reply, hand back. The user's messages show up in the transcript by
// polling while the session is taken over.

function renderOperator(session) {
  const taken = session.mode === 'operator';
  $('operator-state').textContent = taken
    ? 'Taken over by ' + session.operator + ' since ' + shortTime(session.operatorSince) + '. The flow does not answer the user.'
    : 'The flow answers this user.';
  $('takeover-form').hidden = taken;
  $('reply-form').hidden = !taken;
}

function sessionPath(suffix) {
  const current = state.session;
  return '/admin/v1/sessions/' + encodeURIComponent(current.urlToken) + '/' + encodeURIComponent(current.sessionId) + suffix;
}

async function takeOver(event) {
  event.preventDefault();
  const name = $('operator-name').value.trim();
  if (!name) {
    notice('Enter your name: the user\'s messages and your replies carry it.', 'error');
    return;
  }
  sessionStorage.setItem(OPERATOR_STORAGE, name);
  $('takeover-button').disabled = true;
  try {
    await api('POST', sessionPath('/handover'), { operator: name });
    notice('You have the session. The flow stops answering until you hand back.');
    refresh();
  } catch (error) {
    notice('Take over failed: ' + error.message, 'error');
  } finally {
    $('takeover-button').disabled = false;
  }
}

async function sendReply(event) {
  event.preventDefault();
  const text = $('reply-text').value;
  if (!text.trim()) {
    notice('Write a reply.', 'error');
    return;
  }
  $('reply-button').disabled = true;
  try {
    await api('POST', sessionPath('/reply'), { operator: $('operator-name').value.trim(), text });
    $('reply-text').value = '';
    notice('Reply sent.');
    refresh();
  } catch (error) {
    notice('Reply failed: ' + error.message, 'error');
  } finally {
    $('reply-button').disabled = false;
  }
}

async function handBack() {
  try {
    await api('POST', sessionPath('/handback'));
    notice('Handed back: the flow answers this user again.');
    refresh();
  } catch (error) {
    notice('Hand back failed: ' + error.message, 'error');
  }
}

async function eraseUser() {
  const current = state.session;
  if (!current.userId) return;
  if (!confirm('Erase user ' + current.userId + ' of ' + current.urlToken + '? Every session, message and delivery of theirs is deleted; undelivered outputs are not sent.')) return;
  try {
    const answer = await api('DELETE', '/admin/v1/users/' + encodeURIComponent(current.urlToken) + '/' + encodeURIComponent(current.userId));
    notice('Erased: ' + answer.erased.sessions + ' sessions, ' + answer.erased.inputs + ' inputs, ' + answer.erased.outputs + ' outputs.');
    location.hash = '#sessions';
  } catch (error) {
    notice('Erasing failed: ' + error.message, 'error');
  }
}

// ---------------------------------------------------------------------------------------------
// The audit log.

async function loadAudit(generation) {
  const cursors = state.audit.cursors;
  const answer = await api('GET', '/admin/v1/audit' + query({ limit: PAGE_SIZE, cursor: cursors[cursors.length - 1] }));
  if (generation !== state.generation) return;
  if (!changed('audit', answer, cursors)) return;
  const rows = answer.entries.map((entry) => el('tr', { 'data-action': entry.action },
    el('td', {}, timeElement(entry.at)),
    el('td', {}, entry.keyName),
    el('td', {}, pill(entry.action, 'notify')),
    el('td', {}, entry.urlToken || ''),
    el('td', {}, entry.sessionId && entry.urlToken ? el('a', { href: sessionHref(entry.urlToken, entry.sessionId) }, entry.sessionId) : ''),
    el('td', {}, entry.targetErased ? el('span', { className: 'hint' }, 'erased') : (entry.userId || '')),
    el('td', { className: 'hint' }, [entry.outputId, entry.detail].filter(Boolean).join(' · '))));
  $('audit-rows').replaceChildren(...rows);
  $('audit-empty').hidden = rows.length > 0;
  state.audit.nextCursor = answer.nextCursor;
  $('audit-older').disabled = !answer.nextCursor;
  $('audit-newer').disabled = cursors.length <= 1;
  $('audit-page').textContent = 'Page ' + cursors.length;
}

// ---------------------------------------------------------------------------------------------
// Dead letters.

async function loadDead(generation) {
  const answer = await api('GET', '/admin/v1/deliveries' + query({ status: 'dead', urlToken: state.dead.urlToken, limit: 200 }));
  if (generation !== state.generation) return;
  $('dead-endpoint').value = state.dead.urlToken;
  if (!changed('dead', answer)) return;
  const rows = answer.deliveries.map((delivery) => el('tr', { 'data-id': delivery.outputId },
    el('td', {}, delivery.urlToken),
    el('td', {}, el('a', { href: sessionHref(delivery.urlToken, delivery.sessionId) }, delivery.sessionId),
      el('div', { className: 'hint' }, delivery.userId)),
    el('td', { className: 'num' }, String(delivery.seq)),
    el('td', {}, pill(delivery.type)),
    el('td', { className: 'clip' }, delivery.text || (delivery.data ? JSON.stringify(delivery.data) : '')),
    el('td', { className: 'num' }, String(delivery.attempts)),
    el('td', { className: 'error' }, delivery.lastError || ''),
    el('td', {}, timeElement(delivery.at)),
    el('td', {}, can('admin') ? el('button', { type: 'button', className: 'small', onclick: () => retryDead(delivery.outputId) }, 'Retry') : '')));
  $('dead-rows').replaceChildren(...rows);
  $('dead-empty').hidden = rows.length > 0;
}

async function retryDead(outputId) {
  try {
    await api('POST', '/admin/v1/deliveries/' + encodeURIComponent(outputId) + '/retry');
    notice('Retrying ' + outputId + '.');
    refresh();
  } catch (error) {
    notice('Retry failed: ' + error.message, 'error');
  }
}

// ---------------------------------------------------------------------------------------------
// Wiring.

document.addEventListener('DOMContentLoaded', () => {
  $('sign-in-form').addEventListener('submit', signIn);
  $('sign-out').addEventListener('click', () => { signOut(); history.replaceState(null, '', location.pathname); });
  $('broadcast-form').addEventListener('submit', broadcast);
  $('endpoint-form').addEventListener('submit', saveEndpoint);
  $('sessions-filter').addEventListener('submit', applySessionFilter);
  $('sessions-clear').addEventListener('click', () => {
    filterSessions('');
    refresh();
  });
  $('sessions-next').addEventListener('click', () => {
    if (!state.sessions.nextCursor) return;
    state.sessions.cursors.push(state.sessions.nextCursor);
    refresh();
  });
  $('sessions-previous').addEventListener('click', () => {
    if (state.sessions.cursors.length > 1) state.sessions.cursors.pop();
    refresh();
  });
  $('dead-endpoint').addEventListener('change', (event) => {
    state.dead.urlToken = event.target.value;
    refresh();
  });
  $('dead-filter').addEventListener('submit', (event) => event.preventDefault());
  $('message-form').addEventListener('submit', sendToSession);
  $('end-session').addEventListener('click', endSession);
  $('erase-user').addEventListener('click', eraseUser);
  $('takeover-form').addEventListener('submit', takeOver);
  $('reply-form').addEventListener('submit', sendReply);
  $('handback-button').addEventListener('click', handBack);
  $('audit-older').addEventListener('click', () => {
    if (!state.audit.nextCursor) return;
    state.audit.cursors.push(state.audit.nextCursor);
    refresh();
  });
  $('audit-newer').addEventListener('click', () => {
    if (state.audit.cursors.length > 1) state.audit.cursors.pop();
    refresh();
  });
  window.addEventListener('hashchange', route);
  document.addEventListener('visibilitychange', () => { if (!document.hidden && state.key) refresh(); });

  if (state.key) {
    showSignedIn();
    api('GET', '/admin/v1/endpoints').then((answer) => setEndpoints(answer.endpoints)).catch(() => {});
    loadMe().then(() => { if (state.session.last) state.session.last = null; }).catch(() => {});
    route();
  } else {
    signOut();
  }
});
