// @ts-check
// Messages at the top of the page: errors stay until closed, warnings and notes fade.

import { h } from './dom.js';

/** @returns {HTMLElement} The banner area `#banners`, created on first use. */
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
 * @param {'error' | 'warning' | 'info'} kind
 * @param {string} message
 * @param {{timeoutMs?: number}} [options]
 * @returns {HTMLElement}
 */
export function showBanner(kind, message, { timeoutMs } = {}) {
  const area = bannerArea();
  for (const existing of area.querySelectorAll('.banner')) {
    if (existing instanceof HTMLElement && existing.dataset.message === message) existing.remove();
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

/**
 * Show an error banner (stays until closed).
 * @param {string} message
 * @returns {HTMLElement}
 */
export function showError(message) {
  return showBanner('error', message);
}
