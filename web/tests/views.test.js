// Browser tests of the three views against a running server (MINQING_URL), in the
// system Chromium. A view whose endpoints are missing from the OpenAPI document fails:
// a test never skips.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { BASE, ORIGIN, SCREENSHOTS, launch, openPage, probe, tolerated, drawnShare, hex, heapAfterGC, mapIdle, apiLogin, api } from './support.js';

let browser;
let caps;
let allow404;
before(async () => {
  browser = await launch();
  caps = await probe();
  allow404 = await tolerated();
});
after(async () => { await browser?.close(); });

function assertClean({ errors, origins }, view) {
  assert.deepEqual(errors, [], `${view}: console errors`);
  assert.deepEqual([...origins], [ORIGIN], `${view}: requests to another origin`);
}

async function ready(page) {
  await page.waitForSelector('body[data-ready="1"]', { timeout: 60_000 });
}

/** Fail (never skip) when an endpoint the view needs is missing from the OpenAPI
 * document: a view whose API disappeared is broken, not untestable. */
function requireEndpoints(t, needed) {
  const missing = needed.filter((p) => !caps.has(p));
  assert.deepEqual(missing, [], `${t.name}: endpoints missing from /api/openapi.json`);
  return true;
}

/** The wall signs in once (a kiosk session kept in localStorage), through its dialog. */
async function kioskSignIn(page) {
  await page.waitForSelector('#kiosk-signin:not([hidden])', { timeout: 15_000 });
  await page.click('#kiosk-signin');
  await page.fill('#kiosk input[name="username"]', 'screen');
  await page.fill('#kiosk input[name="password"]', 'demo-screen-pass');
  await Promise.all([page.waitForNavigation(), page.click('#kiosk button[type="submit"]')]);
  await page.waitForSelector('#kiosk-signin[hidden]', { state: 'attached' });
}

test('one-map view loads, draws the map, drills down, only this origin, no console errors', async () => {
  const view = await openPage(browser, '/', { width: 1440, height: 900 }, { tolerated404: allow404 });
  const { page } = view;
  try {
    await ready(page);
    assert.match(await page.title(), /民情/);
    const share = drawnShare(await page.locator('#map').screenshot(), hex('#eef1f4'));
    assert.ok(share > 0.05, `map canvas shows drawn areas (share of drawn pixels ${share.toFixed(3)})`);
    assert.ok((await page.locator('#layers input').count()) >= 7, 'layer switcher lists the seven layers');
    const crumbs = await page.locator('#breadcrumb').innerText();
    assert.ok(crumbs.length > 0, 'breadcrumb shows the district');
    await page.screenshot({ path: join(SCREENSHOTS, 'onemap.png') });
    // Drill down district → township through the info panel's list.
    const township = page.locator('#info .children button').first();
    const name = await township.innerText();
    await township.click();
    await page.waitForFunction((n) => document.querySelector('#breadcrumb').innerText.includes(n), name);
    assert.match(await page.locator('#breadcrumb').innerText(), /›/);
    await page.waitForTimeout(1500);
    await page.screenshot({ path: join(SCREENSHOTS, 'onemap-township.png') });
    assertClean(view, '/');
  } finally {
    await view.context.close();
  }
});

