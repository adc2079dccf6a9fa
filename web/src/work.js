// `/work` — the staff workbench (every staff role, desktop): sign in, a queue of events
// with filters kept in the URL query (so a filtered queue can be shared as a link),
// counts per status, overdue and due within 24 h, batch assignment of the selected
// rows, the shared event detail with the caller's actions (event_detail.js), walk-in
// and phone registration for the reception window, and the alerts (unread count from
// /api/v1/alerts, kept current by the live stream).

import './work.css';
import { capabilities, describeError, esc, fetchJSON, formatCount, HttpError, CATEGORY_LABELS, STATUS_LABELS, label } from './common.js';
import { session, authJSON } from './session.js';
import {
  showEventDetail, formDialog, transition, assignees, when, placeName, chineseDateFields, assignFieldsHTML, assignBody, bindAssignFields,
  ROLE_LABELS, SOURCE_LABELS, TIER_LABELS, personName,
} from './event_detail.js';

const $ = (id) => document.getElementById(id);
const PAGE = 50;
const OPEN = 'accepted,mediating,resolved,diverted';
const FILTERS = ['status', 'category', 'source', 'owner', 'grid', 'risk_tier', 'from', 'to', 'overdue', 'escalated', 'supervised'];
const INTAKE_SOURCES = ['visitor', 'higher_level', 'department', 'township', 'grid_worker'];
const ALERT_LABELS = { due_soon: '即将到期', overdue: '已超期', large_risk: '重大风险', supervised: '督办' };

const app = { me: null, caps: null, page: [], total: 0, offset: 0, selected: new Set(), current: null, stream: null, gridNames: new Map() };
window.__minqing = { app };

function say(text, kind = '') {
  const box = $('message');
  box.textContent = text;
  box.className = `message ${kind}`;
  box.hidden = !text;
}

// ---- URL query <-> filters --------------------------------------------------------

function readQuery() {
  const q = new URLSearchParams(location.search);
  const form = $('filters');
  for (const name of FILTERS) {
    const field = form.elements[name];
    if (field.type === 'checkbox') field.checked = q.get(name) === 'true';
    else {
      if (field.dataset.date) field.type = q.get(name) ? 'date' : 'text';
      field.value = q.get(name) || '';
    }
  }
  app.offset = Math.max(0, Number(q.get('offset')) || 0);
  return q.get('event');
}

function writeQuery() {
  const form = $('filters');
  const q = new URLSearchParams();
  for (const name of FILTERS) {
    const field = form.elements[name];
    const v = field.type === 'checkbox' ? (field.checked ? 'true' : '') : field.value;
    if (v) q.set(name, v);
  }
  if (app.offset) q.set('offset', String(app.offset));
  if (app.current) q.set('event', app.current);
  const text = q.toString();
  history.replaceState(null, '', text ? `?${text}` : location.pathname);
}

function listQuery(extra = {}) {
  const q = new URLSearchParams(location.search);
  q.delete('event');
  q.delete('offset');
  for (const [k, v] of Object.entries(extra)) if (v === null) q.delete(k); else q.set(k, v);
  // A shared link may carry empty or unknown parameters: only the filters, with values.
  for (const k of [...q.keys()]) if (!q.get(k) || ![...FILTERS, 'limit', 'offset'].includes(k)) q.delete(k);
  return q;
}

// ---- sign-in ------------------------------------------------------------------------

function showLogin(message = '', kind = 'error') {
  $('work').hidden = true;
  $('logout').hidden = true;
  $('alerts-button').hidden = true;
  $('register').hidden = true;
  $('who').textContent = '';
  $('login').hidden = false;
  say(message, message ? kind : '');
  app.stream?.close();
}
session.onExpired = () => showLogin('登录已过期，请重新登录');

$('login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const form = new FormData(e.target);
  const button = e.target.querySelector('button');
  button.disabled = true;
  say('登录中…');
  try {
    await session.login(form.get('username'), form.get('password'));
    say('');
    await enter();
  } catch (error) {
    say(error instanceof HttpError && (error.status === 401 || error.status === 403) ? '账号或密码错误' : describeError(error), 'error');
  } finally {
    button.disabled = false;
  }
});

