// The basemap of our own, drawn from this server's vector tiles (layers landuse, water,
// roads, pois in one source): land use, rivers and lakes, roads by class with their
// names along them, points of interest as circles with their names. Light for / and
// /grid, dark for /screen. Labels use the browser's local CJK font (MAP_FONTS and the
// map's localIdeographFontFamily); nothing is loaded from another origin.
//
// The fills and lines go under every layer the view has (so its areas, points and
// analysis stay on top); the labels go above what the view drew so far (a view adds
// its own names afterwards, on top of ours). When the server has an outside basemap
// configured, that one replaces ours.

import { capabilities, MAP_FONTS, tileURL } from './common.js';

const LAYERS = ['landuse', 'water', 'roads', 'pois'];

/** Names of the kinds, as a legend shows them. */
export const POI_NAMES = {
  governance_centre: '综治中心',
  township_office: '街道办/镇政府',
  police: '派出所',
  mediation_room: '调解室',
  school: '学校',
  hospital: '医院',
  market: '市场',
  station: '车站',
};

const PALETTES = {
  light: {
    landuse: { residential: '#efebe4', commercial: '#f3e6df', industrial: '#e9e6ef', farmland: '#e6efd2', forest: '#c9e2bb', park: '#bfe3b4' },
    water: '#9ccbf0', waterLine: '#7db7ea', waterText: '#2f6fae',
    road: { main: '#ffd27a', street: '#ffffff', rural: '#fbf3dc', country: '#fdf8ea', service: '#ffffff' },
    casing: { main: '#e0a13c', street: '#cfcac2', rural: '#cdbb94', country: '#d9ccad', service: '#dcd8d0' },
    roadText: '#3f3f46', halo: 'rgba(255,255,255,0.95)',
    poiText: '#1f2937', poiStroke: '#ffffff', greenText: '#3f7a35',
  },
  dark: {
    landuse: { residential: '#15233b', commercial: '#1a2440', industrial: '#182238', farmland: '#11263a', forest: '#10302f', park: '#12382d' },
    water: '#1c4f86', waterLine: '#2a67a8', waterText: '#8ec5ff',
    road: { main: '#52709a', street: '#2c456b', rural: '#263d5e', country: '#223858', service: '#213655' },
    casing: { main: '#34507a', street: '#1d3152', rural: '#1b2d49', country: '#182a44', service: '#182a44' },
    roadText: '#b8c7dc', halo: 'rgba(8,16,32,0.9)',
    poiText: '#dbe6f5', poiStroke: '#0a1428', greenText: '#8fd19e',
  },
};

const POI_COLORS = {
  governance_centre: '#c0392b', township_office: '#8e44ad', police: '#1d5fbf', mediation_room: '#0f9f86',
  school: '#e67e22', hospital: '#e0413a', market: '#c99a0e', station: '#34495e',
};

// A tile's polygon or line may come in several parts (MultiPolygon, MultiLineString).
const isArea = ['in', ['geometry-type'], ['literal', ['Polygon', 'MultiPolygon']]];
const isLine = ['in', ['geometry-type'], ['literal', ['LineString', 'MultiLineString']]];
// A park's or a lake's name comes on a point of its own (one per feature, in one tile).
const isPoint = ['==', ['geometry-type'], 'Point'];

const byKind = (table, fallback) => ['match', ['get', 'kind'], ...Object.entries(table).flat(), fallback];
const byClass = (table, fallback) => ['match', ['get', 'class'], ...Object.entries(table).flat(), fallback];

/**
 * Add the basemap to `map` (after its style loaded). Returns false when the server has
 * no basemap layers or an outside basemap replaces ours.
 */