test('large screen at 1920×1080: counters from /api/v1/stats, map drawn, no console errors', async () => {
  const view = await openPage(browser, '/screen', { width: 1920, height: 1080 }, { tolerated404: allow404 });
  const { page } = view;
  try {
    await ready(page);
    const stats = await (await fetch(`${BASE}/api/v1/stats`)).json();
    await page.waitForSelector('.counter[data-key="residents"] .value');
    const residents = await page.locator('.counter[data-key="residents"] .value').innerText();
    assert.equal(residents.replace(/,/g, ''), String(stats.residents), 'residents counter equals /api/v1/stats');
    // The overdue count is live and public (a total, no records).
    const overdue = (await (await fetch(`${BASE}/api/v1/events?limit=0&overdue=true`)).json()).total;
    const shownOverdue = await page.locator('.counter[data-key="overdue"] .value').innerText();
    assert.equal(shownOverdue.replace(/,/g, ''), String(overdue), 'overdue counter equals the events total');
    const share = drawnShare(await page.locator('#map').screenshot(), hex('#0a1428'));
    assert.ok(share > 0.05, `district map drawn (share ${share.toFixed(3)})`);
    const fontPx = await page.locator('.counter .value').first().evaluate((e) => parseFloat(getComputedStyle(e).fontSize));
    assert.ok(fontPx >= 32, `counter font is large (${fontPx}px)`);
    // Township names on the map, drawn with local fonts (the style has no glyphs URL).
    assert.equal(await page.evaluate(() => window.__minqing.map.getStyle().glyphs), undefined);
    const townships = (await (await fetch(`${BASE}/api/v1/areas?level=township`)).json()).features.map((f) => f.properties.name);
    const placed = await page.evaluate(() => window.__minqing.map.queryRenderedFeatures({ layers: ['townships-label'] }).map((f) => f.properties.name));
    assert.ok(placed.length >= 1 && placed.every((n) => townships.includes(n)), `township labels placed: ${placed}`);
    await page.waitForTimeout(1500);
    await page.screenshot({ path: join(SCREENSHOTS, 'screen-1920.png') });
    assertClean(view, '/screen');
  } finally {
    await view.context.close();
  }
});

test('large screen at 3840×2160 scales its fonts', async () => {
  const view = await openPage(browser, '/screen', { width: 3840, height: 2160 }, { tolerated404: allow404 });
  const { page } = view;
  try {
    await ready(page);
    await page.waitForSelector('.counter .value');
    const fontPx = await page.locator('.counter .value').first().evaluate((e) => parseFloat(getComputedStyle(e).fontSize));
    assert.ok(fontPx >= 64, `counter font doubles on 4K (${fontPx}px)`);
    await page.screenshot({ path: join(SCREENSHOTS, 'screen-3840.png') });
    assertClean(view, '/screen 4K');
  } finally {
    await view.context.close();
  }
});

test('grid worker view at 375×812: a wrong password is refused, then the grid worker sees their grid on the map', async () => {
  const grids = await (await fetch(`${BASE}/api/v1/areas?level=grid`)).json();
  const code = grids.features[0].properties.code;
  const view = await openPage(browser, '/grid', { width: 375, height: 812 }, { tolerated404: allow404 });
  const { page } = view;
  try {
    await page.waitForSelector('#login-form', { state: 'visible' });
    // A wrong password gives a clear message, not a console error.
    await page.fill('input[name="username"]', 'nobody');
    await page.fill('input[name="password"]', 'wrong-password');
    await page.click('#login-form button');
    await page.waitForFunction(() => document.querySelector('#message').innerText.includes('错误'));
    await page.screenshot({ path: join(SCREENSHOTS, 'grid-login.png') });
    view.errors.splice(0, view.errors.length, ...view.errors.filter((e) => !/status of 401/.test(e)));
    await page.fill('input[name="username"]', `grid-${code}`);
    await page.fill('input[name="password"]', 'demo-grid-pass');
    await page.click('#login-form button');
    await ready(page);
    await mapIdle(page);
    const share = drawnShare(await page.locator('#map').screenshot(), hex('#eef1f4'));
    assert.ok(share > 0.05, `grid map drawn (share ${share.toFixed(3)})`);
    await page.screenshot({ path: join(SCREENSHOTS, 'grid.png') });
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 375, `no horizontal scrolling on a phone (${width}px)`);
    assertClean(view, '/grid');
  } finally {
    await view.context.close();
  }
});

test('search flies to an address', async (t) => {
  if (!requireEndpoints(t, ['/api/v1/search'])) return;
  const view = await openPage(browser, '/', { width: 1440, height: 900 }, { tolerated404: allow404 });
  const { page } = view;
  try {
    await ready(page);
    const areas = await (await fetch(`${BASE}/api/v1/areas?level=community`)).json();
    const query = areas.features[0].properties.name;
    await page.fill('#search', query);
    await page.waitForSelector('#suggestions li button', { timeout: 10_000 });
    const before = await page.evaluate(() => window.__minqing.map.getZoom());
    await page.click('#suggestions li button >> nth=0');
    await page.waitForSelector('body[data-flown-to]', { timeout: 10_000 });
    await page.waitForFunction(() => !window.__minqing.map.isMoving(), null, { timeout: 15_000 });
    const after = await page.evaluate(() => window.__minqing.map.getZoom());
    assert.ok(after > before, `the map zoomed in to the hit (${before.toFixed(1)} → ${after.toFixed(1)})`);
    await page.screenshot({ path: join(SCREENSHOTS, 'onemap-search.png') });
    assertClean(view, '/ search');
  } finally {
    await view.context.close();
  }
});

