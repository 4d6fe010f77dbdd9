"""ImageNet state dicts in torchvision / timm layout loaded onto the MONAI femur networks."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
import torch
from torch import nn

from fracturelab.errors import InputError
from fracturelab.femur.networks import build_classifier, build_localizer
from fracturelab.training.pretrained import load_pretrained

# Hand-written name tables: MONAI femur network name -> torchvision / timm name.
TORCHVISION = {
    "features.0.": "conv1.",
    "features.1.": "bn1.",
    "features.4.": "layer1.",
    "features.5.": "layer2.",
    "features.6.": "layer3.",
    "features.7.": "layer4.",
}
TIMM_BLOCK = {
    "norm1.": "norm1.",
    "attn.qkv.": "attn.qkv.",
    "attn.out_proj.": "attn.proj.",
    "norm2.": "norm2.",
    "mlp.linear1.": "mlp.fc1.",
    "mlp.linear2.": "mlp.fc2.",
}


def _randomised(network: nn.Module, seed: int) -> nn.Module:
    """Every tensor (batch-norm statistics too) set to seeded random values."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in network.state_dict().items():
            if tensor.is_floating_point():
                values = torch.rand(tensor.shape, generator=generator) * 0.5 + 0.1
                tensor.copy_(values if "running_var" in name else values - 0.3)
    return network.eval()


def _rgb(weight: torch.Tensor, seed: int) -> torch.Tensor:
    """Three-channel kernels whose channel sum is ``weight`` (``(out, 1, k, k)``)."""
    generator = torch.Generator().manual_seed(seed)
    red = torch.randn(weight.shape, generator=generator)
    green = torch.randn(weight.shape, generator=generator)
    return torch.cat([red, green, weight - red - green], dim=1)


def torchvision_layout(network: nn.Module) -> dict[str, torch.Tensor]:
    out = {}
    for name, tensor in network.state_dict().items():
        if name.startswith("head."):
            continue
        prefix = next(p for p in TORCHVISION if name.startswith(p))
        out[TORCHVISION[prefix] + name.removeprefix(prefix)] = tensor.clone()
    out["conv1.weight"] = _rgb(out["conv1.weight"], 1)
    out["fc.weight"], out["fc.bias"] = torch.randn(1000, 64), torch.randn(1000)
    return out


def timm_layout(network: nn.Module, vit: str) -> dict[str, torch.Tensor]:
    out = {}
    for name, tensor in network.state_dict().items():
        if not name.startswith(vit) or ".norm_cross_attn." in name:
            continue  # the head; MONAI's cross-attention norm is unused
        rest = name.removeprefix(vit)
        if rest.startswith("blocks."):
            _, index, part = rest.split(".", 2)
            key = next(k for k in TIMM_BLOCK if part.startswith(k))
            out[f"blocks.{index}.{TIMM_BLOCK[key]}{part.removeprefix(key)}"] = tensor.clone()
        elif rest == "patch_embedding.position_embeddings":
            class_position = torch.randn(1, 1, tensor.shape[-1])
            out["pos_embed"] = torch.cat([class_position, tensor.clone()], dim=1)
        elif rest.startswith("patch_embedding.patch_embeddings."):
            out["patch_embed.proj." + rest.rsplit(".", 1)[1]] = tensor.clone()
        else:
            assert rest.startswith("norm."), rest
            out[rest] = tensor.clone()
    out["patch_embed.proj.weight"] = _rgb(out["patch_embed.proj.weight"], 2)
    out["cls_token"] = torch.randn(1, 1, out["norm.weight"].shape[0])
    out["head.weight"], out["head.bias"] = torch.randn(1000, 32), torch.randn(1000)
    return out


