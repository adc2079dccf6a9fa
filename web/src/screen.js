// `/screen` — the command centre's wall screen. Runs unattended for days, so every
// growing thing is capped (feed items, live points), charts are updated in place (never
// re-created) and disposed on page hide, timers are the only loops. No personal data:
// counters are aggregates; the feed shows category, a generic title, status and time.

import maplibregl from 'maplibre-gl';
import 'maplibre-gl/dist/maplibre-gl.css';
import './screen.css';
import {
  baseStyle, bounds, capabilities, esc, fetchJSON, formatCount, formatRate, labelPoints, quietMapErrors, tileURL, MAP_FONTS, MAP_LOCALE,
  CATEGORY_COLORS, CATEGORY_LABELS, STATUS_LABELS, label,
  addOutsideBasemap,
} from './common.js';
import { addBasemap } from './basemap.js';
import { echarts } from './charts.js';
import { refreshForces } from './forces_screen.js';

const FEED_LIMIT = 40;
const FEED_START = 15;
const LIVE_POINTS_LIMIT = 300;
// `?refresh=ms&tour=ms` shorten the timers (the soak test uses them); at least 1 s.
const params = new URLSearchParams(location.search);
const interval = (name, fallback) => Math.max(1000, Number(params.get(name)) || fallback);
const REFRESH_MS = interval('refresh', 60_000);
const TOUR_MS = interval('tour', 20_000);

const $ = (id) => document.getElementById(id);

// The wall signs in once with a screen account (a long-lived, revocable kiosk session
// kept in localStorage); without one it shows the public aggregates.
const KIOSK_KEY = 'minqing.kiosk';
const kioskToken = () => localStorage.getItem(KIOSK_KEY);
async function screenJSON(path) {
  const token = kioskToken();
  try {
    return await fetchJSON(path, token ? { headers: { Authorization: `Bearer ${token}` } } : {});
  } catch (error) {
    if (error?.status === 401 && token) {
      // The kiosk session ended (expired, or revoked by an administrator): public
      // aggregates until someone signs the wall in again.
      localStorage.removeItem(KIOSK_KEY);
      const button = $('kiosk-signin');
      if (button) button.hidden = false;
      return fetchJSON(path);
    }
    throw error;
  }
}
const live = { type: 'FeatureCollection', features: [] };

// ---- kiosk sign-in ------------------------------------------------------------------
async function setupKiosk() {
  const caps = await capabilities();
  if (!caps.has('/api/v1/auth/login')) return;
  const button = $('kiosk-signin');
  button.hidden = !!kioskToken();
  button.addEventListener('click', () => { $('kiosk-message').textContent = ''; $('kiosk').showModal(); });
  $('kiosk-cancel').addEventListener('click', () => $('kiosk').close());
  $('kiosk-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const form = new FormData(e.target);
    $('kiosk-message').textContent = '登录中…';
    try {
      const answer = await fetchJSON('/api/v1/auth/login', {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ username: form.get('username'), password: form.get('password') }),
      });
      localStorage.setItem(KIOSK_KEY, answer.token);
      // The wall reloads once with its session: feed, alerts and figures as the account sees them.
      location.reload();
    } catch (error) {
      $('kiosk-message').textContent = error?.status === 401 || error?.status === 403 ? '账号或密码错误' : '登录失败，请稍后重试';
    }
  });
}
setupKiosk();

// ---- clock ----------------------------------------------------------------------
const clock = () => { $('clock').textContent = new Date().toLocaleString('zh-CN', { hour12: false }); };
clock();
setInterval(clock, 1000);

// ---- map ------------------------------------------------------------------------
const map = new maplibregl.Map({
  container: 'map', style: baseStyle('#0a1428'), center: [104.4, 31.13], zoom: 10,
  attributionControl: false, interactive: false, fadeDuration: 0,
  localIdeographFontFamily: MAP_FONTS.join(', '), locale: MAP_LOCALE,
});
quietMapErrors(map, () => {});
window.__minqing = { map, live, echarts };

