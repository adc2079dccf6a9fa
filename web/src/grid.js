// `/grid` — the grid worker's phone view: sign in, my grid and its buildings, a
// building's households (masked, when the server has such an endpoint), my open tasks
// and their transitions, and reporting an event with a photo.
//
// The bearer token lives in sessionStorage (gone when the tab closes); any 401 clears
// it and asks to sign in again.

import maplibregl from 'maplibre-gl';
import 'maplibre-gl/dist/maplibre-gl.css';
import './grid.css';
import {
  baseStyle, bounds, capabilities, describeError, esc, fetchJSON, HttpError, quietMapErrors, tileURL,
  CATEGORY_LABELS, STATUS_LABELS, label, MAP_FONTS, MAP_LOCALE,
  addOutsideBasemap,
} from './common.js';
import { addBasemap } from './basemap.js';
import { contains } from './draw.js';
import { showEventDetail, when, placeName, TASK_KIND_LABELS, VISIT_KIND_LABELS } from './event_detail.js';
import { loadForces } from './forces_grid.js';

const TOKEN_KEY = 'minqing.token';
const ME_KEY = 'minqing.me';
const OPEN_STATUSES = 'accepted,mediating';

const $ = (id) => document.getElementById(id);
const app = { caps: null, me: null, map: null, point: null, marker: null, grids: null };

function say(text, kind = '') {
  const box = $('message');
  box.textContent = text;
  box.className = `message ${kind}`;
  box.hidden = !text;
  if (text && kind) box.scrollIntoView({ block: 'nearest' });
}

const token = () => sessionStorage.getItem(TOKEN_KEY);

/** fetchJSON with the bearer token; a 401 ends the session. */
async function authJSON(path, options = {}) {
  const headers = { ...(options.headers || {}) };
  if (token()) headers.Authorization = `Bearer ${token()}`;
  try {
    return await fetchJSON(path, { ...options, headers });
  } catch (error) {
    if (error instanceof HttpError && error.status === 401 && token()) expire();
    throw error;
  }
}

function expire() {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(ME_KEY);
  showLogin('登录已过期，请重新登录');
}

function showLogin(message, kind = 'error') {
  $('work').hidden = true;
  $('logout').hidden = true;
  $('login').hidden = false;
  say(message, message ? kind : '');
}

async function start() {
  app.caps = await capabilities();
  if (!app.caps.has('/api/v1/auth/login')) {
    say('登录功能暂不可用（服务器尚未启用账号），以下为全区网格的只读地图', '');
    return showWork(null);
  }
  if (!token()) return showLogin('');
  try {
    app.me = app.caps.has('/api/v1/auth/me') ? await authJSON('/api/v1/auth/me') : JSON.parse(sessionStorage.getItem(ME_KEY) || 'null');
  } catch (error) {
    if (!(error instanceof HttpError && error.status === 401)) say(describeError(error), 'error');
    return;
  }
  showWork(app.me);
}

$('login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const form = new FormData(e.target);
  const button = e.target.querySelector('button');
  button.disabled = true;
  say('登录中…');
  try {
    const answer = await fetchJSON('/api/v1/auth/login', {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: form.get('username'), password: form.get('password') }),
    });
    sessionStorage.setItem(TOKEN_KEY, answer.token);
    const me = { username: answer.username || form.get('username'), role: answer.role, grids: answer.grids || [], mediation_org: answer.mediation_org || null };
    sessionStorage.setItem(ME_KEY, JSON.stringify(me));
    app.me = me;
    say('');
    showWork(me);
  } catch (error) {
    say(error instanceof HttpError && (error.status === 401 || error.status === 403) ? '账号或密码错误' : describeError(error), 'error');
  } finally {
    button.disabled = false;
  }
});

$('logout').addEventListener('click', async () => {
  if (app.caps.has('/api/v1/auth/logout')) await authJSON('/api/v1/auth/logout', { method: 'POST' }).catch(() => {});
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(ME_KEY);
  stream?.close();
  $('alerts-badge').hidden = true;
  $('alerts-list').hidden = true;
  showLogin('已退出', 'ok');
});

document.querySelectorAll('.tabs button').forEach((b) =>
  b.addEventListener('click', () => {
    document.querySelectorAll('.tabs button').forEach((o) => o.classList.toggle('active', o === b));
    document.querySelectorAll('.tab').forEach((t) => { t.hidden = t.id !== `tab-${b.dataset.tab}`; });
  }),
);