def _same_state(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(
        torch.allclose(sa[k].double(), sb[k].double(), atol=1e-6) for k in sa
    )  # the first layer is a sum of three channels: equal up to rounding


@pytest.mark.parametrize("backbone", ["cnn", "vit"])
def test_every_tensor_loads_and_the_outputs_match(backbone: str, tmp_path: Path) -> None:
    source = _randomised(build_classifier(backbone, 32, "tiny"), seed=1)
    state = (
        torchvision_layout(source) if backbone == "cnn" else timm_layout(source, "features.vit.")
    )
    path = tmp_path / "weights.pth"
    torch.save(state, path)
    network = _randomised(build_classifier(backbone, 32, "tiny"), seed=2)
    network.head.load_state_dict(source.head.state_dict())  # the head is not loaded
    image = torch.randn(2, 1, 32, 32, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected, before = source(image), network(image)
        assert not torch.allclose(before, expected)
        load_pretrained(network, path, backbone=backbone)
        after = network(image)
    assert torch.allclose(after, expected, atol=1e-5)
    if backbone == "cnn":
        assert _same_state(network, source)  # every tensor, batch-norm statistics too
    else:
        mine, theirs = network.state_dict(), source.state_dict()
        used = [k for k in mine if ".norm_cross_attn." not in k]
        assert all(torch.allclose(mine[k], theirs[k], atol=1e-6) for k in used)


def test_vit_localizer_position_grid_is_resized(tmp_path: Path) -> None:
    source = _randomised(build_classifier("vit", 32, "tiny"), seed=4)  # 2 x 2 token grid
    state = timm_layout(source, "features.vit.")
    per_channel = torch.linspace(-1, 1, 32)
    state["pos_embed"][:, 1:] = per_channel  # the same embedding at every grid position
    path = tmp_path / "vit.pth"
    torch.save({"model": state}, path)
    localizer = build_localizer("vit", 64, "tiny")  # 4 x 4 token grid
    load_pretrained(localizer, path, backbone="vit")
    grid = localizer.state_dict()["encoder.vit.patch_embedding.position_embeddings"]
    assert grid.shape == (1, 16, 32)
    assert torch.allclose(grid, per_channel.expand(1, 16, 32), atol=1e-5)
    qkv = localizer.state_dict()["encoder.vit.blocks.1.attn.qkv.weight"]
    assert torch.equal(qkv, source.state_dict()["features.vit.blocks.1.attn.qkv.weight"])


def _write_safetensors(path: Path, state: dict[str, torch.Tensor]) -> None:
    header, blobs, offset = {}, [], 0
    for name, tensor in state.items():
        blob = tensor.contiguous().float().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensor.shape),
                        "data_offsets": [offset, offset + len(blob)]}  # fmt: skip
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def test_wrapped_and_safetensors_files_load(tmp_path: Path) -> None:
    source = _randomised(build_classifier("cnn", 32, "tiny"), seed=5)
    state = torchvision_layout(source)
    wrapped = tmp_path / "checkpoint.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}, "epoch": 90}, wrapped)
    network = build_classifier("cnn", 32, "tiny")
    load_pretrained(network, wrapped, backbone="cnn")
    assert torch.equal(
        network.state_dict()["features.7.0.conv2.weight"], state["layer4.0.conv2.weight"]
    )
    floats = {k: v for k, v in state.items() if v.is_floating_point()}
    _write_safetensors(tmp_path / "model.safetensors", floats)
    other = build_classifier("cnn", 32, "tiny")
    load_pretrained(other, tmp_path / "model.safetensors", backbone="cnn")
    assert _same_state(other.features, source.features)  # the head keeps its own values


def _refused(network: nn.Module, state: object, path: Path, backbone: str, match: str) -> str:
    torch.save(state, path)
    before = {k: v.clone() for k, v in network.state_dict().items()}
    with pytest.raises(InputError, match=match) as caught:
        load_pretrained(network, path, backbone=backbone)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message
    after = network.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # nothing loaded
    return message


def test_mismatching_files_are_refused_whole(tmp_path: Path) -> None:
    network = build_classifier("cnn", 32, "tiny")
    bigger = torchvision_layout(_randomised(build_classifier("cnn", 32, "small"), seed=6))
    message = _refused(network, bigger, tmp_path / "small.pth", "cnn", "do not map")
    assert "conv1.weight (16, 3, 7, 7) does not fit features.0.weight (8, 1, 7, 7)" in message

    state = torchvision_layout(_randomised(build_classifier("cnn", 32, "tiny"), seed=7))
    extra = {**state, "layer1.0.se.fc.weight": torch.zeros(2, 8)}
    _refused(
        network,
        extra,
        tmp_path / "extra.pth",
        "cnn",
        r"layer1\.0\.se\.fc\.weight \(2, 8\) has no place",
    )
    missing = {k: v for k, v in state.items() if k != "layer2.0.bn1.weight"}
    _refused(
        network,
        missing,
        tmp_path / "missing.pth",
        "cnn",
        r"features\.5\.0\.bn1\.weight \(16,\) is not in the file",
    )
    _refused(network, state, tmp_path / "wrong.pth", "vit", "holds a torchvision ResNet")
    _refused(
        build_localizer("cnn", 32, "tiny"), state, tmp_path / "unet.pth", "cnn", "no a MONAI ResNet"
    )
    _refused(
        network,
        {"weights": [1, 2]},
        tmp_path / "odd.pth",
        "cnn",
        "holds no state dict|not a tensor",
    )
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"\x00" * 100)
    with pytest.raises(InputError, match="cannot be read"):
        load_pretrained(network, garbage, backbone="cnn")
    with pytest.raises(InputError, match="no such file"):
        load_pretrained(network, tmp_path / "absent.pth", backbone="cnn")


def _bn(prefix: str, width: int) -> dict[str, torch.Tensor]:
    out = {
        f"{prefix}.{n}": torch.rand(width)
        for n in ("weight", "bias", "running_mean", "running_var")
    }
    out[f"{prefix}.num_batches_tracked"] = torch.tensor(0)
    return out


