// @ts-check
// Spine reader view: CT + vertebra label map in NiiVue, Genant grade and morphology per level,
// every change saved at once (PUT /api/cases/{id}/answers/{level}). The shell (reader.js)
// starts the page and owns the keys both reader views share; this module owns the answers,
// the list of vertebrae and the form. The viewer is spine-viewer.js (level names on the image:
// spine-tags.js), the answer rules and morphology choices spine-answers.js.

import { SaveQueue, setStatus } from './autosave.js';
import { showBanner } from './banners.js';
import { h } from './dom.js';
import { api } from './http.js';
import {
  applyReading, caseId, DONE_LOCKED, editable, isLocked, renderCaseHeader, renderReading,
  startReader,
} from './reader.js';
import {
  buildMorphologyChoices, EMPTY, FRACTURES, gradeText, isComplete, isEmpty, missingText,
  MORPHOLOGIES, MORPHOLOGY_KEYS, normalise, suggestedAnswer, suggestionText,
} from './spine-answers.js';
import { $, state, viewer } from './spine-state.js';
import { drawLevelTags } from './spine-tags.js';
import {
  moveCrosshairTo, setView, startViewer, updateLabelColours, VIEWS, wireViewerControls,
} from './spine-viewer.js';

/** @typedef {import('./spine-answers.js').SpineAnswer} SpineAnswer */
/** @typedef {import('./spine-answers.js').SpineSuggestion} SpineSuggestion */

// Distinct, muted hues for neighbouring vertebrae (RGB 0-255).
const PALETTE = [
  [230, 159, 0], [86, 180, 233], [0, 158, 115], [240, 228, 66], [204, 121, 167],
  [213, 94, 0], [0, 114, 178], [170, 220, 120], [255, 140, 140], [160, 140, 255],
];

const queue = new SaveQueue(caseId, {
  getVersion: () => state.version,
  setVersion: (version) => { state.version = version; },
  onSaved: (key, value) => {
    if (!queue.waiting.has(key)) state.answers[key] = value;
    if (state.status === 'new') state.status = 'open';
    render();
  },
  onFailed: () => render(),
  onConflict: async () => {
    await reloadCase();
    showBanner('warning', 'This case was changed in another tab/window — reloaded. Check the answers before you go on.', { timeoutMs: 12000 });
  },
  onDone: async (count) => {
    await reloadCase();
    showBanner('warning', `This case was marked done in another tab/window, so ${count === 1 ? 'your last change was' : `${count} changes were`} not saved. ${DONE_LOCKED}`, { timeoutMs: 12000 });
  },
});

// ------------------------------------------------------------------ answers

/**
 * @param {string | null} level
 * @returns {SpineAnswer} The answer given (or the empty one).
 */
function answerOf(level) {
  return state.answers[level] || EMPTY;
}

/**
 * Change one level's answer (normalised) and save it, unless nothing changes.
 * @param {string | null} level
 * @param {SpineAnswer} [value]
 */
function change(level, value) {
  if (!editable(state)) return;
  if (!level) {
    showBanner('info', 'Select a vertebra first (click it in the image or in the list).', { timeoutMs: 4000 });
    return;
  }
  const clean = normalise(value);
  const before = answerOf(level);
  if (before.genant_grade === clean.genant_grade && before.morphology === clean.morphology
      && before.not_assessable === clean.not_assessable && !queue.failed.has(level)) {
    return;
  }
  state.answers[level] = clean;
  render();
  queue.save(level, clean);
}

/** @param {number} grade 0-3, for the selected level. */
function setGrade(grade) {
  const current = answerOf(state.selected);
  change(state.selected, {
    genant_grade: grade,
    morphology: grade === 0 ? 'normal' : current.morphology,
    not_assessable: false,
  });
}

/** @param {string} morphology For the selected level. */
function setMorphology(morphology) {
  const current = answerOf(state.selected);
  if (morphology === 'normal') {
    change(state.selected, { genant_grade: 0, morphology, not_assessable: false });
    return;
  }
  // A fracture shape does not go with grade 0: keep the grade only if it is 1-3.
  const grade = current.genant_grade === 0 ? null : current.genant_grade;
  change(state.selected, { genant_grade: grade, morphology, not_assessable: false });
}

function toggleNotAssessable() {
  const current = answerOf(state.selected);
  change(state.selected, current.not_assessable ? { ...EMPTY } : { ...EMPTY, not_assessable: true });
}

/**
 * @param {string | null} level
 * @returns {SpineSuggestion | null} The graded suggestion for it, or null.
 */
function suggestionOf(level) {
  const s = state.data?.suggestion?.[level];
  return s && s.genant_grade !== null && s.genant_grade !== undefined ? s : null;
}

function acceptSuggestion() {
  const level = state.selected;
  if (!level) return change(null);
  const s = suggestionOf(level);
  if (!s) {
    showBanner('info', `There is no graded suggestion for ${level}; grade it yourself.`, { timeoutMs: 5000 });
    return;
  }
  change(level, suggestedAnswer(s));
}

