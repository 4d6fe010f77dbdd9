// @ts-check
// Femur reader view: the radiograph on a canvas with window/level, zoom and pan; a click
// places the fracture centre (stored in ORIGINAL pixels), 1/2 choose AFF/NFF; every change is
// saved at once (PUT /api/cases/{id}/answers/fracture).
//
// Coordinates. The server sends the image resampled to display_width_px x display_height_px.
// On screen, display pixel i covers [tx + i*s, tx + (i+1)*s) CSS pixels of the canvas (s:
// scale, tx/ty: offset). A canvas point (cx, cy) is the continuous display position
// u = (cx - tx) / s, i.e. display pixel index x_display = u - 0.5, and the original pixel
// x_orig = (x_display + 0.5) * width_px / display_width_px - 0.5 (docs/workstation-api.md).
// The shell (reader.js) starts the page and owns the keys both reader views share.

import { SaveQueue, setStatus } from './autosave.js';
import { showBanner, showError } from './banners.js';
import { h } from './dom.js';
import { api, ApiError } from './http.js';
import {
  applyReading, caseId, DONE_LOCKED, editable, isLocked, renderCaseHeader, renderReading,
  startReader,
} from './reader.js';

const KEY = 'fracture';
const EMPTY = Object.freeze({ center_x: null, center_y: null, label: null, not_assessable: false });
const CLICK_SLOP_PX = 4;
const MAX_SCALE = 16;

/**
 * @param {string} id
 * @returns {any} The element (femur.html has every id this file asks for).
 */
const $ = (id) => document.getElementById(id);

const state = {
  data: null,
  version: null,
  status: 'new',
  answer: { ...EMPTY },
  timeSpent: 0,
};

const image = {
  pixels: null, // Uint16Array, display size, row-major
  width: 0, // original
  height: 0,
  displayWidth: 0,
  displayHeight: 0,
  spacing: null, // mm per original pixel
  histogram: null,
};

const view = { scale: 1, tx: 0, ty: 0, fitted: true };
const windowing = { low: 0, high: 65535, invert: false, preset: 'full' };

const canvas = $('xray');
const ctx = canvas.getContext('2d');
const bitmap = document.createElement('canvas'); // the windowed display image, 1:1
let bitmapDirty = true;
let drawQueued = false;
let ready = false;

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

// ------------------------------------------------------------------ coordinates

/** Canvas CSS pixel -> original image pixel [x, y] (continuous). */
function screenToOriginal(cx, cy) {
  const u = (cx - view.tx) / view.scale;
  const v = (cy - view.ty) / view.scale;
  return [u * image.width / image.displayWidth - 0.5, v * image.height / image.displayHeight - 0.5];
}

/** Original image pixel -> canvas CSS pixel. */
function originalToScreen(x, y) {
  const u = (x + 0.5) * image.displayWidth / image.width;
  const v = (y + 0.5) * image.displayHeight / image.height;
  return [view.tx + u * view.scale, view.ty + v * view.scale];
}

function insideImage(cx, cy) {
  const u = (cx - view.tx) / view.scale;
  const v = (cy - view.ty) / view.scale;
  return u >= 0 && v >= 0 && u <= image.displayWidth && v <= image.displayHeight;
}

function round1(value) {
  return Math.round(value * 10) / 10;
}

// ------------------------------------------------------------------ answers

function isComplete(answer) {
  return answer.not_assessable || (answer.center_x !== null && answer.label !== null);
}

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

function placeCentre(x, y) {
  const clampedX = Math.min(Math.max(x, -0.5), image.width - 0.5);
  const clampedY = Math.min(Math.max(y, -0.5), image.height - 0.5);
  change({ ...state.answer, center_x: round1(clampedX), center_y: round1(clampedY), not_assessable: false });
}

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

// ------------------------------------------------------------------ windowing

