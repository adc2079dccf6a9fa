// One event's detail, shared by the workbench (`/work`) and the one-map view (`/`): what
// and where (address and areas by name), who owns it, the photos, the place on a small
// map in the project's own style, possible duplicates (same category within about
// 100 m and 7 days), the history as a timeline, joint reviews and follow-up visits,
// and exactly the caller's `allowed_actions` as buttons, each opening a form in a
// <dialog> (never window.prompt). A stale version (409) reloads the event and says so.

import maplibregl from 'maplibre-gl';
import 'maplibre-gl/dist/maplibre-gl.css';
import './event_detail.css';
import { describeError, esc, here, HttpError, MAP_FONTS, MAP_LOCALE, CATEGORY_LABELS, STATUS_LABELS, label } from './common.js';
import { authJSON } from './session.js';

export const ACTION_LABELS = {
  assign: '指派', assign_mediation: '交调解组织', resolve: '化解', divert: '分流', close: '办结', follow_up: '回访',
  escalate: '上报风险中心', set_risk_tier: '设定风险等级', set_case_leader: '指定包案领导', joint_review: '会商',
  supervise: '督办', mark_duplicate: '标记重复', accept: '受理', reject: '退回', intake: '登记受理', create: '登记受理',
};
export const SOURCE_LABELS = { visitor: '群众来访来电', higher_level: '上级交办（含 12345 转办）', department: '部门转办', township: '乡镇（街道）', grid_worker: '网格员上报' };
export const DIVERSION_LABELS = { arbitration: '仲裁', administrative_review: '行政复议', administrative_ruling: '行政裁决', litigation: '诉讼' };
export const TIER_LABELS = { small: '一般', medium: '较大', large: '重大' };
export const SATISFACTION_LABELS = { satisfied: '满意', basically_satisfied: '基本满意', dissatisfied: '不满意' };
export const VISIT_KIND_LABELS = { routine: '常态走访', counselling: '思想疏导', assistance: '帮扶救助' };
export const UNIT_KIND_LABELS = { mediation_org: '调解组织', department: '职能部门', grid: '网格', risk_centre: '社会风险中心', reception: '综合受理窗口' };
export const TASK_KIND_LABELS = { case: '案件办理', follow_up_visit: '回访', supervision: '督办' };
export const ROLE_LABELS = { screen: '大屏', grid_worker: '网格员', mediator: '调解员', leader: '领导', admin: '管理员', reception: '综合受理窗口', risk_centre: '社会风险中心' };

/** The district's mediation organisations (the server checks the name). */
export const MEDIATION_ORGS = [
  '旌阳区矛盾纠纷多元化解协会', '旌阳区医疗纠纷人民调解委员会', '旌阳区道路交通事故纠纷人民调解委员会', '旌阳区劳动人事争议调解中心',
  '旌阳区物业纠纷人民调解委员会', '旌阳区婚姻家庭纠纷人民调解委员会', '旌阳区消费纠纷调解委员会', '旌阳区征地拆迁纠纷人民调解委员会',
  '旌阳区知识产权纠纷调解委员会', '旌阳区金融纠纷调解中心', '旌阳区商会人民调解委员会', '旌阳区律师调解工作室',
  '旌阳区行政争议调解中心', '旌阳区土地承包经营纠纷调解委员会',
];

/** Date and time in Beijing time from unix seconds or ISO text. */
export function when(t, dateOnly = false) {
  if (t === null || t === undefined || t === '') return '—';
  const d = new Date(typeof t === 'number' ? t * 1000 : /^\d{4}-\d{2}-\d{2}$/.test(t) ? `${t}T00:00:00+08:00` : t);
  if (Number.isNaN(d.getTime())) return String(t);
  const opts = { timeZone: 'Asia/Shanghai', hour12: false, year: 'numeric', month: '2-digit', day: '2-digit' };
  if (!dateOnly) Object.assign(opts, { hour: '2-digit', minute: '2-digit' });
  return d.toLocaleString('zh-CN', opts);
}

