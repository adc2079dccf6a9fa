// `/review` — the address-link review queue: a leader or admin signs in, sees the
// records whose free-text address the matcher left ambiguous or unmatched (record id
// and address text only, never a name), with the matcher's ranked candidates, and
// resolves one to a candidate or to a code typed in. The server keeps every resolution
// and moves the record's counts in memory at once.
//
// The bearer token lives in sessionStorage (gone when the tab closes); a 401 asks to
// sign in again.

import { describeError, esc, fetchJSON, HttpError } from './common.js';

const TOKEN_KEY = 'minqing.token';
const PAGE = 20;
const STATUS_TEXT = { ambiguous: '多个候选', unmatched: '未匹配' };
const LINK_TEXT = { unit: '户（单元）级', building: '楼栋级' };

const $ = (id) => document.getElementById(id);
const state = { offset: 0, total: 0 };
const token = () => sessionStorage.getItem(TOKEN_KEY);

function say(text, kind = '') {
  const box = $('message');
  box.textContent = text;
  box.className = `message ${kind}`;
  box.hidden = !text;
}

async function authJSON(path, options = {}) {
  const headers = { ...(options.headers || {}) };
  if (token()) headers.Authorization = `Bearer ${token()}`;
  try {
    return await fetchJSON(path, { ...options, headers });
  } catch (error) {
    if (error instanceof HttpError && error.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      showLogin('登录已过期，请重新登录');
    }
    throw error;
  }
}

function showLogin(message = '', kind = 'error') {
  $('work').hidden = true;
  $('logout').hidden = true;
  $('who').textContent = '';
  $('login').hidden = false;
  say(message, message ? kind : '');
  document.body.dataset.ready = '1';
}

async function start() {
  if (!token()) return showLogin();
  let me;
  try {
    me = await authJSON('/api/v1/auth/me');
  } catch (error) {
    if (!(error instanceof HttpError && error.status === 401)) say(describeError(error), 'error');
    document.body.dataset.ready = '1';
    return;
  }
  if (me.role !== 'leader' && me.role !== 'admin') {
    sessionStorage.removeItem(TOKEN_KEY);
    return showLogin(`账号 ${me.username}（${me.role}）无复核权限：需要领导或管理员账号`);
  }
  $('login').hidden = true;
  $('work').hidden = false;
  $('logout').hidden = false;
  $('who').textContent = `${me.username} · ${me.role === 'admin' ? '管理员' : '领导'}`;
  await Promise.all([load(), loadAliases()]);
}

$('login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const form = new FormData(e.target);
  const button = e.target.querySelector('button');
  button.disabled = true;
  say('登录中…');
  try {
    const answer = await fetchJSON('/api/v1/auth/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: form.get('username'), password: form.get('password') }),
    });
    sessionStorage.setItem(TOKEN_KEY, answer.token);
    say('');
    await start();
  } catch (error) {
    say(error instanceof HttpError && error.status === 401 ? '账号或密码错误' : describeError(error), 'error');
  } finally {
    button.disabled = false;
  }
});

$('logout').addEventListener('click', async () => {
  await authJSON('/api/v1/auth/logout', { method: 'POST' }).catch(() => {});
  sessionStorage.removeItem(TOKEN_KEY);
  showLogin('已退出', 'ok');
});

for (const id of ['kind', 'status']) {
  $(id).addEventListener('change', () => { state.offset = 0; load(); });
}
$('prev').addEventListener('click', () => { state.offset = Math.max(0, state.offset - PAGE); load(); });
$('next').addEventListener('click', () => { state.offset += PAGE; load(); });

async function load() {
  const kind = $('kind').value;
  const status = $('status').value;
  const query = new URLSearchParams({ kind, limit: String(PAGE), offset: String(state.offset) });
  if (status) query.set('status', status);
  document.body.dataset.ready = '0';
  try {
    const page = await authJSON(`/api/v1/review?${query}`);
    if (!page.items.length && state.offset > 0 && page.total > 0) {
      // The last record of the last page was resolved: show the page before.
      state.offset = Math.max(0, state.offset - PAGE);
      return await load();
    }
    state.total = page.total;
    render(kind, page);
  } catch (error) {
    if (!(error instanceof HttpError && error.status === 401)) say(describeError(error), 'error');
  } finally {
    document.body.dataset.ready = '1';
  }
}

/** A record as a person reads it: its kind and number (the source key's letters and
 * leading zeros are the register's, not words). */
const recordName = (kind, id) => `${RECORD_KIND[kind] || '记录'} ${String(id).replace(/^[A-Za-z]+0*/, '') || id}`;
const RECORD_KIND = { residents: '人口记录', enterprises: '法人记录', housing: '房屋记录' };

