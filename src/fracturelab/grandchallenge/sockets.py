"""The sockets of the spine and femur algorithms, and finding their files under ``/input``.

On grand-challenge.org an algorithm's inputs and outputs are *sockets* (component interfaces),
each with a ``slug``, a ``kind`` and a ``relative_path``. The platform writes
``/input/inputs.json``, a list with one entry per input socket (``{"interface": {"slug",
"kind", "relative_path", ...}, ...}``; newer templates call the key ``socket``), and puts an
image socket's file at ``/input/<relative_path>/<uuid>.mha`` (or ``.tif``); outputs go to
``/output/<relative_path>`` (one image file in an image socket's folder; a JSON file for the
value kinds).

Every role has a default slug, listed in docs/grand-challenge.md; ``ROLE=SLUG`` overrides
(``--socket`` or the ``FRACTURELAB_GC_SOCKETS`` environment variable, comma-separated) rename
it. A renamed socket's relative path follows the platform's rule: ``images/<slug>`` for images,
``<slug>.json`` for values.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from fracturelab.checks import check_choice
from fracturelab.errors import InputError

__all__ = [
    "ENV_SOCKETS",
    "IMAGE_SUFFIXES",
    "SOCKETS",
    "Socket",
    "environment_overrides",
    "find_image",
    "input_path",
    "parse_overrides",
    "read_inputs_json",
    "require_input",
    "sockets_for",
]

#: Environment variable with ``ROLE=SLUG`` overrides, comma-separated.
ENV_SOCKETS = "FRACTURELAB_GC_SOCKETS"
#: Image files the platform puts in an image socket's folder.
IMAGE_SUFFIXES = (".mha", ".tif", ".tiff")


@dataclass(frozen=True)
class Socket:
    """One socket of an algorithm.

    Attributes:
        role: fracturelab's name for it (``ct``, ``grade_map`` ...).
        slug: The platform's slug.
        kind: The platform's kind name (``Image``, ``Segmentation``, ``Float`` ...).
        relative_path: Where its value lies below ``/input`` or ``/output``.
        is_input: An input (else an output).
        required: An input the algorithm cannot run without.
        description: What it holds, for the docs and ``gc build``'s sockets.json.

    """

    role: str
    slug: str
    kind: str
    relative_path: str
    is_input: bool
    required: bool = True
    description: str = ""

    @property
    def is_image(self) -> bool:
        """An image socket (a folder holding one ``.mha`` / ``.tif``)."""
        return self.kind in ("Image", "Segmentation", "Heat Map")

    def renamed(self, slug: str) -> Socket:
        """The socket under another slug, its relative path derived from it."""
        path = f"images/{slug}" if self.is_image else f"{slug}.json"
        return replace(self, slug=slug, relative_path=path)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (sockets.json of a build context)."""
        return {
            "role": self.role,
            "slug": self.slug,
            "kind": self.kind,
            "relative_path": self.relative_path,
            "direction": "input" if self.is_input else "output",
            "required": self.required,
            "description": self.description,
        }


def _image(role: str, slug: str, kind: str, is_input: bool, text: str, **extra: Any) -> Socket:
    return Socket(role, slug, kind, f"images/{slug}", is_input, description=text, **extra)


def _value(role: str, slug: str, kind: str, text: str) -> Socket:
    return Socket(role, slug, kind, f"{slug}.json", False, description=text)


#: The default sockets of each task, inputs first.
SOCKETS: dict[str, tuple[Socket, ...]] = {
    "spine": (
        _image("ct", "ct-image", "Image", True, "The CT (HU), any orientation."),
        _image(
            "vertebrae", "vertebra-segmentation", "Segmentation", True,
            "Vertebra label map on the CT's grid (VerSe or TotalSegmentator numbering). "
            "Optional when a segmenter is installed in the container.",
            required=False,
        ),
        _value(
            "results", "vertebra-fracture-results", "Anything",
            "The per-vertebra records of vertebrae.json (spine analyze), with the model's "
            "outputs when a model is applied.",
        ),
        _value(
            "points", "vertebral-fracture-points", "Multiple points",
            "One point per fractured vertebra (Genant grade >= 1) at its body centre, LPS mm, "
            "named by level and grade, with the model's P(fracture) as probability.",
        ),
        _image(
            "grade_map", "vertebra-grade-map", "Segmentation", False,
            "Label map on the CT's exact grid: 0 background, 1-3 the Genant grade of a "
            "fractured vertebra, 4 a normal (grade 0) vertebra, 5 a vertebra not graded.",
        ),
        _value(
            "summary", "spine-fracture-summary", "Anything",
            "Patient level: P(any vertebral fracture) (the highest vertebra probability; null "
            "without a model), maximum grade, fractured levels.",
        ),
        _value("max_grade", "maximum-genant-grade", "Integer", "Highest Genant grade (0-3)."),
        _value(
            "probability", "vertebral-fracture-probability", "Float",
            "Patient-level P(any vertebral fracture); only with a model.",
        ),
    ),
    "femur": (
        _image("radiograph", "femur-radiograph", "Image", True, "The femur radiograph, 2D."),
        _value(
            "center", "femur-fracture-center", "Point",
            "The fracture centre in the image's world coordinates (mm); patch models only.",
        ),
        _value(
            "p_aff", "atypical-femur-fracture-probability", "Float",
            "P(atypical femur fracture).",
        ),
        _value("label", "femur-fracture-label", "String", "AFF or NFF (P(AFF) >= threshold)."),
        _value(
            "prediction", "femur-fracture-prediction", "Anything",
            "The femur predict JSON (docs/design.md) plus the centre in world mm.",
        ),
        _image(
            "overlay", "femur-fracture-overlay", "Image", False,
            "The radiograph with the centre, patch box and P(AFF) drawn (RGB).",
        ),
    ),
}  # fmt: skip