/** A person by name: the account's display name; a grid worker's account without one
 * (`grid-<grid code>`) as its grid's worker (`unit`: the grid), never by the code. */
export const personName = (p, unit = p?.unit) => {
  const name = p ? p.display || p.username || String(p) : '';
  return /^grid-\d+$/.test(name) ? `${unit?.kind === 'grid' && unit.name ? unit.name : ''}网格员` : name;
};

/** Where an event is, by name: township · community · grid. */
export const placeName = (ev) => [ev.township?.name, ev.community?.name, ev.grid?.name].filter(Boolean).join(' · ');

let assigneesPromise = null;
/** The accounts a case may be given to ([] when the server has no such list). */
export function assignees() {
  if (!assigneesPromise) assigneesPromise = authJSON('/api/v1/assignees').then((a) => (Array.isArray(a) ? a : a.assignees || [])).catch(() => { assigneesPromise = null; return []; });
  return assigneesPromise;
}

/**
 * Empty date fields show a Chinese placeholder (a browser's own date field may show
 * its system locale's "mm/dd/yyyy"): text until focused, a date picker while in use.
 */
export function chineseDateFields(root) {
  root.querySelectorAll('input[type="date"]').forEach((input) => {
    input.dataset.date = '1';
    if (!input.placeholder) input.placeholder = '年-月-日';
    if (!input.value) input.type = 'text';
    input.addEventListener('focus', () => { input.type = 'date'; });
    input.addEventListener('blur', () => { if (!input.value) input.type = 'text'; });
  });
}

// ---- dialogs ----------------------------------------------------------------------

/**
 * A modal form in a <dialog>: `fields` as HTML, resolves with the FormData on submit
 * (the caller's `submit` may throw to keep the dialog open with the message) or null.
 */
export function formDialog(title, fieldsHTML, submit, { submitLabel = '确定' } = {}) {
  return new Promise((resolve) => {
    const dialog = document.createElement('dialog');
    dialog.className = 'ed-dialog';
    dialog.innerHTML = `<form method="dialog"><h3>${esc(title)}</h3>${fieldsHTML}
      <p class="ed-error" role="alert" hidden></p>
      <div class="ed-buttons"><button type="button" value="cancel" class="ed-cancel">取消</button><button type="submit" class="ed-submit">${esc(submitLabel)}</button></div></form>`;
    document.body.append(dialog);
    chineseDateFields(dialog);
    const form = dialog.querySelector('form');
    const error = dialog.querySelector('.ed-error');
    const finish = (value) => { dialog.close(); dialog.remove(); resolve(value); };
    dialog.querySelector('.ed-cancel').addEventListener('click', () => finish(null));
    dialog.addEventListener('cancel', (e) => { e.preventDefault(); finish(null); });
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const button = form.querySelector('.ed-submit');
      button.disabled = true;
      error.hidden = true;
      try {
        const result = await submit(new FormData(form));
        finish(result ?? true);
      } catch (err) {
        error.textContent = err?.message || '出现错误';
        error.hidden = false;
      } finally {
        button.disabled = false;
      }
    });
    dialog.showModal();
    dialog.querySelector('select, input, textarea')?.focus();
  });
}

const options = (table, selected = '') => Object.entries(table).map(([v, t]) => `<option value="${esc(v)}"${v === selected ? ' selected' : ''}>${esc(t)}</option>`).join('');
const noteField = (labelText = '处置说明', required = false) => `<label>${esc(labelText)}<textarea name="note" rows="3" maxlength="2000"${required ? ' required' : ''}></textarea></label>`;
const today = (days = 0) => new Date(Date.now() + days * 86_400_000 + 8 * 3_600_000).toISOString().slice(0, 10);