function buildHistogram() {
  const histogram = new Uint32Array(65536);
  const pixels = image.pixels;
  for (let i = 0; i < pixels.length; i += 1) histogram[pixels[i]] += 1;
  image.histogram = histogram;
}

/** The value below which `fraction` of the pixels >= `from` lie. */
function percentile(fraction, from = 0) {
  const histogram = image.histogram;
  let count = 0;
  for (let value = from; value < 65536; value += 1) count += histogram[value];
  const target = fraction * count;
  let sum = 0;
  for (let value = from; value < 65536; value += 1) {
    sum += histogram[value];
    if (sum >= target) return value;
  }
  return 65535;
}

function setPreset(name) {
  if (name === 'full') {
    windowing.low = 0;
    windowing.high = 65535;
  } else if (name === 'auto') {
    windowing.low = percentile(0.01);
    windowing.high = Math.max(windowing.low + 1, percentile(0.99));
  } else if (name === 'bone') {
    // The brighter part of what is not background (air, collimation: the darkest 2 %).
    const floor = Math.round(0.02 * 65535);
    windowing.low = percentile(0.5, floor);
    windowing.high = Math.max(windowing.low + 1, percentile(0.998, floor));
  }
  windowing.preset = name;
  bitmapDirty = true;
  requestDraw();
}

function setWindowLevel(width, level) {
  const w = Math.min(65535 * 2, Math.max(2, width));
  windowing.low = level - w / 2;
  windowing.high = level + w / 2;
  windowing.preset = null;
  bitmapDirty = true;
  requestDraw();
}

function renderBitmap() {
  const width = image.displayWidth;
  const height = image.displayHeight;
  if (bitmap.width !== width || bitmap.height !== height) {
    bitmap.width = width;
    bitmap.height = height;
  }
  const bctx = bitmap.getContext('2d');
  const data = bctx.createImageData(width, height);
  const out = new Uint32Array(data.data.buffer);
  const lut = new Uint32Array(65536);
  const { low, high, invert } = windowing;
  const span = Math.max(1e-6, high - low);
  for (let value = 0; value < 65536; value += 1) {
    let grey = Math.round(((value - low) / span) * 255);
    grey = grey < 0 ? 0 : grey > 255 ? 255 : grey;
    if (invert) grey = 255 - grey;
    lut[value] = 0xff000000 | (grey << 16) | (grey << 8) | grey; // little-endian RGBA
  }
  const pixels = image.pixels;
  for (let i = 0; i < pixels.length; i += 1) out[i] = lut[pixels[i]];
  bctx.putImageData(data, 0, 0);
  bitmapDirty = false;
}

// ------------------------------------------------------------------ drawing

function canvasSize() {
  const rect = canvas.getBoundingClientRect();
  return [rect.width, rect.height];
}

function fit() {
  const [width, height] = canvasSize();
  const scale = Math.min(width / image.displayWidth, height / image.displayHeight) * 0.96;
  view.scale = scale;
  view.tx = (width - image.displayWidth * scale) / 2;
  view.ty = (height - image.displayHeight * scale) / 2;
  view.fitted = true;
  requestDraw();
}

function zoomAt(cx, cy, factor) {
  const [width, height] = canvasSize();
  const fitScale = Math.min(width / image.displayWidth, height / image.displayHeight);
  // At most MAX_SCALE CSS pixels per original pixel; at least a quarter of the fitted size.
  const maxScale = MAX_SCALE * image.width / image.displayWidth;
  const scale = Math.min(maxScale, Math.max(fitScale / 4, view.scale * factor));
  view.tx = cx - (cx - view.tx) * (scale / view.scale);
  view.ty = cy - (cy - view.ty) * (scale / view.scale);
  view.scale = scale;
  view.fitted = false;
  requestDraw();
}

function requestDraw() {
  if (drawQueued) return;
  drawQueued = true;
  requestAnimationFrame(() => {
    drawQueued = false;
    draw();
  });
}

