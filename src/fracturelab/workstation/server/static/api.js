// Shared pieces of the workstation pages (not the login page, which must work without this
// file): API calls with the CSRF header, the redirect to /login when the session is gone, the
// error banner, the save status line, time tracking and the top bar.

let csrfToken = null;
let currentUser = null;
let redirecting = false;

/** An API call that failed; `detail` is the server's one-line explanation. */
export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.name = 'ApiError';
    this.status = status;
    this.detail = detail;
  }
}

/** The login page, coming back to the current page afterwards. */
export function loginUrl() {
  return '/login?next=' + encodeURIComponent(location.pathname + location.search);
}

function toLogin() {
  if (!redirecting) {
    redirecting = true;
    location.assign(loginUrl());
  }
}

async function readDetail(response) {
  const type = response.headers.get('Content-Type') || '';
  try {
    if (type.includes('json')) {
      const data = await response.json();
      if (data && typeof data.detail === 'string') return data.detail;
      if (data && Array.isArray(data.detail)) {
        // FastAPI validation errors: [{loc, msg}, ...]
        return data.detail.map((d) => `${(d.loc || []).slice(1).join('.') || 'request'}: ${d.msg}`).join('; ');
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

/** The logged-in user `{username, role, csrf_token}`; redirects to /login without a session. */
export async function getMe({ refresh = false } = {}) {
  if (currentUser && !refresh) return currentUser;
  currentUser = await api('GET', '/api/me');
  csrfToken = currentUser.csrf_token;
  return currentUser;
}

/**
 * Call the API. JSON in and out; `raw: true` returns an ArrayBuffer.
 * 401 sends the browser to the login page. Other failures show the error banner (unless
 * `quiet`) and throw an ApiError.
 */
export async function api(method, path, options = {}) {
  const { body, raw = false, quiet = false, keepalive = false, retried = false } = options;
  const unsafe = !['GET', 'HEAD'].includes(method);
  const headers = { Accept: raw ? 'application/octet-stream' : 'application/json' };
  if (unsafe) {
    if (csrfToken === null) await getMe();
    headers['X-CSRF-Token'] = csrfToken;
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

// ---------------------------------------------------------------- banners

function bannerArea() {
  let area = document.getElementById('banners');
  if (!area) {
    area = document.createElement('div');
    area.id = 'banners';
    area.className = 'banner-area';
    document.body.appendChild(area);
  }
  return area;
}

/**
 * Show a banner. kind: 'error' (stays until closed), 'warning' or 'info' (fade after
 * `timeoutMs`). The same message is not shown twice at once.
 */
export function showBanner(kind, message, { timeoutMs } = {}) {
  const area = bannerArea();
  for (const existing of area.querySelectorAll('.banner')) {
    if (existing.dataset.message === message) existing.remove();
  }
  const banner = h('div', {
    className: `banner ${kind}`,
    role: kind === 'error' ? 'alert' : 'status',
    dataset: { kind, message },
  },
  h('span', { className: 'message' }, message),
  h('button', { type: 'button', 'aria-label': 'Dismiss message', onclick: () => banner.remove() }, '×'));
  if (kind === 'error') banner.id = 'error-banner';
  area.appendChild(banner);
  const timeout = timeoutMs ?? (kind === 'error' ? 0 : 8000);
  if (timeout > 0) setTimeout(() => banner.remove(), timeout);
  return banner;
}

export function showError(message) {
  return showBanner('error', message);
}

export function clearBanners(kind) {
  for (const b of bannerArea().querySelectorAll('.banner')) {
    if (!kind || b.dataset.kind === kind) b.remove();
  }
}

// ---------------------------------------------------------------- status line

/** Update the save status line `#status`: 'saved' | 'saving' | 'error' | 'idle'. */
export function setStatus(state, reason = '') {
  const el = document.getElementById('status');
  if (!el) return;
  el.dataset.state = state;
  const text = {
    saved: 'Saved ✓',
    saving: 'Saving…',
    error: `Not saved: ${reason}`,
    idle: reason || 'No changes yet',
  }[state];
  el.textContent = text;
  el.title = text;
}

// ---------------------------------------------------------------- DOM and formatting

/** Create an element: h('a', {href, className, onclick, dataset}, children...). */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'className') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key in el && typeof value !== 'string') el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** 75 -> "1 min 15 s", 3725 -> "1 h 02 min". */
export function formatDuration(seconds) {
  const s = Math.max(0, Math.round(Number(seconds) || 0));
  if (s < 60) return `${s} s`;
  const minutes = Math.floor(s / 60);
  if (minutes < 60) return `${minutes} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`;
}

/** True when a key press belongs to a text field and must not trigger a shortcut. */
export function isTyping(event) {
  const t = event.target;
  if (!(t instanceof HTMLElement)) return false;
  if (t.closest('[data-modal-keys]')) return true; // a dialog's keys are its own
  if (t.isContentEditable || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT') return true;
  if (t.tagName === 'INPUT') {
    return !['checkbox', 'radio', 'button', 'submit'].includes(t.type);
  }
  return false;
}

// ---------------------------------------------------------------- top bar

/** Fill the shared top bar: user name, admin link for admins, logout. */
export async function initTopbar() {
  const user = await getMe();
  const who = document.getElementById('who');
  if (who) who.textContent = `${user.username} (${user.role})`;
  const adminLink = document.getElementById('admin-link');
  if (adminLink) adminLink.hidden = user.role !== 'admin';
  const logout = document.getElementById('logout');
  if (logout && !document.getElementById('change-password')) {
    const change = h('button', { type: 'button', id: 'change-password', onclick: openPasswordDialog }, 'Change password');
    logout.before(change);
  }
  if (logout) {
    logout.addEventListener('click', async () => {
      try {
        await api('POST', '/api/logout');
      } finally {
        location.assign('/login');
      }
    });
  }
  return user;
}

// ---------------------------------------------------------------- own password

/** Build the "Change password" dialog once (POST /api/account/password). */
function passwordDialog() {
  let overlay = document.getElementById('password-dialog');
  if (overlay) return overlay;
  const field = (id, label, autocomplete) => h('label', { className: 'field', for: id }, label,
    h('input', { type: 'password', id, name: id, autocomplete, required: true, maxlength: '1024' }));
  const message = h('p', { id: 'password-message', className: 'form-message', role: 'alert' });
  const form = h('form', { className: 'dialog stack', id: 'password-form', dataset: { modalKeys: 'true' } },
    h('h2', { id: 'password-title' }, 'Change password'),
    h('p', { className: 'muted' }, 'Your other browsers and tabs logged in as you are logged out; this one stays logged in.'),
    field('current-password', 'Current password', 'current-password'),
    field('new-password', 'New password (at least 8 characters)', 'new-password'),
    field('repeat-password', 'New password again', 'new-password'),
    message,
    h('div', { className: 'close-row' },
      h('button', { type: 'button', id: 'password-cancel', 'data-close': true }, 'Cancel'),
      h('button', { type: 'submit', className: 'primary', id: 'password-save' }, 'Change password')));
  overlay = h('div', {
    className: 'overlay', id: 'password-dialog', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'password-title', hidden: true,
  }, form);
  const close = () => { overlay.hidden = true; form.reset(); message.textContent = ''; };
  overlay.addEventListener('click', (event) => {
    if (event.target === overlay || event.target.closest('[data-close]')) close();
  });
  overlay.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') { event.preventDefault(); close(); }
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const current = form.elements['current-password'].value;
    const fresh = form.elements['new-password'].value;
    if (fresh !== form.elements['repeat-password'].value) {
      message.textContent = 'The two new passwords differ; type the same one twice.';
      return;
    }
    const save = document.getElementById('password-save');
    save.disabled = true;
    try {
      await api('POST', '/api/account/password', { body: { current_password: current, new_password: fresh }, quiet: true });
      close();
      showBanner('info', 'Your password was changed. Use the new one next time you log in.', { timeoutMs: 8000 });
    } catch (error) {
      message.textContent = `Not changed: ${error.detail || error}`;
    } finally {
      save.disabled = false;
    }
  });
  document.body.appendChild(overlay);
  return overlay;
}

function openPasswordDialog() {
  const overlay = passwordDialog();
  overlay.hidden = false;
  document.getElementById('current-password').focus();
}

// ---------------------------------------------------------------- time tracking

/**
 * Report reading time of a case: every `intervalMs` while the page is visible and the reader
 * was active (key, mouse or wheel) within the last `idleMs`; the rest is sent when the page
 * is hidden or left. `onTotal(seconds)` receives the server's running total.
 */
export function trackTime(caseId, { intervalMs = 15000, idleMs = 300000, onTotal } = {}) {
  let pending = 0;
  let since = document.visibilityState === 'visible' ? performance.now() : null;
  let lastActivity = performance.now();
  let sending = false;

  const collect = () => {
    const now = performance.now();
    if (since !== null) {
      // Idle time beyond the limit does not count.
      const activeUntil = Math.min(now, lastActivity + idleMs);
      if (activeUntil > since) pending += (activeUntil - since) / 1000;
      since = now;
    }
  };
  const flush = async (keepalive = false) => {
    collect();
    if (pending < 0.5 || sending) return;
    const seconds = Math.min(pending, 300);
    pending -= seconds;
    sending = true;
    try {
      const result = await api('POST', `/api/cases/${caseId}/time`, {
        body: { seconds: Math.round(seconds * 10) / 10 },
        quiet: true,
        keepalive,
      });
      if (onTotal && result) onTotal(result.time_spent_s);
    } catch (error) {
      pending = Math.min(pending + seconds, 3600); // try again with the next report
    } finally {
      sending = false;
    }
  };
  for (const type of ['keydown', 'pointerdown', 'pointermove', 'wheel']) {
    window.addEventListener(type, () => { lastActivity = performance.now(); }, { passive: true, capture: true });
  }
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') {
      collect();
      since = null;
      flush(true);
    } else {
      since = performance.now();
      lastActivity = since;
    }
  });
  window.addEventListener('pagehide', () => flush(true));
  setInterval(() => {
    if (document.visibilityState === 'visible') flush();
  }, intervalMs);
  return { flush };
}

