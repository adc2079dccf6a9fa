// The forces tab of `/grid`: my grid's 1+1+4+N forces (phones masked), my key-group
// follow-ups due (recording a visit, counselling or help), the admitted tasks
// dispatched to my grid (finished here with a note), and logging a patrol — start, a
// track from the phone's location (a fix whenever it moves), findings (optionally
// reported as an event found by the grid), submit.

import { esc } from './common.js';

const $ = (id) => document.getElementById(id);
const patrol = { started: null, fixes: [], watch: null };

export async function loadForces({ authJSON, grids, caps, say }) {
  const box = $('forces-list');
  const tasks = $('grid-tasks');
  if (!box || !grids.length) return;
  const grid = grids[0];
  if (caps.has('/api/v1/grids/{code}/forces')) {
    try {
      const f = await authJSON(`/api/v1/grids/${encodeURIComponent(grid)}/forces`);
      box.innerHTML = `<p class="muted">${esc(f.grid_name)} · ${f.full_time ? '专职网格员在岗' : '兼职网格员'}</p>` +
        `<ul class="forces">${f.members.map((m) => `<li><b>${esc(m.role_name)}</b> ${esc(m.name)} <span class="muted">${esc(m.phone || '')}</span>${m.full_time ? ' <small>专职</small>' : ''}</li>`).join('')}</ul>`;
    } catch (error) {
      box.innerHTML = `<p class="muted">网格力量暂不可用（${esc(error.message || '')}）</p>`;
    }
  }
  if (caps.has('/api/v1/key-groups')) await loadFollowUps({ authJSON, grid, say });
  else $('kg-due').innerHTML = '<p class="muted">重点人群跟踪暂不可用</p>';
  if (caps.has('/api/v1/grids/{code}/tasks')) await loadTasks({ authJSON, grid, say, tasks });
  const start = $('patrol-start');
  const stop = $('patrol-stop');
  const status = $('patrol-status');
  start.onclick = () => {
    if (!navigator.geolocation) { say('此设备无法定位，不能记录巡逻轨迹', 'error'); return; }
    patrol.started = Math.floor(Date.now() / 1000);
    patrol.fixes = [];
    patrol.watch = navigator.geolocation.watchPosition((pos) => {
      const fix = [Number(pos.coords.longitude.toFixed(7)), Number(pos.coords.latitude.toFixed(7))];
      const last = patrol.fixes[patrol.fixes.length - 1];
      if (!last || last[0] !== fix[0] || last[1] !== fix[1]) patrol.fixes.push(fix);
      status.textContent = `巡逻中：已记录 ${patrol.fixes.length} 个定位点`;
    }, () => { status.textContent = '定位失败，请检查定位权限'; }, { enableHighAccuracy: true, maximumAge: 0 });
    start.hidden = true;
    stop.hidden = false;
    status.textContent = '巡逻中：等待定位…';
  };
  stop.onclick = async () => {
    if (patrol.watch !== null) navigator.geolocation.clearWatch(patrol.watch);
    patrol.watch = null;
    const fixes = patrol.fixes.length === 1 ? [patrol.fixes[0], patrol.fixes[0]] : patrol.fixes;
    if (!fixes.length) { status.textContent = '没有定位点，无法提交'; start.hidden = false; stop.hidden = true; return; }
    try {
      const saved = await authJSON('/api/v1/patrols', {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ started_at: patrol.started, ended_at: Math.floor(Date.now() / 1000), track: fixes, findings: $('patrol-findings').value }),
      });
      status.textContent = `巡逻已提交：${saved.code}（${saved.track.length} 个定位点，${saved.team_name}）`;
      const findings = $('patrol-findings').value.trim();
      if ($('patrol-report').checked && findings) {
        const [lon, lat] = fixes[fixes.length - 1];
        const event = await authJSON('/api/v1/events', {
          method: 'POST', headers: { 'Content-Type': 'application/json', 'Idempotency-Key': `patrol-${saved.code}` },
          body: JSON.stringify({ category: 'public_safety', source: 'grid_worker', title: `巡逻发现：${findings.slice(0, 60)}`, description: `巡逻 ${saved.code}（${saved.team_name}）发现：${findings}`, lon, lat }),
        });
        status.textContent += `；巡逻发现已上报为事件 ${event.code}`;
        status.dataset.event = event.code;
      }
      status.dataset.code = saved.code;
      $('patrol-findings').value = '';
      $('patrol-report').checked = false;
    } catch (error) {
      status.textContent = `提交失败：${error.message || ''}`;
    }
    start.hidden = false;
    stop.hidden = true;
  };
}

const KINDS = [['visit', '走访'], ['counselling', '心理疏导'], ['help', '帮扶救助']];
const STATUSES = [['', '状态不变'], ['stable', '稳定'], ['attention', '关注'], ['alert', '预警']];
const day = (unix) => new Date(unix * 1000).toLocaleDateString('zh-CN');

