"""The registry: names, errors, and third-party mixers found without installing anything."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
from importlib.metadata import entry_points

import pytest
import torch

import models.attention
from models import registry
from models.backbone import Backbone, BackboneConfig
from models.registry import (
    MixerUnavailable,
    PluginError,
    build_mixer,
    get_spec,
    list_mixers,
    register_mixer,
    reload_plugins,
)

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
    """Plugins registered by a test vanish after it, so other tests see the built-ins
    only; so do the plugin modules it imported (each test writes its own)."""
    list_mixers()
    saved, loaded = dict(registry._REGISTRY), set(registry._loaded_sources)
    scanned = registry._scanned_env
    modules = set(sys.modules)
    yield
    registry._REGISTRY.clear()
    registry._REGISTRY.update(saved)
    registry._loaded_sources.clear()
    registry._loaded_sources.update(loaded)
    registry._scanned_env = scanned
    for name in set(sys.modules) - modules:
        if name.startswith("toy_"):
            del sys.modules[name]


def write_toy_plugin(folder, module: str, name: str, extra: str = "") -> None:
    (folder / f"{module}.py").write_text(TOY_MODULE.format(name=name) + extra)
    importlib.invalidate_caches()


def write_dist_info(folder, dist: str, entry: str, module: str) -> None:
    """A dist-info folder on sys.path is all importlib.metadata needs to find an entry point."""
    info = folder / f"{dist}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[mixbench.mixers]\n{entry} = {module}\n")


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
    write_toy_plugin(tmp_path, "toy_ep_plugin", "toy/ep-mean")
    write_dist_info(tmp_path, "toy-ep-plugin", "toy", "toy_ep_plugin")
    monkeypatch.syspath_prepend(str(tmp_path))
    # plugins loaded before sys.path changed: a new distribution needs a rescan
    reload_plugins()
    assert "toy/ep-mean" in [s.name for s in list_mixers()]
    assert run_in_backbone("toy/ep-mean").shape == (2, 9, 32)


def one_line_plugin_error(match: str) -> PluginError:
    """The PluginError that list_mixers raises, checked to be one line matching ``match``."""
    with pytest.raises(PluginError, match=match) as caught:
        list_mixers()
    assert "\n" not in str(caught.value)
    return caught.value


def test_missing_plugin_module_names_the_variable_and_the_fix(monkeypatch, clean_registry):
    monkeypatch.setenv(registry.PLUGINS_ENV, "no_such_mixbench_plugin")
    error = one_line_plugin_error(
        "MIXBENCH_PLUGINS='no_such_mixbench_plugin' cannot be imported: there is no module "
        "'no_such_mixbench_plugin'; put its folder on PYTHONPATH"
    )
    # the suite turns a PluginError into a usage error; it stays a ValueError for other callers
    assert isinstance(error, ValueError)
    assert "no_such_mixbench_plugin" in error.source
    # reported again, not forgotten after the first call
    one_line_plugin_error("no_such_mixbench_plugin")


def test_plugin_that_raises_at_import_is_reported_and_retried(
    tmp_path, monkeypatch, clean_registry
):
    write_toy_plugin(tmp_path, "toy_broken", "toy/broken", "raise RuntimeError('bad\\nweights')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv(registry.PLUGINS_ENV, "toy_broken")
    match = (
        r"module 'toy_broken' named in MIXBENCH_PLUGINS='toy_broken' raised RuntimeError at "
        r"import \(.*toy_broken.py:\d+\): bad weights; fix the module or take it out of "
        "MIXBENCH_PLUGINS"
    )
    error = one_line_plugin_error(match)
    assert isinstance(error.__cause__, RuntimeError)
    one_line_plugin_error(match)
    # fixed in place: the next call imports it, with MIXBENCH_PLUGINS unchanged
    write_toy_plugin(tmp_path, "toy_broken", "toy/broken")
    assert "toy/broken" in [s.name for s in list_mixers()]


def test_plugin_whose_dependency_is_missing_is_not_called_missing(
    tmp_path, monkeypatch, clean_registry
):
    write_toy_plugin(tmp_path, "toy_needs_dep", "toy/dep", "import no_such_dependency_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv(registry.PLUGINS_ENV, "toy_needs_dep")
    one_line_plugin_error(
        "'toy_needs_dep' .* raised ModuleNotFoundError at import .*no_such_dependency_xyz"
    )


def test_failed_entry_point_is_reported_by_name_and_retried(tmp_path, monkeypatch, clean_registry):
    write_toy_plugin(tmp_path, "toy_ep_broken", "toy/ep-broken", "1 / 0\n")
    write_dist_info(tmp_path, "toy-ep-broken", "broken", "toy_ep_broken")
    monkeypatch.syspath_prepend(str(tmp_path))
    match = (
        "entry point 'broken' \\(toy_ep_broken\\) of distribution 'toy-ep-broken' in group "
        "'mixbench.mixers' raised ZeroDivisionError at import .*; fix the plugin or uninstall "
        "it \\(pip uninstall toy-ep-broken\\)"
    )
    with pytest.raises(PluginError, match=match):
        reload_plugins()
    # not marked loaded and dropped: every later call reports it again
    one_line_plugin_error(match)
    with pytest.raises(PluginError, match=match):
        get_spec("attention/sdpa")
    write_toy_plugin(tmp_path, "toy_ep_broken", "toy/ep-broken")
    assert get_spec("toy/ep-broken").cls.__module__ == "toy_ep_broken"


def test_every_failing_source_is_in_the_one_error(tmp_path, monkeypatch, clean_registry):
    write_toy_plugin(tmp_path, "toy_good", "toy/good")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv(registry.PLUGINS_ENV, "toy_missing_a, toy_good ,toy_missing_b")
    one_line_plugin_error("'toy_missing_a' .*; and module 'toy_missing_b'")
    # the source that loaded is registered all the same
    assert "toy/good" in registry._REGISTRY


CLASH_MODULE = """
from models import register_mixer
from models.attention import Attention


