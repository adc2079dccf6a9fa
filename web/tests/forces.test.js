// Browser tests of the forces views: the large screen's forces counters agree with the
// API, and a grid worker logs a patrol on /grid from the phone's (emulated) location.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { BASE, SCREENSHOTS, launch, openPage, probe, tolerated } from './support.js';

let browser;
let caps;
let allow404;
before(async () => {
  browser = await launch();
  caps = await probe();
  allow404 = await tolerated();
});
after(async () => { await browser?.close(); });

test('screen: forces counters equal the API figures; uncovered hot cells listed', async () => {
  for (const p of ['/api/v1/patrol-teams', '/api/v1/analysis/patrol-coverage']) assert.ok(caps.has(p), `${p} in OpenAPI`);
  const teams = await (await fetch(`${BASE}/api/v1/patrol-teams`)).json();
  const cover = await (await fetch(`${BASE}/api/v1/analysis/patrol-coverage`)).json();
  const view = await openPage(browser, '/screen', { width: 1920, height: 1080 }, { tolerated404: allow404 });
  const { page } = view;
  try {
    await page.waitForSelector('#forces .fc[data-key="patrol_teams"]', { timeout: 60_000 });
    const value = async (key) => (await page.locator(`#forces .fc[data-key="${key}"] .value`).innerText()).replace(/,/g, '');
    assert.equal(await value('patrol_teams'), String(teams.patrol_teams));
    assert.equal(await value('patrol_members'), String(teams.patrol_members));
    assert.equal(await value('patrols_30d'), String(cover.patrols_30d));
    const share = await value('share_covered');
    if (cover.hot_cells) assert.equal(share, `${(cover.share_covered * 100).toFixed(1)}%`);
    else assert.equal(share, '无显著热点');
    const uncovered = cover.cells.filter((c) => c.uncovered).length;
    assert.equal(await page.locator('#uncovered li').count(), Math.min(uncovered, 6));
    const text = await page.locator('#forces').innerText();
    assert.ok(!/undefined|NaN|null/.test(text), text);
    await page.locator('.forces-card').screenshot({ path: join(SCREENSHOTS, 'screen-forces.png') });
    // This panel's requests fail nowhere (other panels' errors are views.test.js's).
    assert.deepEqual(view.errors.filter((e) => /patrol|stats/.test(e)), []);
  } finally {
    await view.context.close();
  }
});

test('grid: a grid worker sees the forces and logs a patrol from the phone location', async () => {
  const grids = await (await fetch(`${BASE}/api/v1/areas?level=grid`)).json();
  const g = grids.features[0];
  const code = g.properties.code;
  // A point inside the grid: the centroid of its first ring's vertices is close enough
  // for these convex-ish cells; checked by the server (a track must start in my grid).
  const ring = g.geometry.type === 'MultiPolygon' ? g.geometry.coordinates[0][0] : g.geometry.coordinates[0];
  const lon = ring.slice(0, -1).reduce((s, p) => s + p[0], 0) / (ring.length - 1);
  const lat = ring.slice(0, -1).reduce((s, p) => s + p[1], 0) / (ring.length - 1);
  const view = await openPage(browser, '/grid', { width: 375, height: 812 }, {
    tolerated404: allow404, permissions: ['geolocation'], geolocation: { longitude: lon, latitude: lat },
  });
  const { page, context } = view;
  try {
    await page.waitForSelector('#login-form', { state: 'visible' });
    await page.fill('input[name="username"]', `grid-${code}`);
    await page.fill('input[name="password"]', 'demo-grid-pass');
    await page.click('#login-form button');
    await page.click('.tabs button[data-tab="forces"]');
    await page.waitForFunction(() => document.querySelectorAll('#forces-list li').length > 0, null, { timeout: 30_000 });
    const forces = await page.locator('#forces-list').innerText();
    assert.ok(forces.includes('网格长') && forces.includes('专职网格员'), forces);
    assert.ok(/1\d{2}\*{4}\d{4}/.test(forces), 'phones masked');
    await page.fill('#patrol-findings', '未发现异常');
    await page.click('#patrol-start');
    await page.waitForFunction(() => /已记录 1 个/.test(document.querySelector('#patrol-status').innerText), null, { timeout: 15_000 });
    await context.setGeolocation({ longitude: lon + 0.0003, latitude: lat + 0.0002 });
    await page.waitForFunction(() => /已记录 2 个/.test(document.querySelector('#patrol-status').innerText), null, { timeout: 15_000 });
    await page.click('#patrol-stop');
    await page.waitForFunction(() => document.querySelector('#patrol-status').dataset.code, null, { timeout: 15_000 });
    const patrolCode = await page.evaluate(() => document.querySelector('#patrol-status').dataset.code);
    await page.screenshot({ path: join(SCREENSHOTS, 'grid-patrol.png') });
    const today = new Date().toISOString().slice(0, 10);
    const listed = await (await fetch(`${BASE}/api/v1/patrols?from=${today}&limit=100`)).json();
    const p = listed.patrols.find((x) => x.code === patrolCode);
    assert.ok(p, `patrol ${patrolCode} listed`);
    assert.equal(p.track.length, 2);
    assert.equal(p.findings, '未发现异常');
    assert.deepEqual(view.errors, []);
  } finally {
    await context.close();
  }
});
