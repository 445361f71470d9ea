"""fla's Triton kernels, every path the project calls, run by Triton's
interpreter on the CPU against the project's references: forward and
gradients in fp32, within 1e-5 of the reference computed in fp64.

Not collected by ``pytest tests/`` (no test_ prefix): tests/test_fla.py runs
it in a fresh process with TRITON_INTERPRET=1 and a patched copy of fla first
on the path (tests/triton_cpu.py says why), and reports each test here.

Every kernel is checked against ``ssd_scan_ref``, the project's recurrence
(models/mamba2.py): retention is the SSD with dt = 1, A = log(gamma), B = k,
C = q and v as x. The layers are checked against their family's reference.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from models import build_mixer
from models.mamba2 import ssd_scan_ref
from models.retnet import log_decays
from tests.triton_cpu import COPY_ENV, first_config_autotuner  # noqa: F401 (a fixture)

#: relative error (max |error| / max |reference|) of fp32 kernels against fp64
TOLERANCE = 1e-5
#: two of fla's chunks (64), the second one partial; odd sizes, as d_v + 1 is
BATCH, LENGTH, HEADS, KEY_DIM, VALUE_DIM = 2, 80, 2, 16, 17
#: the recurrent kernels have no chunks, and the interpreter runs their loop
#: over positions in Python (about 0.1 s a position, forward and backward)
RECURRENT_LENGTH = 24

pytestmark = pytest.mark.usefixtures("first_config_autotuner")


def relative_error(got: torch.Tensor, expected: torch.Tensor) -> float:
    return ((got.double() - expected).abs().max() / expected.abs().max()).item()


def assert_close(got, expected, what: str) -> None:
    for name, g, e in zip(what.split(), got, expected, strict=True):
        error = relative_error(g, e)
        assert error <= TOLERANCE, f"{name}: relative error {error:.3g} > {TOLERANCE}"


def randn(*shape, scale: float = 1.0) -> torch.Tensor:
    return (scale * torch.randn(*shape, generator=GENERATOR)).requires_grad_()


GENERATOR = torch.Generator().manual_seed(0)


def inputs_and_grads(run, reference, args: dict[str, torch.Tensor]):
    """(outputs, gradients) of ``run`` on fp32 ``args`` and of ``reference`` on
    their fp64 copies; the loss weighs every output by fixed random weights."""
    results = []
    for fn, cast in ((run, lambda t: t), (reference, lambda t: t.double())):
        leaves = {k: cast(v.detach()).requires_grad_() for k, v in args.items()}
        outputs = fn(**leaves)
        gen = torch.Generator().manual_seed(1)
        loss = sum(
            (o * torch.randn(o.shape, generator=gen, dtype=torch.float64).to(o.dtype)).sum()
            for o in outputs
        )
        results.append((outputs, torch.autograd.grad(loss, list(leaves.values()))))
    return results


def retention_reference(q, k, v, state):
    """fla's retention (scale 1) as the SSD: (output, final state (b, h, K, V))."""
    b, length, h, _ = q.shape
    dt = torch.ones(b, length, h, dtype=q.dtype)
    A = log_decays(h, q.dtype)
    y, final = ssd_scan_ref(v, dt, A, k, q, 64, initial_states=state.mT, return_final_states=True)
    return y, final.mT


def ssd_reference(q, k, x, dt, A, state):
    """fla's simple GLA as mamba2/fla calls it (v = dt x, g = dt A, V-first
    state), by the SSD recurrence."""
    return ssd_scan_ref(x, dt, A, k, q, 64, initial_states=state, return_final_states=True)


def retention_args(length: int = LENGTH):
    return dict(
        q=randn(BATCH, length, HEADS, KEY_DIM),
        k=randn(BATCH, length, HEADS, KEY_DIM, scale=KEY_DIM**-0.5),
        v=randn(BATCH, length, HEADS, VALUE_DIM),
        state=randn(BATCH, HEADS, KEY_DIM, VALUE_DIM),
    )


def gla_args(length: int):
    """q = C, k = B, x, dt > 0, A < 0 per head and a V-first initial state."""
    args = retention_args(length)
    args["x"] = args.pop("v")
    args["dt"] = 0.05 + 0.5 * torch.rand(BATCH, length, HEADS, generator=GENERATOR)
    args["A"] = -torch.rand(HEADS, generator=GENERATOR) - 0.1
    args["state"] = randn(BATCH, HEADS, VALUE_DIM, KEY_DIM)
    return args


def test_runs_interpreted_with_the_patched_copy():
    import fla

    assert os.environ.get("TRITON_INTERPRET") == "1"
    assert Path(fla.__file__).is_relative_to(os.environ[COPY_ENV]), fla.__file__


