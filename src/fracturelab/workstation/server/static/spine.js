// @ts-check
// Spine reader view: CT + vertebra label map in NiiVue, Genant grade and morphology per level,
// every change saved at once (PUT /api/cases/{id}/answers/{level}). The shell (reader.js)
// starts the page and owns the keys both reader views share.

import { SaveQueue, setStatus } from './autosave.js';
import { showBanner, showError } from './banners.js';
import { h } from './dom.js';
import { api, ApiError } from './http.js';
import {
  applyReading, caseId, DONE_LOCKED, editable, isLocked, renderCaseHeader, renderReading,
  startReader,
} from './reader.js';

const WINDOWS = {
  bone: { width: 2000, level: 500 },
  soft: { width: 400, level: 40 },
};
const VIEWS = ['sagittal', 'axial', 'coronal', 'multiplanar'];
const MORPHOLOGIES = ['normal', 'wedge', 'biconcave', 'crush'];
// Distinct, muted hues for neighbouring vertebrae (RGB 0-255).
const PALETTE = [
  [230, 159, 0], [86, 180, 233], [0, 158, 115], [240, 228, 66], [204, 121, 167],
  [213, 94, 0], [0, 114, 178], [170, 220, 120], [255, 140, 140], [160, 140, 255],
];
const EMPTY = Object.freeze({ genant_grade: null, morphology: null, not_assessable: false });

/**
 * @param {string} id
 * @returns {any} The element (spine.html has every id this file asks for).
 */
const $ = (id) => document.getElementById(id);

const state = {
  data: null, // GET /api/cases/{id}
  version: null,
  status: 'new',
  answers: {}, // level -> answer
  levels: [], // [{level, label, centroid_ras_mm, colour}]
  selected: null,
  view: 'sagittal',
  timeSpent: 0,
};

let nv = null;
let viewerReady = false;
let pointerSelecting = false;
let movingCrosshair = false;

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

function answerOf(level) {
  return state.answers[level] || EMPTY;
}

function isEmpty(answer) {
  return !answer || (answer.genant_grade === null && answer.morphology === null && !answer.not_assessable);
}

function isComplete(answer) {
  if (!answer) return false;
  if (answer.not_assessable) return true;
  return answer.genant_grade !== null && answer.morphology !== null;
}

/** The same rules as the server: not assessable clears the rest, grade 0 means normal. */
function normalise(answer) {
  if (answer.not_assessable) return { genant_grade: null, morphology: null, not_assessable: true };
  let { genant_grade: grade, morphology } = answer;
  if (grade === 0) morphology = 'normal';
  if (grade !== null && grade > 0 && morphology === 'normal') morphology = null;
  return { genant_grade: grade, morphology, not_assessable: false };
}

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

function setGrade(grade) {
  const current = answerOf(state.selected);
  change(state.selected, {
    genant_grade: grade,
    morphology: grade === 0 ? 'normal' : current.morphology,
    not_assessable: false,
  });
}

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

function suggestionOf(level) {
  const s = state.data?.suggestion?.[level];
  return s && s.genant_grade !== null && s.genant_grade !== undefined ? s : null;
}

