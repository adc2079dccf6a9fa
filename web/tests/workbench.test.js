// The closed loop worked through the browser only (issue 20): every step is a click or a
// form in /work or /grid; the API is read only to pick test data (an address, a grid,
// the mediator's organisation) and to check what the screens claim. The large screen
// stays open the whole time and must show each change within 2 s.
//
// 1. Reception registers a walk-in visitor's dispute at /work (typed address).
// 2. The leader hands it to the mediator's organisation.
// 3. The mediator records the failed mediation and diverts it to litigation.
// 4. A second case is registered and escalated to the social-risk centre.
// 5. The risk centre sets it large, names a case-package leader, records a joint review.
// 6. The leader supervises it (note and new deadline), settles and closes it with the
//    visitor's satisfaction.
// 7. The follow-up visit appears as the grid worker's task at /grid and is recorded there.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { BASE, ORIGIN, SCREENSHOTS, launch, openPage, tolerated, apiLogin, api } from './support.js';

let browser;
let allow404;
before(async () => {
  browser = await launch();
  allow404 = await tolerated();
});
after(async () => { await browser?.close(); });

const SCREEN_DEADLINE = 2_000;

function assertClean({ errors, origins }, view) {
  const real = errors.filter((e) => !/status of 40[19]/.test(e));
  assert.deepEqual(real, [], `${view}: console errors`);
  assert.deepEqual([...origins], [ORIGIN], `${view}: requests to another origin`);
}

/** Sign in on /work (or /grid) through its form. */
async function signIn(page, username, password) {
  await page.waitForSelector('#login-form', { state: 'visible' });
  await page.fill('#login-form input[name="username"]', username);
  await page.fill('#login-form input[name="password"]', password);
  await page.click('#login-form button');
}

async function workAs(username, password, path = '/work') {
  const view = await openPage(browser, path, { width: 1600, height: 1000 }, { tolerated404: allow404 });
  await signIn(view.page, username, password);
  await view.page.waitForSelector('#work:not([hidden])');
  await view.page.waitForSelector('#queue[data-loaded]');
  return view;
}

/** Open an event's detail from the queue (filtered to it through the URL's own filters). */
async function openFromQueue(page, code) {
  const row = page.locator(`#queue tr[data-code="${code}"]`);
  if (!(await row.count())) {
    // Not on the first page: the share link with the event opens it directly.
    await page.goto(`${BASE}/work?event=${encodeURIComponent(code)}`);
    await page.waitForSelector('#queue[data-loaded]');
  } else {
    await row.click();
  }
  await page.waitForFunction((c) => document.querySelector('#detail').dataset.loaded === c, code, { timeout: 10_000 });
}

/**
 * Click the action button in the detail, fill its dialog (`fields`: name → value; selects
 * by value), submit, and wait for the detail to say it is done. Fails when the caller
 * was not offered the action. `mayVanish`: the root leaves the page once the step is done
 * (a grid task whose visit was recorded); then a closed dialog is the sign, and the caller
 * checks the record through the API.
 */
async function act(page, action, fields = {}, root = '#detail', { mayVanish = false } = {}) {
  const button = page.locator(`${root} .ed-actions button[data-action="${action}"]`);
  assert.equal(await button.count(), 1, `the action ${action} is offered (${await page.locator(`${root} .ed-actions`).innerText()})`);
  const before = await page.locator(root).getAttribute('data-version');
  await button.click();
  const dialog = page.locator('dialog.ed-dialog[open]');
  await dialog.waitFor();
  for (const [name, value] of Object.entries(fields)) {
    const field = dialog.locator(`[name="${name}"]`);
    if ((await field.evaluate((n) => n.tagName)) === 'SELECT') await field.selectOption(value);
    else {
      // Empty date fields are text until focused (their Chinese placeholder).
      if (await field.getAttribute('data-date')) await field.focus();
      await field.fill(value);
    }
  }
  await dialog.locator('.ed-submit').click();
  await page.waitForFunction(([r, v, vanish]) => {
    const box = document.querySelector(r);
    const open = document.querySelector('dialog.ed-dialog[open]');
    if (!box) return vanish && !open;
    return !open && box.dataset.version !== v && box.querySelector('.ed-message.ok');
  }, [root, before, mayVanish], { timeout: 10_000 }).catch(async (e) => {
    const error = await page.locator('dialog.ed-dialog[open] .ed-error').innerText().catch(() => '');
    throw new Error(`${action} did not complete: ${error || e.message}`);
  });
}

