// @ts-check
// Building the page: elements, durations, and whether a key press belongs to a text field.

/**
 * Create an element: h('a', {href, className, onclick, dataset}, children...).
 * @param {string} tag
 * @param {Record<string, any> | null} [props]
 * @param {...any} children Nodes, strings or numbers (nested arrays allowed); null, undefined
 *   and false are skipped.
 * @returns {HTMLElement & Record<string, any>}
 */
export function h(tag, props = {}, ...children) {
  /** @type {HTMLElement & Record<string, any>} */
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

/**
 * 75 -> "1 min 15 s", 3725 -> "1 h 02 min".
 * @param {number | null | undefined} seconds
 * @returns {string}
 */
export function formatDuration(seconds) {
  const s = Math.max(0, Math.round(Number(seconds) || 0));
  if (s < 60) return `${s} s`;
  const minutes = Math.floor(s / 60);
  if (minutes < 60) return `${minutes} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`;
}

/**
 * True when a key press belongs to a text field and must not trigger a shortcut.
 * @param {KeyboardEvent} event
 * @returns {boolean}
 */
export function isTyping(event) {
  const t = event.target;
  if (!(t instanceof HTMLElement)) return false;
  if (t.closest('[data-modal-keys]')) return true; // a dialog's keys are its own
  if (t.isContentEditable || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT') return true;
  if (t instanceof HTMLInputElement) {
    return !['checkbox', 'radio', 'button', 'submit'].includes(t.type);
  }
  return false;
}