// ---------------------------------------------------------------- autosave

/**
 * Saves answers of one case one after the other, each with the reading's current version as
 * `base_version`, so a conflict means another tab or client really changed the reading.
 * Changes to a key waiting in the queue replace the waiting value.
 *
 * A save refused because the reading is marked done (409, e.g. by another tab) is not kept
 * for a retry: `onDone(count)` is called once the queue is empty, to reload the case.
 *
 * hooks: getVersion(), setVersion(v), onSaved(key, value), onFailed(key, value, detail),
 * onConflict(), onDone(count), onIdle().
 */
export class SaveQueue {
  constructor(caseId, hooks) {
    this.caseId = caseId;
    this.hooks = hooks;
    this.waiting = new Map();
    this.running = null;
    this.failed = new Map();
    this.conflict = false;
    this.refusedDone = 0;
  }

  get busy() {
    return this.running !== null || this.waiting.size > 0;
  }

  save(key, value) {
    this.waiting.set(key, value);
    setStatus('saving');
    return this._kick();
  }

  _kick() {
    if (!this.running) {
      this.running = this._run().finally(() => {
        this.running = null;
        if (this.waiting.size > 0) this._kick();
      });
    }
    return this.running;
  }

  /** Send the answers whose last save failed once more. */
  retryFailed() {
    for (const [key, { value }] of this.failed) {
      if (!this.waiting.has(key)) this.waiting.set(key, value);
    }
    if (this.waiting.size > 0) {
      setStatus('saving');
      return this._kick();
    }
    return Promise.resolve();
  }