/** The form fields of one action and how to turn the form into the request's fields. */
async function actionForm(action, ev, extra = {}) {
  switch (action) {
    case 'assign_mediation':
      return { html: `<label>调解组织<select name="org" required><option value="">请选择</option>${MEDIATION_ORGS.map((o) => `<option>${esc(o)}</option>`).join('')}</select></label>${noteField()}`, body: (f) => ({ org: f.get('org') }) };
    case 'divert':
      return { html: `<label>分流途径<select name="kind" required>${options(DIVERSION_LABELS)}</select></label>${noteField('分流原因（如调解未成的情况）', true)}`, body: (f) => ({ kind: f.get('kind') }) };
    case 'close':
      return { html: `<label>群众满意度<select name="satisfaction"><option value="">未知</option>${options(SATISFACTION_LABELS)}</select></label>${noteField('办结说明')}`, body: (f) => (f.get('satisfaction') ? { satisfaction: f.get('satisfaction') } : {}) };
    case 'follow_up':
      return {
        html: `<label>回访方式<select name="visit_kind" required>${options(VISIT_KIND_LABELS)}</select></label>
          <label>回访结果<textarea name="outcome" rows="3" maxlength="2000" required></textarea></label>
          <label>下次回访日期（到期后成为网格员的回访任务，可不填）<input type="date" name="next_visit" min="${today()}" /></label>`,
        body: (f) => ({ visit_kind: f.get('visit_kind'), outcome: f.get('outcome'), note: f.get('outcome'), ...(f.get('next_visit') ? { next_visit: f.get('next_visit') } : {}) }),
      };
    case 'set_risk_tier':
      return { html: `<label>风险等级<select name="risk_tier" required>${options(TIER_LABELS, ev.risk_tier)}</select></label>${noteField('研判意见')}`, body: (f) => ({ risk_tier: f.get('risk_tier') }) };
    case 'assign': {
      const people = (await assignees()).filter((p) => p.role !== 'screen' && p.role !== 'admin');
      return { html: assignFieldsHTML(people), body: assignBody, bind: (form) => bindAssignFields(form, people) };
    }
    case 'set_case_leader': {
      const leaders = (await assignees()).filter((p) => p.role === 'leader');
      return {
        html: `<label>包案领导<select name="leader" required><option value="">请选择</option>${leaders.map((p) => `<option value="${esc(personName(p))}" data-username="${esc(p.username)}">${esc(personName(p))}${p.unit ? `（${esc(p.unit)}）` : ''}</option>`).join('')}</select></label>${noteField()}`,
        body: (f) => ({ leader: f.get('leader') }),
      };
    }
    case 'joint_review':
      return {
        html: `<label>参会单位和人员<input name="participants" required maxlength="500" placeholder="如：社会风险中心、司法所、派出所" /></label>
          <label>会商结论<textarea name="conclusion" rows="3" maxlength="2000" required></textarea></label>`,
        body: (f) => ({ participants: f.get('participants'), conclusion: f.get('conclusion'), note: f.get('conclusion') }),
      };
    case 'supervise':
      return {
        html: `<label>督办意见<textarea name="note" rows="3" maxlength="2000" required></textarea></label>
          <label>新的办理期限<input type="date" name="deadline" required min="${today()}" value="${today(3)}" /></label>`,
        body: (f) => ({ deadline: f.get('deadline') }),
      };
    case 'mark_duplicate':
      return {
        html: `<label>重复于事件编号<input name="duplicate_of" required maxlength="40" list="ed-dups" value="${esc(extra.duplicateOf || '')}" /></label>
          <datalist id="ed-dups">${(extra.duplicates || []).map((d) => `<option value="${esc(d.code)}">${esc(d.title)}</option>`).join('')}</datalist>${noteField()}`,
        body: (f) => ({ duplicate_of: f.get('duplicate_of') }),
      };
    case 'escalate':
      return { html: noteField('上报理由', true), body: () => ({}) };
    default:
      return { html: noteField(), body: () => ({}) };
  }
}

const unitName = (u) => (u && typeof u === 'object' ? u.name || u.code : u || '');

