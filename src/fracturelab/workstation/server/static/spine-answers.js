// @ts-check
// The spine view's answers: what an answer per vertebra is, the rules the server applies too
// (not assessable clears the rest, grade 0 means normal), how answers and suggestions read,
// and the morphology choices, which the server gives in the page (body[data-morphologies]).

import { h } from './dom.js';

/**
 * One vertebra's answer, as PUT /api/cases/{id}/answers/{level} takes it.
 * @typedef {object} SpineAnswer
 * @property {number | null} genant_grade 0-3, or null (not chosen yet).
 * @property {string | null} morphology One of {@link MORPHOLOGIES}, or null.
 * @property {boolean} not_assessable
 */

/**
 * The morphometry's suggestion for one vertebra (GET /api/cases/{id}, `suggestion[level]`).
 * @typedef {object} SpineSuggestion
 * @property {number | null} [genant_grade] null or missing: the vertebra was not graded.
 * @property {string | null} [morphology]
 * @property {number | null} [height_loss_pct] Percent.
 */

/**
 * Genant morphologies, `normal` first (it goes with grade 0), as the server declares them
 * (fracturelab.workstation.models.MORPHOLOGIES, written into spine.html by pages.render_page).
 * @type {readonly string[]}
 */
export const MORPHOLOGIES = Object.freeze(JSON.parse(document.body.dataset.morphologies || '[]'));

/** The fracture morphologies (all but `normal`), each chosen by its first letter. */
export const FRACTURES = Object.freeze(MORPHOLOGIES.filter((name) => name !== 'normal'));

/** Morphology of each key: `w` -> `wedge`, ... (lower-case first letters of {@link FRACTURES}). */
export const MORPHOLOGY_KEYS = Object.freeze(
  Object.fromEntries(FRACTURES.map((name) => [name[0].toLowerCase(), name])),
);

/** @type {Readonly<SpineAnswer>} */
export const EMPTY = Object.freeze({ genant_grade: null, morphology: null, not_assessable: false });

/**
 * @param {SpineAnswer | null | undefined} answer
 * @returns {boolean} Nothing given: no grade, no morphology, not "not assessable".
 */
export function isEmpty(answer) {
  return !answer || (answer.genant_grade === null && answer.morphology === null && !answer.not_assessable);
}

/**
 * @param {SpineAnswer | null | undefined} answer
 * @returns {boolean} Not assessable, or both grade and morphology given.
 */
export function isComplete(answer) {
  if (!answer) return false;
  if (answer.not_assessable) return true;
  return answer.genant_grade !== null && answer.morphology !== null;
}

/**
 * The same rules as the server: not assessable clears the rest, grade 0 means normal.
 * @param {SpineAnswer} answer
 * @returns {SpineAnswer}
 */
export function normalise(answer) {
  if (answer.not_assessable) return { genant_grade: null, morphology: null, not_assessable: true };
  let { genant_grade: grade, morphology } = answer;
  if (grade === 0) morphology = 'normal';
  if (grade !== null && grade > 0 && morphology === 'normal') morphology = null;
  return { genant_grade: grade, morphology, not_assessable: false };
}

/**
 * The answer that takes a graded suggestion over.
 * @param {SpineSuggestion} s
 * @returns {SpineAnswer}
 */
export function suggestedAnswer(s) {
  return {
    genant_grade: s.genant_grade,
    morphology: s.genant_grade === 0 ? 'normal' : (s.morphology ?? null),
    not_assessable: false,
  };
}

/**
 * An answer as the list of vertebrae shows it: "G2 wedge", "G0 normal", "—".
 * @param {SpineAnswer | null | undefined} answer
 * @returns {string}
 */
export function gradeText(answer) {
  if (!answer || isEmpty(answer)) return '—';
  if (answer.not_assessable) return 'not assessable';
  const grade = answer.genant_grade === null ? 'grade?' : `G${answer.genant_grade}`;
  const morphology = answer.morphology === null ? 'shape?' : answer.morphology;
  return answer.genant_grade === 0 ? 'G0 normal' : `${grade} ${morphology}`;
}

/**
 * A suggestion as the list of vertebrae shows it: "G2 wedge · 31 %", "not graded", "none".
 * @param {SpineSuggestion | null | undefined} s
 * @returns {string}
 */
export function suggestionText(s) {
  if (!s) return 'none';
  if (s.genant_grade === null || s.genant_grade === undefined) return 'not graded';
  const loss = typeof s.height_loss_pct === 'number' ? ` · ${s.height_loss_pct.toFixed(0)} %` : '';
  return `${gradeText({ genant_grade: s.genant_grade, morphology: s.morphology ?? null, not_assessable: false })}${loss}`;
}

/**
 * What an incomplete answer still needs, for the hint under the form ('' when nothing).
 * @param {SpineAnswer} answer
 * @returns {string}
 */
export function missingText(answer) {
  if (answer.not_assessable) return '';
  if (answer.genant_grade > 0 && answer.morphology === null) {
    const letters = FRACTURES.map((name) => name[0].toUpperCase());
    const choices = letters.length > 1
      ? `${letters.slice(0, -1).join(', ')} or ${letters[letters.length - 1]}` : letters.join('');
    return `Choose the morphology (${choices}) to complete this answer.`;
  }
  if (answer.genant_grade === null && answer.morphology !== null) {
    return 'Choose the grade (1-3) to complete this answer.';
  }
  return '';
}

/**
 * Fill `#morph-choices` with one radio button per morphology (`#morph-{name}`, labelled with
 * its key), and call `onChoose(name)` when one is chosen.
 * @param {(morphology: string) => void} onChoose
 */
export function buildMorphologyChoices(onChoose) {
  const box = /** @type {HTMLElement} */ (document.getElementById('morph-choices'));
  box.replaceChildren(...MORPHOLOGIES.flatMap((name) => {
    const input = h('input', { type: 'radio', name: 'morphology', id: `morph-${name}`, value: name });
    input.addEventListener('change', () => onChoose(name));
    const key = name === 'normal' ? null : h('span', { className: 'key' }, name[0].toUpperCase());
    return [input, key ? h('label', { for: `morph-${name}` }, `${name} `, key) : h('label', { for: `morph-${name}` }, name)];
  }));
}
