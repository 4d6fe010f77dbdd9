"""Writing an algorithm's outputs: all of them into a hidden folder, then into place at once.

The platform reads ``/output`` after the container exits; a failure must leave nothing there
that looks like a result. :class:`OutputStage` writes every value and image into a hidden
temporary folder inside the output folder (the only place the container may write besides
``/tmp``), validates each JSON value against its socket's schema before writing it, and moves
the files to their relative paths only when the whole run succeeded.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from fracturelab.errors import InputError
from fracturelab.grandchallenge.sockets import Socket
from fracturelab.grandchallenge.values import check_value, json_text

if TYPE_CHECKING:
    import SimpleITK as sitk

__all__ = ["OutputStage"]


class OutputStage:
    """A context manager collecting the outputs of one run.

    Args:
        output_dir: The output folder (``/output``); created if missing.

    Raises:
        InputError: The output folder cannot be written, or already holds a socket's file.

    """

    def __init__(self, output_dir: Path) -> None:
        self.output_dir = Path(output_dir)
        self._staged: dict[str, Path] = {}
        self._temporary: Path | None = None

    def __enter__(self) -> OutputStage:
        try:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            self._temporary = Path(tempfile.mkdtemp(prefix=".fracturelab-", dir=self.output_dir))
        except OSError as error:
            raise InputError(
                f"output folder {self.output_dir}: cannot be written ({error.strerror}); "
                "give a writable folder with --output"
            ) from None
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        try:
            if kind is None:
                self._commit()
        finally:
            if self._temporary is not None:
                shutil.rmtree(self._temporary, ignore_errors=True)

    @property
    def written(self) -> dict[str, Path]:
        """Final path of each staged output, by socket slug."""
        return {slug: self.output_dir / relative for slug, relative in self._relative().items()}

    def _relative(self) -> dict[str, Path]:
        assert self._temporary is not None
        return {slug: path.relative_to(self._temporary) for slug, path in self._staged.items()}

    def _target(self, socket: Socket, name: str | None = None) -> Path:
        if self._temporary is None:
            raise RuntimeError("OutputStage is used outside its with block")
        if socket.is_input:
            raise ValueError(f"{socket.slug} is an input socket")
        relative = Path(socket.relative_path) / name if name else Path(socket.relative_path)
        final = self.output_dir / relative
        existing = final.parent if name else final
        if (name and existing.is_dir() and any(existing.iterdir())) or (
            not name and final.exists()
        ):
            raise InputError(
                f"output folder {self.output_dir}: {existing} already exists; give an empty "
                "output folder (the platform reads every file in it)"
            )
        target = self._temporary / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def write_value(self, socket: Socket, value: Any, schema: str | None = None) -> None:
        """Validate ``value`` against the socket kind's schema (and ``schema``) and stage it."""
        check_value(value, socket.kind, schema)
        target = self._target(socket)
        target.write_text(json_text(value), encoding="utf-8")
        self._staged[socket.slug] = target

    def write_image(self, socket: Socket, image: sitk.Image, name: str = "output.mha") -> None:
        """Stage a SimpleITK image as the one file of an image socket (compressed MHA)."""
        import SimpleITK as sitk

        target = self._target(socket, name)
        sitk.WriteImage(image, str(target), useCompression=True)
        self._staged[socket.slug] = target

    def _commit(self) -> None:
        moved: list[Path] = []
        try:
            for slug, relative in self._relative().items():
                final = self.output_dir / relative
                final.parent.mkdir(parents=True, exist_ok=True)
                self._staged[slug].replace(final)
                moved.append(final)
        except OSError:
            for path in moved:  # all or nothing
                path.unlink(missing_ok=True)
            raise