def parse_overrides(texts: Iterable[str], source: str = "--socket") -> dict[str, str]:
    """Read ``ROLE=SLUG`` overrides; the roles are checked by :func:`sockets_for`."""
    overrides: dict[str, str] = {}
    for text in texts:
        for item in (part.strip() for part in text.split(",")):
            if not item:
                continue
            role, _, slug = item.partition("=")
            slug = slug.strip()
            if not role.strip() or not slug or any(c in slug for c in "/\\ "):
                raise InputError(
                    f"{source} {item!r} is not valid; write ROLE=SLUG, e.g. ct=ct-image"
                )
            overrides[role.strip()] = slug
    return overrides


def sockets_for(task: str, overrides: Mapping[str, str] | None = None) -> dict[str, Socket]:
    """The sockets of ``task`` by role, with ``overrides`` (role -> slug) applied.

    Overrides for roles of the other task are ignored, so that one environment variable can
    serve both containers; a role neither task has is refused.
    """
    check_choice("--task", task, tuple(SOCKETS))
    sockets = {socket.role: socket for socket in SOCKETS[task]}
    known = {socket.role for group in SOCKETS.values() for socket in group}
    for role, slug in (overrides or {}).items():
        check_choice("socket role", role, sorted(known))
        if role in sockets:
            sockets[role] = sockets[role].renamed(slug)
    return sockets


def environment_overrides() -> dict[str, str]:
    """Overrides from :data:`ENV_SOCKETS`."""
    text = os.environ.get(ENV_SOCKETS, "")
    return parse_overrides([text], ENV_SOCKETS) if text else {}


def read_inputs_json(input_dir: Path) -> dict[str, dict[str, Any]] | None:
    """The input sockets ``inputs.json`` lists, by slug; ``None`` without the file.

    Raises:
        InputError: The file is unreadable or not the platform's layout.

    """
    path = input_dir / "inputs.json"
    if not path.exists():
        return None
    fix = "it must be the platform's list of {'interface': {'slug', 'relative_path', 'kind'}}"
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        reason = str(error).splitlines()[0]
        raise InputError(f"{path}: cannot be read as JSON ({reason}); {fix}") from None
    if not isinstance(entries, list):
        raise InputError(f"{path}: is not a list; {fix}")
    found: dict[str, dict[str, Any]] = {}
    for number, entry in enumerate(entries):
        socket = entry.get("interface", entry.get("socket")) if isinstance(entry, dict) else None
        if not isinstance(socket, dict) or not isinstance(socket.get("slug"), str):
            raise InputError(f"{path}: entry {number} has no interface slug; {fix}")
        found[socket["slug"]] = socket
    return found


def input_path(input_dir: Path, socket: Socket, listed: Mapping[str, Any] | None) -> Path | None:
    """Where an input socket's value lies, or ``None`` when the platform did not give it.

    With ``inputs.json`` (``listed``) the socket must be listed there, and its
    ``relative_path`` is the platform's; without it, the folder layout decides.
    """
    if listed is not None:
        entry = listed.get(socket.slug)
        if entry is None:
            return None
        relative = str(entry.get("relative_path") or socket.relative_path)
        return input_dir / relative
    candidate = input_dir / socket.relative_path
    return candidate if candidate.exists() else None


def find_image(folder: Path, socket: Socket) -> Path:
    """The one image file of an image socket's folder.

    Raises:
        InputError: The folder is missing, holds no ``.mha`` / ``.tif``, or holds several.

    """
    name = f"socket {socket.slug} ({socket.relative_path})"
    if not folder.is_dir():
        raise InputError(
            f"{name}: {folder} is not a folder; the platform puts the image at "
            f"{socket.relative_path}/<uuid>.mha, check the socket's relative path"
        )
    images = sorted(
        p for p in folder.iterdir()
        if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
    )  # fmt: skip
    if not images:
        raise InputError(f"{name}: {folder} holds no .mha or .tif image; give exactly one")
    if len(images) > 1:
        listed = ", ".join(p.name for p in images[:4])
        raise InputError(
            f"{name}: {folder} holds {len(images)} images ({listed}); a socket holds exactly one"
        )
    return images[0]


def require_input(input_dir: Path, socket: Socket, listed: Mapping[str, Any] | None) -> Path | None:
    """The image file of an input socket; ``None`` for an optional one that is absent.

    Raises:
        InputError: A required socket is absent (one line naming its slug and where it was
            looked for), or its folder does not hold exactly one image.

    """
    folder = input_path(input_dir, socket, listed)
    if folder is None:
        if not socket.required:
            return None
        where = (
            "inputs.json does not list it"
            if listed is not None
            else (f"{input_dir / socket.relative_path} does not exist")
        )
        raise InputError(
            f"input socket {socket.slug} ({socket.description.split('.')[0].lower()}) is "
            f"missing: {where}; add the socket to the algorithm (or rename the role with "
            f"--socket {socket.role}=SLUG / {ENV_SOCKETS})"
        )
    return find_image(folder, socket)
