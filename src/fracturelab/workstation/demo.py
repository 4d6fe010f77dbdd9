"""A ready-to-use demo workstation built from synthetic data (``fracturelab workstation demo``).

Three spine phantoms with known fractures (stored in different orientations) and a few femur
radiographs are written to a folder, imported into a new SQLite database with suggestions,
and put on the worklists of two readers. Spine suggestions come from ``spine analyze``; femur
suggestions (centre and P(AFF)) from a femur model: the one given, or else a tiny CNN that
the demo trains on its own, separate synthetic radiographs (``femur-training/``; about 30 s
on two CPU cores). That model sees 60 images for a few epochs: its suggestions show how the
workstation presents them, they are not accurate. The accounts' passwords are random and
written to ``credentials.txt`` (readable by the owner only).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from fracturelab.errors import InputError
from fracturelab.outputs import atomic_write_text

__all__ = ["DEMO_READERS", "DemoWorkstation", "build_demo", "train_demo_femur_model"]

#: Reader accounts of the demo (plus ``admin``).
DEMO_READERS = ("reader1", "reader2")
#: The demo's spine cases: name, fractures, storage orientation.
_SPINE_CASES = (
    ("spine01", "T12:2:wedge,L1:3:crush", "LPS"),
    ("spine02", "L2:1:biconcave", "RAS"),
    ("spine03", "", "PIR"),
)
#: Side range of the demo's femur radiographs (and of the training images), pixels.
_FEMUR_SIZE_PX = (300, 500)


@dataclass
class DemoWorkstation:
    """What :func:`build_demo` made.

    Attributes:
        folder: The demo folder.
        database_url: SQLite URL of its database.
        passwords: User name -> password.
        cases: Names of the imported cases.
        femur_model: The model folder whose predictions are the femur suggestions.

    """

    folder: Path
    database_url: str
    passwords: dict[str, str] = field(repr=False)
    cases: list[str]
    femur_model: Path | None = None


def train_demo_femur_model(
    folder: str | Path, *, epochs: int = 12, n_images: int = 60, seed: int = 11
) -> Path:
    """Train a tiny femur model (CNN only) on synthetic radiographs of its own.

    The images are written to ``folder/data`` with a seed other than the demo's cases, so the
    model never saw the radiographs it makes suggestions for; the run goes to ``folder/run``.

    Args:
        folder: New folder for the training images and the run.
        epochs: Most epochs per network (12: about 30 s on two CPU cores).
        n_images: Training radiographs (AFF and NFF patients), >= 20.
        seed: Seed of the training images and the training.

    Returns:
        The model folder (``folder/run/models/best``) for :func:`~.importer.import_femur`.

    """
    from fracturelab.femur.config import ExperimentConfig
    from fracturelab.femur.experiment import run_experiment
    from fracturelab.synth.femur import make_femur_dataset
    from fracturelab.training.config import TrainConfig

    if n_images < 20:
        raise InputError(f"n_images={n_images} is too few to train on; give at least 20")
    root = Path(folder)
    manifest = make_femur_dataset(
        root / "data", n_images, seed=seed, aff_fraction=0.4, size_range_px=_FEMUR_SIZE_PX,
        images_per_patient=(1, 2), progress=False,
    )  # fmt: skip
    training = TrainConfig(
        max_epochs=epochs, batch_size=8, patience=epochs, seed=seed, device="cpu"
    )
    config = ExperimentConfig(
        n_folds=2, backbones=("cnn",), model_size="tiny", localizer_input_px=64,
        localizer_training=training, classifier_training=training, n_bootstrap=100, seed=seed,
    )  # fmt: skip
    result = run_experiment(manifest, root / "run", config, show_progress=False)
    return result.out / "models" / "best"


def build_demo(
    folder: str | Path,
    *,
    femur_images: int = 6,
    femur_model: str | Path | None = None,
    femur_training_epochs: int = 12,
    progress: Callable[[str], None] | None = None,
) -> DemoWorkstation:
    """Write synthetic cases into ``folder`` and set up a workstation database for them.

    Args:
        folder: New or empty folder (an existing demo database is refused, not overwritten).
        femur_images: Number of synthetic femur radiographs, >= 1.
        femur_model: Femur model folder (``.../models/best``) for the femur suggestions;
            ``None`` trains a tiny one (:func:`train_demo_femur_model`).
        femur_training_epochs: Epochs of that tiny model (fewer: faster, worse).
        progress: Called with a short message before each step.

    Raises:
        InputError: If ``folder`` is a file, already holds a demo database or anything else,
            or ``femur_images`` < 1.

    """
    from fracturelab.synth import make_spine_phantom
    from fracturelab.synth.femur import make_femur_dataset
    from fracturelab.workstation.db import Database, init_database
    from fracturelab.workstation.importer import import_femur, import_spine
    from fracturelab.workstation.models import Case, User
    from fracturelab.workstation.users import add_user
    from fracturelab.workstation.worklist import assign

    if femur_images < 1:
        raise InputError(f"femur_images={femur_images} is not valid; give at least 1")
    root = Path(folder).resolve()
    database_file = root / "labels.db"
    if database_file.exists():
        raise InputError(
            f"{database_file} already exists; serve it with fracturelab workstation serve --db "
            f"sqlite:///{database_file}, or give a new folder"
        )
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        what = "is a file" if not root.is_dir() else "is not empty"
        raise InputError(f"--out {root} {what}; give a new or empty folder for the demo")
    say = progress or (lambda message: None)
    cts, masks = root / "spine" / "cts", root / "spine" / "masks"
    cts.mkdir(parents=True, exist_ok=True)
    masks.mkdir(parents=True, exist_ok=True)
    for name, fractures, orientation in _SPINE_CASES:
        say(f"spine phantom {name} ({orientation}{', ' + fractures if fractures else ''})")
        phantom = make_spine_phantom(
            levels="T10-L4", fractures=fractures, spacing_mm=(1.5, 1.5, 1.5),
            orientation=orientation, seed=len(name) + ord(name[-1]),
        )  # fmt: skip
        saved = phantom.save(root / "spine" / "truth" / name)
        Path(saved["ct"]).replace(cts / f"{name}.nii.gz")
        Path(saved["vertebrae"]).replace(masks / f"{name}_vertebrae.nii.gz")
    say(f"{femur_images} femur radiographs")
    manifest = make_femur_dataset(
        root / "femur",
        femur_images,
        size_range_px=_FEMUR_SIZE_PX,
        seed=3,
        images_per_patient=(1, 2),
        progress=False,
    )
    if femur_model is None:
        say("training a tiny femur model for the femur suggestions (about 30 s)")
        femur_model = train_demo_femur_model(root / "femur-training", epochs=femur_training_epochs)
    url = f"sqlite:///{database_file}"
    init_database(url)
    database = Database(url)
    passwords = {name: secrets.token_urlsafe(9) for name in ("admin", *DEMO_READERS)}
    try:
        with database.session() as session:
            add_user(session, "admin", passwords["admin"], "admin")
            for reader in DEMO_READERS:
                add_user(session, reader, passwords[reader], "reader")
            session.commit()
            say("importing spine cases with spine analyze suggestions")
            import_spine(session, cts, masks, suggest=True)
            say("importing femur cases with the femur model's suggestions")
            import_femur(session, manifest, femur_model)
            cases = list(session.scalars(select(Case).order_by(Case.task, Case.name)))
            for reader in DEMO_READERS:
                user = session.scalars(select(User).where(User.username == reader)).one()
                assign(session, cases, user)
            session.commit()
            names = [case.name for case in cases]
    finally:
        database.dispose()
    lines = [f"{name} {password}" for name, password in passwords.items()]
    credentials = root / "credentials.txt"
    atomic_write_text(credentials, "\n".join(["# user password", *lines]) + "\n")
    credentials.chmod(0o600)
    return DemoWorkstation(root, url, passwords, names, Path(femur_model))
