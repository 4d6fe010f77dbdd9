"""Heatmap targets, loss and sub-pixel decoding for fracture-centre regression.

A heatmap of shape ``(h, w)`` covers an input square of ``S x S`` pixels; heatmap pixel
``(u, v)`` has its centre at input coordinate ``(u + 0.5) * S / w - 0.5`` (and likewise for
rows), so heatmaps coarser than the input (the ViT's ``S / 4``) decode to the same frame.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812 - PyTorch's documented alias

__all__ = ["decode_heatmap", "heatmap_loss"]


def _grid(height: int, width: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    ys = torch.arange(height, device=device, dtype=torch.float32)
    xs = torch.arange(width, device=device, dtype=torch.float32)
    return ys[:, None], xs[None, :]


def heatmap_loss(
    logits: torch.Tensor,
    center_xy_input: torch.Tensor,
    input_size: int,
    sigma_px: float | torch.Tensor = 3.0,
    coordinate_weight: float = 10.0,
) -> torch.Tensor:
    """Cross-entropy to a Gaussian target plus a soft-argmax coordinate term.

    The cross-entropy between the spatial softmax of ``logits`` and a Gaussian at the centre
    shapes the heatmap; the distance between the softmax's expected position and the centre
    (as a fraction of the input side, times ``coordinate_weight``) gives every pixel a
    gradient towards the centre from the first step, so training converges in fewer steps
    (the DSNT idea: Nibali et al., "Numerical Coordinate Regression with Convolutional Neural
    Networks", 2018).

    Args:
        logits: Shape ``(B, 1, h, w)``.
        center_xy_input: Shape ``(B, 2)``: true centres ``(x, y)`` in input pixels.
        input_size: Side ``S`` of the network input in pixels.
        sigma_px: Standard deviation of the target in input pixels: one for the batch, or
            shape ``(B,)`` (one per image, e.g. a width in mm converted per image).
        coordinate_weight: Weight of the coordinate term.

    Returns:
        The mean loss over the batch (a scalar).

    """
    batch, _, height, width = logits.shape
    factor = width / input_size
    ys, xs = _grid(height, width, logits.device)
    cx = (center_xy_input[:, 0] + 0.5) * factor - 0.5
    cy = (center_xy_input[:, 1] + 0.5) * factor - 0.5
    sigma = torch.as_tensor(sigma_px, dtype=torch.float32, device=logits.device) * factor
    sigma = sigma.clamp_min(0.75).reshape(-1, 1, 1)
    d2 = (xs[None] - cx[:, None, None]) ** 2 + (ys[None] - cy[:, None, None]) ** 2
    target = torch.softmax((-d2 / (2 * sigma**2)).reshape(batch, -1), dim=1)
    log_p = F.log_softmax(logits.float().reshape(batch, -1), dim=1)
    cross_entropy = -(target * log_p).sum(dim=1).mean()
    p = log_p.exp().reshape(batch, height, width)
    expected_x = (p.sum(dim=1) * xs[0]).sum(dim=1)
    expected_y = (p.sum(dim=2) * ys[:, 0]).sum(dim=1)
    distance = torch.hypot(expected_x - cx, expected_y - cy) / width
    return cross_entropy + coordinate_weight * distance.mean()


def decode_heatmap(logits: torch.Tensor, input_size: int) -> torch.Tensor:
    """Peak of each heatmap with sub-pixel refinement, in input pixel coordinates.

    The arg-max pixel is refined by fitting a parabola through the log-heatmap at the peak
    and its two neighbours along each axis (exact for a Gaussian peak; the log-domain
    Taylor refinement of Zhang et al., "Distribution-Aware Coordinate Representation",
    CVPR 2020). The shift is limited to half a pixel.

    Args:
        logits: Shape ``(B, 1, h, w)``.
        input_size: Side ``S`` of the network input in pixels.

    Returns:
        Shape ``(B, 2)``: centres ``(x, y)`` in input pixels.

    """
    batch, _, height, width = logits.shape
    flat = F.log_softmax(logits.float().reshape(batch, -1), dim=1)
    log_p = flat.reshape(batch, height, width)
    peak = flat.argmax(dim=1)
    py, px = peak // width, peak % width
    rows = torch.arange(batch, device=logits.device)

    def shift(before: torch.Tensor, at: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
        curvature = before - 2 * at + after
        step = torch.where(curvature < -1e-9, 0.5 * (before - after) / curvature, 0.0)
        return step.clamp(-0.5, 0.5)

    centre = log_p[rows, py, px]
    inner_x = (px > 0) & (px < width - 1)
    inner_y = (py > 0) & (py < height - 1)
    left = log_p[rows, py, (px - 1).clamp_min(0)]
    right = log_p[rows, py, (px + 1).clamp_max(width - 1)]
    up = log_p[rows, (py - 1).clamp_min(0), px]
    down = log_p[rows, (py + 1).clamp_max(height - 1), px]
    x = px.float() + torch.where(inner_x, shift(left, centre, right), 0.0)
    y = py.float() + torch.where(inner_y, shift(up, centre, down), 0.0)
    factor = width / input_size
    return torch.stack([(x + 0.5) / factor - 0.5, (y + 0.5) / factor - 0.5], dim=1)
