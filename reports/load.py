"""Find autosaved runs, read them through schema.py, and flatten every point
into one tidy table.

A point is one benchmark of one run: a timed benchmark from ``benchmarks`` or
a point that did not run, from the harness's ``schema.FAILURES_KEY``. Each row
carries every ``schema.FIELDS`` key (None where an older run lacks it), any
further extra_info keys, the timing statistics in seconds, the swept axis and
its value, and a summary of the run's machine_info, so that tables and
figures never go back to the JSON.

The reader validates: a field of the wrong type is a warning naming the file,
the benchmark and the field, and the point gets the reader's own status
``Status.INVALID`` (never ok); a file that plain pytest-benchmark wrote (not this
suite) is named as such and skipped.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from schema import (
    AXES,
    DEFAULT_AXIS,
    EXTRA_INFO_KEYS,
    FAILURES_KEY,
    FIELDS_BY_NAME,
    INT,
    MIXERLESS_WORKLOADS,
    NOT_RUN_STATUSES,
    NUMERIC_KEYS,
    OPTIONS_KEY,
    PARTIAL_KEY,
    PER_MACHINE_OPTIONS,
    SPEED_WORKLOADS,
    STATS_KEYS,
    TIME_STAT,
    Status,
    Workload,
    field_problems,
    is_of,
    stats_problems,
    values_of_keys,
)

from .spread import pass_times, point_rounds

#: the reader's own status, beside schema.Status: a record the schema rejects

#: points never drawn at their swept value: they never ran (or cannot be trusted)
NOT_DRAWN = (*NOT_RUN_STATUSES, Status.REFERENCE_FAILED, Status.INVALID)
#: runs from before Status.REFERENCE_FAILED failed such a variant with this in its reason
LEGACY_REFERENCE_REASON = "family reference"
#: pytest-benchmark's statistics as columns, in seconds (rounds and iterations are counts)
STAT_COLUMNS = {
    key: key if key in ("rounds", "iterations") else f"time_{key}_s" for key in STATS_KEYS
}
#: machine_info key of the measured matmul peak (FLOP/s) the FLOP/s figure draws
MATMUL_PEAK_KEY = "matmul_peak_flops_per_s"
AUTOSAVE_TIME = re.compile(r"(\d{8}_\d{6})")
RUN_ID = re.compile(r"^(\d+)")
MIXBENCH_KEYS = (FAILURES_KEY, OPTIONS_KEY, PARTIAL_KEY)
#: an autosave larger than this, or holding more points, is not one this suite wrote (a
#: paper run with every round saved is a few MB): reading it could exhaust the memory
MAX_AUTOSAVE_BYTES = 32 * 2**20
MAX_POINTS = 100_000
#: the most FLOP/s a measured matmul peak can plausibly be (an exaFLOP/s, some hundred
#: times the largest accelerator's): above it, or not finite, the value is invalid
MAX_MATMUL_PEAK_FLOPS_PER_S = 1e18


class ReportError(Exception):
    """A problem the user has to fix; the command prints it and exits non-zero."""


class SkippedFileWarning(UserWarning):
    """A file under the storage that is not a readable autosave of this suite."""


class InvalidPointWarning(UserWarning):
    """A benchmark whose record breaks the schema: it is kept, never as ok."""


class RunChoiceWarning(UserWarning):
    """The run a report shows is not the one a plain 'latest' would suggest."""


class ShardWarning(RunChoiceWarning):
    """The shards of one group are incomplete, saved a point twice, or ran on
    different hardware: what the merged run shows is not one plain run."""


@dataclass(frozen=True)
class RunFile:
    path: Path
    machine_dir: str
    run_id: str
    saved_at: str  # 'YYYYMMDD_HHMMSS', sortable
    #: the parsed file, once read (a run chosen as 'latest' was read to choose it)
    data: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    @property
    def ref(self) -> str:
        return f"{self.machine_dir}/{self.run_id}"


@dataclass(frozen=True)
class ShardOf:
    """An autosave written with ``--shard K/N``: the K-th share of its group."""

    group: str
    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


SHARD_TEXT = re.compile(r"\s*([0-9]+)\s*/\s*([0-9]+)\s*")


def shard_of(data: Mapping[str, Any] | None) -> ShardOf | None:
    """The shard an autosave is, from ``mixbench_options.shard`` ("K/N") and
    ``shard_group``; None for a run that was not sharded."""
    options = mapping(data or {}, OPTIONS_KEY)
    text, group = options.get("shard"), options.get("shard_group")
    match = SHARD_TEXT.fullmatch(str(text)) if text is not None else None
    if match is None or not group:
        return None
    index, count = int(match.group(1)), int(match.group(2))
    return ShardOf(str(group), index, count) if 1 <= index <= count else None


def group_label(group: str, count: int, present: int) -> str:
    """How a merged shard group is named in every table and figure."""
    shards = f"{count} shards" if present >= count else f"{present} of {count} shards"
    return f"group {group} ({shards})"


# -- finding runs ---------------------------------------------------------------


def shown_name(text: str) -> str:
    """A file or folder name as text any page can hold: bytes that are not UTF-8
    (which Python keeps as lone surrogates) written as ``\\xff`` escapes."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def run_file(path: Path) -> RunFile:
    match = RUN_ID.match(path.name)
    stamp = AUTOSAVE_TIME.search(path.name)
    if stamp:
        saved_at = stamp.group(1)
    else:
        saved_at = datetime.fromtimestamp(path.stat().st_mtime, UTC).strftime("%Y%m%d_%H%M%S")
    run_id = match.group(1) if match else shown_name(path.stem)
    return RunFile(path, shown_name(path.parent.name), run_id, saved_at)


