"""The contract of a saved run: what suite/ writes into a pytest-benchmark
autosave and what reports/ reads back. Torch-free and dependency-free, so
that a report can be made on any machine that has the JSON.

A saved run is pytest-benchmark's JSON plus three top-level keys of ours
(``FAILURES_KEY``, ``OPTIONS_KEY``, ``PARTIAL_KEY``). Every benchmark's
``extra_info`` carries the ``FIELDS`` below, ``None`` where a figure was not
measured (never a silent zero); units are in the names.

    info = make_extra_info(mixer="retnet/chunkwise", workload="forward", seq_len=4096,
                           status=Status.OK, ...)   # the writer: suite/
    problems = field_problems(info)                 # the reader: reports/
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """How a point ended. Points that never started are NOT_RUN; points that
    ran out of memory or time are COST: that is itself a measured cost."""

    OK = "ok"
    OOM = "oom"
    TIMEOUT = "timeout"
    UNAVAILABLE = "unavailable"
    SKIPPED = "skipped"
    FAILED = "failed"
    DIVERGED = "diverged"
    #: the variant disagrees with its family's reference (or prefill+step with
    #: its forward, or it is not causal): never timed, never trained
    REFERENCE_FAILED = "reference_failed"
    #: given by the reader, never written: the saved record breaks this schema
    INVALID = "invalid"


NOT_RUN_STATUSES = (Status.UNAVAILABLE, Status.SKIPPED)
COST_STATUSES = (Status.OOM, Status.TIMEOUT)
#: an accuracy run that ran out of its time budget still measured the accuracy it reached
REACHED_STATUSES = (Status.OK, Status.TIMEOUT)


class Workload(StrEnum):
    FORWARD = "forward"
    TRAIN_STEP = "train_step"
    PREFILL = "prefill"
    #: one token after a context of seq_len; stats are per token
    DECODE = "decode"
    #: one bare mixer, no backbone (the mode-against-mode speed files)
    MIXER_FORWARD = "mixer_forward"
    #: one bare mixer's forward and backward into its weights and input, no backbone
    MIXER_TRAIN_STEP = "mixer_train_step"
    ACCURACY = "accuracy"
    #: a fixed matmul timed at the start of a run: the machine's speed and its spread
    CALIBRATION = "calibration"
    #: the mixers' calls of one workload at one swept value, alternated in passes,
    #: so that a slow phase of the machine hits them all alike: ratios come from here
    INTERLEAVED = "interleaved"


SPEED_WORKLOADS = (Workload.FORWARD, Workload.TRAIN_STEP, Workload.PREFILL, Workload.DECODE)
#: workloads whose slopes come from each contender's values alternated pass by
#: pass (suite/test_speed.py, test_interleaved_values): a decode step is ~1 ms of
#: small ops, whose time drifts 2x between points timed minutes apart on a
#: shared machine, quiet or not, more than a point's rounds show. The
#: contenders only: a reference's quadratic or token-loop prefill at every
#: length cost most of the minute these passes took for all nine variants; a
#: slope from its points decides no claim (reports/claims.py)
VALUES_INTERLEAVED = (Workload.DECODE,)
#: points of no one mixer: the machine's calibration matmul, the interleaved passes
MIXERLESS_WORKLOADS = (Workload.CALIBRATION, Workload.INTERLEAVED)


@dataclass(frozen=True)
class Axis:
    """A quantity a speed sweep can run along (``--sweep NAME``)."""

    name: str
    #: the extra_info field that holds its value
    key: str
    #: prefix of its value in pytest ids: ``L4096``, ``B16``, ``D512``
    id_prefix: str
    label: str


AXES: dict[str, Axis] = {
    axis.name: axis
    for axis in (
        Axis("length", "seq_len", "L", "sequence length (tokens)"),
        Axis("batch", "batch", "B", "batch size (sequences)"),
        Axis("d_model", "d_model", "D", "model width (d_model)"),
    )
}
DEFAULT_AXIS = "length"


def point_id(mixer: str, values: Mapping[str, int]) -> str:
    """The pytest id of a point: the mixer, then the value of every axis that
    is not the default length, then the length: ``retnet/recurrent-B16-L4096``."""
    parts = [mixer]
    parts += [
        f"{AXES[name].id_prefix}{value}" for name, value in values.items() if name != "length"
    ]
    if "length" in values:
        parts.append(f"{AXES['length'].id_prefix}{values['length']}")
    return "-".join(parts)


# -- the extra_info fields ---------------------------------------------------------------
INT, FLOAT, TEXT, MAPPING, LIST, BOOL = (int,), (int, float), (str,), (dict,), (list,), (bool,)


@dataclass(frozen=True)
class Field:
    name: str
    #: the JSON types a value may have (None is always allowed)
    types: tuple[type, ...]
    doc: str


# -- the metrics ------------------------------------------------------------------------
# What a metric is, once: every table, figure, comparison and summary of reports/
# reads it from here, and a saved metric's extra_info field is made from its entry.
# A new per-point metric is its entry below, its meter (suite/measure.py's
# point_meters, or the suite function that counts it) and a test.


@dataclass(frozen=True)
class Unit:
    """How the numbers of a column read."""

    #: what a person reads in a header: "s", "B", "tokens/s"
    name: str
    #: what follows a number in a cell: "s", "B", "/s" (with its prefix: "ms", "MiB", "k/s")
    symbol: str
    #: how a column in this unit ends ("_s", "_bytes"); "": only the metrics that name it
    suffix: str
    #: one of SCALES: how its numbers are scaled
    scale: str


#: "binary": KiB, MiB; "decimal": k, M, G; "subsecond": ms, µs; "two_decimals": 0.52;
#: "plain": three significant digits
SCALES = ("binary", "decimal", "subsecond", "two_decimals", "plain")
SECONDS = Unit("s", "s", "_s", "subsecond")
BYTES = Unit("B", "B", "_bytes", "binary")
TOKENS_PER_S = Unit("tokens/s", "/s", "_per_s", "decimal")
FLOP_PER_S = Unit("FLOP/s", "/s", "_per_s", "decimal")
FLOP = Unit("FLOP", "FLOP", "_flops", "decimal")
RATIO = Unit("×", "×", "_x", "two_decimals")
EXPONENT = Unit("exponent", "", "_slope", "two_decimals")
R2 = Unit("R²", "", "_r2", "two_decimals")
FRACTION = Unit("fraction", "", "", "plain")
UNITS = (SECONDS, BYTES, TOKENS_PER_S, FLOP_PER_S, FLOP, RATIO, EXPONENT, R2, FRACTION)


class Place(StrEnum):
    """Where a report shows a metric."""

    #: a column of the cost table of each workload in Metric.tables (training
    #: cost: train_step; inference cost: decode), with its ratio to attention
    TABLES = "tables"
    #: a figure of its own against each swept axis, a panel per workload it has
    FIGURES = "figures"
    #: compared point by point between two runs (``python -m reports compare``)
    COMPARE = "compare"
    #: the summary: with Metric.best, the mixer best at it per run and workload;
    #: without, a column of the summary's decode table (a decode metric)
    SUMMARY = "summary"


LOWER, HIGHER = "lower", "higher"
#: how a metric's spread follows its point's time: proportionally or inversely
#: (spread.bounds); a metric of neither is counted, without an interval
TIMED, RATE = "timed", "rate"


@dataclass(frozen=True)
class Metric:
    """One saved (or, from pytest-benchmark's stats, derived) metric of a point."""

    field: str
    unit: Unit
    #: what a person reads: "Peak memory"
    label: str
    #: which way is better: LOWER or HIGHER
    direction: str
    #: the workloads whose points have it
    workloads: tuple[Workload, ...]
    shown: frozenset[Place]
    #: the word its derived columns start with: memory_vs_attention_x, memory_a_bytes
    short: str
    #: the workloads whose cost table has it as a column (Place.TABLES)
    tables: tuple[Workload, ...] = ()
    #: Place.SUMMARY: the summary's word for the mixer best at it ("fastest")
    best: str = ""
    #: Place.FIGURES: the file stem of its figure
    figure: str = ""
    #: TIMED, RATE or None (counted)
    timing: str | None = None
    #: written by the suite into extra_info; False: computed by the reader
    saved: bool = True
    #: the JSON types of its saved value
    types: tuple[type, ...] = FLOAT
    doc: str = ""

    @property
    def header(self) -> str:
        """What a person reads atop its column: 'Peak memory (B)'."""
        return f"{self.label} ({self.unit.name})"

    @property
    def better(self) -> int:
        """+1 where higher is better, -1 where lower is."""
        return 1 if self.direction == HIGHER else -1

    def column(self, part: str) -> str:
        """A column derived from this metric, in its unit: column("a") of
        peak_mem_bytes is memory_a_bytes, of accuracy accuracy_a."""
        return f"{self.short}_{part}{self.unit.suffix}"

    def shows(self, place: Place, workload: Workload | str | None = None) -> bool:
        """Whether it is shown at ``place`` (for ``workload``, where given)."""
        if place not in self.shown:
            return False
        if workload is None:
            return True
        return workload in (self.tables if place == Place.TABLES else self.workloads)


_PER_POINT = (*SPEED_WORKLOADS, Workload.MIXER_FORWARD, Workload.MIXER_TRAIN_STEP)
METRICS: tuple[Metric, ...] = (
    Metric(
        "time_s", SECONDS, "Time per call", LOWER, SPEED_WORKLOADS,
        frozenset(Place), "time", tables=(Workload.TRAIN_STEP,), best="fastest",
        figure="time", timing=TIMED, saved=False,
        doc="the median of the point's timed rounds (timed_rounds); decode: per token",
    ),
    Metric(
        "latency_per_token_s", SECONDS, "Latency per token", LOWER, (Workload.DECODE,),
        frozenset({Place.TABLES, Place.SUMMARY}), "latency", tables=(Workload.DECODE,),
        timing=TIMED, saved=False, doc="decode's time: one token after a context of seq_len",
    ),
    Metric(
        "peak_mem_bytes", BYTES, "Peak memory", LOWER, SPEED_WORKLOADS,
        frozenset(Place), "memory", tables=(Workload.TRAIN_STEP, Workload.DECODE),
        best="least_memory", figure="peak_memory", types=INT,
        doc="allocated peak above what was allocated when the call began, one call (CUDA: "
        "the caching allocator's max_memory_allocated; CPU: torch's profiler's events)",
    ),
    Metric(
        "peak_reserved_bytes", BYTES, "Peak reserved memory", LOWER, SPEED_WORKLOADS,
        frozenset({Place.TABLES}), "reserved", tables=(Workload.TRAIN_STEP, Workload.DECODE),
        types=INT,
        doc="CUDA: the caching allocator's reserved peak (max_memory_reserved) above what it "
        "reserved when the call began, the cache emptied first, one call; None on a CPU",
    ),
    Metric(
        "device_mem_bytes", BYTES, "Process device memory (NVML)", LOWER, SPEED_WORKLOADS,
        frozenset({Place.TABLES}), "device_memory", tables=(Workload.TRAIN_STEP, Workload.DECODE),
        types=INT,
        doc="CUDA: the process's memory on the GPU as NVML counts it (its CUDA context, the "
        "allocator's pool, libraries' own), right after one call; None on a CPU or without "
        "pynvml",
    ),
    Metric(
        "state_bytes", BYTES, "State / KV cache", LOWER, (*_PER_POINT, Workload.ACCURACY),
        frozenset({Place.TABLES, Place.SUMMARY}), "state", tables=(Workload.DECODE,),
        types=INT,
        doc="decoding state / KV cache after seq_len tokens, at the point's batch "
        "(accuracy points: batch 1)",
    ),
    Metric(
        "tokens_per_s", TOKENS_PER_S, "Throughput", HIGHER, (*_PER_POINT, Workload.CALIBRATION),
        frozenset({Place.TABLES, Place.FIGURES}), "tokens",
        tables=(Workload.TRAIN_STEP, Workload.DECODE), figure="tokens_per_s", timing=RATE,
        doc="tokens per call over the point's seconds per call (timed_rounds)",
    ),
    Metric(
        "achieved_flops_per_s", FLOP_PER_S, "Achieved FLOP/s", HIGHER, SPEED_WORKLOADS,
        frozenset(), "flops", timing=RATE, saved=False,
        doc="analytic FLOPs (else counted) over the point's time: the FLOP/s section's own figure",
    ),
    Metric(
        "accuracy", FRACTION, "Test accuracy", HIGHER, (Workload.ACCURACY,),
        frozenset({Place.COMPARE}), "accuracy", doc="test accuracy, a fraction",
    ),
)  # fmt: skip
METRICS_BY_FIELD = {m.field: m for m in METRICS}


def metrics_at(place: Place, workload: Workload | str | None = None) -> tuple[Metric, ...]:
    """The metrics shown at ``place`` (for ``workload``), in METRICS' order."""
    return tuple(m for m in METRICS if m.shows(place, workload))


def unit_of(column: str) -> Unit | None:
    """A metric's unit, else the unit whose suffix ends ``column`` (the
    longest: tokens_per_s is per second, not seconds); None: a plain number."""
    if column in METRICS_BY_FIELD:
        return METRICS_BY_FIELD[column].unit
    ending = [
        u for u in UNITS if u.suffix and (column.endswith(u.suffix) or column == u.suffix[1:])
    ]
    return max(ending, key=lambda u: len(u.suffix)) if ending else None


def metric_problems(metrics: tuple[Metric, ...]) -> list[str]:
    """What in a table of metrics breaks its own rules (a test checks METRICS)."""
    problems = []
    for m in metrics:
        if m.unit.suffix and not m.field.endswith(m.unit.suffix):
            problems.append(
                f"{m.field} is in {m.unit.name}: its name must end with {m.unit.suffix}"
            )
        if m.direction not in (LOWER, HIGHER):
            problems.append(f"{m.field}: direction {m.direction!r} is neither {LOWER} nor {HIGHER}")
        if Place.FIGURES in m.shown and not m.figure:
            problems.append(f"{m.field} is shown in figures: give it a figure stem")
        if Place.TABLES in m.shown and not set(m.tables) <= set(m.workloads):
            problems.append(f"{m.field}: its tables' workloads are not all among its workloads")
        if m.unit.scale not in SCALES:
            problems.append(f"{m.field}: scale {m.unit.scale!r} is none of {SCALES}")
    fields = [m.field for m in metrics]
    twice = sorted({f for f in fields if fields.count(f) > 1})
    problems += [f"{f} is in the metrics twice" for f in twice]
    return problems


FIELDS: tuple[Field, ...] = (
    Field("mixer", TEXT, "family/variant"),
    Field("family", TEXT, "the part of mixer before the slash"),
    Field("variant", TEXT, "the part of mixer after the slash"),
    Field("mixer_class", TEXT, "package.module:QualName of the class that ran"),
    Field("workload", TEXT, "one of Workload"),
    Field("task", TEXT, "accuracy: the task's name; None for speed workloads"),
    Field("sweep", TEXT, "the axis the point's sweep ran along (AXES); None: not a sweep"),
    Field("seq_len", INT, "tokens per sequence (decode: the context length)"),
    Field("batch", INT, "sequences per call"),
    Field("d_model", INT, "model width"),
    Field("n_layers", INT, "mixer blocks in the model"),
    Field("dtype", TEXT, "float32, bfloat16, ..."),
    Field("device", TEXT, "cpu or cuda"),
    Field("params", INT, "trainable parameters of the model"),
    Field(
        "flops",
        FLOAT,
        "analytic useful FLOPs per timed call (models/attention.py states the "
        "convention); None on accuracy points",
    ),
    Field("flops_counted", FLOAT, "torch's FlopCounterMode count; None where it sees nothing"),
    Field("val_accuracy", FLOAT, "validation accuracy, a fraction"),
    Field("seed_accuracies", LIST, "accuracy: [{seed, accuracy, status}] at the chosen lr"),
    Field("lr", FLOAT, "accuracy: the learning rate chosen on validation"),
    Field("weight_decay", FLOAT, "accuracy: the weight decay chosen on validation with lr"),
    Field(
        "lr_grid",
        LIST,
        "accuracy: [{lr, weight_decay, val_accuracy, status}] of seed 0 at every pair of "
        "the task's rate x weight-decay grid, chosen from",
    ),
    Field("chance_accuracy", FLOAT, "accuracy: the task's majority-class accuracy on test"),
    Field("tokens_seen", INT, "accuracy: training tokens of one run"),
    Field("step_s", FLOAT, "accuracy: median seconds per training step"),
    Field("task_config", MAPPING, "accuracy: the task's settings, e.g. {num_kv_pairs: 8}"),
    Field("params_target", INT, "accuracy: the attention model's params this model matches"),
    Field(
        "curve",
        LIST,
        "accuracy: the learning curve of every seed at the chosen lr, [{seed, points: [{step, "
        "val_accuracy, cpu_s, flops}]}]: validation accuracy on a fixed subset of the "
        "validation split at regular steps, with the training's CPU seconds (the process's, "
        "evaluation excluded) and analytic FLOPs spent by then (flops None where a mixer has "
        "no analytic count)",
    ),
    Field(
        "extrapolation",
        LIST,
        "accuracy, length-extrapolation tasks: every seed's test accuracy at each longer "
        "length, trained at seq_len, [{seed, accuracies: [{seq_len, accuracy}]}]",
    ),
    Field(
        "positional",
        TEXT,
        "how the mixer knows a token's position (models.base.Mixer.positional), e.g. rotary",
    ),
    Field(
        "fixed_state",
        BOOL,
        "the mixer's decoding state is fixed in size, whatever the length (declared by its "
        "class, models.base.Mixer.fixed_state); False: it grows (a KV cache, a history)",
    ),
    Field("status", TEXT, "one of Status"),
    Field("reason", TEXT, "why the status is not ok"),
    Field("mixer_config", MAPPING, "the family knobs the mixer was built with"),
    Field("ref_rel_err", FLOAT, "max |y - y_ref| / max |y_ref| against the family reference"),
    Field("round_times_s", LIST, "seconds per call of every timed round, in the order timed"),
    Field(
        "round_cpu_s",
        LIST,
        "one-thread CPU runs: the timing thread's CPU seconds per call of every timed round "
        "(time.thread_time), in round_times_s's order; the point's time (timed_rounds)",
    ),
    Field("contention", FLOAT, "how much other work slowed the point (1: not; suite/contention)"),
    Field(
        "contended",
        BOOL,
        "contention above the suite's threshold, or the timing thread waited for a core "
        "in most rounds (waited_for_cores): read its time with care",
    ),
    Field(
        "timer",
        TEXT,
        "what timed the rounds: cuda_events (each call between two CUDA events), "
        "thread_cpu (round_cpu_s is the time) or host (perf_counter around a synchronised call)",
    ),
    Field("warmup_s", FLOAT, "seconds of untimed calls before the timed rounds"),
    Field("l2_flushed", BOOL, "a buffer larger than the L2 cache was written before each call"),
    Field(
        "cuda_graph",
        TEXT,
        "decode under --cuda-graphs: 'captured' (one step captured, replayed each token) or "
        "'not captured: <why>' (timed uncaptured); None: not asked",
    ),
    Field("of_workload", TEXT, "interleaved: the workload whose calls were interleaved"),
    Field("interleaved_s", MAPPING, "interleaved: {mixer: seconds per call of each pass}"),
    Field(
        "interleaved_cpu_s",
        MAPPING,
        "interleaved, one-thread CPU runs: {mixer: the timing thread's CPU seconds per call "
        "of each pass}; the ratios come from these",
    ),
    # the saved metrics: their entries in METRICS
    *(Field(m.field, m.types, m.doc) for m in METRICS if m.saved),
)
FIELDS_BY_NAME = {f.name: f for f in FIELDS}
EXTRA_INFO_KEYS = tuple(FIELDS_BY_NAME)
NUMERIC_KEYS = tuple(f.name for f in FIELDS if f.types in (INT, FLOAT))

#: top-level keys of the saved JSON beside pytest-benchmark's own
FAILURES_KEY = "mixbench_failures"  # points that did not run: {name, fullname, group, extra_info}
OPTIONS_KEY = "mixbench_options"  # the run's resolved options (suite/options.py)
PARTIAL_KEY = "mixbench_partial"  # true when the run was interrupted before its end
#: options the shards of one run may hold different values of (each machine its own threads,
#: workers and data folder); every other option must match for shards to be merged
PER_MACHINE_OPTIONS = frozenset(
    {"shard", "shard_group", "torch_threads", "workers", "ray_address", "data_dir"}
)
#: pytest-benchmark's statistics a report reads, all in seconds but rounds and iterations
STATS_KEYS = ("min", "max", "mean", "median", "stddev", "iqr", "q1", "q3", "rounds", "iterations")
#: the statistic every time and every throughput is computed from
TIME_STAT = "median"
#: the prefix of the LRA release's tasks (tasks/ names them lra-<task>)
LRA_PREFIX = "lra-"
#: every accuracy model is sized to within this fraction of the attention
#: model's parameters, per task (DESIGN.md: a fair comparison)
PARAMS_TOLERANCE = 0.05
MQAR_PREFIX = "mqar"
_MQAR_NAME = re.compile(rf"^{MQAR_PREFIX}-L(\d+)-kv(\d+)$")


def mqar_task_name(seq_len: int, num_kv_pairs: int) -> str:
    """The name of an MQAR sweep point: ``mqar-L{seq_len}-kv{pairs}``."""
    return f"{MQAR_PREFIX}-L{seq_len}-kv{num_kv_pairs}"


def parse_mqar_name(task: Any) -> tuple[int, int] | None:
    """(seq_len, num_kv_pairs) of a name ``mqar_task_name`` wrote, else None."""
    match = _MQAR_NAME.match(task) if isinstance(task, str) else None
    return (int(match.group(1)), int(match.group(2))) if match else None


#: a round whose thread ran for less than this share of its wall time waited
#: for a core behind other work
UNIMPEDED_SHARE = 0.9


def cpu_pairs(wall_s: Any, cpu_s: Any) -> bool:
    """Whether ``cpu_s`` holds a CPU time for each round of ``wall_s``."""
    if not isinstance(wall_s, list | tuple) or not isinstance(cpu_s, list | tuple):
        return False
    return len(wall_s) == len(cpu_s) and all(is_of(v, FLOAT) for v in (*wall_s, *cpu_s))


def timed_rounds(wall_s: Any, cpu_s: Any) -> Any:
    """The seconds per call of each round that a point's time is the median
    of: the thread's CPU seconds where they were saved (a one-thread CPU run,
    where that thread runs every op: what the round cost, without the waits
    for a core behind other work), else the wall seconds."""
    return list(cpu_s) if cpu_pairs(wall_s, cpu_s) else wall_s


def waited_for_cores(wall_s: Any, cpu_s: Any) -> bool:
    """True where the thread ran for less than UNIMPEDED_SHARE of the wall
    time in most rounds: its wall time was the load's as much as its own."""
    if not cpu_pairs(wall_s, cpu_s):
        return False
    shares = sorted(c / w for w, c in zip(wall_s, cpu_s, strict=True) if w > 0)
    return bool(shares) and shares[len(shares) // 2] < UNIMPEDED_SHARE


def values_key(mixer: str, sweep: str, value: int) -> str:
    """The key of one swept value in an interleaved point that alternates one
    mixer's calls over several values of its sweep: ``mamba/scan@L512``."""
    return f"{mixer}@{AXES[sweep].id_prefix}{value}"


def values_of_keys(keys: Any, sweep: Any) -> dict[str, int] | None:
    """{key: swept value} where every key is one mixer's ``values_key`` along
    ``sweep``; None for an interleaved point of several mixers."""
    if sweep not in AXES or not keys:
        return None
    prefix, found, mixers = AXES[sweep].id_prefix, {}, set()
    for key in keys:
        mixer, at, tail = str(key).rpartition("@")
        number = tail[len(prefix) :]
        if not at or not tail.startswith(prefix) or not number.isdigit():
            return None
        found[key] = int(number)
        mixers.add(mixer)
    return found if len(mixers) == 1 else None


def throughput(tokens_per_call: int, seconds_per_call: float | None) -> float | None:
    """Tokens per second from the TIME_STAT seconds of one call; None unmeasured."""
    return tokens_per_call / seconds_per_call if seconds_per_call else None


def make_extra_info(**values: Any) -> dict[str, Any]:
    """Every field, None where not given; a key, type, workload or status
    outside the schema is an error, so that a typo cannot write a column the
    reports never read."""
    unknown = set(values) - set(EXTRA_INFO_KEYS)
    if unknown:
        raise ValueError(f"unknown extra_info keys {sorted(unknown)}; allowed: {EXTRA_INFO_KEYS}")
    info = dict.fromkeys(EXTRA_INFO_KEYS)
    info.update({k: str(v) if isinstance(v, StrEnum) else v for k, v in values.items()})
    if "/" in str(info["mixer"]) and info["family"] is None:
        info["family"], info["variant"] = str(info["mixer"]).split("/", 1)
    problems = field_problems(info)
    if problems:
        raise ValueError("; ".join(problems))
    return info


def field_problems(info: Mapping[str, Any]) -> list[str]:
    """What in one extra_info breaks the schema: a value of the wrong type, an
    unknown workload or status. Keys the schema does not name are allowed
    (a speed file may add its own) and absent keys are None (older runs)."""
    problems = []
    for name, value in info.items():
        known = FIELDS_BY_NAME.get(name)
        if known is None or value is None:
            continue
        if not is_of(value, known.types):
            expected = " or ".join(t.__name__ for t in known.types)
            problems.append(f"{name} is {value!r}, not {expected}")
    for name, enum in (("workload", Workload), ("status", Status)):
        value = info.get(name)
        if isinstance(value, str) and value not in enum._value2member_map_:
            choices = ", ".join(enum._value2member_map_)
            problems.append(f"{name} {value!r} is none of {choices}")
    return problems


def is_of(value: Any, types: tuple[type, ...]) -> bool:
    # bool is an int in Python but never a count or a size in JSON
    if isinstance(value, bool):
        return bool in types
    if isinstance(value, float) and not math.isfinite(value) and float in types:
        return True
    return isinstance(value, types)


def stats_problems(stats: Any) -> list[str]:
    """What in a benchmark's ``stats`` is not pytest-benchmark's shape."""
    if not isinstance(stats, Mapping):
        return [f"stats is {stats!r}, not an object of timings"]
    return [
        f"stats.{key} is {stats[key]!r}, not a number"
        for key in STATS_KEYS
        if stats.get(key) is not None and not is_of(stats[key], FLOAT)
    ]