@register_mixer("attention/sdpa")
class SDPAttention(Attention):
    def attend(self, q, k, v):
        return v
"""


def test_plugin_class_named_like_a_builtin_cannot_replace_it(tmp_path, monkeypatch, clean_registry):
    (tmp_path / "toy_clash.py").write_text(CLASH_MODULE)
    importlib.invalidate_caches()
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv(registry.PLUGINS_ENV, "toy_clash")
    one_line_plugin_error(
        "module 'toy_clash' named in MIXBENCH_PLUGINS='toy_clash': mixer name 'attention/sdpa' "
        "is already registered by models.attention:SDPAttention, so toy_clash:SDPAttention "
        "cannot take it; register it under a family/variant name of its own"
    )
    assert registry._REGISTRY["attention/sdpa"].class_path == "models.attention:SDPAttention"


def test_clash_is_told_apart_by_module_and_qualname(tmp_path, monkeypatch, clean_registry):
    class SDPAttention(models.attention.Attention):
        pass

    with pytest.raises(PluginError, match="already registered by models.attention:SDPAttention"):
        register_mixer("attention/sdpa")(SDPAttention)
    assert get_spec("attention/sdpa").class_path == "models.attention:SDPAttention"
    # the same module imported again (importlib.reload) registers its class again
    write_toy_plugin(tmp_path, "toy_reloaded", "toy/reloaded")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("toy_reloaded")
    first = get_spec("toy/reloaded").cls
    reloaded = importlib.reload(module)
    spec = get_spec("toy/reloaded")
    assert spec.cls is reloaded.CumulativeMean is not first
    assert spec.class_path == "toy_reloaded:CumulativeMean"
    assert get_spec("retnet/chunkwise").class_path == "models.retnet:ChunkwiseRetention"


def test_plugins_are_scanned_once_until_the_variable_changes(tmp_path, monkeypatch, clean_registry):
    scans = []

    def counting_entry_points(**selection):
        scans.append(selection)
        return entry_points(**selection)

    monkeypatch.setattr(registry, "entry_points", counting_entry_points)
    for _ in range(5):
        get_spec("attention/sdpa")
        list_mixers()
    assert scans == []
    write_toy_plugin(tmp_path, "toy_scan", "toy/scan")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv(registry.PLUGINS_ENV, "toy_scan")
    for _ in range(3):
        get_spec("toy/scan")
    assert len(scans) == 1
    # a failing source is retried: every call scans again until it loads
    monkeypatch.setenv(registry.PLUGINS_ENV, "toy_scan,toy_not_there")
    for _ in range(2):
        with pytest.raises(PluginError):
            get_spec("toy/scan")
    assert len(scans) == 3
    monkeypatch.setenv(registry.PLUGINS_ENV, "toy_scan")
    get_spec("toy/scan")
    get_spec("toy/scan")
    assert len(scans) == 4
    reload_plugins()
    assert len(scans) == 5


def test_models_list_command_prints_every_variant():
    out = subprocess.run(
        [sys.executable, "-m", "models", "list"], capture_output=True, text=True, check=True
    ).stdout
    for spec in list_mixers():
        assert spec.name in out
    assert "unavailable:" in out or all(s.unavailable_reason() is None for s in list_mixers())
    assert textwrap.dedent(out).splitlines()[0].startswith("name")


# -- knobs -------------------------------------------------------------------------------
def test_a_mixer_declares_its_knobs_through_its_constructors():
    scan = get_spec("mamba/scan").cls.knobs()
    # its own chunk_size, and Mamba's knobs it hands on through **config
    assert scan["chunk_size"] is None and scan["d_state"] == 16 and scan["expand"] == 2
    assert "d_model" not in scan and "config" not in scan
    assert get_spec("attention/sdpa").cls.knobs() == {"n_heads": 4, "rotary_base": 10000.0}


def test_mixer_config_takes_the_offered_values_its_constructor_names_and_the_options_over_them():
    offered = {"n_heads": 2, "chunk_size": 16, "l_max": 99, "not_a_knob_anywhere": 1}
    assert registry.mixer_config("attention/sdpa", 32, offered, {}) == {"n_heads": 2}
    config = registry.mixer_config("mamba/scan", 32, offered, {"d_state": "32", "chunk_size": 8})
    assert config == {"chunk_size": 8, "d_state": 32}
    retnet = registry.mixer_config("retnet/chunkwise", 32, offered, {"layernorm_eps": "1e-5"})
    assert retnet == {"n_heads": 2, "chunk_size": 16, "layernorm_eps": 1e-5}
    build_mixer("mamba/scan", 32, **config)  # what it returns builds the mixer


@pytest.mark.parametrize(
    ("name", "options", "words"),
    [
        ("mamba/scan", {"d_stat": 1}, "mamba/scan has no knob 'd_stat' (did you mean d_state?)"),
        ("mamba/scan", {"d_stat": 1}, "its knobs: chunk_size, d_state, d_conv, expand"),
        ("attention/sdpa", {"chunk_size": 4}, "attention/sdpa has no knob 'chunk_size'"),
        ("mamba/scan", {"d_state": "many"}, "mamba/scan's knob d_state must be int, got 'many'"),
    ],
)
def test_an_unknown_or_unreadable_knob_is_one_line_naming_knob_and_mixer(name, options, words):
    with pytest.raises(ValueError, match="^[^\n]*$") as error:
        registry.mixer_config(name, 32, {}, options)
    assert words in str(error.value)


def test_a_knob_without_a_number_default_reads_numbers_and_words():
    assert registry.knob_value("8", "auto") == 8 and registry.knob_value("auto", "auto") == "auto"
    assert registry.knob_value("64", None) == 64 and registry.knob_value("0.5", None) == 0.5
    assert registry.knob_value("off", True) is False and registry.knob_value("yes", False) is True
    with pytest.raises(ValueError):
        registry.knob_value("maybe", True)


def test_mixer_options_parse_and_match_names_families_and_globs():
    parsed = registry.parse_mixer_options(
        ["mamba*/*:d_state=32,expand=4", "retnet:n_heads=8", "mamba/scan:d_state=64"]
    )
    assert parsed == {
        "mamba*/*": {"d_state": "32", "expand": "4"},
        "retnet": {"n_heads": "8"},
        "mamba/scan": {"d_state": "64"},
    }
    assert registry.mixer_options_for("mamba/scan", parsed) == {"d_state": "64", "expand": "4"}
    assert registry.mixer_options_for("mamba/fused", parsed) == {"d_state": "32", "expand": "4"}
    assert registry.mixer_options_for("retnet/parallel", parsed) == {"n_heads": "8"}
    assert registry.mixer_options_for("attention/sdpa", parsed) == {}


@pytest.mark.parametrize(
    "text", ["mamba", "mamba/scan:", "mamba/scan:d_state", ":d_state=1", "x:=1"]
)
def test_a_badly_written_mixer_option_says_the_form(text):
    with pytest.raises(ValueError, match=r"is not PATTERN:knob=value\[,knob=value\], e.g."):
        registry.parse_mixer_options([text])


def test_a_toy_family_with_a_knob_of_its_own_is_listed_and_configured(
    tmp_path, monkeypatch, clean_registry
):
    """A new family's new knob reaches the listing and mixer_config with no edit outside
    the family's module."""
    module = TOY_MODULE.format(name="toyknob/mean").replace(
        "def __init__(self, d_model):", "def __init__(self, d_model, gain: float = 1.0):"
    )
    (tmp_path / "toy_knob.py").write_text(module)
    importlib.invalidate_caches()
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv(registry.PLUGINS_ENV, "toy_knob")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), *sys.path]))
    out = subprocess.run(
        [sys.executable, "-m", "models", "list"], capture_output=True, text=True, check=True
    ).stdout
    assert any("toyknob/mean" in line and "gain=1.0" in line for line in out.splitlines())
    assert registry.mixer_config("toyknob/mean", 8, {"n_heads": 2}, {"gain": "2"}) == {"gain": 2.0}


def test_a_knob_without_a_default_is_refused_at_registration(clean_registry):
    class NoDefault(models.attention.SDPAttention):
        def __init__(self, d_model, width, **config):
            super().__init__(d_model, **config)

    with pytest.raises(TypeError, match="toy/nodefault: every knob needs a default, width has"):
        register_mixer("toy/nodefault")(NoDefault)
