import numpy as np
import pytest
import torch

from fracturelab.femur.geometry import Letterbox, crop_patch
from fracturelab.femur.heatmap import decode_heatmap, heatmap_loss


@pytest.mark.parametrize("shape", [(300, 200), (200, 300), (256, 256), (1000, 37), (100, 100)])
def test_letterbox_round_trip(shape: tuple[int, int]) -> None:
    box = Letterbox.fit(shape, 64)
    points = np.array([[0, 0], [shape[1] - 1, shape[0] - 1], [12.3, 45.6]], dtype=np.float32)
    assert np.allclose(box.to_original(box.to_input(points)), points, atol=1e-3)
    assert max(box.resized_shape) == 64


def test_letterbox_keeps_aspect_and_centres() -> None:
    box = Letterbox.fit((400, 200), 100)  # portrait: 100 rows, 50 columns, padded left/right
    assert box.resized_shape == (100, 50)
    assert box.offset_xy == (25, 0)
    # The image's left edge (x = -0.5) lands on the padding boundary (x = 24.5).
    assert box.to_input([-0.5, -0.5]) == pytest.approx([24.5, -0.5])


def test_letterbox_maps_a_bright_dot_to_the_predicted_place() -> None:
    image = torch.zeros(300, 600)
    image[120:123, 450:453] = 1.0  # dot centred at x = 451, y = 121
    box = Letterbox.fit(image.shape, 150)  # factor 1/4
    square = box.apply(image)
    ys, xs = torch.nonzero(square > 0, as_tuple=True)
    weights = square[ys, xs]
    centre = [(xs * weights).sum() / weights.sum(), (ys * weights).sum() / weights.sum()]
    assert box.to_input([451, 121]) == pytest.approx([float(c) for c in centre], abs=0.3)
    assert square[: box.offset_xy[1]].abs().sum() == 0  # padding above is black


def test_native_patch_is_pixel_exact() -> None:
    image = np.arange(100 * 80, dtype=np.float32).reshape(100, 80)
    patch = crop_patch(image, (40.0, 50.0), size_px=10)
    assert patch[5, 5] == image[50, 40]  # the centre pixel sits at index size // 2
    assert np.array_equal(patch, image[45:55, 35:45])


def test_patch_at_the_corner_is_padded_with_zeros() -> None:
    image = np.ones((50, 60), dtype=np.float32)
    patch = crop_patch(image, (0.0, 0.0), size_px=8)
    assert patch[4:, 4:].min() == 1.0 and patch[4:, 4:].size == 16
    assert patch[:4].sum() == 0 and patch[:, :4].sum() == 0


def test_patch_from_a_window_equals_patch_from_the_image() -> None:
    rng = np.random.default_rng(0)
    image = rng.random((120, 130), dtype=np.float32)
    window = image[30:90, 40:110]
    direct = crop_patch(image, (70.4, 61.7), size_px=16)
    via = crop_patch(window, (70.4, 61.7), size_px=16, origin_xy_px=(40, 30))
    assert np.array_equal(direct, via)


def test_patch_in_mm_covers_the_region() -> None:
    image = np.zeros((200, 200), dtype=np.float32)
    image[:, 100:] = 1.0  # right half bright
    patch = crop_patch(image, (100.0, 100.0), size_px=32, region_xy_px=(64.0, 64.0))
    assert patch.shape == (32, 32)
    assert patch[:, :14].max() < 0.05 and patch[:, 18:].min() > 0.95


@pytest.mark.parametrize("size", [64, 16])  # full-resolution and 1/4-resolution heatmaps
def test_decode_finds_a_sub_pixel_peak(size: int) -> None:
    input_size = 64
    factor = size / input_size
    true = torch.tensor([[20.3, 41.7]])
    ys, xs = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    cx, cy = (true[0] + 0.5) * factor - 0.5
    logits = -((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * (2 * factor + 0.5) ** 2)
    decoded = decode_heatmap(logits[None, None].float(), input_size)
    assert decoded[0].tolist() == pytest.approx(true[0].tolist(), abs=0.01 / factor)


def test_heatmap_loss_is_lowest_at_the_true_centre() -> None:
    logits = torch.zeros(1, 1, 32, 32)
    logits[0, 0, 10, 20] = 8.0
    near = heatmap_loss(logits, torch.tensor([[20.0, 10.0]]), 32)
    far = heatmap_loss(logits, torch.tensor([[5.0, 25.0]]), 32)
    assert near < far


def test_gradcam_points_at_the_evidence() -> None:
    """AFF logit = mean brightness; only the top-left quadrant is bright, so it is the evidence."""
    from torch import nn

    from fracturelab.femur.figures import gradcam

    class Brightness(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            unit = nn.Conv2d(1, 1, kernel_size=1, bias=False)
            nn.init.ones_(unit.weight)
            self.features = nn.Sequential(*[nn.Identity() for _ in range(7)], unit)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.features(x).mean(dim=(1, 2, 3))

    image = np.zeros((32, 32), dtype=np.float32)
    image[:16, :16] = 1.0
    heat = gradcam(Brightness(), "cnn", image)  # "cnn" explains layer features.7
    assert heat.shape == (32, 32)
    assert heat[:16, :16].min() > 0.9 and heat[16:, 16:].max() < 0.1
