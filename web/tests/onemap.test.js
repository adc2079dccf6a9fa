// The one-map view's analysis features in the system Chromium, against a running demo
// (MINQING_URL): map labels drawn with local fonts, the five models at each level of
// the drill-down, a drawn polygon's profile, the events behind a hot spot, a building
// with its households after signing in, and an expired session.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { BASE, ORIGIN, SCREENSHOTS, launch, openPage, tolerated, drawnShare, differingShare, hex, api, apiLogin, mapIdle } from './support.js';

const LEADER = ['leader', process.env.MINQING_TEST_LEADER_PASSWORD || 'demo-leader-pass'];
const zh = (n) => n.toLocaleString('zh-CN');

let browser;
let allow404;
before(async () => {
  browser = await launch();
  allow404 = await tolerated();
});
after(async () => { await browser?.close(); });

function assertClean({ errors, origins }, view, { allow401 = false } = {}) {
  const real = allow401 ? errors.filter((e) => !/status of 401/.test(e)) : errors;
  assert.deepEqual(real, [], `${view}: console errors`);
  assert.deepEqual([...origins], [ORIGIN], `${view}: requests to another origin`);
}

async function openOneMap(viewport = { width: 1440, height: 900 }) {
  const view = await openPage(browser, '/', viewport, { tolerated404: allow404 });
  await view.page.waitForSelector('body[data-ready="1"]', { timeout: 60_000 });
  await mapIdle(view.page);
  return view;
}

/** The text of a figure row of a model block in the charts panel. */
const figure = (page, model, key) => page.locator(`#charts [data-model="${model}"] tr[data-key="${key}"] td`).innerText();

async function signIn(page, [username, password]) {
  await page.click('#signin-open');
  await page.fill('#signin input[name="username"]', username);
  await page.fill('#signin input[name="password"]', password);
  await page.click('#signin button[type="submit"]');
  await page.waitForSelector(`#account .who[data-role]`);
}

/** Click the map at a lon/lat (after moving there). */
async function clickAt(page, lon, lat, zoom) {
  await page.evaluate(([lon, lat, zoom]) => window.__minqing.map.jumpTo({ center: [lon, lat], zoom }), [lon, lat, zoom]);
  await mapIdle(page);
  const [x, y] = await page.evaluate(([lon, lat]) => { const p = window.__minqing.map.project([lon, lat]); return [p.x, p.y]; }, [lon, lat]);
  const box = await page.locator('#map').boundingBox();
  await page.mouse.click(box.x + x, box.y + y);
}

/**
 * Centre the map on (lon, lat) at `zoom` and click the aggregated event point drawn
 * nearest to it (public event cells sit at their cell's centre, not at a hot spot's).
 */
async function clickEventCluster(page, lon, lat, zoom, { anyPoint = false } = {}) {
  await page.evaluate(([lon, lat, zoom]) => window.__minqing.map.jumpTo({ center: [lon, lat], zoom }), [lon, lat, zoom]);
  await mapIdle(page);
  const point = await page.evaluate((anyPoint) => {
    const map = window.__minqing.map;
    const layers = ['tile-events-points', 'tile-events', 'tile-events-cells'].filter((id) => map.getLayer(id));
    const centre = map.project(map.getCenter());
    let best = null;
    for (const f of map.queryRenderedFeatures({ layers })) {
      if (f.geometry.type !== 'Point' || (f.properties.code && !anyPoint)) continue;
      const p = map.project(f.geometry.coordinates);
      const d = Math.hypot(p.x - centre.x, p.y - centre.y);
      if (!best || d < best.d) best = { x: p.x, y: p.y, d };
    }
    return best;
  }, anyPoint);
  assert.ok(point, 'an event point is drawn near the place');
  const box = await page.locator('#map').boundingBox();
  await page.mouse.click(box.x + point.x, box.y + point.y);
}

test('map labels: area names drawn with local fonts, no glyphs URL, no other origin', async () => {
  const view = await openOneMap();
  const { page } = view;
  try {
    const style = await page.evaluate(() => window.__minqing.map.getStyle());
    assert.equal(style.glyphs, undefined, 'the style names no glyph server');
    const layer = style.layers.find((l) => l.id === 'areas-township-label');
    assert.ok(layer && layer.type === 'symbol', 'township label layer exists');
    const townships = (await api('/api/v1/areas?level=township')).features.map((f) => f.properties.name);
    const placed = await page.evaluate(() => window.__minqing.map.queryRenderedFeatures({ layers: ['areas-township-label'] }).map((f) => f.properties.name));
    assert.ok(placed.length >= Math.ceil(townships.length / 2), `most township names placed (${placed.length} of ${townships.length})`);
    for (const name of placed) assert.ok(townships.includes(name), `a township's name: ${name}`);
    // The labels draw pixels: hiding them changes the picture.
    const withLabels = await page.locator('#map').screenshot();
    await page.evaluate(() => window.__minqing.map.setLayoutProperty('areas-township-label', 'visibility', 'none'));
    await mapIdle(page);
    const without = await page.locator('#map').screenshot();
    const share = differingShare(withLabels, without);
    assert.ok(share > 0.0005, `labels change ${(share * 100).toFixed(2)}% of the map's pixels`);
    await page.evaluate(() => window.__minqing.map.setLayoutProperty('areas-township-label', 'visibility', 'visible'));
    assertClean(view, '/ labels');
  } finally {
    await view.context.close();
  }
});

