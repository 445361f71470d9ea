"""Mamba-2: the reference scan equals a naive per-token recurrence, the chunked
SSD equals the reference (same ``mamba_chunk_scan_combined`` signature, with
every optional argument), the layer's variants agree in forward and gradients,
prefill + step equals forward, outputs are causal, the decode state keeps its
size, and bad arguments are named."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from models import MixerUnavailable, build_mixer, get_spec, mamba2
from models.mamba2 import (
    Mamba2,
    Mamba2State,
    causal_masks,
    segment_decays,
    ssd_chunked,
    ssd_scan_ref,
)

D_MODEL = 32
#: two groups of two heads each, so that a wrong group-to-head index shows
CONFIG = dict(headdim=16, ngroups=2, d_state=8, chunk_size=8)
LENGTHS = (1, 2, 7, 8, 9, 40)

pytestmark = pytest.mark.usefixtures("one_thread")


def scan_inputs(length: int, seed: int = 0, b=2, h=4, p=3, g=2, n=5):
    """fp64 arguments of ``mamba_chunk_scan_combined`` (A < 0, the others any sign)."""
    gen = torch.Generator().manual_seed(seed)

    def rand(*shape):
        return torch.randn(*shape, generator=gen, dtype=torch.float64)

    return dict(
        x=rand(b, length, h, p),
        dt=rand(b, length, h),
        A=-torch.rand(h, generator=gen, dtype=torch.float64) * 2,
        B=rand(b, length, g, n),
        C=rand(b, length, g, n),
        D=rand(h),
        z=rand(b, length, h, p),
        dt_bias=rand(h),
        initial_states=rand(b, h, p, n),
    )


def naive_recurrence(x, dt, A, B, C, D, z, dt_bias, initial_states):
    """The definition, one batch row, head and position at a time."""
    b, length, h, p = x.shape
    heads_per_group = h // B.shape[2]
    y = torch.zeros_like(x)
    states = initial_states.clone()
    for i in range(b):
        for head in range(h):
            group = head // heads_per_group
            state = states[i, head]
            for t in range(length):
                step = F.softplus(dt[i, t, head] + dt_bias[head])
                state = torch.exp(step * A[head]) * state + step * torch.outer(
                    x[i, t, head], B[i, t, group]
                )
                out = state @ C[i, t, group] + D[head] * x[i, t, head]
                y[i, t, head] = out * F.silu(z[i, t, head])
            states[i, head] = state
    return y, states


@pytest.mark.parametrize("length", [1, 6])
def test_reference_scan_is_the_recurrence(length):
    args = scan_inputs(length)
    y, state = ssd_scan_ref(chunk_size=4, dt_softplus=True, return_final_states=True, **args)
    y_naive, state_naive = naive_recurrence(**args)
    assert (y - y_naive).abs().max() <= 1e-12
    assert (state - state_naive).abs().max() <= 1e-12


@pytest.mark.parametrize("length", LENGTHS)
@pytest.mark.parametrize("chunk_size", [1, 4, 8, 64])
def test_chunked_scan_matches_reference(length, chunk_size):
    """Several chunks, a padded last chunk, one chunk longer than the sequence;
    with D, z, dt_bias, softplus and an initial state."""
    args = scan_inputs(length)
    expected = ssd_scan_ref(
        chunk_size=chunk_size, dt_softplus=True, return_final_states=True, **args
    )
    got = ssd_chunked(chunk_size=chunk_size, dt_softplus=True, return_final_states=True, **args)
    for a, b in zip(got, expected, strict=True):
        assert (a - b).abs().max() <= 1e-12 * max(1.0, b.abs().max().item())


def test_scans_take_the_optional_arguments_as_mamba_ssm_does():
    """Without the optional arguments: y alone, dt as given (no bias, no
    softplus; positive here), zero initial state; and D of shape (h, p)."""
    args = scan_inputs(9)
    x, dt, A, B, C = (args[k] for k in ("x", "dt", "A", "B", "C"))
    dt = dt.abs()
    y_ref, y_chunked = (scan(x, dt, A, B, C, 4) for scan in (ssd_scan_ref, ssd_chunked))
    assert isinstance(y_ref, torch.Tensor) and y_ref.shape == x.shape
    assert (y_ref - y_chunked).abs().max() <= 1e-12
    D = torch.randn(x.shape[2], x.shape[3], dtype=x.dtype)
    with_d = [scan(x, dt, A, B, C, 4, D=D) for scan in (ssd_scan_ref, ssd_chunked)]
    assert (with_d[0] - y_ref - x * D).abs().max() <= 1e-12
    assert (with_d[0] - with_d[1]).abs().max() <= 1e-12


@pytest.mark.parametrize(
    "length,chunk_size,initial,final",
    [
        (11, 4, True, True),  # several chunks, a padded last one, states in and out
        (11, 4, False, False),  # several chunks: the state pass from zero
        (8, 8, False, False),  # one chunk, nothing carried: the state pass skipped
        (5, 16, False, True),  # one short chunk whose final state is asked for
    ],
)
def test_chunked_scan_gradients_match_reference(length, chunk_size, initial, final):
    """IntraChunk's hand-written backward and the state pass's autograd give
    the recurrence's gradients into every argument."""
    args = scan_inputs(length)
    if not initial:
        del args["initial_states"]
    args = {k: v.requires_grad_() for k, v in args.items()}
    weights = torch.randn(2, length, 4, 3, dtype=torch.float64)
    state_weights = torch.randn(2, 4, 3, 5, dtype=torch.float64)
    grads = []
    for scan in (ssd_scan_ref, ssd_chunked):
        out = scan(chunk_size=chunk_size, dt_softplus=True, return_final_states=final, **args)
        y, state = out if final else (out, None)
        loss = (y * weights).sum() + y.square().sum()
        if final:
            loss = loss + (state * state_weights).sum()
        grads.append(torch.autograd.grad(loss, list(args.values())))
    for name, g_ref, g_chunked in zip(args, *grads, strict=True):
        assert (g_ref - g_chunked).abs().max() <= 1e-10 * g_ref.abs().max(), name


