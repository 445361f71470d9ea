"""Profiles and command-line options: defaults, overrides, the swept axes, the
JSON summary, and the usage error a user sees for every bad value (each names
the flag and what would be right, never a traceback)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from schema import AXES
from suite.options import OPTIONS, resolve_options
from suite.profiles import AXIS_FLAGS, PROFILES

ROOT = Path(__file__).resolve().parents[1]
KNOWN = ["attention/math", "attention/sdpa", "retnet/chunkwise", "retnet/parallel"]


def resolve(cuda_available: bool = False, **raw: str):
    return resolve_options(raw, KNOWN, cuda_available=cuda_available)


def test_default_profile_runs_every_mixer_on_the_cpu_along_length() -> None:
    options = resolve()
    assert options.profile.name == "default"
    assert options.mixers == KNOWN
    assert options.device == torch.device("cpu")
    assert options.dtype == torch.float32
    assert options.sweep == "length"
    assert max(options.lengths) >= 8192
    assert options.max_len == max(options.decode_lengths) + options.profile.decode_tokens


def test_auto_device_picks_cuda_when_there_is_one() -> None:
    assert resolve(cuda_available=True).device == torch.device("cuda")


def test_overrides_replace_the_profile_values() -> None:
    options = resolve(
        profile="smoke",
        dtype="bf16",
        lengths="96,1k,32",
        batch="3",
        d_model="64",
        time_budget_s="2.5",
        threads="1",
    )
    assert options.dtype == torch.bfloat16
    assert options.lengths == options.decode_lengths == (32, 96, 1024)
    assert (options.batch, options.d_model, options.time_budget_s) == (3, 64, 2.5)
    assert options.threads == 1
    assert options.given == {"profile", "dtype", "lengths", "batch", "d_model"} | {
        "time_budget_s",
        "threads",
    }


def test_a_batch_sweep_holds_length_and_width_fixed() -> None:
    options = resolve(profile="smoke", sweep="batch", batches="16,1,4", seq_len="48")
    shapes = options.axis_values("decode")
    assert [s["batch"] for s in shapes] == [1, 4, 16]
    assert {s["length"] for s in shapes} == {48}
    assert {s["d_model"] for s in shapes} == {options.d_model}
    assert options.max_len == max(48 + options.profile.decode_tokens, options.profile.check_len)


def test_a_width_sweep_checks_every_width_against_the_mixers() -> None:
    options = resolve(profile="smoke", sweep="d_model", d_models="16,64")
    assert [s["d_model"] for s in options.axis_values("forward")] == [16, 64]
    with pytest.raises(pytest.UsageError, match=r"--d-models: attention/math .* d_model=18"):
        resolve(profile="smoke", sweep="d_model", d_models="16,18")


def test_every_axis_has_its_flags_and_every_profile_its_values() -> None:
    assert set(AXIS_FLAGS) == set(AXES)
    flags = {option.flag for option in OPTIONS}
    for axis in AXIS_FLAGS.values():
        assert {axis.values, axis.fixed} <= flags
    for name, profile in PROFILES.items():
        assert profile.name == name
        assert set(profile.sweeps) == set(profile.fixed) == set(AXES)
        for values in profile.sweeps.values():
            assert list(values) == sorted(values)
        assert profile.min_rounds <= profile.max_rounds
        assert {"retnet", "mamba", "hyena"} <= set(profile.mode_speed)


def test_the_summary_names_every_option_and_is_json() -> None:
    summary = resolve(profile="smoke", sweep="batch").summary()
    assert {option.dest for option in OPTIONS} <= set(summary)
    assert summary["sweep"] == "batch" and summary["device"] == "cpu"
    json.dumps(summary)


def test_mixer_globs_select_in_registry_order() -> None:
    assert resolve(mixers="retnet/*, attention/sdpa").mixers == [
        "attention/sdpa",
        "retnet/chunkwise",
        "retnet/parallel",
    ]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"profile": "fast"}, r"--profile 'fast': unknown value 'fast'; choose one of smoke"),
        ({"mixers": "mamba/*"}, r"'mamba/\*' matches no registered mixer; registered: attention"),
        ({"lengths": "512,abc"}, r"--lengths '512,abc': 'abc' is not a whole number"),
        ({"lengths": "²"}, r"--lengths '²': '²' is not a whole number"),
        ({"lengths": "0"}, r"must be a positive integer, got '0'"),
        ({"lengths": ","}, r"--lengths ',': is empty"),
        ({"sweep": "depth"}, r"--sweep 'depth': unknown value 'depth'; choose one of length"),
        ({"batches": "4,x"}, r"--batches '4,x': 'x' is not a whole number"),
        ({"device": "tpu"}, r"--device 'tpu': unknown value 'tpu'; choose one of auto, cpu"),
        ({"device": "cuda"}, r"torch sees no CUDA device; .* --device cpu"),
        ({"profile": "paper"}, r"profile paper \(it is meant for a GPU\)"),
        ({"dtype": "float8"}, r"--dtype 'float8': unknown value 'float8'; choose one of float32"),
        ({"batch": "0"}, r"--batch '0': must be a positive integer"),
        ({"d_model": "100"}, r"--d-model: attention/math cannot be built at d_model=100"),
        ({"threads": "-1"}, r"--threads '-1': '-1' is not a whole number"),
        ({"time_budget_s": "soon"}, r"--time-budget-s 'soon': 'soon' is not a number"),
        ({"time_budget_s": "-1"}, r"--time-budget-s '-1': must be a positive number"),
    ],
)
def test_bad_values_name_what_is_valid(raw: dict, message: str) -> None:
    with pytest.raises(pytest.UsageError, match=message):
        resolve(**raw)


# -- mixer options --------------------------------------------------------------------
def test_a_mixer_option_sets_a_knob_of_the_mixers_its_pattern_matches() -> None:
    options = resolve(
        profile="smoke", mixer_option=["retnet:n_heads=1", "retnet/chunkwise:chunk_size=8"]
    )
    assert options.mixer_config("retnet/chunkwise", 32) == {"n_heads": 1, "chunk_size": 8}
    assert options.mixer_config("retnet/parallel", 32) == {"n_heads": 1, "chunk_size": 16}
    assert options.mixer_config("attention/sdpa", 32) == {"n_heads": 2}  # the profile's
    summary = options.summary()
    assert summary["mixer_option"] == {
        "retnet": {"n_heads": "1"},
        "retnet/chunkwise": {"chunk_size": "8"},
    }
    json.dumps(summary)


def test_a_profiles_mixer_options_come_first_and_the_command_line_over_them(monkeypatch) -> None:
    smoke = replace(
        PROFILES["smoke"], mixer_options={"attention/*": {"n_heads": 1, "rotary_base": 500.0}}
    )
    monkeypatch.setitem(PROFILES, "smoke", smoke)
    assert resolve(profile="smoke").mixer_config("attention/math", 32) == {
        "n_heads": 1,
        "rotary_base": 500.0,
    }
    options = resolve(profile="smoke", mixer_option=["attention/math:rotary_base=10"])
    assert options.mixer_config("attention/math", 32) == {"n_heads": 1, "rotary_base": 10.0}


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        (
            ["retnet:d_state=4"],
            r"--mixer-option: retnet/chunkwise has no knob 'd_state'; its knobs: n_heads",
        ),
        (
            ["attention/sdpa:n_head=1"],
            r"attention/sdpa has no knob 'n_head' \(did you mean n_heads\?\)",
        ),
        (["retnet/chunkwise:chunk_size=big"], r"knob chunk_size must be int, got 'big'"),
        (["retnet:n_heads=3"], r"--d-model: retnet/chunkwise cannot be built at d_model=32"),
        (["lstm/*:layers=2"], r"pattern 'lstm/\*' matches no registered mixer \(nor family\)"),
        (["retnet n_heads=2"], r"is not PATTERN:knob=value\[,knob=value\]"),
    ],
)
def test_a_bad_mixer_option_is_a_usage_error_naming_knob_and_mixer(texts, message) -> None:
    with pytest.raises(pytest.UsageError, match=message):
        resolve(profile="smoke", mixers="attention/sdpa,retnet/chunkwise", mixer_option=texts)


def test_a_knob_of_an_unselected_mixer_is_not_checked() -> None:
    options = resolve(profile="smoke", mixers="retnet/*", mixer_option=["attention:n_heads=3"])
    assert options.mixers == ["retnet/chunkwise", "retnet/parallel"]


def test_gpu_profile_may_be_forced_onto_the_cpu() -> None:
    assert resolve(profile="gpu-smoke", device="cpu").device == torch.device("cpu")


def test_lengths_accept_a_k_suffix_and_come_back_sorted_without_repeats() -> None:
    assert resolve(lengths="4k, 512 ,4096,2K").lengths == (512, 2048, 4096)


def test_data_dir_comes_from_the_option_else_the_environment(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MIXBENCH_DATA", str(tmp_path / "from-env"))
    assert resolve().data_dir == tmp_path / "from-env"
    assert resolve(data_dir=str(tmp_path)).data_dir == tmp_path
    monkeypatch.delenv("MIXBENCH_DATA")
    assert resolve().data_dir is None


def test_a_data_dir_that_is_not_a_folder_is_refused(tmp_path) -> None:
    with pytest.raises(pytest.UsageError, match="--data-dir .* is not a folder.*lra_release"):
        resolve(data_dir=str(tmp_path / "missing"))


# -- on the command line: usage errors, never tracebacks ------------------------------------
def collect_suite(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pytest", "suite/test_speed.py", "--collect-only", "-q"]
    environment = {**os.environ, **(env or {})}
    return subprocess.run(
        [*command, *args], cwd=ROOT, capture_output=True, text=True, timeout=120, env=environment
    )


def assert_usage_error(done: subprocess.CompletedProcess, *fragments: str) -> None:
    output = done.stdout + done.stderr
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, output[-3000:]
    assert "Traceback" not in output and "INTERNALERROR" not in output, output[-3000:]
    for fragment in fragments:
        assert fragment in output, output[-3000:]


def test_a_bad_length_on_the_command_line_is_a_usage_error() -> None:
    assert_usage_error(collect_suite("--lengths", "²"), "--lengths", "not a whole number")


def test_an_unknown_knob_on_the_command_line_is_a_usage_error() -> None:
    done = collect_suite(
        "--profile",
        "smoke",
        "--mixer-option",
        "retnet:n_heads=2",
        "--mixer-option",
        "mamba/scan:d_stat=4",
    )
    assert_usage_error(
        done, "--mixer-option: mamba/scan has no knob 'd_stat'", "its knobs: chunk_size"
    )


def write_plugin(folder: Path, name: str, body: str) -> dict:
    (folder / f"{name}.py").write_text(textwrap.dedent(body))
    return {"MIXBENCH_PLUGINS": name, "PYTHONPATH": f"{folder}{os.pathsep}{ROOT}"}


def test_a_missing_plugin_module_is_a_usage_error() -> None:
    done = collect_suite(env={"MIXBENCH_PLUGINS": "no_such_mixbench_plugin"})
    assert_usage_error(done, "MIXBENCH_PLUGINS", "no_such_mixbench_plugin")


def test_a_plugin_that_raises_at_import_is_a_usage_error(tmp_path: Path) -> None:
    env = write_plugin(tmp_path, "raising_plugin", "raise RuntimeError('half-written plugin')\n")
    assert_usage_error(collect_suite(env=env), "MIXBENCH_PLUGINS", "raising_plugin")


def test_a_plugin_whose_name_clashes_is_a_usage_error(tmp_path: Path) -> None:
    body = """
        from models import Mixer, register_mixer

        @register_mixer("attention/sdpa")
        class NotAttention(Mixer):
            pass
    """
    env = write_plugin(tmp_path, "clashing_plugin", body)
    assert_usage_error(collect_suite(env=env), "attention/sdpa", "already registered")
