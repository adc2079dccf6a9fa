// `/` — the one-map view: areas with drill-down, optional tile layers (when the server
// has /tiles), search that flies to an address, events time slider, info panel and the
// models' charts for the selected area.
//
// Names are never drawn on the map: text labels need glyph files, which would have to
// come from another origin (no internet here) — names are shown in the info panel, the
// breadcrumb, the search list and hover titles instead.

import maplibregl from 'maplibre-gl';
import 'maplibre-gl/dist/maplibre-gl.css';
import './style.css';
import {
  baseStyle, bounds, capabilities, describeError, esc, fetchJSON, formatCount, quietMapErrors, tileURL, here,
  CATEGORY_COLORS, CATEGORY_LABELS, label,
} from './common.js';
import { renderModel } from './charts.js';

const LEVELS = ['district', 'township', 'community', 'grid'];
const LEVEL_NAMES = { district: '全区', township: '街道/乡镇', community: '社区/村', grid: '网格' };
const AREA_COLORS = { township: '#1f6feb', community: '#0e9f6e', grid: '#b45309' };

const $ = (id) => document.getElementById(id);
const status = (text) => { $('map-status').textContent = text; $('map-status').hidden = !text; };

const state = {
  areas: {}, // level → FeatureCollection
  byCode: new Map(),
  path: [], // selected areas, district first
  charts: [],
  caps: null,
  monthsBack: 24,
};

const map = new maplibregl.Map({
  container: 'map',
  style: baseStyle('#eef1f4'),
  center: [104.4, 31.13],
  zoom: 10,
  attributionControl: false,
});
map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-left');
quietMapErrors(map, () => {});
window.__minqing = { map, state };

map.on('load', async () => {
  status('区域数据加载中…');
  try {
    await loadAreas();
  } catch (error) {
    status(`区域数据${describeError(error)}`);
    return;
  }
  state.caps = await capabilities();
  addTileLayers(state.caps);
  buildLayerSwitcher(state.caps);
  setupSearch(state.caps);
  setupTimeSlider(state.caps);
  renderLegend();
  select(state.path[0] || null);
  status('');
  map.once('idle', () => { document.body.dataset.ready = '1'; });
});