map.on('load', async () => {
  addOutsideBasemap(map, { dark: true }).catch(() => {});
  let townships = null;
  try {
    let communities;
    [townships, communities] = await Promise.all([
      fetchJSON('/api/v1/areas?level=township'),
      fetchJSON('/api/v1/areas?level=community'),
    ]);
    map.addSource('townships', { type: 'geojson', data: townships });
    map.addSource('communities', { type: 'geojson', data: communities });
    map.addLayer({ id: 'townships-fill', type: 'fill', source: 'townships', paint: { 'fill-color': '#123a6b', 'fill-opacity': 0.2 } });
    map.addLayer({ id: 'communities-line', type: 'line', source: 'communities', paint: { 'line-color': '#2f6aa8', 'line-width': 0.6 } });
    map.addLayer({ id: 'townships-line', type: 'line', source: 'townships', paint: { 'line-color': '#4cc9f0', 'line-width': 2 } });
    map.fitBounds(bounds(townships), { padding: 30, duration: 0 });
    $('map-status').hidden = true;
  } catch {
    $('map-status').textContent = '区域数据暂不可用';
  }
  await addBasemap(map, { dark: true }).catch(() => false);
  const caps = await capabilities();
  if (caps.tiles) {
    const wanted = ['risk', 'hotspots', 'events'].filter((l) => caps.tileLayers.size === 0 || caps.tileLayers.has(l));
    for (const name of wanted) map.addSource(`tiles-${name}`, { type: 'vector', tiles: [tileURL([name])], maxzoom: 16 });
    // Only what needs attention: medium and large risk grids, significant hot spots.
    if (wanted.includes('risk')) map.addLayer({ id: 'risk', type: 'fill', source: 'tiles-risk', 'source-layer': 'risk', filter: ['match', ['get', 'tier'], ['medium', 'large'], true, false], paint: { 'fill-color': ['match', ['get', 'tier'], 'large', '#e63946', '#f4a261'], 'fill-opacity': ['match', ['get', 'tier'], 'large', 0.5, 0.4] } });
    if (wanted.includes('hotspots')) {
      const significant = ['match', ['get', 'class'], ['hot99', 'hot95', 'hot90'], true, false];
      map.addLayer({ id: 'hotspots', type: 'fill', source: 'tiles-hotspots', 'source-layer': 'hotspots', filter: significant, paint: { 'fill-color': '#ff4d4d', 'fill-opacity': ['match', ['get', 'class'], 'hot99', 0.6, 'hot95', 0.45, 0.3] } });
      // The outline is the fill's own (drawn inside each tile only): a line layer over the
      // tiles' polygons would also stroke where a tile clips them, a straight seam.
      map.addLayer({ id: 'hotspots-outline', type: 'fill', source: 'tiles-hotspots', 'source-layer': 'hotspots', filter: significant, paint: { 'fill-color': 'rgba(0,0,0,0)', 'fill-outline-color': '#ff8080' } });
    }
    if (wanted.includes('events')) {
      // Cells (polygons with `count`) below the points' zoom, points above it.
      map.addLayer({ id: 'event-cells', type: 'fill', source: 'tiles-events', 'source-layer': 'events', filter: ['==', ['geometry-type'], 'Polygon'], paint: { 'fill-color': '#ffd166', 'fill-opacity': ['interpolate', ['linear'], ['to-number', ['get', 'count'], 1], 1, 0.1, 50, 0.5] } });
      map.addLayer({ id: 'events', type: 'circle', source: 'tiles-events', 'source-layer': 'events', filter: ['==', ['geometry-type'], 'Point'], paint: { 'circle-radius': 2, 'circle-color': '#ffd166', 'circle-opacity': 0.7 } });
    }
  }
  // Township names, drawn with local fonts (no glyphs URL: see common.js MAP_FONTS),
  // sized from the root font so 4K walls get them twice as large.
  if (townships) {
    map.addSource('township-names', { type: 'geojson', data: labelPoints(townships) });
    map.addLayer({
      id: 'townships-label', type: 'symbol', source: 'township-names',
      layout: { 'text-field': ['get', 'name'], 'text-font': MAP_FONTS, 'text-size': Math.round(1.25 * rem()), 'text-padding': 6 },
      paint: { 'text-color': '#f3f6fb', 'text-halo-color': 'rgba(5,11,24,0.9)', 'text-halo-width': 2 },
    });
  }
  map.addSource('live', { type: 'geojson', data: live });
  map.addLayer({ id: 'live', type: 'circle', source: 'live', paint: { 'circle-radius': 8, 'circle-color': ['match', ['get', 'category'], ...Object.entries(CATEGORY_COLORS).flat(), '#ff4d4d'], 'circle-stroke-color': '#fff', 'circle-stroke-width': 2 } });
  map.once('idle', () => { document.body.dataset.ready = '1'; });
  startTour(caps);
  startFeed(caps);
});