test('search finds a road by its old name and says so', async (t) => {
  if (!requireEndpoints(t, ['/api/v1/search', '/api/v1/address-aliases'])) return;
  const leader = await apiLogin('leader', process.env.MINQING_TEST_LEADER_PASSWORD || 'demo-leader-pass');
  const table = await api('/api/v1/address-aliases', leader.token);
  const pair = table.aliases.find((a) => !a.unused);
  assert.ok(pair, 'the demo imports old road names');
  const view = await openPage(browser, '/', { width: 1440, height: 900 }, { tolerated404: allow404 });
  const { page } = view;
  try {
    await ready(page);
    await page.fill('#search', pair.alias);
    await page.waitForSelector('#suggestions li button', { timeout: 10_000 });
    const first = await page.textContent('#suggestions li button >> nth=0');
    assert.ok(first.includes(pair.canonical), `the first hit is ${pair.canonical}: ${first}`);
    assert.ok(first.includes(`别名 ${pair.alias}`), `the hit says it was found by its old name: ${first}`);
    await page.screenshot({ path: join(SCREENSHOTS, 'onemap-search-alias.png') });
    await page.click('#suggestions li button >> nth=0');
    await page.waitForSelector('body[data-flown-to]', { timeout: 10_000 });
    assertClean(view, '/ search by an old name');
  } finally {
    await view.context.close();
  }
});

test('a grid worker reports an event with a photo; it appears on the large screen feed', async (t) => {
  if (!requireEndpoints(t, ['/api/v1/events', '/api/v1/events/{code}/photos', '/api/v1/events/stream'])) return;
  const screen = await openPage(browser, '/screen', { width: 1920, height: 1080 }, { tolerated404: allow404 });
  const grids = await (await fetch(`${BASE}/api/v1/areas?level=grid`)).json();
  const grid = grids.features[0];
  const worker = await openPage(browser, '/grid', { width: 375, height: 812 }, { tolerated404: allow404 });
  try {
    await ready(screen.page);
    await screen.page.waitForFunction(() => document.querySelector('#feed-status').innerText.includes('已连接'), null, { timeout: 15_000 });
    const { page } = worker;
    if (caps.has('/api/v1/auth/login')) {
      await page.waitForSelector('#login-form', { state: 'visible' });
      await page.fill('input[name="username"]', process.env.MINQING_TEST_GRID_USER || `grid-${grid.properties.code}`);
      await page.fill('input[name="password"]', process.env.MINQING_TEST_GRID_PASSWORD || 'demo-grid-pass');
      await page.click('#login-form button');
    }
    await ready(page);
    await page.click('.tabs button[data-tab="report"]');
    // Tap the middle of the map (inside my grid: the map is fitted to it).
    const box = await page.locator('#map').boundingBox();
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    await page.selectOption('select[name="category"]', 'service_request');
    await page.fill('input[name="title"]', '路灯损坏（浏览器测试）');
    await page.fill('textarea[name="description"]', '测试上报');
    await page.setInputFiles('input[name="photo"]', { name: 'photo.png', mimeType: 'image/png', buffer: await screen.page.screenshot({ clip: { x: 0, y: 0, width: 64, height: 48 } }) });
    // The photo is previewed before it is sent.
    await page.waitForSelector('#photo-preview:not([hidden])');
    assert.ok(await page.locator('#photo-preview').evaluate((img) => img.complete && img.naturalWidth === 64), 'the preview shows the chosen photo');
    await page.click('#report-form button[type="submit"]');
    await page.waitForSelector('body[data-reported]', { timeout: 15_000 });
    const code = await page.evaluate(() => document.body.dataset.reported);
    assert.match(await page.locator('#message').innerText(), /含照片/);
    // Event records need the worker's token (the screen sees only the public feed).
    const token = await page.evaluate(() => sessionStorage.getItem('minqing.token'));
    assert.equal((await fetch(`${BASE}/api/v1/events/${code}`)).status, 401, 'no record without a token');
    const detail = await (await fetch(`${BASE}/api/v1/events/${code}`, { headers: { Authorization: `Bearer ${token}` } })).json();
    assert.equal(detail.photos.length, 1, 'the photo is attached');
    assert.ok(detail.history.some((s) => s.action === 'attach_photo'), 'the photo is in the history');
    await screen.page.waitForSelector(`#feed li[data-code="${code}"]`, { timeout: 15_000 });
    await screen.page.waitForFunction((c) => window.__minqing.live.features.some((f) => f.properties.code === c), code);
    await screen.page.screenshot({ path: join(SCREENSHOTS, 'screen-feed.png') });
    await page.screenshot({ path: join(SCREENSHOTS, 'grid-reported.png') });
    assertClean(worker, '/grid report');
    assertClean(screen, '/screen feed');
  } finally {
    await worker.context.close();
    await screen.context.close();
  }
});

