// Browser tests of the forces views: the large screen's forces counters agree with the
// API; a grid worker logs a patrol on /grid from the phone's (emulated) location and
// reports its findings as an event; records a key-group visit and finishes a
// dispatched task on /grid; the grid panel of / shows the grid's forces and key-group
// follow-up status to a leader.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { BASE, SCREENSHOTS, launch, openPage, probe, tolerated, apiLogin, api } from './support.js';

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
    // The patrols run up to the demo's present (today): the last 30 days hold some.
    assert.ok(cover.patrols_30d > 0, `近30天巡逻 ${cover.patrols_30d}`);
    const now = Date.now() / 1000;
    assert.ok(now - cover.to < 2 * 86_400, `coverage window ends ${cover.to}, not today`);
    const share = await value('share_covered');
    if (cover.hot_cells) assert.equal(share, `${(cover.share_covered * 100).toFixed(1)}%`);
    else assert.equal(share, '无显著热点');
    const uncovered = cover.cells.filter((c) => c.uncovered).length;
    assert.equal(await page.locator('#uncovered li').count(), Math.min(uncovered, 6));
    // Uncovered hot cells are named by township and community, never by coordinates.
    const firstUncovered = cover.cells.find((c) => c.uncovered);
    if (firstUncovered) {
      const line = await page.locator('#uncovered li').first().innerText();
      assert.ok(firstUncovered.place && line.includes(firstUncovered.place), `${line} names ${firstUncovered.place}`);
      assert.ok(!/\d+\.\d{3}/.test(line), `no coordinates: ${line}`);
    }
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
    await page.fill('#patrol-findings', '发现消防通道堵塞，已通知物业清理');
    await page.check('#patrol-report');
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
    assert.equal(p.findings, '发现消防通道堵塞，已通知物业清理');
    // The findings became an event found by the grid, at the patrol's last fix.
    const eventCode = await page.evaluate(() => document.querySelector('#patrol-status').dataset.event);
    assert.ok(eventCode, 'an event was reported');
    const token = await page.evaluate(() => sessionStorage.getItem('minqing.token'));
    const ev = await api(`/api/v1/events/${eventCode}`, token);
    assert.equal(ev.source, 'grid_worker');
    assert.equal(ev.grid.code, code);
    assert.ok(ev.description.includes(patrolCode), ev.description);
    assert.deepEqual(view.errors, []);
  } finally {
    await context.close();
  }
});