const status = (page) => page.locator('#detail').getAttribute('data-status');

/** Wait (at most 2 s) until the screen shows `predicate`. */
async function screenShows(screen, what, fn, arg) {
  await screen.waitForFunction(fn, arg, { timeout: SCREEN_DEADLINE, polling: 50 }).catch(() => {
    throw new Error(`the large screen did not show ${what} within 2 s`);
  });
}
const feedStatus = (code, text) => [code, text];
const feedHas = ([code, text]) => {
  const rows = document.querySelectorAll(`#feed li[data-code="${code}"]`);
  return rows.length === 1 && rows[0].innerText.includes(text);
};
const funnelCounts = async (screen) => (await screen.locator('#funnel').getAttribute('data-counts') || '').split(',').map(Number);

/** The wall signs in once (a kiosk session kept in localStorage), through its dialog. */
async function kioskSignIn(page) {
  await page.waitForSelector('#kiosk-signin:not([hidden])', { timeout: 15_000 });
  await page.click('#kiosk-signin');
  await page.fill('#kiosk input[name="username"]', 'screen');
  await page.fill('#kiosk input[name="password"]', 'demo-screen-pass');
  await Promise.all([page.waitForNavigation(), page.click('#kiosk button[type="submit"]')]);
  await page.waitForSelector('#kiosk-signin[hidden]', { state: 'attached' });
}