@pytest.mark.parametrize("headdim", [3, mamba2.POSITION_MAJOR_HEADDIM])
@pytest.mark.parametrize("cached_bytes", [1, mamba2.CACHED_DECAY_BYTES])
@pytest.mark.parametrize("initial", [False, True])
def test_chunked_scan_without_grad_equals_with_grad(monkeypatch, headdim, cached_bytes, initial):
    """Where no gradient is wanted (below POSITION_MAJOR_HEADDIM the same
    products, from it on positions in rows, a chunk at a time when the decays'
    cache budget holds less than two), the output and final state are
    IntraChunk's and the recurrence's: 4 chunks, the last padded, D per channel."""
    monkeypatch.setattr(mamba2, "CACHED_DECAY_BYTES", cached_bytes)
    args = scan_inputs(29, p=headdim)
    args["D"] = torch.randn(4, headdim, dtype=torch.float64)
    if not initial:
        del args["initial_states"]
    kwargs = dict(chunk_size=8, dt_softplus=True, return_final_states=True, **args)
    with torch.no_grad():
        y_plain, state_plain = ssd_chunked(**kwargs)
    args["x"].requires_grad_()
    y_graph, state_graph = ssd_chunked(**kwargs)
    y_ref, state_ref = ssd_scan_ref(**kwargs)
    assert y_graph.requires_grad
    for plain, graph, ref in ((y_plain, y_graph, y_ref), (state_plain, state_graph, state_ref)):
        assert (plain - graph.detach()).abs().max() <= 1e-12 * ref.abs().max()
        assert (plain - ref.detach()).abs().max() <= 1e-10 * ref.abs().max()


@pytest.mark.parametrize("wanted", ["D", "dt_bias", "z"])
def test_chunked_scan_takes_a_gradient_into_any_one_argument(wanted):
    """A gradient wanted into one argument only (not x) takes autograd's path,
    not the in-place one: the recurrence's gradient, at a headdim the in-place
    path would otherwise take."""
    args = scan_inputs(29, p=mamba2.POSITION_MAJOR_HEADDIM)
    args[wanted].requires_grad_()
    grads = [
        torch.autograd.grad(
            scan(chunk_size=8, dt_softplus=True, **args).square().sum(), args[wanted]
        )[0]
        for scan in (ssd_scan_ref, ssd_chunked)
    ]
    assert (grads[0] - grads[1]).abs().max() <= 1e-10 * grads[0].abs().max()


def test_gated_norm_in_place_equals_autograds():
    """The gated RMS norm taken in y's memory is the composite's (rms_norm)
    that autograd differentiates."""
    norm = mamba2.GatedRMSNorm(12, 4, eps=1e-5).double()
    with torch.no_grad():
        norm.weight.uniform_(0.5, 2.0)
    y, z = torch.randn(2, 5, 12, dtype=torch.float64), torch.randn(2, 5, 12, dtype=torch.float64)
    graph = norm(y, z)
    with torch.no_grad():
        plain = norm.forward_in_place(y.clone(), z.clone())
    assert graph.requires_grad
    assert (plain - graph.detach()).abs().max() <= 1e-13