test('grid: a grid worker records a key-group visit and finishes a dispatched task', async () => {
  const leader = await apiLogin('leader', process.env.MINQING_TEST_LEADER_PASSWORD || 'demo-leader-pass');
  const summary = await api('/api/v1/key-groups/summary', leader.token);
  const g = summary.grids.filter((x) => x.due > 0).sort((a, b) => b.due - a.due)[0];
  assert.ok(g, 'a grid with key-group follow-ups due');
  const code = g.grid_code;
  // A task on the work list dispatched to the grid, to be finished from /grid.
  const items = await api('/api/v1/work-items');
  const r = await fetch(`${BASE}/api/v1/grids/${code}/tasks`, {
    method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${leader.token}` },
    body: JSON.stringify({ item_code: items.items[0].code, note: '请于本周内完成' }),
  });
  assert.equal(r.status, 201);
  const task = await r.json();
  const view = await openPage(browser, '/grid', { width: 375, height: 812 }, { tolerated404: allow404 });
  const { page, context } = view;
  try {
    await page.waitForSelector('#login-form', { state: 'visible' });
    await page.fill('input[name="username"]', `grid-${code}`);
    await page.fill('input[name="password"]', 'demo-grid-pass');
    await page.click('#login-form button');
    await page.click('.tabs button[data-tab="forces"]');
    await page.waitForSelector('#kg-due li[data-kg]', { timeout: 30_000 });
    assert.equal(await page.locator('#kg-due li[data-kg]').count(), Math.min(g.due, 200));
    const names = await page.locator('#kg-due li[data-kg] b').allInnerTexts();
    assert.ok(names.every((n) => n.includes('*')), `names masked: ${names}`);
    const first = page.locator('#kg-due li[data-kg]').first();
    const id = await first.getAttribute('data-kg');
    await first.locator('summary').click();
    await first.locator('select[name="kind"]').selectOption('help');
    await first.locator('select[name="status"]').selectOption('attention');
    await first.locator('textarea[name="note"]').fill('协助申请临时救助，本人情绪平稳');
    await page.locator('#kg-due').screenshot({ path: join(SCREENSHOTS, 'grid-key-groups.png') });
    await first.locator('button[type="submit"]').click();
    await page.waitForSelector(`#kg-due li[data-kg="${id}"][data-recorded="true"]`, { timeout: 15_000 });
    const after = await api(`/api/v1/key-groups/${id}`, leader.token);
    assert.equal(after.visits[0].kind, 'help');
    assert.equal(after.visits[0].note, '协助申请临时救助，本人情绪平稳');
    assert.equal(after.status, 'attention');
    assert.equal(after.due, false);
    // The dispatched task, finished with a note.
    const li = page.locator(`#grid-tasks li[data-task="${task.code}"]`);
    await li.locator('input[name="note"]').fill('已完成走访排查');
    await li.locator('button[type="submit"]').click();
    await page.waitForFunction((c) => document.querySelector(`#grid-tasks li[data-task="${c}"]`)?.innerText.includes('已办结'), task.code, { timeout: 15_000 });
    const tasks = await api(`/api/v1/grids/${code}/tasks`, leader.token);
    assert.equal(tasks.tasks.find((t) => t.code === task.code).status, 'done');
    await page.screenshot({ path: join(SCREENSHOTS, 'grid-key-groups-done.png'), fullPage: true });
    const text = await page.locator('#tab-forces').innerText();
    assert.ok(!/undefined|NaN|null/.test(text), text);
    assert.deepEqual(view.errors, []);
  } finally {
    await context.close();
  }
});

test('one-map: the grid panel shows the forces and the key-group follow-up status', async () => {
  const leader = await apiLogin('leader', process.env.MINQING_TEST_LEADER_PASSWORD || 'demo-leader-pass');
  const summary = await api('/api/v1/key-groups/summary', leader.token);
  const g = summary.grids.filter((x) => x.total > 0)[0];
  assert.ok(g, 'a grid with people on the lists');
  const grids = await (await fetch(`${BASE}/api/v1/areas?level=grid`)).json();
  const feature = grids.features.find((f) => f.properties.code === g.grid_code);
  const communities = await (await fetch(`${BASE}/api/v1/areas?level=community`)).json();
  const community = communities.features.find((f) => f.properties.code === feature.properties.parent);
  const view = await openPage(browser, '/', { width: 1440, height: 900 }, { tolerated404: allow404 });
  const { page, context } = view;
  try {
    await page.waitForSelector('body[data-ready="1"]', { timeout: 60_000 });
    await page.click('#signin-open');
    await page.fill('#signin input[name="username"]', 'leader');
    await page.fill('#signin input[name="password"]', process.env.MINQING_TEST_LEADER_PASSWORD || 'demo-leader-pass');
    await page.click('#signin button[type="submit"]');
    await page.waitForSelector('#account .who[data-role]');
    // Drill down by the panel's buttons: township → community → grid.
    for (const c of [community.properties.parent, community.properties.code, g.grid_code]) {
      await page.click(`#info button[data-code="${c}"]`);
      await page.waitForSelector(`#breadcrumb span`, { timeout: 10_000 });
    }
    await page.waitForSelector('#grid-forces .forces li', { timeout: 30_000 });
    const text = await page.locator('#grid-forces').innerText();
    assert.ok(text.includes('网格长') && text.includes('专职网格员'), text);
    assert.ok(/1\d{2}\*{4}\d{4}/.test(text), 'phones masked');
    assert.ok(text.includes('重点人群跟踪帮扶') && text.includes(`共 ${g.total} 人`), text);
    assert.ok(text.includes(feature.properties.name) || (await page.locator('#info h2').innerText()).includes(feature.properties.name));
    await page.locator('#info').screenshot({ path: join(SCREENSHOTS, 'onemap-grid-forces.png') });
    assert.deepEqual(view.errors, []);
  } finally {
    await context.close();
  }
});
