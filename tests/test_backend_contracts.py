"""Every optional backend call the project makes, on the CPU through the fakes
of tests/fakes: availability imports the compiled extension; known limits are
unavailability with a reason; each fake refuses what its real function refuses;
and each variant's wiring (forward, backward, prefill + decode) equals the
project's reference through the real call signatures and layouts."""

from __future__ import annotations

import sys

import pytest
import torch

from models import MixerUnavailable, build_mixer, get_spec, mamba2
from models.attention import DECODE_HEADROOM, FlashAttention
from models.mamba import MambaSSM
from tests.fakes import ContractViolation, fake_cuda
from tests.fakes.causal_conv1d import FakeCausalConv1d
from tests.fakes.flash_attn import FakeFlashAttn
from tests.fakes.mamba_ssm import FakeMambaSSM
from tests.fakes.xformers import FakeXFormers, LowerTriangularMask

pytestmark = pytest.mark.usefixtures("one_thread")
CUDA = torch.device("cuda")


@pytest.fixture
def flash(monkeypatch):
    fake_cuda(monkeypatch)
    return FakeFlashAttn().install(monkeypatch)


@pytest.fixture
def xformers(monkeypatch):
    fake_cuda(monkeypatch)
    return FakeXFormers().install(monkeypatch)


@pytest.fixture
def conv(monkeypatch):
    fake_cuda(monkeypatch)
    return FakeCausalConv1d().install(monkeypatch)


@pytest.fixture
def mamba_ssm(monkeypatch, conv):
    return FakeMambaSSM().install(monkeypatch)


def same_weights(reference: str, name: str, d_model: int, dtype: torch.dtype, **config):
    torch.manual_seed(0)
    ref = build_mixer(reference, d_model, **config).to(dtype)
    with torch.no_grad():  # no test leans on the init's structure (Mamba's equal A rows, D = 1)
        for p in ref.parameters():
            p.add_(0.1 * torch.randn_like(p))
    other = build_mixer(name, d_model, **config).to(dtype)
    other.load_state_dict(ref.state_dict())
    return ref, other


def relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a.float() - b.float()).abs().max() / b.float().abs().max()).item()


def decoded(mixer, x: torch.Tensor, split: int):
    """Prefill x[:, :split], then step through the rest: the outputs and the state."""
    with torch.no_grad():
        y, state = mixer.prefill(x[:, :split])
        ys = [y]
        for t in range(split, x.shape[1]):
            y_t, state = mixer.step(x[:, t], state)
            ys.append(y_t[:, None])
    return torch.cat(ys, dim=1), state


# -- availability imports the compiled extension -------------------------------------
@pytest.mark.parametrize(
    "name,missing,others,build",
    [
        ("attention/flash-attn", FakeFlashAttn, (), "pip install flash-attn"),
        ("mamba/mamba-ssm", FakeMambaSSM, (FakeCausalConv1d,), "MAMBA_FORCE_BUILD=TRUE"),
        ("mamba/mamba-ssm", FakeCausalConv1d, (FakeMambaSSM,), "CAUSAL_CONV1D_FORCE_BUILD=TRUE"),
    ],
    ids=["flash_attn_2_cuda", "selective_scan_cuda", "causal_conv1d_cuda"],
)
def test_an_installed_package_without_its_compiled_extension_is_unavailable(
    monkeypatch, name, missing, others, build
):
    fake_cuda(monkeypatch)
    for library in others:
        library().install(monkeypatch)
    lacking = missing().install(monkeypatch, extension=False)
    package = next(iter(lacking.modules()))
    reason = get_spec(name).unavailable_reason()
    assert reason.startswith(
        f"{package} is installed but its compiled {lacking.extension} is not (ModuleNotFoundError"
    )
    assert build in reason and "\n" not in reason
    with pytest.raises(MixerUnavailable, match=lacking.extension):
        build_mixer(name, 64)


def test_xformers_without_built_operators_is_unavailable(monkeypatch):
    fake_cuda(monkeypatch)
    FakeXFormers(built=False).install(monkeypatch)
    reason = get_spec("attention/xformers").unavailable_reason()
    assert reason == (
        "xformers is installed but none of its CUDA attention forward operators is built "
        "(reinstall xformers for this torch and CUDA)"
    )


