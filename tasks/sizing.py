"""The models an accuracy run builds: which variant of each family trains
(``family_defaults``, by the classes' ``accuracy_rank``) and at what width
(``matched_sizing``: every mixer's model within schema.PARAMS_TOLERANCE of the
reference mixer's model, per task; DESIGN.md: a fair comparison).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from models.backbone import count_params
from models.registry import get_spec, list_mixers, mixer_config
from schema import PARAMS_TOLERANCE

from .base import TaskSpec
from .budget import Budget
from .model import ModelConfig, build_model

#: every model of a task is sized to within PARAMS_TOLERANCE of this mixer's model
#: at the task's Budget.d_model (DESIGN.md: "models within +-5% of the attention
#: model's parameters, per task")
REFERENCE_MIXER = "attention/sdpa"


def ranked_mixers() -> list[str]:
    """Every registered variant that declares an ``accuracy_rank``, each family's
    first choice first (ties by name)."""
    ranked = [s for s in list_mixers() if s.cls.accuracy_rank is not None]
    return [s.name for s in sorted(ranked, key=lambda s: (s.family, s.cls.accuracy_rank, s.name))]


def family_defaults(names: Iterable[str], runs: Callable[[str], bool]) -> dict[str, str]:
    """Per family among ``names``: its best-ranked variant (Mixer.accuracy_rank) in
    ``names`` that ``runs``, else its best-ranked one (which then says why it cannot
    run), else the family's first name."""
    names = list(names)
    chosen: dict[str, str] = {}
    for name in (m for m in ranked_mixers() if m in names):
        family = get_spec(name).family
        if family not in chosen or (not runs(chosen[family]) and runs(name)):
            chosen[family] = name
    for name in names:
        chosen.setdefault(get_spec(name).family, name)
    return chosen


def model_config(
    mixer: str, d_model: int, budget: Budget, seq_len: int, options: Mapping[str, Any]
) -> ModelConfig:
    """The model a budget builds for ``mixer`` at ``d_model``: its depth and MLP ratio,
    and the mixer's knobs (the budget's shared values its constructor names, and over
    them the user's ``options``; ValueError for a knob the mixer lacks)."""
    knobs = mixer_config(mixer, d_model, budget.offered(seq_len), options)
    return ModelConfig(
        mixer, d_model, budget.n_layers, mlp_ratio=budget.mlp_ratio, mixer_config=knobs
    )


def model_params(spec: TaskSpec, cfg: ModelConfig) -> int:
    """Parameters of the task's model, built on the meta device (no memory, no compute)."""
    with torch.device("meta"):
        return count_params(build_model(spec, cfg))


@dataclass(frozen=True)
class Sizing:
    """The width a mixer's model gets on a task, and how it compares with the
    reference (attention) model's parameters."""

    d_model: int
    params: int
    target_params: int

    @property
    def rel_diff(self) -> float:
        return self.params / self.target_params - 1


def matched_sizing(
    mixer: str, spec: TaskSpec, budget: Budget, options: Mapping[str, Any] | None = None
) -> Sizing:
    """The d_model whose model has the parameter count closest to the reference
    mixer's model at ``budget.d_model`` (within PARAMS_TOLERANCE, else ValueError);
    ``options`` are the user's knobs for ``mixer`` (the reference gets none).

    Whole models are matched, not mixers alone (the embedding, MLPs and head are most
    of the parameters at these sizes, so ``models.backbone.width_for_params``, which
    sizes a mixer, would leave the models far apart). Widths are multiples of
    2 * n_heads for mixers with heads (so that heads stay even) and of 2 otherwise,
    and must be accepted by the mixer (Mixer.config_problem)."""
    return _matched_sizing(mixer, spec, budget, tuple(sorted((options or {}).items())))


@functools.lru_cache(maxsize=256)
def _matched_sizing(
    mixer: str, spec: TaskSpec, budget: Budget, options: tuple[tuple[str, Any], ...]
) -> Sizing:
    cls = get_spec(mixer).cls
    knobs = model_config(mixer, budget.d_model, budget, spec.seq_len, dict(options)).mixer_config

    def params_at(name: str, d_model: int, config: dict) -> int:
        cfg = ModelConfig(
            name, d_model, budget.n_layers, mlp_ratio=budget.mlp_ratio, mixer_config=config
        )
        return model_params(spec, cfg)

    reference = model_config(REFERENCE_MIXER, budget.d_model, budget, spec.seq_len, {})
    reference_knobs = reference.mixer_config
    problem = get_spec(REFERENCE_MIXER).cls.config_problem(budget.d_model, **reference_knobs)
    if problem is not None:
        raise ValueError(
            f"the budget's d_model={budget.d_model} does not fit {REFERENCE_MIXER}: {problem}"
        )
    target = params_at(REFERENCE_MIXER, budget.d_model, reference_knobs)
    if mixer == REFERENCE_MIXER and not options:
        return Sizing(budget.d_model, target, target)
    step = 2 * knobs["n_heads"] if "n_heads" in knobs else 2
    widths = range(step, 8 * budget.d_model + 1, step)

    @functools.cache
    def accepted(i: int) -> bool:
        return cls.config_problem(widths[i], **knobs) is None

    @functools.cache
    def sizing_at(i: int) -> Sizing:
        return Sizing(widths[i], params_at(mixer, widths[i], knobs), target)

    def accepted_from(i: int, direction: int) -> int | None:
        while 0 <= i < len(widths):
            if accepted(i):
                return i
            i += direction
        return None

    # parameters grow with the width: bisect for the first accepted width at or
    # above the target, then compare it with the accepted width below it
    lo, hi = 0, len(widths) - 1
    while lo < hi:
        mid = accepted_from((lo + hi) // 2, +1)
        if mid is None or mid > hi:
            hi = (lo + hi) // 2
        elif sizing_at(mid).params < target:
            lo = mid + 1
        else:
            hi = mid
    near = {accepted_from(lo, +1), accepted_from(lo - 1, -1)} - {None}
    candidates = [sizing_at(i) for i in near]
    best = min(candidates, key=lambda c: abs(c.rel_diff), default=None)
    if best is None or abs(best.rel_diff) > PARAMS_TOLERANCE:
        closest = (
            "none fits"
            if best is None
            else (f"closest: d_model {best.d_model} with {best.params}, {best.rel_diff:+.1%}")
        )
        raise ValueError(
            f"{mixer} on {spec.name}: no d_model (a multiple of {step}) gives a model within "
            f"{PARAMS_TOLERANCE:.0%} of {REFERENCE_MIXER}'s {target} parameters ({closest}); "
            "change the task's Budget (d_model, n_heads) in tasks/catalog.py"
        )
    return best
