"""Accuracy runs compare mixers at equal parameters: every model of a task is
within 5% of the attention model's count at the task's Budget (DESIGN.md)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from models.registry import get_spec
from tasks.accuracy import (
    DEFAULT_MIXERS,
    PARAMS_TOLERANCE,
    REFERENCE_MIXER,
    budget_of,
    family_knobs,
    get_profile,
    matched_sizing,
    model_params,
    task_spec,
)
from tasks.model import ModelConfig

pytestmark = pytest.mark.usefixtures("one_thread")


def points(profile: str) -> list[tuple[str, str]]:
    """Every task with every DEFAULT_MIXERS variant this machine can build."""
    mixers = [m for m in DEFAULT_MIXERS if get_spec(m).unavailable_reason() is None]
    return [(t, m) for t in get_profile(profile).task_names() for m in mixers]


@pytest.mark.parametrize(("task", "mixer"), points("default"), ids="-".join)
def test_default_profile_models_are_within_five_percent_of_attention(task, mixer):
    spec, budget = task_spec(task, "default"), budget_of(task, "default")
    knobs = family_knobs(REFERENCE_MIXER, budget, spec.seq_len)
    target = model_params(
        spec, ModelConfig(REFERENCE_MIXER, budget.d_model, budget.n_layers, mixer_config=knobs)
    )
    sizing = matched_sizing(mixer, spec, budget)
    knobs = family_knobs(mixer, budget, spec.seq_len)
    built = model_params(
        spec, ModelConfig(mixer, sizing.d_model, budget.n_layers, mixer_config=knobs)
    )
    assert sizing.target_params == target and sizing.params == built
    assert abs(built - target) <= PARAMS_TOLERANCE * target, (mixer, sizing)
    assert get_spec(mixer).cls.config_problem(sizing.d_model, **knobs) is None
    if "n_heads" in knobs:
        assert (sizing.d_model // knobs["n_heads"]) % 2 == 0, "heads stay even"
    if mixer == REFERENCE_MIXER:
        assert sizing.d_model == budget.d_model


@pytest.mark.parametrize("profile", ["smoke", "paper"])
def test_other_profiles_size_every_default_mixer(profile):
    for task, mixer in points(profile):
        sizing = matched_sizing(mixer, task_spec(task, profile), budget_of(task, profile))
        assert abs(sizing.rel_diff) <= PARAMS_TOLERANCE, (task, mixer, sizing)


def test_an_impossible_match_names_the_mixer_and_the_fix():
    spec, budget = task_spec("lra-retrieval", "default"), budget_of("lra-retrieval", "default")
    # with 4 heads RetNet's widths are multiples of 8: 56 and 64 both miss by over 5%
    with pytest.raises(ValueError) as error:
        matched_sizing("retnet/chunkwise", spec, replace(budget, n_heads=4))
    message = str(error.value)
    assert "retnet/chunkwise on retrieval" in message and "multiple of 8" in message
    assert "change the task's Budget" in message


def test_run_accuracy_records_the_matched_width():
    from tasks.accuracy import run_accuracy

    run = run_accuracy("mamba/scan", "mqar", "smoke", timer=lambda steps: steps())
    sizing = matched_sizing("mamba/scan", task_spec("mqar", "smoke"), budget_of("mqar", "smoke"))
    assert run.model.d_model == sizing.d_model != budget_of("mqar", "smoke").d_model
    assert run.result.params == sizing.params and run.target_params == sizing.target_params
    assert 0 <= run.result.val_accuracy <= 1