test('the closed loop through the browser: reception → mediation → litigation; escalation → risk centre → supervision → closure → follow-up visit at /grid; the screen follows within 2 s', async () => {
  // Test data: a register address to type, the mediator's organisation.
  const leaderToken = (await apiLogin('leader', 'demo-leader-pass')).token;
  const mediatorMe = await api('/api/v1/auth/me', (await apiLogin('mediator', 'demo-mediator-pass')).token);
  assert.ok(mediatorMe.mediation_org, 'the demo mediator belongs to an organisation');
  const someEvent = (await api('/api/v1/events?limit=1&status=closed', leaderToken)).events[0];
  const reverse = await api(`/api/v1/reverse?lon=${someEvent.lon}&lat=${someEvent.lat}`, leaderToken);
  const address = reverse.building.label;
  assert.ok(address, 'a register address to type');

  const screenView = await openPage(browser, '/screen', { width: 1920, height: 1080 }, { tolerated404: allow404 });
  const screen = screenView.page;
  const views = [screenView];
  try {
    await kioskSignIn(screen);
    await screen.waitForSelector('body[data-ready="1"]', { timeout: 60_000 });
    await screen.waitForFunction(() => document.querySelector('#feed-status').innerText.includes('已连接'), null, { timeout: 15_000 });
    await screen.waitForFunction(() => document.querySelector('#funnel').dataset.counts, null, { timeout: 20_000 });
    const funnelStart = await screen.locator('#funnel').getAttribute('data-counts');
    // The feed starts with the latest events, not "waiting".
    assert.ok(await screen.locator('#feed li[data-code]').count() > 0, 'the feed starts with the latest events');

    // 1. Reception registers a walk-in visitor.
    const reception = await workAs('reception', 'demo-reception-pass');
    views.push(reception);
    const r = reception.page;
    await r.click('#register');
    const form = r.locator('dialog.ed-dialog[open]');
    await form.locator('[name="source"]').selectOption('visitor');
    await form.locator('[name="category"]').selectOption('dispute');
    await form.locator('[name="title"]').fill('来访：楼上漏水引发邻里纠纷（浏览器测试）');
    await form.locator('[name="description"]').fill('来访群众反映楼上住户装修后持续漏水，协商未果。');
    await form.locator('[name="address"]').fill(address);
    await form.locator('.ed-submit').click();
    await r.waitForSelector('body[data-registered]', { timeout: 10_000 });
    const first = await r.evaluate(() => document.body.dataset.registered);
    await r.waitForFunction((c) => document.querySelector('#detail').dataset.loaded === c, first);
    assert.equal(await status(r), 'accepted');
    await screenShows(screen, 'the registered walk-in in its feed', feedHas, feedStatus(first, '已受理'));
    await screenShows(screen, 'the registration in the funnel (受理)', (start) => document.querySelector('#funnel').dataset.counts !== start, funnelStart);
    await r.screenshot({ path: join(SCREENSHOTS, 'work-reception.png') });
    const funnel0 = await funnelCounts(screen);

    // 2. The leader hands it to the mediator's organisation (filters shared by URL).
    const leader = await workAs('leader', 'demo-leader-pass', '/work?status=accepted');
    views.push(leader);
    const l = leader.page;
    assert.equal(await l.locator('#filters select[name="status"]').inputValue(), 'accepted', 'the status filter comes from the URL');
    await openFromQueue(l, first);
    await act(l, 'assign_mediation', { org: mediatorMe.mediation_org, note: '邻里纠纷，交物业/人民调解' });
    assert.equal(await status(l), 'mediating');
    await screenShows(screen, 'mediation in its feed row', feedHas, feedStatus(first, '调解中'));

    // 3. The mediator: mediation failed, diverted to litigation.
    const mediator = await workAs('mediator', 'demo-mediator-pass', '/work?owner=&status=mediating');
    views.push(mediator);
    const m = mediator.page;
    await openFromQueue(m, first);
    await act(m, 'divert', { kind: 'litigation', note: '调解未成：双方对赔偿金额分歧较大，引导诉讼' });
    assert.equal(await status(m), 'diverted');
    assert.match(await m.locator('#detail [data-key="diversion"]').innerText(), /诉讼/);
    assert.match(await m.locator('#detail .ed-timeline').innerText(), /调解未成/);
    await screenShows(screen, 'the diversion in its feed row', feedHas, feedStatus(first, '已分流'));
    await screenShows(screen, 'the funnel moved (化解/分流 +1)', (before) => {
      const now = (document.querySelector('#funnel').dataset.counts || '').split(',').map(Number);
      return now[2] >= before[2] + 1;
    }, funnel0);
    await m.screenshot({ path: join(SCREENSHOTS, 'work-mediator.png') });

    // 4. A second case, registered and escalated.
    await r.click('#register');
    const form2 = r.locator('dialog.ed-dialog[open]');
    await form2.locator('[name="source"]').selectOption('visitor');
    await form2.locator('[name="category"]').selectOption('petition');
    await form2.locator('[name="title"]').fill('来访：多户群众反映征地补偿未到位（浏览器测试）');
    await form2.locator('[name="address"]').fill(address);
    await form2.locator('.ed-submit').click();
    await r.waitForFunction((c) => document.body.dataset.registered && document.body.dataset.registered !== c, first, { timeout: 10_000 });
    const second = await r.evaluate(() => document.body.dataset.registered);
    await l.goto(`${BASE}/work?event=${second}`);
    await l.waitForFunction((c) => document.querySelector('#detail').dataset.loaded === c, second);
    await act(l, 'escalate', { note: '涉及多户，情绪激烈，上报社会风险中心' });

    // 5. The risk centre: large, a case-package leader, a joint review.
    const centre = await workAs('riskcentre', 'demo-riskcentre-pass', '/work?escalated=true');
    views.push(centre);
    const c = centre.page;
    assert.ok(await c.locator(`#queue tr[data-code="${second}"]`).count(), 'the escalated case is in the risk centre\'s queue');
    await openFromQueue(c, second);
    await act(c, 'set_risk_tier', { risk_tier: 'large', note: '涉及群体，研判为重大风险' });
    await screenShows(screen, 'a large-risk alert', (code) => !!document.querySelector(`#alerts li[data-code="${code}"]`), second);
    await act(c, 'set_case_leader', { leader: { index: 1 } });
    assert.match(await c.locator('#detail [data-key="case_leader"]').innerText(), /\S/);
    await act(c, 'joint_review', { participants: '社会风险中心、乡镇综治中心、司法所、派出所', conclusion: '先行垫付部分补偿，十日内答复' });
    assert.match(await c.locator('#detail .ed-reviews').innerText(), /先行垫付/);
    await c.screenshot({ path: join(SCREENSHOTS, 'work-riskcentre.png') });

    // 6. The leader supervises, then it is settled and closed with satisfaction.
    await l.goto(`${BASE}/work?supervised=&event=${second}`);
    await l.waitForFunction((code) => document.querySelector('#detail').dataset.loaded === code, second);
    await act(l, 'supervise', { note: '请于三日内落实补偿方案并反馈' });
    assert.match(await l.locator('#detail [data-key="supervision"]').innerText(), /三日内/);
    await screenShows(screen, 'a supervision alert', (code) => [...document.querySelectorAll(`#alerts li[data-code="${code}"]`)].some((li) => li.innerText.includes('督办')), second);
    const funnel1 = await funnelCounts(screen);
    await act(l, 'resolve', { note: '补偿款已发放到位' });
    await act(l, 'close', { satisfaction: 'satisfied', note: '群众表示满意' });
    assert.equal(await status(l), 'closed');
    assert.match(await l.locator('#detail [data-key="satisfaction"]').innerText(), /满意/);
    await screenShows(screen, 'the closure in its feed row', feedHas, feedStatus(second, '已办结'));
    await screenShows(screen, 'the funnel moved (办结 +1)', (before) => {
      const now = (document.querySelector('#funnel').dataset.counts || '').split(',').map(Number);
      return now[3] >= before[3] + 1;
    }, funnel1);
    // The centre's first (phone) follow-up schedules the on-site visit for today: it
    // becomes the grid worker's task.
    const today = new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 10);
    await act(l, 'follow_up', { visit_kind: 'counselling', outcome: '电话回访：当事人对处理结果满意，约定上门回访', next_visit: today });
    assert.match(await l.locator('#detail [data-key="next_visit"]').innerText(), /\d/);
    await screenShows(screen, 'the follow-up in its feed row', feedHas, feedStatus(second, '已回访'));
    await screenShows(screen, 'the funnel moved (回访 +1)', (before) => {
      const now = (document.querySelector('#funnel').dataset.counts || '').split(',').map(Number);
      return now[4] >= before[4] + 1;
    }, funnel1);
    await l.screenshot({ path: join(SCREENSHOTS, 'work-leader.png') });

    // 7. The follow-up visit is the grid worker's task at /grid, recorded there.
    const closed = await api(`/api/v1/events/${second}`, leaderToken);
    const grid = closed.grid.code;
    const worker = await openPage(browser, '/grid', { width: 375, height: 812 }, { tolerated404: allow404 });
    views.push(worker);
    const g = worker.page;
    await signIn(g, `grid-${grid}`, 'demo-grid-pass');
    const task = g.locator(`#tasks li[data-code="${second}"][data-kind="follow_up_visit"]`);
    await task.waitFor({ timeout: 10_000 });
    await task.locator('button[data-open]').click();
    await g.waitForFunction((code) => document.querySelector(`#tasks li[data-code="${code}"] .task-detail`)?.dataset.loaded === code, second);
    assert.match(await task.locator('.task-detail').innerText(), /征地补偿/);
    await g.screenshot({ path: join(SCREENSHOTS, 'grid-task.png'), fullPage: true });
    const rowUpdated = await screen.locator(`#feed li[data-code="${second}"]`).getAttribute('data-changes');
    await act(g, 'follow_up', { visit_kind: 'routine', outcome: '补偿已到位，群众情绪稳定' }, `#tasks li[data-code="${second}"] .task-detail`, { mayVanish: true });
    await screenShows(screen, 'the visit updating its feed row in place', ([code, before]) => {
      const rows = document.querySelectorAll(`#feed li[data-code="${code}"]`);
      return rows.length === 1 && Number(rows[0].dataset.changes) > Number(before);
    }, [second, rowUpdated]);
    await g.waitForFunction((code) => !document.querySelector(`#tasks li[data-code="${code}"][data-kind="follow_up_visit"]`), second, { timeout: 10_000 });
    await g.click('.tabs button[data-tab="done"]');
    await g.waitForSelector(`#done li[data-code="${second}"]`, { timeout: 10_000 });
    await g.screenshot({ path: join(SCREENSHOTS, 'grid-done.png') });
    const after = await api(`/api/v1/events/${second}`, leaderToken);
    assert.equal(after.status, 'followed_up');
    assert.ok(after.visits?.some((v) => v.kind === 'routine' && /情绪稳定/.test(v.outcome)), 'the visit is recorded with its kind and outcome');
    assert.equal(after.visits.length, 2, 'the phone follow-up and the on-site visit');
    await screen.screenshot({ path: join(SCREENSHOTS, 'screen-loop.png') });
    for (const v of views) assertClean(v, v.page.url());
  } finally {
    for (const v of views) await v.context.close();
  }
});

