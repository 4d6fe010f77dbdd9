// @ts-check
// The keyboard help overlay `#help`: opened by its button or `?`, closed by Escape.

/**
 * @typedef {object} Help
 * @property {() => void} toggle
 * @property {() => void} open
 * @property {() => void} close
 * @property {boolean} isOpen
 */

/**
 * Show or hide the keyboard help overlay `#help` (toggled by `?`, closed by Escape).
 * @returns {Help}
 */
export function initHelp() {
  const overlay = document.getElementById('help');
  const button = document.getElementById('help-button');
  if (!overlay) return { toggle() {}, open() {}, close() {}, isOpen: false };
  /** @type {Element | null} */
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
    if (event.target === overlay || (event.target instanceof Element && event.target.closest('[data-close]'))) close();
  });
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && !overlay.hidden) {
      event.preventDefault();
      close();
    }
  });
  return { toggle, open, close, get isOpen() { return !overlay.hidden; } };
}
