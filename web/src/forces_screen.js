// The forces panel of `/screen`: patrol teams and members, patrols of the last 30 days,
// the share of significant hot cells patrolled in 30 days and the uncovered ones, named
// by the township and community that contain them.
// Aggregates only; refreshed on the screen's timer.

import { esc, fetchJSON, formatCount, formatRate } from './common.js';

const UNCOVERED_SHOWN = 6;

export async function refreshForces(caps) {
  const box = document.getElementById('forces');
  if (!box) return;
  if (!caps.has('/api/v1/analysis/patrol-coverage')) {
    box.closest('.card').hidden = true;
    return;
  }
  let stats = {}; let teams = {}; let cover = null;
  try {
    [stats, teams, cover] = await Promise.all([
      fetchJSON('/api/v1/stats'),
      fetchJSON('/api/v1/patrol-teams'),
      fetchJSON('/api/v1/analysis/patrol-coverage'),
    ]);
  } catch { /* shown as 暂不可用 below */ }
  const day = (unix) => new Date((unix - 1) * 1000).toLocaleDateString('zh-CN', { timeZone: 'Asia/Shanghai' });
  const ended = cover ? `截至${day(cover.to)}` : '';
  const item = (key, name, value) => `<div class="fc" data-key="${key}"><div class="name">${esc(name)}</div><div class="value">${value ?? '暂不可用'}</div></div>`;
  const uncovered = (cover?.cells || []).filter((c) => c.uncovered);
  box.innerHTML = `
    <div class="fcs">
      ${item('patrol_teams', '巡逻队', formatCount(teams.patrol_teams ?? stats.patrol_teams))}
      ${item('patrol_members', '巡逻队员', formatCount(teams.patrol_members ?? stats.patrol_members))}
      ${item('patrols_30d', '近30天巡逻', cover ? formatCount(cover.patrols_30d) : undefined)}
      ${item('share_covered', '热点巡逻覆盖率', cover && cover.hot_cells ? formatRate(cover.share_covered) : (cover ? '无显著热点' : undefined))}
    </div>
    <p class="note">${esc(ended)}${cover ? `，显著热点 ${cover.hot_cells} 处，未覆盖 ${uncovered.length} 处` : ''}</p>
    <ol class="uncovered" id="uncovered">${uncovered.slice(0, UNCOVERED_SHOWN).map((c) =>
      `<li data-cell="${esc(c.cell)}">${esc(c.place || c.township_name || '区内')} · 事件 ${formatCount(c.events)} 件 · 30天无巡逻</li>`).join('')}</ol>`;
}