$('logout').addEventListener('click', async () => {
  await session.logout();
  showLogin('已退出', 'ok');
});

async function start() {
  app.caps = await capabilities();
  fillFilterOptions();
  if (!session.token()) return showLogin();
  try {
    await enter();
  } catch (error) {
    if (!(error instanceof HttpError && error.status === 401)) say(describeError(error), 'error');
  }
}

async function enter() {
  const me = await authJSON('/api/v1/auth/me').catch(() => session.me());
  if (!me || !session.token()) return showLogin();
  app.me = { ...session.me(), ...me };
  if (app.me.role === 'screen') return showLogin('大屏账号不能办理事件，请使用工作人员账号登录');
  $('login').hidden = true;
  $('work').hidden = false;
  $('logout').hidden = false;
  $('who').textContent = `${app.me.display || app.me.username} · ${ROLE_LABELS[app.me.role] || app.me.role}${app.me.mediation_org ? ` · ${app.me.mediation_org}` : ''}`;
  $('register').hidden = !['reception', 'leader', 'grid_worker'].includes(app.me.role);
  document.body.dataset.role = app.me.role;
  setupWorkload();
  loadGrids();
  loadOwners();
  const event = readQuery();
  await loadQueue();
  if (event) openEvent(event);
  loadAlerts();
  connectStream();
}

// ---- filters --------------------------------------------------------------------------

const optionList = (table, all = '全部') => `<option value="">${all}</option>${Object.entries(table).map(([v, t]) => `<option value="${esc(v)}">${esc(t)}</option>`).join('')}`;

function fillFilterOptions() {
  const form = $('filters');
  form.elements.status.innerHTML = `<option value="">全部</option><option value="${OPEN}">在办（未办结）</option>${Object.entries(STATUS_LABELS).filter(([k]) => k !== 'overdue').map(([v, t]) => `<option value="${v}">${t}</option>`).join('')}`;
  form.elements.category.innerHTML = optionList(CATEGORY_LABELS);
  form.elements.source.innerHTML = optionList(SOURCE_LABELS);
  form.elements.risk_tier.innerHTML = optionList(TIER_LABELS);
  chineseDateFields(form);
  form.addEventListener('change', () => { app.offset = 0; writeQuery(); loadQueue(); });
  $('filters-reset').addEventListener('click', () => {
    form.reset();
    form.querySelectorAll('[data-date]').forEach((i) => { i.type = 'text'; });
    app.offset = 0;
    writeQuery();
    loadQueue();
  });
}

async function loadGrids() {
  try {
    const grids = await fetchJSON('/api/v1/areas?level=grid');
    const communities = await fetchJSON('/api/v1/areas?level=community').catch(() => ({ features: [] }));
    const names = new Map(communities.features.map((f) => [f.properties.code, f.properties.name]));
    const select = $('filters').elements.grid;
    const keep = new URLSearchParams(location.search).get('grid') || '';
    const mine = app.me.grids?.length ? grids.features.filter((f) => app.me.grids.includes(f.properties.code)) : grids.features;
    const rows = mine.map((f) => [f.properties.code, `${names.get(f.properties.parent) || ''} ${f.properties.name}`.trim()]).sort((a, b) => a[1].localeCompare(b[1], 'zh-CN'));
    for (const [code, name] of rows) app.gridNames.set(code, name);
    select.innerHTML = `<option value="">全部</option>${rows.map(([code, name]) => `<option value="${esc(code)}">${esc(name)}</option>`).join('')}`;
    select.value = keep;
  } catch { /* the grid filter keeps 全部 */ }
}

async function loadOwners() {
  const select = $('filters').elements.owner;
  const keep = new URLSearchParams(location.search).get('owner') || '';
  // The account list is for the roles that assign cases (leaders, reception, risk centre).
  const assigning = ['leader', 'reception', 'risk_centre'].includes(app.me.role);
  const people = assigning ? (await assignees()).filter((p) => !['screen', 'admin'].includes(p.role)) : [];
  $('batch-assign').hidden = !assigning;
  $('select-all').closest('label').hidden = !assigning;
  $('queue').classList.toggle('no-select', !assigning);
  select.innerHTML = `<option value="">全部</option><option value="me">我的</option>${people.map((p) => `<option value="${esc(p.username)}">${esc(personName(p))}（${esc(ROLE_LABELS[p.role] || p.role)}）</option>`).join('')}`;
  select.value = keep;
}

