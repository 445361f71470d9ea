"""RetNet retention: the parallel, chunkwise and recurrent variants agree (and
so do prefill + step), all equal torchscale 0.3.0's MultiScaleRetention with
the same weights, bf16 stays causal with fp32 decays, costs have the right
shape, and bad arguments are named."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from models import build_mixer, get_spec, reference_of
from models import retnet as retnet_module
from models.base import tensor_bytes
from models.retnet import Retention, log_decays
from suite.references import import_torchscale

D_MODEL = 32
N_HEADS = 4
VARIANTS = ("retnet/parallel", "retnet/chunkwise", "retnet/recurrent")
LENGTHS = (1, 2, 63, 64, 65, 300)
TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-10}
#: fp64 inputs this large make |row sum| exceed sqrt(S_n) on about two rows in
#: three, so both branches of the normaliser's max are compared. fp32 uses unit
#: inputs: at 10x the group norm's eps no longer damps rows whose output
#: nearly cancels, and the forms' different summation orders then differ by
#: ~3e-5 (measured), a property of fp32 rather than of the forms
INPUT_SCALE = {torch.float32: 1.0, torch.float64: 10.0}


pytestmark = pytest.mark.usefixtures("one_thread")


def build(name: str, dtype: torch.dtype = torch.float64, **config) -> Retention:
    torch.manual_seed(0)
    config = {"n_heads": N_HEADS, **config}
    return build_mixer(name, D_MODEL, **config).to(dtype)


def like(name: str, source: Retention, **config) -> Retention:
    """Variant ``name`` carrying ``source``'s weights."""
    mixer = build(name, source.q_proj.weight.dtype, **config)
    mixer.load_state_dict(source.state_dict())
    return mixer


def inputs(length: int, dtype: torch.dtype, batch: int = 2, seed: int = 1) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    scale = INPUT_SCALE.get(dtype, 1.0)
    return scale * torch.randn(batch, length, D_MODEL, generator=gen, dtype=dtype)


def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a - b).abs().max().item()