async function showWork(me) {
  $('login').hidden = true;
  $('work').hidden = false;
  $('logout').hidden = !me;
  const grids = me?.grids || [];
  $('who').textContent = me ? `${me.username}` : '访客（只读）';
  if (!app.map) await initMap(grids);
  if (me) {
    const names = (app.grids?.features || []).map((f) => f.properties.name);
    const role = { grid_worker: '网格员', mediator: '调解员', leader: '领导', reception: '综合受理窗口', risk_centre: '社会风险中心', admin: '管理员' }[me.role] || '';
    $('who').textContent = `${role}${names.length ? ` · ${names.join('、')}` : me.mediation_org ? ` · ${me.mediation_org}` : ''}`;
  }
  loadTasks(grids);
  if (me) { loadAlerts(); connectStream(); }
  if (me) loadForces({ authJSON, grids, caps: app.caps, say });
}

// ---- alerts (unread count) and the live stream ---------------------------------------
const ALERT_LABELS = { due_soon: '即将到期', overdue: '已超期', large_risk: '重大风险', supervised: '督办' };
async function loadAlerts() {
  if (!app.caps.has('/api/v1/alerts')) return;
  try {
    const answer = await authJSON('/api/v1/alerts');
    const unread = answer.unread ?? 0;
    $('alerts-badge').hidden = false;
    $('alerts-unread').textContent = String(unread);
    $('alerts-unread').classList.toggle('unread', unread > 0);
    const list = answer.alerts || [];
    $('alerts-list').innerHTML = list.length
      ? `<ul>${list.slice(0, 30).map((a) => `<li data-code="${esc(a.code)}"><span class="kind">${esc(ALERT_LABELS[a.kind] || a.kind)}</span>${esc(a.title || a.code)} <small class="muted">${esc(when(a.at))}</small></li>`).join('')}</ul>`
      : '<p class="muted">暂无预警</p>';
  } catch { /* the badge stays hidden */ }
}
$('alerts-badge').addEventListener('click', async () => {
  const box = $('alerts-list');
  box.hidden = !box.hidden;
  if (!box.hidden && $('alerts-unread').textContent !== '0') {
    await authJSON('/api/v1/alerts/read', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' }).catch(() => {});
    $('alerts-unread').textContent = '0';
    $('alerts-unread').classList.remove('unread');
  }
});

let stream = null;
let tasksTimer = null;
function connectStream() {
  if (!app.caps.has('/api/v1/events/stream') || !token()) return;
  stream?.close();
  stream = new EventSource(`/api/v1/events/stream?access_token=${encodeURIComponent(token())}`);
  stream.addEventListener('alert', () => { loadAlerts(); });
  // A change to one of my tasks (elsewhere): refresh the list unless a form is open.
  stream.addEventListener('event', (m) => {
    let code = null;
    try { code = JSON.parse(m.data).event?.code; } catch { return; }
    if (!code || document.querySelector('dialog[open], .task-detail[data-busy]') || !$('tasks').querySelector(`li[data-code="${CSS.escape(code)}"]`)) return;
    clearTimeout(tasksTimer);
    tasksTimer = setTimeout(() => loadTasks(app.me?.grids || []), 500);
  });
  window.addEventListener('pagehide', () => stream?.close(), { once: true });
}

async function initMap(grids) {
  const map = new maplibregl.Map({ container: 'map', style: baseStyle('#eef1f4'), center: [104.4, 31.13], zoom: 11, attributionControl: false, localIdeographFontFamily: MAP_FONTS.join(', '), locale: MAP_LOCALE });
  app.map = map;
  window.__minqing = { map, app };
  quietMapErrors(map, () => {});
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
  await new Promise((resolve) => map.on('load', resolve));
  addOutsideBasemap(map).catch(() => {});
  try {
    const all = await fetchJSON('/api/v1/areas?level=grid');
    const mine = grids.length ? { type: 'FeatureCollection', features: all.features.filter((f) => grids.includes(f.properties.code)) } : all;
    app.grids = grids.length ? mine : null;
    map.addSource('grids', { type: 'geojson', data: mine });
    map.addLayer({ id: 'grids-fill', type: 'fill', source: 'grids', paint: { 'fill-color': '#198754', 'fill-opacity': 0.1 } });
    map.addLayer({ id: 'grids-line', type: 'line', source: 'grids', paint: { 'line-color': '#198754', 'line-width': grids.length ? 3 : 1 } });
    const box = bounds(mine.features.length ? mine : all);
    if (box) map.fitBounds(box, { padding: 20, duration: 0 });
  } catch (error) {
    say(`网格边界${describeError(error)}`, 'error');
  }
  await addBasemap(map).catch(() => false);
  if (app.caps.tiles && (app.caps.tileLayers.size === 0 || app.caps.tileLayers.has('buildings'))) {
    map.addSource('buildings', { type: 'vector', tiles: [tileURL(['buildings'])], maxzoom: 16 });
    map.addLayer({ id: 'buildings', type: 'circle', source: 'buildings', 'source-layer': 'buildings', filter: ['==', ['geometry-type'], 'Point'], paint: { 'circle-radius': ['interpolate', ['linear'], ['zoom'], 14, 3, 18, 8], 'circle-color': '#374151', 'circle-stroke-color': '#fff', 'circle-stroke-width': 1 } });
  }
  map.on('click', (e) => {
    if (!$('tab-report').hidden) return setPoint([e.lngLat.lng, e.lngLat.lat], '地图选点');
    const hit = map.getLayer('buildings') ? map.queryRenderedFeatures(e.point, { layers: ['buildings'] })[0] : null;
    if (hit) showBuilding(hit.properties);
  });
  map.once('idle', () => { document.body.dataset.ready = '1'; });
}

function setPoint(lngLat, how) {
  app.point = lngLat;
  if (!app.marker) app.marker = new maplibregl.Marker({ color: '#dc3545' });
  app.marker.setLngLat(lngLat).addTo(app.map);
  $('point-label').textContent = `位置（${how}）：${lngLat[0].toFixed(6)}, ${lngLat[1].toFixed(6)}`;
  // A point outside my grids: say so before it is sent (the event goes to another grid).
  const outside = app.grids && !app.grids.features.some((f) => contains(f.geometry, lngLat[0], lngLat[1]));
  const warning = $('point-warning');
  warning.hidden = !outside;
  warning.textContent = outside ? '注意：所选位置不在您负责的网格内，上报后将转到所在网格处理；如有误请重新在地图上点选' : '';
  $('report-form').dataset.outside = outside ? '1' : '';
}

$('locate').addEventListener('click', () => {
  if (!navigator.geolocation) return say('此设备不支持定位，请在地图上点选位置', 'error');
  navigator.geolocation.getCurrentPosition(
    (p) => { setPoint([p.coords.longitude, p.coords.latitude], '当前定位'); app.map.flyTo({ center: app.point, zoom: 16 }); },
    () => say('无法获取定位，请在地图上点选位置', 'error'),
    { enableHighAccuracy: true, timeout: 10_000 },
  );
});

// ---- buildings and households -----------------------------------------------------

/** The OpenAPI path of a building's households endpoint, if the server has one. */
function householdsPath() {
  return [...app.caps.paths].find((p) => /households/.test(p) && /\{[^}]+\}/.test(p)) || null;
}

