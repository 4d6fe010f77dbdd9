"""Small network layers shared by the femur and spine models."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["TokenGrid"]


class TokenGrid(nn.Module):
    """Lay ViT patch tokens ``(B, N, C)`` back on their grid ``(B, C, *grid)``.

    Args:
        grid: Tokens along each spatial axis (2D: rows, cols; 3D: depth, rows, cols); their
            product must equal ``N``.

    """

    def __init__(self, grid: tuple[int, ...]) -> None:
        super().__init__()
        self.grid = tuple(int(n) for n in grid)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Reshape ``(B, N, C)`` to ``(B, C, *grid)``."""
        batch, _, channels = tokens.shape
        return tokens.transpose(1, 2).reshape(batch, channels, *self.grid)