# -- the variants agree ------------------------------------------------------
@pytest.mark.parametrize("length", LENGTHS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_variants_agree(length, dtype):
    parallel = build("retnet/parallel", dtype)
    x = inputs(length, dtype)
    with torch.no_grad():
        expected = parallel(x)
        assert max_diff(like("retnet/recurrent", parallel)(x), expected) <= TOLERANCE[dtype]
        for chunk_size in (1, 7, 64, length):
            chunkwise = like("retnet/chunkwise", parallel, chunk_size=chunk_size)
            assert max_diff(chunkwise(x), expected) <= TOLERANCE[dtype], chunk_size


@pytest.mark.parametrize("name", VARIANTS)
@pytest.mark.parametrize("prompt_len", [1, 30, 64])
def test_prefill_then_step_equals_forward(name, prompt_len):
    parallel = build("retnet/parallel")
    mixer = like(name, parallel, chunk_size=7)
    x = inputs(65, torch.float64)
    with torch.no_grad():
        y, state = mixer.prefill(x[:, :prompt_len])
        ys = [y]
        for t in range(prompt_len, x.shape[1]):
            y_t, state = mixer.step(x[:, t], state)
            ys.append(y_t[:, None])
        assert max_diff(torch.cat(ys, dim=1), parallel(x)) <= 1e-10
    assert state.length == x.shape[1]


@pytest.mark.parametrize("name", VARIANTS)
def test_prefill_state_equals_stepped_state(name):
    mixer = build(name, chunk_size=7)
    x = inputs(40, torch.float64)
    with torch.no_grad():
        _, prefilled = mixer.prefill(x)
        stepped = mixer.init_state(x.shape[0], dtype=x.dtype)
        for t in range(x.shape[1]):
            _, stepped = mixer.step(x[:, t], stepped)
    assert max_diff(prefilled.kv, stepped.kv) <= 1e-10 * stepped.kv.abs().max().item()


def test_gradients_agree_between_parallel_and_chunkwise():
    parallel = build("retnet/parallel")
    chunkwise = like("retnet/chunkwise", parallel, chunk_size=7)
    grads = []
    for mixer in (parallel, chunkwise):
        x = inputs(65, torch.float64).requires_grad_()
        mixer(x).pow(2).sum().backward()
        grads.append([x.grad] + [p.grad for p in mixer.parameters()])
    for a, b in zip(*grads, strict=True):
        assert max_diff(a, b) <= 1e-10 * a.abs().max().item()


@pytest.mark.parametrize("tile", [3, 4, 128])
@pytest.mark.parametrize("block", [8, 12, 1024])
@pytest.mark.parametrize("chunk_size", [4, 7])
def test_chunkwise_tiles_and_blocks_agree_with_parallel(tile, block, chunk_size, monkeypatch):
    """Score tiles smaller than the chunk (the ones above the diagonal skipped)
    and, without grad, blocks of the sequence with the state carried between
    them (the first holding the partial chunk): forward, prefill state and
    gradients agree with the parallel form."""
    monkeypatch.setattr(retnet_module, "SCORE_TILE", tile)
    parallel = build("retnet/parallel")
    chunkwise = like("retnet/chunkwise", parallel, chunk_size=chunk_size)
    chunkwise.block_tokens = block
    x = inputs(45, torch.float64).requires_grad_()
    grads = []
    for mixer in (parallel, chunkwise):
        y = mixer(x)
        grads.append(torch.autograd.grad(y.pow(2).sum(), [x, *mixer.parameters()]))
    for a, b in zip(*grads, strict=True):
        assert max_diff(a, b) <= 1e-10 * a.abs().max().item()
    with torch.no_grad():
        assert max_diff(chunkwise(x), parallel(x)) <= 1e-10
        _, state = chunkwise.prefill(x)
        _, expected = parallel.prefill(x)
        # every block but the first holds whole chunks, counted from the end
        ends = [end for _, end in chunkwise.blocks(45)]
    assert max_diff(state.kv, expected.kv) <= 1e-10 * expected.kv.abs().max().item()
    assert ends[-1] == 45 and all((45 - end) % chunk_size == 0 for end in ends)
    assert len(ends) == -(-45 // max(chunk_size, block // chunk_size * chunk_size))


def test_blocks_cover_the_sequence_in_whole_chunks():
    mixer = build("retnet/chunkwise", chunk_size=64)
    mixer.block_tokens = 1024
    with torch.no_grad():
        assert mixer.blocks(8192) == [(s, s + 1024) for s in range(0, 8192, 1024)]
        assert mixer.blocks(1100) == [(0, 76), (76, 1100)]
        assert mixer.blocks(5) == [(0, 5)]
        mixer.block_tokens = 10  # never below one chunk
        assert mixer.blocks(130) == [(0, 2), (2, 66), (66, 130)]
    # with grad one block: the backward keeps every block's tensors anyway
    assert mixer.blocks(8192) == [(0, 8192)]


@pytest.mark.parametrize("chunk", [3, 8])
def test_retain_chunks_gradients_from_a_start_state(chunk, monkeypatch):
    """RetainChunks from a given state (the blocks' carry): its hand-written
    backward against numerical gradients, into the state too (the key-sum
    column only feeds the detached row sums, so it gets none)."""
    monkeypatch.setattr(retnet_module, "SCORE_TILE", 2)
    gen = torch.Generator().manual_seed(3)
    q, k = (torch.randn(2, 3, 24, 4, generator=gen, dtype=torch.float64) for _ in range(2))
    v = torch.randn(2, 3, 24, 5, generator=gen, dtype=torch.float64)
    state = torch.randn(2, 3, 4, 6, generator=gen, dtype=torch.float64)
    log_decay = log_decays(3, torch.float64)
    leaves = [t.requires_grad_() for t in (q, k, v, state)]

    def retained(q, k, v, state):
        o, _, after = retnet_module.RetainChunks.apply(q, k, v, log_decay, chunk, state)
        return o, after[..., :-1]

    assert torch.autograd.gradcheck(retained, leaves)


def test_one_weight_layout_and_config_for_every_variant():
    layouts = {
        name: {k: v.shape for k, v in build(name, chunk_size=16).state_dict().items()}
        for name in VARIANTS
    }
    assert layouts["retnet/parallel"] == layouts["retnet/chunkwise"] == layouts["retnet/recurrent"]
    assert set(layouts["retnet/parallel"]) == {
        f"{p}_proj.weight" for p in ("q", "k", "v", "g", "out")
    }
    assert reference_of("retnet").name == "retnet/parallel"
    assert all(get_spec(name).family == "retnet" for name in VARIANTS)


# -- torchscale 0.3.0 --------------------------------------------------------
def official_pair(chunk_size: int = 64, d_model: int = 64):
    """torchscale's module and its rel_pos maker, and our parallel variant
    carrying its weights."""
    MultiScaleRetention, RetNetRelPos = import_torchscale()
    args = SimpleNamespace(
        multiway=False,
        layernorm_eps=1e-6,
        decoder_embed_dim=d_model,
        decoder_retention_heads=N_HEADS,
        recurrent_chunk_size=chunk_size,
    )
    torch.manual_seed(0)
    official = MultiScaleRetention(args, d_model, 2 * d_model, N_HEADS)
    ours = build_mixer("retnet/parallel", d_model, n_heads=N_HEADS)
    ours.load_state_dict(official.state_dict())
    return official, RetNetRelPos(args), ours


def relative_diff(ours: torch.Tensor, official: torch.Tensor) -> float:
    return max_diff(ours, official) / official.abs().max().item()


@pytest.mark.parametrize("scale", [1.0, 10.0])
def test_parallel_matches_torchscale(scale):
    official, rel_pos, ours = official_pair()
    x = scale * torch.randn(2, 100, 64)
    x_official = x.clone().requires_grad_()
    x_ours = x.clone().requires_grad_()
    y_official = official(x_official, rel_pos(x.shape[1]))
    y_ours = ours(x_ours)
    assert relative_diff(y_ours, y_official) <= 1e-4
    # torchscale detaches its normaliser too, so the gradients match as well
    y_official.pow(2).sum().backward()
    y_ours.pow(2).sum().backward()
    assert relative_diff(x_ours.grad, x_official.grad) <= 1e-4
    for name, p in ours.named_parameters():
        assert relative_diff(p.grad, official.get_parameter(name).grad) <= 1e-4, name


def test_recurrent_matches_torchscale():
    official, rel_pos, ours = official_pair()
    recurrent = build_mixer("retnet/recurrent", 64, n_heads=N_HEADS)
    recurrent.load_state_dict(ours.state_dict())
    x = torch.randn(2, 100, 64)
    incremental_state: dict = {}
    with torch.no_grad():
        ys = [
            official(
                x[:, t : t + 1], rel_pos(t + 1, activate_recurrent=True), None, incremental_state
            )
            for t in range(x.shape[1])
        ]
        assert relative_diff(recurrent(x), torch.cat(ys, dim=1)) <= 1e-4


def test_torchscale_chunkwise_deviates_from_its_parallel_but_ours_does_not():
    """torchscale normalises each chunk by its own row sums, so its chunkwise
    output is its parallel one only up to per-row factors that the group
    norm's eps does not cancel (measured: ~1e-2 absolute here)."""
    official, rel_pos, ours = official_pair(chunk_size=16)
    chunkwise = build_mixer("retnet/chunkwise", 64, n_heads=N_HEADS, chunk_size=16)
    chunkwise.load_state_dict(ours.state_dict())
    x = torch.randn(2, 128, 64)
    with torch.no_grad():
        official_parallel = official(x, rel_pos(x.shape[1]))
        chunk_rel_pos = rel_pos(x.shape[1], chunkwise_recurrent=True)
        official_chunkwise = official(x, chunk_rel_pos, chunkwise_recurrent=True)
        assert max_diff(official_chunkwise, official_parallel) > 1e-3
        assert max_diff(chunkwise(x), official_parallel) <= 1e-5


# -- bf16 ----------------------------------------------------------------------
@pytest.mark.parametrize("name", VARIANTS)
def test_bf16_runs_and_stays_causal(name):
    mixer = build(name, torch.bfloat16, chunk_size=16)
    reference = like("retnet/parallel", build(name, torch.float32, chunk_size=16))
    reference.load_state_dict({k: v.float() for k, v in mixer.state_dict().items()})
    x = inputs(40, torch.bfloat16, batch=1)
    changed = x.clone()
    changed[:, 25] = -3 * x[:, 25] + 1  # the future token shares a chunk with the past
    with torch.no_grad():
        y, y_changed = mixer(x), mixer(changed)
        assert y.dtype == torch.bfloat16 and torch.isfinite(y).all()
        assert torch.equal(y[:, :25], y_changed[:, :25])
        assert not torch.equal(y[:, 25:], y_changed[:, 25:])
        # and it is the same function as in fp32, to bf16's precision
        assert max_diff(y.float(), reference(x.float())) <= 0.05 * y.float().abs().max().item()


def test_bf16_keeps_the_slowest_decay_below_one():
    # with 8 heads gamma = 1 - 2^-12, which bf16 (8 bits of mantissa) rounds to 1
    assert torch.tensor(1 - 2**-12, dtype=torch.bfloat16).item() == 1.0
    log_decay = log_decays(8, torch.bfloat16)
    assert log_decay.dtype == torch.float32
    assert (torch.exp(log_decay) < 1).all()
    assert torch.exp(log_decay).max().item() == pytest.approx(1 - 2**-12)


# -- costs -------------------------------------------------------------------
def test_costs_scale_as_each_form_should():
    parallel, chunkwise, recurrent = (build(name, chunk_size=16) for name in VARIANTS)
    projections = parallel.projection_flops(2 * 4096)
    assert parallel.flops(2, 4096) - projections > 3.5 * (parallel.flops(2, 2048) - projections / 2)
    for mixer in (chunkwise, recurrent):
        assert mixer.flops(2, 4096) == 2 * mixer.flops(2, 2048)
        assert mixer.flops(2, 4096, backward=True) == 3 * mixer.flops(2, 4096)
    for mixer in (parallel, chunkwise, recurrent):
        assert mixer.step_flops(2, 10) == mixer.step_flops(2, 10_000) > 0
        assert mixer.state_bytes(2, 10) == mixer.state_bytes(2, 10_000)
        with torch.no_grad():
            _, state = mixer.prefill(inputs(20, torch.float64))
        assert mixer.state_bytes(2, 20, torch.float64) == tensor_bytes(state)
    # bf16 decoding keeps its state in fp32
    assert parallel.state_bytes(1, 5, torch.bfloat16) == parallel.state_bytes(1, 5, torch.float32)


# -- errors ------------------------------------------------------------------
@pytest.mark.parametrize(
    "config,argument",
    [
        ({"n_heads": 3}, "d_model"),
        ({"chunk_size": 0}, "chunk_size"),
        ({"chunk_size": -4}, "chunk_size"),
        ({"n_heads": 0}, "n_heads"),
        ({"value_factor": 0}, "value_factor"),
        ({"n_heads": 32}, "key dim"),
    ],
)
@pytest.mark.parametrize("name", VARIANTS)
def test_bad_config_names_the_argument(name, config, argument):
    with pytest.raises(ValueError, match=argument):
        build_mixer(name, D_MODEL, **config)


@pytest.mark.parametrize("name", VARIANTS)
def test_bad_input_names_the_argument(name):
    mixer = build(name, torch.float32)
    with pytest.raises(ValueError, match="x must have rank 3"):
        mixer(torch.randn(5, D_MODEL))
    with pytest.raises(ValueError, match="x must be floating point"):
        mixer(torch.ones(1, 5, D_MODEL, dtype=torch.long))
    with pytest.raises(ValueError, match="d_model"):
        mixer(torch.randn(1, 5, D_MODEL + 1))
    state = mixer.init_state(1)
    with pytest.raises(ValueError, match="x_t"):
        mixer.step(torch.randn(1, 1, D_MODEL), state)
    with pytest.raises(ValueError, match="x_t must be floating point"):
        mixer.step(torch.ones(1, D_MODEL, dtype=torch.int32), state)