function resizeCanvas() {
  const [width, height] = canvasSize();
  const dpr = window.devicePixelRatio || 1;
  const w = Math.max(1, Math.round(width * dpr));
  const hgt = Math.max(1, Math.round(height * dpr));
  if (canvas.width !== w || canvas.height !== hgt) {
    canvas.width = w;
    canvas.height = hgt;
  }
  return dpr;
}

function drawCrosshair(x, y, colour) {
  const [cx, cy] = originalToScreen(x, y);
  const arm = 22;
  const gap = 6;
  ctx.save();
  ctx.lineWidth = 3.5;
  ctx.strokeStyle = 'rgba(0, 0, 0, 0.7)';
  const strokeArms = () => {
    ctx.beginPath();
    ctx.moveTo(cx - arm, cy); ctx.lineTo(cx - gap, cy);
    ctx.moveTo(cx + gap, cy); ctx.lineTo(cx + arm, cy);
    ctx.moveTo(cx, cy - arm); ctx.lineTo(cx, cy - gap);
    ctx.moveTo(cx, cy + gap); ctx.lineTo(cx, cy + arm);
    ctx.stroke();
  };
  strokeArms();
  ctx.lineWidth = 1.5;
  ctx.strokeStyle = colour;
  strokeArms();
  ctx.beginPath();
  ctx.arc(cx, cy, 1.5, 0, 2 * Math.PI);
  ctx.fillStyle = colour;
  ctx.fill();
  ctx.restore();
}

function drawSuggestion(s) {
  const [cx, cy] = originalToScreen(s.center_x, s.center_y);
  ctx.save();
  ctx.setLineDash([6, 5]);
  ctx.lineWidth = 3;
  ctx.strokeStyle = 'rgba(0, 0, 0, 0.6)';
  ctx.beginPath();
  ctx.arc(cx, cy, 18, 0, 2 * Math.PI);
  ctx.stroke();
  ctx.lineWidth = 1.5;
  ctx.strokeStyle = '#5aa9e6';
  ctx.stroke();
  ctx.setLineDash([]);
  ctx.font = '12px system-ui, sans-serif';
  const text = `suggestion${s.label ? ` ${s.label}` : ''}`;
  ctx.lineWidth = 3;
  ctx.strokeStyle = 'rgba(0, 0, 0, 0.8)';
  ctx.strokeText(text, cx + 22, cy - 16);
  ctx.fillStyle = '#9fd0f5';
  ctx.fillText(text, cx + 22, cy - 16);
  ctx.restore();
}

function drawScaleBar(width, height) {
  if (!image.spacing) return;
  const mmPerCssPx = image.spacing * (image.width / image.displayWidth) / view.scale;
  const choices = [1, 2, 5, 10, 20, 50, 100, 200];
  const mm = choices.find((c) => c / mmPerCssPx >= 70) ?? choices[choices.length - 1];
  const length = mm / mmPerCssPx;
  const x = width - length - 18;
  const y = height - 18;
  ctx.save();
  ctx.strokeStyle = 'rgba(0,0,0,0.7)';
  ctx.lineWidth = 4;
  ctx.beginPath(); ctx.moveTo(x, y); ctx.lineTo(x + length, y); ctx.stroke();
  ctx.strokeStyle = '#d9dee7';
  ctx.lineWidth = 2;
  ctx.beginPath(); ctx.moveTo(x, y); ctx.lineTo(x + length, y); ctx.stroke();
  ctx.font = '12px system-ui, sans-serif';
  ctx.fillStyle = '#d9dee7';
  ctx.textAlign = 'center';
  ctx.fillText(`${mm} mm`, x + length / 2, y - 6);
  ctx.restore();
}

