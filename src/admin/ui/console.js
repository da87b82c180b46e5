// The localplane web console: one page over the admin API. It shows what the event stream
// (/_localplane/events) sends and acts through the same admin endpoints as every other client,
// with the admin token when the server asks for one. No build step, no dependencies.

const TOKEN_KEY = 'localplane.adminToken';
const VIEWS = ['overview', 'operations', 'resources', 'faults', 'settings'];
const SERVICE_NAMES = { servicediscovery: 'Cloud Map', kafkaconnect: 'MSK Connect', ram: 'AWS RAM' };

const state = { operations: null, resources: null, settings: null, streaming: null, shownProfile: null, profileChosen: false };

const $ = (id) => document.getElementById(id);

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

function authHeaders() {
  const t = token();
  return t ? { Authorization: `Bearer ${t}` } : {};
}

/** An element with attributes (`class`, `data-*`, properties for the rest) and children. */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k.startsWith('data-') || k.startsWith('aria-') || k === 'role') node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function time(ms) {
  if (ms === undefined || ms === null) return '';
  const d = new Date(ms);
  const pad = (n, w = 2) => String(n).padStart(w, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

function seconds(ms) {
  return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
}

/** The readable part of a resource: an ARN's name, else the id itself. */
function shortResource(resource) {
  const m = /^arn:[^:]*:[^:]*:[^:]*:[^:]*:[^/]+\/([^/]+)/.exec(resource || '');
  return m ? m[1] : resource;
}

// ---- status and messages -------------------------------------------------------------------

function setStatus(text, kind) {
  const s = $('status');
  s.textContent = text;
  s.dataset.kind = kind;
}

function showMessage(text, kind = 'error') {
  const m = $('message');
  m.textContent = text;
  m.dataset.kind = kind;
  m.hidden = !text;
}

// ---- admin calls -----------------------------------------------------------------------------

/** Calls the admin API; resolves to the parsed body or throws an Error with the server's message. */
async function call(method, path, body) {
  const headers = { ...authHeaders() };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (resp.status === 401) {
    askForToken(token() ? 'The server refused this token.' : '');
    throw new Error('The server needs the admin token.');
  }
  const text = await resp.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!resp.ok) {
    const why = (parsed && (parsed.message || parsed.Message)) || text || resp.statusText;
    throw new Error(`${method} ${path} failed (${resp.status}): ${why}`);
  }
  return parsed;
}

async function act(description, work) {
  try {
    await work();
    showMessage(`${description}: done.`, 'ok');
  } catch (e) {
    showMessage(e.message);
  }
}

// ---- the token -------------------------------------------------------------------------------

function askForToken(problem) {
  $('token-form').hidden = false;
  $('token-error').textContent = problem || '';
  setStatus('Needs the admin token', 'blocked');
  $('token').focus();
}

function setupToken() {
  $('token-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $('token').value);
    $('token').value = '';
    $('token-form').hidden = true;
    restartStream();
  });
}

// ---- the event stream (fetch, so that it can send the token) --------------------------------

function restartStream() {
  if (state.streaming) state.streaming.abort();
  const controller = new AbortController();
  state.streaming = controller;
  stream(controller.signal).catch(() => {});
}

async function stream(signal) {
  let retry = 2000;
  while (!signal.aborted) {
    try {
      const resp = await fetch('/_localplane/events', { headers: authHeaders(), signal, cache: 'no-store' });
      if (resp.status === 401) {
        askForToken(token() ? 'The server refused this token.' : '');
        return;
      }
      if (!resp.ok || !resp.body) throw new Error(`the event stream answered ${resp.status}`);
      setStatus('Live', 'live');
      const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value.replace(/\r\n?/g, '\n');
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const r = dispatch(block);
          if (r) retry = r;
        }
      }
    } catch (e) {
      if (signal.aborted) return;
    }
    setStatus('Disconnected: reconnecting…', 'down');
    await new Promise((resolve) => setTimeout(resolve, retry));
  }
}

