// No tile seams in outlines. A vector tile holds each polygon clipped a little beyond
// the tile's edge; a `line` layer over such polygons strokes the clip edges too (a
// straight line along the tile boundary), and so does an outline drawn from a clicked
// feature's tile geometry. Outlines come from the fill's own outline (drawn inside each
// tile only), from line features, or from the area's whole polygon. Nor is a
// translucent fill blended twice where neighbouring tiles' buffers overlap.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { launch, openPage, tolerated, api, mapIdle, decodePNG, SCREENSHOTS } from './support.js';

let browser;
let allow404;
before(async () => {
  browser = await launch();
  allow404 = await tolerated();
});
after(async () => { await browser?.close(); });

/** Line layers drawn over a vector tile source without restricting them to lines. */
async function strokedTilePolygons(page) {
  return page.evaluate(() => {
    const style = window.__minqing.map.getStyle();
    return style.layers
      .filter((l) => l.type === 'line' && style.sources[l.source]?.type === 'vector')
      .filter((l) => !JSON.stringify(l.filter || null).includes('"LineString"'))
      .map((l) => l.id);
  });
}

for (const [path, width, height] of [['/', 1440, 900], ['/screen', 1920, 1080]]) {
  test(`${path}: no line layer strokes tile-clipped polygons`, async () => {
    const view = await openPage(browser, path, { width, height }, { tolerated404: allow404 });
    try {
      await view.page.waitForFunction(() => window.__minqing?.map?.loaded(), null, { timeout: 60_000 });
      await view.page.waitForTimeout(3000);
      const layers = await view.page.evaluate(() => window.__minqing.map.getStyle().layers.length);
      assert.ok(layers > 3, `${path}: the style has its layers`);
      assert.deepEqual(await strokedTilePolygons(view.page), [], `${path}: line layers over tile polygons`);
    } finally {
      await view.context.close();
    }
  });
}

test('/: a selected risk grid is outlined with its whole polygon, not its tile part', async () => {
  const risk = await api('/api/v1/analysis/risk?level=grid');
  const grids = await api('/api/v1/areas?level=grid');
  const top = grids.features.find((f) => f.properties.code === risk.units[0].code);
  const ring = top.geometry.type === 'MultiPolygon' ? top.geometry.coordinates[0][0] : top.geometry.coordinates[0];
  const [lon, lat] = [0, 1].map((k) => ring.reduce((s, p) => s + p[k], 0) / ring.length);
  const view = await openPage(browser, '/', { width: 1440, height: 900 }, { tolerated404: allow404 });
  const { page } = view;
  try {
    await page.waitForSelector('body[data-ready="1"]', { timeout: 60_000 });
    await page.check('#layers input[data-layer="risk"]');
    for (const l of ['events', 'buildings']) await page.uncheck(`#layers input[data-layer="${l}"]`);
    // Zoomed in far enough that the grid spans several tiles.
    await page.evaluate(([lon, lat]) => window.__minqing.map.jumpTo({ center: [lon, lat], zoom: 16 }), [lon, lat]);
    await mapIdle(page);
    const [x, y] = await page.evaluate(([lon, lat]) => { const p = window.__minqing.map.project([lon, lat]); return [p.x, p.y]; }, [lon, lat]);
    const box = await page.locator('#map').boundingBox();
    await page.mouse.click(box.x + x, box.y + y);
    await page.waitForSelector('#info h2[data-risk]');
    const code = await page.locator('#info h2[data-risk]').getAttribute('data-risk');
    const area = grids.features.find((f) => f.properties.code === code);
    assert.ok(area, `the clicked risk unit ${code} is a grid`);
    const picked = await page.evaluate(() => window.__minqing.map.getSource('picked').serialize().data);
    assert.equal(picked.features.length, 1);
    assert.deepEqual(picked.features[0].geometry, area.geometry, 'the outline is the grid\'s whole polygon');
  } finally {
    await view.context.close();
  }
});

