"""Fakes of the optional CUDA libraries the project calls, for contract tests on a CPU.

Each fake stands for one package: its entry points have the real functions'
signatures (a wrong argument name is a TypeError, as with the real ones),
check layout, dtype, contiguity and value ranges as the real function and its
kernel do (each check names the file and line of the version read: flash-attn
v2.8.3, xformers v0.0.35, mamba-ssm v2.3.2.post1, causal-conv1d v1.6.0), and
compute the answer with the project's own references (models.attention's
softmax, models.mamba's conv and scan), so that a variant's wiring runs end to
end on CPU tensors. A fake installs its modules into ``sys.modules`` with
pytest's monkeypatch, the compiled extension among them (availability imports
it), and ``fake_cuda`` makes ``torch.cuda.is_available()`` say True; the
tensors stay on the CPU, so the device checks are the one part left out.
"""

from __future__ import annotations

import importlib.machinery
import sys
from collections import Counter
from collections.abc import Iterable
from types import ModuleType
from typing import Any

import pytest
import torch

FLOATS = (torch.float32, torch.float16, torch.bfloat16)
HALVES = (torch.float16, torch.bfloat16)


class ContractViolation(AssertionError):
    """A call that the real library would refuse, or would run wrongly (a
    hidden copy, a write past a buffer), named with where its contract says so."""


def require(condition: bool, what: str, where: str) -> None:
    if not condition:
        raise ContractViolation(f"{what} [{where}]")


def require_dtype(name: str, t: torch.Tensor, dtypes: Iterable[torch.dtype], where: str) -> None:
    dtypes = tuple(dtypes)
    require(t.dtype in dtypes, f"{name} must be one of {dtypes}, got {t.dtype}", where)


def require_shape(name: str, t: torch.Tensor, shape: tuple[int, ...], where: str) -> None:
    require(tuple(t.shape) == shape, f"{name} must have shape {shape}, got {tuple(t.shape)}", where)


def require_last_contiguous(name: str, t: torch.Tensor, where: str) -> None:
    """The wrappers copy a tensor whose last dim is strided (``maybe_contiguous``
    and its kin): a copy the project never wants hidden in a call."""
    require(
        t.stride(-1) == 1 or t.shape[-1] == 1,
        f"{name} must have stride 1 in its last dim "
        f"(got strides {t.stride()}): the wrapper would copy it",
        where,
    )


def module(name: str, attributes: dict[str, Any]) -> ModuleType:
    """A module object that ``importlib.util.find_spec`` and ``import`` accept."""
    made = ModuleType(name)
    made.__spec__ = importlib.machinery.ModuleSpec(name, loader=None, is_package=True)
    made.__path__ = []
    vars(made).update(attributes)
    return made


class FakeLibrary:
    """One fake package: ``modules()`` names its modules and their attributes;
    ``calls`` counts the calls each entry point received."""

    #: the compiled extension module that availability imports
    extension: str = ""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def modules(self) -> dict[str, dict[str, Any]]:  # pragma: no cover - abstract
        raise NotImplementedError

    def install(self, monkeypatch: pytest.MonkeyPatch, extension: bool = True) -> FakeLibrary:
        """Put the modules into ``sys.modules``, each child also an attribute of
        its parent; without ``extension`` the compiled module fails to import,
        as after a default install that skipped the build."""
        made = {name: module(name, attrs) for name, attrs in self.modules().items()}
        for name, mod in made.items():
            monkeypatch.setitem(sys.modules, name, mod)
            parent, _, child = name.rpartition(".")
            if parent in made:
                setattr(made[parent], child, mod)
        monkeypatch.setitem(sys.modules, self.extension, module(self.extension, {}))
        if not extension:
            # None in sys.modules: ``import`` raises ImportError
            monkeypatch.setitem(sys.modules, self.extension, None)
        return self


def fake_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    """``torch.cuda.is_available()`` says True; every tensor stays on the CPU."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
