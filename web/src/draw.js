// Drawing a polygon on the map (for "框选分析"): click to add vertices, double-click or
// "完成" to close it, Esc or "取消" to give up. A few lines of our own instead of a
// drawing plugin: the one-map view needs only this, and the known plugins bring their
// own styles with text layers (which would need glyphs).

const EMPTY = { type: 'FeatureCollection', features: [] };

export class PolygonDraw {
  /** `onDone(polygonFeature)` is called with a closed GeoJSON Polygon Feature. */
  constructor(map, { onDone, onChange }) {
    this.map = map;
    this.onDone = onDone;
    this.onChange = onChange || (() => {});
    this.points = [];
    this.active = false;
    map.addSource('draw', { type: 'geojson', data: EMPTY });
    map.addLayer({ id: 'draw-fill', type: 'fill', source: 'draw', filter: ['==', ['geometry-type'], 'Polygon'], paint: { 'fill-color': '#d00', 'fill-opacity': 0.12 } });
    map.addLayer({ id: 'draw-line', type: 'line', source: 'draw', filter: ['!=', ['geometry-type'], 'Point'], paint: { 'line-color': '#d00', 'line-width': 2, 'line-dasharray': [2, 1] } });
    map.addLayer({ id: 'draw-points', type: 'circle', source: 'draw', filter: ['==', ['geometry-type'], 'Point'], paint: { 'circle-radius': 4, 'circle-color': '#fff', 'circle-stroke-color': '#d00', 'circle-stroke-width': 2 } });
    this.click = (e) => {
      this.points.push([e.lngLat.lng, e.lngLat.lat]);
      this.render();
    };
    this.dblclick = (e) => {
      e.preventDefault();
      this.finish();
    };
    this.key = (e) => {
      if (e.key === 'Escape') this.cancel();
      if (e.key === 'Enter') this.finish();
    };
  }

  start() {
    if (this.active) return;
    this.active = true;
    this.points = [];
    this.map.doubleClickZoom.disable();
    this.map.getCanvas().style.cursor = 'crosshair';
    this.map.on('click', this.click);
    this.map.on('dblclick', this.dblclick);
    window.addEventListener('keydown', this.key);
    this.render();
  }

  stop() {
    this.active = false;
    this.map.off('click', this.click);
    this.map.off('dblclick', this.dblclick);
    window.removeEventListener('keydown', this.key);
    this.map.getCanvas().style.cursor = '';
    // Re-enabled after this event loop turn, so the finishing double-click does not zoom.
    setTimeout(() => this.map.doubleClickZoom.enable(), 0);
  }

  cancel() {
    this.stop();
    this.points = [];
    this.map.getSource('draw').setData(EMPTY);
    this.onChange(false);
  }

  finish() {
    // A double-click also fires two clicks: drop a repeated last vertex.
    const pts = this.points.filter((p, i, all) => i === 0 || p[0] !== all[i - 1][0] || p[1] !== all[i - 1][1]);
    if (pts.length < 3) return;
    this.stop();
    const ring = [...pts, pts[0]];
    const feature = { type: 'Feature', properties: {}, geometry: { type: 'Polygon', coordinates: [ring] } };
    this.map.getSource('draw').setData({ type: 'FeatureCollection', features: [feature] });
    this.onChange(false);
    this.onDone(feature);
  }

  render() {
    const features = this.points.map((p) => ({ type: 'Feature', properties: {}, geometry: { type: 'Point', coordinates: p } }));
    if (this.points.length >= 3) features.push({ type: 'Feature', properties: {}, geometry: { type: 'Polygon', coordinates: [[...this.points, this.points[0]]] } });
    else if (this.points.length === 2) features.push({ type: 'Feature', properties: {}, geometry: { type: 'LineString', coordinates: this.points } });
    this.map.getSource('draw').setData({ type: 'FeatureCollection', features });
    this.onChange(true, this.points.length);
  }
}

/** Point-in-polygon (even–odd rule) for a GeoJSON Polygon or MultiPolygon geometry. */
export function contains(geometry, lon, lat) {
  const polygons = geometry.type === 'Polygon' ? [geometry.coordinates] : geometry.type === 'MultiPolygon' ? geometry.coordinates : [];
  for (const rings of polygons) {
    let inside = false;
    for (const ring of rings) {
      for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
        const [xi, yi] = ring[i];
        const [xj, yj] = ring[j];
        if (yi > lat !== yj > lat && lon < ((xj - xi) * (lat - yi)) / (yj - yi) + xi) inside = !inside;
      }
    }
    if (inside) return true;
  }
  return false;
}
