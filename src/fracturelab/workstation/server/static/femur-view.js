// @ts-check
// The femur view's radiograph on a canvas: the display image windowed into a bitmap, zoom,
// pan and fit, and the conversions between canvas and original pixels.
//
// Coordinates. The server sends the image resampled to display_width_px x display_height_px.
// On screen, display pixel i covers [tx + i*s, tx + (i+1)*s) CSS pixels of the canvas (s:
// scale, tx/ty: offset). A canvas point (cx, cy) is the continuous display position
// u = (cx - tx) / s, i.e. display pixel index x_display = u - 0.5, and the original pixel
// x_orig = (x_display + 0.5) * width_px / display_width_px - 0.5 (docs/workstation-api.md).

const MAX_SCALE = 16;

/**
 * @param {string} id
 * @returns {any} The element (femur.html has every id the femur view asks for).
 */
export const $ = (id) => document.getElementById(id);

/** The image: display pixels and the original size (pixels) and spacing. */
export const image = {
  /** @type {Uint16Array | null} display size, row-major */
  pixels: null,
  width: 0, // original
  height: 0,
  displayWidth: 0,
  displayHeight: 0,
  /** @type {number | null} mm per original pixel */
  spacing: null,
  /** @type {Uint32Array | null} */
  histogram: null,
};

/** Zoom and pan: CSS pixels per display pixel, offset of the image's top left, fitted or not. */
export const view = { scale: 1, tx: 0, ty: 0, fitted: true };
/** Grey values shown black (low) and white (high), inverted or not, and the preset used. */
export const windowing = { low: 0, high: 65535, invert: false, /** @type {string | null} */ preset: 'full' };

/** @type {HTMLCanvasElement} */
export const canvas = $('xray');
const ctx = canvas.getContext('2d');
const bitmap = document.createElement('canvas'); // the windowed display image, 1:1
let bitmapDirty = true;
let drawQueued = false;
let ready = false;
/**
 * Draws what goes over the image (marks, scale bar), in CSS pixels.
 * @type {(ctx: CanvasRenderingContext2D, width: number, height: number) => void}
 */
let overlay = () => {};

/** @returns {boolean} Whether the image is shown (before: the controls do nothing). */
export const isReady = () => ready;

/**
 * Set what is drawn over the image at every redraw.
 * @param {(ctx: CanvasRenderingContext2D, width: number, height: number) => void} draw
 */
export function setOverlay(draw) {
  overlay = draw;
}

/**
 * Show the image: its display pixels, original size and spacing; full range, fitted.
 * @param {Uint16Array} pixels display_width_px x display_height_px, row-major.
 * @param {any} img The case's `image` (GET /api/cases/{id}).
 */
export function showImage(pixels, img) {
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
  setPreset('full');
  fit();
  draw();
}

/** Invert the grey levels (or back). */
export function toggleInvert() {
  windowing.invert = !windowing.invert;
  bitmapDirty = true;
  requestDraw();
}

/**
 * Zoom by `factor` about the middle of the canvas.
 * @param {number} factor
 */
export function zoomCentre(factor) {
  const [width, height] = canvasSize();
  zoomAt(width / 2, height / 2, factor);
}

// ------------------------------------------------------------------ coordinates

/**
 * Canvas CSS pixel -> original image pixel (continuous).
 * @param {number} cx
 * @param {number} cy
 * @returns {number[]} [x, y]
 */
export function screenToOriginal(cx, cy) {
  const u = (cx - view.tx) / view.scale;
  const v = (cy - view.ty) / view.scale;
  return [u * image.width / image.displayWidth - 0.5, v * image.height / image.displayHeight - 0.5];
}

/**
 * Original image pixel -> canvas CSS pixel.
 * @param {number} x
 * @param {number} y
 * @returns {number[]} [cx, cy]
 */
export function originalToScreen(x, y) {
  const u = (x + 0.5) * image.displayWidth / image.width;
  const v = (y + 0.5) * image.displayHeight / image.height;
  return [view.tx + u * view.scale, view.ty + v * view.scale];
}

/**
 * @param {number} cx Canvas CSS pixel.
 * @param {number} cy
 * @returns {boolean} Whether it lies on the image.
 */
export function insideImage(cx, cy) {
  const u = (cx - view.tx) / view.scale;
  const v = (cy - view.ty) / view.scale;
  return u >= 0 && v >= 0 && u <= image.displayWidth && v <= image.displayHeight;
}

// ------------------------------------------------------------------ windowing

/** Count the display pixels per grey value (for the presets). */
function buildHistogram() {
  const histogram = new Uint32Array(65536);
  const pixels = image.pixels;
  for (let i = 0; i < pixels.length; i += 1) histogram[pixels[i]] += 1;
  image.histogram = histogram;
}

/**
 * The value below which `fraction` of the pixels >= `from` lie.
 * @param {number} fraction 0-1.
 * @param {number} [from] Lowest grey value counted.
 * @returns {number}
 */
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

/**
 * Apply a window preset: full range, auto (1-99 %), or bone.
 * @param {'full' | 'auto' | 'bone'} name
 */
export function setPreset(name) {
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

/**
 * Set window and level (grey values), as a drag does.
 * @param {number} width
 * @param {number} level
 */
export function setWindowLevel(width, level) {
  const w = Math.min(65535 * 2, Math.max(2, width));
  windowing.low = level - w / 2;
  windowing.high = level + w / 2;
  windowing.preset = null;
  bitmapDirty = true;
  requestDraw();
}

/** Window the display pixels into the 1:1 bitmap. */
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

/** @returns {number[]} The canvas's [width, height], CSS pixels. */
export function canvasSize() {
  const rect = canvas.getBoundingClientRect();
  return [rect.width, rect.height];
}

/** Fit the whole image to the canvas. */
export function fit() {
  const [width, height] = canvasSize();
  const scale = Math.min(width / image.displayWidth, height / image.displayHeight) * 0.96;
  view.scale = scale;
  view.tx = (width - image.displayWidth * scale) / 2;
  view.ty = (height - image.displayHeight * scale) / 2;
  view.fitted = true;
  requestDraw();
}

/**
 * Zoom by `factor` about a canvas point, within a quarter of the fitted size and
 * MAX_SCALE CSS pixels per original pixel.
 * @param {number} cx
 * @param {number} cy
 * @param {number} factor
 */
export function zoomAt(cx, cy, factor) {
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

/** Redraw at the next frame (once however often it is asked). */
export function requestDraw() {
  if (drawQueued) return;
  drawQueued = true;
  requestAnimationFrame(() => {
    drawQueued = false;
    draw();
  });
}

/** @returns {number} Device pixels per CSS pixel, the canvas sized to match. */
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

/** Draw the image, the overlay and the readouts now. */
export function draw() {
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
  overlay(ctx, width, height);
  showViewReadouts();
}

/** Window, level and zoom in the toolbar; scale and offset on the canvas (for the tests). */
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
