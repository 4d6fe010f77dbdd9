// @ts-check
// Keyboard shortcuts declared once: the same list says which key does what and writes the
// rows of the help table.

import { h } from './dom.js';

/**
 * One shortcut (or one row of the help table).
 * @typedef {object} KeyBinding
 * @property {string} label How the help table shows the keys: "0 1 2 3" (one of several),
 *   "N / ↓" (either), "Shift+A" (together); with `plain`, a word such as "Mouse".
 * @property {string} help What the keys do.
 * @property {string[]} [keys] `KeyboardEvent.key` values that trigger `run`, letters in
 *   lower case; none: a row of the help table only.
 * @property {boolean} [shift] true: only with Shift; false: only without; unset: either.
 * @property {(event: KeyboardEvent) => unknown} [run] The action.
 * @property {() => boolean} [enabled] While this says false the key is left to the browser.
 * @property {boolean} [plain] Show `label` as text, not as keys.
 */

/**
 * The binding a key press triggers, or null.
 * @param {KeyBinding[]} bindings
 * @param {KeyboardEvent} event
 * @returns {KeyBinding | null}
 */
export function findBinding(bindings, event) {
  const key = event.key;
  const lower = key.length === 1 ? key.toLowerCase() : key;
  return bindings.find((binding) => Boolean(binding.run)
    && (binding.keys ?? []).includes(lower)
    && (binding.shift === undefined || binding.shift === event.shiftKey)
    && (!binding.enabled || binding.enabled())) ?? null;
}

/**
 * The keys of a label as `<kbd>` elements: "N / ↓" -> [N] / [↓], "Shift+A" -> [Shift]+[A].
 * @param {string} label
 * @returns {(Node | string)[]}
 */
function kbds(label) {
  /** @type {(Node | string)[]} */
  const out = [];
  label.split(' / ').forEach((either, i) => {
    if (i > 0) out.push(' / ');
    either.split(' ').forEach((one, j) => {
      if (j > 0) out.push(' ');
      const together = one.length > 1 && one.includes('+') ? one.split('+') : [one];
      together.forEach((key, k) => {
        if (k > 0) out.push('+');
        out.push(h('kbd', {}, key));
      });
    });
  });
  return out;
}

/**
 * Rows of the help table, one per binding, in order.
 * @param {KeyBinding[]} bindings
 * @returns {HTMLElement[]}
 */
export function helpRows(bindings) {
  return bindings.map((binding) => h('tr', {},
    h('td', {}, binding.plain ? binding.label : kbds(binding.label)),
    h('td', {}, binding.help)));
}
