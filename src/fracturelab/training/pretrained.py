"""ImageNet weights from a local file, mapped onto the MONAI networks (``--pretrained FILE``).

Two layouts are understood, as the usual downloads name their tensors:

- **torchvision ResNet** (``resnet18``, ``resnet34``, ``resnet50`` ...): ``conv1``, ``bn1``,
  ``layer1.0.conv1`` ... ``layer4.*``, ``fc``. Mapped onto a MONAI ``ResNet`` (its stem
  convolution and batch norm and its four stages of ``ResNetBlock`` / ``ResNetBottleneck``),
  wherever it sits in the network (the femur classifier keeps it in ``features``).
- **timm ViT** (``vit_*_patch16_*``): ``patch_embed.proj``, ``cls_token``, ``pos_embed``,
  ``blocks.N.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,mlp.fc2}``, ``norm``, ``head``. Mapped
  onto a MONAI ``ViT`` (``patch_embedding.patch_embeddings``, ``position_embeddings``,
  ``blocks.N.{norm1,attn.qkv,attn.out_proj,norm2,mlp.linear1,mlp.linear2}``, ``norm``).

Conversions:

- The first layer's three colour channels are summed into the one grey channel: a grey
  image copied into R, G and B gives the same response.
- MONAI's ResNet shortcut convolutions have a bias (``bias_downsample=True``), torchvision's
  do not: that bias is set to zero, which computes exactly what torchvision's network does.
- The classification head (``fc.*``; ``head.*``, ``fc_norm.*``) is not loaded: ImageNet's
  1000 classes are not this task's, and the network keeps its own head.
- ViT position embeddings: the class token's position is added to ``cls_token`` when the
  network has a class token and dropped with it otherwise; the grid's embeddings are resized
  bicubically (antialiased when shrinking, as timm's ``resample_abs_pos_embed``) when the
  file's grid (e.g. 14 x 14 at 224 px) differs from the network's (16 x 16 at 256 px).

Everything else must map one to one, in both directions, with the same shape: a tensor of the
file with no place in the network, or a backbone tensor of the network the file does not fill
(batch-norm step counters and MONAI's unused cross-attention norms excepted), refuses the
whole file with one line naming it and the first mismatches. Nothing is downloaded; the file
may be a bare state dict, one wrapped as ``{"state_dict": ...}`` or ``{"model": ...}``, with or
without a ``module.`` prefix, saved by ``torch.save`` or as ``.safetensors``.
"""

from __future__ import annotations

import json
import logging
import math
import pickle
import re
import struct
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
from torch import nn

from fracturelab.checks import check_choice
from fracturelab.errors import InputError

__all__ = ["PRETRAINED_BACKBONES", "load_pretrained", "read_state_dict"]

log = logging.getLogger(__name__)

#: ``cnn``: torchvision ResNet files onto a MONAI ResNet; ``vit``: timm ViT files onto a MONAI ViT.
PRETRAINED_BACKBONES: tuple[str, ...] = ("cnn", "vit")
_MISMATCHES_SHOWN = 3
_SAFETENSORS_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
    "U8": torch.uint8, "BOOL": torch.bool,
}  # fmt: skip

Transform = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    """Read a ``.safetensors`` file (8-byte header length, JSON header, raw little-endian data)."""
    raw = path.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + length])
    data = raw[8 + length :]
    state = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        start, end = entry["data_offsets"]
        dtype = _SAFETENSORS_DTYPES[entry["dtype"]]
        chunk = bytearray(data[start:end])
        flat = torch.frombuffer(chunk, dtype=dtype) if chunk else torch.empty(0, dtype=dtype)
        state[name] = flat.reshape(entry["shape"]).clone()
    return state