def test_xformers_whose_ops_do_not_import_is_unavailable(monkeypatch):
    fake_cuda(monkeypatch)
    FakeXFormers().install(monkeypatch)
    monkeypatch.setitem(sys.modules, "xformers.ops", None)
    reason = get_spec("attention/xformers").unavailable_reason()
    assert reason.startswith(
        "xformers is installed but xformers.ops.memory_efficient_attention does not import"
    )


@pytest.mark.usefixtures("flash", "xformers", "mamba_ssm")
@pytest.mark.parametrize("name", ["attention/flash-attn", "attention/xformers", "mamba/mamba-ssm"])
def test_with_its_kernels_and_a_device_a_backend_is_available(name, monkeypatch):
    assert get_spec(name).unavailable_reason() is None
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert "needs a CUDA device" in get_spec(name).unavailable_reason()


# -- known limits are unavailability, with the reason -------------------------------
@pytest.mark.usefixtures("flash", "xformers", "mamba_ssm")
@pytest.mark.parametrize(
    "name,device,dtype,expected",
    [
        ("attention/flash-attn", "cpu", torch.bfloat16, "flash-attn runs on CUDA only"),
        ("attention/flash-attn", "cuda", torch.float32, "float16, bfloat16 only, not float32"),
        ("attention/flash-attn", "cuda", torch.bfloat16, None),
        ("attention/xformers", "cuda", torch.float64, "not float64"),
        ("attention/xformers", "cuda", torch.float32, None),
        ("mamba/mamba-ssm", "cpu", torch.float32, "mamba-ssm runs on CUDA only"),
        ("mamba/mamba-ssm", "cuda", torch.float64, "not float64"),
        ("mamba/mamba-ssm", "cuda", torch.bfloat16, None),
    ],
)
def test_a_device_or_dtype_a_kernel_refuses_is_unavailable(name, device, dtype, expected):
    reason = get_spec(name).unavailable_reason(torch.device(device), dtype)
    assert reason == expected if expected is None else expected in reason


def test_kernel_limits_on_the_configuration_are_named():
    assert FlashAttention.shape_problem(4096, n_heads=8) == (
        "head dim 512 > 256 (flash-attn's limit; use more heads)"
    )
    assert FlashAttention.shape_problem(2048, n_heads=8, rotary_base=500.0) is None
    assert MambaSSM.shape_problem(64, d_conv=5) == (
        "d_conv 5 is not one of causal-conv1d's widths 2 to 4"
    )
    assert MambaSSM.shape_problem(64, d_state=512) == (
        "d_state 512 > 256 (mamba-ssm's selective scan limit)"
    )
    assert MambaSSM.shape_problem(64, d_state=16, d_conv=4, expand=2) is None


# -- each fake refuses what the real function refuses ---------------------------------
def half(*shape, dtype=torch.float16):
    return torch.randn(*shape, dtype=dtype)


def kv_call(fake, **changes):
    """flash_attn_with_kvcache as the project calls it (head dim 16, room for one
    more token), with ``changes`` applied."""
    cos, sin = torch.ones(8, 8, dtype=torch.float16), torch.zeros(8, 8, dtype=torch.float16)
    args = dict(
        q=half(1, 1, 2, 16),
        k_cache=half(1, 8, 2, 16),
        v_cache=half(1, 8, 2, 16),
        k=half(1, 1, 2, 16),
        v=half(1, 1, 2, 16),
        rotary_cos=cos,
        rotary_sin=sin,
        cache_seqlens=torch.tensor([7], dtype=torch.int32),
        causal=True,
        rotary_interleaved=False,
    )
    args.update(changes)
    return fake.flash_attn_with_kvcache(**args)


FLASH_VIOLATIONS = {
    "fp32": (
        lambda f: f.flash_attn_func(*(half(1, 4, 2, 16, dtype=torch.float32),) * 3),
        "fp16 and bf16",
    ),
    "head dim 512": (lambda f: f.flash_attn_func(*(half(1, 4, 2, 512),) * 3), "head dim 512"),
    "strided": (lambda f: f.flash_attn_func(*(half(1, 4, 16, 2).transpose(2, 3),) * 3), "stride 1"),
    "cache full": (
        lambda f: kv_call(f, cache_seqlens=torch.tensor([8], dtype=torch.int32)),
        "must fit the cache",
    ),
    "seqlens int64": (lambda f: kv_call(f, cache_seqlens=torch.tensor([7])), "int32"),
    "rotary dim 8": (
        lambda f: kv_call(
            f,
            rotary_cos=torch.ones(8, 4, dtype=torch.float16),
            rotary_sin=torch.zeros(8, 4, dtype=torch.float16),
        ),
        "divisible by 16",
    ),
    "rotary fp32": (lambda f: kv_call(f, rotary_cos=torch.ones(8, 8)), "same dtype as query"),
    "rotary short": (
        lambda f: kv_call(
            f,
            rotary_cos=torch.ones(4, 8, dtype=torch.float16),
            rotary_sin=torch.zeros(4, 8, dtype=torch.float16),
        ),
        "at least the seqlen of KV cache",
    ),
    "cache dtype": (
        lambda f: kv_call(f, k_cache=half(1, 8, 2, 16, dtype=torch.bfloat16)),
        "share one dtype",
    ),
}