def test_chunked_scan_stays_finite_with_strong_decay():
    """dt A summed over a chunk far below -700: a closed form with exp(-cumsum)
    would overflow; every exponent here is <= 0. The gradients too."""
    args = {k: v.requires_grad_() for k, v in scan_inputs(50).items()}
    with torch.no_grad():
        args["dt_bias"].fill_(400.0)
    grads = []
    for scan in (ssd_chunked, ssd_scan_ref):
        y = scan(chunk_size=16, dt_softplus=True, **args)
        grads.append(torch.autograd.grad(y.square().sum(), list(args.values())))
        assert torch.isfinite(y).all()
    assert (y - ssd_chunked(chunk_size=16, dt_softplus=True, **args)).abs().max() <= 1e-10
    for name, g_chunked, g_ref in zip(args, *grads, strict=True):
        assert torch.isfinite(g_chunked).all(), name
        assert (g_ref - g_chunked).abs().max() <= 1e-10 * max(1.0, g_ref.abs().max()), name


def test_segment_decays_are_never_subnormal():
    """Strong decays would put exp's results among float32's subnormals (or at
    0), which x86 computes many times slower: the exponent stops at EXP_FLOOR,
    and what sits above the diagonal is zeroed by the causal multiplier."""
    acs = torch.linspace(0.0, -3000.0, 16).expand(2, 3, 16).contiguous()
    seg = segment_decays(acs)
    assert seg.min() >= torch.finfo(torch.float32).tiny
    ones_below = causal_masks(16, acs.device, acs.dtype)[1]
    assert torch.equal(ones_below, torch.ones(16, 16).tril())
    assert torch.allclose((seg * ones_below).diagonal(dim1=-2, dim2=-1), torch.ones(2, 3, 16))
    assert ((seg * ones_below).triu(1) == 0).all()


def perturbed(mixer: Mamba2, seed: int = 0) -> Mamba2:
    """Nudge every weight so that no test leans on the init's structure (D = 1,
    the norm's weight 1): a wrong index would show."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in mixer.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    return mixer


def pair(dtype=torch.float64, **config) -> tuple[Mamba2, Mamba2]:
    torch.manual_seed(0)
    config = {**CONFIG, **config}
    ref = perturbed(build_mixer("mamba2/ref", D_MODEL, **config).to(dtype))
    chunked = build_mixer("mamba2/chunked", D_MODEL, **config).to(dtype)
    chunked.load_state_dict(ref.state_dict())
    return ref, chunked


def inputs(length: int, dtype=torch.float64, seed: int = 1) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(2, length, D_MODEL, generator=gen, dtype=dtype)


@pytest.fixture(params=[False, True], ids=["whole", "blocks"])
def blocks(request, monkeypatch) -> bool:
    """Whole sequences, or mamba2/chunked's layer in blocks of one to three
    chunks (BLOCK_BYTES made small), each carrying the state to the next."""
    if request.param:
        monkeypatch.setattr(mamba2, "BLOCK_BYTES", 40_000)
    return request.param


def test_block_length_keeps_blocks_even_and_within_the_budget():
    mixer = build_mixer("mamba2/chunked", 512, chunk_size=128)
    per_position = mixer.in_proj.out_features * 4  # fp32: more than 16 heads x 128 x 4
    assert mixer.block_length(2048, 1, torch.float32) == 2048  # 19 MB: one block
    assert mixer.block_length(4096, 1, torch.float32) == 2048  # two even blocks
    assert mixer.block_length(8192, 1, torch.float32) == 2816  # 2816, 2816, 2560
    for length, batch in [(8192, 1), (5000, 3), (100, 64)]:
        block = mixer.block_length(length, batch, torch.float32)
        assert block % 128 == 0
        assert block == 128 or block * batch * per_position <= mamba2.BLOCK_BYTES
    assert mixer.block_length(8192, 1, torch.bfloat16) == 4096  # half the bytes a position


@pytest.mark.parametrize("length", LENGTHS)
@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.float64, 1e-12)])
def test_chunked_layer_matches_reference(length, dtype, tol, blocks):
    ref, chunked = pair(dtype)
    x = inputs(length, dtype)
    with torch.no_grad():
        expected = ref(x)
        assert (chunked(x) - expected).abs().max() <= tol * expected.abs().max()


@pytest.mark.parametrize("name", ["mamba2/ref", "mamba2/chunked"])
@pytest.mark.parametrize("split", [1, 3, 8, 20])
def test_prefill_then_step_equals_forward(name, split, blocks):
    mixer = dict(zip(("mamba2/ref", "mamba2/chunked"), pair(), strict=True))[name]
    x = inputs(29)
    with torch.no_grad():
        full = mixer(x)
        y, state = mixer.prefill(x[:, :split])
        ys = [y]
        for t in range(split, x.shape[1]):
            y_t, state = mixer.step(x[:, t], state)
            ys.append(y_t[:, None])
    assert (torch.cat(ys, dim=1) - full).abs().max() <= 1e-12


def test_prefill_state_equals_stepped_state(blocks):
    _, chunked = pair()
    x = inputs(21)
    with torch.no_grad():
        _, prefilled = chunked.prefill(x)
        stepped = chunked.init_state(2, dtype=torch.float64)
        for t in range(x.shape[1]):
            _, stepped = chunked.step(x[:, t], stepped)
    assert (prefilled.ssm - stepped.ssm).abs().max() <= 1e-12
    assert (prefilled.conv - stepped.conv).abs().max() <= 1e-12


def test_layer_gradients_match_reference(blocks):
    """Into the input and every weight, the final state's gradient included."""
    ref, chunked = pair()
    x = inputs(19).requires_grad_()
    weights = torch.randn(2, ref.n_heads, ref.headdim, ref.d_state, dtype=torch.float64)
    grads = []
    for mixer in (ref, chunked):
        y, state = mixer.prefill(x)
        loss = y.square().sum() + (state.ssm * weights).sum()
        grads.append(torch.autograd.grad(loss, [x, *mixer.parameters()]))
    names = ["x", *(name for name, _ in ref.named_parameters())]
    for name, g_ref, g_chunked in zip(names, *grads, strict=True):
        assert (g_ref - g_chunked).abs().max() <= 1e-10 * g_ref.abs().max(), name


