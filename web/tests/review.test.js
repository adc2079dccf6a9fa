// Browser test of the review queue page (/review) against a running server
// (MINQING_URL, the demo's accounts), in the system Chromium.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { BASE, ORIGIN, SCREENSHOTS, launch, openPage, probe, tolerated } from './support.js';

const LEADER = process.env.MINQING_TEST_LEADER_USER || 'leader';
const LEADER_PASSWORD = process.env.MINQING_TEST_LEADER_PASSWORD || 'demo-leader-pass';

let browser;
let caps;
let allow404;
before(async () => {
  browser = await launch();
  caps = await probe();
  allow404 = await tolerated();
});
after(async () => { await browser?.close(); });

async function api(path, token, options = {}) {
  const headers = { ...(options.headers || {}) };
  if (token) headers.Authorization = `Bearer ${token}`;
  const r = await fetch(`${BASE}${path}`, { ...options, headers });
  return { status: r.status, body: await r.json().catch(() => null) };
}

test('review page: a leader signs in, sees a waiting record with candidates, resolves it', async (t) => {
  const needed = ['/api/v1/review', '/api/v1/review/{kind}/{id}', '/api/v1/auth/login'];
  const missing = needed.filter((p) => !caps.has(p));
  assert.deepEqual(missing, [], 'endpoints missing from /api/openapi.json');
  const login = await api('/api/v1/auth/login', null, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: LEADER, password: LEADER_PASSWORD }),
  });
  assert.equal(login.status, 200, 'the demo leader account signs in');
  const token = login.body.token;
  // The first kind whose queue holds a record with candidates (the demo's noisy
  // addresses leave some ambiguous).
  let kind = null;
  let first = null;
  let totalBefore = 0;
  for (const k of ['residents', 'housing', 'enterprises']) {
    const page = await api(`/api/v1/review?kind=${k}&limit=200`, token);
    assert.equal(page.status, 200);
    const item = page.body.items.find((i) => i.candidates.length > 0);
    if (item) { kind = k; first = item; totalBefore = page.body.total; break; }
  }
  assert.ok(kind, 'the demo data has a record waiting for review with candidates');

  const view = await openPage(browser, '/review', { width: 1280, height: 900 }, { tolerated404: allow404 });
  const { page } = view;
  try {
    await page.waitForSelector('#login-form', { state: 'visible' });
    await page.fill('input[name="username"]', LEADER);
    await page.fill('input[name="password"]', LEADER_PASSWORD);
    await page.click('#login-form button');
    await page.waitForSelector('#work', { state: 'visible' });
    await page.selectOption('#kind', kind);
    await page.waitForSelector('body[data-ready="1"]');
    const row = page.locator(`#queue tr[data-id="${first.id}"]`);
    // The record may be on a later page of 20: page forward until it shows.
    for (let i = 0; i < 20 && (await row.count()) === 0; i += 1) {
      assert.ok(await page.isEnabled('#next'), `record ${first.id} is listed`);
      await page.click('#next');
      await page.waitForSelector('body[data-ready="1"]');
    }
    await row.waitFor();
    assert.match(await row.textContent(), new RegExp(first.address.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').slice(0, 12)));
    const radios = row.locator('input[type="radio"]');
    assert.equal(await radios.count(), first.candidates.length, 'every candidate is offered');
    assert.match(await row.textContent(), new RegExp(first.candidates[0].label.slice(-8)));
    await page.screenshot({ path: join(SCREENSHOTS, 'review.png') });
    await radios.first().check();
    await row.locator('input[name="note"]').fill('浏览器测试复核');
    await row.locator('button[type="submit"]').click();
    await page.waitForSelector('#message.ok');
    // The record is named by its kind and number (the source key without its letters).
    const number = first.id.replace(/^[A-Za-z]+0*/, '');
    assert.match(await page.textContent('#message'), new RegExp(`记录 ${number} 已关联到 ${first.candidates[0].code}`));
    await page.waitForSelector(`#queue tr[data-id="${first.id}"]`, { state: 'detached' });

    const after = await api(`/api/v1/review?kind=${kind}&limit=200`, token);
    assert.equal(after.body.total, totalBefore - 1, 'the record left the queue');
    assert.ok(!after.body.items.some((i) => i.id === first.id));
    assert.deepEqual(view.errors, [], 'console errors');
    assert.deepEqual([...view.origins], [ORIGIN], 'requests to another origin');
  } finally {
    await view.context.close();
  }
});