test('large screen runs for a while without its heap growing without bound', async () => {
  const seconds = Number(process.env.MINQING_SOAK_SECONDS || 60);
  // Timers shortened (refresh every 2 s, tour every 2 s) so a minute covers dozens of cycles.
  const view = await openPage(browser, '/screen?refresh=2000&tour=2000', { width: 1920, height: 1080 }, { tolerated404: allow404 });
  const { page } = view;
  try {
    await ready(page);
    await page.waitForTimeout(5000);
    const start = await heapAfterGC(page);
    await page.waitForTimeout(seconds * 1000);
    const end = await heapAfterGC(page);
    const growth = (end - start) / 1e6;
    console.log(`# screen heap after GC: ${(start / 1e6).toFixed(1)} MB → ${(end / 1e6).toFixed(1)} MB over ${seconds} s`);
    assert.ok(growth < 5, `heap grew ${growth.toFixed(1)} MB in ${seconds} s`);
    const feedItems = await page.locator('#feed li').count();
    assert.ok(feedItems <= 40, 'feed is capped');
    assertClean(view, '/screen soak');
  } finally {
    await view.context.close();
  }
});

test('large screen: the event figures are those of the latest year with events, labelled with it', async (t) => {
  if (!requireEndpoints(t, ['/api/v1/analysis/efficiency'])) return;
  const eff = await (await fetch(`${BASE}/api/v1/analysis/efficiency`)).json();
  const year = eff.window.from.slice(0, 4);
  const view = await openPage(browser, '/screen', { width: 1920, height: 1080 }, { tolerated404: allow404 });
  const { page } = view;
  try {
    await ready(page);
    await page.waitForSelector('.counter[data-key="year_events"] .value:not(.na)');
    assert.equal(await page.locator('.counter[data-key="year_events"] .name').innerText(), `${year}年事件`);
    const shown = await page.locator('.counter[data-key="year_events"] .value').innerText();
    assert.equal(shown.replace(/,/g, ''), String(eff.events), 'the year\'s events equal the efficiency model');
    assert.ok(eff.events > 0, 'the latest year with events has events');
    const closure = await page.locator('.counter[data-key="closure_rate"] .value').innerText();
    assert.equal(closure, `${(eff.closure_rate * 100).toFixed(1)}%`);
    assert.match(await page.locator('.counter[data-key="closure_rate"] .name').innerText(), new RegExp(year));
    const yoy = eff.year_on_year.total.relative;
    if (typeof yoy === 'number') {
      const yoyShown = await page.locator('.counter[data-key="events_yoy"] .value').innerText();
      assert.equal(yoyShown, `${yoy >= 0 ? '+' : ''}${(yoy * 100).toFixed(1)}%`);
    }
    // Every counter fits on the 1080-pixel screen.
    const bottom = await page.locator('.counter').last().evaluate((e) => e.getBoundingClientRect().bottom);
    assert.ok(bottom <= 1080, `the last counter is on screen (bottom ${bottom}px)`);
    assertClean(view, '/screen year');
  } finally {
    await view.context.close();
  }
});

