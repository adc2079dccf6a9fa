// Shared by the three views: same-origin JSON fetching that checks the response before
// use, discovery of which optional endpoints this server has, and the plain base style.
//
// Discovery: every /api endpoint is listed in /api/openapi.json, so optional /api
// features are detected from that one document instead of probing each path (a probe
// that answers 404 would put a "Failed to load resource" error in the console). Tile
// endpoints are not /api paths; /tiles/catalog is probed once.

/** An HTTP answer that was not 2xx; `status` 0 means the network failed. */
export class HttpError extends Error {
  /** `details`: the error's machine-readable part (e.g. a refusal's reason code). */
  constructor(status, message, details = null) {
    super(message);
    this.status = status;
    this.details = details;
  }
}

/** GET or POST JSON from this origin; throws HttpError with the server's message. */
export async function fetchJSON(path, options = {}) {
  let response;
  try {
    response = await fetch(path, options);
  } catch {
    throw new HttpError(0, '网络连接失败');
  }
  const type = response.headers.get('content-type') || '';
  const body = type.includes('json') ? await response.json().catch(() => null) : null;
  if (!response.ok) {
    const message = body?.error?.message || `${response.status} ${response.statusText}`;
    throw new HttpError(response.status, message, body?.error?.details ?? null);
  }
  if (response.status === 204) return null;
  if (body === null) throw new HttpError(response.status, '响应格式错误');
  return body;
}

let capabilitiesPromise = null;

/** Which optional endpoints exist: a Set of OpenAPI paths plus `tiles` (catalog JSON or null). */
export function capabilities() {
  if (!capabilitiesPromise) {
    capabilitiesPromise = (async () => {
      let paths = new Set();
      try {
        const doc = await fetchJSON('/api/openapi.json');
        paths = new Set(Object.keys(doc.paths || {}));
      } catch {
        // No document: treat every optional feature as absent.
      }
      let tiles = null;
      try {
        tiles = await fetchJSON('/tiles/catalog');
      } catch {
        tiles = null;
      }
      return { paths, has: (p) => paths.has(p), tiles, tileLayers: tileLayerNames(tiles) };
    })();
  }
  return capabilitiesPromise;
}

/** The layer names in a /tiles/catalog answer, whatever its exact shape. */
function tileLayerNames(catalog) {
  if (!catalog) return new Set();
  const list = Array.isArray(catalog) ? catalog : catalog.layers || catalog.tile_layers || [];
  const names = new Set();
  if (Array.isArray(list)) {
    for (const entry of list) {
      if (typeof entry === 'string') names.add(entry);
      else if (entry && (entry.name || entry.id)) names.add(entry.name || entry.id);
    }
  } else if (list && typeof list === 'object') {
    for (const name of Object.keys(list)) names.add(name);
  }
  return names;
}

/**
 * Draw the server's configured outside basemap (raster tiles from another origin, e.g.
 * Tianditu; `outside_basemap` in /tiles/catalog, null unless configured) under every
 * layer of `map` but its background; dimmed on a dark view. The page's
 * Content-Security-Policy allows exactly those tiles' origins.
 */
export async function addOutsideBasemap(map, { dark = false } = {}) {
  const basemap = (await capabilities()).tiles?.outside_basemap;
  if (!basemap?.tiles?.length) return false;
  const above = map.getStyle().layers.find((l) => l.id !== 'background')?.id;
  basemap.tiles.forEach((url, k) => {
    const id = `outside-${k}`;
    if (map.getSource(id)) return;
    map.addSource(id, { type: 'raster', tiles: [url], tileSize: basemap.tile_size || 256, attribution: basemap.attribution || '' });
    const paint = dark ? { 'raster-brightness-max': 0.45, 'raster-saturation': -0.7 } : {};
    map.addLayer({ id, type: 'raster', source: id, paint }, above);
  });
  return true;
}

/** A style with no external glyphs, sprites or basemap: a plain background only. */
export function baseStyle(background) {
  return {
    version: 8,
    sources: {},
    layers: [{ id: 'background', type: 'background', paint: { 'background-color': background } }],
  };
}

/**
 * The font stack of map labels. The styles have no `glyphs` URL, so MapLibre draws
 * every glyph locally with these fonts (the first one the system has): Windows,
 * macOS, Debian (fonts-noto-cjk, fonts-wqy-microhei), then the generic family.
 */
export const MAP_FONTS = ['Microsoft YaHei', 'PingFang SC', 'Noto Sans CJK SC', 'WenQuanYi Micro Hei', 'sans-serif'];

