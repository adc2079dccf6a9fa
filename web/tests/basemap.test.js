// The optional outside basemap of a connected deployment, against a local stand-in tile
// server: a second `minqing serve` on the demo's database, configured with the stand-in's
// URL, draws its tiles under the one-map, and the page's Content-Security-Policy allows
// exactly that origin. The demo server (no basemap configured) requests nothing from it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { spawn } from 'node:child_process';
import { deflateSync, crc32 } from 'node:zlib';
import { join } from 'node:path';
import { BASE, SCREENSHOTS, launch, decodePNG } from './support.js';

const BIN = process.env.MINQING_BIN;
const DATA = process.env.MINQING_DEMO_DATA;

/** A 256×256 PNG of one colour (RGB), written here so the test needs no file. */
function solidPNG([r, g, b]) {
  const chunk = (type, data) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body) >>> 0, body.length + 4);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(256, 0);
  header.writeUInt32BE(256, 4);
  header.set([8, 2, 0, 0, 0], 8);
  const row = Buffer.alloc(1 + 256 * 3);
  for (let x = 0; x < 256; x++) row.set([r, g, b], 1 + 3 * x);
  const raw = Buffer.concat(Array.from({ length: 256 }, () => row));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** The stand-in tile server: answers every /{z}/{x}/{y}.png with one colour, counts requests. */
async function standInTiles(color) {
  const png = solidPNG(color);
  const requests = [];
  const server = createServer((req, res) => {
    requests.push(req.url);
    if (/^\/\d+\/\d+\/\d+\.png$/.test(req.url)) {
      // Tiles are fetched cross-origin by MapLibre: the stand-in allows it as tile servers do.
      res.writeHead(200, { 'content-type': 'image/png', 'access-control-allow-origin': '*' });
      res.end(png);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, requests, origin: `http://127.0.0.1:${server.address().port}` };
}

/** `minqing serve` on the demo's database with `env`; resolves with its base URL. */
async function serveWith(env) {
  assert.ok(BIN && DATA, `MINQING_BIN and MINQING_DEMO_DATA are set by scripts/test-web (${BIN}, ${DATA})`);
  const child = spawn(BIN, ['serve', '--database-url', `sqlite://${DATA}/minqing.db`, '--bind', '127.0.0.1:0'], {
    env: { ...process.env, MINQING_DATA_KEY_FILE: join(DATA, 'data.key'), MINQING_PUBLIC_AGGREGATES: 'true', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const base = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill(); reject(new Error(`minqing serve did not start:\n${log}`)); }, 60_000);
    const read = (d) => {
      log += d;
      const m = log.match(/listening on (http:\/\/[^/\s]+)\//);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`minqing serve exited (${code}):\n${log}`)); });
  });
  for (let i = 0; i < 600; i++) {
    const ready = await fetch(`${base}/api/v1/stats`).then((r) => r.ok).catch(() => false);
    if (ready) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  return { child, base };
}

test('an outside basemap: drawn under the one-map from the configured tile server, which the page policy allows and nothing else', async () => {
  const stand = await standInTiles([0x3c, 0xb3, 0x71]);
  // Everything started is stopped whatever fails, or the open sockets would keep this
  // test file (and the whole browser suite) from ever ending.
  let child = null;
  let browser = null;
  try {
    const served = await serveWith({ MINQING_BASEMAP_TILES: `${stand.origin}/{z}/{x}/{y}.png`, MINQING_BASEMAP_ATTRIBUTION: '测试底图' });
    child = served.child;
    const base = served.base;
    browser = await launch();
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'zh-CN' })).newPage();
    const refused = [];
    page.on('console', (m) => { if (/Content Security Policy|Refused to/.test(m.text())) refused.push(m.text()); });
    const response = await page.goto(`${base}/`, { waitUntil: 'load' });
    const policy = response.headers()['content-security-policy'];
    const origins = new Set(policy.match(/https?:\/\/[^\s;]+/g));
    assert.deepEqual([...origins], [stand.origin], `the policy names exactly the tile server: ${policy}`);
    assert.match(policy, new RegExp(`img-src [^;]*${stand.origin}`));
    assert.match(policy, new RegExp(`connect-src [^;]*${stand.origin}`));
    // The browser fetched the stand-in's tiles, and the map put them under its own layers.
    await page.waitForFunction(() => window.__minqing?.map?.getLayer('outside-0'), null, { timeout: 20_000 });
    for (let i = 0; i < 100 && stand.requests.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(stand.requests.some((u) => u.endsWith('.png')), 'tiles were requested from the stand-in');
    const order = await page.evaluate(() => window.__minqing.map.getStyle().layers.map((l) => l.id));
    assert.equal(order[0], 'background');
    assert.equal(order[1], 'outside-0', `the basemap lies under every layer: ${order.join(', ')}`);
    await page.waitForFunction(() => window.__minqing.map.loaded(), null, { timeout: 20_000 });
    const shot = await page.screenshot({ path: join(SCREENSHOTS, 'outside-basemap.png') });
    const png = decodePNG(shot);
    let green = 0;
    for (let i = 0; i < png.rgba.length; i += 4) {
      const [r, g, b] = [png.rgba[i], png.rgba[i + 1], png.rgba[i + 2]];
      if (Math.abs(r - 0x3c) < 40 && Math.abs(g - 0xb3) < 40 && Math.abs(b - 0x71) < 40) green++;
    }
    assert.ok(green / (png.width * png.height) > 0.05, `the stand-in's colour shows on the map (${green} px)`);
    assert.deepEqual(refused, [], 'no request was refused by the policy');
    // The demo server has no basemap configured: no outside origin in its policy, nothing fetched.
    const before = stand.requests.length;
    const plain = await page.goto(`${BASE}/`, { waitUntil: 'load' });
    assert.doesNotMatch(plain.headers()['content-security-policy'], /https?:\/\//);
    await page.waitForTimeout(1500);
    assert.equal(stand.requests.length, before, 'the unconfigured server sends the browser nowhere else');
  } finally {
    await browser?.close();
    child?.kill();
    stand.server.closeAllConnections();
    stand.server.close();
  }
});
