"""Mamba: the chunked scan equals the sequential reference, decoding from a
prefilled state equals the full forward, both equal mambapy's MambaBlock with
the same weights, bf16 stays causal, and bad arguments are named."""

from __future__ import annotations

import pytest
import torch

from models import MixerUnavailable, build_mixer, get_spec
from models.mamba import Mamba, MambaState, causal_depthwise_conv
from suite.references import mambapy_block

D_MODEL = 16
LENGTHS = (1, 2, 63, 64, 65, 300)
#: 16 puts several chunks and a padded tail into the test lengths; None picks ~sqrt(L)
CHUNK_SIZES = (16, 64, None)


pytestmark = pytest.mark.usefixtures("one_thread")


def perturbed(mixer: Mamba, seed: int = 0) -> Mamba:
    """Nudge every weight so that no test leans on the init's structure
    (A's rows all equal, D = 1): a wrong index would show."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in mixer.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    return mixer


def pair(dtype: torch.dtype, chunk_size: int = 16) -> tuple[Mamba, Mamba]:
    torch.manual_seed(0)
    ref = perturbed(build_mixer("mamba/reference", D_MODEL).to(dtype))
    scan = build_mixer("mamba/scan", D_MODEL, chunk_size=chunk_size).to(dtype)
    scan.load_state_dict(ref.state_dict())
    return ref, scan


@pytest.mark.parametrize("length", LENGTHS)
@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.float64, 1e-10)])
def test_scan_matches_reference(length, dtype, tol):
    ref, scan = pair(dtype)
    x = torch.randn(2, length, D_MODEL, dtype=dtype)
    expected = ref(x)
    for chunk_size in CHUNK_SIZES:
        scan.chunk_size = chunk_size
        assert (scan(x) - expected).abs().max() <= tol


@pytest.mark.parametrize("name", ["mamba/reference", "mamba/scan"])
@pytest.mark.parametrize("split", [1, 3, 16, 40])
def test_prefill_then_step_equals_forward(name, split):
    mixer = dict(zip(("mamba/reference", "mamba/scan"), pair(torch.float64), strict=True))[name]
    x = torch.randn(2, 50, D_MODEL, dtype=torch.float64)
    full = mixer(x)
    y, state = mixer.prefill(x[:, :split])
    steps = []
    for t in range(split, x.shape[1]):
        y_t, state = mixer.step(x[:, t], state)
        steps.append(y_t)
    decoded = torch.cat([y, torch.stack(steps, dim=1)], dim=1)
    assert (decoded - full).abs().max() <= 1e-10


def test_prefill_state_equals_stepped_state():
    _, scan = pair(torch.float64)
    x = torch.randn(2, 37, D_MODEL, dtype=torch.float64)
    _, prefilled = scan.prefill(x)
    stepped = scan.init_state(2, dtype=torch.float64)
    for t in range(x.shape[1]):
        _, stepped = scan.step(x[:, t], stepped)
    assert (prefilled.ssm - stepped.ssm).abs().max() <= 1e-10
    assert (prefilled.conv - stepped.conv).abs().max() <= 1e-10


@pytest.mark.parametrize("chunk_size", [16, 64, None])
def test_gradients_match_reference(chunk_size):
    """mamba/scan's hand-written backward (several chunks with a padded tail,
    one chunk, the default) against autograd through the reference loop, the
    final state's gradient included (prefill hands it on)."""
    ref, scan = pair(torch.float64, chunk_size=chunk_size)
    x = torch.randn(2, 37, D_MODEL, dtype=torch.float64, requires_grad=True)
    weights = torch.randn(2, scan.d_inner, scan.d_state, dtype=torch.float64)
    grads = []
    for mixer in (ref, scan):
        y, state = mixer.prefill(x)
        loss = y.square().sum() + (state.ssm * weights).sum()
        grads.append(torch.autograd.grad(loss, [x, *mixer.parameters()]))
    for g_ref, g_scan in zip(*grads, strict=True):
        assert (g_ref - g_scan).abs().max() <= 1e-10