@pytest.mark.parametrize("name", ["mamba2/ref", "mamba2/chunked"])
def test_outputs_are_causal(name):
    mixer = dict(zip(("mamba2/ref", "mamba2/chunked"), pair(torch.float32), strict=True))[name]
    x = inputs(30, torch.float32)
    changed = x.clone()
    changed[:, 20] += 1.0
    with torch.no_grad():
        y, y_changed = mixer(x), mixer(changed)
    assert torch.equal(y[:, :20], y_changed[:, :20])
    assert not torch.equal(y[:, 20:], y_changed[:, 20:])


def test_bf16_runs_with_an_fp32_state():
    _, chunked = pair(torch.bfloat16)
    x = inputs(20, torch.bfloat16)
    with torch.no_grad():
        y, state = chunked.prefill(x)
    assert y.dtype == torch.bfloat16 and torch.isfinite(y).all()
    assert state.ssm.dtype == torch.float32


def test_state_is_fixed_size_and_costs_are_consistent():
    ref, chunked = pair(torch.float32)
    state = chunked.init_state(3)
    assert isinstance(state, Mamba2State)
    # conv over x, B and C: d_inner 64 + 2 groups x 8 states x 2; h: 4 heads x 16 x 8
    assert state.conv.shape == (3, 96, 3) and state.ssm.shape == (3, 4, 16, 8)
    assert chunked.state_bytes(3, 10) == chunked.state_bytes(3, 100_000) == 3 * (96 * 3 + 512) * 4
    assert chunked.flops(2, 100) == 2 * chunked.flops(1, 100)
    assert chunked.flops(2, 100, backward=True) == 3 * chunked.flops(2, 100)
    assert chunked.step_flops(2, 10) == chunked.step_flops(2, 10_000) > chunked.step_flops(2, 0)
    assert ref.flops(1, 100) == sum(ref.step_flops(1, t) for t in range(100))
    # the chunked form's per-chunk products are real work beyond the recurrence's
    assert chunked.flops(1, 100) > ref.flops(1, 100)


