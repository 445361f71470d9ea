"""Long Range Arena: loaders for the release's files and generators that need no
download (ListOps, Pathfinder / Path-X), all giving TaskData."""

from tasks.lra.common import DATA_ENV_VAR, DataMissing, MalformedData, data_dir_from_env
from tasks.lra.listops import make_listops
from tasks.lra.pathfinder import make_pathfinder
from tasks.lra.registry import LOADERS, load_task

TASK_NAMES = tuple(LOADERS)

__all__ = [
    "DATA_ENV_VAR",
    "TASK_NAMES",
    "DataMissing",
    "MalformedData",
    "data_dir_from_env",
    "load_task",
    "make_listops",
    "make_pathfinder",
]
