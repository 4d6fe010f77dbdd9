"""Network shapes, backbones, sizes and bad options."""

from __future__ import annotations

import pytest
import torch

from fracturelab.errors import InputError
from fracturelab.spine.learned.network import build_spine_network, gradcam_layer


@pytest.mark.parametrize("backbone", ["cnn", "vit"])
def test_heads_have_the_documented_shapes(backbone: str) -> None:
    network = build_spine_network(backbone, (16, 16, 16), 3, "tiny", fuse_morphometry=True)
    out = network(torch.rand(2, 3, 16, 16, 16), torch.rand(2, 2))
    assert out["fracture"].shape == (2,)
    assert out["grade"].shape == (2, 3)
    assert out["morphology"].shape == (2, 4)
    assert dict(network.named_modules())[gradcam_layer(backbone)] is not None


def test_fused_network_needs_morphometry() -> None:
    network = build_spine_network("cnn", (16, 16, 16), 3, "tiny", fuse_morphometry=True)
    with pytest.raises(InputError, match="fuses morphometry"):
        network(torch.rand(1, 3, 16, 16, 16))


def test_bad_options_are_one_line() -> None:
    with pytest.raises(InputError, match="backbone") as error:
        build_spine_network("cnnn", (16, 16, 16))
    assert "\n" not in str(error.value)
    with pytest.raises(InputError, match="multiple of 8"):
        build_spine_network("vit", (20, 16, 16), size="tiny")
    with pytest.raises(InputError, match="size"):
        build_spine_network("cnn", (16, 16, 16), size="huge")
