"""Find autosaved runs, read them, and flatten every point into one tidy table.

A point is one benchmark of one run: a timed benchmark from ``benchmarks`` or
a point that did not run, from the harness's ``mixbench_failures``. Each row
carries the fixed extra_info keys (None where an older run lacks them), any
further extra_info keys, the timing statistics in seconds and a summary of the
run's machine_info, so that tables and figures never go back to the JSON.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

# Mirrors suite/records.py (a test checks it): reports are installed without
# suite/, so they cannot import it.
EXTRA_INFO_KEYS = (
    "mixer",
    "family",
    "variant",
    "workload",
    "task",
    "seq_len",
    "batch",
    "d_model",
    "n_layers",
    "dtype",
    "device",
    "params",
    "flops",
    "flops_counted",
    "peak_mem_bytes",
    "state_bytes",
    "tokens_per_s",
    "accuracy",
    "status",
    "reason",
    "mixer_config",
    "ref_rel_err",
)
NUMERIC_KEYS = (
    "seq_len",
    "batch",
    "d_model",
    "n_layers",
    "params",
    "flops",
    "flops_counted",
    "peak_mem_bytes",
    "state_bytes",
    "tokens_per_s",
    "accuracy",
    "ref_rel_err",
)
SPEED_WORKLOADS = ("forward", "train_step", "prefill", "decode")
#: points that never ran: listed in captions and the failure table, not drawn
NOT_RUN_STATUSES = ("unavailable", "skipped")
STAT_COLUMNS = {
    "min": "time_min_s",
    "max": "time_max_s",
    "mean": "time_mean_s",
    "median": "time_median_s",
    "stddev": "time_stddev_s",
    "rounds": "rounds",
    "iterations": "iterations",
}
#: machine_info key of the measured matmul peak (FLOP/s) the FLOP/s figure draws
MATMUL_PEAK_KEY = "matmul_peak_flops_per_s"
AUTOSAVE_TIME = re.compile(r"(\d{8}_\d{6})")
RUN_ID = re.compile(r"^(\d+)")


class ReportError(Exception):
    """A problem the user has to fix; the command prints it and exits non-zero."""


class SkippedFileWarning(UserWarning):
    """A file under the storage that is not a readable autosave."""


@dataclass(frozen=True)
class RunFile:
    path: Path
    machine_dir: str
    run_id: str
    saved_at: str  # 'YYYYMMDD_HHMMSS', sortable

    @property
    def ref(self) -> str:
        return f"{self.machine_dir}/{self.run_id}"


# -- finding runs ---------------------------------------------------------------


def run_file(path: Path) -> RunFile:
    match = RUN_ID.match(path.name)
    stamp = AUTOSAVE_TIME.search(path.name)
    if stamp:
        saved_at = stamp.group(1)
    else:
        saved_at = datetime.fromtimestamp(path.stat().st_mtime, UTC).strftime("%Y%m%d_%H%M%S")
    return RunFile(path, path.parent.name, match.group(1) if match else path.stem, saved_at)


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


def resolve_run(selector: str, available: Sequence[RunFile], storage: Path) -> list[RunFile]:
    """One --run value: ``latest``, ``all``, an id (``0003``, ``3``,
    ``<machine-dir>/0003``) or a path to a file or folder of autosaves."""
    if selector in ("latest", "all"):
        if not available:
            raise ReportError(no_runs_message(storage))
        return list(available) if selector == "all" else [available[-1]]
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


def select_run_files(storage: Path, selectors: Sequence[str]) -> list[RunFile]:
    available = list_run_files(storage)
    chosen: dict[Path, RunFile] = {}
    for selector in selectors or ["latest"]:
        for found in resolve_run(selector, available, storage):
            chosen.setdefault(found.path.resolve(), found)
    return list(chosen.values())


# -- reading one run ------------------------------------------------------------


def read_autosave(path: Path) -> dict[str, Any] | None:
    """The parsed file, or None with a warning naming it when it is not an autosave."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        warnings.warn(f"skipping {path}: not readable JSON ({error})", SkippedFileWarning, 2)
        return None
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        warnings.warn(
            f"skipping {path}: not a pytest-benchmark autosave (no 'benchmarks' list)",
            SkippedFileWarning,
            2,
        )
        return None
    return data


def matmul_peak(machine_info: Mapping[str, Any]) -> float | None:
    """The device's measured matmul peak in FLOP/s, where the run recorded one."""
    value = machine_info.get(MATMUL_PEAK_KEY)
    return float(value) if isinstance(value, int | float) and value > 0 else None


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