def _is_safetensors(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(9)
    return len(head) == 9 and head[8:9] == b"{" and struct.unpack("<Q", head[:8])[0] > 1


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Read the tensors of a saved state dict (unwrapped, ``module.`` prefix removed).

    Raises:
        InputError: One line for a missing, unreadable or non-state-dict file.

    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"--pretrained {path}: no such file; give a downloaded state dict")
    try:
        if _is_safetensors(path):
            loaded: object = _read_safetensors(path)
        else:
            loaded = torch.load(path, map_location="cpu", weights_only=True)
    except (
        RuntimeError, OSError, EOFError, ValueError, KeyError, struct.error,
        pickle.UnpicklingError, zipfile.BadZipFile,
    ) as error:  # fmt: skip
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InputError(
            f"--pretrained {path}: cannot be read as a PyTorch state dict ({first}); give a "
            "file saved by torch.save or safetensors (download it again if it is truncated)"
        ) from None
    for wrapper in ("state_dict", "model"):
        if isinstance(loaded, Mapping) and isinstance(loaded.get(wrapper), Mapping):
            loaded = loaded[wrapper]
    if not isinstance(loaded, Mapping) or not loaded:
        raise InputError(
            f"--pretrained {path}: holds no state dict (a mapping of names to tensors); give "
            "the weights file of a ResNet or ViT"
        )
    state = {str(k): v for k, v in loaded.items()}
    others = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if others:
        raise InputError(
            f"--pretrained {path}: entry {others[0]!r} is not a tensor; give a bare state dict"
        )
    if all(k.startswith("module.") for k in state):
        state = {k.removeprefix("module."): v for k, v in state.items()}
    return state


# --------------------------------------------------------------------------- the networks
def _resnet_parts(network: nn.Module) -> tuple[str, str, list[str]]:
    """Names of the MONAI ResNet's stem convolution, stem batch norm and four stages."""
    from monai.networks.nets.resnet import ResNetBlock, ResNetBottleneck

    modules = list(network.named_modules())
    stages = [
        name
        for name, module in modules
        if isinstance(module, nn.Sequential)
        and len(module) > 0
        and all(isinstance(child, ResNetBlock | ResNetBottleneck) for child in module)
    ]
    if len(stages) != 4:
        raise _NoBackboneError("a MONAI ResNet (four stages of residual blocks)")
    order = [name for name, _ in modules]
    first_stage = order.index(stages[0])
    before = [(n, m) for n, m in modules[:first_stage] if n]
    convs = [n for n, m in before if isinstance(m, nn.Conv2d)]
    norms = [n for n, m in before if isinstance(m, nn.BatchNorm2d)]
    if not convs or not norms:
        raise _NoBackboneError("a ResNet stem (a convolution and a batch norm before the stages)")
    return convs[0], norms[0], stages


def _vit_prefix(network: nn.Module) -> str:
    from monai.networks.nets import ViT

    found = [name for name, module in network.named_modules() if isinstance(module, ViT)]
    if len(found) != 1:
        raise _NoBackboneError("one MONAI ViT")
    return found[0] + "." if found[0] else ""


class _NoBackboneError(Exception):
    """The network does not contain the architecture the file is for."""


