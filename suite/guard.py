"""Every call the suite makes into a mixer (its reference check, a point's
measurement, an accuracy run) goes through ``guarded``:

- **under a time budget.** The call runs in a worker thread while the suite
  waits. Past the budget an exception is raised in that thread (as SIGALRM
  does in the main thread); a call stuck in native code or sleeping never sees
  it, so after ``GRACE_S`` more the worker is abandoned, left running as a
  daemon thread the suite does not wait for, and the suite goes on. Either
  way ``CallTimeout`` (a ``PointTimeout``, so the point is recorded
  ``timeout``) says which happened.
- **with torch's global state kept.** Intra-op threads, the default dtype and
  device, deterministic flags, float32 matmul precision, TF32 and cuDNN flags,
  anomaly mode and grad mode are read before the call and compared after, in
  the worker (OpenMP's thread count is per thread: the worker sees a change
  the waiting thread does not, and passes it on to every later thread): a call
  that changed any of them raises ``StateChanged`` naming each change, after
  they are put back, so that no later point of any mixer runs (or is saved)
  under a plug-in's setting. A worker left behind cannot put them back: the
  waiting thread sets them all. The RNG states are put back without a word:
  drawing random numbers is what training does.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch

from .measure import PointTimeout

#: seconds a worker has, after the exception raised in it, to stop before it
#: is abandoned
GRACE_S = 2.0


class CallTimeout(PointTimeout):
    """A mixer call ran past its time budget (interrupted, or abandoned)."""


class Interrupt(PointTimeout):
    """Raised inside the worker thread when its budget runs out."""

    def __init__(self) -> None:
        super().__init__("interrupted: past its time budget")


class StateChanged(RuntimeError):
    """A mixer call changed torch's global state (put back before this is raised)."""


# -- torch's global state -------------------------------------------------------------
def cudnn_flag(name: str) -> Callable[[], Any]:
    return lambda: getattr(torch.backends.cudnn, name)


def set_cudnn_flag(name: str) -> Callable[[Any], None]:
    return lambda value: setattr(torch.backends.cudnn, name, value)


def set_tf32_matmul(value: bool) -> None:
    torch.backends.cuda.matmul.allow_tf32 = value


def set_deterministic(value: tuple[bool, bool]) -> None:
    torch.use_deterministic_algorithms(value[0], warn_only=value[1])


#: name -> (read it, set it); grad mode is per thread and travels into the worker
SETTINGS: dict[str, tuple[Callable[[], Any], Callable[[Any], None]]] = {
    "num_threads": (torch.get_num_threads, torch.set_num_threads),
    "default_dtype": (torch.get_default_dtype, torch.set_default_dtype),
    "default_device": (torch.get_default_device, torch.set_default_device),
    "deterministic_algorithms": (
        lambda: (
            torch.are_deterministic_algorithms_enabled(),
            torch.is_deterministic_algorithms_warn_only_enabled(),
        ),
        set_deterministic,
    ),
    "float32_matmul_precision": (
        torch.get_float32_matmul_precision,
        torch.set_float32_matmul_precision,
    ),
    "cuda_matmul_allow_tf32": (lambda: torch.backends.cuda.matmul.allow_tf32, set_tf32_matmul),
    "cudnn_allow_tf32": (cudnn_flag("allow_tf32"), set_cudnn_flag("allow_tf32")),
    "cudnn_deterministic": (cudnn_flag("deterministic"), set_cudnn_flag("deterministic")),
    "cudnn_benchmark": (cudnn_flag("benchmark"), set_cudnn_flag("benchmark")),
    "anomaly_detection": (torch.is_anomaly_enabled, torch.set_anomaly_enabled),
}


def read_settings() -> dict[str, Any]:
    return {name: read() for name, (read, _) in SETTINGS.items()}


