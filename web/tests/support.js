// Shared by the browser tests: the system Chromium driven by playwright-core (never a
// downloaded browser), a page that records console errors and every request's origin,
// a tiny PNG decoder to count drawn pixels, and probes of which endpoints exist.

import { chromium } from 'playwright-core';
import { existsSync, mkdirSync } from 'node:fs';
import { inflateSync } from 'node:zlib';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BASE = process.env.MINQING_URL;
if (!BASE) throw new Error('MINQING_URL is not set: run the browser tests through scripts/test-web (it starts `minqing demo`)');
export const ORIGIN = new URL(BASE).origin;
export const SCREENSHOTS = join(dirname(fileURLToPath(import.meta.url)), 'screenshots');
mkdirSync(SCREENSHOTS, { recursive: true });

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

export async function launch() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: install Debian's chromium (apt-get install chromium) or set CHROMIUM`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--lang=zh-CN',
      // WebGL on the CPU: headless Chromium without a GPU needs SwiftShader allowed explicitly.
      '--use-angle=swiftshader', '--enable-unsafe-swiftshader',
    ],
  });
}

/**
 * A page with its recorders: `errors` (console errors and uncaught exceptions, minus
 * the 404s of probes whose endpoint is absent on this server), `origins` (every
 * request's origin except data: and blob:).
 */
export async function openPage(browser, path, viewport, { tolerated404 = [], permissions = [], geolocation } = {}) {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1, permissions, geolocation, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
  const page = await context.newPage();
  const errors = [];
  const origins = new Set();
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const url = m.location()?.url || '';
    if (/status of 404/.test(m.text()) && tolerated404.some((p) => url.startsWith(`${ORIGIN}${p}`))) return;
    errors.push(`${m.text()} ${url}`);
  });
  page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
  page.on('request', (r) => {
    const url = r.url();
    if (!url.startsWith('data:') && !url.startsWith('blob:')) origins.add(new URL(url).origin);
  });
  await page.goto(`${BASE}${path}`, { waitUntil: 'load' });
  return { context, page, errors, origins };
}

/** Which optional endpoints this server has (same rule as the views: the OpenAPI paths). */
export async function probe() {
  const doc = await (await fetch(`${BASE}/api/openapi.json`)).json();
  const paths = new Set(Object.keys(doc.paths || {}));
  const tiles = (await fetch(`${BASE}/tiles/catalog`)).ok;
  return { has: (p) => paths.has(p), tiles };
}

/** The 404s a page may log on this server: probes of endpoints that are absent here. */
export async function tolerated() {
  const caps = await probe();
  return caps.tiles ? [] : ['/tiles/catalog'];
}

/** Decode an 8-bit, non-interlaced PNG (what Chromium's screenshots are) into RGBA. */
export function decodePNG(buffer) {
  let offset = 8;
  let width = 0, height = 0, colorType = 0;
  const data = [];
  while (offset < buffer.length) {
    const length = buffer.readUInt32BE(offset);
    const type = buffer.toString('ascii', offset + 4, offset + 8);
    const chunk = buffer.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') {
      width = chunk.readUInt32BE(0);
      height = chunk.readUInt32BE(4);
      if (chunk[8] !== 8 || chunk[12] !== 0) throw new Error('only 8-bit non-interlaced PNGs');
      colorType = chunk[9];
    } else if (type === 'IDAT') data.push(chunk);
    offset += 12 + length;
  }
  const channels = { 2: 3, 6: 4 }[colorType];
  if (!channels) throw new Error(`PNG colour type ${colorType} not supported`);
  const raw = inflateSync(Buffer.concat(data));
  const stride = width * channels;
  const out = Buffer.alloc(width * height * 4);
  let previous = Buffer.alloc(stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = Buffer.from(raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1)));
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? line[i - channels] : 0;
      const b = previous[i];
      const c = i >= channels ? previous[i - channels] : 0;
      let add = 0;
      if (filter === 1) add = a;
      else if (filter === 2) add = b;
      else if (filter === 3) add = (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
        add = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      line[i] = (line[i] + add) & 0xff;
    }
    for (let x = 0; x < width; x++) {
      out[(y * width + x) * 4] = line[x * channels];
      out[(y * width + x) * 4 + 1] = line[x * channels + 1];
      out[(y * width + x) * 4 + 2] = line[x * channels + 2];
      out[(y * width + x) * 4 + 3] = channels === 4 ? line[x * channels + 3] : 255;
    }
    previous = line;
  }
  return { width, height, rgba: out };
}

/** Share of pixels that differ from `background` ([r,g,b]) by more than `tolerance` in some channel. */
export function drawnShare(png, background, tolerance = 12) {
  const { width, height, rgba } = decodePNG(png);
  let drawn = 0;
  for (let i = 0; i < width * height; i++) {
    const d = Math.max(Math.abs(rgba[i * 4] - background[0]), Math.abs(rgba[i * 4 + 1] - background[1]), Math.abs(rgba[i * 4 + 2] - background[2]));
    if (d > tolerance) drawn++;
  }
  return drawn / (width * height);
}

export const hex = (color) => [1, 3, 5].map((i) => parseInt(color.slice(i, i + 2), 16));

/** JS heap in use after a forced garbage collection (Chromium DevTools protocol). */
export async function heapAfterGC(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('HeapProfiler.collectGarbage');
  await cdp.send('Performance.enable');
  const { metrics } = await cdp.send('Performance.getMetrics');
  await cdp.detach();
  return metrics.find((m) => m.name === 'JSHeapUsedSize').value;
}

/** Sign in through the API; returns `{token, role, …}`. */
export async function apiLogin(username, password) {
  const r = await fetch(`${BASE}/api/v1/auth/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username, password }) });
  if (!r.ok) throw new Error(`login ${username}: ${r.status}`);
  return r.json();
}

/** GET JSON from the server under test (with a bearer token when given). */
export async function api(path, token) {
  const r = await fetch(`${BASE}${path}`, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  if (!r.ok) throw new Error(`${path}: ${r.status}`);
  return r.json();
}

/** Share of pixels that differ between two same-sized screenshots. */
export function differingShare(a, b, tolerance = 24) {
  const x = decodePNG(a);
  const y = decodePNG(b);
  if (x.width !== y.width || x.height !== y.height) throw new Error('screenshots differ in size');
  let n = 0;
  for (let i = 0; i < x.width * x.height; i++) {
    const d = Math.max(Math.abs(x.rgba[i * 4] - y.rgba[i * 4]), Math.abs(x.rgba[i * 4 + 1] - y.rgba[i * 4 + 1]), Math.abs(x.rgba[i * 4 + 2] - y.rgba[i * 4 + 2]));
    if (d > tolerance) n++;
  }
  return n / (x.width * x.height);
}

/** Wait until the page's map has stopped moving and finished loading its tiles. */
export async function mapIdle(page) {
  await page.waitForFunction(() => {
    const m = window.__minqing.map;
    return !m.isMoving() && m.loaded() && m.areTilesLoaded();
  }, null, { timeout: 30_000 });
  await page.waitForTimeout(300);
}
