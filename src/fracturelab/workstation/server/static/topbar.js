// @ts-check
// The top bar every logged-in page shares: who is logged in, the admin link, changing one's
// own password and logging out.

import { showBanner } from './banners.js';
import { h } from './dom.js';
import { api, getMe } from './http.js';

/**
 * Fill the shared top bar: user name, admin link for admins, logout.
 * @returns {Promise<import('./http.js').Me>}
 */
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

/**
 * Build the "Change password" dialog once (POST /api/account/password).
 * @returns {HTMLElement}
 */
function passwordDialog() {
  const existing = document.getElementById('password-dialog');
  if (existing) return existing;
  /**
   * @param {string} id
   * @param {string} label
   * @param {string} autocomplete
   */
  const field = (id, label, autocomplete) => h('label', { className: 'field', for: id }, label,
    h('input', { type: 'password', id, name: id, autocomplete, required: true, maxlength: '1024' }));
  const message = h('p', { id: 'password-message', className: 'form-message', role: 'alert' });
  const form = /** @type {HTMLFormElement} */ (h('form', { className: 'dialog stack', id: 'password-form', dataset: { modalKeys: 'true' } },
    h('h2', { id: 'password-title' }, 'Change password'),
    h('p', { className: 'muted' }, 'Your other browsers and tabs logged in as you are logged out; this one stays logged in.'),
    field('current-password', 'Current password', 'current-password'),
    field('new-password', 'New password (at least 8 characters)', 'new-password'),
    field('repeat-password', 'New password again', 'new-password'),
    message,
    h('div', { className: 'close-row' },
      h('button', { type: 'button', id: 'password-cancel', 'data-close': true }, 'Cancel'),
      h('button', { type: 'submit', className: 'primary', id: 'password-save' }, 'Change password'))));
  const overlay = h('div', {
    className: 'overlay', id: 'password-dialog', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'password-title', hidden: true,
  }, form);
  const close = () => { overlay.hidden = true; form.reset(); message.textContent = ''; };
  overlay.addEventListener('click', (event) => {
    if (event.target === overlay || (event.target instanceof Element && event.target.closest('[data-close]'))) close();
  });
  overlay.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') { event.preventDefault(); close(); }
  });
  /** @param {string} name */
  const value = (name) => /** @type {HTMLInputElement} */ (form.elements.namedItem(name)).value;
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const current = value('current-password');
    const fresh = value('new-password');
    if (fresh !== value('repeat-password')) {
      message.textContent = 'The two new passwords differ; type the same one twice.';
      return;
    }
    const save = /** @type {HTMLButtonElement} */ (document.getElementById('password-save'));
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
  document.getElementById('current-password')?.focus();
}
