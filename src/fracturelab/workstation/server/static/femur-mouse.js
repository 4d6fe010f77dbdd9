// @ts-check
// The femur view's mouse: pan, window and level, zoom, and the click that places the centre.

import { showBanner } from './banners.js';
import {
  $, canvas, fit, image, insideImage, isReady, requestDraw, screenToOriginal, setWindowLevel,
  view, windowing, zoomAt,
} from './femur-view.js';

const CLICK_SLOP_PX = 4;

/** @type {any} The drag under way (pan or window), or null. */
let drag = null;

/**
 * @param {MouseEvent} event
 * @returns {number[]} Its [x, y] on the canvas, CSS pixels.
 */
function canvasPoint(event) {
  const rect = canvas.getBoundingClientRect();
  return [event.clientX - rect.left, event.clientY - rect.top];
}

/**
 * Wire the mouse: drag pans, right- or Shift-drag windows, the wheel zooms, a click (no drag)
 * calls `onClick` with the original pixel, and the cursor's position and value are shown.
 * @param {{onClick: (x: number, y: number) => void}} options
 */
export function wireMouse({ onClick }) {
  canvas.addEventListener('contextmenu', (event) => event.preventDefault());
  canvas.addEventListener('pointerdown', (event) => {
    if (!isReady()) return;
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
    if (!isReady()) return;
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
      onClick(ox, oy);
    }
  };
  canvas.addEventListener('pointerup', end);
  canvas.addEventListener('pointercancel', end);
  canvas.addEventListener('wheel', (event) => {
    if (!isReady()) return;
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
    if (!isReady()) return;
    if (view.fitted) fit();
    else requestDraw();
  }).observe(canvas);
}

/**
 * Show the original pixel, millimetres and grey value under the cursor.
 * @param {number} cx Canvas CSS pixel.
 * @param {number} cy
 */
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
