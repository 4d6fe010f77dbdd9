// @ts-check
// What the spine view's modules share: the reading of the case and the NiiVue viewer.

/** @typedef {import('./reader.js').ReadingState} ReadingState */
/** @typedef {import('./spine-answers.js').SpineAnswer} SpineAnswer */

/**
 * A vertebra of the case as the view lists it.
 * @typedef {object} Level
 * @property {string} level Its name, e.g. "L1".
 * @property {number | null} label Its value in the label map (null: no label, not drawn).
 * @property {number[] | null} centroid_ras_mm Its centre, RAS millimetres.
 * @property {number[]} colour RGB 0-255.
 */

/**
 * The spine view's state: the shell's reading plus the answers per level.
 * @typedef {ReadingState & {
 *   answers: Record<string, SpineAnswer>,
 *   levels: Level[],
 *   selected: string | null,
 *   view: string,
 * }} SpineState
 */

/** @type {SpineState} */
export const state = {
  data: null, // GET /api/cases/{id}
  version: null,
  status: 'new',
  answers: {}, // level -> answer
  levels: [], // cranio-caudal
  selected: null,
  view: 'sagittal',
  timeSpent: 0,
};

/**
 * The NiiVue viewer (`nv`, null until it starts) and whether the CT and labels are shown.
 * @type {{nv: any, ready: boolean}}
 */
export const viewer = { nv: null, ready: false };

/**
 * @param {string} id
 * @returns {any} The element (spine.html has every id the spine view asks for).
 */
export const $ = (id) => document.getElementById(id);
