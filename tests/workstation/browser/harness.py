"""A seeded workstation database and the real server on loopback, for browser tests and the
README screenshots (``scripts/workstation_screenshots.py``).

Seed: an admin and two readers; two spine cases from the synthetic phantom (T12-L2, L1 with a
35 % wedge fracture, 2 mm voxels, 160 mm field of view) imported with morphometry
suggestions; one femur radiograph of about 2500 px (so the browser gets a downscaled copy)
with a known suggestion. Every case is on alice's worklist; bob reads spine case1 too.
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from fracturelab.workstation.models import Reading, User

PASSWORDS = {"admin": "admin-password", "alice": "alice-password", "bob": "bob-password1"}


@dataclass
class Seeded:
    """What the seed put into the database, with the ground truth tests compare against."""

    url: str
    spine_ids: dict[str, int]
    femur_id: int
    spine_levels: list[str]
    spine_labels: dict[str, int]
    spine_shape_xyz: tuple[int, int, int]
    spine_truth: dict[str, Any]
    femur_size_px: tuple[int, int]
    femur_spacing_mm: float
    femur_suggestion: dict[str, Any]
    files: dict[str, Path] = field(default_factory=dict)


def seed_database(
    root: Path,
    *,
    levels: str = "T12-L2",
    fractures: str = "L1:35%:wedge",
    fov_mm: tuple[float, float, float] | None = (160, 160, 146),
    spacing_mm: tuple[float, float, float] = (2, 2, 2),
    femur_aff: bool = False,
) -> Seeded:
    """Create ``root/labels.db`` with users, cases and assignments (about 2 s).

    The default phantom is small (80 x 80 x 73 voxels) so that software WebGL renders it
    quickly; ``fov_mm=None`` gives the phantom's full torso. ``femur_aff`` draws an atypical
    femur fracture instead of a normal one.
    """
    import SimpleITK as sitk
    from argon2 import PasswordHasher, Type

    from fracturelab.synth import make_spine_phantom
    from fracturelab.synth.femur import make_femur_dataset
    from fracturelab.workstation import users
    from fracturelab.workstation.db import Database, init_database
    from fracturelab.workstation.importer import import_femur, import_spine
    from fracturelab.workstation.models import Case
    from fracturelab.workstation.users import add_user
    from fracturelab.workstation.worklist import assign

    root.mkdir(parents=True, exist_ok=True)
    phantom = make_spine_phantom(
        levels=levels, spacing_mm=spacing_mm, fractures=fractures, fov_mm=fov_mm
    )
    paths = phantom.save(root / "phantom")
    cts, masks = root / "cts", root / "masks"
    cts.mkdir()
    masks.mkdir()
    for name in ("case1", "case2"):
        shutil.copy(paths["ct"], cts / f"{name}.nii.gz")
        shutil.copy(paths["vertebrae"], masks / f"{name}_vertebrae.nii.gz")
    truth = json.loads(paths["truth"].read_text())
    size = sitk.ReadImage(str(paths["ct"])).GetSize()

    manifest = make_femur_dataset(
        root / "femur",
        1,
        size_range_px=(2400, 2600),
        aff_fraction=1.0 if femur_aff else 0.0,
        progress=False,
    )

    url = f"sqlite:///{root / 'labels.db'}"
    init_database(url)
    database = Database(url)
    cheap = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1, type=Type.ID)
    real, users._HASHER = users._HASHER, cheap  # fast to create; re-hashed on first login
    try:
        with database.transaction() as session:
            people = {
                name: add_user(session, name, password, "admin" if name == "admin" else "reader")
                for name, password in PASSWORDS.items()
            }
    finally:
        users._HASHER = real
    with database.session() as session:
        summary = import_spine(session, cts, masks, suggest=True)
        assert summary.added == ["case1", "case2"], summary
        summary = import_femur(session, manifest)
        assert len(summary.added) == 1, summary
        spine = {c.name: c for c in session.scalars(select(Case).where(Case.task == "spine"))}
        femur = session.scalars(select(Case).where(Case.task == "femur")).one()
        width, height = _png_size(manifest.parent / femur.name)
        # A known suggestion, away from the true fracture, so accepting it is visible.
        suggestion = {
            "center_x": round(width * 0.43, 1),
            "center_y": round(height * 0.58, 1),
            "label": "AFF",
            "p_aff": 0.81,
        }
        femur.suggestion = suggestion
        alice, bob = (session.merge(people[n]) for n in ("alice", "bob"))
        assign(session, [*spine.values(), femur], alice)
        assign(session, [spine["case1"]], bob)
        session.commit()
        seeded = Seeded(
            url=url,
            spine_ids={name: case.id for name, case in spine.items()},
            femur_id=femur.id,
            spine_levels=[v["level"] for v in truth["vertebrae"]],
            spine_labels={v["level"]: v["label"] for v in truth["vertebrae"]},
            spine_shape_xyz=(int(size[0]), int(size[1]), int(size[2])),
            spine_truth=truth,
            femur_size_px=(width, height),
            femur_spacing_mm=float(femur.pixel_spacing_mm or 0.0),
            femur_suggestion=suggestion,
            files={"ct": paths["ct"], "vertebrae": paths["vertebrae"], "manifest": manifest},
        )
    database.dispose()
    return seeded


def _png_size(path: Path) -> tuple[int, int]:
    import SimpleITK as sitk

    width, height = sitk.ReadImage(str(path)).GetSize()[:2]
    return int(width), int(height)


@dataclass
class LiveServer:
    """The running server: its base URL and the database it serves."""

    base_url: str
    database: Any


@contextmanager
def live_server(url: str, cache_dir: Path) -> Iterator[LiveServer]:
    """Serve the workstation for database ``url`` on a free loopback port in a thread."""
    import uvicorn

    from fracturelab.workstation.db import Database
    from fracturelab.workstation.server.app import create_app

    database = Database(url)
    app = create_app(database, cache_dir=cache_dir)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="workstation", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the workstation server did not start; see the log above")
        time.sleep(0.02)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", database)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        database.dispose()


# ----------------------------------------------------------------------------- page helpers


def reading(server: LiveServer, username: str, case_id: int) -> dict[str, Any] | None:
    """The user's reading of a case straight from the database."""
    with server.database.session() as session:
        row = session.scalars(
            select(Reading)
            .join(User, User.id == Reading.reader_id)
            .where(User.username == username, Reading.case_id == case_id)
        ).one_or_none()
        if row is None:
            return None
        return {
            "id": row.id,
            "status": row.status,
            "version": row.version,
            "is_reference": row.is_reference,
            "time_spent_s": row.time_spent_s,
            "answers": {answer.key: dict(answer.value) for answer in row.answers},
        }


def wait_saved(page: Any) -> None:
    """Wait until every queued answer is answered by the server and the status says so."""
    page.evaluate("() => (window.fracturelabViewer || window.fracturelabFemur).drain()")
    page.wait_for_selector("#status[data-state='saved']")


def open_spine(page: Any, case_id: int) -> None:
    page.goto(f"/cases/{case_id}")
    page.wait_for_selector("body[data-viewer-ready='true']")


def spine_answer(grade: int | None, morphology: str | None, na: bool = False) -> dict[str, Any]:
    return {"genant_grade": grade, "morphology": morphology, "not_assessable": na}
