// rollout-proxy's dashboard: one page, no build step. It reads the proxy's state as
// server-sent events from /api/events (with fetch, so that the token goes in the
// Authorization header and never in a URL), and draws it; the action buttons POST to
// /api/rollouts/ROUTE/VERB with the same header. The token lives in sessionStorage only.
'use strict';

const TOKEN_KEY = 'rollout-proxy-token';
const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#4b5563'];
let token = sessionStorage.getItem(TOKEN_KEY);
let role = 'viewer';
let stream = null;  // the AbortController of the open event stream
let pending = null; // the action waiting in the confirm dialog

const $ = (id) => document.getElementById(id);

// el('div', {class: 'x', 'data-pool': 'v1'}, 'text', child...): an element, with text
// children as text nodes (never parsed as HTML).
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'onclick') e.addEventListener('click', v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function svg(tag, attrs) {
  const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  return e;
}

const pct = (x, digits = 1) => (x * 100).toFixed(digits) + '%';
const ms = (s) => (s * 1000 < 10 ? (s * 1000).toFixed(2) : (s * 1000).toFixed(0)) + ' ms';
function when(rfc3339) {
  if (!rfc3339) return '';
  const d = new Date(rfc3339);
  return isNaN(d) ? rfc3339 : d.toLocaleString();
}
function parseJson(text) {
  try { return text ? JSON.parse(text) : {}; } catch (e) { return {}; }
}

function colorOf(pool, pools) {
  const i = pools.indexOf(pool);
  return COLORS[(i < 0 ? pools.length : i) % COLORS.length];
}

// ---- sign-in -------------------------------------------------------------------------

async function whoami(candidate) {
  const res = await fetch('/api/whoami', {headers: {Authorization: 'Bearer ' + candidate}});
  if (!res.ok) throw new Error((await res.json().catch(() => ({}))).error || res.statusText);
  return res.json();
}

async function signIn(candidate) {
  $('login-error').textContent = '';
  try {
    const who = await whoami(candidate);
    token = candidate;
    role = who.role;
    sessionStorage.setItem(TOKEN_KEY, token);
    $('who').textContent = who.name + ' (' + who.role + ')';
    $('who').dataset.role = who.role;
    $('login').hidden = true;
    $('main').hidden = false;
    $('signout').hidden = false;
    connect();
  } catch (e) {
    $('login-error').textContent = 'Refused: ' + e.message;
    showLogin();
  }
}

function showLogin() {
  $('login').hidden = false;
  $('main').hidden = true;
  $('signout').hidden = true;
  $('who').textContent = '';
}

function signOut(why) {
  if (stream) stream.abort();
  stream = null;
  token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  showLogin();
  if (why) $('login-error').textContent = why;
}

// ---- the event stream ----------------------------------------------------------------

function setLive(on, text) {
  $('live').className = 'live ' + (on ? 'on' : 'off');
  $('live').textContent = text || (on ? 'live' : 'reconnecting');
}

async function connect() {
  if (stream) stream.abort();
  const ctrl = new AbortController();
  stream = ctrl;
  let why = '';
  try {
    const res = await fetch('/api/events', {
      headers: {Authorization: 'Bearer ' + token}, signal: ctrl.signal, cache: 'no-store'});
    if (res.status === 401) return signOut('The proxy refused the token.');
    if (!res.ok) {
      why = (await res.json().catch(() => ({}))).error || 'error ' + res.status;
    } else {
      setLive(true);
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      for (;;) {
        const {value, done} = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, {stream: true});
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          onEvent(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
      }
    }
  } catch (e) {
    if (ctrl.signal.aborted) return;
  }
  if (stream !== ctrl) return;
  setLive(false, why ? 'reconnecting: ' + why : '');
  setTimeout(() => { if (stream === ctrl && token) connect(); }, 1000);
}

function onEvent(block) {
  let event = 'message', data = '';
  for (const line of block.split('\n')) {
    if (line.startsWith('event: ')) event = line.slice(7);
    else if (line.startsWith('data: ')) data += line.slice(6);
  }
  if (event === 'state') render(JSON.parse(data));
  else if (event === 'error') setLive(false, JSON.parse(data).error);
  else if (event === 'evicted') {  // a newer page took this one's stream: no reconnecting
    stream = null;
    setLive(false, 'stopped: ' + JSON.parse(data).error + '; reload to watch here');
  }
}

// ---- drawing -------------------------------------------------------------------------

function render(state) {
  const routes = (state.routes && state.routes.routes) || [];
  const pools = ((state.routes && state.routes.pools) || []).map((p) => p.name);
  const charts = (state.charts && state.charts.series) || [];
  const rollouts = state.rollouts || {};
  $('routes').replaceChildren(...routes.map((r) => renderRoute(r, pools, charts, rollouts[r.name])));
  $('endpoints').replaceChildren(renderEndpoints((state.routes && state.routes.pools) || []));
  $('versions').replaceChildren(renderVersions(state.versions || []));
  $('history').replaceChildren(renderHistory(state.releases || []));
  $('main').dataset.updated = String(Date.now());
}

function renderRoute(route, pools, charts, rollout) {
  const traffic = Object.fromEntries((route.traffic || []).map((t) => [t.pool, t]));
  const split = el('div', {class: 'split'}, (route.split || []).map((w) => {
    const bar = el('div', {class: 'bar'});
    bar.style.width = pct(w.share, 2);
    bar.style.background = colorOf(w.pool, pools);
    const t = traffic[w.pool];
    return el('div', {class: 'bar-row', 'data-pool': w.pool, 'data-share': w.share},
              el('span', {class: 'bar-label'}, w.pool + ' ' + pct(w.share)),
              el('div', {class: 'bar-track'}, bar),
              el('span', {class: 'muted'}, t && t.requests > 0
                  ? `${t.requests} calls in 10 s, ${pct(t.server_errors / t.requests, 2)} errors, p99 ${ms(t.p99_seconds)}`
                  : 'no calls in 10 s'));
  }));
  // The route's pools: those of its split, and any other that served some of its calls (an
  // override header, an earlier split) in the last 5 minutes.
  const inSplit = new Set((route.split || []).map((w) => w.pool));
  const mine = charts.filter((s) => s.route === route.name &&
                                    (inSplit.has(s.pool) || s.points.some((p) => p[1] > 0)));
  return el('section', {class: 'route', 'data-route': route.name},
            el('div', {class: 'route-head'}, el('h2', {}, 'Route ' + route.name),
               el('span', {class: 'muted'}, route.method_prefix || 'every method'),
               route.weights_source ? el('span', {class: 'muted'}, 'weights from ' + route.weights_source) : null),
            split, renderCharts(mine, pools),
            rollout ? renderRollout(rollout) : el('p', {class: 'muted'}, 'No release yet.'));
}

// One small line chart per metric, a line per pool, over the last 5 minutes.
function renderCharts(series, pools) {
  if (series.length === 0) return el('p', {class: 'muted'}, 'No traffic recorded yet.');
  const metrics = [
    {i: 1, title: 'calls/s', fmt: (v) => v.toFixed(1)},
    {i: 2, title: 'server-error rate', fmt: (v) => pct(v, 2)},
    {i: 3, title: 'p99 latency', fmt: ms},
    {i: 4, title: 'time to first message, p99', fmt: ms},
  ].filter((m) => m.i !== 4 || series.some((s) => s.points.some((p) => p[4] !== null)));
  const legend = el('div', {class: 'legend'}, series.map((s) => {
    const sw = el('span', {class: 'swatch'});
    sw.style.background = colorOf(s.pool, pools);
    return el('span', {}, sw, s.pool);
  }));
  const now = Math.max(...series.flatMap((s) => s.points.map((p) => p[0])), 0);
  return el('div', {}, legend, el('div', {class: 'charts'}, metrics.map((m) => {
    const W = 300, H = 120;
    let max = 0;
    for (const s of series) for (const p of s.points) if (p[m.i] !== null) max = Math.max(max, p[m.i]);
    const top = max;
    max = max > 0 ? max * 1.15 : 1;
    const chart = svg('svg', {viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none'});
    for (const y of [0.25, 0.5, 0.75]) {
      chart.append(svg('line', {x1: 0, x2: W, y1: H * y, y2: H * y, stroke: '#eef0f4'}));
    }
    for (const s of series) {
      const pts = s.points.filter((p) => p[m.i] !== null)
          .map((p) => `${(W * (1 - (now - p[0]) / 300)).toFixed(1)},${(H - H * p[m.i] / max).toFixed(1)}`);
      if (pts.length === 0) continue;
      chart.append(svg('polyline', {points: pts.join(' '), fill: 'none', stroke: colorOf(s.pool, pools),
                                    'stroke-width': 1.5, 'vector-effect': 'non-scaling-stroke'}));
    }
    const last = series.map((s) => {
      const p = s.points.filter((q) => q[m.i] !== null).pop();
      return p ? `${s.pool} ${m.fmt(p[m.i])}` : null;
    }).filter(Boolean).join(', ');
    return el('div', {class: 'chart', 'data-metric': m.title},
              el('div', {class: 'title'}, el('span', {}, m.title), el('span', {}, 'max ' + m.fmt(top))),
              chart, el('div', {class: 'muted'}, last || 'no data'), );
  })));
}

function checkText(c) {
  const v = (x) => (/rate/.test(c.name) ? pct(x, 2) : /ratio/.test(c.name) ? x.toFixed(2) + '×'
                     : /seconds|p99/.test(c.name) ? ms(x) : String(x));
  return `${c.name} ${v(c.measured)} vs ${v(c.threshold)}`;
}

function renderRollout(r) {
  const spec = parseJson(r.spec_json);
  const active = !['promoted', 'aborted'].includes(r.phase);
  const steps = (spec.steps || []).map((s, i) => {
    const n = i + 1;
    const cls = r.phase === 'promoted' || n < r.step ? 'step done' : n === r.step && active ? 'step current' : 'step';
    return el('li', {class: cls, 'data-step': n}, `${n}: ${s}%`);
  });
  const gates = (r.gates || []).map((g) => el('li', {class: 'gate ' + g.state, 'data-gate': g.name},
                                             `${g.name}: ${g.state}${g.detail ? ' — ' + g.detail : ''}`));
  const canApprove = (r.gates || []).some((g) => g.name === 'approval' && g.state === 'pending');
  const verbs = !active ? [] : [
    r.phase === 'paused' ? 'resume' : 'pause', 'promote', 'abort', canApprove ? 'approve' : null,
  ].filter(Boolean);
  const actions = role === 'admin' && verbs.length > 0
      ? el('div', {class: 'actions'}, verbs.map((v) => el('button', {
          type: 'button', class: 'action' + (v === 'abort' ? ' danger' : ''), 'data-verb': v,
          onclick: () => confirmAction(r.route, v)}, v[0].toUpperCase() + v.slice(1))))
      : null;
  const decisions = (r.decisions || []).slice(-12).reverse();
  return el('div', {class: 'rollout', 'data-route': r.route, 'data-phase': r.phase, 'data-step': r.step,
                    'data-id': r.id},
    el('h3', {}, `Release #${r.id}: ${r.strategy} ${r.stable} → ${r.candidate} `,
       el('span', {class: 'phase ' + r.phase}, r.phase)),
    el('div', {class: 'muted'},
       `step ${r.step} of ${r.total_steps}, candidate ${r.candidate_percent}%`,
       r.started_by ? `, started by ${r.started_by} ${when(r.start_time)}` : '',
       active && r.next_analysis_time ? `, next analysis ${when(r.next_analysis_time)}` : '',
       r.outcome_reason ? ` — ${r.outcome_reason}` : ''),
    steps.length ? el('ol', {class: 'steps'}, steps) : null,
    gates.length ? el('ul', {class: 'gates'}, gates) : null,
    actions,
    decisions.length === 0 ? null : el('table', {class: 'decisions'},
      el('tr', {}, el('th', {}, 'time'), el('th', {}, 'step'), el('th', {}, 'decision'),
         el('th', {}, 'checks'), el('th', {}, 'detail')),
      decisions.map((d) => el('tr', {'data-kind': d.kind},
        el('td', {}, when(d.time)), el('td', {}, d.step), el('td', {}, d.kind + (d.actor ? ` (${d.actor})` : '')),
        el('td', {}, (d.checks || []).map((c) => el('div', {class: 'check ' + (c.ok ? 'ok' : 'fail')},
                                                    checkText(c) + (c.ok ? ' ok' : ' FAIL')))),
        el('td', {}, d.detail)))));
}

function renderEndpoints(pools) {
  return el('table', {}, el('tr', {}, el('th', {}, 'pool'), el('th', {}, 'endpoints')),
            pools.map((p) => el('tr', {'data-pool': p.name}, el('td', {}, p.name),
              el('td', {}, (p.endpoints || []).map((e) => el('span', {class: 'endpoint', 'data-healthy': e.healthy},
                el('span', {class: 'dot ' + (e.healthy ? 'up' : 'down')}), e.address + (e.healthy ? '' : ' (unhealthy)'), ' '))))));
}

function renderVersions(versions) {
  if (versions.length === 0) return el('p', {class: 'muted'}, 'No version registered.');
  return el('table', {}, el('tr', {}, ['version', 'pool', 'state', 'serving', 'registered by'].map((h) => el('th', {}, h))),
            versions.map((v) => el('tr', {'data-version': v.name}, el('td', {}, v.name), el('td', {}, v.pool),
              el('td', {}, v.state),
              el('td', {}, (v.shares || []).map((s) => `${s.route} ${pct(s.share)}`).join(', ') || '—'),
              el('td', {}, v.registered_by || ''))));
}

function renderHistory(releases) {
  if (releases.length === 0) return el('p', {class: 'muted'}, 'No release yet.');
  return el('table', {}, el('tr', {}, ['#', 'route', 'strategy', 'release', 'outcome', 'started', 'ended', 'reason']
                                  .map((h) => el('th', {}, h))),
            releases.slice(-20).reverse().map((r) => el('tr', {'data-id': r.id, 'data-outcome': r.outcome},
              el('td', {}, r.id), el('td', {}, r.route), el('td', {}, r.strategy),
              el('td', {}, `${r.stable} → ${r.candidate}`), el('td', {class: 'phase ' + r.outcome}, r.outcome),
              el('td', {}, when(r.start_time) + (r.started_by ? ` by ${r.started_by}` : '')),
              el('td', {}, when(r.end_time)), el('td', {}, r.outcome_reason || r.reason || ''))));
}

// ---- actions -------------------------------------------------------------------------

function confirmAction(route, verb) {
  pending = {route, verb};
  $('confirm-text').textContent = `${verb[0].toUpperCase() + verb.slice(1)} the rollout of route ${route}?`;
  $('confirm-reason').value = '';
  $('confirm-error').textContent = '';
  $('confirm-ok').textContent = verb[0].toUpperCase() + verb.slice(1);
  $('confirm').hidden = false;
  $('confirm-reason').focus();
}

async function runAction() {
  if (!pending) return;
  const {route, verb} = pending;
  const res = await fetch(`/api/rollouts/${encodeURIComponent(route)}/${verb}`, {
    method: 'POST',
    headers: {Authorization: 'Bearer ' + token, 'Content-Type': 'application/json'},
    body: JSON.stringify({reason: $('confirm-reason').value || `${verb} from the dashboard`}),
  });
  if (!res.ok) {
    $('confirm-error').textContent = (await res.json().catch(() => ({}))).error || res.statusText;
    return;
  }
  pending = null;
  $('confirm').hidden = true;
}

document.addEventListener('DOMContentLoaded', () => {
  $('signin').addEventListener('click', () => signIn($('token').value.trim()));
  $('token').addEventListener('keydown', (e) => { if (e.key === 'Enter') signIn($('token').value.trim()); });
  $('signout').addEventListener('click', () => signOut(''));
  $('confirm-ok').addEventListener('click', runAction);
  $('confirm-cancel').addEventListener('click', () => { pending = null; $('confirm').hidden = true; });
  if (token) signIn(token); else showLogin();
});