@pytest.mark.parametrize("case", FLASH_VIOLATIONS, ids=list(FLASH_VIOLATIONS))
def test_fake_flash_attn_refuses_what_flash_attn_refuses(flash, case):
    call, match = FLASH_VIOLATIONS[case]
    with pytest.raises(ContractViolation, match=match):
        call(flash)


def test_fakes_take_only_the_real_argument_names(flash, mamba_ssm, conv):
    with pytest.raises(TypeError, match="is_causal"):
        flash.flash_attn_func(*(half(1, 4, 2, 16),) * 3, is_causal=True)
    with pytest.raises(TypeError, match="act"):
        conv.causal_conv1d_fn(half(1, 8, 4), half(8, 4), act="silu")
    with pytest.raises(TypeError, match="dt_bias"):
        mamba_ssm.selective_scan_fn(*(half(1, 8, 4),) * 2, torch.ones(8, 4), dt_bias=None)


def scan_call(fake, **changes):
    b, e, n, length = 1, 8, 4, 5
    args = dict(
        u=torch.randn(b, e, length),
        delta=torch.rand(b, e, length),
        A=-torch.rand(e, n),
        B=torch.randn(b, n, length),
        C=torch.randn(b, n, length),
        D=torch.ones(e),
        delta_bias=torch.zeros(e),
        delta_softplus=True,
    )
    args.update(changes)
    return fake.selective_scan_fn(**args)


MAMBA_VIOLATIONS = {
    "fp64 u": (lambda m, c: scan_call(m, u=torch.randn(1, 8, 5, dtype=torch.float64)), "one of"),
    "D fp16": (lambda m, c: scan_call(m, D=torch.ones(8, dtype=torch.float16)), "float32"),
    "u strided": (lambda m, c: scan_call(m, u=torch.randn(1, 5, 8).transpose(1, 2)), "stride 1"),
    "dstate 300": (
        lambda m, c: scan_call(
            m, A=-torch.rand(8, 300), B=torch.randn(1, 300, 5), C=torch.randn(1, 300, 5)
        ),
        "<= 256",
    ),
    "conv width 5": (
        lambda m, c: c.causal_conv1d_fn(torch.randn(1, 8, 6), torch.randn(8, 5)),
        "width between 2 and 4",
    ),
    "conv relu": (
        lambda m, c: c.causal_conv1d_fn(torch.randn(1, 8, 6), torch.randn(8, 4), activation="relu"),
        "silu, or swish",
    ),
    "conv bias dtype": (
        lambda m, c: c.causal_conv1d_fn(
            torch.randn(1, 8, 6), torch.randn(8, 4), torch.randn(8).half()
        ),
        "weight's dtype",
    ),
    "conv state dtype": (
        lambda m, c: c.causal_conv1d_update(
            torch.randn(1, 8), torch.zeros(1, 8, 3).half(), torch.randn(8, 4)
        ),
        "x's dtype",
    ),
    "conv state short": (
        lambda m, c: c.causal_conv1d_update(
            torch.randn(1, 8), torch.zeros(1, 8, 2), torch.randn(8, 4)
        ),
        "width - 1",
    ),
    "state update B": (
        lambda m, c: m.selective_state_update(
            torch.zeros(1, 8, 4),
            torch.randn(1, 8),
            torch.rand(1, 8),
            -torch.rand(8, 4),
            torch.randn(1, 5),
            torch.randn(1, 5),
        ),
        "B must have shape",
    ),
    "chunk scan A": (
        lambda m, c: m.mamba_chunk_scan_combined(
            torch.randn(1, 6, 2, 4),
            torch.rand(1, 6, 2),
            -torch.rand(2, 4),
            torch.randn(1, 6, 1, 3),
            torch.randn(1, 6, 1, 3),
            chunk_size=4,
        ),
        "A must have shape",
    ),
    "chunk scan dt_bias": (
        lambda m, c: m.mamba_chunk_scan_combined(
            torch.randn(1, 6, 2, 4),
            torch.rand(1, 6, 2),
            -torch.rand(2),
            torch.randn(1, 6, 1, 3),
            torch.randn(1, 6, 1, 3),
            chunk_size=4,
            dt_bias=torch.zeros(2, 4),
        ),
        "dt_bias must have shape",
    ),
}


