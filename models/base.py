"""The mixer contract every registered mixer follows (see DESIGN.md).

A mixer maps ``x: (batch, length, d_model)`` to the same shape, causally, and
can also run one token at a time from a state. Analytic costs let the suite
compare mixers where no profiler sees the work (FFT, scans).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import inspect
from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch import nn

FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
#: what ``Mixer.knobs`` gives a knob whose constructor sets no default
REQUIRED = inspect.Parameter.empty


def check_positive(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def check_divisible(name: str, value: int, by_name: str, by: int) -> None:
    if value % by:
        raise ValueError(
            f"{name}={value} must be divisible by {by_name}={by}; "
            f"choose {name} as a multiple of {by} (e.g. {max(by, value - value % by)})"
        )


def accumulation_dtype(dtype: torch.dtype) -> torch.dtype:
    """fp32 for half precisions, the dtype itself for fp32 and fp64: positions,
    decays, softmax sums, FFTs and scans lose their precision in bf16 (and the
    largest RetNet decay rounds to 1), while fp64 inputs must stay fp64."""
    return torch.promote_types(dtype, torch.float32)


def outside_autocast(method: Callable[..., Any]) -> Callable[..., Any]:
    """A custom autograd Function's ``forward`` or ``backward`` that runs with
    autocast off, its half-precision tensors in their accumulation dtype, where
    autocast is on: these kernels write products into preallocated buffers of
    the accumulation dtype or multiply them with accumulation-dtype state, which
    autocast's bf16 products cannot do (the gradients autograd hands back are
    cast to each input's own dtype). Outside autocast it changes nothing."""

    @functools.wraps(method)
    def run(ctx: Any, *args: Any) -> Any:
        devices = {a.device.type for a in args if isinstance(a, torch.Tensor)}
        if not any(torch.is_autocast_enabled(device) for device in devices):
            return method(ctx, *args)
        args = tuple(
            a.to(accumulation_dtype(a.dtype))
            if isinstance(a, torch.Tensor) and a.is_floating_point()
            else a
            for a in args
        )
        with contextlib.ExitStack() as stack:
            for device in devices:
                stack.enter_context(torch.autocast(device_type=device, enabled=False))
            return method(ctx, *args)

    return run


def cuda_package_reason(
    package: str, extension: str | None = None, build: str = ""
) -> str | None:
    """Why an optional CUDA backend cannot run here, or None when it can: the
    package is installed, its compiled ``extension`` module imports (a package
    can install without it: mamba-ssm's default install leaves out
    selective_scan_cuda, and then fails at its first call), and a CUDA device
    is present. ``build`` says how to get the extension."""
    if importlib.util.find_spec(package) is None:
        return f"package {package} is not installed (pip install 'mixbench[gpu]' on a CUDA machine)"
    if extension is not None:
        try:
            importlib.import_module(extension)
        except (ImportError, OSError) as error:  # absent, or built against another torch
            detail = " ".join(str(error).split())
            how = f"; {build}" if build else ""
            return (
                f"{package} is installed but its compiled {extension} is not "
                f"({type(error).__name__}: {detail}{how})"
            )
    if not torch.cuda.is_available():
        return f"{package} needs a CUDA device, none is available"
    return None


def tensor_bytes(obj: Any) -> int:
    """Bytes held by every tensor inside a (nested) state."""
    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, dict):
        return sum(tensor_bytes(v) for v in obj.values())
    if isinstance(obj, list | tuple):
        return sum(tensor_bytes(v) for v in obj)
    if hasattr(obj, "__dict__"):
        return sum(tensor_bytes(v) for v in vars(obj).values())
    return 0


