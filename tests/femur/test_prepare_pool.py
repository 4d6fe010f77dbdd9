"""Preparing radiographs in a process pool through a disk cache keyed by file content."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import fracturelab.imaging.radiograph_io as radiograph_io
from fracturelab.errors import InputError
from fracturelab.femur.data import PatchGeometry, PreparedImage, prepare_image
from fracturelab.femur.manifest import ManifestRow
from fracturelab.femur.prepare_pool import params_digest, prepare_images
from fracturelab.imaging.radiograph_io import write_radiograph
from fracturelab.synth.femur import make_femur_radiograph

PARAMS: dict[str, Any] = {
    "localizer_size": 64,
    "geometry": PatchGeometry(32),
    "baseline_size": 48,
    "jitter_px": 4.0,
}


def _row(folder: Path, name: str, center: tuple[float, float], line: int) -> ManifestRow:
    return ManifestRow(line, folder / name, name, f"P{line}", "AFF", center, 0.2)


def _write_phantom(path: Path, seed: int) -> tuple[float, float]:
    phantom = make_femur_radiograph("AFF" if seed % 2 else "NFF", seed=seed, size_px=(160, 200))
    write_radiograph(phantom.radiograph, path)
    x, y = phantom.center_xy_px
    return (float(x), float(y))


@pytest.fixture
def rows(tmp_path: Path) -> list[ManifestRow]:
    images = tmp_path / "images"
    images.mkdir()
    made = []
    for k in range(4):
        center = _write_phantom(images / f"r{k}.png", seed=k)
        made.append(_row(images, f"r{k}.png", center, k + 2))
    return made


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every radiograph decode (prepare_image reads through radiograph_io.read_radiograph)."""
    calls: list[Path] = []
    real = radiograph_io.read_radiograph

    def counting(path: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(Path(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(radiograph_io, "read_radiograph", counting)
    return calls


def _same(a: PreparedImage, b: PreparedImage) -> None:
    assert a.row == b.row
    assert a.shape == b.shape and a.spacing_xy_mm == b.spacing_xy_mm
    assert a.localizer_box == b.localizer_box and a.window_origin_xy == b.window_origin_xy
    for name in ("localizer_input", "baseline_input", "window"):
        left, right = getattr(a, name), getattr(b, name)
        assert left.dtype == right.dtype == np.float16
        assert np.array_equal(left, right), name
    assert a.refine_frame == b.refine_frame
    if a.refine_cache is None or b.refine_cache is None:
        assert a.refine_cache is None and b.refine_cache is None
    else:
        assert np.array_equal(a.refine_cache, b.refine_cache)


def test_cache_is_reused_and_invalidated_when_a_file_changes(
    rows: list[ManifestRow], decodes: list[Path], tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    first = prepare_images(rows, PARAMS, cache_dir=cache, show_progress=False)
    assert len(decodes) == 4
    entries = sorted(cache.glob("prepared-*.npz"))
    assert len(entries) == 4

    decodes.clear()
    second = prepare_images(rows, PARAMS, cache_dir=cache, show_progress=False)
    assert decodes == []  # nothing decoded again
    for a, b in zip(first, second, strict=True):
        _same(a, b)

    _write_phantom(rows[2].image, seed=40)  # the file changes: same name, new content
    decodes.clear()
    third = prepare_images(rows, PARAMS, cache_dir=cache, show_progress=False)
    assert decodes == [rows[2].image]
    _same(third[2], prepare_image(rows[2], **PARAMS))
    assert not np.array_equal(third[2].window, first[2].window)

    decodes.clear()
    prepare_images(rows, {**PARAMS, "jitter_px": 8.0}, cache_dir=cache, show_progress=False)
    assert len(decodes) == 4  # other settings: other entries


def test_half_written_entry_is_ignored_and_rewritten(
    rows: list[ManifestRow], decodes: list[Path], tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    prepare_images(rows[:1], PARAMS, cache_dir=cache, show_progress=False)
    (entry,) = cache.glob("prepared-*.npz")
    entry.write_bytes(entry.read_bytes()[: entry.stat().st_size // 2])  # killed mid-write
    decodes.clear()
    again = prepare_images(rows[:1], PARAMS, cache_dir=cache, show_progress=False)
    assert len(decodes) == 1
    _same(again[0], prepare_image(rows[0], **PARAMS))
    decodes.clear()
    prepare_images(rows[:1], PARAMS, cache_dir=cache, show_progress=False)
    assert decodes == []  # the rewritten entry is whole


def test_pool_gives_the_serial_arrays_in_row_order(rows: list[ManifestRow], tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    pooled = prepare_images(rows, PARAMS, workers=2, cache_dir=cache, show_progress=False)
    assert [p.row for p in pooled] == rows
    for row, image in zip(rows, pooled, strict=True):
        _same(image, prepare_image(row, **PARAMS))
    assert len(list(cache.glob("prepared-*.npz"))) == 4  # the workers wrote the entries


def test_every_unreadable_file_is_named_at_once(
    rows: list[ManifestRow], tmp_path: Path, decodes: list[Path]
) -> None:
    folder = rows[0].image.parent
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    bad = [_row(folder, "broken.png", (5.0, 5.0), 10), _row(folder, "gone.png", (5.0, 5.0), 11)]
    cache = tmp_path / "cache"
    with pytest.raises(InputError) as caught:
        prepare_images(
            [rows[0], bad[0], rows[1], bad[1]], PARAMS, cache_dir=cache, show_progress=False
        )
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("2 radiograph(s) cannot be read")
    assert message.index("broken.png") < message.index("gone.png")
    assert len(list(cache.glob("prepared-*.npz"))) == 2  # the good ones are kept
    decodes.clear()
    prepare_images(rows[:2], PARAMS, cache_dir=cache, show_progress=False)
    assert decodes == []


def test_bad_options_are_one_line_errors(rows: list[ManifestRow], tmp_path: Path) -> None:
    with pytest.raises(InputError, match="--workers 0"):
        prepare_images(rows, PARAMS, workers=0, show_progress=False)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(InputError, match="--cache-dir"):
        prepare_images(rows, PARAMS, cache_dir=blocker / "cache", show_progress=False)


def test_params_digest_is_stable_and_sensitive() -> None:
    base = params_digest({**PARAMS, "allow_modalities": ["OT", "SC"]})
    assert base == params_digest({**PARAMS, "allow_modalities": ("SC", "OT")})
    assert base != params_digest({**PARAMS, "allow_modalities": ["SC"]})
    assert base != params_digest({**PARAMS, "allow_modalities": ["OT", "SC"], "jitter_px": 4.5})
    changed = {**PARAMS, "allow_modalities": ["OT", "SC"], "geometry": PatchGeometry(32, 6.0)}
    assert base != params_digest(changed)


def test_fully_cached_run_starts_no_process(
    rows: list[ManifestRow], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fracturelab.femur.prepare_pool as prepare_pool

    cache = tmp_path / "cache"
    first = prepare_images(rows, PARAMS, cache_dir=cache, show_progress=False)

    def no_pool(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a process pool was started for cached images")

    monkeypatch.setattr(prepare_pool, "ProcessPoolExecutor", no_pool)
    again = prepare_images(rows, PARAMS, workers=2, cache_dir=cache, show_progress=False)
    for a, b in zip(first, again, strict=True):
        _same(a, b)


def test_a_full_cache_disk_is_one_line(
    rows: list[ManifestRow], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fracturelab.femur.prepare_pool as prepare_pool

    def full(*args: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(prepare_pool, "_write_entry", full)
    with pytest.raises(InputError, match=r"--cache-dir .*No space left on device\); free some"):
        prepare_images(rows[:1], PARAMS, cache_dir=tmp_path / "cache", show_progress=False)


def test_second_stage_window_is_cached_too(
    rows: list[ManifestRow], decodes: list[Path], tmp_path: Path
) -> None:
    from fracturelab.femur.presets import RefineGeometry

    params = {**PARAMS, "refine": RefineGeometry(input_px=32, window_mm=8.0)}
    first = prepare_images(rows[:2], params, cache_dir=tmp_path / "cache", show_progress=False)
    assert all(image.refine_cache is not None for image in first)
    decodes.clear()
    again = prepare_images(rows[:2], params, cache_dir=tmp_path / "cache", show_progress=False)
    assert decodes == []
    for a, b in zip(first, again, strict=True):
        _same(a, b)