// ---- the queue -------------------------------------------------------------------------

let queueRequest = 0;
async function loadQueue() {
  const request = ++queueRequest;
  const q = listQuery({ limit: String(PAGE), offset: String(app.offset) });
  const body = $('queue').querySelector('tbody');
  let answer;
  try {
    answer = await authJSON(`/api/v1/events?${q}`);
  } catch (error) {
    if (request === queueRequest) body.innerHTML = `<tr><td colspan="7" class="muted">${esc(describeError(error))}</td></tr>`;
    return;
  }
  if (request !== queueRequest) return;
  app.page = answer.events || [];
  app.total = answer.total;
  renderCounts(answer);
  const now = Date.now() / 1000;
  body.innerHTML = app.page.length
    ? app.page.map((ev) => {
        const deadline = typeof ev.deadline === 'number' ? ev.deadline : Date.parse(ev.deadline) / 1000;
        const soon = !ev.overdue && deadline - now < 86_400 && !['closed', 'followed_up'].includes(ev.status);
        return `<tr data-code="${esc(ev.code)}" class="${ev.code === app.current ? 'current' : ''}">
          <td><input type="checkbox" data-select="${esc(ev.code)}" ${app.selected.has(ev.code) ? 'checked' : ''} aria-label="选择" /></td>
          <td>${esc(ev.title || ev.code)}${ev.supervision ? '<span class="tag">督办</span>' : ''}${ev.risk_tier === 'large' ? '<span class="tag">重大风险</span>' : ''}<br><small>${esc(ev.code)} · ${esc(SOURCE_LABELS[ev.source] || ev.source)}</small></td>
          <td>${esc(label(CATEGORY_LABELS, ev.category))}</td>
          <td>${esc(label(STATUS_LABELS, ev.status))}</td>
          <td>${esc(placeName(ev) || '—')}</td>
          <td>${ev.owner ? esc(personName(ev.owner, ev.owner_unit)) : '<small>未指派</small>'}${ev.owner_unit ? `<br><small>${esc(ev.owner_unit.name)}</small>` : ''}</td>
          <td class="${ev.overdue ? 'overdue' : ''}">${esc(when(ev.deadline, true))}${ev.overdue ? '<br>已超期' : soon ? '<br><small class="overdue">24 小时内到期</small>' : ''}</td></tr>`;
      }).join('')
    : '<tr><td colspan="7" class="muted">没有符合筛选条件的事件</td></tr>';
  $('range').textContent = answer.total ? `第 ${app.offset + 1}–${app.offset + app.page.length} 条，共 ${formatCount(answer.total)} 条` : '共 0 条';
  $('prev').disabled = app.offset === 0;
  $('next').disabled = app.offset + PAGE >= answer.total;
  $('queue').dataset.total = String(answer.total);
  $('queue').dataset.loaded = String(Date.now());
}

function renderCounts(answer) {
  const counts = answer.counts;
  if (!counts) {
    $('counts').innerHTML = `<span class="muted">共 ${formatCount(answer.total)} 件</span>`;
    return;
  }
  const byStatus = counts.by_status || {};
  const current = $('filters').elements.status.value;
  const overdueOn = $('filters').elements.overdue.checked;
  const all = Object.values(byStatus).reduce((a, b) => a + b, 0);
  const chips = [['', '全部', all]];
  for (const [code, name] of Object.entries(STATUS_LABELS)) if (code !== 'overdue') chips.push([code, name, byStatus[code] ?? 0]);
  $('counts').innerHTML = `${chips.map(([code, name, n]) => `<button type="button" data-status="${code}" class="${current === code ? 'active' : ''}">${esc(name)}<b>${formatCount(n)}</b></button>`).join('')}
    <button type="button" data-overdue="1" class="warn ${overdueOn ? 'active' : ''}">已超期<b>${formatCount(counts.overdue ?? 0)}</b></button>
    <span class="muted">24 小时内到期 <b data-count="due_24h">${formatCount(counts.due_24h ?? 0)}</b></span>`;
  $('counts').querySelectorAll('button[data-status]').forEach((b) => b.addEventListener('click', () => {
    $('filters').elements.status.value = b.dataset.status;
    $('filters').dispatchEvent(new Event('change'));
  }));
  $('counts').querySelector('button[data-overdue]').addEventListener('click', () => {
    $('filters').elements.overdue.checked = !overdueOn;
    $('filters').dispatchEvent(new Event('change'));
  });
}