def test_layout_is_mamba_ssm_s():
    """mamba-ssm's Mamba2 names and shapes: in_proj to (z, x, B, C, dt), the conv
    over (x, B, C), one A, D and dt bias per head, the gated norm's weight."""
    mixer = build_mixer("mamba2/ref", D_MODEL, **CONFIG)
    shapes = {k: tuple(v.shape) for k, v in mixer.state_dict().items()}
    assert shapes == {
        "in_proj.weight": (64 + 96 + 4, D_MODEL),
        "conv1d.weight": (96, 1, 4),
        "conv1d.bias": (96,),
        "dt_bias": (4,),
        "A_log": (4,),
        "D": (4,),
        "norm.weight": (64,),
        "out_proj.weight": (D_MODEL, 64),
    }
    assert get_spec("mamba2/ref").reference
    assert set(build_mixer("mamba2/chunked", D_MODEL, **CONFIG).state_dict()) == set(shapes)
    dt = F.softplus(mixer.dt_bias)
    assert dt.min() >= 1e-3 * (1 - 1e-5) and dt.max() <= 0.1 * (1 + 1e-5)
    assert (-torch.exp(mixer.A_log)).max() <= -1.0


def test_default_headdim_divides_every_width():
    for d_model in (16, 48, 54, 64, 512):
        mixer = build_mixer("mamba2/chunked", d_model)
        assert mixer.d_inner % mixer.headdim == 0 and mixer.headdim <= 64
    # the largest divisor up to 64, not gcd(64, d_inner): the accuracy grid's
    # width 54 gets 2 heads of 54, not 27 heads of 4
    expected = {16: 32, 48: 48, 54: 54, 512: 64}
    assert {d: build_mixer("mamba2/chunked", d).headdim for d in expected} == expected
    grouped = build_mixer("mamba2/chunked", 54, ngroups=4)  # 108 = 4 groups x 1 head x 27
    assert (grouped.headdim, grouped.n_heads) == (27, 4)


def test_mamba_ssm_reports_why_it_is_unavailable():
    reason = get_spec("mamba2/mamba-ssm").unavailable_reason()
    if reason is None:
        pytest.skip("mamba-ssm and CUDA are available here")
    assert "mamba_ssm" in reason
    with pytest.raises(MixerUnavailable, match="mamba2/mamba-ssm"):
        build_mixer("mamba2/mamba-ssm", D_MODEL)


@pytest.mark.parametrize(
    "config,name",
    [
        ({"d_state": 0}, "d_state"),
        ({"headdim": 24}, "headdim"),
        ({"ngroups": 3}, "ngroups"),
        ({"chunk_size": 0}, "chunk_size"),
        ({"dt_min": 0.0}, "dt_min"),
    ],
)
def test_bad_config_names_the_argument(config, name):
    with pytest.raises(ValueError, match=name):
        build_mixer("mamba2/chunked", D_MODEL, **config)


def test_bad_input_names_the_argument():
    mixer = build_mixer("mamba2/chunked", D_MODEL)
    with pytest.raises(ValueError, match="x"):
        mixer(torch.randn(1, 0, D_MODEL))
    with pytest.raises(ValueError, match="x_t"):
        mixer.step(torch.randn(1, 1, D_MODEL), mixer.init_state(1))
    with pytest.raises(ValueError, match="state"):
        mixer.step(torch.randn(1, D_MODEL), (None, None))


@pytest.mark.parametrize("name", ["mamba2/ref", "mamba2/chunked"])
def test_the_suites_reference_check_passes(name):
    """The check that gates every timed point (suite.workloads): forward
    against mamba2/ref, prefill + step against forward, causality."""
    from models.registry import list_mixers
    from suite.options import resolve_options
    from suite.workloads import check_against_reference

    names = [spec.name for spec in list_mixers()]
    options = resolve_options({"profile": "smoke"}, names, cuda_available=False)
    check = check_against_reference(get_spec(name), options)
    assert check.failures(get_spec(name).cls.reference_tolerance) == []
    assert check.stepped <= 1e-5 and check.causality == 0


def test_speed_file_trains_each_family_at_its_own_chunk():
    """suite/test_mamba2_speed.py: retnet's training chunk for retnet only."""
    from schema import Workload
    from suite.profiles import ModeSpeed
    from suite.test_mamba2_speed import chunk_of

    shape = ModeSpeed((2048, 8192), d_model=512, chunk_size=128, train_chunk_size=512)
    train, forward = Workload.MIXER_TRAIN_STEP, Workload.MIXER_FORWARD
    assert chunk_of(shape, "retnet/chunkwise", train, 8192) == 512
    assert chunk_of(shape, "mamba2/chunked", train, 8192) == 128
    assert chunk_of(shape, "retnet/chunkwise", forward, 8192) == 128
    assert chunk_of(shape, "mamba2/chunked", forward, 100) == 100
