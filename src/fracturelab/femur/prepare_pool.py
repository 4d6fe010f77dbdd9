"""Preparing many radiographs: a process pool and a disk cache keyed by file content.

At the real study's scale (thousands of radiographs of 2000-3500 px, many stored as JPEG 2000)
decoding dominates the start of an experiment. :func:`prepare_images` runs
:func:`fracturelab.femur.data.prepare_image` in worker processes and keeps each result in a
cache folder, so a second run, or a run resumed after an interruption, decodes nothing again.

Cache entries are ``<cache_dir>/prepared-<key>.npz``, where ``key`` is the SHA-256 of

- the SHA-256 of the image file's bytes (an edited or replaced file gets a new key),
- a stable digest of the preparation settings (``params``: localizer size, patch geometry,
  baseline size, jitter, allowed modalities),
- the manifest row's centre and pixel spacing (the native window is cut around the centre),
- :data:`fracturelab.femur.data.PREPARED_FORMAT` (bumped when the prepared arrays change).

An entry is written to a temporary file and renamed into place, so a run killed mid-write
leaves no entry (only a temporary file, removed by a later run once it is an hour old); an
entry that cannot be read back is prepared and written again. Files are hashed and entries
loaded in threads of the calling process, so only the images missing from the cache go to
the worker processes (a fully cached run starts none). An entry holds every array
of the :class:`~fracturelab.femur.data.PreparedImage` (the second localisation stage's window
too, when ``params`` has ``refine``). Memory stays bounded: workers
return only the prepared (float16, downsampled or windowed) arrays, at most two images per
worker are in flight, and no native image is kept once its arrays are cut.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
import zipfile
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import (
    FIRST_COMPLETED,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import numpy as np

from fracturelab.errors import InputError
from fracturelab.femur import data
from fracturelab.femur.data import PreparedImage
from fracturelab.femur.geometry import Letterbox
from fracturelab.femur.manifest import ManifestRow
from fracturelab.femur.refine import WindowFrame
from fracturelab.outputs import atomic_path, check_output_dir
from fracturelab.progress import progress_bar
from fracturelab.threads import share_cores, threads_per_worker

__all__ = ["cache_key", "params_digest", "prepare_images"]

log = logging.getLogger(__name__)

#: Entries in flight per worker: enough to keep workers busy, few enough to bound memory.
_IN_FLIGHT_PER_WORKER = 2
#: Full messages shown when files cannot be read; the rest are listed by name.
_MESSAGES_SHOWN = 10
#: Temporary files of killed runs older than this (seconds) are removed.
_STALE_TEMPORARY_S = 3600.0
_PREFIX = "prepared-"


def _format() -> str:
    return str(getattr(data, "PREPARED_FORMAT", "1"))


def _canonical(value: Any) -> Any:
    """A JSON-able form of ``value`` that is the same in every process and run."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Path):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: _canonical(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"__type__": type(value).__name__, **fields}
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, set | frozenset):
        return sorted(json.dumps(_canonical(v), sort_keys=True) for v in value)
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    raise TypeError(f"cannot key the cache on a parameter of type {type(value).__name__}")


def params_digest(params: Mapping[str, Any]) -> str:
    """Stable SHA-256 (hex) of preparation settings; equal settings give equal digests.

    Collections of modalities are compared as sets (``prepare_image`` sorts them).
    """
    canonical = dict(_canonical(params))
    if "allow_modalities" in params:
        canonical["allow_modalities"] = sorted(str(m) for m in params["allow_modalities"])
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_key(file_sha256: str, row: ManifestRow, digest: str) -> str:
    """The cache key of one image: file content, its row's centre and spacing, settings, format.

    Args:
        file_sha256: SHA-256 (hex) of the image file's bytes.
        row: Its manifest row (centre and manifest spacing change the prepared arrays).
        digest: :func:`params_digest` of the preparation settings.

    """
    parts = {
        "file": file_sha256,
        "center": None if row.center_xy_px is None else [repr(float(v)) for v in row.center_xy_px],
        "spacing": None if row.pixel_spacing_mm is None else repr(float(row.pixel_spacing_mm)),
        "params": digest,
        "format": _format(),
    }
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _entry_path(cache_dir: Path, key: str) -> Path:
    return cache_dir / f"{_PREFIX}{key}.npz"