class Mixer(nn.Module):
    """Base class: subclasses implement ``forward``, ``init_state``, ``step``,
    ``flops`` and ``state_bytes``; ``prefill`` defaults to stepping through
    the prompt, which is exact for every mixer but slow, so fast modes override it.
    """

    family: ClassVar[str] = ""
    variant: ClassVar[str] = ""
    #: the mixer's own mode names, for ``python -m models list``
    modes: ClassVar[tuple[str, ...]] = ("forward", "step", "prefill")
    #: relative error against the family reference that the suite accepts
    #: before timing (a kernel that computes in bf16 inside needs more)
    reference_tolerance: ClassVar[float] = 1e-4
    #: the decoding state keeps its size whatever the context (RetNet, Mamba);
    #: False where it grows (attention's KV cache, Hyena's history). Saved per
    #: point (schema field fixed_state), so reports never list family names
    fixed_state: ClassVar[bool] = False
    #: the accuracy runs train each family with its variant of lowest rank that
    #: runs in the run (tasks: family_defaults); None: never chosen unless named
    accuracy_rank: ClassVar[int | None] = None
    #: how the mixer knows where a token is (a rotary encoding, a decay, nothing but
    #: its recurrence), one line: saved per accuracy point (schema field positional),
    #: so the length-extrapolation report never guesses it from a family's name
    positional: ClassVar[str] = ""

    def __init__(self, d_model: int) -> None:
        super().__init__()
        check_positive("d_model", d_model)
        self.d_model = d_model

    @classmethod
    def knobs(cls) -> dict[str, Any]:
        """The mixer's knobs: its constructor's keyword arguments after
        ``d_model``, with their defaults (``REQUIRED`` where there is none).
        A constructor that hands ``**config`` on to its base class has the
        base's knobs too (mamba/scan: chunk_size, and Mamba's d_state ...)."""
        found: dict[str, Any] = {}
        for klass in cls.__mro__:
            if "__init__" not in vars(klass):
                continue
            parameters = list(inspect.signature(klass.__init__).parameters.values())[1:]
            for parameter in parameters:
                if parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY):
                    found.setdefault(parameter.name, parameter.default)
            if not any(p.kind is p.VAR_KEYWORD for p in parameters):
                break
        found.pop("d_model", None)
        return found

    @classmethod
    def knobs_from(cls, **offered: Any) -> dict[str, Any]:
        """The offered values whose names are this variant's knobs, e.g.
        ``{"n_heads": 4}`` for attention out of n_heads, chunk_size and l_max."""
        knobs = cls.knobs()
        return {name: value for name, value in offered.items() if name in knobs}

    @classmethod
    def config_problem(cls, d_model: int, **config: Any) -> str | None:
        """Why ``cls(d_model, **config)`` cannot be built (the constructor's own
        ValueError, e.g. heads of odd size), or None; builds on the meta device,
        so it costs no memory and no compute."""
        try:
            with torch.device("meta"):
                cls(d_model=d_model, **config)
        except ValueError as error:
            return str(error)
        return None

    @property
    def name(self) -> str:
        return f"{self.family}/{self.variant}"

    # -- validation --------------------------------------------------------
    def check_input(self, x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor):
            raise ValueError(f"x must be a torch.Tensor, got {type(x).__name__}")
        if x.dim() != 3:
            raise ValueError(
                f"x must have rank 3 (batch, length, d_model), got shape {tuple(x.shape)}"
            )
        if x.shape[-1] != self.d_model:
            raise ValueError(
                f"x's last dimension must be d_model={self.d_model}, got {x.shape[-1]}"
            )
        if x.dtype not in FLOAT_DTYPES:
            raise ValueError(
                f"x must be floating point (float16, bfloat16, float32 or float64), got {x.dtype}"
            )

    def check_token(self, x_t: torch.Tensor) -> None:
        if not isinstance(x_t, torch.Tensor) or x_t.dim() != 2 or x_t.shape[-1] != self.d_model:
            shape = tuple(x_t.shape) if isinstance(x_t, torch.Tensor) else type(x_t).__name__
            raise ValueError(f"x_t must have shape (batch, d_model={self.d_model}), got {shape}")
        if x_t.dtype not in FLOAT_DTYPES:
            raise ValueError(f"x_t must be floating point, got {x_t.dtype}")

    # -- the contract ------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def init_state(self, batch: int, device=None, dtype=None) -> Any:  # pragma: no cover
        raise NotImplementedError

    def step(self, x_t: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:  # pragma: no cover
        raise NotImplementedError

    def prefill(self, x: torch.Tensor) -> tuple[torch.Tensor, Any]:
        self.check_input(x)
        state = self.init_state(x.shape[0], device=x.device, dtype=x.dtype)
        ys = []
        for t in range(x.shape[1]):
            y_t, state = self.step(x[:, t], state)
            ys.append(y_t)
        return torch.stack(ys, dim=1), state

    def flops(self, batch: int, seq_len: int, backward: bool = False) -> int:  # pragma: no cover
        """Analytic FLOPs of ``forward`` (a multiply-add counts 2); with
        ``backward`` the forward plus backward pass."""
        raise NotImplementedError

    def step_flops(self, batch: int, context_len: int) -> int:  # pragma: no cover
        """Analytic FLOPs of one ``step`` after ``context_len`` tokens."""
        raise NotImplementedError

    def prefill_flops(self, batch: int, seq_len: int) -> int:
        """Analytic FLOPs of ``prefill``: ``forward``'s, for mixers whose
        prefill runs forward's path and keeps what it computed on the way."""
        return self.flops(batch, seq_len)

    def state_bytes(self, batch: int, seq_len: int, dtype: torch.dtype = torch.float32) -> int:
        """Bytes of the decoding state after ``seq_len`` tokens (a KV cache
        grows with it; a recurrent state does not)."""
        state = self.init_state(batch, device="meta", dtype=dtype)
        return tensor_bytes(state)

    @staticmethod
    def unavailable_reason() -> str | None:
        """None when the variant can run here, else why not (missing package, needs CUDA)."""
        return None

    @staticmethod
    def run_problem(device: torch.device, dtype: torch.dtype) -> str | None:
        """Why the variant cannot run on ``device`` in ``dtype`` (a CPU-only
        kernel on a GPU run), or None."""
        return None

    @classmethod
    def shape_problem(cls, d_model: int, **config: Any) -> str | None:
        """Why the variant cannot run at this width with these knobs although
        it can be built (a kernel's limit, such as flash-attn's head dim), or None."""
        return None


def matmul_flops(m: int, n: int, k: int) -> int:
    """FLOPs of an (m, k) @ (k, n) product: one multiply and one add per term."""
    return 2 * m * n * k


def train_flops(forward_flops: int) -> int:
    """Forward + backward: the backward pass costs about twice the forward
    (gradients for inputs and for weights)."""
    return 3 * forward_flops
