from pathlib import Path

import numpy as np
import pytest
import torch

from fracturelab.femur.data import LocalizerDataset, PatchGeometry, prepare_image
from fracturelab.femur.geometry import crop_patch, patch_box
from fracturelab.femur.manifest import Manifest
from fracturelab.imaging.radiograph import Radiograph
from fracturelab.imaging.radiograph_io import read_radiograph, write_radiograph


@pytest.fixture
def prepared(tmp_path: Path):
    rng = np.random.default_rng(0)
    pixels = 0.1 * rng.random((300, 500), dtype=np.float32)
    pixels[136:147, 376:387] = 1.0  # a bright 11 px mark centred on the true centre (381, 141)
    write_radiograph(Radiograph(pixels, (0.2, 0.2)), tmp_path / "a.png")
    (tmp_path / "m.csv").write_text(
        "image,patient_id,label,center_x,center_y,pixel_spacing_mm\na.png,P1,AFF,381,141,0.2\n"
    )
    row = Manifest.read(tmp_path / "m.csv").rows[0]
    return prepare_image(row, 64, PatchGeometry(32), jitter_px=4), tmp_path / "a.png"


def test_patch_far_from_the_truth_rereads_the_file(prepared) -> None:
    image, path = prepared
    full = read_radiograph(path).array
    far = (40.0, 250.0)  # well outside the cached window around (381, 141)
    assert np.array_equal(image.patch(PatchGeometry(32), far), crop_patch(full, far, 32))
    near = (379.0, 143.0)  # inside the window: same pixels as the file
    window_patch = image.patch(PatchGeometry(32), near)
    assert np.allclose(window_patch, crop_patch(full, near, 32), atol=1e-3)  # float16 cache


def test_localizer_flip_moves_the_centre_with_the_image(prepared) -> None:
    image, _ = prepared
    dataset = LocalizerDataset([image], augment=True)
    seen = set()
    for seed in range(12):
        torch.manual_seed(seed)
        item = dataset[0]
        picture, (cx, cy) = item["image"][0], item["center"].tolist()
        y, x = np.unravel_index(int(picture.argmax()), picture.shape)
        assert abs(x - cx) <= 1.0 and abs(y - cy) <= 1.0  # the bright mark stays the centre
        seen.add(cx < 32)
    assert seen == {True, False}  # both flipped and unflipped items occurred


def test_patch_box_is_what_crop_patch_cuts() -> None:
    image = np.arange(50 * 60, dtype=np.float32).reshape(50, 60)
    x0, y0, x1, y1 = patch_box((20.4, 30.6), 8)
    assert (x1 - x0, y1 - y0) == (8, 8)
    assert np.array_equal(crop_patch(image, (20.4, 30.6), 8), image[y0:y1, x0:x1])
    assert patch_box((20.0, 30.0), 8, region_xy_px=(10.5, 4.0)) == (15, 28, 26, 32)