function suggestedAnswer(s) {
  return {
    genant_grade: s.genant_grade,
    morphology: s.genant_grade === 0 ? 'normal' : (s.morphology ?? null),
    not_assessable: false,
  };
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

function levelIndex(level) {
  return state.levels.findIndex((entry) => entry.level === level);
}

function select(level, { moveCrosshair = true } = {}) {
  if (!level || levelIndex(level) < 0) return;
  const changed = state.selected !== level;
  state.selected = level;
  document.body.dataset.selectedLevel = level;
  render();
  const item = document.querySelector(`#levels [data-level="${CSS.escape(level)}"]`);
  item?.scrollIntoView({ block: 'nearest' });
  if (viewerReady) {
    if (changed) updateLabelColours();
    const entry = state.levels[levelIndex(level)];
    if (moveCrosshair && entry.centroid_ras_mm) moveCrosshairTo(entry.centroid_ras_mm);
  }
}

function step(delta) {
  if (!state.levels.length) return;
  const index = levelIndex(state.selected);
  const next = index < 0 ? 0 : Math.min(state.levels.length - 1, Math.max(0, index + delta));
  select(state.levels[next].level);
}

// ------------------------------------------------------------------ rendering

function gradeText(answer) {
  if (!answer || isEmpty(answer)) return '—';
  if (answer.not_assessable) return 'not assessable';
  const grade = answer.genant_grade === null ? 'grade?' : `G${answer.genant_grade}`;
  const morphology = answer.morphology === null ? 'shape?' : answer.morphology;
  return answer.genant_grade === 0 ? 'G0 normal' : `${grade} ${morphology}`;
}

function suggestionText(level) {
  const s = state.data?.suggestion?.[level];
  if (!s) return 'none';
  if (s.genant_grade === null || s.genant_grade === undefined) return 'not graded';
  const loss = typeof s.height_loss_pct === 'number' ? ` · ${s.height_loss_pct.toFixed(0)} %` : '';
  return `${gradeText({ genant_grade: s.genant_grade, morphology: s.morphology ?? null, not_assessable: false })}${loss}`;
}

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
    h('span', { className: 'sugg' }, suggestionText(level)),
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
  let hint = '';
  if (level && !answer.not_assessable && answer.genant_grade > 0 && answer.morphology === null) {
    hint = 'Choose the morphology (W, B or C) to complete this answer.';
  } else if (level && !answer.not_assessable && answer.genant_grade === null && answer.morphology !== null) {
    hint = 'Choose the grade (1-3) to complete this answer.';
  }
  $('answer-hint').textContent = hint;
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

// ------------------------------------------------------------------ viewer

function labelLut() {
  const R = [0], G = [0], B = [0], A = [0], I = [0], labels = [''];
  for (const { level, label, colour } of state.levels) {
    if (label === null) continue;
    // The selected vertebra in full colour, the others dimmed. With outlines the fill is
    // transparent, so the bone inside stays visible.
    const k = level === state.selected ? 1 : 0.5;
    R.push(Math.round(colour[0] * k)); G.push(Math.round(colour[1] * k)); B.push(Math.round(colour[2] * k));
    A.push(outline() ? 0 : 255);
    I.push(label);
    labels.push(level);
  }
  return { R, G, B, A, I, labels };
}

function outline() {
  return $('label-outline').checked;
}

function updateLabelColours() {
  if (!viewerReady || nv.volumes.length < 2) return;
  nv.volumes[1].setColormapLabel(labelLut());
  // Only the label layer changed: refresh it alone (updateGLVolume redoes every layer).
  nv.refreshLayers(nv.volumes[1], 1);
  nv.drawScene();
}

// ------------------------------------------------------------------ level names on the image

// NiiVue draws text labels only in 3D renderings, so the level names of the 2D views are HTML
// elements over the canvas, placed from NiiVue's tiles (screenSlices: where each 2D slice is
// drawn, in canvas pixels and slice millimetres, as nv.frac2canvasPos reads them).
const AXIS_OF_TILE = { 0: 2, 1: 1, 2: 0 }; // axial, coronal, sagittal -> depth axis (frac)
const ACROSS_TILE = { 0: 0, 1: 0, 2: 1 }; // the frac axis drawn left-right on each tile
let labelBoxes = null; // label value -> [min, max] of its voxels per axis, in the CT's frac space
let tagsQueued = false;

/** Per label value, the extent of its voxels along each axis (in NiiVue's frac space). */
function labelExtents() {
  const volume = nv.volumes[1];
  const data = volume.img2RAS();
  const [, nx, ny, nz] = volume.dimsRAS;
  const voxels = new Map();
  let i = 0;
  for (let z = 0; z < nz; z += 1) {
    for (let y = 0; y < ny; y += 1) {
      for (let x = 0; x < nx; x += 1, i += 1) {
        const value = data[i];
        if (!value) continue;
        const box = voxels.get(value);
        if (!box) {
          voxels.set(value, [x, y, z, x, y, z]);
        } else {
          if (x < box[0]) box[0] = x; if (x > box[3]) box[3] = x;
          if (y < box[1]) box[1] = y; if (y > box[4]) box[4] = y;
          if (z < box[2]) box[2] = z; if (z > box[5]) box[5] = z;
        }
      }
    }
  }
  const boxes = new Map();
  for (const [value, box] of voxels) {
    // voxel faces -> the label volume's frac -> mm -> the CT's frac (the same grid as a rule)
    const corners = [[box[0], box[1], box[2]], [box[3] + 1, box[4] + 1, box[5] + 1]].map(
      ([x, y, z]) => nv.mm2frac(volume.convertFrac2MM([x / nx, y / ny, z / nz])),
    );
    const low = [0, 1, 2].map((k) => Math.min(corners[0][k], corners[1][k]));
    const high = [0, 1, 2].map((k) => Math.max(corners[0][k], corners[1][k]));
    boxes.set(Math.round(value), [low, high]);
  }
  return boxes;
}

/** Canvas pixel of a frac point on a 2D tile (the arithmetic of nv.frac2canvasPos, per tile). */
function tilePoint(tile, frac) {
  let mm = nv.frac2mm(frac);
  if (tile.axCorSag === 1) mm = [mm[0], mm[2], mm[1]];
  else if (tile.axCorSag === 2) mm = [mm[1], mm[2], mm[0]];
  let fx = (mm[0] - tile.leftTopMM[0]) / tile.fovMM[0];
  const fy = (mm[1] - tile.leftTopMM[1]) / tile.fovMM[1];
  if (!(fx >= 0 && fx <= 1 && fy >= 0 && fy <= 1)) return null;
  const [left, top, width, height] = tile.leftTopWidthHeight;
  let x0 = left;
  let w = width;
  if (w < 0) { x0 += w; w = -w; fx = 1 - fx; }
  return { x: x0 + fx * w, y: top + (1 - fy) * height, left: x0 };
}

function queueLevelTags() {
  if (tagsQueued) return;
  tagsQueued = true;
  requestAnimationFrame(drawLevelTags);
}

/** Write each vertebra's level name next to it on every 2D view that cuts through it. */
function drawLevelTags() {
  tagsQueued = false;
  const layer = $('level-tags');
  if (!viewerReady || nv.volumes.length < 2 || !$('level-names').checked) {
    layer.replaceChildren();
    layer.dataset.count = '0';
    return;
  }
  if (!labelBoxes) labelBoxes = labelExtents();
  const canvas = $('gl');
  const css = canvas.clientWidth / canvas.width; // CSS pixels per canvas pixel
  const tags = [];
  for (const tile of nv.screenSlices) {
    const axis = AXIS_OF_TILE[tile.axCorSag];
    if (axis === undefined || !tile.fovMM || tile.AxyzMxy.length < 4) continue;
    const depth = nv.scene.crosshairPos[axis];
    for (const { level, label, centroid_ras_mm: centroid, colour } of state.levels) {
      const box = label === null ? null : labelBoxes.get(label);
      if (!box || !centroid || depth < box[0][axis] || depth > box[1][axis]) continue;
      const frac = Array.from(nv.mm2frac(centroid));
      frac[axis] = depth; // the centroid moved onto the slice shown
      const point = tilePoint(tile, frac);
      if (!point) continue;
      // The name goes beside the vertebra: just left of its leftmost voxel at this height
      // (right of its rightmost one when there is no room on the left).
      const across = ACROSS_TILE[tile.axCorSag];
      const edges = [box[0][across], box[1][across]].map((value) => {
        const side = frac.slice();
        side[across] = Math.min(1, Math.max(0, value));
        return tilePoint(tile, side)?.x ?? point.x;
      });
      const x = point.x * css;
      const y = point.y * css;
      const leftEdge = Math.min(...edges) * css;
      const rightEdge = Math.max(...edges) * css;
      const right = leftEdge - (8 * level.length + 24) < point.left * css; // no room on the left
      const tag = h('div', {
        className: `level-tag${right ? ' right' : ''}${level === state.selected ? ' selected' : ''}`,
        dataset: { level, tile: String(tile.axCorSag), x: x.toFixed(1), y: y.toFixed(1) },
      }, h('span', { className: 'name' }, level), h('span', { className: 'leader' }));
      tag.style.left = `${right ? rightEdge + 2 : leftEdge - 2}px`;
      tag.style.top = `${y}px`;
      tag.style.setProperty('--tag-colour', `rgb(${colour.join(',')})`);
      tags.push(tag);
    }
  }
  layer.replaceChildren(...tags);
  layer.dataset.count = String(tags.length);
}

function moveCrosshairTo(mm) {
  movingCrosshair = true;
  try {
    nv.scene.crosshairPos = nv.mm2frac(mm);
    nv.drawScene();
    nv.createOnLocationChange();
  } finally {
    movingCrosshair = false;
  }
}

function setView(view) {
  state.view = view;
  for (const name of VIEWS) $(`view-${name}`).setAttribute('aria-pressed', String(name === view));
  if (!viewerReady) return;
  const { SLICE_TYPE } = window.niivue;
  const types = {
    sagittal: SLICE_TYPE.SAGITTAL, axial: SLICE_TYPE.AXIAL, coronal: SLICE_TYPE.CORONAL, multiplanar: SLICE_TYPE.MULTIPLANAR,
  };
  nv.setSliceType(types[view]);
  document.body.dataset.view = view;
}

function setWindow(name) {
  const preset = WINDOWS[name];
  for (const key of Object.keys(WINDOWS)) $(`window-${key}`).setAttribute('aria-pressed', String(key === name));
  if (!viewerReady) return;
  const volume = nv.volumes[0];
  volume.cal_min = preset.level - preset.width / 2;
  volume.cal_max = preset.level + preset.width / 2;
  nv.refreshLayers(volume, 0);
  nv.drawScene();
  showWindow();
}

function showWindow() {
  if (!viewerReady) return;
  const { cal_min: low, cal_max: high } = nv.volumes[0];
  const width = Math.round(high - low);
  const level = Math.round((high + low) / 2);
  $('window-readout').textContent = `W ${width} / L ${level}`;
  for (const [key, preset] of Object.entries(WINDOWS)) {
    const same = Math.abs(preset.width - width) < 1 && Math.abs(preset.level - level) < 1;
    $(`window-${key}`).setAttribute('aria-pressed', String(same));
  }
}

function setOverlayOpacity() {
  if (!viewerReady || nv.volumes.length < 2) return;
  nv.setOpacity(1, Number($('label-opacity').value) / 100);
}

function onLocation(location) {
  const mm = location.mm;
  $('loc-mm').textContent = mm ? `${mm[0].toFixed(1)}, ${mm[1].toFixed(1)}, ${mm[2].toFixed(1)} mm` : '–';
  const ct = location.values?.[0]?.value;
  $('loc-value').textContent = typeof ct === 'number' && Number.isFinite(ct) ? `${Math.round(ct)} HU` : '–';
  const label = location.values?.[1]?.value;
  const entry = state.levels.find((e) => e.label !== null && e.label === Math.round(label));
  $('loc-label').textContent = entry ? entry.level : (label ? `label ${Math.round(label)}` : 'none');
  if (pointerSelecting && !movingCrosshair && entry && entry.level !== state.selected) {
    select(entry.level, { moveCrosshair: false });
  }
}

function isGzip(buffer) {
  const bytes = new Uint8Array(buffer, 0, 2);
  return bytes[0] === 0x1f && bytes[1] === 0x8b;
}

async function startViewer() {
  const canvas = $('gl');
  const loading = $('loading');
  if (!window.niivue) {
    loading.textContent = 'The image viewer (NiiVue) did not load; reload the page.';
    showError('The image viewer (NiiVue) did not load; reload the page.');
    return;
  }
  const { Niivue, DRAG_MODE, SHOW_RENDER } = window.niivue;
  nv = new Niivue({
    backColor: [0, 0, 0, 1],
    crosshairColor: [0.35, 0.75, 1.0, 0.8],
    crosshairWidth: 0.15, // percent of the field of view: thin on any voxel size
    crosshairWidthUnit: 'percent',
    crosshairGap: 6,
    isRadiologicalConvention: true,
    sagittalNoseLeft: true,
    dragAndDropEnabled: false,
    isColorbar: false,
    isOrientCube: false,
    multiplanarShowRender: SHOW_RENDER.NEVER,
    clipPlaneHotKey: 'FracturelabNone',
    viewModeHotKey: 'FracturelabNone',
    loadingText: '',
    logLevel: 'warn',
  });
  try {
    await nv.attachToCanvas(canvas);
  } catch (error) {
    loading.textContent = 'This browser cannot show the CT (WebGL2 is missing or disabled).';
    showError('This browser cannot show the CT: WebGL2 is missing or disabled. Use a current Chrome, Edge or Firefox with hardware acceleration on.');
    return;
  }
  nv.setMouseEventConfig({
    leftButton: { primary: DRAG_MODE.crosshair, withShift: DRAG_MODE.windowing, withCtrl: DRAG_MODE.pan },
    rightButton: DRAG_MODE.windowing,
    centerButton: DRAG_MODE.pan,
  });
  nv.onLocationChange = onLocation;
  // Every redraw (slice, zoom, pan, resize, view) moves the level names along.
  const drawScene = nv.drawScene.bind(nv);
  nv.drawScene = (...args) => {
    const result = drawScene(...args);
    queueLevelTags();
    return result;
  };

  let buffers;
  try {
    loading.textContent = 'Loading CT and label map…';
    buffers = await Promise.all([
      api('GET', state.data.image.url, { raw: true }),
      state.data.labels ? api('GET', state.data.labels.url, { raw: true }) : Promise.resolve(null),
    ]);
  } catch (error) {
    loading.textContent = `Images could not be loaded: ${error instanceof ApiError ? error.detail : error}`;
    return;
  }
  const [image, labels] = buffers;
  const preset = WINDOWS.bone;
  /** @type {Record<string, any>[]} */
  const volumes = [{
    url: image,
    name: isGzip(image) ? 'ct.nii.gz' : 'ct.nii',
    colormap: 'gray',
    cal_min: preset.level - preset.width / 2,
    cal_max: preset.level + preset.width / 2,
  }];
  if (labels) {
    volumes.push({ url: labels, name: isGzip(labels) ? 'labels.nii.gz' : 'labels.nii', opacity: Number($('label-opacity').value) / 100 });
  }
  try {
    await nv.loadVolumes(volumes);
  } catch (error) {
    loading.textContent = `The viewer could not read the images: ${error.message || error}`;
    showError(`The viewer could not read the images of this case: ${error.message || error}`);
    return;
  }
  viewerReady = true;
  nv.volumes[0].cal_min = preset.level - preset.width / 2;
  nv.volumes[0].cal_max = preset.level + preset.width / 2;
  if (nv.volumes.length > 1) {
    // NiiVue draws label outlines only for volumes with the NIfTI label intent.
    nv.volumes[1].hdr.intent_code = 1002;
    nv.opts.atlasOutline = outline() ? 1 : 0;
    nv.volumes[1].setColormapLabel(labelLut());
    nv.volumes[1].opacity = Number($('label-opacity').value) / 100;
  }
  nv.updateGLVolume();
  setView(state.view);
  showWindow();
  loading.hidden = true;
  if (state.selected) select(state.selected);
  document.body.dataset.viewerReady = 'true';
  window.fracturelabViewer.ready = true;
}

function wireViewerControls() {
  for (const view of VIEWS) $(`view-${view}`).addEventListener('click', () => setView(view));
  for (const name of Object.keys(WINDOWS)) $(`window-${name}`).addEventListener('click', () => setWindow(name));
  $('label-opacity').addEventListener('input', setOverlayOpacity);
  $('level-names').addEventListener('change', queueLevelTags);
  $('label-outline').addEventListener('change', () => {
    if (!viewerReady || nv.volumes.length < 2) return;
    nv.opts.atlasOutline = outline() ? 1 : 0;
    updateLabelColours();
  });
  const canvas = $('gl');
  canvas.addEventListener('pointerdown', (event) => {
    pointerSelecting = event.button === 0 && !event.shiftKey && !event.ctrlKey && !event.metaKey;
  }, true);
  window.addEventListener('pointerup', () => {
    setTimeout(() => { pointerSelecting = false; }, 0);
    showWindow();
  }, true);
  canvas.addEventListener('pointermove', (event) => {
    if (event.buttons) showWindow();
  });
  canvas.addEventListener('contextmenu', (event) => event.preventDefault());
}

// ------------------------------------------------------------------ case life cycle

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
  for (const morphology of MORPHOLOGIES) $(`morph-${morphology}`).addEventListener('change', () => setMorphology(morphology));
  $('not-assessable').addEventListener('change', toggleNotAssessable);
  $('accept').addEventListener('click', acceptSuggestion);
  $('accept-all').addEventListener('click', acceptAll);
  $('clear-answer').addEventListener('click', () => change(state.selected, { ...EMPTY }));
}

/** @type {Record<string, string>} */
const MORPHOLOGY_KEYS = { w: 'wedge', b: 'biconcave', c: 'crush' };

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
      keys: ['w', 'b', 'c'], label: 'W B C', help: 'Morphology wedge / biconcave / crush',
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
      get nv() { return nv; },
      get selected() { return state.selected; },
      get answers() { return state.answers; },
      get version() { return state.version; },
      select,
      drawLevelTags,
      drain: () => queue.drain(),
    };
    wireForm();
    wireViewerControls();
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
