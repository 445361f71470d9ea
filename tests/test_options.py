"""Profiles and command-line options: defaults, overrides and the errors a
user sees for a bad value (each names what would be right)."""

from __future__ import annotations

import pytest
import torch

from suite.options import PROFILES, RawOptions, parse_lengths, resolve_options

KNOWN = ["attention/math", "attention/sdpa", "retnet/chunkwise", "retnet/parallel"]


def resolve(cuda_available: bool = False, **raw) -> object:
    return resolve_options(RawOptions(**raw), KNOWN, cuda_available=cuda_available)


def test_default_profile_runs_every_mixer_on_the_cpu() -> None:
    options = resolve()
    assert options.profile.name == "default"
    assert options.mixers == KNOWN
    assert options.device == torch.device("cpu")
    assert options.dtype == torch.float32
    assert max(options.lengths) >= 8192
    assert options.max_len == max(options.decode_lengths) + options.profile.decode_tokens


def test_auto_device_picks_cuda_when_there_is_one() -> None:
    assert resolve(cuda_available=True).device == torch.device("cuda")


def test_overrides_replace_the_profile_values() -> None:
    options = resolve(
        profile="smoke",
        dtype="bf16",
        lengths="96,1k,32",
        batch=3,
        d_model=64,
        time_budget_s=2.5,
        threads=1,
    )
    assert options.dtype == torch.bfloat16
    assert options.lengths == options.decode_lengths == (32, 96, 1024)
    assert (options.batch, options.d_model, options.time_budget_s) == (3, 64, 2.5)
    assert options.threads == 1


def test_mixer_globs_select_in_registry_order() -> None:
    assert resolve(mixers="retnet/*, attention/sdpa").mixers == [
        "attention/sdpa",
        "retnet/chunkwise",
        "retnet/parallel",
    ]


def test_every_profile_is_self_consistent() -> None:
    for name, profile in PROFILES.items():
        assert profile.name == name
        assert list(profile.lengths) == sorted(profile.lengths)
        assert profile.min_rounds <= profile.max_rounds
        assert profile.d_model % (2 * profile.n_heads) == 0


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"profile": "fast"}, r"unknown --profile 'fast'; choose one of smoke, default, paper"),
        ({"mixers": "mamba/*"}, r"'mamba/\*' matches no registered mixer; registered: attention"),
        ({"lengths": "512,abc"}, r"'abc' is not a positive integer"),
        ({"lengths": "0"}, r"'0' is not a positive integer"),
        ({"lengths": ","}, r"--lengths is empty"),
        ({"device": "tpu"}, r"unknown --device 'tpu'; choose one of auto, cpu, cuda"),
        ({"device": "cuda"}, r"torch sees no CUDA device; .* --device cpu"),
        ({"profile": "paper"}, r"profile paper \(it is meant for a GPU\)"),
        ({"dtype": "float8"}, r"unknown --dtype 'float8'; choose one of float32"),
        ({"batch": 0}, r"--batch must be positive, got 0"),
        ({"d_model": 100}, r"--d-model 100 must be a multiple of 2\*n_heads=8 .* try 96"),
        ({"threads": -1}, r"--threads must be 0"),
    ],
)
def test_bad_values_name_what_is_valid(raw: dict, message: str) -> None:
    with pytest.raises(pytest.UsageError, match=message):
        resolve(**raw)


def test_gpu_profile_may_be_forced_onto_the_cpu() -> None:
    assert resolve(profile="gpu-smoke", device="cpu").device == torch.device("cpu")


def test_lengths_accept_a_k_suffix_and_come_back_sorted_without_repeats() -> None:
    assert parse_lengths("4k, 512 ,4096,2K") == (512, 2048, 4096)


def test_data_dir_comes_from_the_option_else_the_environment(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MIXBENCH_DATA", str(tmp_path / "from-env"))
    assert resolve().data_dir == tmp_path / "from-env"
    assert resolve(data_dir=str(tmp_path)).data_dir == tmp_path
    monkeypatch.delenv("MIXBENCH_DATA")
    assert resolve().data_dir is None


def test_a_data_dir_that_is_not_a_folder_is_refused(tmp_path) -> None:
    with pytest.raises(pytest.UsageError, match="--data-dir .* is not a folder.*lra_release"):
        resolve(data_dir=str(tmp_path / "missing"))