def list_run_files(storage: Path) -> list[RunFile]:
    """Every autosave under ``storage``, oldest first."""
    if not storage.is_dir():
        return []
    files = [run_file(p) for p in storage.rglob("*.json") if p.is_file()]
    return sorted(files, key=lambda f: (f.saved_at, f.run_id, str(f.path)))


def no_runs_message(storage: Path) -> str:
    return (
        f"no autosaved runs in {storage}: run `python -m pytest suite/ --benchmark-autosave` "
        f"first, or point --storage at the folder that holds them"
    )


def read(found: RunFile) -> RunFile:
    """``found`` with its parsed data (None: unreadable, with a warning)."""
    if found.data is not None:
        return found
    data = read_autosave(found.path)
    return RunFile(found.path, found.machine_dir, found.run_id, found.saved_at, data)


def is_partial(data: Mapping[str, Any] | None) -> bool:
    return bool(data) and data.get(PARTIAL_KEY) is True


def order(found: RunFile) -> tuple[str, str, str]:
    return (found.saved_at, found.run_id, str(found.path))


def group_members(found: RunFile, available: Sequence[RunFile], cache: dict) -> list[RunFile]:
    """``found`` and, where it is a shard, every readable autosave of its group."""
    shard = shard_of(found.data)
    if shard is None:
        return [found]
    members = [found]
    for other in available:
        if other.path == found.path:
            continue
        if other.path not in cache:
            cache[other.path] = read(other)
        other = cache[other.path]
        mine = shard_of(other.data)
        if other.data is not None and mine is not None and mine.group == shard.group:
            members.append(other)
    return members


def newest_readable(available: Sequence[RunFile], count: int = 1) -> list[RunFile]:
    """The ``count`` newest runs that can be read and were not interrupted,
    saying which newer files were passed over and why; where too few complete
    runs exist, partial ones fill in (marked as such in the report). The
    shards of one group (``--shard K/N``) are one run, taken as a whole."""
    complete: list[list[RunFile]] = []
    partial: list[list[RunFile]] = []
    unreadable: list[RunFile] = []
    cache: dict[Path, RunFile] = {}
    taken: set[str] = set()
    for found in reversed(available):
        found = cache.setdefault(found.path, read(found))
        if found.data is None:
            unreadable.append(found)
            continue
        shard = shard_of(found.data)
        if shard is not None:
            if shard.group in taken:
                continue
            taken.add(shard.group)
        unit = group_members(found, available, cache)
        (partial if any(is_partial(f.data) for f in unit) else complete).append(unit)
        if len(complete) == count:
            break
    chosen_units = complete + partial[: count - len(complete)]
    chosen = sorted((f for unit in chosen_units for f in unit), key=order)
    if not chosen:
        return []
    newest = max(chosen, key=order)
    names = ", ".join(unit_name(unit) for unit in sorted(chosen_units, key=lambda u: order(u[0])))
    for skipped in unreadable:
        warnings.warn(
            f"the newest run {skipped.ref} ({skipped.path.name}) cannot be read; reporting "
            f"{names}, the newest readable (name another with --run {newest.ref})",
            RunChoiceWarning,
            3,
        )
    for unit in partial:
        passed = unit_name(unit)
        if unit in chosen_units:
            warnings.warn(
                f"run {passed} was interrupted before its end ({PARTIAL_KEY}): "
                "reported as partial, it lacks the points it did not reach",
                RunChoiceWarning,
                3,
            )
        else:
            warnings.warn(
                f"run {passed} is newer but was interrupted ({PARTIAL_KEY}); reporting "
                f"{names}, the newest complete run (pass --run {unit[-1].ref} for the partial one)",
                RunChoiceWarning,
                3,
            )
    return chosen