// ---- counters -------------------------------------------------------------------
// The event figures are those of the efficiency model's default window: the calendar
// year of the latest event. A district whose history ends before this year shows that
// year, labelled with it (never "this year" with a 0 that only means "no data yet").
const COUNTERS = [
  ['residents', '实有人口'], ['housing_units', '住房'], ['enterprises', '企业'],
  ['year_events', '{year}年事件'], ['open_events', '在办事件'], ['overdue', '超期事件'],
  ['closure_rate', '{year}年办结率'], ['mediation_rate', '{year}年调解成功率'], ['events_yoy', '{year}年事件同比'],
];

const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

async function refreshCounters() {
  const caps = await capabilities();
  const values = {};
  let year = null;
  try {
    Object.assign(values, await screenJSON('/api/v1/stats'));
  } catch { /* shown as 暂不可用 */ }
  if (caps.has('/api/v1/events')) {
    // Totals only (limit=0): aggregates, open to the unattended screen.
    try {
      const [open, overdue] = await Promise.all([
        screenJSON('/api/v1/events?limit=0&status=accepted,mediating,resolved,diverted'),
        screenJSON('/api/v1/events?limit=0&overdue=true'),
      ]);
      values.open_events = open.total;
      values.overdue = overdue.total;
    } catch { /* 暂不可用 */ }
  }
  if (caps.has('/api/v1/analysis/efficiency')) {
    try {
      const eff = await screenJSON('/api/v1/analysis/efficiency');
      year = /^\d{4}/.test(eff.window?.from || '') ? eff.window.from.slice(0, 4) : null;
      values.year_events = num(eff.events);
      values.closure_rate = num(eff.closure_rate);
      values.mediation_rate = num(eff.mediation_rate);
      values.events_yoy = num(eff.year_on_year?.total?.relative);
      values.previous_year = eff.year_on_year?.previous?.from?.slice(0, 4);
      updateChartsFrom(eff);
    } catch { /* keep 暂不可用 */ }
  }
  const thisYear = String(new Date().getFullYear());
  $('counters').dataset.year = year || '';
  $('counters').innerHTML = COUNTERS.map(([key, template]) => {
    const v = values[key];
    const name = template.includes('{year}') ? (year ? template.replace("{year}", year) : template.replace('{year}年', '')) : template;
    let shown;
    if (typeof v !== 'number') shown = '<span class="value na">暂不可用</span>';
    else if (key === 'events_yoy') shown = `<span class="value">${v >= 0 ? '+' : ''}${(v * 100).toFixed(1)}%</span>`;
    else if (key.endsWith('_rate')) shown = `<span class="value">${formatRate(v)}</span>`;
    else shown = `<span class="value">${formatCount(v)}</span>`;
    let note = '';
    if (key === 'year_events' && year && year !== thisYear) note = '<div class="note">最近有事件数据的年份</div>';
    if (key === 'events_yoy' && values.previous_year && typeof v === 'number') note = `<div class="note">较 ${esc(values.previous_year)} 年</div>`;
    return `<div class="counter" data-key="${key}"><div class="name">${esc(name)}</div>${shown}${note}</div>`;
  }).join('');
}
refreshCounters();
setInterval(refreshCounters, REFRESH_MS);
capabilities().then((caps) => { refreshForces(caps); setInterval(() => refreshForces(caps), REFRESH_MS); });

// ---- charts ---------------------------------------------------------------------
const charts = {};
// Each chart follows its box (cards change size as counters and lists fill in).
const resizer = new ResizeObserver((entries) => entries.forEach((e) => charts[e.target.id]?.resize()));
function chart(id) {
  if (!charts[id]) {
    charts[id] = echarts.init($(id), null, { renderer: 'canvas' });
    resizer.observe($(id));
  }
  return charts[id];
}
// Chart text and margins in rem (1rem = 16px at 1920 wide, 32px at 3840), so a 4K wall
// reads like a 1080p one. No animation: updates are minutes apart on a wall.
const rem = () => parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
const axisStyle = () => ({ axisLabel: { color: '#c9d6ea', fontSize: Math.round(1.25 * rem()) }, axisLine: { lineStyle: { color: '#35507a' } }, splitLine: { lineStyle: { color: '#1b3a6b' } } });