function render(kind, page) {
  $('total').textContent = `共 ${page.total} 条待复核`;
  const last = Math.min(page.offset + page.items.length, page.total);
  $('page').textContent = page.total ? `第 ${page.offset + 1}–${last} 条` : '';
  $('prev').disabled = page.offset === 0;
  $('next').disabled = last >= page.total;
  const body = $('queue');
  if (!page.items.length) {
    body.innerHTML = '<tr><td colspan="5" class="muted">没有待复核的记录</td></tr>';
    return;
  }
  body.innerHTML = page.items.map((item, i) => {
    const name = `pick-${i}`;
    const cands = item.candidates.length
      ? `<ul class="cands">${item.candidates.map((c, k) => `<li><label><input type="radio" name="${name}" value="${esc(c.code)}"${k === 0 ? ' checked' : ''} /> ${esc(c.label)}<span class="score">${(c.score * 100).toFixed(0)}%</span></label></li>`).join('')}</ul>`
      : '<span class="muted">无候选</span>';
    return `<tr data-id="${esc(item.id)}">
      <td>${esc(recordName(kind, item.id))}</td>
      <td>${esc(item.address)}</td>
      <td class="status-${esc(item.status)}">${esc(STATUS_TEXT[item.status] || item.status)}</td>
      <td>${cands}</td>
      <td><form class="resolve" data-kind="${esc(kind)}" data-id="${esc(item.id)}" data-pick="${name}">
        <input type="text" name="code" placeholder="或输入楼栋/户编码" maxlength="25" />
        <input type="text" name="note" placeholder="备注（可选）" maxlength="1000" />
        <button type="submit">确认关联</button>
      </form></td>
    </tr>`;
  }).join('');
  body.querySelectorAll('form.resolve').forEach((f) => f.addEventListener('submit', resolve));
}

async function resolve(e) {
  e.preventDefault();
  const f = e.target;
  const typed = f.elements.code.value.trim();
  const picked = document.querySelector(`input[name="${f.dataset.pick}"]:checked`)?.value;
  const code = typed || picked;
  if (!code) return say('请选择一个候选，或输入楼栋/户编码', 'error');
  const button = f.querySelector('button');
  button.disabled = true;
  try {
    const answer = await authJSON(`/api/v1/review/${encodeURIComponent(f.dataset.kind)}/${encodeURIComponent(f.dataset.id)}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ code, note: f.elements.note.value }),
    });
    say(`${recordName(f.dataset.kind, answer.id)} 已关联到 ${answer.code}（${LINK_TEXT[answer.link] || answer.link}）`, 'ok');
    await load();
  } catch (error) {
    button.disabled = false;
    if (!(error instanceof HttpError && error.status === 401)) say(describeError(error), 'error');
  }
}

// ---- road aliases and old names ---------------------------------------------------
const ALIAS_PROBLEMS = {
  unknown_name: '标准名称不在地址库中（须为路名、小区名、社区名、村名或镇街名）',
  clash: '该别名本身就是地址库中的地名，或已是另一地名的别名',
  too_short: '别名至少需要两个字',
};
const dateText = (unix) => new Date(unix * 1000).toLocaleString('zh-CN', { hour12: false, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' });

async function loadAliases() {
  try {
    const table = await authJSON('/api/v1/address-aliases');
    const body = $('aliases');
    if (!table.aliases.length) {
      body.innerHTML = '<tr><td colspan="6" class="muted">尚无别名</td></tr>';
      return;
    }
    body.innerHTML = table.aliases.map((a) => `<tr data-alias="${esc(a.alias)}">
      <td>${esc(a.alias)}</td><td>${esc(a.canonical)}</td>
      <td>${esc(a.added_by === 'import' ? '批量导入' : a.added_by)}</td><td>${esc(dateText(a.added_at))}</td>
      <td>${a.unused ? `<span class="unused">未生效：${esc(ALIAS_PROBLEMS[a.unused] || '无法使用')}</span>` : '生效中'}</td>
      <td><button type="button" class="remove-alias">删除</button></td>
    </tr>`).join('');
    body.querySelectorAll('button.remove-alias').forEach((b) => b.addEventListener('click', removeAlias));
  } catch (error) {
    if (!(error instanceof HttpError && error.status === 401)) say(`道路别名：${describeError(error)}`, 'error');
  }
}

$('alias-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const f = e.target;
  const alias = f.elements.alias.value.trim();
  const canonical = f.elements.canonical.value.trim();
  const button = f.querySelector('button');
  button.disabled = true;
  try {
    await authJSON(`/api/v1/address-aliases/${encodeURIComponent(alias)}`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ canonical }),
    });
    say(`已添加别名：${alias} → ${canonical}，地址匹配已按新别名识别`, 'ok');
    f.reset();
    await Promise.all([loadAliases(), load()]);
  } catch (error) {
    const reason = error instanceof HttpError ? ALIAS_PROBLEMS[error.details?.reason] : null;
    if (!(error instanceof HttpError && error.status === 401)) say(`未添加 ${alias}：${reason || describeError(error)}`, 'error');
  } finally {
    button.disabled = false;
  }
});

async function removeAlias(e) {
  const alias = e.target.closest('tr').dataset.alias;
  e.target.disabled = true;
  try {
    await authJSON(`/api/v1/address-aliases/${encodeURIComponent(alias)}`, { method: 'DELETE' });
    say(`已删除别名：${alias}`, 'ok');
    await loadAliases();
  } catch (error) {
    e.target.disabled = false;
    if (!(error instanceof HttpError && error.status === 401)) say(`未删除 ${alias}：${describeError(error)}`, 'error');
  }
}

start();
