// @ts-check
// What the femur view draws over the radiograph: the reader's centre, the suggestion and a
// scale bar.

import { image, originalToScreen, view } from './femur-view.js';

/**
 * The reader's fracture centre: a crosshair with a gap and a dot.
 * @param {CanvasRenderingContext2D} ctx
 * @param {number} x Original pixel.
 * @param {number} y
 * @param {string} colour CSS colour.
 */
export function drawCrosshair(ctx, x, y, colour) {
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

/**
 * The suggested centre: a dashed circle, with its label.
 * @param {CanvasRenderingContext2D} ctx
 * @param {{center_x: number, center_y: number, label?: string | null}} s
 */
export function drawSuggestion(ctx, s) {
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

/**
 * A scale bar (1-200 mm, at least 70 CSS pixels long) in the bottom right corner, when the
 * pixel spacing is known.
 * @param {CanvasRenderingContext2D} ctx
 * @param {number} width Canvas, CSS pixels.
 * @param {number} height
 */
export function drawScaleBar(ctx, width, height) {
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
