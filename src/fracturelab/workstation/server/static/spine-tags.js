// @ts-check
// The spine view's level names on the image: NiiVue writes text only in 3D renderings, so
// each vertebra's name is an HTML element over the canvas (#level-tags), beside the vertebra
// on every 2D view that cuts through it.

import { h } from './dom.js';
import { $, state, viewer } from './spine-state.js';

// The names are placed from NiiVue's tiles (screenSlices: where each 2D slice is drawn, in
// canvas pixels and slice millimetres, as nv.frac2canvasPos reads them).
const AXIS_OF_TILE = { 0: 2, 1: 1, 2: 0 }; // axial, coronal, sagittal -> depth axis (frac)
const ACROSS_TILE = { 0: 0, 1: 0, 2: 1 }; // the frac axis drawn left-right on each tile
/** @type {Map<number, number[][]> | null} */
let labelBoxes = null; // label value -> [min, max] of its voxels per axis, in the CT's frac space
let tagsQueued = false;

/**
 * Per label value, the extent of its voxels along each axis (in NiiVue's frac space).
 * @returns {Map<number, number[][]>} value -> [low, high], each [x, y, z] in frac.
 */
function labelExtents() {
  const volume = viewer.nv.volumes[1];
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
      ([x, y, z]) => viewer.nv.mm2frac(volume.convertFrac2MM([x / nx, y / ny, z / nz])),
    );
    const low = [0, 1, 2].map((k) => Math.min(corners[0][k], corners[1][k]));
    const high = [0, 1, 2].map((k) => Math.max(corners[0][k], corners[1][k]));
    boxes.set(Math.round(value), [low, high]);
  }
  return boxes;
}

/**
 * Canvas pixel of a frac point on a 2D tile (the arithmetic of nv.frac2canvasPos, per tile).
 * @param {any} tile One of NiiVue's screenSlices.
 * @param {number[]} frac
 * @returns {{x: number, y: number, left: number} | null} null: outside the tile.
 */
function tilePoint(tile, frac) {
  let mm = viewer.nv.frac2mm(frac);
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

/** Redraw the level names at the next frame (once however often it is asked). */
export function queueLevelTags() {
  if (tagsQueued) return;
  tagsQueued = true;
  requestAnimationFrame(drawLevelTags);
}

/** Write each vertebra's level name next to it on every 2D view that cuts through it. */
export function drawLevelTags() {
  tagsQueued = false;
  const layer = $('level-tags');
  if (!viewer.ready || viewer.nv.volumes.length < 2 || !$('level-names').checked) {
    layer.replaceChildren();
    layer.dataset.count = '0';
    return;
  }
  if (!labelBoxes) labelBoxes = labelExtents();
  const canvas = $('gl');
  const css = canvas.clientWidth / canvas.width; // CSS pixels per canvas pixel
  const tags = [];
  for (const tile of viewer.nv.screenSlices) {
    const axis = AXIS_OF_TILE[tile.axCorSag];
    if (axis === undefined || !tile.fovMM || tile.AxyzMxy.length < 4) continue;
    const depth = viewer.nv.scene.crosshairPos[axis];
    for (const { level, label, centroid_ras_mm: centroid, colour } of state.levels) {
      const box = label === null ? null : labelBoxes.get(label);
      if (!box || !centroid || depth < box[0][axis] || depth > box[1][axis]) continue;
      const frac = Array.from(viewer.nv.mm2frac(centroid));
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