def put_back(before: dict[str, Any]) -> list[str]:
    """Set every setting that differs from ``before`` back; the changes, in words."""
    changes = []
    for name, value in read_settings().items():
        if value != before[name]:
            changes.append(f"{name} {before[name]} -> {value}")
            SETTINGS[name][1](before[name])
    return changes


def put_back_for_every_thread(before: dict[str, Any]) -> None:
    """After a worker left behind: the settings this thread sees, and the thread
    count new threads start with (which this thread may not see changed)."""
    put_back(before)
    torch.set_num_threads(before["num_threads"])


@dataclass
class RngStates:
    """The CPU generator's state, and each initialised CUDA device's."""

    cpu: torch.Tensor = field(default_factory=torch.get_rng_state)
    cuda: list[torch.Tensor] | None = field(
        default_factory=lambda: torch.cuda.get_rng_state_all()
        if torch.cuda.is_initialized()
        else None
    )

    def restore(self) -> None:
        torch.set_rng_state(self.cpu)
        if self.cuda is not None:
            torch.cuda.set_rng_state_all(self.cuda)


@contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """``threads`` intra-op threads in the block (0: leave them), put back after."""
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# -- the worker -----------------------------------------------------------------------
@dataclass
class Outcome:
    value: Any = None
    error: BaseException | None = None
    #: what the call changed of torch's state, in words (put back)
    changes: list[str] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)


def run_in_worker(fn: Callable[[], Any], outcome: Outcome) -> threading.Thread:
    grad = torch.is_grad_enabled()
    cuda_device = torch.cuda.current_device() if torch.cuda.is_initialized() else None

    def work() -> None:
        before = read_settings()
        try:
            torch.set_grad_enabled(grad)
            if cuda_device is not None:
                torch.cuda.set_device(cuda_device)
            outcome.value = fn()
        except BaseException as exc:  # handed to the waiting thread
            outcome.error = exc
        finally:
            outcome.changes = put_back(before)
            if torch.is_grad_enabled() != grad:
                outcome.changes.append(f"grad_enabled {grad} -> {torch.is_grad_enabled()}")
            outcome.done.set()

    worker = threading.Thread(target=work, name="mixbench-mixer-call", daemon=True)
    worker.start()
    return worker


def interrupt(worker: threading.Thread, exception: type[BaseException]) -> None:
    """Raise ``exception`` in ``worker`` at its next Python bytecode."""
    if worker.ident is not None and worker.is_alive():
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(worker.ident), ctypes.py_object(exception)
        )


def wait_for(worker: threading.Thread, outcome: Outcome, budget_s: float, what: str) -> None:
    """Wait up to ``budget_s`` (Ctrl-C stops the worker too); past it, stop or
    abandon the worker and raise CallTimeout."""
    try:
        if outcome.done.wait(budget_s):
            return
    except BaseException:
        interrupt(worker, KeyboardInterrupt)
        raise
    interrupt(worker, Interrupt)
    if outcome.done.wait(GRACE_S):
        raise CallTimeout(f"{what} ran past its time budget of {budget_s:g} s and was stopped")
    raise CallTimeout(
        f"{what} ran past its time budget of {budget_s:g} s and did not stop (stuck in native "
        f"code): abandoned in worker thread {worker.name}, left running while the run goes on"
    )


def guarded(fn: Callable[[], Any], budget_s: float, what: str) -> Any:
    """``fn()`` under ``budget_s`` seconds with torch's global state kept (see
    the module's docstring); its value, or its exception re-raised here."""
    settings, rng = read_settings(), RngStates()
    outcome = Outcome()
    try:
        wait_for(run_in_worker(fn, outcome), outcome, budget_s, what)
    except BaseException:
        put_back_for_every_thread(settings)
        raise
    finally:
        rng.restore()
    if outcome.error is not None:
        raise outcome.error
    if outcome.changes:
        raise StateChanged(
            f"{what} changed torch's global state: {', '.join(outcome.changes)} (put back; "
            "nothing it measured under it is kept)"
        )
    return outcome.value