def test_chunk_retention():
    from fla.ops.retention import chunk_retention

    def run(q, k, v, state):
        return chunk_retention(q, k, v, scale=1.0, initial_state=state, output_final_state=True)

    (got, g_got), (expected, g_expected) = inputs_and_grads(
        run, retention_reference, retention_args()
    )
    assert_close(got, expected, "o final_state")
    assert_close(g_got, g_expected, "dq dk dv d_initial_state")


def test_fused_recurrent_retention():
    from fla.ops.retention import fused_recurrent_retention

    def run(q, k, v, state):
        return fused_recurrent_retention(
            q, k, v, scale=1.0, initial_state=state, output_final_state=True
        )

    (got, g_got), (expected, g_expected) = inputs_and_grads(
        run, retention_reference, retention_args(RECURRENT_LENGTH)
    )
    assert_close(got, expected, "o final_state")
    assert_close(g_got, g_expected, "dq dk dv d_initial_state")


@pytest.mark.parametrize("kernel", ["chunk_simple_gla", "fused_recurrent_simple_gla"])
def test_simple_gla(kernel):
    """Both simple-GLA forms as mamba2/fla calls them (per-token decay g = dt A,
    v = dt x, the V-first state), against the SSD recurrence."""
    import fla.ops.simple_gla as simple_gla

    length = LENGTH if kernel.startswith("chunk") else RECURRENT_LENGTH

    def run(q, k, x, dt, A, state):
        return getattr(simple_gla, kernel)(
            q,
            k,
            x * dt[..., None],
            g=dt * A,
            scale=1.0,
            initial_state=state,
            output_final_state=True,
            state_v_first=True,
        )

    (got, g_got), (expected, g_expected) = inputs_and_grads(run, ssd_reference, gla_args(length))
    assert_close(got, expected, "o final_state")
    assert_close(g_got, g_expected, "dq dk dx d_dt dA d_initial_state")


LAYERS = {
    "retnet/fla": ("retnet/parallel", dict(n_heads=2)),
    "mamba2/fla": ("mamba2/ref", dict(headdim=16, ngroups=2, d_state=8)),
}


@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_against_its_family_reference(name):
    """The layer in fp32 against its family's reference in fp64, same weights:
    forward, gradients into the input and every weight, and prefill then
    decode steps (fla's recurrent kernel from the carried state)."""
    reference_name, config = LAYERS[name]
    torch.manual_seed(0)
    reference = build_mixer(reference_name, 32, **config).double()
    mixer = build_mixer(name, 32, **config)
    mixer.load_state_dict(reference.state_dict())
    x = torch.randn(2, 70, 32, generator=GENERATOR)
    outputs, grads = [], []
    for module, x_in in ((mixer, x), (reference, x.double())):
        x_in = x_in.clone().requires_grad_()
        y = module(x_in)
        outputs.append(y)
        grads.append(torch.autograd.grad(y.square().sum(), [x_in, *module.parameters()]))
    assert_close([outputs[0]], [outputs[1].detach()], "forward")
    names = " ".join(["x", *(n for n, _ in reference.named_parameters())])
    assert_close(grads[0], grads[1], names)
    with torch.no_grad():
        y, state = mixer.prefill(x[:, :65])
        steps = [y]
        for t in range(65, 70):
            y_t, state = mixer.step(x[:, t], state)
            steps.append(y_t[:, None])
    assert_close([torch.cat(steps, dim=1)], [outputs[1].detach()], "prefill+step")


def test_autotuner_still_needs_a_driver_without_the_fixture(
    first_config_autotuner,  # noqa: F811 (the fixture, imported above)
    monkeypatch,
):
    """Upstream watch: with Triton's own pruning, an autotuned kernel asks for a
    GPU driver in the interpreter. When this fails, the interpreter benchmarks
    by itself: drop ``first_config_autotuner``."""
    import triton
    import triton.language as tl
    from triton.runtime.autotuner import Autotuner

    @triton.autotune(configs=[triton.Config({"BLOCK": 8}), triton.Config({"BLOCK": 16})], key=["n"])
    @triton.jit
    def copy(src, dst, n, BLOCK: tl.constexpr):
        offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        tl.store(dst + offsets, tl.load(src + offsets, mask=offsets < n), mask=offsets < n)

    src = torch.arange(20.0)
    dst = torch.zeros_like(src)
    grid = lambda meta: (triton.cdiv(20, meta["BLOCK"]),)  # noqa: E731 (Triton's idiom)
    copy[grid](src, dst, 20)  # the fixture's pruning: one config, no benchmark
    assert torch.equal(dst, src)
    monkeypatch.setattr(Autotuner, "prune_configs", first_config_autotuner)
    with pytest.raises(RuntimeError, match="active drivers"):
        copy[grid](src, dst, 21)  # a new key: Triton's own pruning, both configs benchmarked