test('workbench: filters live in the URL, counts per status, the alert badge, batch assign through a dialog', async () => {
  const leader = await workAs('leader', 'demo-leader-pass', '/work?status=accepted&overdue=true');
  const { page } = leader;
  try {
    assert.equal(await page.locator('#filters [name="overdue"]').isChecked(), true, 'overdue from the URL');
    // Counts: one chip per status plus overdue, with numbers.
    const chips = await page.locator('#counts button').allInnerTexts();
    assert.ok(chips.some((t) => /已超期\s*\d/.test(t)), `an overdue count (${chips.join(' | ')})`);
    assert.ok(chips.some((t) => /调解中\s*\d/.test(t)), 'a count per status');
    // Changing a filter writes the URL.
    await page.selectOption('#filters [name="category"]', 'dispute');
    await page.waitForFunction(() => location.search.includes('category=dispute'));
    await page.waitForSelector('#queue[data-loaded]');
    const total = Number(await page.locator('#queue').getAttribute('data-total'));
    const apiTotal = (await api('/api/v1/events?limit=0&status=accepted&overdue=true&category=dispute', (await apiLogin('leader', 'demo-leader-pass')).token)).total;
    assert.equal(total, apiTotal, 'the queue total is the filtered total');
    // The alert badge shows a number.
    await page.waitForSelector('#alerts-button:not([hidden])', { timeout: 10_000 });
    assert.match(await page.locator('#alerts-unread').innerText(), /^\d+$/);
    // Batch assign two open cases to the mediator (the shared link opens the filtered queue).
    await page.goto(`${BASE}/work?status=accepted,mediating,resolved,diverted`);
    await page.waitForSelector('#queue[data-loaded]');
    assert.equal(await page.locator('#filters [name="status"]').inputValue(), 'accepted,mediating,resolved,diverted');
    const rows = page.locator('#queue tbody tr[data-code]');
    assert.ok(await rows.count() >= 2, 'at least two rows to assign');
    const codes = [await rows.nth(0).getAttribute('data-code'), await rows.nth(1).getAttribute('data-code')];
    for (const code of codes) await page.check(`#queue input[data-select="${code}"]`);
    assert.match(await page.locator('#batch-assign').innerText(), /2/);
    await page.click('#batch-assign');
    const dialog = page.locator('dialog.ed-dialog[open]');
    await dialog.locator('[name="owner"]').selectOption('mediator');
    await page.waitForFunction(() => document.querySelector('dialog.ed-dialog[open] .ed-unit').dataset.unit.length > 0);
    assert.match(await dialog.locator('.ed-unit').innerText(), /调解/, 'the owner\'s own unit is named');
    await page.screenshot({ path: join(SCREENSHOTS, 'work-batch-assign.png') });
    await dialog.locator('.ed-submit').click();
    await page.waitForFunction(() => /已指派 2 件/.test(document.querySelector('#message').innerText), null, { timeout: 15_000 });
    const token = (await apiLogin('leader', 'demo-leader-pass')).token;
    for (const code of codes) {
      const ev = await api(`/api/v1/events/${code}`, token);
      assert.equal(ev.owner?.username, 'mediator', `${code} is owned by the mediator`);
      assert.ok(ev.history.some((s) => s.action === 'assign'), `${code}: the assignment is in the history`);
    }
    await page.click('#alerts-button');
    await page.waitForSelector('#alerts-panel:not([hidden])');
    await page.screenshot({ path: join(SCREENSHOTS, 'work.png') });
    assertClean(leader, '/work');
  } finally {
    await leader.context.close();
  }
});

