"""Hyena: the FFT convolution matches the direct one, steps match forward,
half precision stays causal, and the errors name what is wrong."""

from __future__ import annotations

import pytest
import torch

from models.base import tensor_bytes
from models.hyena import FFTHyena, Hyena
from models.registry import build_mixer, reference_of

D_MODEL, L_MAX = 16, 512
VARIANTS = ("hyena/direct", "hyena/fft")
TOL = {torch.float32: 1e-5, torch.float64: 1e-10}


pytestmark = pytest.mark.usefixtures("one_thread")


def pair(dtype: torch.dtype = torch.float32, **config) -> tuple[Hyena, Hyena]:
    """Both variants with the same weights."""
    torch.manual_seed(0)
    direct = build_mixer("hyena/direct", D_MODEL, l_max=L_MAX, **config).to(dtype)
    fft = build_mixer("hyena/fft", D_MODEL, l_max=L_MAX, **config).to(dtype)
    fft.load_state_dict(direct.state_dict())
    return direct, fft


def inputs(length: int, dtype: torch.dtype, batch: int = 2) -> torch.Tensor:
    return torch.randn(batch, length, D_MODEL, generator=torch.Generator().manual_seed(1)).to(dtype)


def test_direct_is_the_reference():
    assert reference_of("hyena").name == "hyena/direct"


def test_variants_share_the_state_dict():
    direct, fft = pair()
    assert {k: v.shape for k, v in direct.state_dict().items()} == {
        k: v.shape for k, v in fft.state_dict().items()
    }


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("length", [1, 2, 63, 64, 65, 300])
def test_fft_matches_direct(dtype, length):
    direct, fft = pair(dtype)
    x = inputs(length, dtype)
    with torch.no_grad():
        assert (fft(x) - direct(x)).abs().max() <= TOL[dtype]


def test_order_three_matches_and_steps():
    direct, fft = pair(torch.float64, order=3)
    x = inputs(40, torch.float64)
    with torch.no_grad():
        y = direct(x)
        assert (fft(x) - y).abs().max() <= 1e-10
        y_prompt, state = fft.prefill(x[:, :7])
        steps = [fft.step(x[:, t], state)[0] for t in range(7, 40)]
    assert (torch.cat([y_prompt, torch.stack(steps, 1)], 1) - y).abs().max() <= 1e-10


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", VARIANTS)
@pytest.mark.parametrize("prompt", [0, 1, 17])
def test_prefill_then_step_matches_forward(name, dtype, prompt):
    mixer = dict(zip(VARIANTS, pair(dtype), strict=True))[name]
    x = inputs(24, dtype)
    with torch.no_grad():
        y = mixer(x)
        if prompt:
            y_prompt, state = mixer.prefill(x[:, :prompt])
        else:
            y_prompt, state = y[:, :0], mixer.init_state(2, dtype=dtype)
        steps = [mixer.step(x[:, t], state)[0] for t in range(prompt, 24)]
    assert state.length == 24
    assert (torch.cat([y_prompt, torch.stack(steps, 1)], 1) - y).abs().max() <= TOL[dtype]


def test_gradients_agree():
    direct, fft = pair(torch.float64)
    weights = torch.randn(2, 65, D_MODEL, dtype=torch.float64)
    grads = []
    for mixer in (direct, fft):
        x = inputs(65, torch.float64).requires_grad_()
        (mixer(x) * weights).sum().backward()
        grads.append([x.grad] + [p.grad for p in mixer.parameters()])
    for g_direct, g_fft in zip(*grads, strict=True):
        assert (g_direct - g_fft).abs().max() <= 1e-9 * max(1.0, g_direct.abs().max().item())


def causal_gap(mixer: Hyena, length: int = 300, cut: int = 150) -> float:
    """How much past outputs move when the future changes (0 for a causal mixer)."""
    x = inputs(length, torch.bfloat16)
    future = x.clone()
    future[:, cut:] = 10 * torch.randn(2, length - cut, D_MODEL).to(torch.bfloat16)
    with torch.no_grad():
        return (mixer(x)[:, :cut] - mixer(future)[:, :cut]).float().abs().max().item()


def bf16_round_off(mixer: Hyena) -> float:
    """Two bf16 units in the last place of the output's largest entry: what an
    fp32 FFT's round-off can flip when cast back to bf16."""
    with torch.no_grad():
        scale = mixer(inputs(300, torch.bfloat16)).float().abs().max().item()
    return 2 * torch.finfo(torch.bfloat16).eps * scale