async function showBuilding(props) {
  document.querySelector('.tabs button[data-tab="building"]').click();
  const box = $('building');
  const code = props.code || props.building_code;
  const counts = Object.entries(props).filter(([k]) => k !== 'code').map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('');
  box.innerHTML = `<table><tr><th>楼栋编码</th><td>${esc(code)}</td></tr>${counts}</table><div id="households"><p class="muted">住户加载中…</p></div>`;
  const path = householdsPath();
  const target = $('households');
  if (!path || !code) { target.innerHTML = '<p class="muted">住户信息暂不可用</p>'; return; }
  try {
    const answer = await authJSON(path.replace(/\{[^}]+\}/, encodeURIComponent(code)));
    // `{building_code, grid_code, households: [{household_id, members: [masked resident]}]}`
    const households = answer.households || [];
    target.innerHTML = households.length
      ? `<p>${households.length} 户 · ${households.reduce((n, h) => n + h.members.length, 0)} 人（已脱敏，查看已记入审计日志）</p>
        <table><tr><th>户</th><th>姓名</th><th>关系</th><th>证件号</th></tr>${households.slice(0, 200).map((h, i) => h.members.map((m, j) => `<tr><td>${j === 0 ? i + 1 : ''}</td><td>${esc(m.name)}</td><td>${esc(m.relation || '')}</td><td>${esc(m.id_number)}</td></tr>`).join('')).join('')}</table>`
      : '<p class="muted">无住户记录</p>';
    target.dataset.households = String(households.length);
  } catch (error) {
    target.innerHTML = `<p class="muted">${esc(describeError(error))}</p>`;
  }
}