/** Fill the trend and category charts from whatever series the efficiency model returns. */
function updateChartsFrom(eff) {
  const monthly = eff.monthly || eff.trend || eff.by_month;
  const byCategory = eff.by_category || eff.categories;
  const series = Array.isArray(monthly) ? monthly.map((m) => [m.month || m.period || m.label, m.events ?? m.count ?? m.total]) : monthly && typeof monthly === 'object' ? Object.entries(monthly) : null;
  // A month still under way is drawn dashed and named as such: its count is not a fall.
  const partial = Array.isArray(monthly) && monthly.at(-1)?.partial && series?.length > 1;
  const solid = series?.map(([, v], i) => (partial && i === series.length - 1 ? null : v));
  const dashed = series?.map(([, v], i) => (partial && i >= series.length - 2 ? v : null));
  if (series?.length) {
    $('trend-na').hidden = true;
    chart('trend').setOption({
      animation: false,
      grid: { left: 4 * rem(), right: rem(), top: rem(), bottom: 2.2 * rem() }, tooltip: { trigger: 'axis', textStyle: { fontSize: Math.round(1.25 * rem()) } },
      xAxis: { type: 'category', data: series.map(([k]) => k), ...axisStyle() },
      yAxis: { type: 'value', ...axisStyle() },
      series: [
        { type: 'line', smooth: true, data: solid, lineStyle: { width: 3, color: '#4cc9f0' }, areaStyle: { color: 'rgba(76,201,240,.2)' }, showSymbol: false },
        ...(partial ? [{ type: 'line', data: dashed, lineStyle: { width: 3, color: '#4cc9f0', type: 'dashed' }, symbolSize: 8, showSymbol: true, itemStyle: { color: '#4cc9f0' } }] : []),
      ],
    });
  }
  const cats = Array.isArray(byCategory) ? byCategory.map((c) => [c.category || c.name, c.events ?? c.count ?? c.total]) : byCategory && typeof byCategory === 'object' ? Object.entries(byCategory).map(([k, v]) => [k, typeof v === 'number' ? v : v?.events ?? v?.count ?? v?.total]) : null;
  if (cats?.length) {
    $('categories-na').hidden = true;
    // Bars, not a pie: names and numbers stay legible from three metres in a narrow column.
    const rows = [...cats].sort((a, b) => a[1] - b[1]);
    chart('categories').setOption({
      animation: false,
      grid: { left: 5.5 * rem(), right: 3.5 * rem(), top: 0.3 * rem(), bottom: 0.3 * rem() },
      xAxis: { type: 'value', show: false },
      yAxis: { type: 'category', data: rows.map(([k]) => label(CATEGORY_LABELS, k)), axisLabel: { color: '#f3f6fb', fontSize: Math.round(1.25 * rem()) }, axisLine: { show: false }, axisTick: { show: false } },
      series: [{ type: 'bar', barWidth: '60%', data: rows.map(([k, v]) => ({ value: v, itemStyle: { color: CATEGORY_COLORS[k], borderRadius: 3 } })), label: { show: true, position: 'right', color: '#f3f6fb', fontSize: Math.round(1.25 * rem()) } }],
    });
  }
}