@pytest.mark.parametrize("case", MAMBA_VIOLATIONS, ids=list(MAMBA_VIOLATIONS))
def test_fake_mamba_kernels_refuse_what_the_kernels_refuse(mamba_ssm, conv, case):
    call, match = MAMBA_VIOLATIONS[case]
    with pytest.raises(ContractViolation, match=match):
        call(mamba_ssm, conv)


def test_mamba_inner_fn_needs_causal_conv1d(mamba_ssm, monkeypatch):
    mixer = build_mixer("mamba/mamba-ssm", 16)
    monkeypatch.setitem(sys.modules, "causal_conv1d_cuda", None)
    with pytest.raises(ContractViolation, match="Please install causal-conv1d"):
        mixer(torch.randn(1, 4, 16))


@pytest.mark.parametrize(
    "call,match",
    [
        (
            lambda x: x.memory_efficient_attention(
                *(torch.randn(1, 4, 2, 8, dtype=torch.float64),) * 3
            ),
            "one of",
        ),
        (lambda x: x.memory_efficient_attention(*(torch.randn(1, 4, 8),) * 3), r"\[B, M, H, K\]"),
        (
            lambda x: x.memory_efficient_attention(
                torch.randn(1, 1, 2, 8),
                *(torch.randn(1, 4, 2, 8),) * 2,
                attn_bias=LowerTriangularMask(),
            ),
            "Mq != Mkv",
        ),
    ],
    ids=["fp64", "BMK", "top-left mask"],
)
def test_fake_xformers_refuses_what_xformers_refuses(xformers, call, match):
    with pytest.raises(ContractViolation, match=match):
        call(xformers)


# -- each variant's wiring, end to end ------------------------------------------------
@pytest.mark.parametrize("d_model", [64, 32], ids=["kernel-rotary", "torch-rotary"])
def test_flash_attn_forward_and_gradients_equal_the_reference(flash, d_model):
    ref, mixer = same_weights("attention/math", "attention/flash-attn", d_model, torch.float16)
    x = torch.randn(2, 37, d_model, dtype=torch.float16, requires_grad=True)
    y, y_ref = mixer(x), ref(x)
    assert y.dtype == torch.float16 and relative(y, y_ref) < 1e-3
    grads = [
        torch.autograd.grad(m(x).float().square().sum(), [x, *m.parameters()]) for m in (ref, mixer)
    ]
    for g_ref, g in zip(*grads, strict=True):
        assert relative(g, g_ref) < 1e-3
    assert flash.calls["flash_attn_func"] == 2