test('drill-down: the five models at district and township level show the API figures', async () => {
  const view = await openOneMap();
  const { page } = view;
  try {
    await page.waitForSelector('#charts[data-loaded]:not([data-loaded=""])');
    for (const model of ['population', 'housing', 'hotspots', 'risk', 'efficiency']) {
      assert.equal(await page.locator(`#charts [data-model="${model}"]`).count(), 1, `${model} block at district level`);
    }
    const district = await api('/api/v1/analysis/population');
    assert.equal(await figure(page, 'population', 'residents'), zh(district.residents));
    const risk = await api('/api/v1/analysis/risk?level=grid&limit=20');
    assert.equal(await figure(page, 'risk', 'large'), zh(risk.tiers.large));
    assert.equal(await figure(page, 'risk', 'total'), zh(risk.total));
    const charts = await page.locator('#charts .chart canvas').count();
    assert.ok(charts >= 5, `charts drawn (${charts})`);
    const chartShare = drawnShare(await page.locator('#charts [data-model="population"] .chart').first().screenshot(), hex('#f9fafb'));
    assert.ok(chartShare > 0.02, `the age chart draws bars (${chartShare.toFixed(3)})`);
    // Township level: the figures follow the selected area.
    const button = page.locator('#info .children button').first();
    const name = await button.innerText();
    await button.click();
    await page.waitForFunction((n) => document.querySelector('#breadcrumb span')?.innerText.includes(n), name);
    await page.waitForFunction(() => { const c = document.querySelector('#charts').dataset.loaded; return c && c !== window.__minqing.state.path[0].properties.code; });
    const township = await page.evaluate(() => document.querySelector('#charts').dataset.loaded);
    const pop = await api(`/api/v1/analysis/population?area=${township}`);
    assert.equal(await figure(page, 'population', 'residents'), zh(pop.residents));
    const eff = await api(`/api/v1/analysis/efficiency?area=${township}`);
    assert.equal(await figure(page, 'efficiency', 'events'), zh(eff.events));
    const housing = await api(`/api/v1/analysis/housing?area=${township}`);
    assert.equal(await figure(page, 'housing', 'units'), zh(housing.units));
    assert.equal(await page.locator('#breadcrumb [data-level]').count(), 2, 'breadcrumb: district › township');
    await mapIdle(page);
    await page.screenshot({ path: join(SCREENSHOTS, 'onemap-township.png') });
    assertClean(view, '/ drill-down');
  } finally {
    await view.context.close();
  }
});

test('draw a polygon: its profile is the API answer for that polygon, with charts', async () => {
  const view = await openOneMap();
  const { page } = view;
  try {
    const box = await page.locator('#map').boundingBox();
    await page.click('#draw');
    assert.equal(await page.locator('#draw-hint').isVisible(), true, 'drawing hint shown');
    const cx = box.x + box.width / 2;
    const cy = box.y + box.height / 2;
    const d = Math.min(box.width, box.height) / 4;
    for (const [dx, dy] of [[-d, -d], [d, -d], [d, d], [-d, d]]) {
      await page.mouse.click(cx + dx, cy + dy);
      await page.waitForTimeout(350); // not a double-click
    }
    await page.click('#draw-done');
    await page.waitForSelector('body[data-profiled]', { timeout: 30_000 });
    const polygon = await page.evaluate(() => window.__minqing.state.drawn);
    assert.equal(polygon.geometry.coordinates[0].length, 5, 'four vertices, closed');
    const answer = await (await fetch(`${BASE}/api/v1/analysis/population`, { method: 'POST', headers: { 'Content-Type': 'application/geo+json' }, body: JSON.stringify(polygon) })).json();
    assert.ok(answer.residents > 0, 'the polygon holds residents');
    assert.equal(await figure(page, 'population', 'residents'), zh(answer.residents));
    assert.equal(await figure(page, 'housing', 'units'), zh(answer.housing.units));
    assert.equal(await page.locator('#info tr[data-key="buildings"] td').innerText(), zh(answer.area.buildings));
    const share = drawnShare(await page.locator('#charts [data-model="population"] .chart').first().screenshot(), hex('#f9fafb'));
    assert.ok(share > 0.02, `the polygon's age chart draws (${share.toFixed(3)})`);
    // The polygon is drawn on the map.
    const drawn = await page.evaluate(() => window.__minqing.map.queryRenderedFeatures({ layers: ['draw-fill'] }).length);
    assert.ok(drawn >= 1, 'the drawn polygon is on the map');
    await page.screenshot({ path: join(SCREENSHOTS, 'onemap-polygon.png') });
    assertClean(view, '/ polygon');
  } finally {
    await view.context.close();
  }
});

