"""The accuracy grid: every training run of the collected accuracy points
(task x mixer x seed x learning rate), run in this process or as Ray tasks.

A run is a ``RunKey``; ``train_one`` trains it (tasks/accuracy.py) and
returns a plain ``RunRecord`` (tasks/record.py), so that the same record comes back whether the
run ran here or on a worker, and the report cannot tell the difference.

- ``InProcess`` (the default) trains a run when its record is asked for.
- ``RayGrid`` (``--workers N``) submits runs to a local Ray cluster it starts,
  or to the one ``--ray-address`` names; each run takes one CPU thread, or one
  GPU. A worker that dies (killed, out of memory) gives a record with status
  failed and its reason, and the rest of the grid goes on. Ray is imported
  only here, only then. ``--ray-address`` is checked once at start
  (``ray_address_problem``): Ray's own connect retries an unreachable head for
  hours.

A run in this process goes through ``suite.guard``: one that never returns is
recorded ``timeout`` past ``run_budget_s`` and the grid goes on; one that
changes torch's global state is recorded ``failed``, the state put back.

Speed points never share the machine with this: suite/test_accuracy.py
waits for every run of the grid before the speed files start.
"""

from __future__ import annotations

import importlib.util
import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tqdm.auto import tqdm

from schema import Status
from tasks.catalog import get_task
from tasks.record import RunKey, RunRecord, record_run

from .guard import CallTimeout, StateChanged, guarded, torch_threads

#: seconds --ray-address's head has to accept a connection at start
REACH_TIMEOUT_S = 5.0
#: a run in this process stops itself at its task's time budget (between two
#: steps); the guard stops one that never returns: data, evaluation and one
#: stuck step get this many budgets, plus RUN_MARGIN_S
RUN_BUDGETS = 3
RUN_MARGIN_S = 120.0


@dataclass(frozen=True)
class GridContext:
    """What every run needs besides its key (picklable: it travels to workers)."""

    profile: str
    device: str
    data_dir: str | None
    autocast: str
    #: torch threads per run (0: leave torch's default)
    threads: int
    #: the run's mixer knobs by pattern (RunOptions.mixer_option: --mixer-option and
    #: the profile's); each run takes those that match its mixer
    mixer_options: dict[str, dict[str, Any]] = field(default_factory=dict)


def train_one(key: RunKey, context: GridContext) -> RunRecord:
    """Train one run; a run that cannot start or breaks comes back as a record."""
    import torch

    from models.registry import MixerUnavailable, mixer_options_for
    from tasks.accuracy import run_accuracy
    from tasks.lra import DataMissing

    if context.threads:
        torch.set_num_threads(context.threads)
    try:
        run = run_accuracy(
            key.mixer,
            key.task,
            context.profile,
            device=context.device,
            data_dir=context.data_dir,
            seed=key.seed,
            lr=key.lr,
            weight_decay=key.weight_decay,
            autocast=context.autocast,
            progress=False,
            options=mixer_options_for(key.mixer, context.mixer_options),
        )
    except DataMissing as missing:
        return RunRecord(key, Status.SKIPPED, str(missing))
    except MixerUnavailable as unavailable:
        return RunRecord(key, Status.UNAVAILABLE, str(unavailable))
    except Exception as exc:  # a broken run is recorded; the grid goes on
        return RunRecord(key, Status.FAILED, f"{type(exc).__name__}: {exc}")
    return record_run(key, run)


def run_budget_s(key: RunKey, context: GridContext) -> float:
    return RUN_BUDGETS * get_task(key.task, context.profile).budget.time_budget_s + RUN_MARGIN_S


def guarded_run(train: Callable, key: RunKey, context: GridContext, budget_s: float) -> RunRecord:
    """``train(key, context)`` under the guard, at the run's threads (put back
    after); a run past ``budget_s`` or one that changed torch's state is a record."""
    what = f"training {key.mixer} on {key.task} (seed {key.seed}, lr {key.lr:g})"
    with torch_threads(context.threads):
        try:
            return guarded(lambda: train(key, context), budget_s, what)
        except CallTimeout as timeout:
            return RunRecord(key, Status.TIMEOUT, str(timeout))
        except StateChanged as changed:
            return RunRecord(key, Status.FAILED, str(changed))