/** The assign form: an owner, and optionally another owning unit than the owner's own. */
export function assignFieldsHTML(people) {
  return `<label>承办人<select name="owner" required><option value="">请选择</option>${people.map((p) => `<option value="${esc(p.username)}">${esc(personName(p))}（${esc(ROLE_LABELS[p.role] || p.role)}${unitName(p.unit) ? ` · ${esc(unitName(p.unit))}` : ''}）</option>`).join('')}</select></label>
    <p class="ed-unit muted" data-unit="">承办单位：承办人所在单位</p>
    <details class="ed-other-unit"><summary>指定其他承办单位</summary>
      <label>承办单位类型<select name="unit_kind"><option value="">（承办人所在单位）</option>${options(UNIT_KIND_LABELS)}</select></label>
      <label>承办单位名称（网格填网格编码）<input name="unit" maxlength="100" /></label></details>
    ${noteField('指派说明')}`;
}

export function assignBody(f) {
  const body = { owner: f.get('owner') };
  if (f.get('unit_kind')) body.unit_kind = f.get('unit_kind');
  if (f.get('unit')) body.unit = f.get('unit');
  return body;
}

export function bindAssignFields(form, people) {
  if (!form) return;
  const owner = form.querySelector('[name=owner]');
  owner.addEventListener('change', () => {
    const person = people.find((p) => p.username === owner.value);
    const line = form.querySelector('.ed-unit');
    const unit = person?.unit;
    line.dataset.unit = unitName(unit);
    line.textContent = unit ? `承办单位：${UNIT_KIND_LABELS[unit.kind] || ''} · ${unitName(unit)}（承办人所在单位）` : '承办单位：承办人所在单位';
  });
}

/** Post one transition; a 409 says the event changed meanwhile. */
export async function transition(code, body) {
  try {
    return await authJSON(`/api/v1/events/${encodeURIComponent(code)}/transitions`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    });
  } catch (error) {
    if (error instanceof HttpError && error.status === 409) throw new Error(`该事件刚被他人更新或当前状态不允许此操作，已重新加载，请核对后重试（${error.message}）`);
    if (error instanceof HttpError && error.status === 403) throw new Error('无权执行此操作');
    if (error instanceof HttpError && error.status === 422) throw new Error(`填写有误：${error.message}`);
    throw new Error(describeError(error));
  }
}

/** Open the form of `action` on `ev`; resolves with the updated event or null. */
export async function runAction(ev, action, extra = {}) {
  const spec = await actionForm(action, ev, extra);
  let updated = null;
  const pending = formDialog(`${ACTION_LABELS[action] || action} · ${ev.title || ev.code}`, `<div class="ed-fields" data-action="${esc(action)}">${spec.html}</div>`, async (form) => {
    updated = await transition(ev.code, { action, note: form.get('note') || '', version: ev.version, ...spec.body(form) });
    return updated;
  });
  if (spec.bind) spec.bind(document.querySelector('dialog.ed-dialog:last-of-type form'));
  const done = await pending;
  return done ? updated : null;
}

// ---- the detail panel -----------------------------------------------------------------

function historyHTML(history, grid) {
  if (!history?.length) return '<p class="muted">暂无处置记录</p>';
  return `<ol class="ed-timeline">${history.map((s) => `<li data-action="${esc(s.action)}"><time>${esc(when(s.at))}</time>
    <div><b>${esc(ACTION_LABELS[s.action] || s.action)}</b>${s.to && s.to !== s.from ? ` <span class="ed-status">${esc(label(STATUS_LABELS, s.from))} → ${esc(label(STATUS_LABELS, s.to))}</span>` : ''}
    <span class="muted">· ${esc(actorName(s.actor, grid))}</span>${s.note ? `<p>${esc(s.note)}</p>` : ''}</div></li>`).join('')}</ol>`;
}

/** `username:source` (intake) or `username`, with the role words where known; a grid
 * worker's account (`grid-<grid code>`) by the grid's name, never its code. */