/** Event counts from the list endpoint's `total`: one request per month and per category. */
async function chartsFromEventList() {
  const total = async (query) => (await screenJSON(`/api/v1/events?limit=0&${query}`)).total;
  // Months as whole Beijing-time days, both ends inclusive (the server's calendar).
  const day = (y, m, d) => `${y}-${String(m + 1).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
  const lastDay = (y, m) => new Date(Date.UTC(y, m + 1, 0)).getUTCDate();
  const monthOf = (y, m) => { const t = new Date(Date.UTC(y, m, 1)); return [t.getUTCFullYear(), t.getUTCMonth()]; };
  // The last 12 months that hold events (a district's history may end before today).
  const now = new Date(Date.now() + 8 * 3_600_000);
  let [ey, em] = [now.getUTCFullYear(), now.getUTCMonth()];
  for (let back = 0; back < 5; back++) {
    const [sy, sm] = monthOf(ey, em - 11);
    if ((await total(`from=${day(sy, sm, 1)}&to=${day(ey, em, lastDay(ey, em))}`)) > 0) break;
    [ey, em] = monthOf(ey, em - 12);
  }
  const months = [];
  const today = day(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  for (let i = 11; i >= 0; i--) {
    const [y, m] = monthOf(ey, em - i);
    const last = day(y, m, lastDay(y, m));
    const name = `${y}-${String(m + 1).padStart(2, '0')}`;
    months.push([last > today ? `${name}（至${now.getUTCDate()}日）` : name, day(y, m, 1), last, last > today]);
  }
  const windowStart = months[0][1];
  const windowEnd = months[11][2];
  const [monthly, categories] = await Promise.all([
    Promise.all(months.map(([, from, to]) => total(`from=${from}&to=${to}`))),
    Promise.all(Object.keys(CATEGORY_LABELS).map((c) => total(`category=${c}&from=${windowStart}&to=${windowEnd}`))),
  ]);
  $('categories-period').textContent = `${months[0][0]} 至 ${months[11][0]}`;
  updateChartsFrom({
    monthly: months.map(([name, , , partial], i) => ({ month: name, events: monthly[i], partial })),
    by_category: Object.fromEntries(Object.keys(CATEGORY_LABELS).map((c, i) => [c, categories[i]])),
  });
}

async function initCharts() {
  const caps = await capabilities();
  if (caps.has('/api/v1/events')) {
    const refresh = () => chartsFromEventList().catch(() => {});
    refresh();
    setInterval(refresh, 10 * REFRESH_MS);
  } else if (!caps.has('/api/v1/analysis/efficiency')) {
    $('trend-na').hidden = false;
    $('categories-na').hidden = false;
  }
  setTimeout(() => {
    if (!charts.trend) $('trend-na').hidden = false;
    if (!charts.categories) $('categories-na').hidden = false;
  }, 5000);
}
initCharts();
window.addEventListener('resize', () => Object.values(charts).forEach((c) => c.resize()));
window.addEventListener('pagehide', () => {
  resizer.disconnect();
  Object.values(charts).forEach((c) => c.dispose());
  map.remove();
});

// ---- hotspot tour ---------------------------------------------------------------
function cellCentre(cell) {
  if (typeof cell.lon === 'number' && typeof cell.lat === 'number') return [cell.lon, cell.lat];
  if (Array.isArray(cell.center)) return cell.center;
  if (cell.geometry) { const b = bounds({ features: [cell] }); if (b) return [(b[0][0] + b[1][0]) / 2, (b[0][1] + b[1][1]) / 2]; }
  return null;
}

/**
 * The slow tour: the current significant hot spots (Gi* over all events, FDR-corrected,
 * 99% or 95% — the same cells the hot-spot layer draws), strongest first, each shown
 * for TOUR_MS, then the whole district.
 */
async function startTour(caps) {
  if (!caps.has('/api/v1/analysis/hotspots')) return;
  let stops = [];
  const load = async () => {
    try {
      const answer = await screenJSON('/api/v1/analysis/hotspots');
      const cells = Array.isArray(answer) ? answer : answer.cells || answer.features || [];
      stops = cells
        .filter((c) => (c.class === 'hot99' || c.class === 'hot95') && c.count > 0)
        .sort((a, b) => b.gi_z - a.gi_z)
        .slice(0, 8)
        .map((c) => ({ centre: cellCentre(c), z: c.gi_z, count: c.count, cell: c.cell }))
        .filter((s) => s.centre);
    } catch { stops = []; }
    window.__minqing.tourStops = stops;
  };
  await load();
  setInterval(load, 10 * REFRESH_MS);
  const home = { center: map.getCenter(), zoom: map.getZoom() };
  let step = 0;
  setInterval(() => {
    if (!stops.length) return;
    const i = step++ % (stops.length + 1);
    if (i === stops.length) {
      $('tour').hidden = true;
      map.flyTo({ ...home, speed: 0.3 });
      return;
    }
    const stop = stops[i];
    $('tour').hidden = false;
    $('tour').dataset.cell = stop.cell;
    $('tour').textContent = `热点巡览 ${i + 1}/${stops.length} · ${formatCount(stop.count)} 件事件 · 聚集强度 ${stop.z.toFixed(2)}`;
    map.flyTo({ center: stop.centre, zoom: home.zoom + 2.5, speed: 0.3 });
  }, TOUR_MS);
}

// ---- live feed and alerts ----------------------------------------------------------
const ALERT_LIMIT = 30;
const ALERT_LABELS = { due_soon: '即将到期', overdue: '已超期', large_risk: '重大风险', supervised: '督办' };
const hhmm = (at) => {
  const time = at ? new Date(typeof at === 'number' ? at * 1000 : at) : new Date();
  const sameDay = time.toDateString() === new Date().toDateString();
  return sameDay ? time.toLocaleTimeString('zh-CN', { hour12: false, hour: '2-digit', minute: '2-digit' }) : time.toLocaleDateString('zh-CN', { month: '2-digit', day: '2-digit' });
};
const place = (ev) => [ev.township?.name, ev.community?.name].filter(Boolean).join(' ');

/** One feed row: time, what (title, or the category on the public feed), status, where. */
function feedRow(li, ev, live) {
  li.dataset.code = ev.code;
  li.dataset.status = ev.status || '';
  // Each change counted on its row (a changed event updates its row, never adds one).
  li.dataset.changes = String(Number(li.dataset.changes || 0) + 1);
  // The public feed carries no change time: a live change happened now.
  const at = ev.updated_at || (live ? Date.now() / 1000 : ev.reported_at);
  li.innerHTML = `<span class="time">${esc(hhmm(at))}</span>
    <span class="what">${esc(ev.title || `${label(CATEGORY_LABELS, ev.category)}事件`)}</span>
    <span class="status">${esc(ev.overdue && !['closed', 'followed_up'].includes(ev.status) ? `${label(STATUS_LABELS, ev.status)}·超期` : label(STATUS_LABELS, ev.status))}</span>
    <span class="where">${esc(label(CATEGORY_LABELS, ev.category))} · ${esc(place(ev) || ev.grid?.name || '')}</span>`;
}

/** Put `ev` in the feed: a new event on top, a changed one updated in its row. */
function showInFeed(ev, { fresh = true, append = false } = {}) {
  const list = $('feed');
  list.querySelector('.empty')?.remove();
  let li = list.querySelector(`li[data-code="${CSS.escape(ev.code)}"]`);
  const isNew = !li;
  if (isNew) li = document.createElement('li');
  feedRow(li, ev, fresh);
  if (isNew) {
    if (append) list.append(li); else list.prepend(li);
  }
  if (fresh) {
    li.classList.remove('fresh');
    void li.offsetWidth;
    li.classList.add('fresh');
  }
  while (list.children.length > FEED_LIMIT) list.lastElementChild.remove();
  if (typeof ev.lon === 'number' && typeof ev.lat === 'number') {
    live.features = live.features.filter((f) => f.properties.code !== ev.code);
    live.features.unshift({ type: 'Feature', geometry: { type: 'Point', coordinates: [ev.lon, ev.lat] }, properties: { code: ev.code, category: ev.category } });
    live.features.length = Math.min(live.features.length, LIVE_POINTS_LIMIT);
    map.getSource('live')?.setData(live);
  }
}

/** The latest events (as the feed would have sent them), so the feed never starts empty. */
async function fillFeed(caps) {
  if (!caps.has('/api/v1/events/latest')) return false;
  try {
    const answer = await screenJSON(`/api/v1/events/latest?limit=${FEED_START}`);
    const events = answer.events || [];
    for (const ev of events) if (!$('feed').querySelector(`li[data-code="${CSS.escape(ev.code)}"]`)) showInFeed(ev, { fresh: false, append: true });
    return events.length > 0;
  } catch {
    return false;
  }
}

function showAlert(a) {
  const list = $('alerts');
  list.querySelector('.empty')?.remove();
  const key = `${a.code}:${a.kind}`;
  let li = list.querySelector(`li[data-key="${CSS.escape(key)}"]`);
  if (!li) { li = document.createElement('li'); list.prepend(li); }
  li.dataset.key = key;
  li.dataset.code = a.code;
  li.className = `fresh kind-${a.kind}`;
  li.innerHTML = `<span class="time">${esc(hhmm(a.at))}</span><span class="what">${esc(a.title || `${label(CATEGORY_LABELS, a.category)}事件`)}</span>
    <span class="kind">${esc(ALERT_LABELS[a.kind] || a.kind)}</span><span class="where">${esc(a.place || place(a) || label(CATEGORY_LABELS, a.category))}</span>`;
  while (list.children.length > ALERT_LIMIT) list.lastElementChild.remove();
}

async function loadAlerts(caps) {
  const list = $('alerts');
  // The district's alerts are for the signed-in wall (a kiosk session).
  if (!caps.has('/api/v1/alerts') || !kioskToken()) return false;
  try {
    const answer = await screenJSON('/api/v1/alerts');
    const alerts = (answer.alerts || []).slice(0, ALERT_LIMIT).reverse();
    for (const a of alerts) showAlert(a);
    $('alerts-status').textContent = `${formatCount(answer.unread ?? alerts.length)} 条未读`;
    if (!list.children.length) list.innerHTML = '<li class="empty">暂无预警</li>';
    return true;
  } catch {
    return false;
  }
}

/** What in a change calls for attention on the wall (when no alert message comes). */
function alertOf(change, ev) {
  const kind = ev.overdue && !['closed', 'followed_up'].includes(ev.status) ? 'overdue'
    : ev.risk_tier === 'large' && (change === 'set_risk_tier' || change === 'created' || change === 'escalate') ? 'large_risk'
      : change === 'supervise' || (ev.supervision && change === 'supervise') ? 'supervised' : null;
  return kind ? { code: ev.code, kind, title: ev.title, category: ev.category, at: ev.updated_at, place: place(ev) } : null;
}

async function startFeed(caps) {
  const list = $('feed');
  const feedStatus = $('feed-status');
  const alertList = $('alerts');
  alertList.innerHTML = '<li class="empty">暂无预警</li>';
  const alertsFromServer = await loadAlerts(caps);
  if (!caps.has('/api/v1/events/stream')) {
    feedStatus.textContent = '暂不可用';
    list.innerHTML = '<li class="empty">实时事件流暂不可用</li>';
    return;
  }
  list.innerHTML = '<li class="empty">最新事件加载中…</li>';
  fillFeed(caps).then((any) => { if (!any && list.querySelector('.empty')) list.querySelector('.empty').textContent = '等待新事件…'; });
  let source = null;
  let retry = 1000;
  const onEvent = (message) => {
    let e;
    try { e = JSON.parse(message.data); } catch { return; }
    const ev = e.event || e;
    if (!ev || !ev.code) return;
    showInFeed(ev);
    if (!alertsFromServer) {
      const a = alertOf(e.change, ev);
      if (a) showAlert(a);
    }
    refreshFunnelSoon();
  };
  const onAlert = (message) => {
    let a;
    try { a = JSON.parse(message.data); } catch { return; }
    a = a.alert || a;
    if (a?.code) showAlert(a);
  };
  const connect = () => {
    const token = kioskToken();
    source = new EventSource(`/api/v1/events/stream${token ? `?access_token=${encodeURIComponent(token)}` : ''}`);
    source.onopen = () => { feedStatus.textContent = '● 已连接'; retry = 1000; };
    source.onmessage = onEvent;
    for (const type of ['created', 'changed', 'updated', 'overdue', 'event']) source.addEventListener(type, onEvent);
    source.addEventListener('alert', onAlert);
    source.onerror = () => {
      feedStatus.textContent = '重新连接中…';
      // The browser retries by itself unless the stream was closed for good.
      if (source.readyState === EventSource.CLOSED) {
        source.close();
        // A revoked kiosk session closes the stream: find out before reconnecting with it.
        if (kioskToken()) screenJSON('/api/v1/auth/me').catch(() => {});
        setTimeout(connect, retry);
        retry = Math.min(retry * 2, 60_000);
      }
    };
  };
  connect();
  window.addEventListener('pagehide', () => source?.close());
}

// ---- the closed-loop funnel and the township ranking ------------------------------
// The period: this calendar year (Beijing time) when it has events, else the latest year
// with events, named on the card. The funnel is the period's flow, counted by the server
// in one look (/api/v1/analysis/funnel): of the events accepted in the period, how many
// reached each stage (受理 all; 调解; 化解/分流; 办结; 回访), each at most the one before.
const STAGES = [
  ['受理', 'accepted'],
  ['调解', 'mediation'],
  ['化解/分流', 'settled'],
  ['办结', 'closed'],
  ['回访', 'followed_up'],
];
let period = null;

async function currentPeriod() {
  const total = async (q) => (await screenJSON(`/api/v1/events?limit=0&${q}`)).total;
  const year = Number(new Date().toLocaleString('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric' }));
  for (let y = year; y > year - 6; y--) {
    const q = `from=${y}-01-01&to=${y}-12-31`;
    if ((await total(q)) > 0) return { query: q, name: `${y}年`, current: y === year };
  }
  return { query: `from=${year}-01-01&to=${year}-12-31`, name: `${year}年`, current: true, empty: true };
}

async function refreshFunnel() {
  const caps = await capabilities();
  if (!caps.has('/api/v1/events') || !caps.has('/api/v1/analysis/funnel')) { $('funnel-na').hidden = false; $('ranking-na').hidden = false; return; }
  try {
    period = period || (await currentPeriod());
    const periodLabel = `${period.name}${period.current ? '' : '（最近有数据的年份）'}`;
    $('funnel-period').textContent = periodLabel;
    $('ranking-period').textContent = periodLabel;
    const flow = await screenJSON(`/api/v1/analysis/funnel?${period.query}`);
    const counts = STAGES.map(([, key]) => flow[key] ?? 0);
    $('funnel').dataset.counts = counts.join(',');
    $('funnel-na').hidden = !period.empty;
    if (period.empty) $('funnel-na').textContent = `${period.name}暂无事件`;
    const max = Math.max(1, counts[0]);
    chart('funnel').setOption({
      animation: false,
      tooltip: { textStyle: { fontSize: Math.round(1.25 * rem()) } },
      series: [{
        type: 'funnel', sort: 'none', left: '2%', right: '2%', top: 4, bottom: 4, min: 0, max, minSize: '28%', gap: 3,
        label: { position: 'inside', color: '#fff', fontSize: Math.round(1.25 * rem()), formatter: (p) => `${p.name} ${formatCount(p.value)}` },
        itemStyle: { borderWidth: 0 },
        data: STAGES.map(([name], i) => ({ name, value: counts[i], itemStyle: { color: ['#1d6fb8', '#2a8fd6', '#3aa9a0', '#4cc9f0', '#7bd88f'][i] } })),
      }],
    });
  } catch {
    $('funnel-na').hidden = false;
  }
}

let townships = null;
async function refreshRanking() {
  try {
    period = period || (await currentPeriod());
    townships = townships || (await screenJSON('/api/v1/areas?level=township')).features.map((f) => [f.properties.code, f.properties.name]);
    const rows = await Promise.all(townships.map(([code, name]) => screenJSON(`/api/v1/events?limit=0&grid=${encodeURIComponent(code)}&${period.query}`).then((a) => [name, a.total])));
    rows.sort((a, b) => b[1] - a[1]);
    const top = rows.slice(0, 8).reverse();
    $('ranking').dataset.top = rows[0]?.[0] || '';
    chart('ranking').setOption({
      animation: false,
      grid: { left: 7.5 * rem(), right: 3.5 * rem(), top: 0.3 * rem(), bottom: 0.3 * rem() },
      xAxis: { type: 'value', show: false },
      yAxis: { type: 'category', data: top.map(([n]) => n), axisLabel: { color: '#f3f6fb', fontSize: Math.round(1.25 * rem()) }, axisLine: { show: false }, axisTick: { show: false } },
      series: [{ type: 'bar', data: top.map(([, v]) => v), barWidth: '60%', itemStyle: { color: '#4cc9f0', borderRadius: 3 }, label: { show: true, position: 'right', color: '#f3f6fb', fontSize: Math.round(1.25 * rem()) } }],
    });
  } catch {
    $('ranking-na').hidden = false;
  }
}

let funnelTimer = null;
/** A change moved an event along: recount within a second. */
function refreshFunnelSoon() {
  // A period chosen because this year had no events yet: look again (it may have now).
  if (period && !period.current) period = null;
  if (funnelTimer) return;
  funnelTimer = setTimeout(() => { funnelTimer = null; refreshFunnel(); }, 500);
}
refreshFunnel();
refreshRanking();
setInterval(refreshFunnel, REFRESH_MS);
setInterval(refreshRanking, 5 * REFRESH_MS);
