"""Loading saved network weights into a network, with one-line errors a user can act on."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch
from torch import nn

from fracturelab.errors import InputError

__all__ = ["load_weights"]


def load_weights(
    network: nn.Module, path: Path, device: torch.device | str, described_in: str
) -> None:
    """Load ``path`` into ``network`` on ``device`` and put it in evaluation mode.

    Args:
        network: The network the model folder describes.
        path: Its saved ``state_dict`` (``torch.save``).
        device: Where the weights go.
        described_in: The file that describes the network (``model.json``), for messages.

    Raises:
        InputError: One line for a missing file, a file that cannot be read (truncated or
            damaged), or weights that do not fit the network ``described_in`` describes.

    """
    if not path.is_file():
        raise InputError(f"{path} is missing; the model folder is incomplete")
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except (RuntimeError, OSError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InputError(
            f"{path} cannot be read: the file is truncated or damaged ({first}); copy the "
            "model folder again or retrain"
        ) from None
    try:
        network.load_state_dict(state)
    except (RuntimeError, TypeError) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InputError(
            f"{path} does not fit the network described in {described_in} ({first})"
        ) from None
    network.to(device).eval()
