// The signed-in session of a view: the bearer token in sessionStorage (gone when the tab
// closes; shared by the views of one tab), sign-in and sign-out, and fetchJSON with the
// token. A 401 on a request that carried a token means the session expired or was
// revoked: the token is dropped, `onExpired` runs (the view asks to sign in again) and
// the request is made once more without it.

import { fetchJSON, HttpError } from './common.js';

const TOKEN_KEY = 'minqing.token';
const ME_KEY = 'minqing.me';

export const session = {
  /** Called once per expiry with no argument. */
  onExpired: null,
  token: () => sessionStorage.getItem(TOKEN_KEY),
  /** `{username, role, grids, mediation_org}` or null. */
  me: () => {
    try {
      return JSON.parse(sessionStorage.getItem(ME_KEY) || 'null');
    } catch {
      return null;
    }
  },
  async login(username, password) {
    const answer = await fetchJSON('/api/v1/auth/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
    const me = { username: answer.username || username, role: answer.role, grids: answer.grids || [], mediation_org: answer.mediation_org || null };
    sessionStorage.setItem(TOKEN_KEY, answer.token);
    sessionStorage.setItem(ME_KEY, JSON.stringify(me));
    return me;
  },
  async logout() {
    if (session.token()) await authJSON('/api/v1/auth/logout', { method: 'POST' }).catch(() => {});
    clear();
  },
};

function clear() {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(ME_KEY);
}

/** fetchJSON with the session's token (when signed in); a 401 ends the session. */
export async function authJSON(path, options = {}) {
  const headers = { ...(options.headers || {}) };
  const token = session.token();
  if (token) headers.Authorization = `Bearer ${token}`;
  try {
    return await fetchJSON(path, { ...options, headers });
  } catch (error) {
    if (error instanceof HttpError && error.status === 401 && token) {
      clear();
      session.onExpired?.();
      // Once more without the dead token: public figures still load, the rest
      // answers 401 again ("登录已过期，请重新登录").
      delete headers.Authorization;
      return fetchJSON(path, { ...options, headers });
    }
    throw error;
  }
}

/** What a role may see, as the server's role matrix says (ARCHITECTURE.md). */
export const ROLE_CAN = {
  events: (role) => ['grid_worker', 'mediator', 'leader', 'admin', 'reception', 'risk_centre'].includes(role),
  households: (role) => ['grid_worker', 'leader', 'admin'].includes(role),
  /** One building's risk score (its own events and people): every-event readers, and
   * grid workers in their grids. */
  buildingRisk: (me, gridCode) => ['leader', 'admin', 'reception', 'risk_centre'].includes(me?.role)
    || (me?.role === 'grid_worker' && (me.grids || []).includes(gridCode)),
};

export const ROLE_NAMES = { screen: '大屏', grid_worker: '网格员', mediator: '调解员', leader: '领导', admin: '管理员', reception: '综合受理窗口', risk_centre: '社会风险中心' };