$('queue').addEventListener('click', (e) => {
  const box = e.target.closest('input[data-select]');
  if (box) {
    if (box.checked) app.selected.add(box.dataset.select); else app.selected.delete(box.dataset.select);
    updateSelection();
    return;
  }
  const row = e.target.closest('tr[data-code]');
  if (row) openEvent(row.dataset.code);
});
$('select-all').addEventListener('change', (e) => {
  for (const ev of app.page) if (e.target.checked) app.selected.add(ev.code); else app.selected.delete(ev.code);
  $('queue').querySelectorAll('input[data-select]').forEach((b) => { b.checked = e.target.checked; });
  updateSelection();
});
function updateSelection() {
  $('selected-count').textContent = String(app.selected.size);
  $('batch-assign').disabled = app.selected.size === 0;
}
$('prev').addEventListener('click', () => { app.offset = Math.max(0, app.offset - PAGE); writeQuery(); loadQueue(); });
$('next').addEventListener('click', () => { app.offset += PAGE; writeQuery(); loadQueue(); });

async function openEvent(code) {
  app.current = code;
  writeQuery();
  $('queue').querySelectorAll('tr[data-code]').forEach((r) => r.classList.toggle('current', r.dataset.code === code));
  await showEventDetail($('detail'), code, { onChanged: () => loadQueue() });
}

// ---- batch assign ----------------------------------------------------------------------

$('batch-assign').addEventListener('click', async () => {
  const codes = [...app.selected];
  const people = (await assignees()).filter((p) => !['screen', 'admin'].includes(p.role));
  let report = null;
  const pending = formDialog(`批量指派 ${codes.length} 件事件`, `<div class="ed-fields" data-action="assign">${assignFieldsHTML(people)}</div>`, async (form) => {
    const failures = [];
    let done = 0;
    for (const code of codes) {
      try {
        const ev = await authJSON(`/api/v1/events/${encodeURIComponent(code)}`);
        await transition(code, { action: 'assign', note: form.get('note') || '', version: ev.version, ...assignBody(form) });
        done++;
      } catch (error) {
        failures.push(`${code}：${error.message}`);
      }
    }
    report = { done, failures };
    if (done === 0) throw new Error(`全部指派失败：${failures.slice(0, 3).join('；')}`);
    return report;
  }, { submitLabel: '指派' });
  bindAssignFields(document.querySelector('dialog.ed-dialog:last-of-type form'), people);
  await pending;
  if (!report) return;
  app.selected.clear();
  updateSelection();
  $('select-all').checked = false;
  say(`已指派 ${report.done} 件${report.failures.length ? `，${report.failures.length} 件失败：${report.failures.slice(0, 3).join('；')}` : ''}`, report.failures.length ? 'error' : 'ok');
  loadQueue();
  if (app.current && codes.includes(app.current)) openEvent(app.current);
});

// ---- registration (walk-in, phone, 12345) ------------------------------------------------

