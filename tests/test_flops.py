"""The analytic FLOPs against the suite's FLOP counter (torch's FlopCounterMode,
with a grouped convolution's backward counted right: suite/measure.py).

``flops``/``step_flops`` count useful work by the one convention stated in
models/attention.py: causal pairs only, no work on masked pairs, zero padding or
dropped outputs, no elementwise work. The counter sees matmuls and convolutions
(not FFTs, addcmul or other elementwise ops) and counts what the kernels compute.
Each test states the exact difference between the two: the extra work a kernel
does beyond the useful work, and the useful work the counter cannot see.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from models import build_mixer
from models import retnet as retnet_module
from models.attention import causal_pairs
from models.hyena import rfft_flops
from models.retnet import tile_rows
from suite.measure import counted_flops

pytestmark = pytest.mark.usefixtures("one_thread")

B, D = 2, 32


def counted(fn: Callable[[], object]) -> int:
    """What the suite's counter (the one behind the JSON's ``flops_counted``) sees."""
    return counted_flops(fn) or 0


def forward_counted(mixer, length: int, prefill: bool = False) -> int:
    """The counter over ``forward`` (or ``prefill``) of a random sequence."""
    torch.manual_seed(0)
    x = torch.randn(B, length, mixer.d_model)
    call = mixer.prefill if prefill else mixer
    with torch.no_grad():
        return counted(lambda: call(x))


def step_counted(mixer, context: int) -> int:
    """The counter over one ``step`` after a prompt of ``context`` tokens."""
    torch.manual_seed(0)
    x = torch.randn(B, context + 1, mixer.d_model)
    with torch.no_grad():
        _, state = mixer.prefill(x[:, :context]) if context else (None, mixer.init_state(B))
        return counted(lambda: mixer.step(x[:, context], state))


def loop_counted(mixer, length: int) -> int:
    """The counter over a decoding loop of ``length`` steps from an empty state."""
    torch.manual_seed(0)
    x = torch.randn(B, length, mixer.d_model)

    def loop():
        state = mixer.init_state(B)
        for t in range(length):
            _, state = mixer.step(x[:, t], state)

    with torch.no_grad():
        return counted(loop)


def steps_sum(mixer, length: int) -> int:
    return sum(mixer.step_flops(B, t) for t in range(length))


def brute_pairs(length: int, window: int | None = None) -> int:
    return sum(1 for n in range(length) for m in range(n + 1) if window is None or n - m < window)


# -- the convention's counting ------------------------------------------------------
@pytest.mark.parametrize("length", [1, 2, 7, 64])
@pytest.mark.parametrize("window", [None, 1, 3, 4, 100])
def test_causal_pairs_counts_the_lower_triangle(length, window):
    assert causal_pairs(length, window) == brute_pairs(length, window)


def test_causal_attention_counts_half_the_square_as_flash_attention_does():
    mixer = build_mixer("attention/sdpa", 64, n_heads=4)
    projections = 4 * 2 * 4096 * 64 * 64
    flash_benchmark = 4 * 1 * 4096**2 * 4 * 16 // 2  # 4 b L^2 h d / 2 for causal
    # the exact causal count is theirs plus the diagonal's L/2
    assert mixer.flops(1, 4096) - projections == flash_benchmark + 4 * 4096 * 4 * 16 // 2


# -- attention ------------------------------------------------------------------
@pytest.mark.parametrize("length", [1, 5, 16])
def test_attention_math_computes_the_masked_triangle_too(length):
    mixer = build_mixer("attention/math", D, n_heads=4)
    # QK^T and PV over the L(L-1)/2 pairs above the diagonal: 2 products of 2 * head_dim
    # FLOPs per pair and head, heads * head_dim = d_model
    masked = 2 * 2 * B * D * (length * (length - 1) // 2)
    assert forward_counted(mixer, length) == mixer.flops(B, length) + masked


def test_attention_sdpa_kernel_is_seen_whole_or_not_at_all():
    mixer = build_mixer("attention/sdpa", D, n_heads=4)
    length = 16
    projections = 4 * 2 * B * length * D * D
    scores = mixer.flops(B, length) - projections
    assert scores == 2 * 2 * B * D * causal_pairs(length)
    # on the CPU the counter does not see the fused kernel; where it does (CUDA's
    # flash kernel) it counts the full square
    assert forward_counted(mixer, length) - projections in (0, 2 * 2 * B * D * length**2)


@pytest.mark.parametrize("context", [0, 9])
def test_attention_step_is_seen_whole(context):
    mixer = build_mixer("attention/math", D, n_heads=4)
    assert step_counted(mixer, context) == mixer.step_flops(B, context)


def test_attention_forward_is_the_work_of_its_steps():
    mixer = build_mixer("attention/sdpa", D, n_heads=4)
    length = 12
    assert mixer.flops(B, length) == steps_sum(mixer, length) == loop_counted(mixer, length)


# -- retnet ------------------------------------------------------------------------
def retnet(name: str, **config):
    return build_mixer(name, D, n_heads=4, **config)


def state_entries(mixer) -> int:
    """Entries of all heads' states for the batch: d_k x (d_v + 1) each."""
    return B * mixer.n_heads * mixer.key_dim * (mixer.head_value_dim + 1)