def run_meta(found: RunFile, data: Mapping[str, Any]) -> dict[str, Any]:
    commit = data.get("commit_info") if isinstance(data.get("commit_info"), dict) else {}
    machine_info = data.get("machine_info") if isinstance(data.get("machine_info"), dict) else {}
    options = data.get("mixbench_options") if isinstance(data.get("mixbench_options"), dict) else {}
    return {
        "run_id": found.run_id,
        "profile": options.get("profile"),
        "run_ref": found.ref,
        "run_path": str(found.path),
        "run_datetime": data.get("datetime") or found.saved_at,
        "commit": str(commit.get("id") or "unknown")[:12],
        "commit_dirty": commit.get("dirty"),
        "branch": commit.get("branch"),
        **machine_summary(machine_info),
    }


def seconds(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else math.nan


def point_row(entry: Mapping[str, Any], meta: Mapping[str, Any], timed: bool) -> dict[str, Any]:
    extra = entry.get("extra_info") if isinstance(entry.get("extra_info"), dict) else {}
    params = entry.get("params") if isinstance(entry.get("params"), dict) else {}
    stats = entry.get("stats") if isinstance(entry.get("stats"), dict) else {}
    row: dict[str, Any] = dict(meta)
    row.update(name=entry.get("name"), fullname=entry.get("fullname"), group=entry.get("group"))
    row.update({column: seconds(stats.get(stat)) for stat, column in STAT_COLUMNS.items()})
    for key in EXTRA_INFO_KEYS:
        # Older runs put some of these only in the test's parameters.
        row[key] = extra[key] if extra.get(key) is not None else params.get(key)
    for key, value in extra.items():
        row.setdefault(key, value)
    if row["family"] is None and "/" in str(row["mixer"]):
        row["family"], row["variant"] = str(row["mixer"]).split("/", 1)
    if row["status"] is None or (not timed and row["status"] == "ok"):
        row["status"] = "ok" if timed else "failed"
    return row


def run_rows(found: RunFile, data: Mapping[str, Any]) -> list[dict[str, Any]]:
    meta = run_meta(found, data)
    failures = data.get("mixbench_failures")
    entries = [(e, True) for e in data["benchmarks"]]
    entries += [(e, False) for e in failures if isinstance(failures, list)] if failures else []
    rows = []
    for entry, timed in entries:
        if not isinstance(entry, dict):
            warnings.warn(
                f"{found.path}: skipping an entry that is not an object", SkippedFileWarning, 2
            )
            continue
        rows.append(point_row(entry, meta, timed))
    return rows


# -- the tidy table -------------------------------------------------------------


def label_runs(points: pd.DataFrame) -> pd.Series:
    """A short, unique name per run for legends and tables: the id and the
    machine it ran on (the GPU where a point ran on CUDA, else the CPU), then
    the machine folder or the path where that is not yet unique."""
    runs = points.groupby("run_path", sort=False).agg(
        run_id=("run_id", "first"),
        run_ref=("run_ref", "first"),
        gpu=("machine_gpu", "first"),
        cpu=("machine", "first"),
        on_gpu=("device", lambda d: d.astype(str).str.startswith("cuda").any()),
    )
    runs["run_path"] = runs.index
    machine = runs["gpu"].where(runs["on_gpu"] & runs["gpu"].notna(), runs["cpu"])
    labels = runs["run_id"] + " " + machine
    for fallback in ("run_ref", "run_path"):
        clashing = labels.duplicated(keep=False)
        labels[clashing] = runs.loc[clashing, "run_id"] + " " + runs.loc[clashing, fallback]
    return points["run_path"].map(labels)


def add_derived_columns(points: pd.DataFrame) -> pd.DataFrame:
    points = points.copy()
    for key in NUMERIC_KEYS:
        points[key] = pd.to_numeric(points[key], errors="coerce")
    points["run"] = label_runs(points)
    points["time_s"] = points["time_median_s"]
    work = points["flops"].fillna(points["flops_counted"])
    points["achieved_flops_per_s"] = work / points["time_s"]
    # The harness times decode one token per call (iterations = tokens per
    # round), so pytest-benchmark's per-call stats are already per token.
    points["latency_per_token_s"] = points["time_s"].where(points["workload"] == "decode")
    points["ok"] = points["status"] == "ok"
    return points


def load_points(files: Sequence[RunFile]) -> pd.DataFrame:
    """Every point of the given runs; unreadable files are warned about and skipped."""
    rows: list[dict[str, Any]] = []
    read = 0
    for found in files:
        data = read_autosave(found.path)
        if data is None:
            continue
        read += 1
        rows.extend(run_rows(found, data))
    if not read:
        names = ", ".join(str(f.path) for f in files)
        raise ReportError(f"none of the selected runs could be read ({names})")
    if not rows:
        raise ReportError("the selected runs hold no benchmarks: did the suite select any test?")
    return add_derived_columns(pd.DataFrame(rows))


def load(storage: Path, selectors: Sequence[str]) -> pd.DataFrame:
    return load_points(select_run_files(storage, selectors))