def _write_entry(path: Path, key: str, image: PreparedImage) -> None:
    box = image.localizer_box
    meta = {
        "key": key,
        "shape": list(image.shape),
        "spacing_xy_mm": None if image.spacing_xy_mm is None else list(image.spacing_xy_mm),
        "localizer_box": {
            "size": box.size,
            "source_shape": list(box.source_shape),
            "resized_shape": list(box.resized_shape),
            "offset_xy": list(box.offset_xy),
        },
        "window_origin_xy": list(image.window_origin_xy),
        "allow_modalities": list(image.allow_modalities),
        "refine_frame": None,
    }
    arrays: dict[str, Any] = {
        "localizer_input": image.localizer_input,
        "baseline_input": image.baseline_input,
        "window": image.window,
    }
    frame = image.refine_frame
    if image.refine_cache is not None and frame is not None:  # the second stage's window
        arrays["refine_cache"] = image.refine_cache
        meta["refine_frame"] = {
            "origin_xy": [float(v) for v in frame.origin_xy],
            "step": float(frame.step),
            "size": int(frame.size),
        }
    with atomic_path(path) as temporary, temporary.open("wb") as handle:
        np.savez(handle, meta=np.array(json.dumps(meta)), **arrays)


def _pair(values: Sequence[Any]) -> tuple[int, int]:
    return int(values[0]), int(values[1])


