"""``load_task``: one entry point for the six LRA tasks read from disk."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tasks.base import TaskData
from tasks.lra.image import load_image
from tasks.lra.listops import load_listops
from tasks.lra.pathfinder import load_pathfinder
from tasks.lra.retrieval import load_retrieval
from tasks.lra.text import load_text


def _load_pathx(
    data_dir: str | Path | None, resolution: int = 128, difficulty: str = "hard"
) -> TaskData:
    return load_pathfinder(data_dir, resolution, difficulty, name="pathx")


LOADERS: dict[str, Callable[..., TaskData]] = {
    "listops": load_listops,
    "text": load_text,
    "retrieval": load_retrieval,
    "image": load_image,
    "pathfinder": load_pathfinder,
    "pathx": _load_pathx,
}


def load_task(name: str, data_dir: str | Path | None, **options) -> TaskData:
    """An LRA task from the files under ``data_dir`` (see each loader for the layout and
    its options: listops/text/retrieval take max_length, pathfinder/pathx take
    resolution and difficulty). Raises DataMissing, whose message says which file to put
    where, and MalformedData, which names the file and line."""
    if name not in LOADERS:
        raise ValueError(f"unknown LRA task {name!r}; choose one of {', '.join(LOADERS)}")
    return LOADERS[name](data_dir, **options)
