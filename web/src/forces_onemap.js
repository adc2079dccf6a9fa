// The grid panel of `/`: the selected grid's 1+1+4+N forces (phones masked; for roles
// that read personal records in that grid) and, for roles allowed to, the key-group
// follow-up status of the grid — exact figures for the grid's own staff, leaders and
// the risk centre; only a total of 5 or more for other roles with key-group aggregates.

import { esc } from './common.js';
import { authJSON, session, ROLE_CAN } from './session.js';

const LIST_NAMES = { drug: '吸毒人员', mental: '严重精神障碍患者', correction: '社区矫正对象', released: '刑满释放人员', youth: '重点青少年', hiv_risk: '艾滋病危险人员' };
const STATUS_NAMES = { stable: '稳定', attention: '关注', alert: '预警' };
/** Roles that see key-group figures (the server decides exact or protected). */
const KEY_GROUP_ROLES = ['grid_worker', 'leader', 'risk_centre', 'admin'];

/** Fill `box` with grid `code`'s forces and key-group status; `stale()` is true once another selection replaced this one. */
export async function showGridForces(box, code, caps, stale) {
  const me = session.me();
  if (!box) return;
  if (!me || !session.token()) {
    box.innerHTML = '<p class="muted">登录后可查看本网格的网格力量与重点人群跟踪情况</p>';
    return;
  }
  const mine = me.role !== 'grid_worker' || (me.grids || []).includes(code);
  const parts = [];
  if (caps.has('/api/v1/grids/{code}/forces') && ROLE_CAN.households(me.role) && mine) {
    try {
      const f = await authJSON(`/api/v1/grids/${encodeURIComponent(code)}/forces`);
      parts.push(`<h3>网格力量（1+1+4+N）</h3><p class="muted">${f.full_time ? '专职网格员在岗' : '无专职网格员'}</p>
        <ul class="forces" data-grid="${esc(code)}">${f.members.map((m) => `<li><b>${esc(m.role_name)}</b> ${esc(m.name)} <span class="muted">${esc(m.phone || '')}</span>${m.full_time ? ' <small>专职</small>' : ''}</li>`).join('')}</ul>`);
    } catch (error) {
      parts.push(`<p class="muted">网格力量暂不可用（${esc(error.message || '')}）</p>`);
    }
  } else {
    parts.push('<p class="muted">当前账号无权查看本网格的网格力量</p>');
  }
  if (caps.has('/api/v1/key-groups/summary') && KEY_GROUP_ROLES.includes(me.role) && mine) {
    try {
      const s = await authJSON(`/api/v1/key-groups/summary?area=${encodeURIComponent(code)}`);
      const g = s.grids[0];
      if (!g) {
        parts.push('<p class="muted">无重点人群数据</p>');
      } else if (g.exact) {
        const lists = Object.entries(g.by_list || {}).map(([k, n]) => `<li>${esc(LIST_NAMES[k] || '其他')} <b>${n}</b> 人</li>`).join('');
        const statuses = ['stable', 'attention', 'alert'].map((k) => `<span class="kg-${k}">${STATUS_NAMES[k]} <b>${(g.by_status || {})[k] || 0}</b></span>`).join(' · ');
        parts.push(`<h3>重点人群跟踪帮扶</h3><div class="kg-summary" data-exact="true"><p>六类清单共 <b>${g.total}</b> 人，待走访 <b class="kg-due">${g.due}</b> 人</p>
          <p>${statuses}</p><ul>${lists}</ul></div>`);
      } else {
        parts.push(`<h3>重点人群跟踪帮扶</h3><div class="kg-summary" data-exact="false"><p>${g.total == null ? '人数少于 5 人，不予显示' : `六类清单共 <b>${g.total}</b> 人（仅显示总数）`}</p></div>`);
      }
    } catch (error) {
      parts.push(`<p class="muted">重点人群跟踪情况暂不可用（${esc(error.message || '')}）</p>`);
    }
  }
  if (!stale()) box.innerHTML = parts.join('');
}