function acceptAll() {
  if (!editable(state)) return;
  let accepted = 0;
  for (const { level } of state.levels) {
    const s = suggestionOf(level);
    if (s && isEmpty(state.answers[level])) {
      change(level, suggestedAnswer(s));
      accepted += 1;
    }
  }
  showBanner('info', accepted
    ? `Accepted ${accepted} suggestion${accepted === 1 ? '' : 's'}; answers you had given were kept.`
    : 'Nothing to accept: every level with a suggestion is answered already.', { timeoutMs: 5000 });
}

// ------------------------------------------------------------------ levels and selection

function buildLevels() {
  const data = state.data;
  const known = new Map();
  data.levels.forEach((entry, index) => {
    known.set(entry.level, { ...entry, colour: PALETTE[index % PALETTE.length] });
  });
  // Levels with a suggestion or an answer but no label (should not happen; shown anyway).
  const extra = [...Object.keys(data.suggestion || {}), ...Object.keys(state.answers)];
  for (const level of extra) {
    if (!known.has(level)) known.set(level, { level, label: null, centroid_ras_mm: null, colour: [128, 128, 128] });
  }
  state.levels = [...known.values()];
}

/**
 * @param {string | null} level
 * @returns {number} Its index in state.levels, -1 if none.
 */
function levelIndex(level) {
  return state.levels.findIndex((entry) => entry.level === level);
}

/** @type {import('./spine-viewer.js').SelectLevel} */
function select(level, { moveCrosshair = true } = {}) {
  if (!level || levelIndex(level) < 0) return;
  const changed = state.selected !== level;
  state.selected = level;
  document.body.dataset.selectedLevel = level;
  render();
  const item = document.querySelector(`#levels [data-level="${CSS.escape(level)}"]`);
  item?.scrollIntoView({ block: 'nearest' });
  if (viewer.ready) {
    if (changed) updateLabelColours();
    const entry = state.levels[levelIndex(level)];
    if (moveCrosshair && entry.centroid_ras_mm) moveCrosshairTo(entry.centroid_ras_mm);
  }
}

/** @param {number} delta Levels to move the selection by (+1: caudal). */
function step(delta) {
  if (!state.levels.length) return;
  const index = levelIndex(state.selected);
  const next = index < 0 ? 0 : Math.min(state.levels.length - 1, Math.max(0, index + delta));
  select(state.levels[next].level);
}

// ------------------------------------------------------------------ rendering

function renderLevels() {
  const list = $('levels');
  if (state.selected) list.setAttribute('aria-activedescendant', `level-${state.selected}`);
  list.replaceChildren(...state.levels.map(({ level, colour }) => {
    const answer = state.answers[level];
    const unsaved = queue.failed.has(level);
    let answerClass = 'ans';
    if (unsaved) answerClass += ' unsaved';
    else if (isEmpty(answer)) answerClass += ' none';
    else if (!isComplete(answer)) answerClass += ' incomplete';
    const swatch = h('span', { className: 'swatch', 'aria-hidden': 'true' });
    swatch.style.background = `rgb(${colour.join(',')})`;
    return h('li', {
      role: 'option',
      id: `level-${level}`,
      'aria-selected': String(level === state.selected),
      dataset: {
        level,
        grade: answer?.genant_grade ?? '',
        morphology: answer?.morphology ?? '',
        notAssessable: String(Boolean(answer?.not_assessable)),
        unsaved: String(unsaved),
      },
      onclick: () => select(level),
    },
    h('span', { className: 'lv' }, swatch, level),
    h('span', { className: 'sugg' }, suggestionText(state.data?.suggestion?.[level])),
    h('span', { className: answerClass }, unsaved ? `${gradeText(answer)} (not saved)` : gradeText(answer)));
  }));
}

function renderForm() {
  const level = state.selected;
  const answer = answerOf(level);
  $('selected-level').textContent = level ?? '–';
  const disabled = !level || isLocked(state);
  for (const grade of [0, 1, 2, 3]) {
    const input = $(`grade-${grade}`);
    input.checked = answer.genant_grade === grade;
    input.disabled = disabled;
  }
  for (const morphology of MORPHOLOGIES) {
    const input = $(`morph-${morphology}`);
    input.checked = answer.morphology === morphology;
    input.disabled = disabled;
  }
  $('not-assessable').checked = Boolean(answer.not_assessable);
  $('not-assessable').disabled = disabled;
  $('accept').disabled = disabled || !suggestionOf(level);
  $('clear-answer').disabled = disabled || isEmpty(state.answers[level]);
  $('accept-all').disabled = isLocked(state);

  const box = $('suggestion-box');
  const s = level ? state.data?.suggestion?.[level] : null;
  if (!level) {
    box.textContent = 'No level selected.';
  } else if (!s) {
    box.textContent = 'No suggestion for this level.';
  } else if (s.genant_grade === null || s.genant_grade === undefined) {
    box.textContent = 'Suggestion: not graded (the morphometry could not measure this vertebra).';
  } else {
    const loss = typeof s.height_loss_pct === 'number' ? `${s.height_loss_pct.toFixed(1)} %` : '–';
    box.replaceChildren('Suggestion: ', h('b', {}, `grade ${s.genant_grade}`), ', ',
      h('b', {}, s.morphology ?? 'morphology unknown'), `, height loss ${loss}`);
  }
  $('answer-hint').textContent = level ? missingText(answer) : '';
}