# --------------------------------------------------------------------------- conversions
def _first_layer(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """RGB first-layer kernels ``(out, 3, k, k)`` summed to the network's one channel."""
    if source.ndim == 4 and source.shape[1] == 3 and target.shape[1] == 1:
        return source.sum(dim=1, keepdim=True)
    return source


def _same(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return source


def _add_position(position: torch.Tensor) -> Transform:
    """Add the class token's position embedding (timm adds it in the forward pass)."""

    def convert(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return source + position

    return convert


def _position_grid(prefix_tokens: int) -> Transform:
    """Drop ``prefix_tokens`` leading positions, resize the square grid to the network's."""

    def convert(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        grid = source[:, prefix_tokens:]
        if grid.ndim != 3 or target.ndim != 3 or grid.shape[-1] != target.shape[-1]:
            return grid
        side, wanted = math.isqrt(grid.shape[1]), math.isqrt(target.shape[1])
        if side * side != grid.shape[1] or wanted * wanted != target.shape[1] or side == wanted:
            return grid
        width = grid.shape[-1]
        image = grid.reshape(1, side, side, width).permute(0, 3, 1, 2).float()
        resized = torch.nn.functional.interpolate(
            image, size=(wanted, wanted), mode="bicubic", align_corners=False,
            antialias=wanted < side,
        )  # fmt: skip
        return resized.permute(0, 2, 3, 1).reshape(1, wanted * wanted, width).to(source.dtype)

    return convert


def _resnet_plan(
    network: nn.Module, state: Mapping[str, torch.Tensor]
) -> tuple[dict[str, tuple[str, Transform]], list[str], list[str]]:
    """File name -> (network name, conversion); dropped file names; backbone prefixes."""
    conv, norm, stages = _resnet_parts(network)
    prefixes = {"conv1.": conv + ".", "bn1.": norm + "."}
    prefixes.update({f"layer{k + 1}.": stage + "." for k, stage in enumerate(stages)})
    plan: dict[str, tuple[str, Transform]] = {}
    dropped = []
    for name in state:
        if name.startswith("fc."):
            dropped.append(name)
            continue
        for old, new in prefixes.items():
            if name.startswith(old):
                rule = _first_layer if name == "conv1.weight" else _same
                plan[name] = (new + name.removeprefix(old), rule)
    return plan, dropped, list(prefixes.values())


_VIT_BLOCK = re.compile(r"blocks\.(\d+)\.(.+)")
_VIT_BLOCK_PARTS = {
    "norm1.": "norm1.", "attn.qkv.": "attn.qkv.", "attn.proj.": "attn.out_proj.",
    "norm2.": "norm2.", "mlp.fc1.": "mlp.linear1.", "mlp.fc2.": "mlp.linear2.",
}  # fmt: skip


def _vit_plan(
    network: nn.Module, state: Mapping[str, torch.Tensor]
) -> tuple[dict[str, tuple[str, Transform]], list[str], list[str]]:
    prefix = _vit_prefix(network)
    names = set(network.state_dict())
    has_cls = prefix + "cls_token" in names
    pos = state.get("pos_embed")
    plan: dict[str, tuple[str, Transform]] = {}
    dropped = []
    for name in state:
        if name.startswith(("head.", "fc_norm.")) or (name == "cls_token" and not has_cls):
            dropped.append(name)
        elif name == "cls_token" and pos is not None:
            plan[name] = (prefix + "cls_token", _add_position(pos[:, :1]))
        elif name == "cls_token":
            plan[name] = (prefix + "cls_token", _same)
        elif name == "pos_embed":
            rule = _position_grid(1 if "cls_token" in state else 0)
            plan[name] = (prefix + "patch_embedding.position_embeddings", rule)
        elif name.startswith("patch_embed.proj."):
            new = (
                prefix
                + "patch_embedding.patch_embeddings."
                + name.removeprefix("patch_embed.proj.")
            )
            plan[name] = (new, _first_layer if name.endswith("weight") else _same)
        elif name.startswith("norm."):
            plan[name] = (prefix + name, _same)
        elif match := _VIT_BLOCK.fullmatch(name):
            for old, new in _VIT_BLOCK_PARTS.items():
                if match.group(2).startswith(old):
                    tail = match.group(2).removeprefix(old)
                    plan[name] = (f"{prefix}blocks.{match.group(1)}.{new}{tail}", _same)
    return plan, dropped, [prefix]


def _layout(state: Mapping[str, torch.Tensor]) -> str | None:
    if "patch_embed.proj.weight" in state:
        return "vit"
    if "conv1.weight" in state and any(k.startswith("layer1.") for k in state):
        return "cnn"
    return None


def _exempt(name: str) -> bool:
    """Network tensors a pretrained file need not fill."""
    return (
        name.endswith("num_batches_tracked")
        or ".norm_cross_attn." in name
        or "classification_head." in name  # a MONAI ViT's own head, as fc / head are dropped
    )


def _shape(tensor: torch.Tensor) -> str:
    return str(tuple(tensor.shape))


def load_pretrained(network: nn.Module, path: Path, *, backbone: str) -> None:
    """Load ImageNet weights from a local file into ``network``'s ResNet or ViT backbone.

    Args:
        network: A network containing one MONAI ``ResNet`` (``backbone="cnn"``, e.g. the
            femur classifier) or one MONAI ``ViT`` (``backbone="vit"``, the femur classifier
            or the ViT localizer). Its head keeps its own initialisation.
        path: A torchvision ResNet or timm ViT state dict (``.pth``, ``.pt``, ``.bin`` or
            ``.safetensors``).
        backbone: ``"cnn"`` or ``"vit"``.

    Raises:
        InputError: One line naming the file when it cannot be read, is of the other
            layout, the network has no matching backbone, or any tensor does not map onto
            the network with the same shape (then nothing is loaded).

    """
    check_choice("backbone", backbone, PRETRAINED_BACKBONES)
    path = Path(path)
    state = read_state_dict(path)
    layout = _layout(state)
    expected = "a torchvision ResNet" if backbone == "cnn" else "a timm ViT"
    if layout is None:
        first = ", ".join(list(state)[:3])
        raise InputError(
            f"--pretrained {path}: not {expected} state dict (its first tensors: {first}); "
            f"give {expected} weights file"
        )
    if layout != backbone:
        found = "a torchvision ResNet" if layout == "cnn" else "a timm ViT"
        raise InputError(
            f"--pretrained {path}: holds {found}, but the {backbone} backbone needs {expected}; "
            "give weights of the backbone being trained"
        )
    try:
        plan, dropped, prefixes = (_resnet_plan if backbone == "cnn" else _vit_plan)(network, state)
    except _NoBackboneError as missing:
        raise InputError(
            f"--pretrained {path}: the network has no {missing} to load it into (ImageNet "
            "ResNet weights fit the CNN classifier, not the UNet localizer); leave "
            "--pretrained off for it"
        ) from None
    target = network.state_dict()
    problems = [f"{name} {_shape(state[name])} has no place in the network"
                for name in state if name not in plan and name not in dropped]  # fmt: skip
    converted: dict[str, torch.Tensor] = {}
    for name, (new, rule) in plan.items():
        if new not in target:
            problems.append(f"{name} {_shape(state[name])} has no place in the network ({new})")
            continue
        value = rule(state[name], target[new])
        if value.shape != target[new].shape:
            problems.append(
                f"{name} {_shape(state[name])} does not fit {new} {_shape(target[new])}"
            )
            continue
        converted[new] = value.to(dtype=target[new].dtype)
    backbone_names = [n for n in target if n.startswith(tuple(prefixes)) and not _exempt(n)]
    for name in backbone_names:  # torchvision's shortcut convolutions have no bias: zero is exact
        weight = name.removesuffix("bias") + "weight"
        if name.endswith(".downsample.0.bias") and name not in converted and weight in converted:
            converted[name] = torch.zeros_like(target[name])
    problems += [f"network tensor {n} {_shape(target[n])} is not in the file"
                 for n in backbone_names if n not in converted]  # fmt: skip
    if problems:
        shown = "; ".join(problems[:_MISMATCHES_SHOWN])
        raise InputError(
            f"--pretrained {path}: {len(problems)} tensor(s) do not map onto the {backbone} "
            f"network, first: {shown}; give the weights of the architecture the network is "
            "built as (nothing was loaded)"
        )
    merged = {**target, **converted}
    network.load_state_dict(merged)
    log.info(
        "loaded %d tensors from %s (%s left out: the ImageNet head)",
        len(converted),
        path,
        ", ".join(dropped) or "none",
    )