/** Handles one event block; returns a new retry delay when the block sets one. */
function dispatch(block) {
  let event = 'message';
  const data = [];
  let retry = null;
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
    else if (field === 'retry' && /^\d+$/.test(value)) retry = Number(value);
  }
  if (data.length === 0) return retry;
  const doc = JSON.parse(data.join('\n'));
  if (event === 'operations') state.operations = doc;
  else if (event === 'resources') state.resources = doc;
  else if (event === 'settings') state.settings = doc;
  else if (event === 'problem') showMessage(doc.message);
  render();
  return retry;
}

// ---- rendering -------------------------------------------------------------------------------

/** Re-renders while keeping the keyboard focus on the same control. */
function render() {
  const focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.key : null;
  renderOperations();
  renderResources();
  renderSettings();
  if (focused) {
    const again = document.querySelector(`[data-key="${CSS.escape(focused)}"]`);
    if (again) again.focus();
  }
}

function renderOperations() {
  const all = state.operations;
  if (!all) return;
  const only = (list) => list.filter((op) => op.id === state.selected);
  const ops = state.selected ? { ...all, inFlight: only(all.inFlight), recent: only(all.recent) } : all;
  $('selected-operation').hidden = !state.selected;
  $('selected-id').textContent = state.selected || '';
  const manual = state.settings && state.settings.timing.profile === 'manual';
  $('in-flight-count').textContent = `(${ops.counts.inFlight})`;
  $('recent-count').textContent = `(${ops.counts.finished}${ops.counts.finished > ops.recent.length ? `, newest ${ops.recent.length} shown` : ''})`;
  $('in-flight').replaceChildren(...(ops.inFlight.length ? ops.inFlight.map((op) => operation(op, manual)) : [el('li', { class: 'empty' }, 'Nothing in flight.')]));
  $('recent').replaceChildren(...(ops.recent.length ? ops.recent.map((op) => operation(op, manual)) : [el('li', { class: 'empty' }, 'No finished operations yet.')]));
}

function operation(op, manual) {
  const classes = ['operation', op.terminal ? 'finished' : 'in-flight', op.rollback ? 'rollback' : '', `state-${op.state}`];
  const title = `${op.operationType} ${shortResource(op.resource)}`;
  const meta = el('dl', { class: 'meta' },
    el('dt', {}, 'Service'), el('dd', {}, `${SERVICE_NAMES[op.service] || op.service} (${op.service})`),
    el('dt', {}, 'Id'), el('dd', {}, el('code', { class: 'op-id' }, op.id)),
    el('dt', {}, 'Resource'), el('dd', {}, el('span', { class: 'resource-name' }, shortResource(op.resource)), op.resource !== shortResource(op.resource) ? el('code', { class: 'resource-id' }, ` ${op.resource}`) : null),
    op.account ? [el('dt', {}, 'Account'), el('dd', {}, op.account, op.actingAccount ? ` (asked by ${op.actingAccount})` : '')] : null,
    el('dt', {}, 'Created'), el('dd', {}, time(op.createdMs)),
    op.endedMs ? [el('dt', {}, 'Ended'), el('dd', {}, `${time(op.endedMs)} (after ${seconds(op.endedMs - op.createdMs)})`)] : null,
    op.errorCode ? [el('dt', {}, 'Error'), el('dd', { class: 'error-code' }, op.errorCode)] : null,
    op.stuck ? [el('dt', {}, 'Stuck'), el('dd', { class: 'error-code' }, JSON.stringify(op.stuck))] : null,
  );
  const steps = el('ol', { class: 'timeline', 'aria-label': `Steps of ${title}` },
    op.steps.map((s) => {
      const times = s.startedMs || s.endedMs
        ? `${s.startedMs ? time(s.startedMs) : '…'} → ${s.endedMs ? time(s.endedMs) : '…'}${s.startedMs && s.endedMs ? ` (${seconds(s.endedMs - s.startedMs)})` : ''}`
        : '';
      return el('li', { class: `step step-${s.state}` },
        el('span', { class: 'step-name' }, s.name), ' ',
        el('span', { class: 'step-state' }, s.state), ' ',
        el('span', { class: 'step-time' }, times));
    }));
  const actions = op.terminal ? null : el('div', { class: 'actions' },
    el('button', { type: 'button', 'data-key': `next:${op.id}`, 'aria-label': `Advance ${title} one step`, onclick: () => advance(op, 'next') }, 'Advance one step'),
    el('button', { type: 'button', 'data-key': `end:${op.id}`, 'aria-label': `Advance ${title} to its end`, onclick: () => advance(op, 'terminal') }, 'Advance to the end'),
    manual ? null : el('span', { class: 'hint' }, ' (the timing is not manual: it also moves by itself)'));
  return el('li', { class: classes.filter(Boolean).join(' '), 'data-op-id': op.id, 'data-state': op.state },
    el('h4', {}, el('a', { class: 'op-type', href: `#/operations/${encodeURIComponent(op.id)}`, 'aria-label': `${title}: this operation alone` }, op.operationType), ' ',
      el('span', { class: 'badge state' }, op.state),
      op.rollback ? el('span', { class: 'badge rollback-badge' }, 'rollback') : null),
    meta, steps, actions);
}