function actorName(actor, grid) {
  if (!actor) return '系统';
  const [who, source] = String(actor).split(':');
  const named = { admin: '管理员', leader: '领导', mediator: '调解员', reception: '综合受理窗口', riskcentre: '社会风险中心', screen: '大屏', system: '系统', generator: '历史数据', intake: '受理窗口', centre: '综治中心', handler: '承办人', demo: '演示数据' }[who] || (who.startsWith('grid-') ? `网格员（${grid?.code === who.slice(5) && grid.name ? grid.name : '网格'}）` : who);
  return source ? `${named}（${SOURCE_LABELS[source] || source}）` : named;
}

function kv(rows) {
  return `<table class="ed-kv">${rows.filter(([, v]) => v !== null && v !== undefined && v !== '').map(([k, v, key]) => `<tr${key ? ` data-key="${key}"` : ''}><th>${esc(k)}</th><td>${v}</td></tr>`).join('')}</table>`;
}

/**
 * Render the detail of event `code` into `box`. `onChanged(ev)` runs after an action
 * succeeded (the panel has already re-rendered itself). Returns the event or null.
 */
export async function showEventDetail(box, code, { onChanged, compact = false } = {}) {
  // Renders may overlap (an action's reload and a live change): only the latest binds.
  const render = (box.renderCount = (box.renderCount || 0) + 1);
  const current = () => box.renderCount === render;
  box.dataset.code = code;
  box.dataset.loaded = '';
  // A reload of the shown event keeps it in place; another event shows 加载中 first.
  if (box.dataset.shown !== code) box.innerHTML = '<p class="muted">事件详情加载中…</p>';
  let ev;
  try {
    ev = await authJSON(`/api/v1/events/${encodeURIComponent(code)}`);
  } catch (error) {
    if (!current()) return null;
    box.dataset.shown = '';
    box.innerHTML = `<p class="ed-error">${esc(error instanceof HttpError && error.status === 403 ? '无权查看此事件' : describeError(error))}</p>`;
    return null;
  }
  if (!current()) return null;
  const sup = ev.supervision;
  const owner = ev.owner ? `${esc(personName(ev.owner))}${ev.owner_unit ? `<br><small class="muted">${esc(UNIT_KIND_LABELS[ev.owner_unit.kind] || ev.owner_unit.kind)} · ${esc(ev.owner_unit.name)}</small>` : ''}` : ev.owner_unit ? esc(ev.owner_unit.name) : '<span class="muted">未指派</span>';
  box.innerHTML = `<header class="ed-head"><h2>${esc(ev.title || ev.code)}</h2>
      <div class="ed-tags"><span class="ed-tag status-${esc(ev.status)}">${esc(label(STATUS_LABELS, ev.status))}</span>
      ${ev.overdue ? '<span class="ed-tag overdue">已超期</span>' : ''}${ev.escalated ? '<span class="ed-tag">已上报风险中心</span>' : ''}
      ${ev.risk_tier && ev.risk_tier !== 'small' ? `<span class="ed-tag tier-${esc(ev.risk_tier)}">${esc(TIER_LABELS[ev.risk_tier])}风险</span>` : ''}
      ${sup ? '<span class="ed-tag supervised">督办</span>' : ''}</div>
      <p class="muted">编号 ${esc(ev.code)}</p></header>
    <div class="ed-actions" aria-label="可执行操作">${(ev.allowed_actions || []).map((a) => `<button type="button" data-action="${esc(a)}">${esc(ACTION_LABELS[a] || a)}</button>`).join('') || '<span class="muted">当前账号对此事件无可执行操作</span>'}</div>
    <p class="ed-message" role="status" hidden></p>
    ${kv([
      ['类别', esc(label(CATEGORY_LABELS, ev.category)), 'category'],
      ['来源', esc(SOURCE_LABELS[ev.source] || ev.source), 'source'],
      ['描述', esc(ev.description || '—'), 'description'],
      ['地址', `<span class="ed-address">${esc(ev.address || '')}</span>`, 'address'],
      ['所在区域', esc(placeName(ev) || '—'), 'place'],
      ['受理时间', esc(when(ev.reported_at)), 'reported_at'],
      ['办理期限', `${esc(when(ev.deadline))}${ev.overdue ? ' <b class="overdue">已超期</b>' : ''}`, 'deadline'],
      ['承办人', owner, 'owner'],
      ['调解组织', ev.mediation_org ? esc(ev.mediation_org) : null, 'mediation_org'],
      ['分流途径', ev.diversion ? esc(DIVERSION_LABELS[ev.diversion] || ev.diversion) : null, 'diversion'],
      ['包案领导', ev.case_leader ? esc(personName(ev.case_leader)) : null, 'case_leader'],
      ['督办', sup ? `${esc(sup.note)}<br><small class="muted">期限 ${esc(when(sup.deadline, true))} · ${esc(actorName(sup.by))} ${esc(when(sup.at))}</small>` : null, 'supervision'],
      ['群众满意度', ev.satisfaction ? esc(SATISFACTION_LABELS[ev.satisfaction] || ev.satisfaction) : null, 'satisfaction'],
      ['重复于', ev.duplicate_of ? esc(ev.duplicate_of) : null, 'duplicate_of'],
      ['下次回访', ev.next_visit ? esc(when(ev.next_visit, true)) : null, 'next_visit'],
    ])}
    ${ev.photos?.length ? `<h3>照片</h3><div class="ed-photos">${ev.photos.map((p) => `<a href="${esc(p.url)}" target="_blank" rel="noopener"><img data-src="${esc(p.thumb)}" alt="事件照片" /></a>`).join('')}</div>` : ''}
    ${compact || typeof ev.lon !== 'number' ? '' : '<div class="ed-map" aria-label="事件位置"></div>'}
    ${ev.joint_reviews?.length ? `<h3>会商记录</h3><ul class="ed-list ed-reviews">${ev.joint_reviews.map((r) => `<li><time>${esc(when(r.at))}</time> 参会：${esc(Array.isArray(r.participants) ? r.participants.join('、') : r.participants)}<br>结论：${esc(r.conclusion)}</li>`).join('')}</ul>` : ''}
    ${ev.visits?.length ? `<h3>回访记录</h3><ul class="ed-list ed-visits">${ev.visits.map((v) => `<li><time>${esc(when(v.at))}</time> ${esc(VISIT_KIND_LABELS[v.kind] || v.kind)}：${esc(v.outcome)}${v.next_visit ? `（下次 ${esc(when(v.next_visit, true))}）` : ''}</li>`).join('')}</ul>` : ''}
    <section class="ed-duplicates"><h3>疑似重复事件</h3><p class="muted">查找中…</p></section>
    <h3>处置经过</h3>${historyHTML(ev.history, ev.grid)}`;
  box.dataset.loaded = ev.code;
  box.dataset.status = ev.status;
  box.dataset.version = String(ev.version);
  box.dataset.shown = ev.code;
  // Photos need the bearer token: fetched as blobs.
  box.querySelectorAll('img[data-src]').forEach(async (img) => {
    try {
      const r = await fetch(img.dataset.src, { headers: authHeader() });
      if (r.ok) img.src = URL.createObjectURL(await r.blob());
    } catch { /* the link still opens it */ }
  });
  if (!ev.address && typeof ev.lon === 'number') {
    authJSON(`/api/v1/reverse?lon=${ev.lon}&lat=${ev.lat}`).then((r) => {
      const text = r.building?.label || '';
      const node = box.querySelector('.ed-address');
      // The register's label of its building, or of the nearest one when it has none.
      if (node) node.textContent = !text ? '—' : r.building.code === ev.address_code ? text : `${text}（附近楼栋）`;
    }).catch(() => { const node = box.querySelector('.ed-address'); if (node) node.textContent = '—'; });
  }
  const mapBox = box.querySelector('.ed-map');
  if (mapBox) smallMap(mapBox, ev);
  const buttons = [...box.querySelectorAll('.ed-actions button[data-action]')];
  const message = box.querySelector('.ed-message');
  const duplicates = await findDuplicates(ev, box.querySelector('.ed-duplicates'));
  if (!current()) return ev;
  buttons.forEach((b) => b.addEventListener('click', async () => {
    // While a form is open and its result reloads, live changes leave the panel alone.
    box.dataset.busy = '1';
    let updated;
    try {
      updated = await runAction(ev, b.dataset.action, { duplicates, duplicateOf: duplicates[0]?.code });
    } catch (error) {
      delete box.dataset.busy;
      message.textContent = error.message;
      message.className = 'ed-message error';
      message.hidden = false;
      return;
    }
    if (!updated) { delete box.dataset.busy; return; }
    const fresh = await showEventDetail(box, ev.code, { onChanged, compact });
    delete box.dataset.busy;
    const note = box.querySelector('.ed-message');
    note.textContent = `已${ACTION_LABELS[b.dataset.action] || b.dataset.action}`;
    note.className = 'ed-message ok';
    note.hidden = false;
    onChanged?.(fresh || updated);
  }));
  return ev;
}

