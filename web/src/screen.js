// `/screen` — the command centre's wall screen. Runs unattended for days, so every
// growing thing is capped (feed items, live points), charts are updated in place (never
// re-created) and disposed on page hide, timers are the only loops. No personal data:
// counters are aggregates; the feed shows category, a generic title, status and time.

import maplibregl from 'maplibre-gl';
import 'maplibre-gl/dist/maplibre-gl.css';
import './screen.css';
import {
  baseStyle, bounds, capabilities, esc, fetchJSON, formatCount, formatRate, labelPoints, quietMapErrors, tileURL, MAP_FONTS,
  CATEGORY_COLORS, CATEGORY_LABELS, STATUS_LABELS, label,
} from './common.js';
import { echarts } from './charts.js';
import { refreshForces } from './forces_screen.js';

const FEED_LIMIT = 40;
const LIVE_POINTS_LIMIT = 300;
// `?refresh=ms&tour=ms` shorten the timers (the soak test uses them); at least 1 s.
const params = new URLSearchParams(location.search);
const interval = (name, fallback) => Math.max(1000, Number(params.get(name)) || fallback);
const REFRESH_MS = interval('refresh', 60_000);
const TOUR_MS = interval('tour', 20_000);

const $ = (id) => document.getElementById(id);
const live = { type: 'FeatureCollection', features: [] };

// ---- clock ----------------------------------------------------------------------
const clock = () => { $('clock').textContent = new Date().toLocaleString('zh-CN', { hour12: false }); };
clock();
setInterval(clock, 1000);

// ---- map ------------------------------------------------------------------------
const map = new maplibregl.Map({
  container: 'map', style: baseStyle('#0a1428'), center: [104.4, 31.13], zoom: 10,
  attributionControl: false, interactive: false, fadeDuration: 0,
  localIdeographFontFamily: MAP_FONTS.join(', '),
});
quietMapErrors(map, () => {});
window.__minqing = { map, live };

