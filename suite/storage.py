"""Where pytest-benchmark saves the run (``--benchmark-storage``), checked before
the first point and guarded at the end: a storage that is a file, read-only or
on a full disk is a usage error at the start, not a traceback after the whole
run; a save that fails after all (the disk filled up during the run) leaves no
empty or truncated autosave, and the results go to a file named on the terminal.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pytest_benchmark.utils import get_machine_id

#: the free space a run's autosave needs (a paper run with every round saved is a few MB)
MIN_FREE_BYTES = 16 * 2**20
#: what the start writes to check that the storage takes data (then removes)
PROBE_BYTES = 64 * 2**10

_WATCH = pytest.StashKey["SaveWatch"]()


def storage_folder(config: pytest.Config) -> Path | None:
    """The folder autosaves go to, as pytest-benchmark reads --benchmark-storage
    (a value without a scheme is a path); None where nothing is saved to a folder."""
    if not (config.getoption("benchmark_save") or config.getoption("benchmark_autosave")):
        return None
    uri = str(config.getoption("benchmark_storage"))
    if "://" in uri and not uri.startswith("file://"):
        return None  # elasticsearch: pytest-benchmark's own to reach
    return Path(uri.removeprefix("file://"))


def nearest_existing(path: Path) -> Path:
    while not os.path.lexists(path) and path != path.parent:
        path = path.parent
    return path


def storage_problem(folder: Path) -> str | None:
    """Why ``folder`` cannot take an autosave, or None where it can."""
    existing = nearest_existing(folder.absolute())
    if not existing.is_dir():
        return f"{existing} is a file, not a folder; give a folder for the autosaves"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(folder).free
        if free < MIN_FREE_BYTES:
            return (
                f"its disk has {free // 2**20} MiB free, a run's autosave needs "
                f"{MIN_FREE_BYTES // 2**20} MiB; free some space or give another folder"
            )
        with tempfile.TemporaryFile(dir=folder) as probe:
            probe.write(bytes(PROBE_BYTES))
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as error:
        return f"cannot be written to ({error.strerror or error}); give a writable folder"
    return None


def json_problem(path: Path) -> str | None:
    """Why --benchmark-json cannot be written at ``path`` (pytest-benchmark makes no
    folder for it), or None."""
    if path.is_dir():
        return "is a folder; give the file to write"
    if not path.parent.is_dir():
        return f"its folder {path.parent} does not exist"
    return storage_problem(path.parent)


def check_storage(config: pytest.Config) -> None:
    """A usage error before the first point where the run could not be saved;
    else starts watching the save (SaveWatch)."""
    folder = storage_folder(config)
    json_path = config.getoption("benchmark_json")
    if folder is not None:
        problem = storage_problem(folder)
        if problem:
            raise pytest.UsageError(f"--benchmark-storage {folder}: {problem}")
    if json_path is not None:
        problem = json_problem(Path(json_path))
        if problem:
            raise pytest.UsageError(f"--benchmark-json {json_path}: {problem}")
    if folder is not None or json_path is not None:
        config.stash[_WATCH] = SaveWatch(folder, json_path)


class SaveWatch:
    """The files the save may write, as they were at the start, and the results
    pytest-benchmark is about to save, so that a failed save can be undone and
    its results put elsewhere."""

    def __init__(self, folder: Path | None, json_path: Path | None) -> None:
        self.machine_folder = folder / get_machine_id() if folder is not None else None
        self.json_path = Path(json_path) if json_path is not None else None
        self.before = set(self.autosaves())
        self.json_existed = self.json_path is not None and self.json_path.exists()
        self.results: dict[str, Any] | None = None

    def autosaves(self) -> list[Path]:
        folder = self.machine_folder
        return sorted(folder.glob("*.json")) if folder is not None and folder.is_dir() else []

    def half_written(self) -> list[Path]:
        """Files the failed save created and could not finish."""
        new = [p for p in self.autosaves() if p not in self.before]
        if self.json_path is not None and not self.json_existed:
            new.append(self.json_path)
        return [p for p in new if p.is_file() and not is_complete_json(p)]


def is_complete_json(path: Path) -> bool:
    try:
        json.loads(path.read_bytes())
    except (OSError, ValueError):
        return False
    return True


def keep_results(config: pytest.Config, output_json: dict[str, Any]) -> None:
    """Called from pytest_benchmark_update_json: what is about to be saved."""
    watch = config.stash.get(_WATCH, None)
    if watch is not None:
        watch.results = output_json


def fallback_places() -> list[Path]:
    places = [Path.cwd(), Path(tempfile.gettempdir()), Path.home()]
    return list(dict.fromkeys(p.absolute() for p in places))


def write_whole(folder: Path, name: str, data: bytes) -> Path:
    """``folder/name`` written at once (a temporary file renamed): never half a file."""
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".partial")
    try:
        with os.fdopen(handle, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, folder / name)
    except OSError:
        Path(temporary).unlink(missing_ok=True)
        raise
    return folder / name


def save_elsewhere(results: dict[str, Any] | None) -> str:
    """Where the results went instead of the storage, in words."""
    if results is None:
        return "the results were not yet gathered, so none were saved"
    stamp = datetime.now(UTC).strftime("%Y%m%d_%H%M%S")
    name = f"mixbench-unsaved-{stamp}.json"
    data = json.dumps(results, indent=2, default=str).encode()
    for folder in fallback_places():
        try:
            path = write_whole(folder, name, data)
        except OSError:
            continue
        return (
            f"the results were written to {path} instead (report them with "
            f"python -m reports --run {path})"
        )
    places = ", ".join(str(p) for p in fallback_places())
    return f"nor could the results be written to {places}: they are lost"


def handle_failed_save(session: pytest.Session, error: OSError) -> None:
    """pytest-benchmark's save raised: remove what it left half written, put the
    results elsewhere, and say so in one line (the run's exit status says it failed)."""
    watch = session.config.stash.get(_WATCH, None)
    removed = []
    for path in watch.half_written() if watch is not None else []:
        path.unlink(missing_ok=True)
        removed.append(str(path))
    where = f" ({error.filename})" if error.filename else ""
    left = f"; removed the half-written {', '.join(removed)}" if removed else ""
    results = watch.results if watch is not None else None
    print(
        f"\nerror: could not save the run: {error.strerror or error}{where}{left}; "
        f"{save_elsewhere(results)}",
        file=sys.stderr,
    )
    session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
