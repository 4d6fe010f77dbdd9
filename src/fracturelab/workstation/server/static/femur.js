// @ts-check
// Femur reader view: the radiograph on a canvas with window/level, zoom and pan; a click
// places the fracture centre (stored in ORIGINAL pixels), 1/2 choose AFF/NFF; every change is
// saved at once (PUT /api/cases/{id}/answers/fracture). The shell (reader.js) starts the page
// and owns the keys both reader views share; this module owns the answer and its panel. The
// canvas and its coordinates are femur-view.js, the marks femur-marks.js, the mouse
// femur-mouse.js.

import { SaveQueue, setStatus } from './autosave.js';
import { showBanner, showError } from './banners.js';
import { h } from './dom.js';
import { drawCrosshair, drawScaleBar, drawSuggestion } from './femur-marks.js';
import { wireMouse } from './femur-mouse.js';
import {
  $, fit, image, isReady, originalToScreen, requestDraw, screenToOriginal, setOverlay,
  setPreset, showImage, toggleInvert, view, windowing, zoomCentre,
} from './femur-view.js';
import { api, ApiError } from './http.js';
import {
  applyReading, caseId, DONE_LOCKED, editable, isLocked, renderCaseHeader, renderReading,
  startReader,
} from './reader.js';

/**
 * The answer, as PUT /api/cases/{id}/answers/fracture takes it (centre in original pixels).
 * @typedef {object} FemurAnswer
 * @property {number | null} center_x
 * @property {number | null} center_y
 * @property {string | null} label 'AFF', 'NFF' or null.
 * @property {boolean} not_assessable
 */

const KEY = 'fracture';
/** @type {Readonly<FemurAnswer>} */
const EMPTY = Object.freeze({ center_x: null, center_y: null, label: null, not_assessable: false });

/** @type {import('./reader.js').ReadingState & {answer: FemurAnswer}} */
const state = {
  data: null,
  version: null,
  status: 'new',
  answer: { ...EMPTY },
  timeSpent: 0,
};

const queue = new SaveQueue(caseId, {
  getVersion: () => state.version,
  setVersion: (version) => { state.version = version; },
  onSaved: (key, value) => {
    if (!queue.waiting.has(key)) state.answer = value;
    if (state.status === 'new') state.status = 'open';
    render();
  },
  onFailed: () => render(),
  onConflict: async () => {
    await reloadCase();
    showBanner('warning', 'This case was changed in another tab/window — reloaded. Check the answer before you go on.', { timeoutMs: 12000 });
  },
  onDone: async () => {
    await reloadCase();
    showBanner('warning', `This case was marked done in another tab/window, so your last change was not saved. ${DONE_LOCKED}`, { timeoutMs: 12000 });
  },
});

/**
 * @param {number} value
 * @returns {number} Rounded to 0.1.
 */
function round1(value) {
  return Math.round(value * 10) / 10;
}

// ------------------------------------------------------------------ answers

/**
 * @param {FemurAnswer} answer
 * @returns {boolean} Not assessable, or both centre and type given.
 */
function isComplete(answer) {
  return answer.not_assessable || (answer.center_x !== null && answer.label !== null);
}

/**
 * Change the answer and save it, unless nothing changes.
 * @param {FemurAnswer} value
 */
function change(value) {
  if (!editable(state)) return;
  const clean = value.not_assessable ? { ...EMPTY, not_assessable: true } : { ...value, not_assessable: false };
  const before = state.answer;
  if (before.center_x === clean.center_x && before.center_y === clean.center_y && before.label === clean.label
      && before.not_assessable === clean.not_assessable && !queue.failed.has(KEY)) {
    return;
  }
  state.answer = clean;
  render();
  queue.save(KEY, clean);
}

/**
 * Place the fracture centre (clamped to the image, rounded to 0.1 pixel).
 * @param {number} x Original pixel.
 * @param {number} y
 */
function placeCentre(x, y) {
  const clampedX = Math.min(Math.max(x, -0.5), image.width - 0.5);
  const clampedY = Math.min(Math.max(y, -0.5), image.height - 0.5);
  change({ ...state.answer, center_x: round1(clampedX), center_y: round1(clampedY), not_assessable: false });
}

/** @param {'AFF' | 'NFF'} label */
function setLabel(label) {
  change({ ...state.answer, label, not_assessable: false });
}