test('review page refuses an account without the review permission', async (t) => {
  assert.ok(caps.has('/api/v1/auth/login') && caps.has('/api/v1/review'), 'endpoints missing from /api/openapi.json');
  const view = await openPage(browser, '/review', { width: 1280, height: 900 }, { tolerated404: allow404 });
  const { page } = view;
  try {
    await page.waitForSelector('#login-form', { state: 'visible' });
    await page.fill('input[name="username"]', process.env.MINQING_TEST_SCREEN_USER || 'screen');
    await page.fill('input[name="password"]', process.env.MINQING_TEST_SCREEN_PASSWORD || 'demo-screen-pass');
    await page.click('#login-form button');
    await page.waitForSelector('#message.error');
    assert.match(await page.textContent('#message'), /无复核权限/);
    assert.ok(await page.isHidden('#work'));
    assert.deepEqual(view.errors, [], 'console errors');
  } finally {
    await view.context.close();
  }
});

test('review page: the road aliases — imported old names listed, one added and removed, a bad one refused in Chinese', async () => {
  assert.ok(caps.has('/api/v1/address-aliases') && caps.has('/api/v1/address-aliases/{alias}'), 'alias endpoints missing from /api/openapi.json');
  const login = await api('/api/v1/auth/login', null, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: LEADER, password: LEADER_PASSWORD }),
  });
  const token = login.body.token;
  const table = await api('/api/v1/address-aliases', token);
  assert.equal(table.status, 200);
  assert.ok(table.body.aliases.length > 0, 'the demo imports the district\'s old road names');
  const road = table.body.aliases[0].canonical;

  const view = await openPage(browser, '/review', { width: 1280, height: 900 }, { tolerated404: allow404 });
  const { page } = view;
  try {
    await page.waitForSelector('#login-form', { state: 'visible' });
    await page.fill('input[name="username"]', LEADER);
    await page.fill('input[name="password"]', LEADER_PASSWORD);
    await page.click('#login-form button');
    await page.waitForSelector('#aliases tr[data-alias]');
    const imported = page.locator(`#aliases tr[data-alias="${table.body.aliases[0].alias}"]`);
    assert.match(await imported.textContent(), new RegExp(`${road}.*批量导入.*生效中`, "s"));

    // Refused with the reason in words.
    await page.fill('#alias-form input[name="alias"]', '老城关大道');
    await page.fill('#alias-form input[name="canonical"]', '没有这条路');
    await page.click('#alias-form button');
    await page.waitForSelector('#message.error');
    assert.match(await page.textContent('#message'), /未添加 老城关大道：标准名称不在地址库中/);

    // Added, listed as in use, then removed.
    await page.fill('#alias-form input[name="canonical"]', road);
    await page.click('#alias-form button');
    await page.waitForSelector('#message.ok');
    assert.match(await page.textContent('#message'), new RegExp(`已添加别名：老城关大道 → ${road}`));
    const added = page.locator('#aliases tr[data-alias="老城关大道"]');
    await added.waitFor();
    assert.match(await added.textContent(), /生效中/);
    await page.screenshot({ path: join(SCREENSHOTS, 'review-aliases.png'), fullPage: true });
    await added.locator('button.remove-alias').click();
    await page.waitForSelector('#aliases tr[data-alias="老城关大道"]', { state: 'detached' });
    assert.match(await page.textContent('#message'), /已删除别名：老城关大道/);
    const after = await api('/api/v1/address-aliases', token);
    assert.ok(!after.body.aliases.some((a) => a.alias === '老城关大道'));
    // The refusal above is the one error the browser logs.
    const unexpected = view.errors.filter((e) => !/status of 422 .*\/api\/v1\/address-aliases\//.test(e));
    assert.deepEqual(unexpected, [], 'console errors');
  } finally {
    await view.context.close();
  }
});
