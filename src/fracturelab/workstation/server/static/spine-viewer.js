// @ts-check
// The spine view's image viewer: the CT and the vertebra label map in NiiVue (views, window
// presets, label colours and outlines), the crosshair, and a click that selects a vertebra.

import { showError } from './banners.js';
import { api, ApiError } from './http.js';
import { $, state, viewer } from './spine-state.js';
import { queueLevelTags } from './spine-tags.js';

/**
 * Select a level (and, unless told not to, move the crosshair to it).
 * @callback SelectLevel
 * @param {string} level
 * @param {{moveCrosshair?: boolean}} [options]
 * @returns {void}
 */

/** CT window presets, Hounsfield units. */
export const WINDOWS = {
  bone: { width: 2000, level: 500 },
  soft: { width: 400, level: 40 },
};
/** The views, in the order the V key steps through them. */
export const VIEWS = ['sagittal', 'axial', 'coronal', 'multiplanar'];

/** @type {{select: SelectLevel}} */
const hooks = { select: () => {} };
let pointerSelecting = false;
let movingCrosshair = false;

/**
 * NiiVue's colour table of the label map: the selected vertebra in full colour, the others
 * dimmed; with outlines the fill is transparent.
 * @returns {{R: number[], G: number[], B: number[], A: number[], I: number[], labels: string[]}}
 */
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

/** @returns {boolean} Whether labels are drawn as outlines (#label-outline). */
function outline() {
  return $('label-outline').checked;
}

/** Recolour the label map after the selection or the outline setting changed. */
export function updateLabelColours() {
  if (!viewer.ready || viewer.nv.volumes.length < 2) return;
  viewer.nv.volumes[1].setColormapLabel(labelLut());
  // Only the label layer changed: refresh it alone (updateGLVolume redoes every layer).
  viewer.nv.refreshLayers(viewer.nv.volumes[1], 1);
  viewer.nv.drawScene();
}

/**
 * Move the crosshair (and the slices shown) to a point.
 * @param {number[]} mm RAS millimetres.
 */
export function moveCrosshairTo(mm) {
  movingCrosshair = true;
  try {
    viewer.nv.scene.crosshairPos = viewer.nv.mm2frac(mm);
    viewer.nv.drawScene();
    viewer.nv.createOnLocationChange();
  } finally {
    movingCrosshair = false;
  }
}

/**
 * Show one view: sagittal, axial, coronal or multiplanar.
 * @param {string} view One of {@link VIEWS}.
 */
export function setView(view) {
  state.view = view;
  for (const name of VIEWS) $(`view-${name}`).setAttribute('aria-pressed', String(name === view));
  if (!viewer.ready) return;
  const { SLICE_TYPE } = window.niivue;
  const types = {
    sagittal: SLICE_TYPE.SAGITTAL, axial: SLICE_TYPE.AXIAL, coronal: SLICE_TYPE.CORONAL, multiplanar: SLICE_TYPE.MULTIPLANAR,
  };
  viewer.nv.setSliceType(types[view]);
  document.body.dataset.view = view;
}

/**
 * Apply a window preset to the CT.
 * @param {string} name A key of {@link WINDOWS}.
 */
function setWindow(name) {
  const preset = WINDOWS[name];
  for (const key of Object.keys(WINDOWS)) $(`window-${key}`).setAttribute('aria-pressed', String(key === name));
  if (!viewer.ready) return;
  const volume = viewer.nv.volumes[0];
  volume.cal_min = preset.level - preset.width / 2;
  volume.cal_max = preset.level + preset.width / 2;
  viewer.nv.refreshLayers(volume, 0);
  viewer.nv.drawScene();
  showWindow();
}

/** Show the CT's window and level, and which preset (if any) it is. */
function showWindow() {
  if (!viewer.ready) return;
  const { cal_min: low, cal_max: high } = viewer.nv.volumes[0];
  const width = Math.round(high - low);
  const level = Math.round((high + low) / 2);
  $('window-readout').textContent = `W ${width} / L ${level}`;
  for (const [key, preset] of Object.entries(WINDOWS)) {
    const same = Math.abs(preset.width - width) < 1 && Math.abs(preset.level - level) < 1;
    $(`window-${key}`).setAttribute('aria-pressed', String(same));
  }
}

/** The label map's opacity from #label-opacity (percent). */
function setOverlayOpacity() {
  if (!viewer.ready || viewer.nv.volumes.length < 2) return;
  viewer.nv.setOpacity(1, Number($('label-opacity').value) / 100);
}

/**
 * NiiVue's crosshair moved: show where, the CT value and the label; a left-click on a
 * vertebra selects it.
 * @param {any} location NiiVue's location (mm, values per volume).
 */
function onLocation(location) {
  const mm = location.mm;
  $('loc-mm').textContent = mm ? `${mm[0].toFixed(1)}, ${mm[1].toFixed(1)}, ${mm[2].toFixed(1)} mm` : '–';
  const ct = location.values?.[0]?.value;
  $('loc-value').textContent = typeof ct === 'number' && Number.isFinite(ct) ? `${Math.round(ct)} HU` : '–';
  const label = location.values?.[1]?.value;
  const entry = state.levels.find((e) => e.label !== null && e.label === Math.round(label));
  $('loc-label').textContent = entry ? entry.level : (label ? `label ${Math.round(label)}` : 'none');
  if (pointerSelecting && !movingCrosshair && entry && entry.level !== state.selected) {
    hooks.select(entry.level, { moveCrosshair: false });
  }
}

/**
 * @param {ArrayBuffer} buffer
 * @returns {boolean} Whether it starts with the gzip magic bytes.
 */
function isGzip(buffer) {
  const bytes = new Uint8Array(buffer, 0, 2);
  return bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Start NiiVue on #gl and load the CT and its label map; on failure #loading says why.
 * @returns {Promise<void>}
 */
export async function startViewer() {
  const canvas = $('gl');
  const loading = $('loading');
  if (!window.niivue) {
    loading.textContent = 'The image viewer (NiiVue) did not load; reload the page.';
    showError('The image viewer (NiiVue) did not load; reload the page.');
    return;
  }
  const { Niivue, DRAG_MODE, SHOW_RENDER } = window.niivue;
  const nv = new Niivue({
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
  viewer.nv = nv;
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
  viewer.ready = true;
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
  if (state.selected) hooks.select(state.selected);
  document.body.dataset.viewerReady = 'true';
  window.fracturelabViewer.ready = true;
}

/**
 * Wire the toolbar (view, window, labels) and the pointer on the canvas.
 * @param {{select: SelectLevel}} options `select` is called when a click picks a vertebra.
 */
export function wireViewerControls({ select }) {
  hooks.select = select;
  for (const view of VIEWS) $(`view-${view}`).addEventListener('click', () => setView(view));
  for (const name of Object.keys(WINDOWS)) $(`window-${name}`).addEventListener('click', () => setWindow(name));
  $('label-opacity').addEventListener('input', setOverlayOpacity);
  $('level-names').addEventListener('change', queueLevelTags);
  $('label-outline').addEventListener('change', () => {
    if (!viewer.ready || viewer.nv.volumes.length < 2) return;
    viewer.nv.opts.atlasOutline = outline() ? 1 : 0;
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