def per_pair(mixer) -> int:
    """q . k (2 d_k) and the weighted sum of [v, 1] (2 (d_v + 1)) for one pair, all heads."""
    return B * mixer.n_heads * 2 * (mixer.key_dim + mixer.head_value_dim + 1)


@pytest.mark.parametrize("length", [1, 6, 16])
def test_retnet_parallel_computes_the_masked_triangle_too(length):
    mixer = retnet("retnet/parallel")
    masked = length * (length - 1) // 2
    assert forward_counted(mixer, length) == mixer.flops(B, length) + masked * per_pair(mixer)


def computed_pairs(length: int, chunk: int) -> int:
    """(query, key) pairs the chunkwise kernels compute: in every chunk of the
    padded grid, the score tiles on or below the diagonal (SCORE_TILE a side)."""
    size = min(chunk, length)
    n_chunks = -(-length // size)
    return n_chunks * sum((last - first) * last for first, last in tile_rows(size))


@pytest.mark.parametrize("tile", [128, 4, 3])
@pytest.mark.parametrize("length,chunk", [(16, 4), (13, 4), (3, 8), (20, 8)])
def test_retnet_chunkwise_relation_to_its_kernels(length, chunk, tile, monkeypatch):
    """The kernels compute the score tiles on or below the diagonal of every chunk
    of the padded grid (with chunks up to a tile, the full C x C square) and the
    state products of the padded rows. The counter does not see what runs
    elementwise: the in-chunk row sums d (the convention's [v, 1] column, 2 FLOPs
    per useful pair), the chunk states' key-sum column (2 d_k per row) and the
    per-chunk carry gamma^C s + chunk state (2 FLOPs per state entry)."""
    monkeypatch.setattr(retnet_module, "SCORE_TILE", tile)
    mixer = retnet("retnet/chunkwise", chunk_size=chunk)
    size = min(chunk, length)
    n_chunks = -(-length // size)
    pad = n_chunks * size - length
    same_chunk = sum(
        1 for n in range(length) for m in range(n + 1) if (n + pad) // size == (m + pad) // size
    )
    heads = B * mixer.n_heads
    # masked pairs inside the computed tiles, or pairs on the front padding
    not_useful_pairs = computed_pairs(length, chunk) - same_chunk
    seen_per_pair = per_pair(mixer) - 2 * heads  # q . k and the weighted sum of v, not of 1
    padded_rows = pad  # the zeros in front of the first chunk
    # each row: its key into the chunk state, its query against the state before it
    row_state_work = 2 * 2 * state_entries(mixer)
    key_sums = n_chunks * size * 2 * heads * mixer.key_dim
    carries = n_chunks * 2 * state_entries(mixer)
    expected = (
        mixer.flops(B, length)
        + not_useful_pairs * seen_per_pair
        - same_chunk * 2 * heads
        + padded_rows * row_state_work
        - key_sums
        - carries
    )
    assert forward_counted(mixer, length) == expected


def test_retnet_chunkwise_skips_the_tiles_above_the_diagonal():
    assert tile_rows(512) == [(0, 128), (128, 256), (256, 384), (384, 512)]
    assert computed_pairs(8192, 512) == 16 * 512 * 512 * 10 // 16
    assert tile_rows(100) == [(0, 100)]


@pytest.mark.parametrize("length", [1, 7])
def test_retnet_recurrent_relation_to_its_kernels(length):
    """Per token the rank-1 product k [v, 1]^T runs as a matmul, which the counter
    counts as 2 FLOPs per entry where its useful work is one multiply; the decayed
    accumulation gamma S + k [v, 1]^T is an addcmul it does not see (2 per entry)."""
    mixer = retnet("retnet/recurrent")
    rank_one_as_matmul = state_entries(mixer)
    accumulation = 2 * state_entries(mixer)
    per_token = rank_one_as_matmul - accumulation
    assert forward_counted(mixer, length) == mixer.flops(B, length) + length * per_token
    assert loop_counted(mixer, length) == steps_sum(mixer, length) + length * per_token
    for name in ("retnet/parallel", "retnet/chunkwise", "retnet/recurrent"):
        assert step_counted(retnet(name), 5) == retnet(name).step_flops(B, 5) + per_token


def test_retnet_recurrent_forward_is_the_work_of_its_steps():
    mixer = retnet("retnet/recurrent")
    assert mixer.flops(B, 50) == steps_sum(mixer, 50)


def test_retnet_forms_order_by_work_as_the_algorithms_do():
    parallel, chunkwise, recurrent = (
        retnet(n, chunk_size=64)
        for n in ("retnet/parallel", "retnet/chunkwise", "retnet/recurrent")
    )
    # one chunk holds the whole sequence: the chunkwise form is the parallel one plus
    # its state products and one carry
    states = 4 * 64 * state_entries(chunkwise) + 2 * state_entries(chunkwise)
    assert chunkwise.flops(B, 64) == parallel.flops(B, 64) + states
    # long sequences: quadratic pairs against linear state work
    assert parallel.flops(B, 4096) > 5 * chunkwise.flops(B, 4096)
    assert chunkwise.flops(B, 4096) > recurrent.flops(B, 4096)


# -- mamba -----------------------------------------------------------------------
def mamba_unseen(mixer, length: int, positions: int | None = None) -> int:
    """Useful work the counter cannot see: the conv's causal taps (addcmul) and
    the scan's elementwise FLOPs per state (all of them except the C.h read-out,
    which runs as a matmul: 2 per state)."""
    conv = 2 * B * mixer.d_inner * causal_pairs(length, mixer.d_conv)
    elementwise = (mixer.scan_flops_per_state - 2) * mixer.d_inner * mixer.d_state
    return conv + B * (positions or length) * elementwise


@pytest.mark.parametrize("length", [1, 3, 10])
def test_mamba_reference_relation_to_the_counter(length):
    mixer = build_mixer("mamba/reference", D)
    assert forward_counted(mixer, length) == mixer.flops(B, length) - mamba_unseen(mixer, length)


@pytest.mark.parametrize(
    "length,chunk", [(16, 4), (20, 8), (5, None), (17, None), (16, 16), (13, 64)]
)
def test_mamba_scan_relation_to_the_counter(length, chunk):
    """On top of the reference's unseen work: with more than one chunk, the first
    pass (4 FLOPs per state) and the per-chunk carry (3 per state) are elementwise,
    so unseen, and the second pass's C.h read-out runs on the padding past the
    end as well; one chunk is the plain recurrence, seen as the reference is."""
    mixer = build_mixer("mamba/scan", D, chunk_size=chunk)
    size = mixer.scan_chunk_size(B, length)
    n_chunks = -(-length // size)
    states = mixer.d_inner * mixer.d_state
    first_pass = B * length * 4 * states if n_chunks > 1 else 0
    carries = B * n_chunks * 3 * states if n_chunks > 1 else 0
    padded_readout = B * (n_chunks * size - length) * 2 * states
    expected = (
        mixer.flops(B, length) - mamba_unseen(mixer, length) - first_pass - carries + padded_readout
    )
    assert forward_counted(mixer, length) == expected


def test_mamba_scan_picks_one_chunk_for_big_slabs():
    """A batch whose step is a big op runs the recurrence in one chunk (no first
    pass); a small one chunks at about sqrt(L)."""
    mixer = build_mixer("mamba/scan", D)
    big = -(-mixer.single_chunk_slab // (mixer.d_inner * mixer.d_state))
    assert mixer.scan_chunk_size(big, 4096) == 4096
    assert mixer.scan_chunk_size(1, 4096) == 64
    reference = build_mixer("mamba/reference", D)
    assert mixer.flops(big, 100) == reference.flops(big, 100)
    assert mixer.flops(1, 100) > reference.flops(1, 100)


@pytest.mark.parametrize("context", [0, 2, 9])
def test_mamba_step_relation_to_the_counter(context):
    mixer = build_mixer("mamba/reference", D)
    window = min(context + 1, mixer.d_conv)
    unseen = 2 * B * mixer.d_inner * window + B * 4 * mixer.d_inner * mixer.d_state
    assert step_counted(mixer, context) == mixer.step_flops(B, context) - unseen


def test_mamba_reference_forward_is_the_work_of_its_steps():
    mixer = build_mixer("mamba/reference", D)
    assert mixer.flops(B, 30) == steps_sum(mixer, 30)
    scan = build_mixer("mamba/scan", D)
    assert scan.step_flops(B, 7) == mixer.step_flops(B, 7)


# -- hyena -----------------------------------------------------------------------
def hyena(name: str):
    return build_mixer(name, D, l_max=64)


def short_conv_extra(mixer, length: int) -> int:
    """The short filter's kernel, padded k-1 on both sides, computes L + k - 1
    outputs of k taps; the useful ones are the causal taps of the first L."""
    k, streams = mixer.short_filter_order, mixer.in_proj.out_features
    return 2 * B * streams * ((length + k - 1) * k - brute_pairs(length, k))


@pytest.mark.parametrize("length", [1, 2, 17])
def test_hyena_direct_relation_to_the_counter(length):
    """The direct long convolution multiplies the L-1 zeros padded in front as
    well: L taps at each of L outputs instead of the L(L+1)/2 causal ones."""
    mixer = hyena("hyena/direct")
    zero_taps = (mixer.order - 1) * 2 * B * D * (length * length - brute_pairs(length))
    expected = mixer.flops(B, length) + short_conv_extra(mixer, length) + zero_taps
    assert forward_counted(mixer, length) == expected


@pytest.mark.parametrize("length", [2, 17])
def test_hyena_fft_relation_to_the_counter(length):
    """The counter sees no FFT: it misses exactly the FFT formula's work."""
    mixer = hyena("hyena/fft")
    size, bins = 2 * length, length + 1
    fft_conv = D * (B * (2 * rfft_flops(size) + 6 * bins) + rfft_flops(size))
    assert mixer.long_conv_flops(B, length) == int(fft_conv)
    expected = (
        mixer.flops(B, length) + short_conv_extra(mixer, length) - (mixer.order - 1) * int(fft_conv)
    )
    assert forward_counted(mixer, length) == expected


def test_rfft_formula():
    assert rfft_flops(1) == 0
    assert rfft_flops(1024) == 2.5 * 1024 * 10


@pytest.mark.parametrize("context", [0, 9])
def test_hyena_step_relation_to_the_counter(context):
    """With the taps already generated the counter sees the two projections; the
    short conv, the long convolutions' dot products with the history (elementwise
    products and sums) and the amortised filter position are not seen."""
    mixer = hyena("hyena/direct")
    torch.manual_seed(0)
    x = torch.randn(B, context + 1, D)
    with torch.no_grad():
        _, state = mixer.prefill(x[:, :context]) if context else (None, mixer.init_state(B))
        mixer.extend_taps(state, context + 1)
        seen = counted(lambda: mixer.step(x[:, context], state))
    streams = mixer.in_proj.out_features
    unseen = (
        2 * B * streams * min(context + 1, mixer.short_filter_order)
        + mixer.filter.flops(1)
        + (mixer.order - 1) * 2 * B * D * (context + 1)
    )
    assert seen == mixer.step_flops(B, context) - unseen


def test_hyena_direct_forward_is_the_work_of_its_steps():
    mixer = hyena("hyena/direct")
    assert mixer.flops(B, 40) == steps_sum(mixer, 40)


# -- prefill -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "name,config",
    [
        ("attention/sdpa", {"n_heads": 4}),
        ("attention/math", {"n_heads": 4}),
        ("retnet/chunkwise", {"n_heads": 4, "chunk_size": 4}),
        ("mamba/reference", {}),
        ("mamba/scan", {"chunk_size": 4}),
        ("hyena/fft", {"l_max": 64}),
        ("hyena/direct", {"l_max": 64}),
    ],
)
def test_prefill_runs_the_forward_path(name, config):
    """Most prefills are their forward keeping what it computed: the same work."""
    mixer = build_mixer(name, D, **config)
    assert mixer.prefill_flops(B, 13) == mixer.flops(B, 13)
    assert forward_counted(mixer, 13, prefill=True) == forward_counted(mixer, 13)


@pytest.mark.parametrize("length", [5, 13])
def test_retnet_recurrent_prefill_is_the_chunkwise_form(length):
    """retnet/recurrent's forward loops over steps, but its prefill is the
    chunkwise form: the chunkwise mixer's work, not L steps'."""
    recurrent = retnet("retnet/recurrent", chunk_size=4)
    chunkwise = retnet("retnet/chunkwise", chunk_size=4)
    assert recurrent.prefill_flops(B, length) == chunkwise.flops(B, length)
    assert recurrent.prefill_flops(B, length) != recurrent.flops(B, length)
    assert forward_counted(recurrent, length, prefill=True) == forward_counted(chunkwise, length)


@pytest.mark.parametrize("length", [1, 6])
def test_retnet_parallel_prefill_adds_the_state_product(length):
    """retnet/parallel's prefill is its forward plus the state after the prompt
    in one product (``decayed_sum``), which the counter sees."""
    mixer = retnet("retnet/parallel")
    state_product = length * 2 * state_entries(mixer)
    assert mixer.prefill_flops(B, length) == mixer.flops(B, length) + state_product
    prefill = forward_counted(mixer, length, prefill=True)
    assert prefill == forward_counted(mixer, length) + state_product


# -- backward -----------------------------------------------------------------------
def train_counted(mixer, length: int) -> tuple[int, int]:
    """(forward, forward + backward) as the counter sees them, input gradients included."""
    torch.manual_seed(0)
    x = torch.randn(B, length, mixer.d_model, requires_grad=True)
    return counted(lambda: mixer(x)), counted(lambda: mixer(x).sum().backward())


@pytest.mark.parametrize(
    "name,config",
    [
        ("attention/math", {"n_heads": 4}),
        ("retnet/parallel", {"n_heads": 4}),
        ("retnet/recurrent", {"n_heads": 4}),
        ("mamba/reference", {}),
    ],
)
def test_backward_costs_twice_the_forward_as_train_flops_assumes(name, config):
    mixer = build_mixer(name, D, **config)
    forward, train = train_counted(mixer, 9)
    assert train == 3 * forward
    assert mixer.flops(B, 9, backward=True) == 3 * mixer.flops(B, 9)


@pytest.mark.parametrize("chunk", [4, 9])
def test_retnet_chunkwise_backward_skips_the_key_sums(chunk):
    """retnet/chunkwise's hand-written backward (models/retnet.py ``RetainChunks``)
    takes twice each of the forward's products but the ones that read out the
    normaliser's row sums through the states' key-sum column (2 d_k per padded
    row): the divisor is detached, so they need no gradient."""
    mixer = retnet("retnet/chunkwise", chunk_size=chunk)
    length = 9
    rows = -(-length // chunk) * chunk
    forward, train = train_counted(mixer, length)
    assert train == 3 * forward - B * mixer.n_heads * rows * 2 * 2 * mixer.key_dim
    assert mixer.flops(B, length, backward=True) == 3 * mixer.flops(B, length)


@pytest.mark.parametrize("chunk", [4, 9])
def test_mamba_scan_backward_reads_out_three_products(chunk):
    """mamba/scan's hand-written backward (models/mamba.py ``ChunkedScan``) reads
    d(delta u) = g . B, dB = g . (delta u) and dC = h . dy out as batched matrix
    products, 2 N E FLOPs each per padded position; autograd's backward of the
    forward's C.h product would take two (6 against 4): the counter sees one
    product more than 3x the forward. Everything else it adds is elementwise.
    The analytic count keeps the 3x rule (models/base.py ``train_flops``)."""
    mixer = build_mixer("mamba/scan", D, chunk_size=chunk)
    length = 9
    size = mixer.scan_chunk_size(B, length)
    padded = -(-length // size) * size
    forward, train = train_counted(mixer, length)
    assert train == 3 * forward + B * padded * 2 * mixer.d_inner * mixer.d_state
    assert mixer.flops(B, length, backward=True) == 3 * mixer.flops(B, length)


def test_depthwise_convolutions_backward_costs_twice_its_forward():
    """torch's own counter counts a grouped convolution's weight gradient as if
    it were ungrouped (channels times its forward, where it costs one forward);
    the suite's counter corrects that (suite/measure.py ``conv_backward_flops``),
    so Hyena's backward is 3x its forward but for the filter MLP's first layer:
    it takes positional features, which need no gradient, so its backward is
    one product, not two."""
    mixer = hyena("hyena/direct")
    length, k = 9, mixer.short_filter_order
    streams = mixer.in_proj.out_features
    forward, train = train_counted(mixer, length)
    first = mixer.filter.hidden[0]
    no_feature_grad = 2 * length * first.in_features * first.out_features
    assert train == 3 * forward - no_feature_grad
    assert mixer.flops(B, length, backward=True) == 3 * mixer.flops(B, length)
    x = torch.randn(B, length, D, requires_grad=True)
    with FlopCounterMode(display=False) as torch_counter:
        mixer(x).sum().backward()
    short = 2 * B * streams * (length + k - 1) * k
    long = 2 * B * D * length * length
    overcount = (streams - 1) * short + (mixer.order - 1) * (D - 1) * long
    assert torch_counter.get_total_flops() == train + overcount