function toggleNotAssessable() {
  change(state.answer.not_assessable ? { ...EMPTY } : { ...EMPTY, not_assessable: true });
}

function clearCentre() {
  change({ ...state.answer, center_x: null, center_y: null });
}

function acceptSuggestion() {
  const s = state.data?.suggestion;
  if (!s) {
    showBanner('info', 'There is no suggestion for this image.', { timeoutMs: 4000 });
    return;
  }
  const hasCentre = typeof s.center_x === 'number' && typeof s.center_y === 'number';
  change({
    center_x: hasCentre ? s.center_x : state.answer.center_x,
    center_y: hasCentre ? s.center_y : state.answer.center_y,
    label: s.label ?? state.answer.label,
    not_assessable: false,
  });
}

// The suggestion, the reader's centre and the scale bar over the image.
setOverlay((ctx, width, height) => {
  const s = state.data?.suggestion;
  if (s && typeof s.center_x === 'number' && typeof s.center_y === 'number') drawSuggestion(ctx, s);
  const a = state.answer;
  if (a.center_x !== null && a.center_y !== null) drawCrosshair(ctx, a.center_x, a.center_y, '#ffd166');
  drawScaleBar(ctx, width, height);
});

// ------------------------------------------------------------------ rendering the panel

/** Redraw the answer panel and the image's marks. */
function render() {
  if (!state.data) return;
  const a = state.answer;
  const hasCentre = a.center_x !== null && a.center_y !== null;
  $('centre-px').textContent = a.not_assessable ? 'not assessable'
    : hasCentre ? `x ${a.center_x.toFixed(1)}, y ${a.center_y.toFixed(1)} px` : 'not placed — click the image';
  $('centre-mm').textContent = hasCentre && image.spacing
    ? `${(a.center_x * image.spacing).toFixed(1)}, ${(a.center_y * image.spacing).toFixed(1)} mm from the top left`
    : '';
  const readOnly = isLocked(state);
  $('clear-centre').disabled = !hasCentre || readOnly;
  $('label-AFF').checked = a.label === 'AFF';
  $('label-NFF').checked = a.label === 'NFF';
  $('not-assessable').checked = Boolean(a.not_assessable);
  for (const id of ['label-AFF', 'label-NFF', 'not-assessable']) $(id).disabled = readOnly;
  let hint = '';
  if (!a.not_assessable && hasCentre && !a.label) hint = 'Choose AFF (1) or NFF (2) to complete the answer.';
  else if (!a.not_assessable && !hasCentre && a.label) hint = 'Click the fracture in the image to place its centre.';
  $('answer-hint').textContent = hint;

  const s = state.data.suggestion;
  $('accept').disabled = !s || readOnly;
  if (s) {
    /** @type {(Node | string)[]} */
    const parts = [h('b', {}, s.label ?? 'no type')];
    if (typeof s.p_aff === 'number') parts.push(`, p(AFF) ${s.p_aff.toFixed(2)}`);
    if (typeof s.center_x === 'number') parts.push(`, centre x ${s.center_x.toFixed(1)}, y ${s.center_y.toFixed(1)} px`);
    $('suggestion-box').replaceChildren('Suggestion: ', ...parts, ' (dashed circle).');
  }

  renderReading(state);
  const unsaved = queue.failed.has(KEY);
  document.body.dataset.unsaved = String(unsaved);
  requestDraw();
}

/** The parts of the panel that do not change while the case is read. */
function renderStatic() {
  const data = state.data;
  renderCaseHeader(data, 'femur', 'femur radiograph');
  const img = data.image;
  $('image-size').textContent = `${img.width_px} × ${img.height_px} px`
    + (img.display_width_px !== img.width_px ? ` (shown at ${img.display_width_px} × ${img.display_height_px})` : '');
  $('spacing').textContent = img.pixel_spacing_mm ? `${Number(img.pixel_spacing_mm).toFixed(3)} mm` : 'unknown (positions in pixels only)';
}

// ------------------------------------------------------------------ case life cycle

/** @param {any} data GET /api/cases/{id} */
function applyCase(data) {
  applyReading(state, data);
  state.answer = { ...EMPTY, ...(data.reading?.answers?.[KEY] || {}) };
  if (queue.waiting.has(KEY)) state.answer = queue.waiting.get(KEY);
}

