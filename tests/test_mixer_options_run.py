"""A knob set with --mixer-option reaches every point of a smoke run: the mixer is
built with it (its parameters change), the reference check builds its reference
alike, and each point saves the knobs it was built with and whether its state is
fixed (schema fields mixer_config, fixed_state)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch

from models import get_spec
from models.backbone import Backbone, BackboneConfig, count_params
from schema import FAILURES_KEY, OPTIONS_KEY, SPEED_WORKLOADS

ROOT = Path(__file__).resolve().parents[1]


def smoke_run(storage: Path, *args: str) -> dict:
    command = [sys.executable, "-m", "pytest", "suite/test_speed.py", "--profile", "smoke"]
    command += ["--device", "cpu", "--mixers", "attention/sdpa,retnet/recurrent", "--lengths"]
    command += ["32", "--benchmark-autosave", "--benchmark-storage", str(storage), "-q", *args]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    (saved,) = storage.rglob("*.json")
    return json.loads(saved.read_text())


def test_a_mixer_option_is_built_checked_and_saved_with_every_point(tmp_path: Path) -> None:
    data = smoke_run(tmp_path, "--mixer-option", "retnet:value_factor=1")
    assert data[OPTIONS_KEY]["mixer_option"] == {"retnet": {"value_factor": "1"}}
    points = [b["extra_info"] for b in data["benchmarks"]]
    points += [f["extra_info"] for f in data[FAILURES_KEY]]
    speed = [p for p in points if p["workload"] in SPEED_WORKLOADS]
    assert {p["mixer"] for p in speed} == {"attention/sdpa", "retnet/recurrent"}
    for point in speed:
        assert point["fixed_state"] is get_spec(point["mixer"]).cls.fixed_state
        expected = {"n_heads": 2} if point["family"] == "attention" else {"value_factor": 1}
        assert expected.items() <= point["mixer_config"].items(), point
    retnet = [p for p in speed if p["mixer"] == "retnet/recurrent" and p["status"] == "ok"]
    assert retnet and all(p["ref_rel_err"] <= 1e-4 for p in retnet)
    # the model timed had value_factor 1's parameters, not the default 2's
    config = retnet[0]["mixer_config"]
    assert {p["params"] for p in retnet} == {backbone_params(config)}
    assert backbone_params({**config, "value_factor": 2}) > backbone_params(config)


def backbone_params(mixer_config: dict) -> int:
    config = BackboneConfig("retnet/recurrent", 32, 1, head="lm", mixer_config=mixer_config)
    with torch.device("meta"):
        return count_params(Backbone(config))


def test_a_mode_speed_file_builds_its_mixers_with_the_mixer_options(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "pytest", "suite/test_mamba_speed.py", "--profile", "smoke"]
    command += ["--device", "cpu", "--mixers", "mamba/scan", "-k", "test_mamba_forward"]
    command += ["--mixer-option", "mamba:d_state=8", "--benchmark-autosave"]
    command += ["--benchmark-storage", str(tmp_path), "-q"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    (saved,) = tmp_path.rglob("*.json")
    points = [b["extra_info"] for b in json.loads(saved.read_text())["benchmarks"]]
    # ours and mambapy's block, which carries the reference's weights
    assert {p["mixer"] for p in points} == {"mamba/scan", "mamba/mambapy-pscan"}
    for point in points:
        assert point["mixer_config"] == {"d_state": 8} and point["fixed_state"] is True