def test_bf16_runs_and_stays_causal():
    direct, fft = pair(torch.bfloat16)
    assert causal_gap(direct) == 0.0  # the direct sum never reads the future
    assert causal_gap(fft) <= bf16_round_off(fft)


def test_bf16_causality_check_catches_leakage():
    """The tolerance above tells leakage from round-off: a circular FFT of size
    L (no zero padding) wraps the future onto the past and fails it."""

    class Circular(FFTHyena):
        def long_conv(self, w, h):
            n = w.shape[-1]
            return torch.fft.irfft(torch.fft.rfft(w) * torch.fft.rfft(h), n=n)

    torch.manual_seed(0)
    leaky = Circular(D_MODEL, l_max=L_MAX).to(torch.bfloat16)
    assert causal_gap(leaky) > 10 * bf16_round_off(leaky)


@pytest.mark.parametrize("name", VARIANTS)
def test_bf16_close_to_fp32(name):
    torch.manual_seed(0)
    mixer = build_mixer(name, D_MODEL, l_max=L_MAX)
    x = inputs(300, torch.float32)
    with torch.no_grad():
        y32 = mixer(x)
        y16 = mixer.to(torch.bfloat16)(x.to(torch.bfloat16)).float()
    assert (y16 - y32).abs().max() <= 0.05 * y32.abs().max()


@pytest.mark.parametrize("name", VARIANTS)
def test_length_beyond_l_max_is_an_error(name):
    mixer = build_mixer(name, D_MODEL, l_max=8)
    x = torch.randn(1, 9, D_MODEL)
    for call in (mixer, mixer.prefill):
        with pytest.raises(ValueError, match=r"length 9 exceeds l_max=8.*larger l_max"):
            call(x)
    with torch.no_grad():
        _, state = mixer.prefill(x[:, :8])
        with pytest.raises(ValueError, match="l_max=8"):
            mixer.step(x[:, 8], state)


@pytest.mark.parametrize(
    "bad, message",
    [
        (torch.randn(2, D_MODEL), "rank 3"),
        (torch.randn(1, 2, 3, D_MODEL), "rank 3"),
        (torch.randn(1, 4, D_MODEL + 1), "d_model=16"),
        (torch.ones(1, 4, D_MODEL, dtype=torch.long), "floating point"),
    ],
)
def test_bad_inputs_are_errors(bad, message):
    with pytest.raises(ValueError, match=message):
        build_mixer("hyena/fft", D_MODEL)(bad)


def test_bad_tokens_are_errors():
    mixer = build_mixer("hyena/fft", D_MODEL)
    state = mixer.init_state(1)
    for bad in (torch.randn(1, 1, D_MODEL), torch.ones(1, D_MODEL, dtype=torch.long)):
        with pytest.raises(ValueError, match="x_t must"):
            mixer.step(bad, state)


@pytest.mark.parametrize(
    "config, argument",
    [
        ({"order": 1}, "order"),
        ({"order": 2.0}, "order"),
        ({"filter_order": 0}, "filter_order"),
        ({"short_filter_order": 0}, "short_filter_order"),
        ({"l_max": 0}, "l_max"),
        ({"emb_dim": 4}, "emb_dim"),
        ({"decay_target": 1.5}, "decay_target"),
    ],
)
def test_bad_config_names_the_argument(config, argument):
    with pytest.raises(ValueError, match=argument):
        build_mixer("hyena/fft", D_MODEL, **config)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_state_bytes_match_the_state_and_grow_linearly(dtype):
    mixer = build_mixer("hyena/fft", D_MODEL, l_max=L_MAX).to(dtype)
    with torch.no_grad():
        _, state = mixer.prefill(inputs(50, dtype))
    assert tensor_bytes(state) == mixer.state_bytes(2, 50, dtype)
    sizes = [mixer.state_bytes(2, n, dtype) for n in (100, 200, 300)]
    assert sizes[2] - sizes[1] == sizes[1] - sizes[0] > 0


def test_cost_model_shapes():
    direct, fft = pair()
    # (tests/test_flops.py checks the formulas against torch's FLOP counter)
    assert fft.long_conv_flops(1, 8192) * 10 < direct.long_conv_flops(1, 8192)
    assert fft.flops(1, 8192) * 4 < direct.flops(1, 8192)
    assert direct.flops(2, 100, backward=True) == 3 * direct.flops(2, 100)
    steps = [fft.step_flops(1, n) for n in (100, 200, 300)]
    assert steps[2] - steps[1] == steps[1] - steps[0] > 0