export async function addBasemap(map, { dark = false } = {}) {
  const caps = await capabilities();
  if (!caps.tiles || caps.tiles.outside_basemap?.tiles?.length) return false;
  if (caps.tileLayers.size && !LAYERS.every((l) => caps.tileLayers.has(l))) return false;
  if (map.getSource('basemap')) return true;
  const p = PALETTES[dark ? 'dark' : 'light'];
  map.addSource('basemap', { type: 'vector', tiles: [tileURL(LAYERS)], minzoom: 8, maxzoom: 16 });
  const under = map.getStyle().layers.find((l) => l.id !== 'background' && !l.id.startsWith('outside-'))?.id;
  // Zoom must be the outermost input of a data-driven width: the class is matched at
  // each stop. `w` gives [z8, z12, z16] widths per class.
  const width = (w) => ['interpolate', ['exponential', 1.6], ['zoom'],
    ...[0, 1, 2].flatMap((k) => [[8, 12, 16][k], ['match', ['get', 'class'], 'main', w.main[k], 'street', w.street[k],
      'country', w.country[k], 'service', w.service[k], w.rural[k]]])];
  const plain = (z8, z12, z16) => ['interpolate', ['exponential', 1.6], ['zoom'], 8, z8, 12, z12, 16, z16];
  const shapes = [
    { id: 'bm-landuse', type: 'fill', 'source-layer': 'landuse', paint: { 'fill-color': byKind(p.landuse, p.landuse.residential), 'fill-antialias': false } },
    { id: 'bm-water', type: 'fill', 'source-layer': 'water', filter: isArea, paint: { 'fill-color': p.water, 'fill-antialias': false } },
    // The river's centreline where its banks are too close to see.
    { id: 'bm-waterway', type: 'line', 'source-layer': 'water', maxzoom: 14, filter: isLine,
      layout: { 'line-cap': 'round', 'line-join': 'round' }, paint: { 'line-color': p.waterLine, 'line-width': plain(1, 2.5, 4) } },
    { id: 'bm-road-casing', type: 'line', 'source-layer': 'roads', filter: isLine, layout: { 'line-cap': 'round', 'line-join': 'round' },
      paint: { 'line-color': byClass(p.casing, p.casing.street), 'line-width': width({ main: [1.6, 5, 16], street: [0.8, 3, 11], rural: [1, 3, 9], country: [0.6, 2, 6], service: [0, 1, 5] }) } },
    { id: 'bm-road', type: 'line', 'source-layer': 'roads', filter: isLine, layout: { 'line-cap': 'round', 'line-join': 'round' },
      paint: { 'line-color': byClass(p.road, p.road.street), 'line-width': width({ main: [1, 3.5, 13], street: [0.4, 2, 9], rural: [0.6, 2, 7], country: [0.3, 1.2, 4.5], service: [0, 0.6, 3.5] }) } },
  ];
  for (const layer of shapes) map.addLayer({ source: 'basemap', ...layer }, under);
  const text = (size) => ({ 'text-font': MAP_FONTS, 'text-size': size, 'text-max-width': 8 });
  const labels = [
    { id: 'bm-green-label', type: 'symbol', 'source-layer': 'landuse', minzoom: 12, filter: ['all', ['has', 'name'], isPoint],
      layout: { ...text(12), 'text-field': ['get', 'name'], 'text-padding': 8 }, paint: { 'text-color': p.greenText, 'text-halo-color': p.halo, 'text-halo-width': 1.4 } },
    // A river's name along its centreline, a lake's in its middle.
    { id: 'bm-water-label', type: 'symbol', 'source-layer': 'water', minzoom: 10, filter: ['all', ['has', 'name'], isLine],
      layout: { ...text(13), 'text-field': ['get', 'name'], 'symbol-placement': 'line', 'text-letter-spacing': 0.3, 'symbol-spacing': 400 },
      paint: { 'text-color': p.waterText, 'text-halo-color': p.halo, 'text-halo-width': 1.4 } },
    { id: 'bm-lake-label', type: 'symbol', 'source-layer': 'water', minzoom: 12, filter: ['all', ['has', 'name'], isPoint, ['!=', ['get', 'kind'], 'river']],
      layout: { ...text(12), 'text-field': ['get', 'name'] },
      paint: { 'text-color': p.waterText, 'text-halo-color': p.halo, 'text-halo-width': 1.4 } },
    // Main roads' names from z12, the others' from z14; a compound's own lanes go unnamed.
    ...[['bm-road-label', 12, ['==', ['get', 'class'], 'main']],
      ['bm-street-label', 14, ['!', ['in', ['get', 'class'], ['literal', ['main', 'service']]]]]].map(([id, minzoom, filter]) => ({
      id, type: 'symbol', 'source-layer': 'roads', minzoom, filter,
      layout: { ...text(['interpolate', ['linear'], ['zoom'], 12, 11, 17, 14]), 'text-field': ['get', 'name'], 'symbol-placement': 'line', 'symbol-spacing': 320 },
      paint: { 'text-color': p.roadText, 'text-halo-color': p.halo, 'text-halo-width': 1.5 },
    })),
    { id: 'bm-poi', type: 'circle', 'source-layer': 'pois',
      paint: { 'circle-radius': ['match', ['get', 'rank'], 1, 6, 2, 4.5, 3.5], 'circle-color': byKind(POI_COLORS, '#555555'), 'circle-stroke-color': p.poiStroke, 'circle-stroke-width': 1.5 } },
    { id: 'bm-poi-label', type: 'symbol', 'source-layer': 'pois',
      layout: { ...text(['match', ['get', 'rank'], 1, 13, 12]), 'text-field': ['get', 'name'], 'text-anchor': 'left', 'text-offset': [0.8, 0], 'text-optional': true, 'symbol-sort-key': ['get', 'rank'] },
      paint: { 'text-color': p.poiText, 'text-halo-color': p.halo, 'text-halo-width': 1.5 } },
  ];
  for (const layer of labels) map.addLayer({ source: 'basemap', ...layer });
  return true;
}

/** The ids of the basemap's layers (for tests and layer switches). */
export const BASEMAP_LAYER_IDS = ['bm-landuse', 'bm-water', 'bm-waterway', 'bm-road-casing', 'bm-road', 'bm-green-label', 'bm-water-label', 'bm-lake-label', 'bm-road-label', 'bm-street-label', 'bm-poi', 'bm-poi-label'];