async function loadAreas() {
  const levels = await Promise.all(LEVELS.map((level) => fetchJSON(`/api/v1/areas?level=${level}`).catch(() => ({ type: 'FeatureCollection', features: [] }))));
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

/** The level whose polygons are shown under the current selection. */
function childLevel() {
  const last = state.path[state.path.length - 1];
  const index = last ? LEVELS.indexOf(last.level) : 0;
  return LEVELS[Math.min(index + 1, LEVELS.length - 1)];
}

function applyAreaFilters() {
  const last = state.path[state.path.length - 1];
  const showing = childLevel();
  const visible = layerVisible('areas');
  for (const level of ['township', 'community', 'grid']) {
    const on = visible && level === showing;
    const filter = last && last.level !== 'district' && level === showing && last.level !== level
      ? ['==', ['get', 'parent'], last.properties.code]
      : null;
    for (const suffix of ['fill', 'line']) {
      map.setLayoutProperty(`areas-${level}-${suffix}`, 'visibility', on ? 'visible' : 'none');
      map.setFilter(`areas-${level}-${suffix}`, filter);
    }
  }
  if (last && last.level !== 'district') {
    map.removeLayer('areas-selected');
    map.addLayer({
      id: 'areas-selected', type: 'line', source: `areas-${last.level}`,
      paint: { 'line-color': '#d00', 'line-width': 3 }, filter: ['==', ['get', 'code'], last.properties.code],
    });
  } else {
    map.setFilter('areas-selected', ['==', ['get', 'code'], '']);
  }
}

function onMapClick(e) {
  const tileLayers = ['buildings', 'enterprises', 'events', 'hotspots', 'risk'].flatMap((l) => [`tile-${l}-points`, `tile-${l}`, `tile-${l}-cells`]).filter((id) => map.getLayer(id));
  const hits = tileLayers.length ? map.queryRenderedFeatures(e.point, { layers: tileLayers }) : [];
  if (hits.length) {
    showFeature(hits[0]);
    return;
  }
  const level = childLevel();
  const areaHits = map.queryRenderedFeatures(e.point, { layers: [`areas-${level}-fill`] });
  if (areaHits.length) {
    const area = state.byCode.get(areaHits[0].properties.code);
    if (area) drillTo(area);
  }
}

/** Select an area: the path becomes its ancestors plus itself. */
function drillTo(area) {
  const path = [];
  for (let a = area; a; a = a.properties.parent ? state.byCode.get(a.properties.parent) : null) path.unshift(a);
  if (path[0]?.level !== 'district' && state.areas.district.features[0]) path.unshift(state.byCode.get(state.areas.district.features[0].properties.code));
  state.path = path;
  select(area);
  const box = bounds({ features: [area] });
  if (box) map.fitBounds(box, { padding: 40, duration: 800 });
}

function select(area) {
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
    ${p.kind ? `<tr><th>类型</th><td>${esc(p.kind)}</td></tr>` : ''}
    ${p.area_km2 != null ? `<tr><th>面积</th><td>${esc(p.area_km2)} km²</td></tr>` : ''}
    ${children.length ? `<tr><th>下级区域</th><td>${children.length} 个</td></tr>` : ''}</table>
    ${children.length ? `<ul class="children">${children.slice(0, 40).map((c) => `<li><button data-code="${esc(c.properties.code)}">${esc(c.properties.name)}</button></li>`).join('')}</ul>` : ''}`;
  info.querySelectorAll('button[data-code]').forEach((b) => b.addEventListener('click', () => drillTo(state.byCode.get(b.dataset.code))));
  loadModels(p.code);
}

function renderBreadcrumb() {
  const nav = $('breadcrumb');
  nav.innerHTML = state.path
    .map((a, i) => (i === state.path.length - 1 ? `<span>${esc(a.properties.name)}</span>` : `<button data-i="${i}">${esc(a.properties.name)}</button>`))
    .join(' › ');
  nav.querySelectorAll('button').forEach((b) =>
    b.addEventListener('click', () => {
      const area = state.path[Number(b.dataset.i)];
      drillTo(area);
    }),
  );
}

const MODELS = [
  ['population', '人口结构'],
  ['housing', '房屋与企业'],
  ['efficiency', '闭环效率'],
];

let modelRequest = 0;
async function loadModels(code) {
  const request = ++modelRequest;
  const box = $('charts');
  state.charts.forEach((c) => c.dispose());
  state.charts = [];
  const caps = state.caps || (await capabilities());
  const available = MODELS.filter(([m]) => caps.has(`/api/v1/analysis/${m}`));
  if (!available.length) {
    box.innerHTML = '<p class="muted">分析模型：暂不可用</p>';
    return;
  }
  box.innerHTML = '<p class="muted">分析结果加载中…</p>';
  const answers = await Promise.all(available.map(([m]) => fetchJSON(`/api/v1/analysis/${m}?area=${encodeURIComponent(code)}`).catch((e) => e)));
  if (request !== modelRequest) return;
  box.innerHTML = '';
  available.forEach(([, title], i) => {
    const answer = answers[i];
    if (answer instanceof Error) box.insertAdjacentHTML('beforeend', `<div class="model"><h3>${esc(title)}</h3><p class="muted">${esc(describeError(answer))}</p></div>`);
    else state.charts.push(...renderModel(box, title, answer));
  });
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
];
const layerOn = { areas: true, buildings: true, enterprises: false, events: true, heat: false, hotspots: false, risk: false };
const layerVisible = (name) => layerOn[name];

function addTileLayers(caps) {
  const names = caps.tiles ? ['buildings', 'enterprises', 'events', 'hotspots', 'risk'].filter((l) => caps.tileLayers.size === 0 || caps.tileLayers.has(l)) : [];
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
  if (layerOn.hotspots && map.getLayer('tile-hotspots')) rows.push('<li><i style="background:#d7191c"></i>热点 (Gi* z&gt;0)</li><li><i style="background:#2c7bb6"></i>冷点</li>');
  if (layerOn.risk && map.getLayer('tile-risk')) rows.push('<li><i style="background:#c0392b"></i>高风险</li><li><i style="background:#e67e22"></i>中风险</li><li><i style="background:#f1c40f"></i>低风险</li>');
  if (layerOn.heat && map.getLayer('tile-heat')) rows.push('<li><i style="background:linear-gradient(90deg,#ffffb2,#bd0026)"></i>事件密度</li>');
  $('legend').innerHTML = `<ul>${rows.join('')}</ul>`;
}

function showFeature(feature) {
  const p = feature.properties;
  const layerName = feature.layer.id.replace(/^tile-/, '').replace(/-(cells|points)$/, '');
  const kind = { buildings: '楼栋', enterprises: '企业', events: '事件', hotspots: '热点', risk: '风险' }[layerName] || '要素';
  const rows = Object.entries(p)
    .filter(([, v]) => v !== null && v !== '')
    .map(([k, v]) => `<tr><th>${esc(k === 'category' ? '类别' : k)}</th><td>${esc(k === 'category' ? label(CATEGORY_LABELS, v) : v)}</td></tr>`)
    .join('');
  $('info').innerHTML = `<h2>${esc(kind)}${p.name || p.label ? ` · ${esc(p.name || p.label)}` : ''}</h2><table class="kv">${rows}</table>`;
}

// ---- time slider -----------------------------------------------------------------

function timeRange() {
  const to = new Date();
  const from = new Date(to);
  from.setMonth(from.getMonth() - state.monthsBack);
  return { from: from.toISOString().slice(0, 10), to: to.toISOString().slice(0, 10) };
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

function setupTimeSlider() {
  const slider = $('time');
  const apply = () => {
    state.monthsBack = Number(slider.value) || 1;
    $('time-label').textContent = `近 ${state.monthsBack} 个月`;
    map.getSource('tiles-events')?.setTiles([eventsURL()]);
    const heat = map.getSource('heat');
    if (heat) heat.setTiles([heatURL()]);
  };
  slider.min = '1';
  slider.addEventListener('change', apply);
  slider.addEventListener('input', () => { $('time-label').textContent = `近 ${slider.value} 个月`; });
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