function draw() {
  if (!ready) return;
  const dpr = resizeCanvas();
  if (bitmapDirty) renderBitmap();
  const [width, height] = canvasSize();
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, width, height);
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(bitmap, view.tx, view.ty, image.displayWidth * view.scale, image.displayHeight * view.scale);
  const s = state.data?.suggestion;
  if (s && typeof s.center_x === 'number' && typeof s.center_y === 'number') drawSuggestion(s);
  const a = state.answer;
  if (a.center_x !== null && a.center_y !== null) drawCrosshair(a.center_x, a.center_y, '#ffd166');
  drawScaleBar(width, height);
  showViewReadouts();
}

function showViewReadouts() {
  const width = Math.round(windowing.high - windowing.low);
  const level = Math.round((windowing.high + windowing.low) / 2);
  $('window-readout').textContent = `W ${width} / L ${level}`;
  for (const name of ['full', 'auto', 'bone']) {
    $(`window-${name}`).setAttribute('aria-pressed', String(windowing.preset === name));
  }
  $('invert').setAttribute('aria-pressed', String(windowing.invert));
  // Zoom relative to the original image: 100 % = one original pixel per CSS pixel.
  const zoom = view.scale * image.displayWidth / image.width;
  $('zoom-readout').textContent = `${Math.round(zoom * 100)} %`;
  canvas.dataset.scale = String(view.scale);
  canvas.dataset.tx = String(view.tx);
  canvas.dataset.ty = String(view.ty);
}

// ------------------------------------------------------------------ mouse

let drag = null;

function canvasPoint(event) {
  const rect = canvas.getBoundingClientRect();
  return [event.clientX - rect.left, event.clientY - rect.top];
}

function wireMouse() {
  canvas.addEventListener('contextmenu', (event) => event.preventDefault());
  canvas.addEventListener('pointerdown', (event) => {
    if (!ready) return;
    canvas.focus({ preventScroll: true });
    const [x, y] = canvasPoint(event);
    const windowDrag = event.button === 2 || (event.button === 0 && event.shiftKey);
    const mode = windowDrag ? 'window' : (event.button === 0 || event.button === 1 ? 'pan' : null);
    if (!mode) return;
    drag = {
      mode, button: event.button, startX: x, startY: y, lastX: x, lastY: y, moved: false,
      width: windowing.high - windowing.low, level: (windowing.high + windowing.low) / 2,
    };
    canvas.setPointerCapture(event.pointerId);
    event.preventDefault();
  });
  canvas.addEventListener('pointermove', (event) => {
    if (!ready) return;
    const [x, y] = canvasPoint(event);
    showCursor(x, y);
    if (!drag) return;
    if (Math.hypot(x - drag.startX, y - drag.startY) > CLICK_SLOP_PX) drag.moved = true;
    if (!drag.moved) return;
    if (drag.mode === 'pan') {
      view.tx += x - drag.lastX;
      view.ty += y - drag.lastY;
      view.fitted = false;
      canvas.style.cursor = 'grabbing';
      requestDraw();
    } else {
      const dx = x - drag.startX;
      const dy = y - drag.startY;
      const step = Math.max(16, drag.width / 256);
      setWindowLevel(drag.width + dx * step, drag.level - dy * step / 2);
    }
    drag.lastX = x;
    drag.lastY = y;
  });
  const end = (event) => {
    if (!drag) return;
    const finished = drag;
    drag = null;
    canvas.style.cursor = '';
    if (event.type === 'pointerup' && finished.mode === 'pan' && finished.button === 0 && !finished.moved) {
      const [x, y] = canvasPoint(event);
      if (!insideImage(x, y)) {
        showBanner('info', 'Click inside the radiograph to place the fracture centre.', { timeoutMs: 3000 });
        return;
      }
      const [ox, oy] = screenToOriginal(x, y);
      placeCentre(ox, oy);
    }
  };
  canvas.addEventListener('pointerup', end);
  canvas.addEventListener('pointercancel', end);
  canvas.addEventListener('wheel', (event) => {
    if (!ready) return;
    event.preventDefault();
    const [x, y] = canvasPoint(event);
    const delta = event.deltaMode === 1 ? event.deltaY * 16 : event.deltaY;
    zoomAt(x, y, Math.exp(-delta * 0.0015));
  }, { passive: false });
  canvas.addEventListener('pointerleave', () => {
    $('cursor-px').textContent = '–';
    $('cursor-mm').textContent = '';
    $('cursor-value').textContent = '–';
  });
  new ResizeObserver(() => {
    if (!ready) return;
    if (view.fitted) fit();
    else requestDraw();
  }).observe(canvas);
}