test('large screen: the slow tour visits the current significant hot spots', async (t) => {
  if (!requireEndpoints(t, ['/api/v1/analysis/hotspots'])) return;
  const hot = await (await fetch(`${BASE}/api/v1/analysis/hotspots`)).json();
  const significant = hot.cells.filter((c) => (c.class === 'hot99' || c.class === 'hot95') && c.count > 0).sort((a, b) => b.gi_z - a.gi_z);
  assert.ok(significant.length > 0, 'the demo has significant hot spots');
  const view = await openPage(browser, '/screen?tour=10000', { width: 1920, height: 1080 }, { tolerated404: allow404 });
  const { page } = view;
  try {
    await ready(page);
    await page.waitForSelector('#tour:not([hidden])', { timeout: 30_000 });
    assert.equal(await page.locator('#tour').getAttribute('data-cell'), significant[0].cell, 'the tour starts at the strongest hot spot');
    assert.match(await page.locator('#tour').innerText(), new RegExp(`热点巡览 1/${Math.min(8, significant.length)} · ${significant[0].count.toLocaleString('zh-CN')} 件事件`));
    await page.waitForFunction(() => !window.__minqing.map.isMoving(), null, { timeout: 20_000 });
    const centre = await page.evaluate(() => window.__minqing.map.getCenter().toArray());
    assert.ok(Math.abs(centre[0] - significant[0].lon) < 0.01 && Math.abs(centre[1] - significant[0].lat) < 0.01, `the map flew to the hot spot (${centre})`);
    await page.screenshot({ path: join(SCREENSHOTS, 'screen-tour.png') });
    assertClean(view, '/screen tour');
  } finally {
    await view.context.close();
  }
});

test('grid worker: a point outside my grid is warned about; an event reported by typed address is placed by the matcher', async () => {
  const grids = await (await fetch(`${BASE}/api/v1/areas?level=grid`)).json();
  const grid = grids.features[0];
  const view = await openPage(browser, '/grid', { width: 375, height: 812 }, { tolerated404: allow404 });
  const { page } = view;
  try {
    await page.waitForSelector('#login-form', { state: 'visible' });
    await page.fill('input[name="username"]', `grid-${grid.properties.code}`);
    await page.fill('input[name="password"]', 'demo-grid-pass');
    await page.click('#login-form button');
    await ready(page);
    await page.click('.tabs button[data-tab="report"]');
    // Inside: no warning.
    const box = await page.locator('#map').boundingBox();
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    assert.equal(await page.locator('#point-warning').isHidden(), true, 'no warning inside my grid');
    // Far outside (another grid's middle): the warning.
    const other = grids.features.find((f) => f.properties.code !== grid.properties.code && f.properties.parent !== grid.properties.parent) || grids.features[1];
    const inner = await (await fetch(`${BASE}/api/v1/events?limit=0`)).json();
    assert.ok(inner.total >= 0);
    await page.evaluate((code) => {
      const m = window.__minqing.map;
      return fetch('/api/v1/areas?level=grid').then((r) => r.json()).then((all) => {
        const f = all.features.find((x) => x.properties.code === code);
        const ring = f.geometry.type === 'Polygon' ? f.geometry.coordinates[0] : f.geometry.coordinates[0][0];
        const lng = ring.reduce((a, c) => a + c[0], 0) / ring.length;
        const lat = ring.reduce((a, c) => a + c[1], 0) / ring.length;
        m.jumpTo({ center: [lng, lat], zoom: 16 });
        const p = m.project([lng, lat]);
        m.fire('click', { lngLat: { lng, lat }, point: p, originalEvent: {} });
      });
    }, other.properties.code);
    await page.waitForSelector('#point-warning:not([hidden])');
    assert.match(await page.locator('#point-warning').innerText(), /不在您负责的网格内/);
    await page.screenshot({ path: join(SCREENSHOTS, 'grid-outside.png') });
    // Report by typed address alone (a fresh form, no point).
    await page.reload();
    await ready(page);
    await page.click('.tabs button[data-tab="report"]');
    const token = await page.evaluate(() => sessionStorage.getItem('minqing.token'));
    const mine = await (await fetch(`${BASE}/api/v1/events?grid=${grid.properties.code}&limit=1`, { headers: { Authorization: `Bearer ${token}` } })).json();
    const near = await (await fetch(`${BASE}/api/v1/reverse?lon=${mine.events[0].lon}&lat=${mine.events[0].lat}`)).json();
    await page.fill('#report-form input[name="address"]', near.building.label);
    await page.fill('#report-form input[name="title"]', '楼道堆物（按地址上报）');
    await page.click('#report-form button[type="submit"]');
    await page.waitForSelector('body[data-reported]', { timeout: 15_000 });
    const code = await page.evaluate(() => document.body.dataset.reported);
    const ev = await (await fetch(`${BASE}/api/v1/events/${code}`, { headers: { Authorization: `Bearer ${token}` } })).json();
    assert.equal(ev.address_code, near.building.code, 'placed at the typed address');
    assertClean(view, '/grid outside and address');
  } finally {
    await view.context.close();
  }
});