def unit_name(unit: Sequence[RunFile]) -> str:
    """A run as the warnings name it: its file, or its shard group and files."""
    shard = shard_of(unit[0].data)
    if shard is None:
        return unit[0].ref
    return f"shard group {shard.group} ({', '.join(f.ref for f in unit)})"


def resolve_run(selector: str, available: Sequence[RunFile], storage: Path) -> list[RunFile]:
    """One --run value: ``latest``, ``all``, an id (``0003``, ``3``,
    ``<machine-dir>/0003``) or a path to a file or folder of autosaves."""
    if selector in ("latest", "all"):
        if not available:
            raise ReportError(no_runs_message(storage))
        if selector == "all":
            return list(available)
        chosen = newest_readable(available)
        if not chosen:
            names = ", ".join(f.path.name for f in available)
            raise ReportError(f"none of the runs in {storage} can be read ({names})")
        return chosen
    path = Path(selector)
    if path.is_file():
        return [run_file(path)]
    if path.is_dir():
        found = list_run_files(path)
        if not found:
            raise ReportError(no_runs_message(path))
        return found
    match = re.fullmatch(r"(?:(.+)/)?(\d+)", selector)
    if not match:
        raise ReportError(
            f"--run {selector!r} is neither 'latest', 'all', a run id like 0003 "
            "nor an existing path"
        )
    machine_dir, number = match.group(1), int(match.group(2))
    hits = [
        f
        for f in available
        if f.run_id.isdigit()
        and int(f.run_id) == number
        and (machine_dir is None or f.machine_dir == machine_dir)
    ]
    if not hits:
        known = ", ".join(f.ref for f in available) or "none"
        raise ReportError(f"no run {selector!r} in {storage}; available: {known}")
    if len(hits) > 1:
        options = ", ".join(f.ref for f in hits)
        raise ReportError(f"run {selector!r} is ambiguous in {storage}; say which: {options}")
    return hits


def one_run(selector: str, found: Sequence[RunFile], available: Sequence[RunFile]) -> list[RunFile]:
    """The one run a selector names for a comparison: an autosave, with the rest
    of its shard group where it is a shard, or the autosaves of one shard group
    (a folder of them); ReportError where it names several runs."""
    cache: dict[Path, RunFile] = {}
    files = [cache.setdefault(f.path, read(f)) for f in found]
    if len(files) == 1:
        return group_members(files[0], available, cache)
    groups = {shard.group if shard else None for shard in (shard_of(f.data) for f in files)}
    if len(groups) == 1 and None not in groups:
        return files
    raise ReportError(
        f"{selector!r} names {len(files)} runs; a comparison takes one each: an autosave, "
        "or the shards of one group"
    )


def select_run_files(storage: Path, selectors: Sequence[str]) -> list[RunFile]:
    available = list_run_files(storage)
    chosen: dict[Path, RunFile] = {}
    for selector in selectors or ["latest"]:
        for found in resolve_run(selector, available, storage):
            chosen.setdefault(found.path.resolve(), found)
    return list(chosen.values())


# -- reading one run ------------------------------------------------------------


def written_by_plain_pytest_benchmark(data: Mapping[str, Any]) -> bool:
    """No key of ours at the top and no mixer in any benchmark: another
    project's pytest-benchmark autosave, not this suite's."""
    if any(key in data for key in MIXBENCH_KEYS):
        return False
    for entry in data["benchmarks"]:
        if not isinstance(entry, dict):
            continue
        for part in ("extra_info", "params"):
            if isinstance(entry.get(part), dict) and entry[part].get("mixer") is not None:
                return False
    return True