/** Whether [lon, lat] lies inside the GeoJSON ring (even-odd rule). */
function inRing(ring, [x, y]) {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** The lon/lat of the north-west corner of tile (x, y) at zoom z. */
function tileCorner(x, y, z) {
  const n = 2 ** z;
  return [(x / n) * 360 - 180, (Math.atan(Math.sinh(Math.PI * (1 - (2 * y) / n))) * 180) / Math.PI];
}

test('/: a translucent tile fill is drawn once where four tiles meet (no double blending in the buffers)', async () => {
  // The risk layer fills whole grids at 45 % opacity from vector tiles with a buffer:
  // were the overlapping buffers drawn twice, a darker band would run along every tile
  // edge. Find a tile corner well inside one grid, show that layer alone, and compare
  // the pixels along both tile edges with the pixels beside them.
  const z = 15;
  const grids = await api('/api/v1/areas?level=grid');
  const margin = 48 / 512; // of a tile, around the corner
  let corner;
  for (const g of grids.features) {
    const ring = g.geometry.type === 'MultiPolygon' ? g.geometry.coordinates[0][0] : g.geometry.coordinates[0];
    const lons = ring.map((p) => p[0]);
    const lats = ring.map((p) => p[1]);
    const n = 2 ** z;
    const x0 = Math.ceil(((Math.min(...lons) + 180) / 360) * n);
    const x1 = Math.floor(((Math.max(...lons) + 180) / 360) * n);
    const ty = (lat) => ((1 - Math.asinh(Math.tan((lat * Math.PI) / 180)) / Math.PI) / 2) * n;
    const y0 = Math.ceil(ty(Math.max(...lats)));
    const y1 = Math.floor(ty(Math.min(...lats)));
    for (let x = x0; x <= x1 && !corner; x++) {
      for (let y = y0; y <= y1 && !corner; y++) {
        const around = [[-1, -1], [1, -1], [-1, 1], [1, 1]].map(([dx, dy]) => tileCorner(x + dx * margin, y + dy * margin, z));
        if (around.every((p) => inRing(ring, p))) corner = tileCorner(x, y, z);
      }
    }
    if (corner) break;
  }
  assert.ok(corner, `a zoom-${z} tile corner well inside a grid`);
  const view = await openPage(browser, '/', { width: 800, height: 600 }, { tolerated404: allow404 });
  const { page } = view;
  try {
    await page.waitForSelector('body[data-ready="1"]', { timeout: 60_000 });
    await page.check('#layers input[data-layer="risk"]');
    await page.evaluate(([lon, lat, z]) => {
      const map = window.__minqing.map;
      for (const l of map.getStyle().layers) {
        if (l.id === 'background') map.setPaintProperty('background', 'background-color', '#ffffff');
        else if (l.id !== 'tile-risk') map.setLayoutProperty(l.id, 'visibility', 'none');
      }
      map.setLayoutProperty('tile-risk', 'visibility', 'visible');
      map.jumpTo({ center: [lon, lat], zoom: z, bearing: 0, pitch: 0 });
    }, [...corner, z]);
    await mapIdle(page);
    const shot = decodePNG(await page.locator('#map').screenshot({ path: join(SCREENSHOTS, 'seams-translucent-fill.png') }));
    const [cx, cy] = await page.evaluate(([lon, lat]) => {
      const p = window.__minqing.map.project([lon, lat]);
      return [Math.round(p.x), Math.round(p.y)];
    }, corner);
    const px = (x, y) => Array.from(shot.rgba.subarray((y * shot.width + x) * 4, (y * shot.width + x) * 4 + 3));
    const far = px(cx - 40, cy - 40);
    assert.ok(far.some((c) => c < 245), `the fill is drawn at the corner (${far})`);
    let differing = 0;
    let compared = 0;
    for (let d = -36; d <= 36; d++) {
      if (Math.abs(d) < 3) continue;
      // Across the vertical edge (x = cx) at row cy + d, and the horizontal one likewise.
      for (const [ref, band] of [
        [px(cx - 30, cy + d), [-10, -2, -1, 0, 1, 2, 10].map((k) => px(cx + k, cy + d))],
        [px(cx + d, cy - 30), [-10, -2, -1, 0, 1, 2, 10].map((k) => px(cx + d, cy + k))],
      ]) {
        for (const p of band) {
          compared++;
          if (p.some((c, i) => Math.abs(c - ref[i]) > 6)) differing++;
        }
      }
    }
    assert.ok(differing <= compared * 0.02, `pixels along the tile edges differ from the fill beside them: ${differing} of ${compared}`);
  } finally {
    await view.context.close();
  }
});
