"""Attention: every variant equals the explicit-softmax reference, decoding
with the KV cache equals the full forward, bf16 stays causal."""

from __future__ import annotations

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from models import build_mixer, get_spec
from models.attention import DECODE_HEADROOM, KVCache

D_MODEL, HEADS = 32, 4
LENGTHS = (1, 2, 63, 64, 65, 300)
#: the variants that run here on CPU tensors in fp64 (a GPU kernel does not:
#: tests/test_backend_contracts.py runs those through fakes)
AVAILABLE = [
    name
    for name in ("attention/sdpa", "attention/flash-attn", "attention/xformers")
    if get_spec(name).unavailable_reason(torch.device("cpu"), torch.float64) is None
]


def pair(name: str, dtype: torch.dtype):
    torch.manual_seed(0)
    ref = build_mixer("attention/math", D_MODEL, n_heads=HEADS).to(dtype)
    other = build_mixer(name, D_MODEL, n_heads=HEADS).to(dtype)
    other.load_state_dict(ref.state_dict())
    return ref, other


@pytest.mark.parametrize("length", LENGTHS)
@pytest.mark.parametrize("name", AVAILABLE)
@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.float64, 1e-10)])
def test_variants_match_reference(name, length, dtype, tol):
    ref, other = pair(name, dtype)
    x = torch.randn(2, length, D_MODEL, dtype=dtype)
    assert (ref(x) - other(x)).abs().max() <= tol


@pytest.mark.parametrize("name", ["attention/math", *AVAILABLE])
@pytest.mark.parametrize("split", [1, 40])
def test_prefill_then_step_equals_forward(name, split):
    _, mixer = pair(name, torch.float64)
    x = torch.randn(2, 65, D_MODEL, dtype=torch.float64)
    full = mixer(x)
    y, cache = mixer.prefill(x[:, :split])
    steps = []
    for t in range(split, x.shape[1]):
        y_t, cache = mixer.step(x[:, t], cache)
        steps.append(y_t)
    decoded = torch.cat([y, torch.stack(steps, dim=1)], dim=1)
    assert (decoded - full).abs().max() <= 1e-10
    assert cache.length == x.shape[1]


@pytest.mark.parametrize("name", AVAILABLE)
def test_gradients_match_reference(name):
    ref, other = pair(name, torch.float64)
    x = torch.randn(2, 33, D_MODEL, dtype=torch.float64, requires_grad=True)
    grads = [
        torch.autograd.grad(mixer(x).square().sum(), [x, *mixer.parameters()])
        for mixer in (ref, other)
    ]
    for g_ref, g_other in zip(*grads, strict=True):
        assert (g_ref - g_other).abs().max() <= 1e-10


@pytest.mark.parametrize("name", ["attention/math", *AVAILABLE])
def test_bf16_runs_and_stays_causal(name):
    _, mixer = pair(name, torch.bfloat16)
    x = torch.randn(1, 50, D_MODEL).bfloat16()
    changed = x.clone()
    changed[:, 30] += 1.0
    y, y_changed = mixer(x), mixer(changed)
    assert y.dtype == torch.bfloat16
    assert torch.equal(y[:, :30], y_changed[:, :30])
    assert not torch.equal(y[:, 30:], y_changed[:, 30:])


def test_kv_cache_grows_with_context_and_reports_its_bytes():
    mixer = build_mixer("attention/sdpa", D_MODEL, n_heads=HEADS)
    assert mixer.state_bytes(2, 100) == 2 * 2 * 100 * D_MODEL * 4
    assert mixer.state_bytes(2, 200) == 2 * mixer.state_bytes(2, 100)
    cache = mixer.init_state(2)
    for _ in range(40):
        cache.append(torch.zeros(2, HEADS, 1, D_MODEL // HEADS), torch.zeros(2, HEADS, 1, 8))
    assert isinstance(cache, KVCache) and cache.length == 40 and cache.k.shape[2] >= 40


@pytest.mark.parametrize("name", ["attention/math", *AVAILABLE])
def test_prefill_leaves_room_so_that_decode_does_not_regrow_the_cache(name):
    _, mixer = pair(name, torch.float32)
    x = torch.randn(2, 50, D_MODEL)
    _, cache = mixer.prefill(x[:, :40])
    assert cache.capacity == 40 + DECODE_HEADROOM
    storage = cache.k.data_ptr()
    for t in range(40, 50):
        mixer.step(x[:, t], cache)
    assert cache.k.data_ptr() == storage and cache.length == 50


class Float32Outputs(TorchDispatchMode):
    """The element count of the largest fp32 tensor any op makes while active."""

    def __init__(self) -> None:
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, tuple | list) else (out,):
            if isinstance(t, torch.Tensor) and t.dtype == torch.float32:
                self.largest = max(self.largest, t.numel())
        return out


@pytest.mark.parametrize("name", ["attention/math", *AVAILABLE])
def test_bf16_decode_never_copies_the_cache_to_fp32(name):
    _, mixer = pair(name, torch.bfloat16)
    x = torch.randn(2, 301, D_MODEL).bfloat16()
    with torch.no_grad():
        _, cache = mixer.prefill(x[:, :300])
        with Float32Outputs() as seen:
            mixer.step(x[:, 300], cache)
    assert cache.k.dtype == torch.bfloat16
    # scores and the rotary angles are fp32, (batch, heads, 1, L) at most: a
    # copy of the keys would be head_dim times larger
    assert 0 < seen.largest < cache.view()[0].numel()


def test_flops_grow_quadratically_in_length():
    """QK^T and PV over the n(n+1)/2 causal pairs, 2 * head_dim FLOPs each per head."""
    mixer = build_mixer("attention/sdpa", 64, n_heads=4)
    scores = [mixer.flops(1, n) - 4 * 2 * n * 64 * 64 for n in (1000, 2000)]
    assert scores == [2 * 2 * 64 * n * (n + 1) // 2 for n in (1000, 2000)]
    assert 3.99 < scores[1] / scores[0] < 4
    assert mixer.flops(1, 1000, backward=True) == 3 * mixer.flops(1, 1000)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"d_model": 30, "n_heads": 4}, "d_model=30 must be divisible by n_heads=4"),
        ({"d_model": 12, "n_heads": 4}, "head dim"),
        ({"d_model": 32, "n_heads": 0}, "n_heads must be a positive integer"),
    ],
)
def test_bad_config_names_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_mixer("attention/sdpa", **kwargs)


@pytest.mark.parametrize(
    "x,match",
    [
        (torch.randn(4, D_MODEL), "rank 3"),
        (torch.randn(1, 4, D_MODEL + 1), "d_model=32"),
        (torch.ones(1, 4, D_MODEL, dtype=torch.long), "floating point"),
    ],
)
def test_bad_input_names_the_problem(x, match):
    with pytest.raises(ValueError, match=match):
        build_mixer("attention/sdpa", D_MODEL, n_heads=HEADS)(x)