function showCursor(cx, cy) {
  if (!insideImage(cx, cy)) {
    $('cursor-px').textContent = 'outside the image';
    $('cursor-mm').textContent = '';
    $('cursor-value').textContent = '–';
    return;
  }
  const [x, y] = screenToOriginal(cx, cy);
  $('cursor-px').textContent = `x ${x.toFixed(1)}, y ${y.toFixed(1)} px`;
  $('cursor-mm').textContent = image.spacing ? `(${(x * image.spacing).toFixed(1)}, ${(y * image.spacing).toFixed(1)} mm)` : '';
  const u = Math.min(image.displayWidth - 1, Math.floor((cx - view.tx) / view.scale));
  const v = Math.min(image.displayHeight - 1, Math.floor((cy - view.ty) / view.scale));
  $('cursor-value').textContent = String(image.pixels[v * image.displayWidth + u]);
}

// ------------------------------------------------------------------ rendering the panel

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

function renderStatic() {
  const data = state.data;
  renderCaseHeader(data, 'femur', 'femur radiograph');
  const img = data.image;
  $('image-size').textContent = `${img.width_px} × ${img.height_px} px`
    + (img.display_width_px !== img.width_px ? ` (shown at ${img.display_width_px} × ${img.display_height_px})` : '');
  $('spacing').textContent = img.pixel_spacing_mm ? `${Number(img.pixel_spacing_mm).toFixed(3)} mm` : 'unknown (positions in pixels only)';
}

// ------------------------------------------------------------------ case life cycle

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
  Object.assign(image, {
    pixels,
    width: img.width_px,
    height: img.height_px,
    displayWidth: img.display_width_px,
    displayHeight: img.display_height_px,
    spacing: img.pixel_spacing_mm || null,
  });
  buildHistogram();
  ready = true;
  loading.hidden = true;
  setPreset('full');
  fit();
  draw();
  document.body.dataset.viewerReady = 'true';
  window.fracturelabFemur.ready = true;
}

function toggleInvert() {
  windowing.invert = !windowing.invert;
  bitmapDirty = true;
  requestDraw();
}

function wireControls() {
  for (const name of ['full', 'auto', 'bone']) $(`window-${name}`).addEventListener('click', () => ready && setPreset(name));
  $('invert').addEventListener('click', () => ready && toggleInvert());
  $('fit').addEventListener('click', () => ready && fit());
  $('zoom-in').addEventListener('click', () => ready && zoomCentre(1.25));
  $('zoom-out').addEventListener('click', () => ready && zoomCentre(0.8));
  $('label-AFF').addEventListener('change', () => setLabel('AFF'));
  $('label-NFF').addEventListener('change', () => setLabel('NFF'));
  $('not-assessable').addEventListener('change', toggleNotAssessable);
  $('accept').addEventListener('click', acceptSuggestion);
  $('clear-centre').addEventListener('click', clearCentre);
}

/** Zoom by `factor` about the middle of the canvas. @param {number} factor */
function zoomCentre(factor) {
  const [width, height] = canvasSize();
  zoomAt(width / 2, height / 2, factor);
}

const isReady = () => ready;

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
    wireMouse();
  },
  show(data) {
    applyCase(data);
    renderStatic();
    render();
    setStatus('idle', state.version === null ? 'No answer yet' : 'Answer saved');
  },
  load: loadImage,
});
