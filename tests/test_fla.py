"""fla's Triton kernels on the CPU: tests/fla_interpreted.py runs in a fresh
process under Triton's interpreter (TRITON_INTERPRET=1 must be set before
triton is imported) with a patched copy of fla first on its path
(tests/triton_cpu.py says why and what), and each of its tests is reported
here; the upstream behaviours the patch answers are watched; and without the
interpreter the fla variants say why they cannot run."""

from __future__ import annotations

import importlib.util
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import torch

from models import MixerUnavailable, build_mixer, get_spec
from models.fla_backend import fla_run_problem
from tests.triton_cpu import (
    INT64_CAST,
    INT64_TO,
    installed_fla,
    patched_fla_copy,
    run_interpreted,
)

#: every test of tests/fla_interpreted.py, by its JUnit name
CHECKS = (
    "test_runs_interpreted_with_the_patched_copy",
    "test_chunk_retention",
    "test_fused_recurrent_retention",
    "test_simple_gla[chunk_simple_gla]",
    "test_simple_gla[fused_recurrent_simple_gla]",
    "test_layer_against_its_family_reference[retnet/fla]",
    "test_layer_against_its_family_reference[mamba2/fla]",
    "test_autotuner_still_needs_a_driver_without_the_fixture",
)
#: the interpreted run takes about a minute alone; on a busy CI machine more
RUN_TIMEOUT_S = 1200
#: CI installs both (scripts/install.sh); elsewhere these tests are skipped
MISSING = [p for p in ("triton", "fla") if importlib.util.find_spec(p) is None]
needs_fla = pytest.mark.skipif(
    bool(MISSING), reason=f"{', '.join(MISSING)} not installed (bash scripts/install.sh)"
)


def outcomes(report: Path) -> dict[str, tuple[str, str]]:
    """{test name: (outcome, message)} from a JUnit report."""
    found = {}
    for case in ET.parse(report).iter("testcase"):
        failure = next(iter(case), None)
        if failure is None:
            found[case.get("name")] = ("passed", "")
        else:
            found[case.get("name")] = (failure.tag, failure.get("message") or failure.text or "")
    return found


@pytest.fixture(scope="module")
def interpreted(tmp_path_factory) -> tuple[dict[str, tuple[str, str]], str]:
    """Each interpreted test's outcome, and the run's output's tail."""
    folder = tmp_path_factory.mktemp("fla-interpreted")
    copy = patched_fla_copy(folder / "copy")
    report = folder / "report.xml"
    test_file = Path(__file__).with_name("fla_interpreted.py")
    result = run_interpreted(test_file, copy, report, RUN_TIMEOUT_S)
    tail = (result.stdout + result.stderr)[-4000:]
    return (outcomes(report) if report.exists() else {}), tail


@needs_fla
@pytest.mark.slow
def test_every_interpreted_check_ran(interpreted):
    found, tail = interpreted
    assert set(found) == set(CHECKS), f"the interpreted run's tests changed or it failed:\n{tail}"


@needs_fla
@pytest.mark.slow
@pytest.mark.parametrize("check", CHECKS)
def test_interpreted(interpreted, check):
    found, tail = interpreted
    outcome, message = found.get(check, ("missing", tail))
    assert outcome == "passed", f"{check} {outcome}: {message}"


@needs_fla
def test_released_fla_still_casts_loop_indices_with_to():
    """Upstream watch: fla's chunk kernels call ``.to(tl.int64)`` on a loop
    index, which the interpreter cannot run. When this fails, fla casts
    otherwise: drop the rewrite in tests/triton_cpu.patched_fla_copy."""
    source = (installed_fla() / "ops" / "common" / "chunk_h.py").read_text()
    assert "i_t.to(tl.int64)" in source


def test_int64_rewrite_touches_bare_names_only():
    rewrite = INT64_TO.sub
    assert rewrite(INT64_CAST, "o = i_t.to(tl.int64) * K") == "o = tl.cast(i_t, tl.int64) * K"
    for left in ("(bos * H + i_h).to(tl.int64)", "tl.load(p).to(tl.int64)", "x.to(tl.int32)"):
        assert rewrite(INT64_CAST, left) == left


@pytest.mark.parametrize("name", ["retnet/fla", "mamba2/fla"])
def test_fla_variants_say_why_they_cannot_run_here(name, monkeypatch):
    """Outside the interpreter and without CUDA (as in this process) the
    variants are unavailable with a reason, and refuse a CPU run."""
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    reason = get_spec(name).unavailable_reason()
    if reason is None:
        pytest.skip("fla and a CUDA device are available here")
    assert "CUDA" in reason or "not installed" in reason
    with pytest.raises(MixerUnavailable, match=name):
        build_mixer(name, 32)
    assert "TRITON_INTERPRET" in fla_run_problem(torch.device("cpu"), torch.float32)
    assert fla_run_problem(torch.device("cuda"), torch.bfloat16) is None