test('a hot-spot cell shows the events behind it: the total to everyone, records after signing in', async () => {
  const hot = await api('/api/v1/analysis/hotspots');
  const cell = hot.cells.filter((c) => c.class === 'hot99' || c.class === 'hot95').sort((a, b) => b.count - a.count)[0];
  assert.ok(cell, 'the demo has a significant hot spot');
  const total = (await api(`/api/v1/events?cell=${cell.cell}&limit=0`)).total;
  assert.equal(total, cell.count, 'the list by cell agrees with the model');
  const view = await openOneMap();
  const { page } = view;
  try {
    // Only the hot spots under the pointer (event and building points would be picked first).
    await page.check('#layers input[data-layer="hotspots"]');
    await page.uncheck('#layers input[data-layer="events"]');
    await page.uncheck('#layers input[data-layer="buildings"]');
    await clickAt(page, cell.lon, cell.lat, 13);
    await page.waitForSelector(`#info h2[data-cell="${cell.cell}"]`);
    await page.waitForSelector('#unit-events [data-total]');
    assert.equal(await page.locator('#unit-events [data-total]').getAttribute('data-total'), String(total));
    assert.equal(await page.locator('#unit-events [data-hint="signin"]').count(), 1, 'anonymous: asked to sign in for the records');
    await signIn(page, LEADER);
    await page.waitForSelector('#unit-events table.events tr[data-code]');
    const rows = await page.locator('#unit-events table.events tr[data-code]').count();
    assert.equal(rows, Math.min(50, total), 'the newest events are listed');
    const leader = await apiLogin(...LEADER);
    const list = await api(`/api/v1/events?cell=${cell.cell}&limit=50`, leader.token);
    assert.equal(await page.locator('#unit-events table.events tr[data-code]').first().getAttribute('data-code'), list.events[0].code);
    assert.ok((await page.locator('#unit-events ul.addresses li').count()) >= 1, 'the addresses behind the events');
    await page.screenshot({ path: join(SCREENSHOTS, 'onemap-hotspot.png') });
    assertClean(view, '/ hot spot', { allow401: false });
  } finally {
    await view.context.close();
  }
});

test('a building: its counts, the breadcrumb to it, households (masked) for a leader; an expired session asks to sign in again', async () => {
  const hot = await api('/api/v1/analysis/hotspots');
  const cell = hot.cells.sort((a, b) => b.count - a.count)[0];
  const near = await api(`/api/v1/reverse?lon=${cell.lon}&lat=${cell.lat}`);
  const b = near.building;
  const view = await openOneMap();
  const { page } = view;
  try {
    await signIn(page, LEADER);
    await page.uncheck('#layers input[data-layer="events"]'); // an event point may sit on the building
    await clickAt(page, b.lon, b.lat, 17.5);
    await page.waitForSelector(`#info h2[data-building="${b.code}"]`);
    await page.waitForFunction((label) => document.querySelector('#info h2').innerText.includes(label), b.label);
    // District › township › community › grid › building.
    const levels = await page.locator('#breadcrumb [data-level]').evaluateAll((els) => els.map((e) => e.dataset.level));
    assert.deepEqual(levels, ['district', 'township', 'community', 'grid', 'building']);
    const names = near.areas.map((a) => a.name).reverse();
    const crumbs = await page.locator('#breadcrumb').innerText();
    for (const n of names) assert.ok(crumbs.includes(n), `breadcrumb has ${n}`);
    const token = await page.evaluate(() => sessionStorage.getItem('minqing.token'));
    const households = await api(`/api/v1/buildings/${b.code}/households`, token);
    await page.waitForSelector('#households[data-households]');
    assert.equal(await page.locator('#households').getAttribute('data-households'), String(households.households.length));
    if (households.households.length) {
      const id = await page.locator('#households table.households td:nth-child(4)').first().innerText();
      assert.match(id, /\*/, 'ID numbers are masked');
    }
    const residents = await page.locator('#info tr[data-key="residents"] td').innerText();
    assert.match(residents, /^[\d,]+$/, 'the building counts are shown');
    await page.waitForSelector('#building-events [data-total]');
    const events = await api(`/api/v1/events?building=${b.code}&limit=0`, token);
    assert.equal(await page.locator('#building-events [data-total]').getAttribute('data-total'), String(events.total));
    await page.screenshot({ path: join(SCREENSHOTS, 'onemap-building.png') });
    // The session ends on the server (as on expiry): the next request asks to sign in.
    await fetch(`${BASE}/api/v1/auth/logout`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
    await clickAt(page, b.lon, b.lat, 17.5);
    await page.waitForSelector('#signin[open]');
    assert.match(await page.locator('#notice').innerText(), /登录已过期/);
    assert.match(await page.locator('#signin-message').innerText(), /登录已过期/);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('minqing.token')), null, 'the dead token is dropped');
    await page.screenshot({ path: join(SCREENSHOTS, 'onemap-expired.png') });
    assertClean(view, '/ building', { allow401: true });
  } finally {
    await view.context.close();
  }
});