// ---- tasks ----------------------------------------------------------------------------

/** My tasks: cases, due follow-up visits and supervision notes (/api/v1/tasks), or, on an
 * older server, the open events of my grids. `done` lists what I have finished. */
async function loadTasks(grids) {
  const list = $('tasks');
  loadDone();
  let events;
  try {
    if (app.caps.has('/api/v1/tasks')) {
      const answer = await authJSON('/api/v1/tasks');
      events = Array.isArray(answer) ? answer : answer.tasks || answer.events || [];
    } else if (app.caps.has('/api/v1/events') && grids.length) {
      const answers = await Promise.all(grids.map((g) => authJSON(`/api/v1/events?grid=${encodeURIComponent(g)}&status=${OPEN_STATUSES}&limit=100`)));
      events = answers.flatMap((a) => a.events || []);
    } else if (app.caps.has('/api/v1/events') && app.me) {
      // Roles without grids (a mediator): the open events the server lets them see.
      events = (await authJSON(`/api/v1/events?status=${OPEN_STATUSES}&limit=100`)).events || [];
    } else {
      list.innerHTML = '<li class="muted">登录后显示我的待办任务</li>';
      return;
    }
  } catch (error) {
    list.innerHTML = `<li class="muted">${esc(describeError(error))}</li>`;
    return;
  }
  const seconds = (t) => (typeof t === 'number' ? t : t ? Date.parse(t) / 1000 : Infinity);
  const due = (ev) => (ev.task_kind === 'follow_up_visit' ? seconds(ev.next_visit) : ev.task_kind === 'supervision' ? seconds(ev.supervision?.deadline) : seconds(ev.deadline));
  events.sort((a, b) => due(a) - due(b));
  const now = Date.now() / 1000;
  list.innerHTML = events.length
    ? events.map((ev) => {
        const at = due(ev);
        const overdue = ev.task_kind === 'case' || !ev.task_kind ? ev.overdue ?? at < now : at < now;
        const kind = ev.task_kind || 'case';
        const what = kind === 'follow_up_visit' ? `回访日期 ${when(ev.next_visit, true)}` : kind === 'supervision' ? `督办：${ev.supervision?.note || ''}（期限 ${when(ev.supervision?.deadline, true)}）` : `期限 ${Number.isFinite(at) ? when(at, true) : '—'}`;
        return `<li data-code="${esc(ev.code)}" data-kind="${esc(kind)}"><div class="title"><span class="kind kind-${esc(kind)}">${esc(TASK_KIND_LABELS[kind] || kind)}</span>${esc(ev.title || ev.code)}</div>
        <div class="meta">${esc(label(CATEGORY_LABELS, ev.category))} · ${esc(label(STATUS_LABELS, ev.status))} · ${esc(ev.community?.name || placeName(ev))}</div>
        <div class="meta"><span class="${overdue ? 'overdue' : ''}">${esc(what)}${overdue ? '（已超期）' : ''}</span></div>
        <div class="actions"><button data-open="${esc(ev.code)}">查看并办理</button></div><div class="task-detail" hidden></div></li>`;
      }).join('')
    : '<li class="muted">暂无待办任务</li>';
  list.dataset.count = String(events.length);
  list.querySelectorAll('button[data-open]').forEach((b) => b.addEventListener('click', () => openTask(b.dataset.open, b.closest('li'))));
}