function authHeader() {
  const token = sessionStorage.getItem('minqing.token');
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** Same category, within about 100 m and 7 days either side, not the event itself. */
async function findDuplicates(ev, section) {
  if (typeof ev.lon !== 'number' || !section) { if (section) section.remove(); return []; }
  const dLat = 0.0009;
  const dLon = 0.0009 / Math.cos((ev.lat * Math.PI) / 180);
  const at = typeof ev.reported_at === 'number' ? ev.reported_at * 1000 : Date.parse(ev.reported_at);
  const day = (ms) => new Date(ms + 8 * 3_600_000).toISOString().slice(0, 10);
  const q = new URLSearchParams({
    bbox: [ev.lon - dLon, ev.lat - dLat, ev.lon + dLon, ev.lat + dLat].map((v) => v.toFixed(6)).join(','),
    category: ev.category, from: day(at - 7 * 86_400_000), to: day(at + 7 * 86_400_000), limit: '20',
  });
  try {
    const answer = await authJSON(`/api/v1/events?${q}`);
    const list = (answer.events || []).filter((d) => d.code !== ev.code);
    section.innerHTML = `<h3>疑似重复事件 <small>${list.length} 件</small></h3>${list.length
      ? `<ul class="ed-list">${list.map((d) => `<li data-code="${esc(d.code)}"><a href="/work?event=${encodeURIComponent(d.code)}">${esc(d.title || d.code)}</a> · ${esc(label(STATUS_LABELS, d.status))} · ${esc(when(d.reported_at, true))}</li>`).join('')}</ul>`
      : '<p class="muted">附近 7 天内无同类事件</p>'}`;
    return list;
  } catch {
    section.innerHTML = '<h3>疑似重复事件</h3><p class="muted">暂不可用</p>';
    return [];
  }
}

let detailMap = null;
/** The small map of the open event, in the project's style (/style.json); one at a time. */
function smallMap(container, ev) {
  const centre = [ev.lon, ev.lat];
  detailMap?.remove();
  detailMap = new maplibregl.Map({
    container, style: here('/style.json'), center: centre, zoom: 16, attributionControl: false, localIdeographFontFamily: MAP_FONTS.join(', '), locale: MAP_LOCALE,
    // Our own origin only; the session's token goes along (aggregates may be closed to the public).
    transformRequest: (url) => (url.startsWith(location.origin) ? { url, headers: authHeader() } : { url }),
  });
  detailMap.on('error', () => {});
  new maplibregl.Marker({ color: '#dc2626' }).setLngLat(centre).addTo(detailMap);
  window.__minqing = { ...(window.__minqing || {}), detailMap };
}