map.on('load', async () => {
  let townships = null;
  try {
    let communities;
    [townships, communities] = await Promise.all([
      fetchJSON('/api/v1/areas?level=township'),
      fetchJSON('/api/v1/areas?level=community'),
    ]);
    map.addSource('townships', { type: 'geojson', data: townships });
    map.addSource('communities', { type: 'geojson', data: communities });
    map.addLayer({ id: 'townships-fill', type: 'fill', source: 'townships', paint: { 'fill-color': '#123a6b', 'fill-opacity': 0.55 } });
    map.addLayer({ id: 'communities-line', type: 'line', source: 'communities', paint: { 'line-color': '#2f6aa8', 'line-width': 0.6 } });
    map.addLayer({ id: 'townships-line', type: 'line', source: 'townships', paint: { 'line-color': '#4cc9f0', 'line-width': 2 } });
    map.fitBounds(bounds(townships), { padding: 30, duration: 0 });
    $('map-status').hidden = true;
  } catch {
    $('map-status').textContent = '区域数据暂不可用';
  }
  const caps = await capabilities();
  if (caps.tiles) {
    const wanted = ['risk', 'hotspots', 'events'].filter((l) => caps.tileLayers.size === 0 || caps.tileLayers.has(l));
    for (const name of wanted) map.addSource(`tiles-${name}`, { type: 'vector', tiles: [tileURL([name])], maxzoom: 16 });
    // Only what needs attention: medium and large risk grids, significant hot spots.
    if (wanted.includes('risk')) map.addLayer({ id: 'risk', type: 'fill', source: 'tiles-risk', 'source-layer': 'risk', filter: ['match', ['get', 'tier'], ['medium', 'large'], true, false], paint: { 'fill-color': ['match', ['get', 'tier'], 'large', '#e63946', '#f4a261'], 'fill-opacity': ['match', ['get', 'tier'], 'large', 0.5, 0.22] } });
    if (wanted.includes('hotspots')) {
      const significant = ['match', ['get', 'class'], ['hot99', 'hot95', 'hot90'], true, false];
      map.addLayer({ id: 'hotspots', type: 'fill', source: 'tiles-hotspots', 'source-layer': 'hotspots', filter: significant, paint: { 'fill-color': '#ff4d4d', 'fill-opacity': ['match', ['get', 'class'], 'hot99', 0.6, 'hot95', 0.45, 0.3] } });
      map.addLayer({ id: 'hotspots-line', type: 'line', source: 'tiles-hotspots', 'source-layer': 'hotspots', filter: significant, paint: { 'line-color': '#ff8080', 'line-width': 1 } });
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
    Object.assign(values, await fetchJSON('/api/v1/stats'));
  } catch { /* shown as 暂不可用 */ }
  if (caps.has('/api/v1/events')) {
    // Totals only (limit=0): aggregates, open to the unattended screen.
    try {
      const [open, overdue] = await Promise.all([
        fetchJSON('/api/v1/events?limit=0&status=accepted,mediating,resolved,diverted'),
        fetchJSON('/api/v1/events?limit=0&overdue=true'),
      ]);
      values.open_events = open.total;
      values.overdue = overdue.total;
    } catch { /* 暂不可用 */ }
  }
  if (caps.has('/api/v1/analysis/efficiency')) {
    try {
      const eff = await fetchJSON('/api/v1/analysis/efficiency');
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
function chart(id) {
  if (!charts[id]) charts[id] = echarts.init($(id), null, { renderer: 'canvas' });
  return charts[id];
}
// Chart text and margins in rem (1rem = 16px at 1920 wide, 32px at 3840), so a 4K wall
// reads like a 1080p one. No animation: updates are minutes apart on a wall.
const rem = () => parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
const axisStyle = () => ({ axisLabel: { color: '#c9d6ea', fontSize: Math.round(0.85 * rem()) }, axisLine: { lineStyle: { color: '#35507a' } }, splitLine: { lineStyle: { color: '#1b3a6b' } } });

/** Fill the trend and category charts from whatever series the efficiency model returns. */
function updateChartsFrom(eff) {
  const monthly = eff.monthly || eff.trend || eff.by_month;
  const byCategory = eff.by_category || eff.categories;
  const series = Array.isArray(monthly) ? monthly.map((m) => [m.month || m.period || m.label, m.events ?? m.count ?? m.total]) : monthly && typeof monthly === 'object' ? Object.entries(monthly) : null;
  if (series?.length) {
    $('trend-na').hidden = true;
    chart('trend').setOption({
      animation: false,
      grid: { left: 3.2 * rem(), right: rem(), top: rem(), bottom: 2 * rem() }, tooltip: { trigger: 'axis' },
      xAxis: { type: 'category', data: series.map(([k]) => k), ...axisStyle() },
      yAxis: { type: 'value', ...axisStyle() },
      series: [{ type: 'line', smooth: true, data: series.map(([, v]) => v), lineStyle: { width: 3, color: '#4cc9f0' }, areaStyle: { color: 'rgba(76,201,240,.2)' }, showSymbol: false }],
    });
  }
  const cats = Array.isArray(byCategory) ? byCategory.map((c) => [c.category || c.name, c.events ?? c.count ?? c.total]) : byCategory && typeof byCategory === 'object' ? Object.entries(byCategory).map(([k, v]) => [k, typeof v === 'number' ? v : v?.events ?? v?.count ?? v?.total]) : null;
  if (cats?.length) {
    $('categories-na').hidden = true;
    chart('categories').setOption({
      tooltip: {},
      animation: false,
      series: [{ type: 'pie', radius: ['40%', '70%'], label: { color: '#f3f6fb', fontSize: Math.round(0.95 * rem()) }, labelLine: { length: 0.6 * rem(), length2: 0.8 * rem() }, data: cats.map(([k, v]) => ({ name: label(CATEGORY_LABELS, k), value: v, itemStyle: { color: CATEGORY_COLORS[k] } })) }],
    });
  }
}

/** Event counts from the list endpoint's `total`: one request per month and per category. */
async function chartsFromEventList() {
  const total = async (query) => (await fetchJSON(`/api/v1/events?limit=0&${query}`)).total;
  const secs = (d) => Math.floor(d / 1000);
  // The last 12 months that hold events (a demo district's history may end years ago).
  const now = new Date();
  let end = new Date(now.getFullYear(), now.getMonth() + 1, 1);
  for (let back = 0; back < 5; back++) {
    const start = new Date(end.getFullYear() - 1, end.getMonth(), 1);
    if ((await total(`from=${secs(start)}&to=${secs(end)}`)) > 0) break;
    end = start;
  }
  const months = [];
  for (let i = 12; i >= 1; i--) {
    const start = new Date(end.getFullYear(), end.getMonth() - i, 1);
    const stop = new Date(end.getFullYear(), end.getMonth() - i + 1, 1);
    months.push([`${start.getFullYear()}-${String(start.getMonth() + 1).padStart(2, '0')}`, secs(start), secs(stop)]);
  }
  const windowStart = months[0][1];
  const windowEnd = months[11][2];
  const [monthly, categories] = await Promise.all([
    Promise.all(months.map(([, from, to]) => total(`from=${from}&to=${to}`))),
    Promise.all(Object.keys(CATEGORY_LABELS).map((c) => total(`category=${c}&from=${windowStart}&to=${windowEnd}`))),
  ]);
  updateChartsFrom({
    monthly: months.map(([name], i) => ({ month: name, events: monthly[i] })),
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
      const answer = await fetchJSON('/api/v1/analysis/hotspots');
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
    $('tour').textContent = `热点巡览 ${i + 1}/${stops.length} · ${formatCount(stop.count)} 件事件 · Gi* z = ${stop.z.toFixed(2)}`;
    map.flyTo({ center: stop.centre, zoom: home.zoom + 2.5, speed: 0.3 });
  }, TOUR_MS);
}

// ---- live feed ------------------------------------------------------------------
function startFeed(caps) {
  const list = $('feed');
  const feedStatus = $('feed-status');
  if (!caps.has('/api/v1/events/stream')) {
    feedStatus.textContent = '暂不可用';
    list.innerHTML = '<li class="empty">实时事件流暂不可用</li>';
    return;
  }
  list.innerHTML = '<li class="empty">等待新事件…</li>';
  let source = null;
  let retry = 1000;
  const onEvent = (message) => {
    let e;
    try { e = JSON.parse(message.data); } catch { return; }
    const ev = e.event || e;
    if (!ev || !ev.code) return;
    list.querySelector('.empty')?.remove();
    const li = document.createElement('li');
    li.className = 'fresh';
    li.dataset.code = ev.code;
    const at = ev.updated_at || ev.reported_at;
    const time = at ? new Date(typeof at === 'number' ? at * 1000 : at) : new Date();
    li.innerHTML = `<span class="time">${time.toLocaleTimeString('zh-CN', { hour12: false, hour: '2-digit', minute: '2-digit' })}</span>
      <span>${esc(label(CATEGORY_LABELS, ev.category))}</span><span>${esc(ev.title || ev.code)}</span>
      <span class="status">${esc(message.type === 'overdue' ? '已超期' : label(STATUS_LABELS, ev.status))}</span>`;
    list.prepend(li);
    while (list.children.length > FEED_LIMIT) list.lastElementChild.remove();
    if (typeof ev.lon === 'number' && typeof ev.lat === 'number') {
      live.features = live.features.filter((f) => f.properties.code !== ev.code);
      live.features.unshift({ type: 'Feature', geometry: { type: 'Point', coordinates: [ev.lon, ev.lat] }, properties: { code: ev.code, category: ev.category } });
      live.features.length = Math.min(live.features.length, LIVE_POINTS_LIMIT);
      map.getSource('live')?.setData(live);
    }
  };
  const connect = () => {
    source = new EventSource('/api/v1/events/stream');
    source.onopen = () => { feedStatus.textContent = '● 已连接'; retry = 1000; };
    source.onmessage = onEvent;
    for (const type of ['created', 'changed', 'updated', 'overdue', 'event']) source.addEventListener(type, onEvent);
    source.onerror = () => {
      feedStatus.textContent = '重新连接中…';
      // The browser retries by itself unless the stream was closed for good.
      if (source.readyState === EventSource.CLOSED) {
        source.close();
        setTimeout(connect, retry);
        retry = Math.min(retry * 2, 60_000);
      }
    };
  };
  connect();
  window.addEventListener('pagehide', () => source?.close());
}