function renderCase() {
  const total = state.levels.length;
  const complete = state.levels.filter(({ level }) => isComplete(state.answers[level])).length;
  $('answered-count').textContent = `${complete} of ${total} levels`;
  renderReading(state);
}

function render() {
  if (!state.data) return;
  renderLevels();
  renderForm();
  renderCase();
}

// ------------------------------------------------------------------ case life cycle

/** @param {any} data GET /api/cases/{id} */
function applyCase(data) {
  applyReading(state, data);
  state.answers = { ...(data.reading?.answers || {}) };
  // Changes still waiting to be sent win over what the server had.
  for (const [key, value] of queue.waiting) state.answers[key] = value;
  buildLevels();
}

async function reloadCase() {
  const data = await api('GET', `/api/cases/${caseId}`);
  queue.forgetFailed();
  applyCase(data);
  updateLabelColours();
  render();
}

function wireForm() {
  for (const grade of [0, 1, 2, 3]) $(`grade-${grade}`).addEventListener('change', () => setGrade(grade));
  buildMorphologyChoices(setMorphology);
  $('not-assessable').addEventListener('change', toggleNotAssessable);
  $('accept').addEventListener('click', acceptSuggestion);
  $('accept-all').addEventListener('click', acceptAll);
  $('clear-answer').addEventListener('click', () => change(state.selected, { ...EMPTY }));
}

startReader({
  task: 'spine',
  state,
  queue,
  keys: [
    {
      keys: ['0', '1', '2', '3'], label: '0 1 2 3', run: (event) => setGrade(Number(event.key)),
      help: 'Genant grade of the selected vertebra (0 also sets morphology normal)',
    },
    {
      keys: Object.keys(MORPHOLOGY_KEYS),
      label: Object.keys(MORPHOLOGY_KEYS).join(' ').toUpperCase(),
      help: `Morphology ${FRACTURES.join(' / ')}`,
      run: (event) => setMorphology(MORPHOLOGY_KEYS[event.key.toLowerCase()]),
    },
    { keys: ['x'], label: 'X', help: 'Not assessable on / off', run: toggleNotAssessable },
    {
      keys: ['a'], shift: false, label: 'A', help: 'Accept the suggestion for the selected vertebra',
      run: acceptSuggestion,
    },
    {
      keys: ['a'], shift: true, label: 'Shift+A', help: 'Accept all suggestions not yet answered',
      run: acceptAll,
    },
    {
      keys: ['Backspace', 'Delete'], label: 'Backspace', help: "Clear the selected vertebra's answer",
      run: () => change(state.selected, { ...EMPTY }),
    },
    { keys: ['n', 'ArrowDown'], label: 'N / ↓', help: 'Next vertebra (caudal)', run: () => step(1) },
    { keys: ['p', 'ArrowUp'], label: 'P / ↑', help: 'Previous vertebra (cranial)', run: () => step(-1) },
    {
      keys: ['v'], label: 'V', help: 'Next view: sagittal, axial, coronal, multiplanar',
      run: () => setView(VIEWS[(VIEWS.indexOf(state.view) + 1) % VIEWS.length]),
    },
  ],
  notes: [{
    label: 'Mouse', plain: true,
    help: 'Left-click: move the crosshair and select the vertebra under it. Wheel: scroll slices. Right-drag or Shift+drag: window (left-right) and level (up-down). Middle-drag or Ctrl+drag: pan.',
  }],
  missing: () => state.levels.filter(({ level }) => !isComplete(state.answers[level])).map((e) => e.level),
  render,
  setup() {
    window.fracturelabViewer = {
      ready: false,
      caseId,
      get nv() { return viewer.nv; },
      get selected() { return state.selected; },
      get answers() { return state.answers; },
      get version() { return state.version; },
      select,
      drawLevelTags,
      drain: () => queue.drain(),
    };
    wireForm();
    wireViewerControls({ select });
  },
  show(data) {
    applyCase(data);
    renderCaseHeader(data, 'spine', 'spine CT');
    const firstOpen = state.levels.find(({ level }) => !isComplete(state.answers[level]));
    state.selected = (firstOpen || state.levels[0])?.level ?? null;
    if (state.selected) document.body.dataset.selectedLevel = state.selected;
    render();
    setStatus('idle', state.version === null ? 'No answers yet' : 'All answers saved');
  },
  load: startViewer,
});
