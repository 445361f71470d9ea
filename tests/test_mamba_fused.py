"""mamba/fused: its C scan equals the sequential reference in the forward, the
prefill state and every gradient; split over threads it gives the same; it
says why it cannot run (no compiler, a failed build, a GPU or float64 run);
its build is cached and leaves the process's float mode alone."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import torch

from models import build_mixer, get_spec
from models import mamba_fused as fused
from models.mamba import sequential_selective_scan
from suite.workloads import check_dtype
from tasks.sizing import family_defaults

from .test_mamba import perturbed

D_MODEL = 16
#: one position, one segment exactly, one past it, several with a partial last
LENGTHS = (1, 63, fused.SEGMENT, fused.SEGMENT + 1, 3 * fused.SEGMENT + 7)

pytestmark = pytest.mark.usefixtures("one_thread")

needs_kernel = pytest.mark.skipif(
    fused.unavailable_reason() is not None,
    reason=f"mamba/fused is unavailable here: {fused.unavailable_reason()}",
)


def scan_inputs(batch: int, length: int, E: int, N: int, dtype=torch.float32):
    """u, delta, A, B, C as the mixer makes them: delta > 0, A < 0."""
    gen = torch.Generator().manual_seed(length * 7 + E)
    u = torch.randn(batch, length, E, generator=gen)
    delta = torch.rand(batch, length, E, generator=gen) * 0.3 + 1e-3
    A = -(torch.rand(E, N, generator=gen) * 4 + 0.2)
    B = torch.randn(batch, length, N, generator=gen)
    C = torch.randn(batch, length, N, generator=gen)
    return [z.to(dtype).requires_grad_() for z in (u, delta, A, B, C)]


def relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a.double() - b.double()).norm() / b.double().norm().clamp_min(1e-30)).item()


def reference_and_fused(batch: int, length: int, E: int, N: int):
    """Outputs and gradients (of y and of the final state) of the float64
    reference and of the C scan, on the same inputs."""
    ins = scan_inputs(batch, length, E, N)
    wide = [z.detach().double().requires_grad_() for z in ins]
    gen = torch.Generator().manual_seed(1)
    dy, dh = torch.randn(batch, length, E, generator=gen), torch.randn(batch, E, N, generator=gen)
    results = []
    for scan, tensors in ((sequential_selective_scan, wide), (fused.fused_selective_scan, ins)):
        y, h = scan(*tensors)
        loss = (y * dy.to(y.dtype)).sum() + (h * dh.to(h.dtype)).sum()
        results.append((y, h, torch.autograd.grad(loss, tensors)))
    return results


@needs_kernel
@pytest.mark.parametrize("length", LENGTHS)
@pytest.mark.parametrize("E,N", [(16, 4), (10, 1), (33, 16)])
def test_scan_and_gradients_match_the_reference(length, E, N):
    """E not a multiple of the vector width, N = 1 and several backward segments."""
    (y_ref, h_ref, g_ref), (y, h, g) = reference_and_fused(2, length, E, N)
    assert relative(y, y_ref) < 1e-5
    assert relative(h, h_ref) < 1e-5
    for got, want in zip(g, g_ref, strict=True):
        assert relative(got, want) < 1e-4


@needs_kernel
def test_threads_split_the_batch_to_the_same_result():
    ins = scan_inputs(5, 100, 12, 3)
    outs = {}
    for threads in (1, 3):
        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            y, h = fused.fused_selective_scan(*ins)
            grads = torch.autograd.grad(y.square().sum() + h.sum(), ins)
        finally:
            torch.set_num_threads(previous)
        outs[threads] = (y, h, *grads)
    for one, three in zip(outs[1], outs[3], strict=True):
        assert torch.equal(one, three)


def same_weights(dtype=torch.float32):
    torch.manual_seed(0)
    ref = perturbed(build_mixer("mamba/reference", D_MODEL)).to(dtype)
    mixer = build_mixer("mamba/fused", D_MODEL).to(dtype)
    mixer.load_state_dict(ref.state_dict())
    return ref, mixer


@needs_kernel
def test_mixer_forward_prefill_and_steps_match_the_reference():
    ref, mixer = same_weights()
    x = torch.randn(2, 90, D_MODEL)
    assert (mixer(x) - ref(x)).abs().max() <= 1e-5
    out, state = mixer.prefill(x[:, :70])
    _, ref_state = ref.prefill(x[:, :70])
    assert (state.ssm - ref_state.ssm).abs().max() <= 1e-5
    y, state = mixer.step(x[:, 70], state)
    assert (y - ref(x[:, :71])[:, 70]).abs().max() <= 1e-5


@needs_kernel
def test_mixer_gradients_match_the_reference():
    ref, mixer = same_weights()
    x = torch.randn(2, 70, D_MODEL)
    for m in (ref, mixer):
        m(x).square().sum().backward()
    for (name, a), b in zip(ref.named_parameters(), mixer.parameters(), strict=True):
        assert relative(b.grad, a.grad) < 1e-4, name


@needs_kernel
def test_bf16_model_scans_in_float32():
    ref, mixer = same_weights(torch.bfloat16)
    x = torch.randn(2, 20, D_MODEL, dtype=torch.bfloat16)
    assert mixer(x).dtype == torch.bfloat16
    assert relative(mixer(x), ref(x)) < 2e-2


@needs_kernel
def test_loading_the_kernel_keeps_subnormal_floats():
    """Linking with -ffast-math would set flush-to-zero for the whole process."""
    fused.library()
    tiny = torch.tensor(1e-40, dtype=torch.float32)
    assert (tiny * 1.0).item() != 0.0


def test_runs_only_on_cpu_in_float32():
    spec = get_spec("mamba/fused")
    problem = spec.cls.run_problem(torch.device("cpu"), torch.float64)
    assert "CPU in float32, not float64 on cpu" in problem
    cuda = spec.unavailable_reason(torch.device("cuda"), torch.float32)
    assert cuda is not None and "not float32 on cuda" in cuda
    if fused.unavailable_reason() is None:
        assert spec.unavailable_reason(torch.device("cpu"), torch.bfloat16) is None
        with pytest.raises(ValueError, match="CPU float32.*use mamba/scan"):
            fused.fused_selective_scan(*scan_inputs(1, 4, 3, 2, torch.float64))


@pytest.fixture
def fresh_build(tmp_path, monkeypatch):
    """The kernel looked up again, built into an empty cache; the process's
    own kernel is looked up again afterwards."""
    monkeypatch.setenv("MIXBENCH_CACHE", str(tmp_path / "cache"))
    fused.library.cache_clear()
    yield tmp_path
    fused.library.cache_clear()


def script(path, body: str) -> str:
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def test_without_a_compiler_the_reason_names_the_fix(fresh_build, monkeypatch):
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setenv("PATH", str(fresh_build))
    reason = fused.unavailable_reason()
    assert reason.startswith("no C compiler") and "install gcc" in reason
    assert get_spec("mamba/fused").unavailable_reason() == reason


def test_a_failed_build_gives_the_compilers_first_error(fresh_build, monkeypatch):
    fails = 'echo "cc 1.0"; [ "$1" = --version ] || { echo boom >&2; exit 1; }'
    cc = script(fresh_build / "cc", fails)
    monkeypatch.setenv("CC", cc)
    reason = fused.unavailable_reason()
    assert reason == f"the C scan did not build with {cc}: boom"
    assert not list((fresh_build / "cache").glob("*.so"))


@needs_kernel
def test_the_build_is_cached_and_reused(fresh_build, monkeypatch):
    real = fused.compiler()
    calls = fresh_build / "calls"
    cc = script(fresh_build / "cc", f'echo x >> {calls}; exec {real} "$@"')
    monkeypatch.setenv("CC", cc)
    assert fused.unavailable_reason() is None
    built = list((fresh_build / "cache").glob("mamba_fused-*.so"))
    assert len(built) == 1
    compiles = len(calls.read_text().splitlines())
    fused.library.cache_clear()
    assert fused.unavailable_reason() is None
    # only --version ran again: the library came from the cache
    assert len(calls.read_text().splitlines()) == compiles + 1
    assert os.listdir(fresh_build / "cache") == [built[0].name]


def test_accuracy_runs_train_with_the_fastest_variant_that_runs():
    names = ["attention/sdpa", "mamba/reference", "mamba/scan", "mamba/fused"]
    everything = family_defaults(names, lambda name: True)
    assert everything == {"attention": "attention/sdpa", "mamba": "mamba/fused"}
    no_c = family_defaults(names, lambda name: name != "mamba/fused")
    assert no_c["mamba"] == "mamba/scan"
    # nothing listed runs: the first listed is kept, to say why
    assert family_defaults(names[2:], lambda name: False) == {"mamba": "mamba/fused"}
    assert family_defaults(["mamba/reference"], lambda name: True) == {"mamba": "mamba/reference"}


@needs_kernel
def test_flops_are_the_plain_recurrence():
    """No chunks, so no first pass: at any batch the reference's count, where
    mamba/scan's small batches count the chunked scan's extra pass."""
    mixer, reference = build_mixer("mamba/fused", D_MODEL), build_mixer("mamba/reference", D_MODEL)
    for batch, length in ((1, 4096), (64, 100)):
        assert mixer.flops(batch, length) == reference.flops(batch, length)
    assert build_mixer("mamba/scan", D_MODEL).flops(1, 4096) > reference.flops(1, 4096)


def test_reference_check_runs_in_float32_for_a_float32_kernel():
    """The suite checks variants against the reference in fp64 on a CPU, except
    those that run in fp32 only."""
    cpu = torch.device("cpu")
    assert check_dtype(get_spec("mamba/fused"), cpu) == torch.float32
    assert check_dtype(get_spec("mamba/scan"), cpu) == torch.float64


def test_an_unwritable_cache_names_the_fix(fresh_build, monkeypatch):
    blocker = fresh_build / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("MIXBENCH_CACHE", str(blocker / "cache"))
    reason = fused.unavailable_reason()
    assert "cannot write the build cache" in reason and "set MIXBENCH_CACHE" in reason


def cached_target(fresh_build, monkeypatch) -> Path:
    """Where the first flag set's build is cached (its folder made, private)."""
    monkeypatch.setattr(fused, "FLAG_SETS", fused.FLAG_SETS[:1])
    cc = fused.compiler()
    target = fused.built_library_path(cc, fused.compiler_version(cc), fused.FLAG_SETS[0][0])
    target.parent.mkdir(mode=0o700, parents=True)
    return target