def test_causal_conv_backward_matches_autograd():
    """mamba/scan's conv + silu with its own backward against the reference's
    (autograd through the shifted multiply-adds), at lengths below the taps too."""
    ref, scan = pair(torch.float64)
    for length in (1, 2, 5):
        x_in = torch.randn(2, length, scan.d_inner, dtype=torch.float64, requires_grad=True)
        grads = []
        for mixer in (ref, scan):
            conv = mixer.conv1d
            out = mixer.causal_conv(x_in).square().sum()
            grads.append(torch.autograd.grad(out, [x_in, conv.weight, conv.bias]))
        for g_ref, g_scan in zip(*grads, strict=True):
            assert (g_ref - g_scan).abs().max() <= 1e-12


def test_scan_stays_finite_with_strong_decay():
    """Large step sizes drive exp(delta A) to 0 and the chunk sums of delta A far
    below -700: a closed form with exp(-cumsum) would overflow here."""
    ref, scan = pair(torch.float64)
    with torch.no_grad():
        for mixer in (ref, scan):
            mixer.dt_proj.bias.fill_(30.0)
    x = torch.randn(1, 200, D_MODEL, dtype=torch.float64)
    y = scan(x)
    assert torch.isfinite(y).all()
    assert (y - ref(x)).abs().max() <= 1e-10


def assert_relative_close(actual: torch.Tensor, expected: torch.Tensor, rtol: float = 1e-4):
    assert (actual - expected).abs().max() <= rtol * expected.abs().max()


@pytest.mark.parametrize("name", ["mamba/reference", "mamba/scan"])
@pytest.mark.parametrize("length", [50, 64])
def test_forward_matches_mambapy(name, length):
    mixer = perturbed(build_mixer(name, D_MODEL))
    block = mambapy_block(mixer)
    x = torch.randn(2, length, D_MODEL)
    with torch.no_grad():
        assert_relative_close(mixer(x), block(x))


def test_step_matches_mambapy():
    mixer = perturbed(build_mixer("mamba/scan", D_MODEL))
    block = mambapy_block(mixer)
    x = torch.randn(2, 12, D_MODEL)
    state = mixer.init_state(2)
    cache = (None, torch.zeros(2, mixer.d_inner, mixer.d_conv - 1))
    with torch.no_grad():
        for t in range(x.shape[1]):
            y, state = mixer.step(x[:, t], state)
            expected, cache = block.step(x[:, t], cache)
            assert_relative_close(y, expected)
    assert_relative_close(state.ssm, cache[0])


@pytest.mark.parametrize("name", ["mamba/reference", "mamba/scan"])
def test_bf16_runs_and_stays_causal(name):
    torch.manual_seed(0)
    mixer = perturbed(build_mixer(name, D_MODEL)).bfloat16()
    x = torch.randn(1, 80, D_MODEL).bfloat16()
    changed = x.clone()
    changed[:, 70] += 1.0
    y, y_changed = mixer(x), mixer(changed)
    assert y.dtype == torch.bfloat16
    assert torch.isfinite(y).all()
    assert torch.equal(y[:, :70], y_changed[:, :70])
    assert not torch.equal(y[:, 70:], y_changed[:, 70:])
    # the SSM state stays in fp32 under bf16 so that it does not decay into rounding noise
    assert mixer.prefill(x)[1].ssm.dtype == torch.float32


@pytest.mark.parametrize("taps", [1, 2, 4])
@pytest.mark.parametrize("with_bias", [True, False])
def test_causal_depthwise_conv_is_a_left_padded_conv1d(taps, with_bias):
    """The conv the Mamba variants and the causal-conv1d fake share."""
    x = torch.randn(2, 9, 6, dtype=torch.float64)
    weight = torch.randn(6, taps, dtype=torch.float64)
    bias = torch.randn(6, dtype=torch.float64) if with_bias else None
    expected = torch.nn.functional.conv1d(
        x.transpose(1, 2), weight[:, None], bias, padding=taps - 1, groups=6
    )[..., : x.shape[1]]
    assert torch.allclose(causal_depthwise_conv(x, weight, bias), expected.transpose(1, 2))


