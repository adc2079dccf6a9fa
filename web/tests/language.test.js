// Every word a user sees is Simplified Chinese: each view, anonymous and signed in as a
// leader, walked through its panels (the one-map drilled down to a grid, an event point,
// a hot spot, a risk grid), fails on any Latin-letter word in the visible text, in
// tooltips or in placeholders, outside a short allow-list of units and the signed-in
// account's own login name.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SCREENSHOTS, launch, openPage, tolerated, api, mapIdle } from './support.js';

const LEADER = ['leader', process.env.MINQING_TEST_LEADER_PASSWORD || 'demo-leader-pass'];
// Units and the like that are written in Latin letters in Chinese text too.
const ALLOWED = new Set(['km', 'm', 'h']);

let browser;
let allow404;
before(async () => {
  browser = await launch();
  allow404 = await tolerated();
});
after(async () => { await browser?.close(); });

/** The Latin-letter words visible on the page now, each with a little context. */
async function latinWords(page, allowed) {
  const texts = await page.evaluate(() => {
    const out = [document.body.innerText];
    for (const el of document.querySelectorAll('[title], [placeholder], [aria-label]')) {
      if (el.closest('[hidden]')) continue;
      for (const a of ['title', 'placeholder', 'aria-label']) if (el.getAttribute(a)) out.push(el.getAttribute(a));
    }
    return out;
  });
  const found = [];
  for (const raw of texts) {
    // "1+1+4+N" is the source's own Chinese name of the grid forces (网格力量), not English.
    const text = raw.replaceAll('1+1+4+N', '1+1+4+多');
    for (const m of text.matchAll(/[A-Za-z]+/g)) {
      if (allowed.has(m[0])) continue;
      const context = text.slice(Math.max(0, m.index - 20), m.index + m[0].length + 20).replace(/\s+/g, ' ');
      found.push(`${m[0]}  «${context}»`);
    }
  }
  return [...new Set(found)];
}

async function signIn(page, [username, password]) {
  await page.click('#signin-open');
  await page.fill('#signin input[name="username"]', username);
  await page.fill('#signin input[name="password"]', password);
  await page.click('#signin button[type="submit"]');
  await page.waitForSelector('#account .who[data-role]');
}

/** Click the map at a lon/lat after moving there. */
async function clickAt(page, lon, lat, zoom) {
  await page.evaluate(([lon, lat, zoom]) => window.__minqing.map.jumpTo({ center: [lon, lat], zoom }), [lon, lat, zoom]);
  await mapIdle(page);
  const [x, y] = await page.evaluate(([lon, lat]) => { const p = window.__minqing.map.project([lon, lat]); return [p.x, p.y]; }, [lon, lat]);
  const box = await page.locator('#map').boundingBox();
  await page.mouse.click(box.x + x, box.y + y);
}

/** Collects the Latin words of each step into `failures`. */
function checker(page, who, allowed) {
  const failures = [];
  return {
    failures,
    async check(step) {
      await page.waitForTimeout(800);
      for (const w of await latinWords(page, allowed)) failures.push(`${who} ${step}: ${w}`);
    },
  };
}

for (const signedIn of [false, true]) {
  const who = signedIn ? 'leader' : 'anonymous';
  const allowed = new Set([...ALLOWED, ...(signedIn ? [LEADER[0]] : [])]);

  test(`one-map, ${who}: every panel speaks Chinese and names places`, async () => {
    const view = await openPage(browser, '/', { width: 1440, height: 900 }, { tolerated404: allow404 });
    const { page } = view;
    const { failures, check } = checker(page, who, allowed);
    try {
      await page.waitForSelector('body[data-ready="1"]', { timeout: 60_000 });
      await mapIdle(page);
      if (signedIn) await signIn(page, LEADER);
      await check('district');
      // Drill down district → township → community → grid through the panel's lists.
      for (const level of ['township', 'community', 'grid']) {
        const child = page.locator('#info .children button').first();
        if ((await child.count()) === 0) break;
        const name = await child.innerText();
        await child.click();
        await page.waitForFunction((n) => document.querySelector('#breadcrumb').innerText.includes(n), name);
        await check(level);
      }
      await page.screenshot({ path: join(SCREENSHOTS, `language-onemap-grid-${who}.png`) });
      // A hot spot cell.
      const hot = await api('/api/v1/analysis/hotspots');
      const cell = hot.cells.sort((a, b) => b.count - a.count)[0];
      await page.check('#layers input[data-layer="hotspots"]');
      await page.uncheck('#layers input[data-layer="events"]');
      await page.uncheck('#layers input[data-layer="buildings"]');
      await clickAt(page, cell.lon, cell.lat, 13);
      await page.waitForSelector(`#info h2[data-cell="${cell.cell}"]`);
      await check('hot spot');
      await page.screenshot({ path: join(SCREENSHOTS, `language-onemap-hotspot-${who}.png`) });
      // An event point, then an aggregated event cell.
      await page.uncheck('#layers input[data-layer="hotspots"]');
      await page.check('#layers input[data-layer="events"]');
      await clickAt(page, cell.lon, cell.lat, 17);
      await check('event point');
      await clickAt(page, cell.lon, cell.lat, 11);
      await check('event cell');
      // A risk grid.
      await page.uncheck('#layers input[data-layer="events"]');
      await page.check('#layers input[data-layer="risk"]');
      const risk = await api('/api/v1/analysis/risk?level=grid');
      const grids = await api('/api/v1/areas?level=grid');
      const top = grids.features.find((f) => f.properties.code === risk.units[0].code);
      const ring = top.geometry.type === 'MultiPolygon' ? top.geometry.coordinates[0][0] : top.geometry.coordinates[0];
      const [lon, lat] = [0, 1].map((k) => ring.reduce((s, p) => s + p[k], 0) / ring.length);
      await clickAt(page, lon, lat, 14);
      await check('risk grid');
      await page.screenshot({ path: join(SCREENSHOTS, `language-onemap-${who}.png`) });
    } finally {
      await view.context.close();
    }
    assert.deepEqual(failures, [], 'Latin-letter words in the one-map');
  });

  for (const path of ['/screen', '/grid', '/work', '/review']) {
    test(`${path}, ${who}: every word is Chinese`, async () => {
      const view = await openPage(browser, path, { width: 1920, height: 1080 }, { tolerated404: allow404 });
      const { page } = view;
      const { failures, check } = checker(page, who, allowed);
      try {
        await page.waitForTimeout(1500);
        if (signedIn && (await page.locator('#signin-open').isVisible().catch(() => false))) await signIn(page, LEADER);
        else if (signedIn) {
          // Views with their own sign-in form (the wall's kiosk dialog stays closed: it is
          // the screen account's, not a leader's).
          const form = page.locator('form input[name="username"]').first();
          if (await form.isVisible().catch(() => false)) {
            await form.fill(LEADER[0]);
            await page.locator('form input[name="password"]').first().fill(LEADER[1]);
            await page.locator('form button[type="submit"]').first().click();
          }
        }
        await page.waitForTimeout(4000);
        await check('loaded');
        await page.screenshot({ path: join(SCREENSHOTS, `language${path.replace('/', '-')}-${who}.png`) });
      } finally {
        await view.context.close();
      }
      assert.deepEqual(failures, [], `Latin-letter words in ${path}`);
    });
  }
}