/** MapLibre's own words (control tooltips, the canvas's label, scale units) in Chinese. */
export const MAP_LOCALE = {
  'Map.Title': '地图',
  'NavigationControl.ZoomIn': '放大',
  'NavigationControl.ZoomOut': '缩小',
  'NavigationControl.ResetBearing': '重置方向',
  'GeolocateControl.FindMyLocation': '定位到我的位置',
  'GeolocateControl.LocationNotAvailable': '无法获取位置',
  'FullscreenControl.Enter': '全屏',
  'FullscreenControl.Exit': '退出全屏',
  'AttributionControl.ToggleAttribution': '数据来源',
  'Popup.Close': '关闭',
  'Marker.Title': '标记',
  'ScaleControl.Meters': '米',
  'ScaleControl.Kilometers': '千米',
};

/**
 * One label point per area (a FeatureCollection of Points with the areas' properties):
 * a GeoJSON polygon source would place a label in every tile the polygon crosses. The
 * point is the middle of the widest inside stretch of a few horizontal lines across
 * the largest polygon — always inside, even for concave shapes.
 */
export function labelPoints(collection) {
  const features = [];
  for (const f of collection.features || []) {
    const g = f.geometry;
    if (!g) continue;
    const polygons = g.type === 'Polygon' ? [g.coordinates] : g.type === 'MultiPolygon' ? g.coordinates : [];
    let best = null;
    for (const rings of polygons) {
      const ys = rings[0].map((c) => c[1]);
      const south = Math.min(...ys);
      const north = Math.max(...ys);
      for (const t of [0.5, 0.35, 0.65, 0.2, 0.8]) {
        const y = south + t * (north - south);
        const xs = [];
        for (const ring of rings) {
          for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
            const [x1, y1] = ring[i];
            const [x2, y2] = ring[j];
            if (y1 > y !== y2 > y) xs.push(x1 + ((y - y1) * (x2 - x1)) / (y2 - y1));
          }
        }
        xs.sort((a, b) => a - b);
        for (let k = 0; k + 1 < xs.length; k += 2) {
          const width = xs[k + 1] - xs[k];
          // Prefer lines near the middle: a stretch must be clearly wider to win.
          if (!best || width > best.width * 1.25) best = { width, point: [(xs[k] + xs[k + 1]) / 2, y] };
        }
      }
    }
    if (best) features.push({ type: 'Feature', properties: f.properties, geometry: { type: 'Point', coordinates: best.point } });
  }
  return { type: 'FeatureCollection', features };
}

/** [[west, south], [east, north]] of a GeoJSON FeatureCollection, or null when empty. */
export function bounds(collection) {
  let w = Infinity, s = Infinity, e = -Infinity, n = -Infinity;
  const visit = (c) => {
    if (typeof c[0] === 'number') {
      w = Math.min(w, c[0]); e = Math.max(e, c[0]);
      s = Math.min(s, c[1]); n = Math.max(n, c[1]);
    } else c.forEach(visit);
  };
  for (const f of collection.features || []) if (f.geometry) visit(f.geometry.coordinates);
  return Number.isFinite(w) ? [[w, s], [e, n]] : null;
}

/** Text for a user-facing error. */
export function describeError(error) {
  if (error instanceof HttpError) {
    if (error.status === 0) return '网络连接失败，请稍后重试';
    if (error.status === 401) return '登录已过期，请重新登录';
    if (error.status === 403) return '无权限访问';
    if (error.status === 404) return '暂不可用';
    if (error.status === 503) return '数据加载中，请稍候';
    return error.message;
  }
  return '出现错误';
}

/** Thousands separators in Chinese locale. */
export const formatCount = (n) => (typeof n === 'number' ? n.toLocaleString('zh-CN') : '—');

/** Percent with one decimal from a 0–1 ratio. */
export const formatRate = (r) => (typeof r === 'number' ? `${(r * 100).toFixed(1)}%` : '—');

/** Escape text for innerHTML. */
export function esc(text) {
  return String(text ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

/** Absolute URL on this origin (MapLibre's workers need absolute tile URLs). */
export const here = (path) => `${location.origin}${path}`;

/** The tile URL template for a comma-joined layer list. */
export const tileURL = (layers) => here(`/tiles/${layers.join(',')}/{z}/{x}/{y}.mvt`);

/** Log map errors quietly in the page status instead of the console (missing tiles are expected). */
export function quietMapErrors(map, onError) {
  map.on('error', (event) => onError?.(event.error));
}

/** Human label of an event category or status code when the server sends codes. */
export const STATUS_LABELS = {
  accepted: '已受理', mediating: '调解中', resolved: '已化解', diverted: '已分流', closed: '已办结',
  followed_up: '已回访', overdue: '已超期',
};

export const CATEGORY_LABELS = {
  dispute: '矛盾纠纷', petition: '信访', consultation: '咨询', public_safety: '治安', service_request: '服务诉求',
};

export const CATEGORY_COLORS = {
  dispute: '#e4572e', petition: '#a23b72', consultation: '#2e86ab', public_safety: '#f18f01', service_request: '#3bb273',
};

export const label = (table, code) => table[code] || code || '—';
