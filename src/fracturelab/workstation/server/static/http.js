// @ts-check
// Calls to the workstation's API: JSON in and out, the CSRF header on writes, the way to the
// login page when the session is gone, and the logged-in user.

import { showError } from './banners.js';

/**
 * The logged-in user, as GET /api/me gives it.
 * @typedef {{username: string, role: string, csrf_token: string}} Me
 */

/** @type {string | null} */
let csrfToken = null;
/** @type {Me | null} */
let currentUser = null;
let redirecting = false;

/** An API call that failed; `detail` is the server's one-line explanation. */
export class ApiError extends Error {
  /**
   * @param {number} status HTTP status (0: no connection).
   * @param {string} detail
   */
  constructor(status, detail) {
    super(detail);
    this.name = 'ApiError';
    this.status = status;
    this.detail = detail;
  }
}

/** @returns {string} The login page, coming back to the current page afterwards. */
export function loginUrl() {
  return '/login?next=' + encodeURIComponent(location.pathname + location.search);
}

/** @returns {boolean} Whether the browser is on its way to the login page. */
export function isRedirecting() {
  return redirecting;
}

function toLogin() {
  if (!redirecting) {
    redirecting = true;
    location.assign(loginUrl());
  }
}

/**
 * @param {Response} response
 * @returns {Promise<string>}
 */
async function readDetail(response) {
  const type = response.headers.get('Content-Type') || '';
  try {
    if (type.includes('json')) {
      const data = await response.json();
      if (data && typeof data.detail === 'string') return data.detail;
      if (data && Array.isArray(data.detail)) {
        // FastAPI validation errors: [{loc, msg}, ...]
        return data.detail.map((/** @type {{loc?: string[], msg: string}} */ d) => `${(d.loc || []).slice(1).join('.') || 'request'}: ${d.msg}`).join('; ');
      }
      return JSON.stringify(data);
    }
    const text = (await response.text()).trim();
    if (text && text.length < 200) return text;
  } catch (error) {
    // fall through to the status line
  }
  return `HTTP ${response.status} ${response.statusText}`.trim();
}

/**
 * The logged-in user `{username, role, csrf_token}`; redirects to /login without a session.
 * @param {{refresh?: boolean}} [options]
 * @returns {Promise<Me>}
 */
export async function getMe({ refresh = false } = {}) {
  if (currentUser && !refresh) return currentUser;
  const me = /** @type {Me} */ (await api('GET', '/api/me'));
  currentUser = me;
  csrfToken = me.csrf_token;
  return me;
}

/**
 * Options of {@link api}.
 * @typedef {object} ApiOptions
 * @property {unknown} [body] Sent as JSON.
 * @property {boolean} [raw] Return the response as an ArrayBuffer.
 * @property {boolean} [quiet] Do not show the error banner on failure.
 * @property {boolean} [keepalive] Let the request outlive the page.
 * @property {boolean} [retried] Internal: the CSRF token was fetched again already.
 */

/**
 * Call the API. JSON in and out; `raw: true` returns an ArrayBuffer.
 * 401 sends the browser to the login page. Other failures show the error banner (unless
 * `quiet`) and throw an ApiError.
 * @param {string} method
 * @param {string} path
 * @param {ApiOptions} [options]
 * @returns {Promise<any>}
 */
export async function api(method, path, options = {}) {
  const { body, raw = false, quiet = false, keepalive = false, retried = false } = options;
  const unsafe = !['GET', 'HEAD'].includes(method);
  /** @type {Record<string, string>} */
  const headers = { Accept: raw ? 'application/octet-stream' : 'application/json' };
  if (unsafe) {
    if (csrfToken === null) await getMe();
    headers['X-CSRF-Token'] = String(csrfToken);
  }
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
      keepalive,
    });
  } catch (error) {
    const failure = new ApiError(0, 'no connection to the server; check that it is running and the network is up');
    if (!quiet) showError(failure.detail);
    throw failure;
  }
  if (response.status === 401) {
    toLogin();
    throw new ApiError(401, 'not logged in');
  }
  if (!response.ok) {
    const detail = await readDetail(response);
    if (response.status === 403 && unsafe && !retried && /csrf/i.test(detail)) {
      // The token changed (e.g. a new login in another tab): fetch it again and retry once.
      csrfToken = null;
      currentUser = null;
      return api(method, path, { ...options, retried: true });
    }
    const failure = new ApiError(response.status, detail);
    if (!quiet) showError(detail);
    throw failure;
  }
  if (raw) return response.arrayBuffer();
  if (response.status === 204) return null;
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}