def read_autosave(path: Path) -> dict[str, Any] | None:
    """The parsed file, or None with a warning naming it when it is not an
    autosave of this suite."""
    try:
        size = path.stat().st_size
        if size > MAX_AUTOSAVE_BYTES:
            warnings.warn(
                f"skipping {path}: {size / 2**20:.0f} MiB, larger than any autosave of this "
                f"suite ({MAX_AUTOSAVE_BYTES // 2**20} MiB at most)",
                SkippedFileWarning,
                2,
            )
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        warnings.warn(f"skipping {path}: not readable JSON ({error})", SkippedFileWarning, 2)
        return None
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        warnings.warn(
            f"skipping {path}: not a pytest-benchmark autosave (no 'benchmarks' list)",
            SkippedFileWarning,
            2,
        )
        return None
    failures = data.get(FAILURES_KEY)
    points = len(data["benchmarks"]) + (len(failures) if isinstance(failures, list) else 0)
    if points > MAX_POINTS:
        warnings.warn(
            f"skipping {path}: {points} points, more than any run of this suite "
            f"({MAX_POINTS} at most)",
            SkippedFileWarning,
            2,
        )
        return None
    if written_by_plain_pytest_benchmark(data):
        warnings.warn(
            f"skipping {path}: written by plain pytest-benchmark, not by mixbench's suite "
            f"(no {', '.join(MIXBENCH_KEYS)} and no 'mixer' in any benchmark's extra_info)",
            SkippedFileWarning,
            2,
        )
        return None
    return data


def matmul_peak(machine_info: Mapping[str, Any]) -> float | None:
    """The device's measured matmul peak in FLOP/s, where the run recorded a
    plausible one."""
    value = machine_info.get(MATMUL_PEAK_KEY)
    plausible = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if plausible and 0 < value <= MAX_MATMUL_PEAK_FLOPS_PER_S else None


def warn_implausible_peak(path: Path, machine_info: Mapping[str, Any]) -> None:
    value = machine_info.get(MATMUL_PEAK_KEY)
    if value is not None and matmul_peak(machine_info) is None:
        warnings.warn(
            f"{path}: machine_info {MATMUL_PEAK_KEY} {value!r} is invalid (a peak lies "
            f"between 0 and {MAX_MATMUL_PEAK_FLOPS_PER_S:g} FLOP/s); ignored, the run's "
            "calibration matmul stands in where it has one",
            InvalidPointWarning,
            3,
        )


def machine_summary(machine_info: Mapping[str, Any]) -> dict[str, Any]:
    """The machine in a few columns; the torch/GPU keys are those conftest.py
    adds (runs without them get None)."""
    cpu = machine_info.get("cpu") if isinstance(machine_info.get("cpu"), dict) else {}
    gpu = machine_info.get("gpu_name")
    cpu_name = cpu.get("brand_raw") or machine_info.get("processor") or machine_info.get("machine")
    return {
        "machine": str(cpu_name or machine_info.get("node") or "unknown machine"),
        "machine_node": machine_info.get("node"),
        "machine_cpu": cpu_name,
        "machine_cpu_count": machine_info.get("cpu_count") or cpu.get("count"),
        "machine_gpu": gpu,
        "machine_torch": machine_info.get("torch_version"),
        "machine_cuda": machine_info.get("cuda_version"),
        "machine_threads": machine_info.get("torch_threads"),
        "machine_matmul_peak_flops_per_s": matmul_peak(machine_info),
        "machine_python": machine_info.get("python_version"),
    }


