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
  CATEGORY_LABELS, STATUS_LABELS, label,
} from './common.js';
import { loadForces } from './forces_grid.js';

const TOKEN_KEY = 'minqing.token';
const ME_KEY = 'minqing.me';
const OPEN_STATUSES = 'accepted,mediating';
const ACTION_LABELS = { accept: '受理', mediate: '调解', resolve: '化解', divert: '分流', close: '办结', follow_up: '回访', escalate: '上报', reject: '退回' };

const $ = (id) => document.getElementById(id);
const app = { caps: null, me: null, map: null, point: null, marker: null };

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
    const me = { username: answer.username || form.get('username'), role: answer.role, grids: answer.grids || [] };
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
  $('who').textContent = me ? `${me.username} · 网格 ${grids.join('、') || '（未分配）'}` : '访客（只读）';
  if (!app.map) await initMap(grids);
  loadTasks(grids);
  if (me) loadForces({ authJSON, grids, caps: app.caps, say });
}

async function initMap(grids) {
  const map = new maplibregl.Map({ container: 'map', style: baseStyle('#eef1f4'), center: [104.4, 31.13], zoom: 11, attributionControl: false });
  app.map = map;
  window.__minqing = { map, app };
  quietMapErrors(map, () => {});
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
  await new Promise((resolve) => map.on('load', resolve));
  try {
    const all = await fetchJSON('/api/v1/areas?level=grid');
    const mine = grids.length ? { type: 'FeatureCollection', features: all.features.filter((f) => grids.includes(f.properties.code)) } : all;
    map.addSource('grids', { type: 'geojson', data: mine });
    map.addLayer({ id: 'grids-fill', type: 'fill', source: 'grids', paint: { 'fill-color': '#198754', 'fill-opacity': 0.1 } });
    map.addLayer({ id: 'grids-line', type: 'line', source: 'grids', paint: { 'line-color': '#198754', 'line-width': grids.length ? 3 : 1 } });
    const box = bounds(mine.features.length ? mine : all);
    if (box) map.fitBounds(box, { padding: 20, duration: 0 });
  } catch (error) {
    say(`网格边界${describeError(error)}`, 'error');
  }
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

async function loadTasks(grids) {
  const list = $('tasks');
  if (!app.caps.has('/api/v1/events')) { list.innerHTML = '<li class="muted">任务列表暂不可用</li>'; return; }
  if (!grids.length) { list.innerHTML = '<li class="muted">登录后显示本网格的待办任务</li>'; return; }
  try {
    const answers = await Promise.all(grids.map((g) => authJSON(`/api/v1/events?grid=${encodeURIComponent(g)}&status=${OPEN_STATUSES}&limit=100`)));
    // Deadlines arrive as unix seconds or as date-time text.
    const seconds = (t) => (typeof t === 'number' ? t : t ? Date.parse(t) / 1000 : Infinity);
    const events = answers.flatMap((a) => (Array.isArray(a) ? a : a.events || [])).sort((a, b) => seconds(a.deadline) - seconds(b.deadline));
    const now = Date.now() / 1000;
    list.innerHTML = events.length
      ? events.map((ev) => {
          const due = seconds(ev.deadline);
          const overdue = ev.overdue ?? due < now;
          return `<li data-code="${esc(ev.code)}"><div class="title">${esc(ev.title || ev.code)}</div>
          <div class="meta">${esc(label(CATEGORY_LABELS, ev.category))} · ${esc(label(STATUS_LABELS, ev.status))} ·
          <span class="${overdue ? 'overdue' : ''}">期限 ${Number.isFinite(due) ? new Date(due * 1000).toLocaleDateString('zh-CN') : '—'}${overdue ? '（已超期）' : ''}</span></div>
          <div class="actions"><button data-open="${esc(ev.code)}">处置…</button></div></li>`;
        }).join('')
      : '<li class="muted">暂无待办任务</li>';
    list.querySelectorAll('button[data-open]').forEach((b) => b.addEventListener('click', () => openTask(b.dataset.open, b.parentElement)));
  } catch (error) {
    list.innerHTML = `<li class="muted">${esc(describeError(error))}</li>`;
  }
}

async function openTask(code, actionsBox) {
  actionsBox.innerHTML = '<span class="muted">加载中…</span>';
  try {
    const ev = await authJSON(`/api/v1/events/${encodeURIComponent(code)}`);
    const actions = ev.allowed_actions || [];
    actionsBox.innerHTML = actions.length ? actions.map((a) => `<button data-action="${esc(a)}">${esc(ACTION_LABELS[a] || a)}</button>`).join('') : '<span class="muted">无可执行操作</span>';
    actionsBox.querySelectorAll('button[data-action]').forEach((b) =>
      b.addEventListener('click', async () => {
        const note = prompt('处置说明', '') ?? '';
        try {
          await authJSON(`/api/v1/events/${encodeURIComponent(code)}/transitions`, {
            method: 'POST', headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({ action: b.dataset.action, note, version: ev.version }),
          });
          say(`已${ACTION_LABELS[b.dataset.action] || b.dataset.action}：${code}`, 'ok');
          loadTasks(app.me?.grids || []);
        } catch (error) {
          say(error instanceof HttpError && error.status === 409 ? '该事件已被他人更新，请刷新后重试' : describeError(error), 'error');
        }
      }),
    );
  } catch (error) {
    actionsBox.innerHTML = `<span class="muted">${esc(describeError(error))}</span>`;
  }
}

// ---- report ---------------------------------------------------------------------------

const idempotencyKey = () => (crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`);

$('report-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  if (!app.caps.has('/api/v1/events') || !app.caps.paths.has('/api/v1/events')) return say('事件上报暂不可用', 'error');
  if (!app.point) return say('请先在地图上点选位置或使用当前定位', 'error');
  const form = new FormData(e.target);
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
        description: form.get('description') || '', lon: app.point[0], lat: app.point[1],
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
    loadTasks(app.me?.grids || []);
  } catch (error) {
    say(`上报失败：${describeError(error)}`, 'error');
  } finally {
    button.disabled = false;
  }
});

start();