async function loadDone() {
  const list = $('done');
  if (!app.caps.has('/api/v1/tasks')) { list.innerHTML = '<li class="muted">已办列表暂不可用</li>'; return; }
  try {
    const answer = await authJSON('/api/v1/tasks?done=true');
    const events = Array.isArray(answer) ? answer : answer.tasks || answer.events || [];
    list.innerHTML = events.length
      ? events.map((ev) => `<li data-code="${esc(ev.code)}"><div class="title"><span class="kind kind-${esc(ev.task_kind || 'case')}">${esc(TASK_KIND_LABELS[ev.task_kind] || '案件办理')}</span>${esc(ev.title || ev.code)}</div>
          <div class="meta">${esc(label(CATEGORY_LABELS, ev.category))} · ${esc(label(STATUS_LABELS, ev.status))} · ${esc(when(ev.updated_at))}</div>
          ${ev.visits?.length ? `<div class="meta">最近回访：${esc(VISIT_KIND_LABELS[ev.visits[ev.visits.length - 1].kind] || '')} ${esc(ev.visits[ev.visits.length - 1].outcome || '')}</div>` : ''}
          <div class="actions"><button data-open="${esc(ev.code)}">查看</button></div><div class="task-detail" hidden></div></li>`).join('')
      : '<li class="muted">暂无已办任务</li>';
    list.dataset.count = String(events.length);
    list.querySelectorAll('button[data-open]').forEach((b) => b.addEventListener('click', () => openTask(b.dataset.open, b.closest('li'))));
  } catch (error) {
    list.innerHTML = `<li class="muted">${esc(describeError(error))}</li>`;
  }
}

/** The task's detail (description, photos, address, history) and its actions, in place. */
async function openTask(code, item) {
  const box = item.querySelector('.task-detail');
  if (!box.hidden && box.dataset.loaded === code) { box.hidden = true; return; }
  box.hidden = false;
  await showEventDetail(box, code, {
    compact: true,
    onChanged: (ev) => {
      say(`已办理：${ev.title || code}`, 'ok');
      loadTasks(app.me?.grids || []);
    },
  });
}

// ---- report ---------------------------------------------------------------------------

const idempotencyKey = () => (crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`);

$('report-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  if (!app.caps.has('/api/v1/events') || !app.caps.paths.has('/api/v1/events')) return say('事件上报暂不可用', 'error');
  const form = new FormData(e.target);
  const address = String(form.get('address') || '').trim();
  if (!app.point && !address) return say('请在地图上点选位置、使用当前定位或填写地址', 'error');
  const photo = form.get('photo');
  const button = e.target.querySelector('button[type="submit"]');
  button.disabled = true;
  say('提交中…');
  try {
    const created = await authJSON('/api/v1/events', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Idempotency-Key': idempotencyKey() },
      body: JSON.stringify({
        category: form.get('category'), source: 'grid_worker', title: form.get('title'),
        description: form.get('description') || '',
        ...(app.point ? { lon: app.point[0], lat: app.point[1] } : {}),
        ...(address ? { address } : {}),
      }),
    });
    const code = created.code || created.event?.code;
    if (photo && photo.size > 0) {
      say(`事件 ${code} 已上报，照片上传中…`);
      await authJSON(`/api/v1/events/${encodeURIComponent(code)}/photos`, { method: 'POST', headers: { 'Content-Type': photo.type || 'image/jpeg' }, body: photo });
    }
    say(`已上报事件 ${code}${photo && photo.size > 0 ? '（含照片）' : ''}`, 'ok');
    document.body.dataset.reported = code;
    e.target.reset();
    clearPreview();
    app.point = null;
    app.marker?.remove();
    $('point-warning').hidden = true;
    $('point-label').textContent = '点击地图选择位置，或使用当前定位，或填写地址';
    loadTasks(app.me?.grids || []);
  } catch (error) {
    if (error instanceof HttpError && error.status === 422 && !app.point) say(`无法确定地址“${address}”的位置，请写得更完整（路名、门牌号、小区楼栋）或在地图上点选：${error.message}`, 'error');
    else say(`上报失败：${describeError(error)}`, 'error');
  } finally {
    button.disabled = false;
  }
});

// A preview of the chosen photo before it is sent.
function clearPreview() {
  const img = $('photo-preview');
  if (img.src) URL.revokeObjectURL(img.src);
  img.removeAttribute('src');
  img.hidden = true;
}
document.querySelector('#report-form input[name="photo"]').addEventListener('change', (e) => {
  clearPreview();
  const file = e.target.files?.[0];
  if (!file) return;
  const img = $('photo-preview');
  img.src = URL.createObjectURL(file);
  img.hidden = false;
});

start();
