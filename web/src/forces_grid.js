// The forces tab of `/grid`: my grid's 1+1+4+N forces (phones masked), the admitted
// tasks dispatched to my grid, and logging a patrol — start, a track from the phone's
// location (a fix whenever it moves), findings, submit.

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
  if (caps.has('/api/v1/grids/{code}/tasks')) {
    try {
      const t = await authJSON(`/api/v1/grids/${encodeURIComponent(grid)}/tasks`);
      tasks.innerHTML = t.tasks.length
        ? `<p class="muted">准入事项 ${t.open_tasks} 项在办，预计 ${t.open_minutes} 分钟</p><ul>${t.tasks.map((x) => `<li><b>${esc(x.item_name)}</b> · ${esc(x.department)} · 截止 ${new Date(x.due_at * 1000).toLocaleDateString('zh-CN')} ${x.note ? `· ${esc(x.note)}` : ''}</li>`).join('')}</ul>`
        : '<p class="muted">暂无派入本网格的准入事项</p>';
    } catch {
      tasks.innerHTML = '<p class="muted">准入事项暂不可用</p>';
    }
  }
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
      status.dataset.code = saved.code;
      $('patrol-findings').value = '';
    } catch (error) {
      status.textContent = `提交失败：${error.message || ''}`;
    }
    start.hidden = false;
    stop.hidden = true;
  };
}
