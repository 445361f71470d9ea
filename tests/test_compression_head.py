"""MAD's compression trains and is scored (tasks/model.py's ReconstructionModel): it
learns above chance on a trivially easy setting, every position is decoded from the
last position's output alone, and the profiles carry MAD's settings."""

from __future__ import annotations

import pytest
import torch

from models.registry import mixer_config
from tasks.accuracy import majority_accuracy, training_step_flops
from tasks.base import IGNORE_INDEX, RECONSTRUCT
from tasks.model import ModelConfig, ReconstructionModel, build_model, sincos_positions
from tasks.synthetic import MAD_TRAINING, REDUCED_SETTINGS, mad_settings, make_compression
from tasks.train import TrainConfig, evaluate, train

pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_model(spec, mixer: str = "attention/sdpa", d_model: int = 32) -> ReconstructionModel:
    knobs = mixer_config(mixer, d_model, {"n_heads": 2, "chunk_size": 4, "l_max": spec.seq_len}, {})
    torch.manual_seed(0)
    return build_model(spec, ModelConfig(mixer, d_model=d_model, n_layers=2, mixer_config=knobs))


def test_the_reconstruct_kind_gets_the_encoder_decoder():
    data = make_compression(8, 4, seed=0, seq_len=6, vocab_size=5)
    assert data.spec.kind == RECONSTRUCT
    model = tiny_model(data.spec)
    assert isinstance(model, ReconstructionModel)
    logits = model(data.train.tensors[0])
    assert logits.shape == (8, 6, data.spec.vocab_size)


def test_every_position_is_decoded_from_the_last_positions_output_alone():
    data = make_compression(4, 2, seed=0, seq_len=6, vocab_size=5)
    model = tiny_model(data.spec).eval()
    tokens = data.train.tensors[0]
    code = model.backbone.features(tokens)[:, -1]
    expected = model.decoder(code.unsqueeze(1) + model.positions)
    assert torch.allclose(model(tokens), expected)
    # the same code gives the same reconstruction: nothing else reaches the decoder
    model.backbone.features = lambda _: code.unsqueeze(1).expand(-1, 6, -1)
    assert torch.allclose(model(torch.ones_like(tokens)), expected)


def test_a_trivially_easy_compression_is_learnt_above_chance():
    # two content tokens from {1, 2} and the compression token: chance is 0.5
    data = make_compression(512, 200, seed=0, seq_len=3, vocab_size=3)
    chance = majority_accuracy(data.test)
    assert chance < 0.6
    model = tiny_model(data.spec)
    cfg = TrainConfig(steps=30, batch_size=16, lr=1e-2, progress=False)
    untrained = evaluate(model, data.test, cfg)
    result = train(model, data, cfg)
    assert result.status == "ok", result.reason
    assert result.accuracy > chance + 0.15 > untrained, (result.accuracy, chance, untrained)


def test_the_compression_token_is_not_scored():
    data = make_compression(20, 4, seed=0, seq_len=5, vocab_size=4)
    targets = data.train.tensors[1]
    assert (targets[:, -1] == IGNORE_INDEX).all() and (targets[:, :-1] >= 1).all()


def test_a_longer_input_than_the_decoder_knows_is_a_one_line_error():
    data = make_compression(4, 2, seed=0, seq_len=4, vocab_size=5)
    model = tiny_model(data.spec)
    with pytest.raises(ValueError, match="decodes at most 4 positions") as error:
        model(torch.ones(1, 6, dtype=torch.long))
    assert "\n" not in str(error.value)


def test_sincos_positions_are_distinct_and_bounded():
    table = sincos_positions(16, 9)
    assert table.shape == (16, 9) and table.abs().max() <= 1
    assert (table[:, -1] == 0).all()  # an odd width ends in a zero column
    assert len({tuple(row.tolist()) for row in table}) == 16


def test_the_training_flops_count_the_decoder_at_every_position():
    data = make_compression(4, 2, seed=0, seq_len=8, vocab_size=16)
    model = tiny_model(data.spec)
    batch, tokens, d, vocab = 2, 2 * 8, 32, data.spec.vocab_size
    smaller = make_compression(4, 2, seed=0, seq_len=8, vocab_size=4)
    # only the vocabulary projection differs: 3 x (forward) 2 * tokens * d per class
    difference = training_step_flops(model, data.spec, batch) - training_step_flops(
        tiny_model(smaller.spec), smaller.spec, batch
    )
    assert difference == 3 * 2 * tokens * d * (vocab - smaller.spec.vocab_size)


# -- the profiles ----------------------------------------------------------------------
def test_the_paper_profile_trains_every_compression_setting_at_mads_grid():
    from tasks.catalog import get_profile

    tasks = {t.name: t for t in get_profile("paper").tasks if t.name.startswith("mad-compr")}
    settings = mad_settings("compression")
    assert sorted(tasks) == sorted(s.name for s in settings) and len(settings) == 11
    pairs = {(lr, wd) for lr in MAD_TRAINING.lrs for wd in MAD_TRAINING.weight_decays}
    for setting in settings:
        task = tasks[setting.name]
        assert task.spec.kind == RECONSTRUCT
        assert task.config["seq_len"] == setting.config.seq_len
        assert set(task.budget.grid) == pairs and len(task.budget.grid) == 6


def test_the_default_profiles_compression_point_is_one_cheap_learnable_setting():
    from tasks.catalog import get_profile, get_task

    names = [t.name for t in get_profile("default").tasks if t.name.startswith("mad-compr")]
    assert names == [REDUCED_SETTINGS["compression"].name] == ["mad-compression-reduced"]
    task = get_task(names[0], "default")
    budget = task.budget
    # ~50 steps like the other reduced MAD points, one weight decay: 2 runs of seed 0
    assert budget.steps == 50 and len(budget.grid) == len(budget.lrs) == 2
    assert budget.weight_decays == (budget.weight_decay,)
    assert budget.batch_size * task.spec.seq_len <= 16 * 32


def test_the_mad_table_scores_compression_with_its_chance_level():
    import pandas as pd

    from reports.mad import mad_scores, mad_table

    def point(difficulty: str, seeds: list[float], chance: float) -> dict:
        return {
            "run": "lab", "mixer": "mamba/fused", "family": "mamba", "variant": "fused",
            "workload": "accuracy", "task": f"mad-compression-{difficulty}", "status": "ok",
            "accuracy": sum(seeds) / len(seeds),
            "seed_accuracies": [
                {"seed": k, "accuracy": a, "status": "ok"} for k, a in enumerate(seeds)
            ],
            "chance_accuracy": chance,
            "task_config": {"generator": "compression", "difficulty": difficulty},
        }  # fmt: skip

    points = pd.DataFrame([point("baseline", [0.3, 0.5], 0.07), point("seq_len=64", [0.2], 0.09)])
    row = mad_scores(points).set_index("mad_task").loc["compression"]
    assert row["mad_score"] == pytest.approx((0.4 + 0.2) / 2)
    assert row["chance_accuracy"] == pytest.approx(0.08) and row["settings"] == "2 of 2"
    table = mad_table(points)
    assert "chance_accuracy" in table.percent and "weight decay" in table.caption
    assert "one weight decay;" not in table.caption  # the grid is no longer missing