$('register').addEventListener('click', async () => {
  let created = null;
  await formDialog('登记来访 / 来电', `<div class="ed-fields" data-action="intake">
      <label>来源<select name="source" required>${INTAKE_SOURCES.filter((s) => SOURCE_LABELS[s]).map((s) => `<option value="${s}">${esc(SOURCE_LABELS[s])}</option>`).join('')}</select></label>
      <label>类别<select name="category" required>${Object.entries(CATEGORY_LABELS).map(([v, t]) => `<option value="${v}">${esc(t)}</option>`).join('')}</select></label>
      <label>事项<input name="title" required maxlength="80" placeholder="如：邻里漏水纠纷" /></label>
      <label>情况描述<textarea name="description" rows="3" maxlength="2000"></textarea></label>
      <label>发生地址<input name="address" required maxlength="200" placeholder="如：某某路 12 号 3 栋" /></label>
      <label>风险等级<select name="risk_tier">${Object.entries(TIER_LABELS).map(([v, t]) => `<option value="${v}">${esc(t)}</option>`).join('')}</select></label></div>`, async (form) => {
    const body = Object.fromEntries(['source', 'category', 'title', 'description', 'address', 'risk_tier'].map((k) => [k, form.get(k)]));
    try {
      created = await authJSON('/api/v1/events', {
        method: 'POST', headers: { 'Content-Type': 'application/json', 'Idempotency-Key': crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) },
        body: JSON.stringify(body),
      });
    } catch (error) {
      if (error instanceof HttpError && error.status === 422) throw new Error(`无法确定地址或填写有误：${error.message}`);
      throw new Error(describeError(error));
    }
    return created;
  }, { submitLabel: '登记' });
  if (!created) return;
  const dups = created.possible_duplicates || [];
  say(`已登记 ${created.code}${dups.length ? `，发现 ${dups.length} 件疑似重复事件，请在详情中核对` : ''}`, 'ok');
  document.body.dataset.registered = created.code;
  await loadQueue();
  openEvent(created.code);
});

// ---- alerts and the live stream ----------------------------------------------------------

async function loadAlerts() {
  if (!app.caps.has('/api/v1/alerts')) return;
  let answer;
  try {
    answer = await authJSON('/api/v1/alerts');
  } catch {
    return;
  }
  $('alerts-button').hidden = false;
  const unread = answer.unread ?? 0;
  const badge = $('alerts-unread');
  badge.textContent = String(unread);
  badge.classList.toggle('unread', unread > 0);
  badge.dataset.unread = String(unread);
  const list = answer.alerts || [];
  $('alerts-panel').innerHTML = `<h3>预警 <small class="muted">${unread} 条未读</small></h3>${list.length
    ? `<ul>${list.slice(0, 50).map((a) => `<li data-code="${esc(a.code)}"><span class="kind">${esc(ALERT_LABELS[a.kind] || a.kind)}</span>${esc(a.title || a.code)}<br><small class="muted">${esc(a.code)} · ${esc(when(a.at))}</small></li>`).join('')}</ul>`
    : '<p class="muted">暂无预警</p>'}`;
  $('alerts-panel').querySelectorAll('li[data-code]').forEach((li) => li.addEventListener('click', () => { $('alerts-panel').hidden = true; openEvent(li.dataset.code); }));
}

$('alerts-button').addEventListener('click', async () => {
  const panel = $('alerts-panel');
  panel.hidden = !panel.hidden;
  if (!panel.hidden && Number($('alerts-unread').dataset.unread) > 0) {
    await authJSON('/api/v1/alerts/read', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' }).catch(() => {});
    const badge = $('alerts-unread');
    badge.textContent = '0';
    badge.dataset.unread = '0';
    badge.classList.remove('unread');
    loadAlerts();
  }
});

let refreshTimer = null;
function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => loadQueue(), 300);
}

// ---- 工作量: model 5 per owner, organisation and unit (leaders) ---------------------

const UNIT_KIND_LABELS = { mediation_org: '调解组织', department: '部门', grid: '网格', reception: '综合受理窗口', risk_centre: '社会风险研判中心' };
let workloadReady = false;

function setupWorkload() {
  const button = $('workload-button');
  button.hidden = !(app.caps.has('/api/v1/analysis/workload') && ['leader', 'admin'].includes(app.me.role));
  if (button.hidden || workloadReady) return;
  workloadReady = true;
  button.addEventListener('click', () => showWorkload(button.getAttribute('aria-pressed') !== 'true'));
  $('workload-period').addEventListener('submit', (e) => { e.preventDefault(); loadWorkload(); });
  if (new URLSearchParams(location.search).get('view') === 'workload') showWorkload(true);
}