test('large screen at 1920×1080: signed in once as a kiosk, no text under 20 px, the feed starts with the latest events, funnel and township ranking drawn', async () => {
  const view = await openPage(browser, '/screen', { width: 1920, height: 1080 }, { tolerated404: allow404 });
  const { page } = view;
  try {
    await kioskSignIn(page);
    await ready(page);
    await page.waitForFunction(() => document.querySelector('#funnel').dataset.counts && document.querySelector('#ranking').dataset.top, null, { timeout: 30_000 });
    const townships = (await (await fetch(`${BASE}/api/v1/areas?level=township`)).json()).features.map((f) => f.properties.name);
    assert.ok(townships.includes(await page.locator('#ranking').getAttribute('data-top')), 'the ranking names a township');
    const counts = (await page.locator('#funnel').getAttribute('data-counts')).split(',').map(Number);
    assert.equal(counts.length, 5, 'five stages');
    for (let i = 1; i < 5; i++) assert.ok(counts[i] <= counts[i - 1], `the funnel narrows (${counts})`);
    // Every visible piece of text is at least 20 px.
    const small = await page.evaluate(() => {
      const out = [];
      const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
      for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        if (!n.textContent.trim()) continue;
        const el = n.parentElement;
        if (!el.getClientRects().length || el.closest('[hidden], .maplibregl-ctrl')) continue;
        const px = parseFloat(getComputedStyle(el).fontSize);
        if (px < 19.5) out.push(`${el.tagName}.${el.className}: ${n.textContent.trim().slice(0, 20)} (${px}px)`);
      }
      return out;
    });
    assert.deepEqual(small, [], 'no text under 20 px');
    // Chart text too (ECharts draws on canvas from the options).
    const chartFonts = await page.evaluate(() => {
      const sizes = [];
      for (const id of ['funnel', 'ranking', 'trend', 'categories']) {
        const inst = window.__minqing.echarts?.getInstanceByDom(document.getElementById(id));
        // Drawn text: shown axis labels and series labels (not hover states or tooltips).
        const walk = (o, drawn) => {
          if (!o || typeof o !== 'object') return;
          for (const [k, v] of Object.entries(o)) {
            if (['emphasis', 'blur', 'select', 'tooltip', 'axisPointer'].includes(k)) continue;
            if ((k === 'axisLabel' || k === 'label') && v && typeof v === 'object') walk(v, v.show !== false);
            else if (k === 'fontSize' && drawn && typeof v === 'number') sizes.push(v);
            else walk(v, drawn);
          }
        };
        if (inst) {
          const option = inst.getOption();
          for (const axis of [...(option.xAxis || []), ...(option.yAxis || [])]) if (axis.show === false) axis.axisLabel = { show: false };
          walk(option, false);
        }
      }
      return sizes;
    });
    assert.ok(chartFonts.length > 0 && chartFonts.every((px) => px >= 20), `chart text at least 20 px (${chartFonts})`);
    await page.waitForSelector('#feed li[data-code]', { timeout: 15_000 });
    const rows = await page.locator('#feed li[data-code]').allInnerTexts();
    assert.ok(rows.length >= 5, `the feed starts with the latest events (${rows.length})`);
    const codes = await page.locator('#feed li[data-code]').evaluateAll((lis) => lis.filter((li) => li.querySelector('.what').innerText.includes(li.dataset.code) || !li.querySelector('.where').innerText.trim()).length);
    assert.equal(codes, 0, 'rows say what and where, not the event code');
    await page.screenshot({ path: join(SCREENSHOTS, 'screen-1920.png') });
    assertClean(view, '/screen legibility');
  } finally {
    await view.context.close();
  }
});
