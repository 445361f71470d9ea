"""Profiles: the sizes, lengths, rounds and budgets of one kind of run, in one
place. Command-line options (suite/options.py) override parts of a profile.

- ``smoke``: seconds; what the tests and CI run.
- ``default``: the README's main job, under 20 minutes on a 2-core CPU.
- ``paper``: a GPU, at the RetNet paper's lengths and width.
- ``gpu-smoke``: minutes on one GPU.

A speed sweep runs along one axis of ``schema.AXES``: the swept axis takes
every value of the profile's ``sweeps[axis]``, the others their ``fixed``
value. ``AXIS_FLAGS`` names the options of each axis, so that a new axis is
an entry in schema.AXES, here, and where suite/workloads.py applies it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from schema import Workload

FORWARD, TRAIN_STEP, PREFILL = Workload.FORWARD, Workload.TRAIN_STEP, Workload.PREFILL


@dataclass(frozen=True)
class AxisFlags:
    #: comma-separated values of the axis when it is swept
    values: str
    #: the one value of the axis when another is swept
    fixed: str


AXIS_FLAGS: dict[str, AxisFlags] = {
    "length": AxisFlags("--lengths", "--seq-len"),
    "batch": AxisFlags("--batches", "--batch"),
    "d_model": AxisFlags("--d-models", "--d-model"),
}


@dataclass(frozen=True)
class ModeSpeed:
    """Shapes of one mode-against-mode speed file (suite/test_<family>_speed.py)."""

    lengths: tuple[int, ...]
    d_model: int
    n_heads: int = 4
    chunk_size: int = 128
    #: chunk of the training-step points (forward + backward); None: chunk_size
    train_chunk_size: int | None = None
    #: alternating passes of the interleaved comparisons at the largest length
    passes: int = 5
    #: (batch, length, d_model) of a training-step comparison against attention/sdpa
    #: (mamba: the accuracy runs' shapes); None: no such comparison
    vs_attention: tuple[int, int, int] | None = None
    #: torch threads of the file's comparisons against another implementation
    #: (retnet: torchscale's chunkwise; mamba: attention/sdpa), one point each
    #: (0: the run's own)
    comparison_threads: tuple[int, ...] = (0,)


@dataclass(frozen=True)
class Profile:
    name: str
    #: values of each axis when it is swept (ascending: each point is predicted
    #: from the smaller ones measured before it)
    sweeps: dict[str, tuple[int, ...]]
    #: value of each axis when another axis is swept
    fixed: dict[str, int]
    #: context lengths decode starts from when length is swept (ascending)
    decode_lengths: tuple[int, ...]
    n_layers: int
    n_heads: int
    #: chunk of chunkwise modes (retnet/chunkwise, mamba/scan)
    chunk_size: int
    #: tokens decoded per timed round; the stats are per token
    decode_tokens: int
    #: pytest-benchmark's warm-up rounds, besides the untimed probe call that
    #: always comes first (and warms caches and lazy initialisation up)
    warmup_rounds: int
    min_rounds: int
    max_rounds: int
    #: seconds of timed rounds to aim for per point (fast points get more rounds)
    target_time_s: float
    #: wall-clock limit of one point (build, warm-up, memory, FLOPs and timing)
    time_budget_s: float
    #: length of the agreement check against the family's reference
    check_len: int
    #: the mode-speed files' shapes, by family
    mode_speed: dict[str, ModeSpeed] = field(default_factory=dict)
    #: knobs set for the mixers a pattern matches (a name, a family or a glob:
    #: models.registry.mixer_options_for), e.g. {"mamba/*": {"d_state": 32}};
    #: --mixer-option adds to them. n_heads and chunk_size above are the values
    #: offered to every mixer whose constructor names them
    mixer_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: the longest sequence at which the variants a pattern matches (a name, a family
    #: or a glob, as in mixer_options) run each workload named, e.g.
    #: {"mamba/reference": {"forward": 1024}}; 0: none. Longer points are saved as
    #: skipped, saying so; --lengths lifts every limit. For the token loops: a forward
    #: or prefill that steps through the sequence in Python, whose torch profiler and
    #: FLOP counter (a point's memory and FLOPs) see each of its ~100k small ops
    length_limits: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    #: torch's intra-op threads; 0 keeps torch's default (all cores). One thread
    #: for tiny shapes: more only add synchronisation, and on a busy machine
    #: spinning OpenMP threads slow small ops down many times over
    threads: int = 0
    device: str = "auto"
    dtype: str = "float32"
    #: the profile is meant for a GPU: refuse to fall back to the CPU silently
    needs_cuda: bool = False


SMOKE_MODES = {
    "retnet": ModeSpeed((128, 256), d_model=64, n_heads=2, chunk_size=64, passes=3),
    "mamba": ModeSpeed((256,), d_model=32, passes=3, vs_attention=(4, 16, 16)),
    "hyena": ModeSpeed((512,), d_model=32),
}

#: each family's fastest variant on a GPU (the Triton and CUDA kernels where
#: installed) and its torch variant, which runs wherever torch does
GPU_CHECK_MIXERS = (
    "attention/sdpa",
    "attention/flash-attn",
    "retnet/fla",
    "retnet/chunkwise",
    "mamba/mamba-ssm",
    "mamba/scan",
    "mamba2/fla",
    "mamba2/chunked",
    "hyena/fft",
)

PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke",
        sweeps={"length": (32, 64), "batch": (1, 2, 4), "d_model": (16, 32)},
        fixed={"length": 32, "batch": 1, "d_model": 32},
        decode_lengths=(32, 64),
        n_layers=1,
        n_heads=2,
        chunk_size=16,
        decode_tokens=4,
        warmup_rounds=0,
        min_rounds=2,
        max_rounds=5,
        target_time_s=0.01,
        time_budget_s=10.0,
        check_len=40,
        mode_speed=SMOKE_MODES,
        threads=1,
    ),
    "default": Profile(
        name="default",
        sweeps={
            "length": (1024, 2048, 4096, 8192),
            "batch": (1, 4, 16, 64),
            "d_model": (64, 128, 256, 512),
        },
        fixed={"length": 1024, "batch": 1, "d_model": 128},
        decode_lengths=(1024, 2048, 4096, 8192),
        n_layers=2,
        n_heads=4,
        chunk_size=64,
        decode_tokens=16,
        warmup_rounds=0,
        min_rounds=3,
        max_rounds=20,
        target_time_s=0.3,
        # 8 s (was 15): ~40 points of the token-loop references and of quadratic attention
        # at 8K run out of any budget, and each burnt it whole before the main job's 20
        # minutes had Mamba-2 and MAD's tasks in them
        time_budget_s=8.0,
        check_len=160,
        # one thread per timed point, so that its time is its thread's CPU seconds
        # (schema.timed_rounds), which a shared machine's load leaves alone: with
        # two, each op ends at a barrier where one thread waits for another that
        # waits for a core (2-10x beside two hogs on two cores), a wait no clock
        # of the process tells from work. On this 2-core box the main job takes
        # about as long either way (18 min 4 s from a fresh clone on one thread,
        # before the decode lengths were interleaved)
        threads=1,
        # the references (each checked against its fast variants at check_len) time their
        # forward and training step at the shortest length, and their prefill where it
        # fits (decode's context is a prefill: a decode point is predicted from its
        # growth); decode, one step after a context, at every length. Longer, each took
        # 6-8 s of its 8 s budget or ran out of it (8-10 s burnt): the token loops,
        # whose profiler and FLOP counter (a point's memory and FLOPs) take 20-40 calls'
        # worth, and the O(L^2) forms, whose slope suite/test_hyena_speed.py and
        # attention/sdpa show
        length_limits={
            "attention/math": {FORWARD: 1024, TRAIN_STEP: 1024},
            "retnet/parallel": {FORWARD: 1024, TRAIN_STEP: 1024},
            "hyena/direct": {FORWARD: 1024, TRAIN_STEP: 1024, PREFILL: 4096},
            # the selective scans' token loops: mamba/reference's forward at L=1024 for
            # its slope claim (the mode-speed files time both bare, at 4K and 2K)
            "mamba/reference": {FORWARD: 1024, TRAIN_STEP: 0, PREFILL: 0},
            "mamba2/ref": {FORWARD: 0, TRAIN_STEP: 0, PREFILL: 0},
            # not a reference: its forward steps through the tokens (prefill: chunkwise)
            "retnet/recurrent": {FORWARD: 0, TRAIN_STEP: 0},
        },
        mode_speed={
            # the score work inside chunks grows as L*C and the state work as
            # (L/C)*d_k*d_v: they balance near C = sqrt(d_k * d_v) = sqrt(128 * 256) ~ 181;
            # training against torchscale at the RetNet paper's chunk of 512
            # three alternating passes (not five): the pass-by-pass ratios at L=8192 spread
            # a few percent (ours 0.69-0.80x torchscale's training step), and a pass of
            # the training steps there takes 5 s (suite/test_mamba2_speed.py's shapes too);
            # on the run's one thread only: on two, beside any other load on 2 cores, each
            # op's barrier waits for a core and the comparison took 20-75 s
            "retnet": ModeSpeed(
                (2048, 4096, 8192),
                d_model=512,
                chunk_size=128,
                train_chunk_size=512,
                passes=3,
                comparison_threads=(1,),
            ),
            # training against attention at tasks/accuracy.py's default shapes, on one
            # and on two threads (the accuracy grid runs on one)
            "mamba": ModeSpeed(
                (4096,),
                d_model=128,
                passes=3,
                vs_attention=(32, 64, 64),
                comparison_threads=(1, 2),
            ),
            "hyena": ModeSpeed((8192,), d_model=128),
        },
    ),
    "paper": Profile(
        name="paper",
        # RetNet paper, Table 4 / Figure 6: 2K-8K training, up to 64K inference
        sweeps={
            "length": (2048, 4096, 8192, 16384, 32768, 65536),
            "batch": (1, 4, 16, 64),
            "d_model": (1024, 2048, 4096),
        },
        fixed={"length": 8192, "batch": 1, "d_model": 2048},
        decode_lengths=(2048, 4096, 8192),
        n_layers=2,
        n_heads=8,
        chunk_size=512,
        decode_tokens=64,
        warmup_rounds=2,
        min_rounds=5,
        max_rounds=50,
        target_time_s=2.0,
        time_budget_s=120.0,
        check_len=1100,
        mode_speed={
            "retnet": ModeSpeed((2048, 4096, 8192, 16384), d_model=2048, n_heads=8, chunk_size=512),
            "mamba": ModeSpeed((4096, 16384), d_model=1024, vs_attention=(32, 64, 64)),
            "hyena": ModeSpeed((8192, 65536), d_model=1024),
        },
        device="cuda",
        dtype="bfloat16",
        needs_cuda=True,
    ),
    # scripts/gpu-check.sh runs it with GPU_CHECK_MIXERS in minutes on one GPU:
    # every family's fastest variant up to L 8K (SDPA's FLOP/s there is its figure)
    "gpu-smoke": Profile(
        name="gpu-smoke",
        sweeps={"length": (1024, 4096, 8192), "batch": (1, 8, 32), "d_model": (128, 256, 512)},
        fixed={"length": 1024, "batch": 1, "d_model": 256},
        decode_lengths=(1024, 8192),
        n_layers=2,
        n_heads=4,
        chunk_size=128,
        decode_tokens=16,
        warmup_rounds=1,
        min_rounds=3,
        max_rounds=20,
        target_time_s=0.2,
        time_budget_s=15.0,
        check_len=300,
        mode_speed={
            "retnet": ModeSpeed((1024, 4096), d_model=512, train_chunk_size=512),
            "mamba": ModeSpeed((4096,), d_model=256, vs_attention=(32, 64, 64)),
            "hyena": ModeSpeed((4096,), d_model=256),
        },
        device="cuda",
        dtype="bfloat16",
        needs_cuda=True,
    ),
}