def mapping(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def run_meta(found: RunFile, data: Mapping[str, Any]) -> dict[str, Any]:
    commit = mapping(data, "commit_info")
    options = mapping(data, OPTIONS_KEY)
    shard = shard_of(data)
    return {
        # the run a point belongs to: its file, or the shard group it is a share of
        "run_key": f"shard-group:{shard.group}" if shard else str(found.path),
        "run_group": shard.group if shard else None,
        "shard": str(shard) if shard else None,
        "run_id": found.run_id,
        "profile": options.get("profile"),
        "run_sweep": options.get("sweep"),
        "run_partial": is_partial(data),
        "run_ref": found.ref,
        "run_path": str(found.path),
        "run_datetime": data.get("datetime") or found.saved_at,
        "commit": str(commit.get("id") or "unknown")[:12],
        "commit_dirty": commit.get("dirty"),
        "branch": commit.get("branch"),
        **machine_summary(mapping(data, "machine_info")),
    }


def seconds(value: Any) -> float:
    return (
        float(value) if isinstance(value, int | float) and not isinstance(value, bool) else math.nan
    )


def as_counts(fields: dict[str, Any]) -> dict[str, Any]:
    """JSON does not tell 4096 from 4096.0: an integral float is a valid
    count (older fixtures and runs wrote byte counts as floats)."""
    for name, value in fields.items():
        known = FIELDS_BY_NAME.get(name)
        if known and known.types == INT and isinstance(value, float) and value.is_integer():
            fields[name] = int(value)
    return fields


def bad_fields(fields: Mapping[str, Any]) -> list[str]:
    """The schema fields whose value has the wrong type or is out of its set."""
    bad = [
        name
        for name, value in fields.items()
        if name in FIELDS_BY_NAME
        and value is not None
        and not is_of(value, FIELDS_BY_NAME[name].types)
    ]
    for name, allowed in (("workload", Workload), ("status", Status), ("sweep", AXES)):
        value = fields.get(name)
        if isinstance(value, str) and value not in [str(v) for v in allowed]:
            bad.append(name)
    return bad


def record_problems(entry: Mapping[str, Any], fields: Mapping[str, Any], timed: bool) -> list[str]:
    """What in one benchmark's record the reports cannot trust."""
    extra = entry.get("extra_info")
    problems = []
    if extra is not None and not isinstance(extra, dict):
        problems.append(f"extra_info is {extra!r}, not an object of fields")
    problems += field_problems(fields)
    sweep = fields.get("sweep")
    if isinstance(sweep, str) and sweep not in AXES:
        problems.append(f"sweep {sweep!r} is none of {', '.join(AXES)}")
    if fields.get("mixer") is None and fields.get("workload") not in MIXERLESS_WORKLOADS:
        problems.append("extra_info names no mixer")
    if timed:
        problems += stats_problems(entry.get("stats"))
    return problems


def point_row(
    entry: Mapping[str, Any], meta: Mapping[str, Any], timed: bool, path: Path
) -> dict[str, Any]:
    extra = mapping(entry, "extra_info")
    params = mapping(entry, "params")
    stats = mapping(entry, "stats")
    # Older runs put some of these only in the test's parameters.
    fields = {
        key: extra[key] if extra.get(key) is not None else params.get(key)
        for key in EXTRA_INFO_KEYS
    }
    fields.update((key, value) for key, value in extra.items() if key not in fields)
    fields = as_counts(fields)
    problems = record_problems(entry, fields, timed)
    row: dict[str, Any] = dict(meta)
    row.update(name=entry.get("name"), fullname=entry.get("fullname"), group=entry.get("group"))
    row.update({column: seconds(stats.get(stat)) for stat, column in STAT_COLUMNS.items()})
    row.update(fields)
    if row["family"] is None and "/" in str(row["mixer"]):
        row["family"], row["variant"] = str(row["mixer"]).split("/", 1)
    status = row["status"]
    if status is None or (not timed and status == Status.OK):
        row["status"] = Status.OK if timed else Status.FAILED
    elif status == Status.FAILED and LEGACY_REFERENCE_REASON in str(row["reason"] or ""):
        row["status"] = Status.REFERENCE_FAILED
    if row["sweep"] is None and row["workload"] in (*SPEED_WORKLOADS, Workload.MIXER_FORWARD):
        row["sweep"] = DEFAULT_AXIS  # runs before --sweep: every speed point swept L
    if problems:
        name = entry.get("name") or entry.get("fullname") or "a benchmark without a name"
        warnings.warn(
            f"{path}: benchmark {name!r}: {'; '.join(problems)}; not counted as ok",
            InvalidPointWarning,
            3,
        )
        for key in bad_fields(fields):  # the offending values become None
            row[key] = None
        row["status"] = Status.INVALID
        row["reason"] = "invalid record: " + "; ".join(problems)
    row["status"] = str(row["status"])
    return row


def run_rows(found: RunFile, data: Mapping[str, Any]) -> list[dict[str, Any]]:
    meta = run_meta(found, data)
    warn_implausible_peak(found.path, mapping(data, "machine_info"))
    failures = data.get(FAILURES_KEY)
    entries = [(e, True) for e in data["benchmarks"]]
    entries += [(e, False) for e in failures] if isinstance(failures, list) else []
    rows = []
    for entry, timed in entries:
        if not isinstance(entry, dict):
            warnings.warn(
                f"{found.path}: skipping an entry that is not an object", SkippedFileWarning, 2
            )
            continue
        rows.append(point_row(entry, meta, timed, found.path))
    return rows


# -- the tidy table -------------------------------------------------------------


def label_runs(points: pd.DataFrame) -> pd.Series:
    """A short, unique name per run for legends and tables: the id and the
    machine it ran on (the GPU where a point ran on CUDA, else the CPU), then
    the machine folder or the path where that is not yet unique; an
    interrupted run says so in its name, in every table and figure."""
    if "run_key" not in points:  # rows made by hand, without the reader's run columns
        points = points.assign(run_key=points["run_path"], run_group=None, shard=None)
    runs = points.groupby("run_key", sort=False).agg(
        run_id=("run_id", "first"),
        run_ref=("run_ref", "first"),
        run_path=("run_path", "first"),
        group=("run_group", "first"),
        shards=("shard", lambda s: sorted(set(s.dropna()))),
        gpu=("machine_gpu", "first"),
        cpu=("machine", "first"),
        partial=("run_partial", "any"),
        on_gpu=("device", lambda d: d.astype(str).str.startswith("cuda").any()),
    )
    machine = runs["gpu"].where(runs["on_gpu"] & runs["gpu"].notna(), runs["cpu"])
    labels = runs["run_id"] + " " + machine
    for fallback in ("run_ref", "run_path"):
        clashing = labels.duplicated(keep=False)
        shown_names = runs.loc[clashing, fallback].map(shown_name)
        labels[clashing] = runs.loc[clashing, "run_id"] + " " + shown_names
    for key, run in runs[runs["group"].notna()].iterrows():
        count = int(run["shards"][0].split("/")[1]) if run["shards"] else 0
        labels[key] = group_label(str(run["group"]), count, len(run["shards"]))
    labels = labels.where(~runs["partial"].astype(bool), labels + " (partial)")
    return points["run_key"].map(labels)


def axis_values(points: pd.DataFrame) -> pd.Series:
    """Each point's value along the axis it was swept on (NaN: not a sweep)."""
    values = pd.Series(math.nan, index=points.index, dtype=float)
    for name, axis in AXES.items():
        on = points["sweep"] == name
        values[on] = points.loc[on, axis.key]
    return values


def matmul_peaks(points: pd.DataFrame) -> pd.Series:
    """The run's matmul peak in FLOP/s: machine_info's, else the calibration
    point's (a square matmul timed at the start of the run)."""
    peak = pd.to_numeric(points["machine_matmul_peak_flops_per_s"], errors="coerce")
    calibration = points[(points["workload"] == Workload.CALIBRATION) & (points["status"] == "ok")]
    if calibration.empty:
        return peak
    time_s = calibration[STAT_COLUMNS[TIME_STAT]]
    measured = (
        (pd.to_numeric(calibration["flops"], errors="coerce") / time_s)
        .groupby(calibration["run_path"])
        .max()
    )
    return peak.fillna(points["run_path"].map(measured))


def point_times(points: pd.DataFrame) -> pd.Series:
    """Each point's seconds per call: the median of its timed rounds (their CPU
    seconds where saved, spread.point_rounds); pytest-benchmark's median (of
    wall seconds) for a point that saved no rounds."""
    saved = points[STAT_COLUMNS[TIME_STAT]]
    if "round_times_s" not in points.columns:
        return saved
    medians = [
        float(np.median(rounds)) if len(rounds) else math.nan
        for rounds in (point_rounds(row) for row in points.to_dict("records"))
    ]
    return pd.Series(medians, index=points.index).fillna(saved)


def add_derived_columns(points: pd.DataFrame) -> pd.DataFrame:
    points = points.copy()
    for key in NUMERIC_KEYS:
        points[key] = pd.to_numeric(points[key], errors="coerce")
    points["run"] = label_runs(points)
    points["machine_matmul_peak_flops_per_s"] = matmul_peaks(points)
    points["axis_value"] = axis_values(points)
    points["time_s"] = point_times(points)
    points["wall_time_s"] = points[STAT_COLUMNS[TIME_STAT]]
    work = points["flops"].fillna(points["flops_counted"])
    points["achieved_flops_per_s"] = work / points["time_s"]
    # The harness times decode one token per call (iterations = tokens per
    # round), so pytest-benchmark's per-call stats are already per token.
    points["latency_per_token_s"] = points["time_s"].where(points["workload"] == Workload.DECODE)
    points["ok"] = points["status"] == Status.OK
    points["value_passes_s"] = value_passes(points)
    return points


def value_passes(points: pd.DataFrame) -> list[list[float] | None]:
    """Per point, its seconds in the passes that alternated its mixer's values
    (an interleaved point of ``schema.values_key`` keys for its run, workload,
    sweep and mixer; CPU seconds where saved); None where no such passes ran."""
    found: dict[tuple, list[float]] = {}
    if "interleaved_s" in points.columns:
        chosen = points[(points["workload"] == Workload.INTERLEAVED) & (points["ok"])]
        for point in chosen.to_dict("records"):
            if not isinstance(point["interleaved_s"], dict):
                continue
            values = values_of_keys(list(point["interleaved_s"]), point["sweep"])
            for key, times in pass_times(point).items() if values else ():
                place = (point["run"], point["of_workload"], point["sweep"], point["mixer"])
                found[(*place, values[key])] = times
    keys = zip(
        points["run"], points["workload"], points["sweep"], points["mixer"], points["axis_value"],
        strict=True,
    )  # fmt: skip
    return [found.get(key) for key in keys]


# -- shards of one group, merged into one run -------------------------------------


def hardware(machine_info: Mapping[str, Any]) -> tuple[str, str, str]:
    """What makes two machines' timings comparable: architecture, CPU, GPU."""
    cpu = machine_info.get("cpu") if isinstance(machine_info.get("cpu"), dict) else {}
    return (
        str(machine_info.get("machine") or "?"),
        str(cpu.get("brand_raw") or machine_info.get("processor") or "?"),
        str(machine_info.get("gpu_name") or "no GPU"),
    )


def point_key(row: Mapping[str, Any]) -> tuple:
    """A point's identity within a run: its pytest id. The calibration runs in
    every shard (each on its own machine), so it is one point per shard."""
    name = row.get("fullname") or row.get("name")
    if row.get("workload") == Workload.CALIBRATION:
        return (name, row.get("shard"))
    return (name,)


def run_options(data: Mapping[str, Any]) -> dict[str, str]:
    """The options that make a run what it is (all but schema.PER_MACHINE_OPTIONS),
    each as JSON text."""
    return {
        name: json.dumps(value, sort_keys=True)
        for name, value in mapping(data, OPTIONS_KEY).items()
        if name not in PER_MACHINE_OPTIONS
    }


def refuse_different_options(group: str, members: Sequence[tuple[RunFile, dict]]) -> None:
    """ReportError where the autosaves of one group ran with different options: they
    are not shares of one run, and a verdict drawn across them would be false."""
    per_file = {found.ref: run_options(data) for found, data in members}
    names = sorted({name for options in per_file.values() for name in options})
    differing = [
        name for name in names if len({options.get(name) for options in per_file.values()}) > 1
    ]
    if not differing:
        return
    described = "; ".join(
        f"{name}: "
        + ", ".join(f"{options.get(name, 'unset')} in {ref}" for ref, options in per_file.items())
        for name in differing
    )
    raise ReportError(
        f"shard group {group}: its autosaves ran with different options ({described}), so "
        "they are not shares of one run and are not merged; report one with --run <its file>, "
        "or run the shards again with the same options"
    )


def swept_value(row: Mapping[str, Any]) -> Any:
    axis = AXES.get(str(row.get("sweep")))
    return row.get(axis.key) if axis else None


def unpaired_mixers(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Per speed workload of a merged shard group, the mixers that ran ok at the
    value its mixers were compared at (or anywhere, where no comparison ran) but
    were not alternated with the others in it: the shard that compared them held
    only the mixers dealt to it (suite/shard.py)."""
    ok = [row for row in rows if row.get("status") == Status.OK]
    comparisons = [
        row for row in rows if row.get("workload") == Workload.INTERLEAVED and not row.get("mixer")
    ]
    compared: dict[str, tuple[Any, set[str]]] = {}
    for row in comparisons:
        times = row.get("interleaved_s")
        if row.get("status") == Status.OK and isinstance(times, dict):
            compared[str(row.get("of_workload"))] = (swept_value(row), set(times))
    unpaired = {}
    # only where the suite compared (or tried to: a skipped record) the workload's mixers
    for workload in {str(row.get("of_workload")) for row in comparisons}:
        value, alternated = compared.get(workload, (None, set()))
        ran = {
            row["mixer"]
            for row in ok
            if row.get("workload") == workload
            and row.get("mixer")
            and (value is None or swept_value(row) == value)
        }
        if len(ran) > 1 and ran - alternated:
            unpaired[workload] = sorted(ran - alternated)
    return dict(sorted(unpaired.items()))


def warn_unpaired(group: str, rows: Sequence[Mapping[str, Any]]) -> None:
    unpaired = unpaired_mixers(rows)
    if unpaired:
        listed = "; ".join(f"{w}: {', '.join(mixers)}" for w, mixers in unpaired.items())
        warnings.warn(
            f"shard group {group}: its ratios between mixers come from unpaired rounds, timed "
            f"apart, for {listed}: each shard alternates only the mixers dealt to it, so these "
            "were never interleaved with the others (a slow phase of one machine or moment is "
            "not cancelled); run the speed sweep unsharded for paired ratios",
            ShardWarning,
            3,
        )


def merged_group(group: str, members: Sequence[tuple[RunFile, dict]]) -> list[dict[str, Any]]:
    """The points of one shard group as one run: each point once (a point
    saved by two autosaves, e.g. a shard run again, keeps the newest), each
    shard's own machine in its rows; warnings say which shards are missing
    and when the shards ran on different hardware."""
    refuse_different_options(group, members)
    newest_first = sorted(
        members, key=lambda m: (str(m[1].get("datetime") or ""), *order(m[0])), reverse=True
    )
    per_file: list[list[dict[str, Any]]] = []
    kept: dict[tuple, str] = {}
    twice: dict[tuple[str, str], list[str]] = {}
    for found, data in newest_first:
        mine = []
        for row in run_rows(found, data):
            key = point_key(row)
            if key in kept:
                twice.setdefault((kept[key], found.ref), []).append(str(key[0]))
                continue
            kept[key] = found.ref
            mine.append(row)
        per_file.append(mine)
    rows = [row for mine in reversed(per_file) for row in mine]  # oldest autosave first
    for (newer, older), names in sorted(twice.items()):
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        warnings.warn(
            f"shard group {group}: {len(names)} points saved by both {older} and {newer}; "
            f"kept the newest, {newer}'s: {shown}",
            ShardWarning,
            3,
        )
    ordered = sorted(members, key=lambda m: order(m[0]))
    shards = {found.path: (found.ref, shard_of(data)) for found, data in ordered}
    counts = sorted({s.count for _, s in shards.values() if s})
    present = {s.index for _, s in shards.values() if s}
    found_text = ", ".join(f"{s} in {ref}" for ref, s in shards.values())
    for count in counts:
        missing = [f"{k}/{count}" for k in range(1, count + 1) if k not in present]
        if missing:
            warnings.warn(
                f"shard group {group}: shard {', '.join(missing)} missing (found {found_text}); "
                "the points dealt to it are not in the report",
                ShardWarning,
                3,
            )
    if len(counts) > 1:
        warnings.warn(
            f"shard group {group}: its autosaves split the run into "
            f"{' and '.join(map(str, counts))} shards; the group id was reused",
            ShardWarning,
            3,
        )
    machines = {found.path: hardware(mapping(data, "machine_info")) for found, data in ordered}
    if len(set(machines.values())) > 1:
        described = "; ".join(
            f"{shards[path][1]} ({shards[path][0]}): {' / '.join(machine)}"
            for path, machine in machines.items()
        )
        warnings.warn(
            f"shard group {group} ran on different hardware ({described}): its points were "
            "timed on different machines, so compare times across shards with care",
            ShardWarning,
            3,
        )
    warn_unpaired(group, rows)
    return rows


def load_points(files: Sequence[RunFile]) -> pd.DataFrame:
    """Every point of the given runs; unreadable files are warned about and
    skipped; the autosaves of one shard group are merged into one run."""
    rows: list[dict[str, Any]] = []
    read_count = 0
    groups: dict[str, list[tuple[RunFile, dict]]] = {}
    for found in files:
        data = found.data if found.data is not None else read_autosave(found.path)
        if data is None:
            continue
        read_count += 1
        shard = shard_of(data)
        if shard is not None:
            if shard.group not in groups:
                groups[shard.group] = []
                rows.append({"_group": shard.group})  # the group's place among the runs
            groups[shard.group].append((found, data))
            continue
        rows.extend(run_rows(found, data))
    if groups:
        rows = [
            merged
            for row in rows
            for merged in (
                merged_group(row["_group"], groups[row["_group"]]) if "_group" in row else [row]
            )
        ]
    if not read_count:
        names = ", ".join(str(f.path) for f in files)
        raise ReportError(f"none of the selected runs could be read ({names})")
    if not rows:
        raise ReportError("the selected runs hold no benchmarks: did the suite select any test?")
    return add_derived_columns(pd.DataFrame(rows))


def load(storage: Path, selectors: Sequence[str]) -> pd.DataFrame:
    return load_points(select_run_files(storage, selectors))