function showWorkload(on) {
  $('workload-button').setAttribute('aria-pressed', String(on));
  $('workload').hidden = !on;
  $('work').hidden = on;
  const q = new URLSearchParams(location.search);
  if (on) q.set('view', 'workload'); else q.delete('view');
  history.replaceState(null, '', q.toString() ? `?${q}` : location.pathname);
  if (on) loadWorkload();
}

const days = (d) => (d == null ? '—' : `${d.toFixed(1)} 天`);
const rate = (r) => (r == null ? '—' : `${(r * 100).toFixed(1)}%`);

function workloadRows(rows, name) {
  const head = `<thead><tr><th>${name}</th><th class="num">在办</th><th class="num">期内办结</th><th class="num">办结用时（中位数）</th><th class="num">超期</th><th class="num">满意率</th><th class="num">受理</th></tr></thead>`;
  const sorted = [...rows].sort((a, b) => b.open - a.open || b.events - a.events);
  const body = sorted.map((r) => `<tr><td>${esc(r.name)}</td><td class="num">${formatCount(r.open)}</td><td class="num">${formatCount(r.closed)}</td><td class="num">${days(r.median_closure_days)}</td><td class="num${r.overdue_open ? ' overdue' : ''}">${formatCount(r.overdue_open)}</td><td class="num">${rate(r.satisfaction_rate)}</td><td class="num">${formatCount(r.events)}</td></tr>`).join('');
  return `${head}<tbody>${body || '<tr><td colspan="7" class="muted">所选时段无记录</td></tr>'}</tbody>`;
}

async function loadWorkload() {
  const form = $('workload-period');
  const q = new URLSearchParams();
  for (const k of ['from', 'to']) if (form.elements[k].value) q.set(k, form.elements[k].value);
  try {
    const w = await authJSON(`/api/v1/analysis/workload${q.toString() ? `?${q}` : ''}`);
    const { from, to } = w.window || {};
    if (from && !form.elements.from.value) form.elements.from.value = from;
    if (to && !form.elements.to.value) form.elements.to.value = to;
    $('workload-range').textContent = from || to ? `统计时段 ${from || '最早'} 至 ${to || '最新'}（按受理日期；在办、超期按当前状态）` : '全部时段';
    $('workload-empty').hidden = w.total.events > 0;
    $('workload-empty').textContent = '所选时段没有受理的事件';
    $('workload-owners').innerHTML = workloadRows(w.by_owner.map((r) => ({ ...r, name: r.display })), '承办人');
    $('workload-orgs').innerHTML = workloadRows(w.by_org.map((r) => ({ ...r, name: r.org })), '调解组织');
    $('workload-units').innerHTML = workloadRows(w.by_unit.map((r) => ({ ...r, name: `${r.unit.name}（${UNIT_KIND_LABELS[r.unit.kind] || '单位'}）` })), '责任单位');
  } catch (error) {
    say(describeError(error), 'error');
  }
}

function connectStream() {
  if (!app.caps.has('/api/v1/events/stream')) return;
  app.stream?.close();
  const source = new EventSource(`/api/v1/events/stream?access_token=${encodeURIComponent(session.token())}`);
  app.stream = source;
  source.addEventListener('event', (m) => {
    let change;
    try { change = JSON.parse(m.data); } catch { return; }
    refreshSoon();
    const code = change.event?.code;
    const detail = $('detail');
    // The open event changed elsewhere: reload it unless a form is open on it.
    if (code && code === app.current && !detail.dataset.busy && detail.dataset.version !== String(change.event.version) && !document.querySelector('dialog.ed-dialog[open]')) {
      showEventDetail(detail, code, { onChanged: () => loadQueue() });
    }
  });
  source.addEventListener('alert', () => loadAlerts());
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED && session.token()) setTimeout(connectStream, 5000);
  };
}
window.addEventListener('pagehide', () => app.stream?.close());

start();
