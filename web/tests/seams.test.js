// No tile seams in outlines. A vector tile holds each polygon clipped a little beyond
// the tile's edge; a `line` layer over such polygons strokes the clip edges too (a
// straight line along the tile boundary), and so does an outline drawn from a clicked
// feature's tile geometry. Outlines come from the fill's own outline (drawn inside each
// tile only), from line features, or from the area's whole polygon.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, openPage, tolerated, api, mapIdle } from './support.js';

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