/** My grid's key-group follow-ups due, each with a form to record a visit. */
async function loadFollowUps({ authJSON, grid, say }) {
  const box = $('kg-due');
  let list;
  try {
    list = await authJSON(`/api/v1/key-groups?grid=${encodeURIComponent(grid)}&due=true&limit=200`);
  } catch (error) {
    box.innerHTML = `<p class="muted">重点人群跟踪暂不可用（${esc(error.message || '')}）</p>`;
    return;
  }
  if (!list.people.length) {
    box.innerHTML = '<p class="muted">本网格暂无待走访的重点人员</p>';
    return;
  }
  box.innerHTML = `<p class="muted">待走访 ${list.due} 人（姓名已脱敏）</p><ul class="kg-list">${list.people.map((p) => `
    <li data-kg="${esc(p.id)}"><b>${esc(p.name)}</b> · ${esc(p.list_name)} · <span class="kg-${esc(p.status)}">${esc(p.status_name)}</span>
      <br><small class="muted">每 ${p.visit_every_days} 天走访一次 · 应于 ${esc(p.next_visit_on)} 前走访${p.overdue ? `（已逾期 ${p.days_overdue} 天）` : ''} · 上次 ${esc(p.last_visit_on || '无记录')}</small>
      <details><summary>记录走访</summary><form class="kg-visit">
        <label>方式<select name="kind">${KINDS.map(([v, n]) => `<option value="${v}">${n}</option>`).join('')}</select></label>
        <label>走访后状态<select name="status">${STATUSES.map(([v, n]) => `<option value="${v}">${n}</option>`).join('')}</select></label>
        <label>情况记录<textarea name="note" rows="2" maxlength="2000" required placeholder="如：入户走访，本人情绪稳定"></textarea></label>
        <button type="submit">保存走访记录</button>
      </form></details></li>`).join('')}</ul>`;
  const byId = new Map(list.people.map((p) => [p.id, p]));
  box.querySelectorAll('form.kg-visit').forEach((form) => form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const li = form.closest('li');
    const p = byId.get(li.dataset.kg);
    const data = new FormData(form);
    const button = form.querySelector('button');
    button.disabled = true;
    try {
      const saved = await authJSON(`/api/v1/key-groups/${encodeURIComponent(p.id)}/visits`, {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ kind: data.get('kind'), note: data.get('note'), status: data.get('status') || null, version: p.version }),
      });
      li.innerHTML = `<b>${esc(saved.name)}</b> · ${esc(saved.list_name)} · <span class="kg-${esc(saved.status)}">${esc(saved.status_name)}</span><br><small class="kg-done">已记录${esc(saved.visits[0]?.kind_name || '走访')}，下次应于 ${esc(saved.next_visit_on)} 前走访</small>`;
      li.dataset.recorded = 'true';
      say('走访记录已保存', 'ok');
    } catch (error) {
      button.disabled = false;
      say(`保存失败：${error.message || ''}`, 'error');
    }
  }));
}

/** The admitted tasks dispatched to my grid; open ones can be finished with a note. */
async function loadTasks({ authJSON, grid, say, tasks }) {
  let t;
  try {
    t = await authJSON(`/api/v1/grids/${encodeURIComponent(grid)}/tasks`);
  } catch {
    tasks.innerHTML = '<p class="muted">准入事项暂不可用</p>';
    return;
  }
  if (!t.tasks.length) {
    tasks.innerHTML = '<p class="muted">暂无派入本网格的准入事项</p>';
    return;
  }
  tasks.innerHTML = `<p class="muted">准入事项 ${t.open_tasks} 项在办，预计 ${t.open_minutes} 分钟</p><ul>${t.tasks.map((x) => `
    <li data-task="${esc(x.code)}"><b>${esc(x.item_name)}</b> · ${esc(x.department)} · 截止 ${day(x.due_at)} ${x.note ? `· ${esc(x.note)}` : ''}
      ${x.status === 'open' ? `<form class="task-done"><label>办理情况<input name="note" maxlength="2000" required placeholder="如：已完成走访排查" /></label><button type="submit">办结</button></form>` : ' <small class="kg-done">已办结</small>'}</li>`).join('')}</ul>`;
  const byCode = new Map(t.tasks.map((x) => [x.code, x]));
  tasks.querySelectorAll('form.task-done').forEach((form) => form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const li = form.closest('li');
    const x = byCode.get(li.dataset.task);
    try {
      await authJSON(`/api/v1/grids/${encodeURIComponent(grid)}/tasks/${encodeURIComponent(x.code)}/done`, {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ note: new FormData(form).get('note'), version: x.version }),
      });
      form.outerHTML = ' <small class="kg-done">已办结</small>';
      say('准入事项已办结', 'ok');
    } catch (error) {
      say(`办结失败：${error.message || ''}`, 'error');
    }
  }));
}