  /** Forget failed saves (after the case was reloaded from the server). */
  forgetFailed() {
    this.failed.clear();
  }

  /** Resolves when every queued save has been answered. */
  async drain() {
    while (this.running) await this.running;
  }

  async _run() {
    while (this.waiting.size > 0) {
      const [key, value] = this.waiting.entries().next().value;
      this.waiting.delete(key);
      try {
        const result = await api('PUT', `/api/cases/${this.caseId}/answers/${encodeURIComponent(key)}`, {
          body: { value, base_version: this.hooks.getVersion() ?? 0 }, // 0: no reading yet
          quiet: true,
        });
        this.failed.delete(key);
        this.hooks.setVersion(result.version);
        this.hooks.onSaved(key, result.value);
        if (result.conflict) this.conflict = true;
      } catch (error) {
        if (error instanceof ApiError && error.status === 409 && this.hooks.onDone) {
          this.failed.delete(key); // the case is done: a retry would be refused again
          this.refusedDone += 1;
          continue;
        }
        const detail = error instanceof ApiError ? error.detail : String(error);
        this.failed.set(key, { value, detail });
        this.hooks.onFailed(key, value, detail);
        if (error instanceof ApiError && error.status === 401) return;
      }
    }
    const refused = this.refusedDone;
    this.refusedDone = 0;
    if (this.failed.size > 0) {
      const [key, { detail }] = [...this.failed.entries()].pop();
      setStatus('error', `${key}: ${detail}`);
    } else if (refused > 0) {
      setStatus('idle', 'Not saved: the case is marked done');
    } else {
      setStatus('saved');
    }
    if (refused > 0) await this.hooks.onDone(refused);
    if (this.conflict) {
      this.conflict = false;
      await this.hooks.onConflict();
    }
    if (this.hooks.onIdle) this.hooks.onIdle();
  }
}

/** Warn before leaving a page whose answers are not all saved. */
export function guardUnload(isUnsafe) {
  window.addEventListener('beforeunload', (event) => {
    // Not when the session is gone: the login page brings the reader back here.
    if (!redirecting && isUnsafe()) {
      event.preventDefault();
      event.returnValue = '';
    }
  });
}

/** Show or hide the keyboard help overlay `#help` (toggled by `?`, closed by Escape). */
export function initHelp() {
  const overlay = document.getElementById('help');
  const button = document.getElementById('help-button');
  if (!overlay) return { toggle() {} };
  let returnFocus = null;
  const open = () => {
    returnFocus = document.activeElement;
    overlay.hidden = false;
    overlay.querySelector('button')?.focus();
  };
  const close = () => {
    overlay.hidden = true;
    if (returnFocus instanceof HTMLElement) returnFocus.focus();
  };
  const toggle = () => (overlay.hidden ? open() : close());
  button?.addEventListener('click', toggle);
  overlay.addEventListener('click', (event) => {
    if (event.target === overlay || event.target.closest('[data-close]')) close();
  });
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && !overlay.hidden) {
      event.preventDefault();
      close();
    }
  });
  return { toggle, open, close, get isOpen() { return !overlay.hidden; } };
}