@needs_kernel
def test_a_broken_cached_library_is_rejected_aloud_and_built_again(fresh_build, monkeypatch):
    """It used to fall back silently to the slower scalar build."""
    target = cached_target(fresh_build, monkeypatch)
    target.write_bytes(b"not a shared library")
    with pytest.warns(UserWarning, match=rf"cached build {target} was rejected \(it does not load"):
        assert fused.unavailable_reason() is None
    assert "-march=native" in fused.build_description()
    assert target.read_bytes().startswith(b"\x7fELF")


@needs_kernel
@pytest.mark.parametrize("mode", [0o777, 0o775, 0o757])
def test_a_cached_library_others_can_write_is_never_loaded(fresh_build, monkeypatch, mode):
    """A library planted at the predictable path would run its constructor when
    mixers are listed: one others could have written is rebuilt, not loaded."""
    target = cached_target(fresh_build, monkeypatch)
    target.write_bytes(b"planted")
    target.chmod(mode)
    loaded = []
    monkeypatch.setattr(fused.ctypes, "CDLL", lambda path: loaded.append(path) or object())
    monkeypatch.setattr(fused, "declare", lambda lib: None)
    with pytest.warns(UserWarning, match="can be written by others"):
        assert fused.unavailable_reason() is None
    # loaded once, after the build replaced it: never the planted file
    assert loaded == [str(target)] and target.read_bytes().startswith(b"\x7fELF")
    assert target.stat().st_mode & 0o777 == 0o755


@needs_kernel
def test_a_link_in_the_cache_is_never_loaded(fresh_build, monkeypatch):
    target = cached_target(fresh_build, monkeypatch)
    elsewhere = fresh_build / "elsewhere.so"
    elsewhere.write_bytes(b"someone else's")
    target.symlink_to(elsewhere)
    with pytest.warns(UserWarning, match="is a symbolic link"):
        assert fused.unavailable_reason() is None
    assert elsewhere.read_bytes() == b"someone else's" and not target.is_symlink()


def test_a_cache_folder_others_can_write_is_refused(fresh_build, monkeypatch):
    folder = fresh_build / "shared"
    folder.mkdir()
    folder.chmod(0o777)
    monkeypatch.setenv("MIXBENCH_CACHE", str(folder))
    reason = fused.unavailable_reason()
    assert reason is not None and "the build cache is not private" in reason
    assert "can be written by others" in reason and "set MIXBENCH_CACHE" in reason


def test_a_tilde_in_the_cache_is_the_home_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("MIXBENCH_CACHE", "~/x")
    assert fused.cache_dir() == tmp_path / "x"
