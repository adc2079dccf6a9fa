// `/` — the one-map view: areas with drill-down (district → township → community →
// grid → building, with a breadcrumb and the five models at each level), optional tile
// layers (when the server has /tiles), search that flies to an address, events time
// slider, a drawn polygon's profile, the events behind a hot spot or a risk unit, a
// building's counts and — for roles allowed to — its households (masked).
//
// Map labels: the style has no `glyphs` URL, so MapLibre draws every label with the
// browser's own fonts (TinySDF, the style spec's documented behaviour without
// `glyphs`): Chinese names render with no file from any origin.

import maplibregl from 'maplibre-gl';
import 'maplibre-gl/dist/maplibre-gl.css';
import './style.css';
import {
  baseStyle, bounds, capabilities, describeError, esc, fetchJSON, formatCount, labelPoints, quietMapErrors, tileURL, here, HttpError,
  CATEGORY_COLORS, CATEGORY_LABELS, STATUS_LABELS, label, MAP_FONTS, MAP_LOCALE,
  addOutsideBasemap,
} from './common.js';
import { addBasemap } from './basemap.js';
import { authJSON, session, ROLE_CAN, ROLE_NAMES } from './session.js';
import { renderEfficiency, renderHotspots, renderHousing, renderPopulation, renderRisk, CLASS_NAMES, TIER_NAMES } from './models.js';
import { PolygonDraw, contains } from './draw.js';
import { showEventDetail } from './event_detail.js';
import { showGridForces } from './forces_onemap.js';

const LEVELS = ['district', 'township', 'community', 'grid'];
const LEVEL_NAMES = { district: '全区', township: '街道/乡镇', community: '社区/村', grid: '网格', building: '楼栋' };
const AREA_COLORS = { township: '#1f6feb', community: '#0e9f6e', grid: '#b45309' };
const LABEL_SIZE = { township: 15, community: 13, grid: 12 };

const $ = (id) => document.getElementById(id);
const status = (text) => { $('map-status').textContent = text; $('map-status').hidden = !text; };

/** A message above the map: `kind` error (stays until closed) or ok/info (fades). */
let noticeTimer = null;
$('notice-close').addEventListener('click', () => { $('notice').hidden = true; });
function notice(text, kind = 'info') {
  const box = $('notice');
  clearTimeout(noticeTimer);
  box.className = `notice ${kind}`;
  box.querySelector('span').textContent = text;
  box.hidden = !text;
  if (text && kind !== 'error') noticeTimer = setTimeout(() => { box.hidden = true; }, 6000);
}

const state = {
  areas: {}, // level → FeatureCollection
  byCode: new Map(),
  path: [], // selected areas, district first (a building last when one is selected)
  charts: [],
  caps: null,
  monthsBack: 24,
  drawn: null, // the last drawn polygon Feature
};

const map = new maplibregl.Map({
  container: 'map',
  style: baseStyle('#eef1f4'),
  center: [104.4, 31.13],
  zoom: 10,
  attributionControl: false,
  // Labels in any script are drawn with these local fonts (no glyph files anywhere).
  localIdeographFontFamily: MAP_FONTS.join(', '),
  locale: MAP_LOCALE,
});
map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-left');
quietMapErrors(map, () => {});
window.__minqing = { map, state };

let draw = null;

map.on('load', async () => {
  addOutsideBasemap(map).catch(() => {});
  status('区域数据加载中…');
  try {
    await loadAreas();
  } catch (error) {
    status(`区域数据${describeError(error)}`);
    return;
  }
  // Our own basemap under the areas (its labels above them); before the tile layers, so
  // that those stay above its labels' layer order.
  await addBasemap(map).catch(() => false);
  state.caps = await capabilities();
  addTileLayers(state.caps);
  addLabelLayers();
  buildLayerSwitcher(state.caps);
  setupSearch(state.caps);
  setupTimeSlider(state.caps);
  setupDraw(state.caps);
  setupAccount(state.caps);
  renderLegend();
  select(state.path[0] || null);
  status('');
  map.once('idle', () => { document.body.dataset.ready = '1'; });
});

async function loadAreas() {
  const levels = await Promise.all(LEVELS.map((level) => authJSON(`/api/v1/areas?level=${level}`).catch((e) => (level === 'township' ? Promise.reject(e) : { type: 'FeatureCollection', features: [] }))));
  LEVELS.forEach((level, i) => {
    state.areas[level] = levels[i];
    for (const f of levels[i].features) state.byCode.set(f.properties.code, { ...f, level });
  });
  if (!state.areas.township.features.length) throw new Error('no areas');
  const district = state.areas.district.features[0];
  if (district) state.path = [state.byCode.get(district.properties.code)];
  const box = bounds(state.areas.township);
  map.fitBounds(box, { padding: 24, duration: 0 });
  for (const level of ['township', 'community', 'grid']) {
    map.addSource(`areas-${level}`, { type: 'geojson', data: state.areas[level], promoteId: 'code' });
    map.addLayer({
      id: `areas-${level}-fill`, type: 'fill', source: `areas-${level}`,
      paint: {
        'fill-color': AREA_COLORS[level],
        'fill-opacity': ['case', ['boolean', ['feature-state', 'hover'], false], 0.28, 0.08],
      },
    });
    map.addLayer({
      id: `areas-${level}-line`, type: 'line', source: `areas-${level}`,
      paint: { 'line-color': AREA_COLORS[level], 'line-width': level === 'township' ? 2 : 1 },
    });
  }
  map.addLayer({
    id: 'areas-selected', type: 'line', source: 'areas-township',
    paint: { 'line-color': '#d00', 'line-width': 3 }, filter: ['==', ['get', 'code'], ''],
  });
  let hovered = null;
  for (const level of ['township', 'community', 'grid']) {
    const layer = `areas-${level}-fill`;
    map.on('mousemove', layer, (e) => {
      const f = e.features[0];
      if (hovered) map.setFeatureState(hovered, { hover: false });
      hovered = { source: `areas-${level}`, id: f.properties.code };
      map.setFeatureState(hovered, { hover: true });
      map.getCanvas().title = f.properties.name;
    });
    map.on('mouseleave', layer, () => {
      if (hovered) map.setFeatureState(hovered, { hover: false });
      hovered = null;
      map.getCanvas().title = '';
    });
  }
  map.on('click', onMapClick);
}