test('workload (model 5 per owner) for the leader: per owner, organisation and unit, by name, never account codes', async () => {
  const mediator = await apiLogin('mediator', 'demo-mediator-pass');
  assert.ok(mediator.mediation_org, 'the demo mediator belongs to an organisation');
  const leader = await workAs('leader', 'demo-leader-pass');
  const { page } = leader;
  try {
    await page.waitForSelector('#workload-button:not([hidden])');
    await page.click('#workload-button');
    await page.waitForSelector('#workload:not([hidden]) #workload-orgs tbody tr');
    assert.ok(await page.evaluate(() => location.search.includes('view=workload')), 'the view is in the URL');
    // The period is stated (by default the latest year with events); widen it to every year.
    assert.match(await page.locator('#workload-range').innerText(), /统计时段 \d{4}-\d{2}-\d{2} 至 \d{4}-\d{2}-\d{2}/);
    const before = await page.locator('#workload-range').innerText();
    await page.fill('#workload-period [name="from"]', '2023-01-01');
    await page.click('#workload-period button[type="submit"]');
    await page.waitForFunction((b) => document.querySelector('#workload-range').innerText !== b, before);
    const orgs = await page.locator('#workload-orgs tbody tr td:first-child').allInnerTexts();
    assert.ok(orgs.includes(mediator.mediation_org), `the mediator's organisation by name (${orgs.slice(0, 5).join(' | ')})`);
    // Each table has the five figures per row.
    const head = await page.locator('#workload-owners thead').innerText();
    for (const h of ['在办', '期内办结', '中位数', '超期', '满意率']) assert.ok(head.includes(h), `column ${h}`);
    const owners = await page.locator('#workload-owners tbody tr td:first-child').allInnerTexts();
    assert.ok(owners.length > 0, 'owners listed');
    for (const name of owners) assert.doesNotMatch(name, /^grid-\d+$|^t-/, `an owner by name, not an account code: ${name}`);
    const units = await page.locator('#workload-units tbody tr td:first-child').allInnerTexts();
    assert.ok(units.some((u) => /（网格）/.test(u)), 'grids named among the units');
    for (const u of units) assert.doesNotMatch(u, /\d{12}/, `a unit by name, not a code: ${u}`);
    await page.screenshot({ path: join(SCREENSHOTS, 'work-workload.png') });
    assertClean(leader, '/work (工作量)');
  } finally {
    await leader.context.close();
  }
});