def test_mamba_ssm_reports_why_it_is_unavailable():
    reason = get_spec("mamba/mamba-ssm").unavailable_reason()
    if reason is None:
        pytest.skip("mamba-ssm and CUDA are available here")
    assert "mamba_ssm" in reason
    with pytest.raises(MixerUnavailable, match="mamba/mamba-ssm"):
        build_mixer("mamba/mamba-ssm", D_MODEL)


def test_variants_share_one_state_dict():
    reference = build_mixer("mamba/reference", D_MODEL)
    keys = set(reference.state_dict())
    assert keys == set(build_mixer("mamba/scan", D_MODEL).state_dict())
    assert get_spec("mamba/reference").reference
    # mamba-ssm's layout and shapes at d_model 16: d_inner 32, dt_rank 1, d_state 16
    shapes = {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    assert shapes == {
        "in_proj.weight": (64, 16),
        "conv1d.weight": (32, 1, 4),
        "conv1d.bias": (32,),
        "x_proj.weight": (33, 32),
        "dt_proj.weight": (32, 1),
        "dt_proj.bias": (32,),
        "A_log": (32, 16),
        "D": (32,),
        "out_proj.weight": (16, 32),
    }


def test_dt_init_gives_step_sizes_in_range():
    mixer = build_mixer("mamba/scan", 64, dt_min=0.01, dt_max=0.05)
    dt = torch.nn.functional.softplus(mixer.dt_proj.bias)
    assert dt.min() >= 0.01 * (1 - 1e-5) and dt.max() <= 0.05 * (1 + 1e-5)


def test_state_is_fixed_size_and_costs_are_consistent():
    mixer = build_mixer("mamba/scan", D_MODEL)
    state = mixer.init_state(3)
    assert isinstance(state, MambaState)
    assert state.conv.shape == (3, 32, 3) and state.ssm.shape == (3, 32, 16)
    assert mixer.state_bytes(3, 10) == mixer.state_bytes(3, 100_000) == (3 * 32 * 19) * 4
    assert mixer.flops(2, 100) == 2 * mixer.flops(1, 100)
    assert mixer.flops(2, 100, backward=True) == 3 * mixer.flops(2, 100)
    # once the conv window is full, a step costs the same at any context
    assert mixer.step_flops(2, 10) == mixer.step_flops(2, 10_000) > mixer.step_flops(2, 0)
    # the chunked scan's first pass is real work: it costs more than the reference,
    # whose forward does exactly the work of its steps
    reference = build_mixer("mamba/reference", D_MODEL)
    steps = sum(reference.step_flops(1, t) for t in range(100))
    assert mixer.flops(1, 100) > reference.flops(1, 100) == steps


@pytest.mark.parametrize(
    "config,name",
    [
        ({"d_state": 0}, "d_state"),
        ({"d_conv": -1}, "d_conv"),
        ({"expand": 0}, "expand"),
        ({"dt_rank": 0}, "dt_rank"),
        ({"dt_rank": "big"}, "dt_rank"),
        ({"dt_min": 0.0}, "dt_min"),
        ({"chunk_size": 0}, "chunk_size"),
    ],
)
def test_bad_config_names_the_argument(config, name):
    with pytest.raises(ValueError, match=name):
        build_mixer("mamba/scan", D_MODEL, **config)


@pytest.mark.parametrize(
    "x",
    [
        torch.randn(4, D_MODEL),
        torch.randn(1, 4, D_MODEL + 1),
        torch.ones(1, 4, D_MODEL, dtype=torch.long),
        torch.randn(1, 0, D_MODEL),
    ],
    ids=["rank2", "width", "int", "empty"],
)
def test_bad_input_names_the_argument(x):
    mixer = build_mixer("mamba/scan", D_MODEL)
    with pytest.raises(ValueError, match="x"):
        mixer(x)


def test_bad_step_input_names_the_argument():
    mixer = build_mixer("mamba/reference", D_MODEL)
    state = mixer.init_state(1)
    with pytest.raises(ValueError, match="x_t"):
        mixer.step(torch.randn(1, 1, D_MODEL), state)
    with pytest.raises(ValueError, match="state"):
        mixer.step(torch.randn(1, D_MODEL), (None, None))