def _read_entry(path: Path, key: str, row: ManifestRow) -> PreparedImage | None:
    """The cached image, or ``None`` when there is no entry or it cannot be read back."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as entry:
            meta = json.loads(str(entry["meta"]))
            arrays = {n: entry[n] for n in ("localizer_input", "baseline_input", "window")}
            refine_cache = entry["refine_cache"] if "refine_cache" in entry.files else None
        if meta["key"] != key:
            return None
        box = meta["localizer_box"]
        spacing = meta["spacing_xy_mm"]
        frame = meta.get("refine_frame")
        refine_frame = (
            None
            if frame is None or refine_cache is None
            else WindowFrame(
                (float(frame["origin_xy"][0]), float(frame["origin_xy"][1])),
                float(frame["step"]),
                int(frame["size"]),
            )
        )
        return PreparedImage(
            row=row,
            shape=_pair(meta["shape"]),
            spacing_xy_mm=None if spacing is None else (float(spacing[0]), float(spacing[1])),
            localizer_input=arrays["localizer_input"],
            localizer_box=Letterbox(
                int(box["size"]),
                _pair(box["source_shape"]),
                _pair(box["resized_shape"]),
                _pair(box["offset_xy"]),
            ),
            baseline_input=arrays["baseline_input"],
            window=arrays["window"],
            window_origin_xy=_pair(meta["window_origin_xy"]),
            allow_modalities=tuple(meta["allow_modalities"]),
            refine_cache=refine_cache if refine_frame is not None else None,
            refine_frame=refine_frame,
        )
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as error:
        log.warning("cache entry %s cannot be read (%s); preparing the image again", path, error)
        return None


def _lookup(
    row: ManifestRow, digest: str, cache_dir: Path
) -> tuple[Path | None, PreparedImage | None]:
    """Where ``row``'s entry lives and, if it is there and whole, the cached image.

    ``(None, None)`` when the file cannot be hashed (missing or unreadable): preparing it then
    raises the reader's own one-line error.
    """
    try:
        key = cache_key(_file_sha256(row.image), row, digest)
    except OSError:
        return None, None
    path = _entry_path(cache_dir, key)
    return path, _read_entry(path, key, row)


def _prepare_one(
    row: ManifestRow, params: Mapping[str, Any], entry: Path | None
) -> PreparedImage | InputError:
    """Decode and prepare one row, writing its cache ``entry``; an unreadable file: its error."""
    try:
        prepared = data.prepare_image(row, **params)
    except InputError as error:
        return error
    if entry is not None:
        try:
            _write_entry(entry, entry.stem.removeprefix(_PREFIX), prepared)
        except OSError as error:
            raise InputError(
                f"--cache-dir {entry.parent}: cannot write {entry.name} "
                f"({error.strerror or error}); free some space or give another folder"
            ) from None
    return prepared


def _init_worker(threads: int) -> None:
    """The pool, not each worker, uses the cores: ``threads`` per worker."""
    share_cores(threads)


def _remove_stale_temporaries(cache_dir: Path) -> None:
    now = time.time()
    for leftover in cache_dir.glob(f".{_PREFIX}*.npz"):
        try:
            if now - leftover.stat().st_mtime > _STALE_TEMPORARY_S:
                leftover.unlink()
        except OSError:
            pass  # another run removed or is writing it


def _errors_message(errors: list[tuple[ManifestRow, InputError]]) -> str:
    shown = [str(error) for _, error in errors[:_MESSAGES_SHOWN]]
    rest = [row.image_text for row, _ in errors[_MESSAGES_SHOWN:]]
    text = f"{len(errors)} radiograph(s) cannot be read: " + "; ".join(shown)
    if rest:
        text += f"; and {len(rest)} more: " + ", ".join(rest)
    return text + "; fix or remove these rows of the manifest"


def prepare_images(
    rows: Sequence[ManifestRow],
    params: Mapping[str, Any],
    *,
    workers: int = 1,
    cache_dir: Path | None = None,
    show_progress: bool = True,
) -> list[PreparedImage]:
    """Prepare every row's radiograph, in parallel and through a disk cache.

    Args:
        rows: Manifest rows (with centres, for training).
        params: Keyword arguments of :func:`~fracturelab.femur.data.prepare_image` besides
            ``row`` (``localizer_size``, ``geometry``, ``baseline_size``, ``jitter_px``,
            ``allow_modalities``).
        workers: Processes that read images (``--workers``); 1 reads in this process.
        cache_dir: Folder of cached prepared images (``--cache-dir``), created if needed;
            ``None`` caches nothing.
        show_progress: Draw a progress bar.

    Returns:
        One :class:`~fracturelab.femur.data.PreparedImage` per row, in the order of ``rows``.

    Raises:
        InputError: For a bad ``workers`` or ``cache_dir``; or, after every row was tried,
            one line listing each radiograph that cannot be read (the images that could
            be read are cached, so the run after the fix reads only the fixed ones).

    """
    if workers < 1:
        raise InputError(f"--workers {workers}: give at least 1 worker process")
    if "radiograph" in params:
        raise ValueError("prepare_images reads the files itself; do not pass 'radiograph'")
    if cache_dir is not None:
        cache_dir = check_output_dir(cache_dir, "--cache-dir")
        cache_dir.mkdir(parents=True, exist_ok=True)
        _remove_stale_temporaries(cache_dir)
    digest = params_digest(params)
    results: list[PreparedImage | None] = [None] * len(rows)
    errors: list[tuple[int, InputError]] = []
    start = time.perf_counter()

    def keep(index: int, outcome: PreparedImage | InputError) -> None:
        if isinstance(outcome, InputError):
            errors.append((index, outcome))
        else:
            results[index] = outcome

    entries: list[Path | None] = [None] * len(rows)
    with progress_bar("reading radiographs", len(rows), show=show_progress) as advance:
        if cache_dir is not None:
            folder = cache_dir
            # Hashing (hashlib releases the GIL) and loading entries run in threads here, so
            # a fully cached run starts no process at all.
            with ThreadPoolExecutor(max_workers=workers + 1) as threads:
                found = threads.map(lambda row: _lookup(row, digest, folder), rows)
                for index, (entry, cached) in enumerate(found):
                    entries[index] = entry
                    if cached is not None:
                        keep(index, cached)
                        advance()
        misses = [i for i, image in enumerate(results) if image is None]
        if workers == 1 or len(misses) <= 1:
            for index in misses:
                keep(index, _prepare_one(rows[index], params, entries[index]))
                advance()
        else:
            tasks = [(i, rows[i], entries[i]) for i in misses]
            _run_pool(tasks, params, workers, keep, advance)
    elapsed = time.perf_counter() - start
    log.info(
        "prepared %d radiographs in %.1f s (%.1f per second, %d worker(s))",
        len(rows),
        elapsed,
        len(rows) / max(elapsed, 1e-9),
        workers,
    )
    if errors:
        errors.sort(key=lambda pair: pair[0])
        raise InputError(_errors_message([(rows[i], e) for i, e in errors]))
    return [image for image in results if image is not None]


def _run_pool(
    tasks: Sequence[tuple[int, ManifestRow, Path | None]],
    params: Mapping[str, Any],
    workers: int,
    keep: Callable[[int, PreparedImage | InputError], None],
    advance: Callable[[], None],
) -> None:
    """Run :func:`_prepare_one` over ``(index, row, entry)`` tasks in spawned processes.

    At most ``workers * 2`` images are in flight, so finished results stream back while the
    rest wait, and memory does not grow with the number of images.
    """
    import multiprocessing

    pending: dict[Future[PreparedImage | InputError], int] = {}
    queue = iter(tasks)
    limit = workers * _IN_FLIGHT_PER_WORKER
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(threads_per_worker(workers),),
    )
    try:

        def submit_more() -> None:
            while len(pending) < limit:
                item = next(queue, None)
                if item is None:
                    return
                index, row, entry = item
                pending[pool.submit(_prepare_one, row, dict(params), entry)] = index

        submit_more()
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                keep(pending.pop(future), future.result())
                advance()
            submit_more()
    except BrokenProcessPool:
        raise InputError(
            f"--workers {workers}: a process reading radiographs stopped unexpectedly (out of "
            "memory?); run again with fewer workers (images already read are cached)"
        ) from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