test('events open the shared detail: a hot spot\'s list row and an event point (history, actions, places by name); an aggregated point speaks Chinese', async () => {
  const hot = await api('/api/v1/analysis/hotspots');
  const cell = hot.cells.filter((c) => c.class === 'hot99' || c.class === 'hot95').sort((a, b) => b.count - a.count)[0];
  const leader = await apiLogin(...LEADER);
  const view = await openOneMap();
  const { page } = view;
  try {
    // An aggregated point below z14: counts in words, no raw field names.
    await page.uncheck('#layers input[data-layer="buildings"]');
    await clickEventCluster(page, cell.lon, cell.lat, 11);
    await page.waitForSelector('#info h2[data-cluster]');
    const text = await page.locator('#info').innerText();
    assert.match(text, /事件数\s*[\d,]+ 件/);
    assert.doesNotMatch(text, /cluster|true|open\b|count/i, `no raw field names (${text})`);
    await page.screenshot({ path: join(SCREENSHOTS, 'onemap-cluster.png') });

    // A hot spot's event list: a row opens the detail.
    await signIn(page, LEADER);
    await page.check('#layers input[data-layer="hotspots"]');
    await page.uncheck('#layers input[data-layer="events"]');
    await clickAt(page, cell.lon, cell.lat, 13);
    await page.waitForSelector('#unit-events table.events tr[data-code]');
    const code = await page.locator('#unit-events table.events tr[data-code]').first().getAttribute('data-code');
    await page.locator('#unit-events table.events tr[data-code]').first().click();
    await page.waitForFunction((c) => document.querySelector('#event-detail')?.dataset.loaded === c, code, { timeout: 10_000 });
    const ev = await api(`/api/v1/events/${code}`, leader.token);
    assert.equal(await page.locator('#event-detail .ed-timeline li').count(), ev.history.length, 'the whole history as a timeline');
    const place = await page.locator('#event-detail [data-key="place"] td').innerText();
    assert.ok(place.includes(ev.township.name) && place.includes(ev.community.name), `places by name (${place})`);
    const offered = await page.locator('#event-detail .ed-actions button[data-action]').evaluateAll((bs) => bs.map((b) => b.dataset.action));
    assert.deepEqual(offered, ev.allowed_actions, 'exactly the allowed actions');
    await page.waitForFunction(() => !/查找中/.test(document.querySelector('#event-detail .ed-duplicates')?.innerText || ''));
    await page.screenshot({ path: join(SCREENSHOTS, 'onemap-event-detail.png') });

    // An event point at z16 (or the events under a point where several share a place)
    // opens the same detail. (At z17.5 the view is ~100 m across: the event's public
    // cell centre, where its point is drawn, can lie outside it.)
    await page.check('#layers input[data-layer="events"]');
    await page.uncheck('#layers input[data-layer="hotspots"]');
    // Tiles place events at their public cell's centre (for every caller: tiles are never
    // audited): the point drawn nearest opens the event, the events under it, or — for a
    // public cell — its counts in words.
    await clickEventCluster(page, ev.lon, ev.lat, 16, { anyPoint: true });
    await page.waitForFunction(() => document.querySelector('#event-detail')?.dataset.loaded || document.querySelector('#cluster-events tr[data-code]') || document.querySelector('#info h2[data-cluster]'), null, { timeout: 10_000 });
    if (await page.locator('#info h2[data-cluster]').count()) {
      assert.match(await page.locator('#info').innerText(), /事件数\s*[\d,]+ 件/);
    } else {
      if (!(await page.locator('#event-detail').count())) {
        assert.match(await page.locator('#info').innerText(), /此处事件/);
        await page.locator('#cluster-events tr[data-code]').first().click();
        await page.waitForFunction(() => document.querySelector('#event-detail')?.dataset.loaded, null, { timeout: 10_000 });
      }
      assert.ok(await page.locator('#event-detail .ed-timeline li').count() >= 1, 'the clicked point\'s history');
    }
    assertClean(view, '/ event detail');
  } finally {
    await view.context.close();
  }
});
