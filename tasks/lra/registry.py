"""``load_task``: one entry point for the six LRA tasks read from disk."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tasks.base import TaskData, TaskSpec
from tasks.lra.image import image_spec, load_image
from tasks.lra.listops import listops_spec, load_listops
from tasks.lra.pathfinder import load_pathfinder, pixel_spec
from tasks.lra.retrieval import load_retrieval, retrieval_spec
from tasks.lra.text import load_text, text_spec


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


def _pathfinder_spec(resolution: int = 32, difficulty: str = "hard", **_) -> TaskSpec:
    return pixel_spec("pathfinder", resolution, 2)


def _pathx_spec(resolution: int = 128, difficulty: str = "hard", **_) -> TaskSpec:
    return pixel_spec("pathx", resolution, 2)


#: each task's spec from its load_task options alone, without reading its files
SPECS: dict[str, Callable[..., TaskSpec]] = {
    "listops": lambda max_length=2000, **_: listops_spec(max_length),
    "text": lambda max_length=4096: text_spec(max_length),
    "retrieval": lambda max_length=4000: retrieval_spec(max_length),
    "image": image_spec,
    "pathfinder": _pathfinder_spec,
    "pathx": _pathx_spec,
}


def task_spec(name: str, **options) -> TaskSpec:
    """The spec ``load_task(name, ..., **options)`` gives, without any file: what a
    model for the task is sized by."""
    if name not in SPECS:
        raise ValueError(f"unknown LRA task {name!r}; choose one of {', '.join(SPECS)}")
    return SPECS[name](**options)


def load_task(name: str, data_dir: str | Path | None, **options) -> TaskData:
    """An LRA task from the files under ``data_dir`` (see each loader for the layout and
    its options: listops/text/retrieval take max_length, listops also brackets,
    pathfinder/pathx take resolution and difficulty). Raises DataMissing, whose message
    says which file to put where, and MalformedData, which names the file and line
    (including a split with no examples)."""
    if name not in LOADERS:
        raise ValueError(f"unknown LRA task {name!r}; choose one of {', '.join(LOADERS)}")
    return LOADERS[name](data_dir, **options)