@pytest.mark.parametrize("d_model", [64, 32], ids=["kernel-rotary", "torch-rotary"])
@pytest.mark.parametrize("split", [1, 20])
def test_flash_attn_decodes_through_its_kvcache_kernel(flash, d_model, split):
    ref, mixer = same_weights("attention/math", "attention/flash-attn", d_model, torch.float16)
    x = torch.randn(2, 40, d_model, dtype=torch.float16)
    with torch.no_grad():
        expected = ref(x)
        _, cache = mixer.prefill(x[:, :split])
        # the prompt's cache leaves room: no token of a decode round regrows it
        assert cache.capacity == split + DECODE_HEADROOM and cache.k.shape[1] == cache.capacity
        before = cache.k.data_ptr()
        mixer.step(x[:, split], cache)
        assert cache.k.data_ptr() == before and cache.length == split + 1
        assert cache.seqlens.tolist() == [split + 1] * 2
    y, cache = decoded(mixer, x, split)
    assert relative(y, expected) < 2e-3
    assert cache.k.dtype == torch.float16 and cache.k.shape[2:] == (4, d_model // 4)
    assert flash.calls["flash_attn_with_kvcache"] == 1 + x.shape[1] - split
    # the kernel rotates where the head dim is a multiple of 16, with half-split pairs
    assert (cache.cos is not None) == (d_model // 4 % 16 == 0)


def test_flash_attn_cache_grows_and_keeps_its_rotary_table(flash):
    ref, mixer = same_weights("attention/math", "attention/flash-attn", 64, torch.bfloat16)
    x = torch.randn(1, 40, 64, dtype=torch.bfloat16)
    state = mixer.init_state(1, dtype=torch.bfloat16)
    with torch.no_grad():
        ys = []
        for t in range(x.shape[1]):
            y_t, state = mixer.step(x[:, t], state)
            ys.append(y_t)
        expected = ref(x)
    assert state.capacity >= 40 and state.cos.shape == (state.capacity, 8)
    assert state.cos.dtype == torch.bfloat16
    assert relative(torch.stack(ys, dim=1), expected) < 2e-2


def test_xformers_forward_gradients_and_decode_equal_the_reference(xformers):
    ref, mixer = same_weights("attention/math", "attention/xformers", 32, torch.float32)
    x = torch.randn(2, 33, 32, requires_grad=True)
    assert relative(mixer(x), ref(x)) < 1e-6
    grads = [torch.autograd.grad(m(x).square().sum(), [x, *m.parameters()]) for m in (ref, mixer)]
    for g_ref, g in zip(*grads, strict=True):
        assert relative(g, g_ref) < 1e-5
    y, _ = decoded(mixer, x.detach(), 10)
    assert relative(y, ref(x).detach()) < 1e-5
    assert xformers.calls["memory_efficient_attention"] == 1 + 1 + 1 + 23


def test_mamba_ssm_forward_and_training_run_mamba_inner_fn(mamba_ssm, conv):
    ref, mixer = same_weights("mamba/reference", "mamba/mamba-ssm", 16, torch.float32)
    x = torch.randn(2, 30, 16, requires_grad=True)
    assert relative(mixer(x), ref(x)) < 1e-5
    grads = [torch.autograd.grad(m(x).square().sum(), [x, *m.parameters()]) for m in (ref, mixer)]
    for g_ref, g in zip(*grads, strict=True):
        assert relative(g, g_ref) < 1e-4
    assert mamba_ssm.calls == {"mamba_inner_fn": 2}
    assert not conv.calls


@pytest.mark.parametrize("split", [1, 2, 17])
def test_mamba_ssm_prefill_and_decode_run_their_kernels(mamba_ssm, conv, split):
    ref, mixer = same_weights("mamba/reference", "mamba/mamba-ssm", 16, torch.float32)
    x = torch.randn(2, 30, 16)
    y, state = decoded(mixer, x, split)
    assert relative(y, ref(x)) < 1e-5
    steps = x.shape[1] - split
    assert mamba_ssm.calls == {"selective_scan_fn": 1, "selective_state_update": steps}
    assert conv.calls == {"causal_conv1d_fn": 1, "causal_conv1d_update": steps}
    assert state.ssm.dtype == torch.float32 and state.conv.shape == (2, 32, 3)


def test_mamba_ssm_in_bf16_keeps_its_state_in_fp32(mamba_ssm, conv):
    ref, mixer = same_weights("mamba/reference", "mamba/mamba-ssm", 16, torch.bfloat16)
    x = torch.randn(1, 24, 16, dtype=torch.bfloat16)
    y, state = decoded(mixer, x, 12)
    assert y.dtype == torch.bfloat16 and mixer(x).dtype == torch.bfloat16
    assert state.ssm.dtype == torch.float32 and state.conv.dtype == torch.bfloat16
    assert relative(y, ref(x)) < 5e-2


def ssd_by_hand(x, dt, A, B, C, D):
    """Mamba-2's recurrence written out per head: h = exp(dt A) h + dt x B^T, y = h C + D x."""
    batch, length, heads, p = x.shape
    per_group = heads // B.shape[2]
    h = torch.zeros(batch, heads, p, B.shape[3], dtype=torch.float64)
    ys = []
    for t in range(length):
        y_t = torch.empty(batch, heads, p, dtype=torch.float64)
        for i in range(heads):
            g = i // per_group
            decay = torch.exp(dt[:, t, i] * A[i])[:, None, None]
            h[:, i] = (
                decay * h[:, i] + dt[:, t, i, None, None] * x[:, t, i, :, None] * B[:, t, g, None]
            )
            y_t[:, i] = (h[:, i] @ C[:, t, g, :, None])[..., 0] + D[i] * x[:, t, i]
        ys.append(y_t)
    return torch.stack(ys, dim=1), h


def test_fake_mamba_chunk_scan_combined_is_mamba2s_recurrence(mamba_ssm):
    """The fake the Mamba-2 family's mamba-ssm variant runs against
    (mamba_ssm.ops.triton.ssd_combined.mamba_chunk_scan_combined)."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 12, 4, 3, generator=gen, dtype=torch.float64)
    dt = torch.rand(2, 12, 4, generator=gen, dtype=torch.float64)
    A = -torch.rand(4, generator=gen, dtype=torch.float64)
    B, C = (torch.randn(2, 12, 2, 5, generator=gen, dtype=torch.float64) for _ in range(2))
    D = torch.randn(4, dtype=torch.float64)
    expected, final = ssd_by_hand(x, dt, A, B, C, D)
    out, state = mamba_ssm.mamba_chunk_scan_combined(
        x.float(),
        dt.float(),
        A.float(),
        B.float(),
        C.float(),
        chunk_size=4,
        D=D.float(),
        return_final_states=True,
    )
    assert relative(out, expected) < 1e-5 and relative(state, final) < 1e-5
    # scanning the second half from the first half's final state continues it
    first, mid = mamba_ssm.mamba_chunk_scan_combined(
        *(t.float()[:, :5] for t in (x, dt)),
        A.float(),
        *(t.float()[:, :5] for t in (B, C)),
        chunk_size=4,
        D=D.float(),
        return_final_states=True,
    )
    second = mamba_ssm.mamba_chunk_scan_combined(
        *(t.float()[:, 5:] for t in (x, dt)),
        A.float(),
        *(t.float()[:, 5:] for t in (B, C)),
        chunk_size=4,
        D=D.float(),
        initial_states=mid,
    )
    assert relative(torch.cat([first, second], dim=1), expected) < 1e-5


@pytest.fixture
def mamba2_kernels(mamba_ssm):
    """The fakes, with mamba2's availability asked afresh (it is cached per process)."""
    mamba2.mamba_ssm_reason.cache_clear()
    yield mamba_ssm
    mamba2.mamba_ssm_reason.cache_clear()


#: in_proj's output is 32 + 64 + 4 = 100 wide: the conv's input, a slice of it,
#: has channel-last strides that are no multiple of 8 unless made contiguous
MAMBA2_CONFIG = dict(headdim=8, ngroups=2, d_state=8, chunk_size=8)


@pytest.mark.parametrize("split", [1, 2, 17])
def test_mamba2_mamba_ssm_prefill_and_decode_run_their_kernels(mamba2_kernels, conv, split):
    """mamba2/mamba-ssm prefills through mamba_chunk_scan_combined and
    causal_conv1d_fn, and decodes through selective_state_update and
    causal_conv1d_update, as mamba-ssm's Mamba2.step does."""
    ref, mixer = same_weights("mamba2/ref", "mamba2/mamba-ssm", 16, torch.float32, **MAMBA2_CONFIG)
    x = torch.randn(2, 30, 16)
    y, state = decoded(mixer, x, split)
    with torch.no_grad():
        expected = ref(x)
    assert relative(y, expected) < 1e-5
    steps = x.shape[1] - split
    assert mamba2_kernels.calls == {"mamba_chunk_scan_combined": 1, "selective_state_update": steps}
    assert conv.calls == {"causal_conv1d_fn": 1, "causal_conv1d_update": steps}
    assert state.ssm.dtype == torch.float32 and state.conv.shape == (2, 64, 3)


def test_mamba2_mamba_ssm_decodes_with_the_torch_conv_without_causal_conv1d(
    mamba2_kernels, conv, monkeypatch
):
    """Without causal-conv1d the conv steps in torch; the SSM still in the kernel."""
    for name in list(conv.modules()):
        monkeypatch.delitem(sys.modules, name)
    ref, mixer = same_weights("mamba2/ref", "mamba2/mamba-ssm", 16, torch.float32, **MAMBA2_CONFIG)
    x = torch.randn(2, 12, 16)
    y, _ = decoded(mixer, x, 5)
    with torch.no_grad():
        assert relative(y, ref(x)) < 1e-5
    assert mamba2_kernels.calls["selective_state_update"] == 7
    assert not conv.calls