async function advance(op, until) {
  await act(`Advanced ${op.operationType} ${until === 'next' ? 'one step' : 'to its end'}`, () =>
    call('POST', `/_localplane/operations/${encodeURIComponent(op.id)}/advance?until=${until}`));
}

function renderResources() {
  const tree = state.resources;
  if (!tree) return;
  if (!tree.accounts.length) {
    $('resources').replaceChildren(el('p', { class: 'empty' }, 'No resources yet.'));
    return;
  }
  $('resources').replaceChildren(el('ul', { class: 'tree' },
    tree.accounts.map((a) => el('li', {}, el('span', { class: 'level' }, 'Account '), el('strong', {}, a.account),
      el('ul', {}, a.regions.map((r) => el('li', {}, el('span', { class: 'level' }, 'Region '), el('strong', {}, r.region),
        el('ul', {}, r.services.map((s) => el('li', { class: 'service-group' },
          el('strong', {}, `${SERVICE_NAMES[s.service] || s.service}`), ` (${s.service})`,
          nodes(s.resources)))))))))));
}

function nodes(list, total) {
  if (!list || !list.length) return null;
  const more = total && total > list.length ? el('li', { class: 'more' }, `… ${total - list.length} more (${total} in all)`) : null;
  return el('ul', {}, list.map(node), more);
}

function node(n) {
  const details = (n.details || []).map(([k, v]) => `${k} ${v}`).join(' · ');
  return el('li', { class: `node kind-${n.kind.replace(/\s+/g, '-')}`, 'data-resource-id': n.id, 'data-state': n.state },
    el('span', { class: 'kind' }, n.kind), ' ',
    el('span', { class: 'name' }, n.name), ' ',
    n.state ? el('span', { class: `badge state state-${n.state}` }, n.state) : null, ' ',
    details ? el('span', { class: 'details' }, details) : null,
    n.id !== n.name ? el('code', { class: 'resource-id' }, n.id) : null,
    nodes(n.children, n.total));
}

function renderSettings() {
  const s = state.settings;
  if (!s) return;
  const profile = s.timing.profile;
  $('timing-hint').textContent = profile === 'manual'
    ? 'Timing: manual. Operations wait for you: advance them below.'
    : `Timing: ${profile}. Operations move by themselves (switch to manual under "Timing & state" to step them by hand).`;
  // Follow the server's profile when it changes, not over a choice the user is making.
  if (profile !== state.shownProfile && !state.profileChosen) {
    $('profile').value = profile;
    state.shownProfile = profile;
  }
  $('faults').replaceChildren(...(s.faults.length ? s.faults.map(fault) : [el('li', { class: 'empty' }, 'No fault rules.')]));
}

