"""Official implementations that the tests and speed files compare against,
imported without their heavy dependencies."""

from __future__ import annotations

import sys
import types
from unittest import mock

import pytest


def import_torchscale():
    """torchscale 0.3.0's MultiScaleRetention and RetNetRelPos, or a skip.
    torchscale.architecture.retnet imports timm for DropPath, which RetNetRelPos
    never uses; timm is left out of the install (it pulls a CUDA torch), so a
    stub stands in for it during the import only."""
    pytest.importorskip("torchscale", reason="torchscale 0.3.0 is not installed")
    pytest.importorskip("fairscale", reason="torchscale's RetNet imports fairscale")
    from torchscale.component.multiscale_retention import MultiScaleRetention

    layers = types.ModuleType("timm.models.layers")
    layers.drop_path = None
    stubs = {"timm": types.ModuleType("timm"), "timm.models": types.ModuleType("timm.models")}
    stubs["timm.models.layers"] = layers
    missing = {k: v for k, v in stubs.items() if k not in sys.modules}
    with mock.patch.dict(sys.modules, missing if "timm" not in sys.modules else {}):
        from torchscale.architecture.retnet import RetNetRelPos
    return MultiScaleRetention, RetNetRelPos


def mambapy_block(mixer):
    """mambapy 1.2.0's MambaBlock (parallel scan) carrying a ``models.mamba``
    mixer's weights, on its device, or a skip: mambapy keeps mamba-ssm's names
    and nn.Conv1d's (E, 1, d_conv) layout, so the state dict loads directly."""
    mambapy = pytest.importorskip("mambapy.mamba", reason="mambapy 1.2.0 is not installed")
    config = mambapy.MambaConfig(
        d_model=mixer.d_model,
        n_layers=1,
        dt_rank=mixer.dt_rank,
        d_state=mixer.d_state,
        expand_factor=mixer.expand,
        d_conv=mixer.d_conv,
        pscan=True,
    )
    block = mambapy.MambaBlock(config).to(mixer.A_log.device)
    block.load_state_dict(mixer.state_dict())
    return block