async function reloadCase() {
  const data = await api('GET', `/api/cases/${caseId}`);
  queue.forgetFailed();
  applyCase(data);
  render();
}

/** Load the radiograph (uint16 display pixels) and show it; on failure #loading says why. */
async function loadImage() {
  const img = state.data.image;
  const loading = $('loading');
  let buffer;
  try {
    buffer = await api('GET', img.url, { raw: true });
  } catch (error) {
    loading.textContent = `The radiograph could not be loaded: ${error instanceof ApiError ? error.detail : error}`;
    return;
  }
  const expected = img.display_width_px * img.display_height_px;
  if (buffer.byteLength !== expected * 2) {
    const message = `The radiograph has ${buffer.byteLength} bytes, not ${expected * 2} (${img.display_width_px} × ${img.display_height_px} uint16); reload the page.`;
    loading.textContent = message;
    showError(message);
    return;
  }
  // Little-endian uint16 as the API says; swap on a big-endian machine.
  const pixels = new Uint16Array(buffer);
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] === 0) {
    const view16 = new DataView(buffer);
    for (let i = 0; i < pixels.length; i += 1) pixels[i] = view16.getUint16(i * 2, true);
  }
  loading.hidden = true;
  showImage(pixels, img);
  document.body.dataset.viewerReady = 'true';
  window.fracturelabFemur.ready = true;
}

/** Wire the toolbar and the answer form. */
function wireControls() {
  for (const name of /** @type {const} */ (['full', 'auto', 'bone'])) {
    $(`window-${name}`).addEventListener('click', () => isReady() && setPreset(name));
  }
  $('invert').addEventListener('click', () => isReady() && toggleInvert());
  $('fit').addEventListener('click', () => isReady() && fit());
  $('zoom-in').addEventListener('click', () => isReady() && zoomCentre(1.25));
  $('zoom-out').addEventListener('click', () => isReady() && zoomCentre(0.8));
  $('label-AFF').addEventListener('change', () => setLabel('AFF'));
  $('label-NFF').addEventListener('change', () => setLabel('NFF'));
  $('not-assessable').addEventListener('change', toggleNotAssessable);
  $('accept').addEventListener('click', acceptSuggestion);
  $('clear-centre').addEventListener('click', clearCentre);
}

startReader({
  task: 'femur',
  state,
  queue,
  keys: [
    { label: 'Click', plain: true, help: 'Place or move the fracture centre (a click without dragging)' },
    {
      keys: ['1', '2'], label: '1 / 2', help: 'Atypical (AFF) / normal (NFF) femur fracture',
      run: (event) => setLabel(event.key === '1' ? 'AFF' : 'NFF'),
    },
    { keys: ['x'], label: 'X', help: 'Not assessable on / off', run: toggleNotAssessable },
    {
      keys: ['a'], shift: false, label: 'A', help: 'Accept the suggestion (centre and type)',
      run: acceptSuggestion,
    },
    { keys: ['Backspace', 'Delete'], label: 'Backspace', help: 'Remove the centre', run: clearCentre },
    {
      keys: ['+', '=', '-', '_'], label: '+ / −', help: 'Zoom in / out (or the mouse wheel)',
      enabled: isReady, run: (event) => zoomCentre('+='.includes(event.key) ? 1.25 : 0.8),
    },
    { keys: ['f'], label: 'F', help: 'Fit the image to the window', enabled: isReady, run: fit },
    { keys: ['i'], label: 'I', help: 'Invert grey levels', enabled: isReady, run: toggleInvert },
  ],
  notes: [{
    label: 'Mouse', plain: true,
    help: 'Drag: pan. Right-drag or Shift+drag: window (left-right) and level (up-down).',
  }],
  missing: () => (isComplete(state.answer) ? [] : ['the fracture']),
  render,
  setup() {
    window.fracturelabFemur = {
      ready: false,
      caseId,
      view,
      image,
      windowing,
      screenToOriginal,
      originalToScreen,
      get answer() { return state.answer; },
      drain: () => queue.drain(),
    };
    wireControls();
    wireMouse({ onClick: placeCentre });
  },
  show(data) {
    applyCase(data);
    renderStatic();
    render();
    setStatus('idle', state.version === null ? 'No answer yet' : 'Answer saved');
  },
  load: loadImage,
});