function fault(rule) {
  const what = [rule.service, rule.operationType, rule.step && `at ${rule.step}`, rule.api, rule.httpStatus && `HTTP ${rule.httpStatus}`, `→ ${rule.errorCode}`,
    rule.rollback && `rollback ${rule.rollback}`, rule.resource && `on ${rule.resource}`, `${rule.count} left`].filter(Boolean).join(' ');
  return el('li', { 'data-fault-id': rule.id }, el('code', {}, rule.id), ' ', what, ' ',
    el('button', { type: 'button', 'data-key': `rm:${rule.id}`, 'aria-label': `Remove fault rule ${rule.id}`, onclick: () => act(`Removed fault rule ${rule.id}`, () => call('DELETE', `/_localplane/faults/${encodeURIComponent(rule.id)}`)) }, 'Remove'));
}

// ---- forms and buttons -----------------------------------------------------------------------

function setupActions() {
  $('fault-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const form = new FormData(ev.target);
    const rule = {};
    for (const [k, v] of form.entries()) {
      const value = String(v).trim();
      if (!value) continue;
      rule[k] = k === 'count' || k === 'httpStatus' ? Number(value) : value;
    }
    act('Added a fault rule', async () => {
      await call('POST', '/_localplane/faults', rule);
    });
  });
  $('profile').addEventListener('change', () => {
    state.profileChosen = true;
  });
  $('timing-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const profile = $('profile').value;
    state.profileChosen = false;
    state.shownProfile = profile;
    act(`Timing set to ${profile}`, () => call('PUT', '/_localplane/timing', { profile }));
  });
  $('export').addEventListener('click', () => act('Exported a snapshot', exportSnapshot));
  const confirming = (on) => {
    $('reset').hidden = on;
    $('reset-confirm').hidden = !on;
    $('reset-cancel').hidden = !on;
    (on ? $('reset-confirm') : $('reset')).focus();
  };
  $('reset').addEventListener('click', () => confirming(true));
  $('reset-cancel').addEventListener('click', () => confirming(false));
  $('reset-confirm').addEventListener('click', () => {
    confirming(false);
    act('Reset every service', () => call('POST', '/_localplane/reset'));
  });
}

async function exportSnapshot() {
  const resp = await fetch('/_localplane/snapshot', { headers: authHeaders() });
  if (resp.status === 401) {
    askForToken(token() ? 'The server refused this token.' : '');
    throw new Error('The server needs the admin token.');
  }
  if (!resp.ok) throw new Error(`GET /_localplane/snapshot failed (${resp.status}): ${await resp.text()}`);
  const blob = await resp.blob();
  const link = $('download');
  if (link.href) URL.revokeObjectURL(link.href);
  link.href = URL.createObjectURL(blob);
  link.download = `localplane-snapshot-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
  link.hidden = false;
  link.click();
}

// ---- views (hash routes) ---------------------------------------------------------------------

function route(moveFocus) {
  const [first, ...rest] = location.hash.replace(/^#\/?/, '').split('/');
  const name = first || 'overview';
  // #/operations/{URL-encoded id}: that operation alone.
  state.selected = name === 'operations' && rest.length ? decodeURIComponent(rest.join('/')) : null;
  renderOperations();
  const view = VIEWS.includes(name) ? name : 'overview';
  for (const section of document.querySelectorAll('[data-views]')) {
    section.hidden = !section.dataset.views.split(' ').includes(view);
  }
  for (const link of document.querySelectorAll('nav a[data-view]')) {
    if (link.dataset.view === view) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  document.title = `localplane console: ${document.querySelector(`nav a[data-view="${view}"]`).textContent}`;
  if (moveFocus) $('main').focus();
}

setupToken();
setupActions();
window.addEventListener('hashchange', () => route(true));
route(false);
// The server says in the page whether it has an admin token: ask for it before the first call.
const tokenMeta = document.querySelector('meta[name="localplane-admin-token"]');
if (tokenMeta && tokenMeta.content === 'required' && !token()) askForToken('');
else restartStream();