/** Area names on the map, above every other layer, shown with their area level. */
function addLabelLayers() {
  for (const level of ['township', 'community', 'grid']) {
    map.addSource(`names-${level}`, { type: 'geojson', data: labelPoints(state.areas[level]) });
    map.addLayer({
      id: `areas-${level}-label`, type: 'symbol', source: `names-${level}`,
      layout: {
        'text-field': ['get', 'name'],
        'text-font': MAP_FONTS,
        'text-size': LABEL_SIZE[level],
        'text-max-width': 8,
        'text-padding': 4,
      },
      paint: { 'text-color': '#111827', 'text-halo-color': 'rgba(255,255,255,0.92)', 'text-halo-width': 1.6 },
    });
  }
  // The clicked building, hot-spot cell or risk unit, outlined on top of everything.
  map.addSource('picked', { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
  map.addLayer({ id: 'picked-line', type: 'line', source: 'picked', filter: ['!=', ['geometry-type'], 'Point'], paint: { 'line-color': '#d00', 'line-width': 3 } });
  map.addLayer({ id: 'picked-point', type: 'circle', source: 'picked', filter: ['==', ['geometry-type'], 'Point'], paint: { 'circle-radius': 9, 'circle-color': 'rgba(0,0,0,0)', 'circle-stroke-color': '#d00', 'circle-stroke-width': 3 } });
  applyAreaFilters();
}

/**
 * A clicked tile feature's whole geometry. A tile holds only its own part of a polygon,
 * clipped a little beyond the tile's edge: outlined as it is, the clip edges would be
 * drawn as straight lines along the tile boundary. A risk grid is an area whose full
 * polygon is loaded; a hot spot cell is a convex hexagon, the hull of its parts in the
 * loaded tiles.
 */
function wholeGeometry(feature, layerName) {
  if (feature.geometry.type === 'Point') return feature.geometry;
  const p = feature.properties;
  if (layerName === 'risk' && state.byCode.get(p.code)) return state.byCode.get(p.code).geometry;
  if (layerName === 'hotspots' && p.cell) {
    const parts = map.querySourceFeatures('tiles-hotspots', { sourceLayer: 'hotspots', filter: ['==', ['get', 'cell'], p.cell] });
    const points = [feature, ...parts].flatMap((f) => (f.geometry.type === 'Polygon' ? [f.geometry.coordinates] : f.geometry.coordinates).flatMap((poly) => poly[0]));
    return { type: 'Polygon', coordinates: [convexHull(points)] };
  }
  return feature.geometry;
}

/** The convex hull of [x, y] points as a closed ring (monotone chain). */
function convexHull(points) {
  const pts = [...points].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const cross = (o, a, b) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const half = (list) => {
    const out = [];
    for (const p of list) {
      while (out.length >= 2 && cross(out[out.length - 2], out[out.length - 1], p) <= 0) out.pop();
      out.push(p);
    }
    out.pop();
    return out;
  };
  const ring = [...half(pts), ...half([...pts].reverse())];
  return ring.length ? [...ring, ring[0]] : [];
}

/** Outline a clicked feature (a GeoJSON geometry), or clear the outline. */
function pick(geometry) {
  map.getSource('picked')?.setData({ type: 'FeatureCollection', features: geometry ? [{ type: 'Feature', properties: {}, geometry }] : [] });
}

/** The level whose polygons are shown under the current selection. */
function childLevel() {
  const last = currentArea();
  const index = last ? LEVELS.indexOf(last.level) : 0;
  return LEVELS[Math.min(index + 1, LEVELS.length - 1)];
}

/** The deepest selected area (a selected building's grid when a building is selected). */
function currentArea() {
  for (let i = state.path.length - 1; i >= 0; i--) if (state.path[i].level !== 'building') return state.path[i];
  return null;
}

function applyAreaFilters() {
  const last = currentArea();
  const showing = childLevel();
  const visible = layerVisible('areas');
  for (const level of ['township', 'community', 'grid']) {
    const on = visible && level === showing;
    const filter = last && last.level !== 'district' && level === showing && last.level !== level
      ? ['==', ['get', 'parent'], last.properties.code]
      : null;
    for (const suffix of ['fill', 'line', 'label']) {
      if (!map.getLayer(`areas-${level}-${suffix}`)) continue;
      map.setLayoutProperty(`areas-${level}-${suffix}`, 'visibility', on ? 'visible' : 'none');
      map.setFilter(`areas-${level}-${suffix}`, filter);
    }
  }
  if (last && last.level !== 'district') {
    map.removeLayer('areas-selected');
    map.addLayer({
      id: 'areas-selected', type: 'line', source: `areas-${last.level}`,
      paint: { 'line-color': '#d00', 'line-width': 3 }, filter: ['==', ['get', 'code'], last.properties.code],
    }, map.getLayer('areas-township-label') ? 'areas-township-label' : undefined);
  } else {
    map.setFilter('areas-selected', ['==', ['get', 'code'], '']);
  }
}

function onMapClick(e) {
  if (draw?.active) return;
  const tileLayers = ['risk', 'hotspots', 'events', 'enterprises', 'buildings'].flatMap((l) => [`tile-${l}-points`, `tile-${l}`, `tile-${l}-cells`]).filter((id) => map.getLayer(id));
  const hits = tileLayers.length ? map.queryRenderedFeatures(e.point, { layers: tileLayers }) : [];
  // Points first (a building on a risk grid is what was clicked), then hot-spot and
  // risk polygons, then aggregated cells (they only say "zoom in").
  const rank = (h) => (h.geometry.type === 'Point' ? 0 : h.layer.id.endsWith('-cells') ? 2 : 1);
  const hit = hits.length ? hits.reduce((best, h) => (rank(h) < rank(best) ? h : best)) : null;
  if (hit) {
    showFeature(hit, e.lngLat);
    return;
  }
  const level = childLevel();
  const areaHits = map.queryRenderedFeatures(e.point, { layers: [`areas-${level}-fill`] });
  if (areaHits.length) {
    const area = state.byCode.get(areaHits[0].properties.code);
    if (area) drillTo(area);
  }
}

/** The ancestors of an area, district first, and the area itself. */
function ancestry(area) {
  const path = [];
  for (let a = area; a; a = a.properties.parent ? state.byCode.get(a.properties.parent) : null) path.unshift(a);
  if (path[0]?.level !== 'district' && state.areas.district.features[0]) path.unshift(state.byCode.get(state.areas.district.features[0].properties.code));
  return path;
}

/** Select an area: the path becomes its ancestors plus itself. */
function drillTo(area) {
  state.path = ancestry(area);
  select(area);
  const box = bounds({ features: [area] });
  if (box) map.fitBounds(box, { padding: 40, duration: 800 });
}

function select(area) {
  pick(null);
  applyAreaFilters();
  renderBreadcrumb();
  const info = $('info');
  if (!area) {
    info.innerHTML = '<p class="muted">点击地图上的区域查看详情</p>';
    return;
  }
  const p = area.properties;
  const children = state.areas[LEVELS[LEVELS.indexOf(area.level) + 1]]?.features.filter((f) => f.properties.parent === p.code) || [];
  info.innerHTML = `<h2>${esc(p.name)}</h2>
    <table class="kv"><tr><th>层级</th><td>${esc(LEVEL_NAMES[area.level])}</td></tr>
    <tr><th>编码</th><td>${esc(p.code)}</td></tr>
    ${p.kind ? `<tr><th>类型</th><td>${esc(AREA_KINDS[p.kind] || '—')}</td></tr>` : ''}
    ${p.area_km2 != null ? `<tr><th>面积</th><td>${esc(Number(p.area_km2).toFixed(2))} km²</td></tr>` : ''}
    ${children.length ? `<tr><th>下级区域</th><td>${children.length} 个</td></tr>` : ''}</table>
    ${area.level === 'grid' ? '<p class="muted">点击地图上的楼栋查看楼栋详情</p>' : ''}
    ${children.length ? `<ul class="children">${children.slice(0, 40).map((c) => `<li><button data-code="${esc(c.properties.code)}">${esc(c.properties.name)}</button></li>`).join('')}</ul>` : ''}`;
  info.querySelectorAll('button[data-code]').forEach((b) => b.addEventListener('click', () => drillTo(state.byCode.get(b.dataset.code))));
  if (area.level === 'grid') {
    const box = document.createElement('section');
    box.id = 'grid-forces';
    box.className = 'grid-forces';
    info.append(box);
    showGridForces(box, p.code, state.caps, () => !box.isConnected);
  }
  loadModels(area);
}

function renderBreadcrumb() {
  const nav = $('breadcrumb');
  nav.innerHTML = state.path
    .map((a, i) => {
      const name = `${esc(a.properties.name)}<small>${esc(LEVEL_NAMES[a.level] || '')}</small>`;
      return i === state.path.length - 1 ? `<span data-level="${a.level}">${name}</span>` : `<button data-i="${i}" data-level="${a.level}">${name}</button>`;
    })
    .join(' › ');
  nav.querySelectorAll('button').forEach((b) =>
    b.addEventListener('click', () => {
      const area = state.path[Number(b.dataset.i)];
      drillTo(area);
    }),
  );
}

// ---- the five models for the selected area ------------------------------------------

let modelRequest = 0;

/** Clear the charts panel and show `text` while something loads. */
function chartsLoading(text) {
  const box = $('charts');
  state.charts.forEach((c) => c.dispose());
  state.charts = [];
  box.dataset.loaded = '';
  box.innerHTML = `<p class="muted loading">${esc(text)}</p>`;
  return ++modelRequest;
}

async function loadModels(area) {
  const code = area.properties.code;
  const request = chartsLoading('分析结果加载中…');
  const box = $('charts');
  const caps = state.caps || (await capabilities());
  const q = area.level === 'district' ? '' : `area=${encodeURIComponent(code)}`;
  // Risk: the grids of an area; inside one grid, its buildings.
  const riskLevel = area.level === 'grid' ? 'building' : 'grid';
  const jobs = [
    ['population', '人口结构', `/api/v1/analysis/population?${q}`, (b, a) => renderPopulation(b, a)],
    ['housing', '房屋与企业', `/api/v1/analysis/housing?${q}`, (b, a) => renderHousing(b, a)],
    ['hotspots', '热点分析', '/api/v1/analysis/hotspots', (b, a) => renderHotspots(b, a, (lon, lat) => area.level === 'district' || contains(area.geometry, lon, lat), `热点分析（中心在${LEVEL_NAMES[area.level] === '全区' ? '全区' : '本区域'}内的网格）`)],
    ['risk', '风险评估', `/api/v1/analysis/risk?level=${riskLevel}&limit=20${q ? `&${q}` : ''}`, (b, a) => renderRisk(b, a)],
    ['efficiency', '闭环效率', `/api/v1/analysis/efficiency?${q}`, (b, a) => renderEfficiency(b, a)],
  ].filter(([m]) => caps.has(`/api/v1/analysis/${m}`));
  if (!jobs.length) {
    box.innerHTML = '<p class="muted">分析模型：暂不可用</p>';
    return;
  }
  const answers = await Promise.all(jobs.map(([, , url]) => authJSON(url).catch((e) => e)));
  if (request !== modelRequest) return;
  box.innerHTML = '';
  jobs.forEach(([id, title, , render], i) => {
    const answer = answers[i];
    if (answer instanceof Error) box.insertAdjacentHTML('beforeend', `<div class="model" data-model="${id}"><h3>${esc(title)}</h3><p class="error-text">${esc(describeError(answer))}</p></div>`);
    else state.charts.push(...render(box, answer));
  });
  box.dataset.loaded = code;
}

// ---- clicked features: buildings, hot spots, risk units, events ---------------------

/** The `kind` of an area (see the import format): township, community and grid types. */
const AREA_KINDS = { district: '区', street: '街道', town: '镇', township: '乡', community: '社区', village: '行政村', urban: '城镇网格', rural: '农村网格' };
const TILE_KIND = { buildings: '楼栋', enterprises: '企业', events: '事件', hotspots: '热点网格', risk: '风险' };

function showFeature(feature, lngLat) {
  const p = feature.properties;
  const layerName = feature.layer.id.replace(/^tile-/, '').replace(/-(cells|points)$/, '');
  const isCell = feature.geometry.type !== 'Point' && p.count != null && ['buildings', 'enterprises', 'events'].includes(layerName);
  pick(wholeGeometry(feature, layerName));
  if (layerName === 'buildings' && !isCell && p.code) return showBuilding(p, feature.geometry.coordinates);
  if (layerName === 'hotspots' && p.cell) return showHotspot(p);
  if (layerName === 'risk' && p.code) return showRiskUnit(p, lngLat);
  if (layerName === 'events' && !isCell && p.code) return showEvent(p);
  if (layerName === 'events') return showEventCluster(p, isCell, lngLat);
  // Aggregated cells and enterprises: their attributes, in words.
  const rows = Object.entries(p)
    .filter(([k, v]) => v !== null && v !== '' && FEATURE_FIELDS[k])
    .map(([k, v]) => `<tr data-key="${esc(k)}"><th>${esc(FEATURE_FIELDS[k])}</th><td>${esc(featureValue(k, v))}</td></tr>`)
    .join('');
  $('info').innerHTML = `<h2>${esc(TILE_KIND[layerName] || '要素')}${isCell ? '（聚合）' : ''}</h2><table class="kv">${rows}</table>${isCell ? '<p class="muted">放大地图可查看单个要素</p>' : ''}`;
}

const FEATURE_FIELDS = { count: '数量', open: '在办', industry: '行业', size: '规模', code: '编码', name: '名称', category: '类别', status: '状态' };
function featureValue(key, value) {
  if (key === 'category') return label(CATEGORY_LABELS, value);
  if (key === 'status') return label(STATUS_LABELS, value);
  if (key === 'count' || key === 'open') return `${formatCount(Number(value))} 件`;
  return value;
}

/** An aggregated event point or cell: how many, how many open, and the events under it. */
let clusterRequest = 0;
function showEventCluster(p, isCell, lngLat) {
  const request = ++clusterRequest;
  const count = Number(p.count) || 0;
  const open = p.open != null ? Number(p.open) : null;
  $('info').innerHTML = `<h2 data-cluster="1">事件聚合点</h2><table class="kv">
    <tr data-key="count"><th>事件数</th><td>${esc(formatCount(count))} 件</td></tr>
    ${open != null ? `<tr data-key="open"><th>其中在办</th><td>${esc(formatCount(open))} 件</td></tr>` : ''}</table>
    <p class="muted">${isCell ? '此处为多件事件的汇总' : '此处为附近事件的汇总'}，放大地图可查看并点击单个事件</p>
    <section id="cluster-events"></section>`;
  // Points that share a place stay aggregated at any zoom: from z14, the events under
  // the point (about 25 px around it), their rows opening the detail.
  if (!lngLat || map.getZoom() < 14) return;
  const at = map.project(lngLat);
  const sw = map.unproject([at.x - 25, at.y + 25]);
  const ne = map.unproject([at.x + 25, at.y - 25]);
  const bbox = [sw.lng, sw.lat, ne.lng, ne.lat].map((v) => v.toFixed(6)).join(',');
  const { from, to } = timeRange();
  loadEventsBehind(`bbox=${bbox}&from=${from}&to=${to}`, $('cluster-events'), '此处事件', request, () => clusterRequest);
}

const signInHint = (what) => `<p class="muted" data-hint="signin">${esc(what)}需要登录（领导或本网格网格员）。<button class="link" data-action="signin">登录</button></p>`;

function bindSignInLinks(root) {
  root.querySelectorAll('[data-action="signin"]').forEach((b) => b.addEventListener('click', () => openSignIn()));
}

/** The grid containing a point (from the loaded grid polygons). */
function gridAt(lon, lat) {
  return state.areas.grid?.features.find((f) => contains(f.geometry, lon, lat)) || null;
}

let buildingRequest = 0;
async function showBuilding(p, [lon, lat]) {
  const request = ++buildingRequest;
  const info = $('info');
  const gridFeature = gridAt(lon, lat);
  const grid = gridFeature ? state.byCode.get(gridFeature.properties.code) : null;
  const building = { level: 'building', properties: { code: p.code, name: p.code }, geometry: { type: 'Point', coordinates: [lon, lat] } };
  state.path = [...(grid ? ancestry(grid) : state.path.filter((a) => a.level !== 'building')), building];
  applyAreaFilters();
  renderBreadcrumb();
  info.innerHTML = `<h2 data-building="${esc(p.code)}">楼栋 <small>${esc(p.code)}</small></h2>
    <table class="kv building-counts">
      <tr data-key="residents"><th>实有人口</th><td>${esc(formatCount(Number(p.residents)))}</td></tr>
      <tr data-key="units"><th>住房套数</th><td>${esc(formatCount(Number(p.units)))}</td></tr>
      <tr data-key="enterprises"><th>企业</th><td>${esc(formatCount(Number(p.enterprises)))}</td></tr>
      ${grid ? `<tr><th>所属网格</th><td>${esc(grid.properties.name)}</td></tr>` : ''}
    </table>
    <section id="building-risk"></section>
    <section id="building-events"><h3>本楼事件</h3><p class="muted loading">加载中…</p></section>
    <section id="households"><h3>住户（脱敏）</h3><p class="muted loading">加载中…</p></section>`;
  chartsLoading('');
  $('charts').innerHTML = '';
  // The address label and the areas from reverse geocoding at the building's point.
  if (state.caps.has('/api/v1/reverse')) {
    authJSON(`/api/v1/reverse?lon=${lon}&lat=${lat}`).then((r) => {
      if (request !== buildingRequest || r.building?.code !== p.code) return;
      // The breadcrumb already names the areas: keep the part after the innermost one.
      const community = r.areas.find((a) => a.level === 'community')?.name;
      const at = community ? r.building.label.lastIndexOf(community) : -1;
      building.properties.name = at >= 0 && at + community.length < r.building.label.length ? r.building.label.slice(at + community.length) : r.building.label;
      info.querySelector('h2').innerHTML = `${esc(r.building.label)} <small>${esc(p.code)}</small>`;
      renderBreadcrumb();
    }).catch(() => {});
  }
  const me = session.token() ? session.me() : null;
  if (grid && state.caps.has('/api/v1/analysis/risk') && !ROLE_CAN.buildingRisk(me, grid.properties.code)) {
    $('building-risk').innerHTML = `<h3>风险评估</h3><p class="muted">楼栋风险评分涉及本楼事件与住户，仅对可查看本网格事件的账号显示；网格风险见上级网格。</p>`;
  } else if (grid && state.caps.has('/api/v1/analysis/risk')) {
    authJSON(`/api/v1/analysis/risk?level=building&area=${encodeURIComponent(grid.properties.code)}&limit=5000`).then((r) => {
      if (request !== buildingRequest) return;
      const unit = (r.units || []).find((u) => u.code === p.code);
      $('building-risk').innerHTML = unit ? riskUnitHTML(unit) : '<h3>风险评估</h3><p class="muted">本楼栋无风险评分</p>';
    }).catch((e) => { if (request === buildingRequest) $('building-risk').innerHTML = `<p class="error-text">风险评估${esc(describeError(e))}</p>`; });
  }
  loadEventsBehind(`building=${encodeURIComponent(p.code)}`, $('building-events'), '本楼事件', request, () => buildingRequest);
  loadHouseholds(p.code, grid?.properties.code, request);
}

function riskUnitHTML(unit) {
  const factors = (unit.factors || []).map((f) => `<tr><th>${esc(FACTOR_NAMES[f.factor] || f.factor)}</th><td>${f.withheld ? '无权限查看' : f.suppressed ? '少于 5 人不显示' : esc(typeof f.contribution === 'number' ? f.contribution.toFixed(1) : '—')}</td></tr>`).join('');
  return `<h3>风险评估</h3><table class="kv"><tr data-key="score"><th>风险评分</th><td>${esc(unit.score.toFixed(1))}</td></tr>
    <tr data-key="tier"><th>风险等级</th><td>${esc(TIER_NAMES[unit.tier] || unit.tier)}</td></tr>${factors}</table>`;
}

const FACTOR_NAMES = {
  key_group_density: '重点人群密度', repeat_disputes: '重复矛盾纠纷', overdue_events: '超期事件',
  unresolved_events: '未化解事件', petitions: '信访', overcrowding: '群租（过密）',
};

async function loadHouseholds(code, gridCode, request) {
  const box = $('households');
  const me = session.me();
  if (!state.caps.has('/api/v1/buildings/{code}/households')) { box.innerHTML = '<h3>住户（脱敏）</h3><p class="muted">暂不可用</p>'; return; }
  if (!me || !session.token()) { box.innerHTML = `<h3>住户（脱敏）</h3>${signInHint('查看住户')}`; bindSignInLinks(box); return; }
  if (!ROLE_CAN.households(me.role) || (me.role === 'grid_worker' && !me.grids.includes(gridCode))) {
    box.innerHTML = `<h3>住户（脱敏）</h3><p class="muted">当前账号（${esc(ROLE_NAMES[me.role] || me.role)}）无权查看本楼住户</p>`;
    return;
  }
  try {
    const answer = await authJSON(`/api/v1/buildings/${encodeURIComponent(code)}/households`);
    if (request !== buildingRequest) return;
    const households = answer.households || [];
    const residents = households.reduce((n, h) => n + h.members.length, 0);
    box.innerHTML = `<h3>住户（脱敏） <small>${households.length} 户 · ${residents} 人</small></h3>
      ${households.length ? `<table class="households"><tr><th>户</th><th>姓名</th><th>关系</th><th>证件号</th><th>电话</th></tr>${households.slice(0, 100).map((h, i) => h.members.map((m, j) => `<tr${j === 0 ? ' class="first"' : ''}><td>${j === 0 ? i + 1 : ''}</td><td>${esc(m.name)}</td><td>${esc(m.relation || '')}</td><td>${esc(m.id_number)}</td><td>${esc(m.phone || '')}</td></tr>`).join('')).join('')}</table>` : '<p class="muted">无住户记录</p>'}
      <p class="note">查看已记入审计日志；信息已脱敏。</p>`;
    box.dataset.households = String(households.length);
  } catch (error) {
    if (request === buildingRequest) box.innerHTML = `<h3>住户（脱敏）</h3><p class="error-text">${esc(describeError(error))}</p>`;
  }
}

/**
 * The events behind a unit (`query`: cell=…, grid=… or building=…): the total for
 * everyone, the records and their addresses for roles that may read events.
 */
async function loadEventsBehind(query, box, title, request, current) {
  if (!state.caps.has('/api/v1/events')) { box.innerHTML = `<h3>${esc(title)}</h3><p class="muted">暂不可用</p>`; return; }
  const me = session.me();
  const records = me && session.token() && ROLE_CAN.events(me.role);
  try {
    const answer = await authJSON(`/api/v1/events?${query}&limit=${records ? 50 : 0}`);
    if (request !== current()) return;
    const events = answer.events || [];
    box.dataset.total = String(answer.total);
    let html = `<h3>${esc(title)} <small data-total="${answer.total}">共 ${formatCount(answer.total)} 件</small></h3>`;
    if (!records) {
      html += signInHint('查看事件详情和地址');
    } else if (events.length) {
      // The addresses behind the events, by name: each with its number of events.
      const byAddress = new Map();
      for (const ev of events) {
        const key = ev.address || '（地址未登记）';
        byAddress.set(key, (byAddress.get(key) || 0) + 1);
      }
      html += `<table class="events"><tr><th>日期</th><th>类别</th><th>状态</th><th>事项</th></tr>${events.map((ev) => `<tr data-code="${esc(ev.code)}"><td>${esc((ev.reported_at || '').slice(0, 10))}</td><td>${esc(label(CATEGORY_LABELS, ev.category))}</td><td>${esc(label(STATUS_LABELS, ev.status))}${ev.overdue ? ' <b class="overdue">超期</b>' : ''}</td><td>${esc(ev.title || ev.code)}<br><small class="muted">${esc(ev.community?.name || '')} ${esc(ev.address || '')}</small></td></tr>`).join('')}</table>
        ${answer.total > events.length ? `<p class="note">显示最近 ${events.length} 件</p>` : ''}
        <h3>涉及地址 <small>${byAddress.size} 个</small></h3>
        <ul class="addresses">${[...byAddress].sort((a, b) => b[1] - a[1]).slice(0, 20).map(([a, n]) => `<li><span>${esc(a)}</span><span>${n} 件</span></li>`).join('')}</ul>`;
    } else {
      html += '<p class="muted">当前账号可见范围内无事件</p>';
    }
    box.innerHTML = html;
    bindSignInLinks(box);
    bindEventRows(box);
  } catch (error) {
    if (request === current()) box.innerHTML = `<h3>${esc(title)}</h3><p class="error-text">${esc(describeError(error))}</p>`;
  }
}

let unitRequest = 0;
function showHotspot(p) {
  const request = ++unitRequest;
  const info = $('info');
  info.innerHTML = `<h2 data-cell="${esc(p.cell)}">热点单元 <small>六边形网格</small></h2>
    <table class="kv"><tr data-key="class"><th>热点类别</th><td>${esc(CLASS_NAMES[p.class] || p.class)}</td></tr>
    <tr data-key="count"><th>事件数（全部时段）</th><td>${esc(formatCount(Number(p.count)))}</td></tr>
    <tr data-key="gi_z"><th>聚集强度</th><td>${esc(Number(p.gi_z).toFixed(2))}</td></tr>
    <tr data-key="p"><th>统计可信度</th><td>${esc(significance(Number(p.p)))}</td></tr></table>
    <section id="unit-events"><p class="muted loading">事件加载中…</p></section>`;
  loadEventsBehind(`cell=${encodeURIComponent(p.cell)}`, $('unit-events'), '网格内事件', request, () => unitRequest);
}

/** A p-value in plain words for leaders (the number stays in the API and the export). */
function significance(p) {
  if (!Number.isFinite(p)) return '—';
  if (p < 0.01) return '极显著（99% 置信）';
  if (p < 0.05) return '显著（95% 置信）';
  if (p < 0.1) return '较显著（90% 置信）';
  return '不显著';
}

function showRiskUnit(p, lngLat) {
  const request = ++unitRequest;
  const info = $('info');
  const isGrid = p.level === 'grid';
  const area = isGrid ? state.byCode.get(p.code) : null;
  info.innerHTML = `<h2 data-risk="${esc(p.code)}">${isGrid ? '网格风险' : '楼栋风险'} <small>${esc(area?.properties.name || p.code)}</small></h2>
    <table class="kv"><tr data-key="score"><th>风险评分</th><td>${esc(Number(p.score).toFixed(1))}</td></tr>
    <tr data-key="tier"><th>风险等级</th><td>${esc(TIER_NAMES[p.tier] || p.tier)}</td></tr></table>
    <section id="unit-factors"></section>
    <section id="unit-events"><p class="muted loading">事件加载中…</p></section>`;
  // The score's factors from the risk model (grids of the district, or the buildings of the grid).
  const grid = isGrid ? p.code : gridAt(lngLat.lng, lngLat.lat)?.properties.code;
  if (grid) {
    authJSON(`/api/v1/analysis/risk?level=${isGrid ? 'grid' : 'building'}&area=${encodeURIComponent(grid)}&limit=5000`).then((r) => {
      const unit = (r.units || []).find((u) => u.code === p.code);
      if (unit && request === unitRequest) $('unit-factors').innerHTML = riskUnitHTML(unit).replace('<h3>风险评估</h3>', '<h3>风险因子（贡献分）</h3>');
    }).catch(() => {});
  }
  loadEventsBehind(isGrid ? `grid=${encodeURIComponent(p.code)}` : `building=${encodeURIComponent(p.code)}`, $('unit-events'), isGrid ? '网格内事件' : '本楼事件', request, () => unitRequest);
}

async function showEvent(p) {
  const info = $('info');
  const me = session.me();
  if (me && session.token() && ROLE_CAN.events(me.role)) {
    info.innerHTML = '<section id="event-detail" class="event-detail"></section>';
    await showEventDetail($('event-detail'), p.code, { compact: true });
    return;
  }
  info.innerHTML = `<h2>事件 <small>${esc(p.code)}</small></h2><table class="kv">
    <tr><th>类别</th><td>${esc(label(CATEGORY_LABELS, p.category))}</td></tr>
    <tr><th>状态</th><td>${esc(label(STATUS_LABELS, p.status))}</td></tr>
    ${p.reported_at ? `<tr><th>受理时间</th><td>${esc(new Date(Number(p.reported_at) * 1000).toLocaleString('zh-CN', { hour12: false }))}</td></tr>` : ''}</table>
    ${signInHint('查看事件详情、处置经过和办理')}`;
  bindSignInLinks(info);
}

/** The events of a list (hot spot, risk unit, building): a row opens the event's detail. */
function bindEventRows(box) {
  box.querySelectorAll('tr[data-code]').forEach((row) => {
    row.classList.add('clickable');
    row.tabIndex = 0;
    const open = () => showEvent({ code: row.dataset.code });
    row.addEventListener('click', open);
    row.addEventListener('keydown', (e) => { if (e.key === 'Enter') open(); });
  });
}

// ---- drawing a polygon to profile it -------------------------------------------------

function setupDraw(caps) {
  const start = $('draw');
  const done = $('draw-done');
  const cancel = $('draw-cancel');
  const hint = $('draw-hint');
  if (!caps.paths.has('/api/v1/analysis/population')) {
    start.disabled = true;
    start.title = '框选分析暂不可用';
    return;
  }
  draw = new PolygonDraw(map, {
    onChange: (drawing, n = 0) => {
      start.hidden = drawing;
      done.hidden = !drawing;
      cancel.hidden = !drawing;
      done.disabled = n < 3;
      hint.hidden = !drawing;
      hint.textContent = n < 3 ? `在地图上依次点击多边形的顶点（已选 ${n} 个，至少 3 个）` : `已选 ${n} 个顶点：双击或点“完成”结束，Esc 取消`;
    },
    onDone: profilePolygon,
  });
  start.addEventListener('click', () => draw.start());
  done.addEventListener('click', () => draw.finish());
  cancel.addEventListener('click', () => draw.cancel());
}

async function profilePolygon(feature) {
  state.drawn = feature;
  delete document.body.dataset.profiled;
  const request = chartsLoading('框选区域分析中…');
  $('info').innerHTML = '<h2>框选区域</h2><p class="muted loading">分析中…</p>';
  try {
    const answer = await authJSON('/api/v1/analysis/population', {
      method: 'POST', headers: { 'Content-Type': 'application/geo+json' }, body: JSON.stringify(feature),
    });
    if (request !== modelRequest) return;
    $('info').innerHTML = `<h2>框选区域</h2><table class="kv">
      <tr data-key="buildings"><th>楼栋</th><td>${esc(formatCount(answer.area?.buildings))}</td></tr>
      <tr data-key="area_km2"><th>面积</th><td>${esc(typeof answer.area_km2 === 'number' ? answer.area_km2.toFixed(3) : '—')} km²</td></tr></table>
      <p class="note">${answer.area?.level === 'grids'
    ? `公开数据按整网格统计：计入框选范围包含过半楼栋的网格（${esc((answer.area.grids || []).map((g) => g.name).join('、'))}），各项计数经扰动保护，不显示 1–4 的计数。`
    : '统计点位在多边形内的楼栋。'}</p><button class="link" id="draw-clear">清除框选</button>`;
    $('draw-clear').addEventListener('click', () => { draw.cancel(); select(currentArea()); });
    const box = $('charts');
    box.innerHTML = '';
    state.charts.push(...renderPopulation(box, answer, '框选区域 · 人口结构'));
    if (answer.housing) state.charts.push(...renderHousing(box, answer.housing, '框选区域 · 房屋与企业'));
    box.dataset.loaded = 'polygon';
    document.body.dataset.profiled = String(answer.residents);
  } catch (error) {
    const message = error instanceof HttpError && error.status === 422
      ? '框选范围过小：公开数据最小按一个网格统计，请框选至少半个网格的楼栋。'
      : describeError(error);
    $('info').innerHTML = `<h2>框选区域</h2><p class="error-text">${esc(message)}</p>`;
    $('charts').innerHTML = '';
  }
}

// ---- signing in ------------------------------------------------------------------------

function setupAccount(caps) {
  const box = $('account');
  if (!caps.has('/api/v1/auth/login')) { box.hidden = true; return; }
  session.onExpired = () => {
    renderAccount();
    notice('登录已过期，请重新登录', 'error');
    openSignIn('登录已过期，请重新登录');
  };
  $('signin-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const form = new FormData(e.target);
    const button = e.target.querySelector('button[type="submit"]');
    button.disabled = true;
    $('signin-message').textContent = '登录中…';
    try {
      const me = await session.login(form.get('username'), form.get('password'));
      $('signin').close();
      e.target.reset();
      renderAccount();
      notice(`已登录：${me.username}（${ROLE_NAMES[me.role] || me.role}）`, 'ok');
      refreshPanel();
    } catch (error) {
      $('signin-message').textContent = error instanceof HttpError && (error.status === 401 || error.status === 403) ? '账号或密码错误' : describeError(error);
    } finally {
      button.disabled = false;
    }
  });
  $('signin-cancel').addEventListener('click', () => $('signin').close());
  renderAccount();
  // A session from an earlier visit: check it is still valid (a 401 calls onExpired).
  if (session.token() && caps.has('/api/v1/auth/me')) authJSON('/api/v1/auth/me').catch(() => {});
}

function renderAccount() {
  const box = $('account');
  const me = session.token() ? session.me() : null;
  box.innerHTML = me
    ? `<span class="who" data-role="${esc(me.role)}">${esc(me.username)} · ${esc(ROLE_NAMES[me.role] || me.role)}</span><button id="signout">退出</button>`
    : '<button id="signin-open">登录</button>';
  $('signout')?.addEventListener('click', async () => {
    await session.logout();
    renderAccount();
    notice('已退出登录', 'ok');
    refreshPanel();
  });
  $('signin-open')?.addEventListener('click', () => openSignIn());
}

function openSignIn(message = '') {
  $('signin-message').textContent = message;
  if (!$('signin').open) $('signin').showModal();
  $('signin').querySelector('input[name="username"]').focus();
}

/** After signing in or out: show the selected thing again with what the role may see. */
function refreshPanel() {
  const last = state.path[state.path.length - 1];
  const building = $('info').querySelector('[data-building]');
  if (last?.level === 'building' && building) {
    const [lon, lat] = last.geometry.coordinates;
    const feature = map.querySourceFeatures('tiles-buildings', { sourceLayer: 'buildings', filter: ['==', ['get', 'code'], last.properties.code] })[0];
    if (feature) return showBuilding(feature.properties, [lon, lat]);
  }
  const cell = $('info').querySelector('[data-cell]');
  if (cell) {
    const f = map.querySourceFeatures('tiles-hotspots', { sourceLayer: 'hotspots', filter: ['==', ['get', 'cell'], cell.dataset.cell] })[0];
    if (f) return showHotspot(f.properties);
  }
  if (!state.drawn || $('charts').dataset.loaded !== 'polygon') select(currentArea());
}

// ---- tile layers ---------------------------------------------------------------

const LAYERS = [
  ['areas', '行政区划'],
  ['buildings', '楼栋'],
  ['enterprises', '企业'],
  ['events', '事件'],
  ['heat', '事件热力'],
  ['hotspots', '热点'],
  ['risk', '风险'],
  ['patrols', '巡逻轨迹'],
];
const layerOn = { areas: true, buildings: true, enterprises: false, events: true, heat: false, hotspots: false, risk: false, patrols: false };
const layerVisible = (name) => layerOn[name];

function addTileLayers(caps) {
  const names = caps.tiles ? ['buildings', 'enterprises', 'events', 'hotspots', 'risk', 'patrols'].filter((l) => caps.tileLayers.size === 0 || caps.tileLayers.has(l)) : [];
  const before = 'areas-selected';
  if (caps.tiles) {
    map.addSource('heat', { type: 'raster', tiles: [heatURL()], tileSize: 256 });
    map.addLayer({ id: 'tile-heat', type: 'raster', source: 'heat', paint: { 'raster-opacity': 0.75 }, layout: { visibility: 'none' } }, 'areas-township-fill');
  }
  for (const name of names) {
    map.addSource(`tiles-${name}`, { type: 'vector', tiles: [name === 'events' ? eventsURL() : tileURL([name])], minzoom: 0, maxzoom: 16 });
  }
  if (names.includes('risk')) {
    map.addLayer({
      id: 'tile-risk', type: 'fill', source: 'tiles-risk', 'source-layer': 'risk',
      paint: { 'fill-color': ['match', ['get', 'tier'], 'large', '#c0392b', 'medium', '#e67e22', 'small', '#f1c40f', '#999'], 'fill-opacity': 0.45 },
    }, before);
    // From z14 the layer also carries the medium- and large-tier buildings as points.
    map.addLayer({
      id: 'tile-risk-points', type: 'circle', source: 'tiles-risk', 'source-layer': 'risk',
      filter: ['==', ['geometry-type'], 'Point'],
      paint: { 'circle-radius': 4, 'circle-color': ['match', ['get', 'tier'], 'large', '#c0392b', '#e67e22'], 'circle-stroke-color': '#fff', 'circle-stroke-width': 1 },
    }, before);
  }
  if (names.includes('hotspots')) {
    map.addLayer({
      id: 'tile-hotspots', type: 'fill', source: 'tiles-hotspots', 'source-layer': 'hotspots',
      paint: {
        'fill-color': ['case', ['>', ['to-number', ['get', 'gi_z'], 0], 0], '#d7191c', '#2c7bb6'],
        'fill-opacity': ['min', 0.7, ['*', 0.2, ['abs', ['to-number', ['get', 'gi_z'], 0]]]],
      },
    }, before);
  }
  if (names.includes('patrols')) {
    // Tracks (lines) from z13, patrol visits per cell (points with `visits`) below.
    map.addLayer({ id: 'tile-patrols', type: 'line', source: 'tiles-patrols', 'source-layer': 'patrols', filter: ['==', ['geometry-type'], 'LineString'], paint: { 'line-color': '#0d9488', 'line-width': 2, 'line-opacity': 0.8 } }, before);
    map.addLayer({ id: 'tile-patrols-cells', type: 'circle', source: 'tiles-patrols', 'source-layer': 'patrols', filter: ['==', ['geometry-type'], 'Point'], paint: { 'circle-color': '#0d9488', 'circle-opacity': 0.6, 'circle-radius': ['interpolate', ['linear'], ['to-number', ['get', 'visits'], 1], 1, 3, 20, 9] } }, before);
  }
  // Buildings, enterprises and events are points from a zoom on and aggregated cells
  // (polygons with a `count`) below it: one fill layer for the cells, one circle layer
  // for the points, switched together.
  const POINT_PAINT = {
    buildings: { 'circle-radius': ['interpolate', ['linear'], ['zoom'], 14, 2, 18, 5], 'circle-color': '#4b5563' },
    enterprises: { 'circle-radius': 3, 'circle-color': '#7c3aed' },
    events: {
      'circle-radius': ['interpolate', ['linear'], ['zoom'], 14, 3, 18, 6],
      'circle-color': ['match', ['get', 'category'], ...Object.entries(CATEGORY_COLORS).flat(), '#e4572e'],
    },
  };
  const CELL_COLOR = { buildings: '#4b5563', enterprises: '#7c3aed', events: '#e4572e' };
  for (const name of ['buildings', 'enterprises', 'events']) {
    if (!names.includes(name)) continue;
    map.addLayer({
      id: `tile-${name}-cells`, type: 'fill', source: `tiles-${name}`, 'source-layer': name,
      filter: ['==', ['geometry-type'], 'Polygon'],
      paint: { 'fill-color': CELL_COLOR[name], 'fill-opacity': ['interpolate', ['linear'], ['to-number', ['get', 'count'], 1], 1, 0.15, 50, 0.6] },
    }, before);
    map.addLayer({
      id: `tile-${name}`, type: 'circle', source: `tiles-${name}`, 'source-layer': name,
      filter: ['==', ['geometry-type'], 'Point'],
      paint: { ...POINT_PAINT[name], 'circle-stroke-color': '#fff', 'circle-stroke-width': 0.5 },
    }, before);
  }
  for (const name of names) {
    const id = `tile-${name}`;
    if (map.getLayer(id)) {
      setTileLayerVisible(name, layerOn[name]);
      map.on('mouseenter', id, () => { map.getCanvas().style.cursor = 'pointer'; });
      map.on('mouseleave', id, () => { map.getCanvas().style.cursor = ''; });
    }
  }
}

function setTileLayerVisible(name, on) {
  for (const id of [`tile-${name}`, `tile-${name}-cells`, `tile-${name}-points`]) {
    if (map.getLayer(id)) map.setLayoutProperty(id, 'visibility', on ? 'visible' : 'none');
  }
}

function buildLayerSwitcher() {
  const list = $('layers');
  list.innerHTML = '';
  for (const [name, title] of LAYERS) {
    const id = name === 'areas' ? 'areas-township-fill' : `tile-${name}`;
    const available = !!map.getLayer(id);
    const li = document.createElement('li');
    li.innerHTML = `<label><input type="checkbox" data-layer="${name}" ${available && layerOn[name] ? 'checked' : ''} ${available ? '' : 'disabled'} /> ${esc(title)}${available ? '' : ' <small class="muted">暂不可用</small>'}</label>`;
    list.append(li);
  }
  list.querySelectorAll('input').forEach((input) =>
    input.addEventListener('change', () => {
      const name = input.dataset.layer;
      layerOn[name] = input.checked;
      if (name === 'areas') applyAreaFilters();
      else setTileLayerVisible(name, input.checked);
      renderLegend();
    }),
  );
}

function renderLegend() {
  const rows = [];
  if (layerOn.areas) for (const level of ['township', 'community', 'grid']) rows.push(`<li><i style="border:2px solid ${AREA_COLORS[level]}"></i>${LEVEL_NAMES[level]}</li>`);
  if (layerOn.buildings && map.getLayer('tile-buildings')) rows.push('<li><i style="background:#6b7280"></i>楼栋</li>');
  if (layerOn.enterprises && map.getLayer('tile-enterprises')) rows.push('<li><i class="dot" style="background:#7c3aed"></i>企业</li>');
  if (layerOn.events && map.getLayer('tile-events')) for (const [c, color] of Object.entries(CATEGORY_COLORS)) rows.push(`<li><i class="dot" style="background:${color}"></i>${CATEGORY_LABELS[c]}</li>`);
  if (layerOn.hotspots && map.getLayer('tile-hotspots')) rows.push('<li><i style="background:#d7191c"></i>热点（事件聚集）</li><li><i style="background:#2c7bb6"></i>冷点</li>');
  if (layerOn.risk && map.getLayer('tile-risk')) rows.push('<li><i style="background:#c0392b"></i>高风险</li><li><i style="background:#e67e22"></i>中风险</li><li><i style="background:#f1c40f"></i>低风险</li>');
  if (layerOn.patrols && map.getLayer('tile-patrols')) rows.push('<li><i style="background:#0d9488"></i>近30天巡逻（轨迹／覆盖）</li>');
  if (layerOn.heat && map.getLayer('tile-heat')) rows.push('<li><i style="background:linear-gradient(90deg,#ffffb2,#bd0026)"></i>事件密度</li>');
  $('legend').innerHTML = `<ul>${rows.join('')}</ul>`;
}

// ---- time slider -----------------------------------------------------------------
// The slider counts back from the end of the data (today when events reach today, else
// the last day of the latest month with events), so every position covers real data;
// the label names the dates, the number of events and the data's whole range, and says
// so when a selection holds no event.

const isoDay = (d) => new Date(d.getTime() + 8 * 3_600_000).toISOString().slice(0, 10);

function timeRange() {
  const to = state.dataEnd ? new Date(state.dataEnd) : new Date();
  const from = new Date(to);
  from.setMonth(from.getMonth() - state.monthsBack);
  from.setDate(from.getDate() + 1);
  return { from: isoDay(from), to: isoDay(to) };
}

/** The events tiles of the slider's time range (the server filters points and cells). */
function eventsURL() {
  const { from, to } = timeRange();
  return `${tileURL(['events'])}?from=${from}&to=${to}`;
}

function heatURL() {
  const { from, to } = timeRange();
  return here(`/heatmap/{z}/{x}/{y}.png?from=${from}&to=${to}`);
}

const eventTotal = async (query) => (await authJSON(`/api/v1/events?limit=0&${query}`)).total;

/** The data's range by months: the latest month with events and the earliest (at most 10 years back). */
async function findDataRange() {
  const now = new Date();
  const monthStart = (y, m) => isoDay(new Date(Date.UTC(y, m, 1) - 8 * 3_600_000));
  const monthEnd = (y, m) => isoDay(new Date(Date.UTC(y, m + 1, 1) - 8 * 3_600_000 - 1));
  let y = now.getFullYear();
  let m = now.getMonth();
  if ((await eventTotal(`from=${monthStart(y - 10, m)}&to=${isoDay(now)}`)) === 0) return null;
  // Back by years, then by months, to the latest month with events.
  while ((await eventTotal(`from=${monthStart(y, 0)}&to=${y === now.getFullYear() ? isoDay(now) : monthEnd(y, 11)}`)) === 0) { y--; m = 11; }
  while (m > 0 && (await eventTotal(`from=${monthStart(y, m)}&to=${monthEnd(y, m)}`)) === 0) m--;
  const end = y === now.getFullYear() && m === now.getMonth() ? now : new Date(`${monthEnd(y, m)}T12:00:00+08:00`);
  let fy = y;
  while (fy > now.getFullYear() - 10 && (await eventTotal(`from=${monthStart(fy - 1, 0)}&to=${monthEnd(fy - 1, 11)}`)) > 0) fy--;
  let fm = 0;
  while (fm < 11 && (await eventTotal(`from=${monthStart(fy, fm)}&to=${monthEnd(fy, fm)}`)) === 0) fm++;
  return { end, first: monthStart(fy, fm), months: (y - fy) * 12 + (m - fm) + 1 };
}

function setupTimeSlider(caps) {
  const slider = $('time');
  const labelBox = $('time-label');
  let request = 0;
  const describe = async () => {
    const mine = ++request;
    const { from, to } = timeRange();
    labelBox.textContent = `近 ${state.monthsBack} 个月（${from} 至 ${to}）`;
    if (!caps.has('/api/v1/events')) return;
    try {
      const n = await eventTotal(`from=${from}&to=${to}`);
      if (mine !== request) return;
      const range = state.dataRange ? `数据范围 ${state.dataRange.first} 至 ${isoDay(state.dataRange.end)}` : '';
      labelBox.innerHTML = `近 ${state.monthsBack} 个月（${esc(from)} 至 ${esc(to)}）<br>${n ? `共 ${esc(formatCount(n))} 件事件` : '<b class="overdue">所选时段无事件</b>'}${range ? `<br><small>${esc(range)}</small>` : ''}`;
      labelBox.dataset.total = String(n);
    } catch { /* the dates stay */ }
  };
  const apply = () => {
    state.monthsBack = Number(slider.value) || 1;
    map.getSource('tiles-events')?.setTiles([eventsURL()]);
    const heat = map.getSource('heat');
    if (heat) heat.setTiles([heatURL()]);
    describe();
  };
  slider.min = '1';
  slider.addEventListener('change', apply);
  slider.addEventListener('input', () => {
    state.monthsBack = Number(slider.value) || 1;
    const { from, to } = timeRange();
    labelBox.textContent = `近 ${slider.value} 个月（${from} 至 ${to}）`;
  });
  describe();
  if (!caps.has('/api/v1/events')) return;
  findDataRange().then((range) => {
    if (!range) { labelBox.innerHTML = '<b class="overdue">暂无事件数据</b>'; return; }
    state.dataRange = range;
    state.dataEnd = range.end.getTime();
    slider.max = String(Math.max(1, range.months));
    if (Number(slider.value) > range.months) slider.value = String(range.months);
    labelBox.dataset.range = `${range.first}/${isoDay(range.end)}`;
    apply();
  }).catch(() => {});
}

// ---- search ------------------------------------------------------------------------

let searchMarker = null;
function setupSearch(caps) {
  const input = $('search');
  const list = $('suggestions');
  if (!caps.has('/api/v1/search')) {
    input.disabled = true;
    input.placeholder = '地址搜索暂不可用';
    return;
  }
  let timer = null;
  let query = 0;
  let hits = [];
  const fly = (hit) => {
    list.hidden = true;
    input.value = hit.label;
    if (typeof hit.lon !== 'number' || typeof hit.lat !== 'number') return;
    map.flyTo({ center: [hit.lon, hit.lat], zoom: Math.max(map.getZoom(), 16), speed: 1.6 });
    if (!searchMarker) searchMarker = new maplibregl.Marker({ color: '#d00' });
    searchMarker.setLngLat([hit.lon, hit.lat]).addTo(map);
    document.body.dataset.flownTo = hit.code;
    $('info').innerHTML = `<h2>${esc(hit.label)}</h2><table class="kv"><tr><th>编码</th><td>${esc(hit.code)}</td></tr><tr><th>经纬度</th><td>${hit.lon.toFixed(6)}, ${hit.lat.toFixed(6)}</td></tr></table>`;
  };
  input.addEventListener('input', () => {
    clearTimeout(timer);
    const q = input.value.trim();
    if (!q) { list.hidden = true; return; }
    timer = setTimeout(async () => {
      const mine = ++query;
      try {
        const answer = await fetchJSON(`/api/v1/search?q=${encodeURIComponent(q)}&limit=8`);
        if (mine !== query) return;
        hits = Array.isArray(answer) ? answer : answer.hits || answer.results || [];
        list.innerHTML = hits.length
          ? hits.map((h, i) => `<li role="option"><button data-i="${i}">${esc(h.label)}${h.context ? ` <small class="muted">${esc(h.context)}</small>` : ''}</button></li>`).join('')
          : '<li class="muted">无匹配地址</li>';
      } catch (error) {
        list.innerHTML = `<li class="muted">${esc(describeError(error))}</li>`;
      }
      list.hidden = false;
      list.querySelectorAll('button').forEach((b) => b.addEventListener('click', () => fly(hits[Number(b.dataset.i)])));
    }, 200);
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && hits.length) fly(hits[0]);
    if (e.key === 'Escape') list.hidden = true;
  });
}

export { formatCount };