class InProcess:
    """Runs train here, one after another, when their record is asked for."""

    def __init__(
        self,
        context: GridContext,
        total: int,
        train: Callable = train_one,
        budget_s: Callable[[RunKey, GridContext], float] = run_budget_s,
    ) -> None:
        self.context, self.train, self.budget_s = context, train, budget_s
        self.records: dict[RunKey, RunRecord] = {}
        self.progress = tqdm(total=total, desc="accuracy runs", unit="run", leave=False)

    def submit(self, keys: Sequence[RunKey]) -> None:
        """Nothing to do ahead of time: runs train when asked for."""

    def result(self, key: RunKey) -> RunRecord:
        if key not in self.records:
            budget_s = self.budget_s(key, self.context)
            self.records[key] = guarded_run(self.train, key, self.context, budget_s)
            self.progress.update()
        return self.records[key]

    def close(self) -> None:
        self.progress.close()


class RayGrid:
    """Runs as Ray tasks, submitted ahead of the tests that wait for them."""

    def __init__(
        self,
        context: GridContext,
        total: int,
        workers: int,
        address: str | None = None,
        gpus_per_run: float = 0,
        train: Callable = train_one,
    ) -> None:
        import ray

        self.ray, self.context = ray, context
        if not ray.is_initialized():
            if address:
                ray.init(address=address, log_to_driver=False)
            else:
                ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        self.remote = ray.remote(num_cpus=1, num_gpus=gpus_per_run, max_retries=0)(train)
        self.pending: dict[RunKey, Any] = {}
        self.records: dict[RunKey, RunRecord] = {}
        self.progress = tqdm(total=total, desc="accuracy runs", unit="run", leave=False)

    def submit(self, keys: Sequence[RunKey]) -> None:
        for key in keys:
            if key not in self.pending and key not in self.records:
                self.pending[key] = self.remote.remote(key, self.context)

    def result(self, key: RunKey) -> RunRecord:
        self.submit([key])
        while key not in self.records:
            done, _ = self.ray.wait(list(self.pending.values()), num_returns=1, timeout=1.0)
            for ref in done:
                self.collect(ref)
        return self.records[key]

    def collect(self, ref: Any) -> None:
        key = next(k for k, r in self.pending.items() if r == ref)
        del self.pending[key]
        try:
            self.records[key] = self.ray.get(ref)
        except Exception as exc:  # the worker died or the task raised: recorded
            reason = f"the Ray worker running it was lost: {type(exc).__name__}: {exc}"
            self.records[key] = RunRecord(key, Status.FAILED, reason.splitlines()[0])
        self.progress.update()

    def close(self) -> None:
        """Cancel what has not run (Ctrl-C, or tests deselected midway) and shut
        down; closing twice does nothing."""
        if not self.ray.is_initialized():
            return
        for ref in self.pending.values():
            self.ray.cancel(ref, force=True)
        self.pending.clear()
        self.progress.close()
        self.ray.shutdown()


def ray_address_problem(address: str, timeout_s: float = REACH_TIMEOUT_S) -> str | None:
    """Why ``address`` cannot be used, None when its head accepts a TCP
    connection within ``timeout_s``. ``auto`` is Ray's to find (it says at once
    when there is no cluster) unless RAY_ADDRESS names one; ``ray://host:port``
    (Ray Client) needs ray[client]."""
    if address == "auto":
        address = os.environ.get("RAY_ADDRESS", "auto")
        if address == "auto":
            return None
    if address.startswith("ray://"):
        if importlib.util.find_spec("grpc") is None:
            return (
                "ray://host:port is Ray Client, which needs pip install 'ray[client]' "
                "(mixbench[ray] does not install it); or give the head's host:port"
            )
        address = address.removeprefix("ray://")
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        return "is not host:port (e.g. head:6379) or auto"
    try:
        connection = socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s)
    except OSError as exc:
        return (
            f"nothing answers at {host}:{port} within {timeout_s:g} s "
            f"({exc.strerror or exc}); start the cluster (ray start --head) or fix the address"
        )
    with connection:
        if not speaks_grpc(connection):
            return (
                f"{host}:{port} answers but is not a Ray head (no gRPC reply within "
                f"{timeout_s:g} s); give the head's GCS port (6379 unless ray start --port said)"
            )
    return None


#: an HTTP/2 client's preface and an empty SETTINGS frame: a gRPC server (Ray's
#: GCS, Ray Client's server) answers with a SETTINGS frame of its own
HTTP2_HELLO = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
HTTP2_SETTINGS = 4


def speaks_grpc(connection: socket.socket) -> bool:
    """Whether the server answers HTTP/2's preface with a SETTINGS frame."""
    try:
        connection.sendall(HTTP2_HELLO)
        header = b""
        while len(header) < 9:
            chunk = connection.recv(9 - len(header))
            if not chunk:
                return False
            header += chunk
    except OSError:
        return False
    return header[3] == HTTP2_SETTINGS
