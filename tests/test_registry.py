"""The registry: names, errors, and third-party mixers found without installing anything."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch

from models import registry
from models.backbone import Backbone, BackboneConfig
from models.registry import MixerUnavailable, build_mixer, get_spec, list_mixers

TOY_MODULE = '''
import torch
from models import Mixer, register_mixer


@register_mixer("{name}")
class CumulativeMean(Mixer):
    """y_t = W (mean of x_1..x_t): causal, with a fixed-size state."""

    def __init__(self, d_model):
        super().__init__(d_model)
        self.proj = torch.nn.Linear(d_model, d_model)

    def forward(self, x):
        self.check_input(x)
        counts = torch.arange(1, x.shape[1] + 1, device=x.device, dtype=x.dtype)
        return self.proj(x.cumsum(1) / counts[:, None])

    def init_state(self, batch, device=None, dtype=None):
        return {{"sum": torch.zeros(batch, self.d_model, device=device, dtype=dtype), "n": 0}}

    def step(self, x_t, state):
        total, n = state["sum"] + x_t, state["n"] + 1
        return self.proj(total / n), {{"sum": total, "n": n}}

    def flops(self, batch, seq_len, backward=False):
        return 2 * batch * seq_len * self.d_model * (self.d_model + 1)

    def step_flops(self, batch, context_len):
        return self.flops(batch, 1)
'''


@pytest.fixture
def clean_registry():
    """Plugins registered by a test vanish after it, so other tests see the built-ins only."""
    list_mixers()
    saved, loaded = dict(registry._REGISTRY), set(registry._loaded_sources)
    yield
    registry._REGISTRY.clear()
    registry._REGISTRY.update(saved)
    registry._loaded_sources.clear()
    registry._loaded_sources.update(loaded)


def write_toy_plugin(folder, module: str, name: str) -> None:
    (folder / f"{module}.py").write_text(TOY_MODULE.format(name=name))


def run_in_backbone(name: str) -> torch.Tensor:
    model = Backbone(BackboneConfig(name, d_model=16, n_layers=2, vocab_size=32))
    return model(torch.randint(0, 32, (2, 9)))


def test_every_family_is_registered():
    families = {spec.family for spec in list_mixers()}
    assert {"retnet", "attention", "hyena", "mamba"} <= families


def test_each_family_has_exactly_one_reference():
    by_family: dict[str, list[str]] = {}
    for spec in list_mixers():
        if spec.reference:
            by_family.setdefault(spec.family, []).append(spec.name)
    for family in ("retnet", "attention", "hyena", "mamba"):
        assert len(by_family.get(family, [])) == 1, by_family


def test_unknown_name_lists_close_matches():
    with pytest.raises(ValueError, match="unknown mixer 'attention/sdp'.*attention/sdpa"):
        build_mixer("attention/sdp", 32)


def test_malformed_name_is_rejected():
    with pytest.raises(ValueError, match="family/variant"):
        registry.register_mixer("no-slash")


def test_unavailable_backend_raises_with_reason():
    reason = get_spec("attention/flash-attn").unavailable_reason()
    if reason is None:
        pytest.skip("flash-attn is installed and CUDA is present")
    with pytest.raises(MixerUnavailable, match="flash_attn"):
        build_mixer("attention/flash-attn", 32)


def test_plugin_from_environment_runs_in_backbone(tmp_path, monkeypatch, clean_registry):
    write_toy_plugin(tmp_path, "toy_env_plugin", "toy/env-mean")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv(registry.PLUGINS_ENV, "toy_env_plugin")
    assert "toy/env-mean" in [s.name for s in list_mixers()]
    logits = run_in_backbone("toy/env-mean")
    assert logits.shape == (2, 9, 32)
    assert torch.isfinite(logits).all()


def test_plugin_from_entry_point_runs_in_backbone(tmp_path, monkeypatch, clean_registry):
    # a dist-info folder on sys.path is all importlib.metadata needs to find an entry point
    write_toy_plugin(tmp_path, "toy_ep_plugin", "toy/ep-mean")
    dist = tmp_path / "toy_ep_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-ep-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[mixbench.mixers]\ntoy = toy_ep_plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "toy/ep-mean" in [s.name for s in list_mixers()]
    assert run_in_backbone("toy/ep-mean").shape == (2, 9, 32)


def test_missing_plugin_module_names_the_variable(monkeypatch, clean_registry):
    monkeypatch.setenv(registry.PLUGINS_ENV, "no_such_mixbench_plugin")
    with pytest.raises(ImportError, match="MIXBENCH_PLUGINS.*no_such_mixbench_plugin"):
        list_mixers()


def test_models_list_command_prints_every_variant():
    out = subprocess.run(
        [sys.executable, "-m", "models", "list"], capture_output=True, text=True, check=True
    ).stdout
    for spec in list_mixers():
        assert spec.name in out
    assert "unavailable:" in out or all(s.unavailable_reason() is None for s in list_mixers())
    assert textwrap.dedent(out).splitlines()[0].startswith("name")