def test_real_resnet18_and_vit_small_layouts_fit_monai_networks(tmp_path: Path) -> None:
    """torchvision resnet18 and timm vit_small_patch16_224 names and shapes, written out here."""
    resnet18 = {"conv1.weight": torch.rand(64, 3, 7, 7), **_bn("bn1", 64)}
    width = 64
    for stage, planes in enumerate((64, 128, 256, 512), start=1):
        for block in range(2):
            name, inputs = f"layer{stage}.{block}", width if block == 0 else planes
            resnet18[f"{name}.conv1.weight"] = torch.rand(planes, inputs, 3, 3)
            resnet18[f"{name}.conv2.weight"] = torch.rand(planes, planes, 3, 3)
            resnet18.update(_bn(f"{name}.bn1", planes) | _bn(f"{name}.bn2", planes))
            if stage > 1 and block == 0:
                resnet18[f"{name}.downsample.0.weight"] = torch.rand(planes, inputs, 1, 1)
                resnet18.update(_bn(f"{name}.downsample.1", planes))
        width = planes
    resnet18 |= {"fc.weight": torch.rand(1000, 512), "fc.bias": torch.rand(1000)}
    torch.save(resnet18, tmp_path / "resnet18.pth")
    resnet = build_classifier("cnn", 224, "base")  # the femur CNN at GPU size: resnet18's shapes
    load_pretrained(resnet, tmp_path / "resnet18.pth", backbone="cnn")
    loaded = resnet.state_dict()
    assert torch.equal(
        loaded["features.6.0.downsample.0.weight"], resnet18["layer3.0.downsample.0.weight"]
    )
    assert not loaded["features.6.0.downsample.0.bias"].any()  # torchvision has none: zero
    assert torch.equal(loaded["features.0.weight"], resnet18["conv1.weight"].sum(1, keepdim=True))

    vit_small = {"cls_token": torch.rand(1, 1, 384), "pos_embed": torch.rand(1, 197, 384),
                 "patch_embed.proj.weight": torch.rand(384, 3, 16, 16),
                 "patch_embed.proj.bias": torch.rand(384),
                 "norm.weight": torch.rand(384), "norm.bias": torch.rand(384),
                 "head.weight": torch.rand(1000, 384), "head.bias": torch.rand(1000)}  # fmt: skip
    for i in range(12):
        for part, shape in (("norm1", (384,)), ("norm2", (384,)), ("attn.qkv", (1152, 384)),
                            ("attn.proj", (384, 384)), ("mlp.fc1", (1536, 384)),
                            ("mlp.fc2", (384, 1536))):  # fmt: skip
            vit_small[f"blocks.{i}.{part}.weight"] = torch.rand(shape)
            vit_small[f"blocks.{i}.{part}.bias"] = torch.rand(shape[0])
    torch.save(vit_small, tmp_path / "vit_small.pth")
    # the femur ViT at GPU size has ViT-S/16's layout: the classifier at 224 px takes the file
    # as it is, the localizer at 256 px with its 14 x 14 position grid resized to 16 x 16
    classifier = build_classifier("vit", 224, "base")
    load_pretrained(classifier, tmp_path / "vit_small.pth", backbone="vit")
    qkv = classifier.state_dict()["features.vit.blocks.11.attn.qkv.bias"]
    assert torch.equal(qkv, vit_small["blocks.11.attn.qkv.bias"])
    localizer = build_localizer("vit", 256, "base")
    load_pretrained(localizer, tmp_path / "vit_small.pth", backbone="vit")
    assert localizer.encoder.vit.patch_embedding.position_embeddings.shape == (1, 256, 384)


def test_vit_class_token_and_attention_bias(tmp_path: Path) -> None:
    from monai.networks.nets import ViT

    source = _randomised(build_classifier("vit", 32, "tiny"), seed=8)
    state = timm_layout(source, "features.vit.")
    torch.save(state, tmp_path / "vit.pth")
    with_class_token = ViT(1, (32, 32), 16, hidden_size=32, mlp_dim=64, num_layers=2,
                           num_heads=2, spatial_dims=2, classification=True)  # fmt: skip
    load_pretrained(with_class_token, tmp_path / "vit.pth", backbone="vit")
    expected_token = state["cls_token"] + state["pos_embed"][:, :1]  # what timm's forward adds
    assert torch.allclose(with_class_token.cls_token, expected_token)
    state["blocks.0.attn.qkv.bias"] = torch.rand(96)  # timm has it; the femur ViT has none
    torch.save(state, tmp_path / "biased.pth")
    with pytest.raises(InputError, match=r"blocks\.0\.attn\.qkv\.bias \(96,\) has no place"):
        load_pretrained(
            build_classifier("vit", 32, "tiny"), tmp_path / "biased.pth", backbone="vit"
        )
