"""The training loop: resume, divergence, schedule, data order, heads, bf16 autocast."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from torch.utils.data import Dataset, TensorDataset

from models import build_mixer, get_spec, list_mixers
from models.mamba import chunked_selective_scan
from models.retnet import retain_chunks
from tasks.base import IGNORE_INDEX, TaskData, TaskSpec
from tasks.model import ModelConfig, TwoTowerClassifier, build_model
from tasks.synthetic import make_selective_copy
from tasks.train import (
    CheckpointError,
    TrainConfig,
    batch_indices,
    evaluate,
    lr_factor,
    make_optimizer,
    task_loss,
    train,
)

MIXER = "attention/math"


pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_data() -> TaskData:
    return make_selective_copy(48, 16, seed=0, seq_len=12, vocab_size=8, n_copy=3)


def tiny_model(spec: TaskSpec, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_model(spec, ModelConfig(MIXER, d_model=16, n_layers=1, mlp_ratio=2))


def tiny_config(**overrides) -> TrainConfig:
    return TrainConfig(**{"steps": 12, "batch_size": 8, "lr": 3e-3, "progress": False, **overrides})


class CrashAfter(Dataset):
    """Serves ``limit`` examples, then fails like a killed job."""

    def __init__(self, inner: TensorDataset, limit: int) -> None:
        self.inner, self.left = inner, limit

    def __len__(self) -> int:
        return len(self.inner)

    def __getitem__(self, i: int):
        if self.left == 0:
            raise KeyboardInterrupt("simulated kill")
        self.left -= 1
        return self.inner[i]


def test_resumed_run_matches_an_uninterrupted_one(tmp_path):
    data = tiny_data()
    straight = tiny_model(data.spec)
    expected = train(straight, data, tiny_config())

    checkpoint = tmp_path / "run.pt"
    cfg = tiny_config(checkpoint_path=checkpoint, checkpoint_every=5)
    crashing = replace(data, train=CrashAfter(data.train, limit=7 * 8))
    with pytest.raises(KeyboardInterrupt):  # dies during step 7, after the step-5 checkpoint
        train(tiny_model(data.spec), crashing, cfg)
    assert checkpoint.exists()

    # a fresh process would build a differently initialised model: the checkpoint wins
    resumed_model = tiny_model(data.spec, seed=123)
    resumed = train(resumed_model, data, cfg)
    assert resumed.steps == expected.steps == 12
    assert resumed.losses == pytest.approx(expected.losses, abs=1e-6)
    assert resumed.accuracy == expected.accuracy
    assert resumed.val_accuracy == expected.val_accuracy
    for (name, a), b in zip(
        straight.state_dict().items(), resumed_model.state_dict().values(), strict=True
    ):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0, msg=name)


def test_finished_checkpoint_only_evaluates(tmp_path):
    data = tiny_data()
    cfg = tiny_config(checkpoint_path=tmp_path / "run.pt")
    first = train(tiny_model(data.spec), data, cfg)
    again = train(tiny_model(data.spec, seed=5), data, cfg)
    assert again.steps == first.steps and again.accuracy == first.accuracy


def test_checkpoint_of_another_run_is_refused(tmp_path):
    data = tiny_data()
    train(tiny_model(data.spec), data, tiny_config(checkpoint_path=tmp_path / "run.pt"))
    with pytest.raises(CheckpointError, match="lr: checkpoint 0.003 vs now 0.001"):
        train(
            tiny_model(data.spec), data, tiny_config(checkpoint_path=tmp_path / "run.pt", lr=1e-3)
        )


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ("task", "task.name: checkpoint 'selective-copy-n3-L12' vs now 'selective-copy-n2-L12'"),
        ("model", "model.d_model: checkpoint 16 vs now 24"),
    ],
)
def test_checkpoint_of_another_task_or_model_is_refused(tmp_path, change, named):
    data = tiny_data()
    checkpoint = tmp_path / "run.pt"
    train(tiny_model(data.spec), data, tiny_config(checkpoint_path=checkpoint))
    model = tiny_model(data.spec)
    if change == "task":
        data = make_selective_copy(48, 16, seed=0, seq_len=12, vocab_size=8, n_copy=2)
    else:
        torch.manual_seed(0)
        model = build_model(data.spec, ModelConfig(MIXER, d_model=24, n_layers=1, mlp_ratio=2))
    with pytest.raises(CheckpointError) as error:
        train(model, data, tiny_config(checkpoint_path=checkpoint))
    message = str(error.value)
    assert named in message and str(checkpoint) in message
    assert "delete it or use another folder" in message and "\n" not in message


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 cut off"], ids=["empty", "truncated"])
def test_unreadable_checkpoint_names_the_path_and_says_delete_it(tmp_path, content):
    data = tiny_data()
    checkpoint = tmp_path / "run.pt"
    checkpoint.write_bytes(content)
    with pytest.raises(CheckpointError) as error:
        train(tiny_model(data.spec), data, tiny_config(checkpoint_path=checkpoint))
    message = str(error.value)
    assert str(checkpoint) in message and "delete it" in message and "\n" not in message


def test_truncated_real_checkpoint_is_refused(tmp_path):
    data = tiny_data()
    checkpoint = tmp_path / "run.pt"
    train(tiny_model(data.spec), data, tiny_config(checkpoint_path=checkpoint, steps=3))
    checkpoint.write_bytes(checkpoint.read_bytes()[: checkpoint.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="delete it"):
        train(tiny_model(data.spec), data, tiny_config(checkpoint_path=checkpoint, steps=3))


@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_empty_split_is_refused_before_training(split):
    data = tiny_data()
    empty = replace(data, **{split: TensorDataset(torch.zeros(0, 12, dtype=torch.long))})
    with pytest.raises(ValueError, match=f"the {split} split has no examples"):
        train(tiny_model(data.spec), empty, tiny_config())


def test_nan_loss_is_reported_as_diverged():
    data = tiny_data()
    model = tiny_model(data.spec)
    with torch.no_grad():
        model.backbone.embed.weight[3] = float("nan")
    result = train(model, data, tiny_config())
    assert result.status == "diverged"
    assert result.steps == 0 and result.accuracy is None and result.val_accuracy is None
    assert "nan" in result.reason


def test_time_budget_stops_with_timeout_and_still_evaluates():
    data = tiny_data()
    result = train(tiny_model(data.spec), data, tiny_config(steps=500, time_budget_s=1e-9))
    assert result.status == "timeout" and result.steps == 1
    assert 0 <= result.accuracy <= 1


def test_result_reports_figures():
    data = tiny_data()
    model = tiny_model(data.spec)
    result = train(model, data, tiny_config())
    assert result.status == "ok" and result.steps == 12 and len(result.losses) == 12
    assert result.final_loss == result.losses[-1]
    assert 0 <= result.val_accuracy <= 1 and 0 <= result.accuracy <= 1
    assert result.params == sum(p.numel() for p in model.parameters())
    assert result.train_time_s > 0
    assert result.tokens_per_s == pytest.approx(12 * 8 * 12 / result.train_time_s)


def test_schedule_warms_up_linearly_then_decays_by_cosine():
    cfg = TrainConfig(steps=100, warmup_steps=10, min_lr_ratio=0.1)
    assert lr_factor(0, cfg) == pytest.approx(0.1)
    assert lr_factor(9, cfg) == pytest.approx(1.0)
    assert lr_factor(55, cfg) == pytest.approx(0.55)  # halfway down the cosine
    assert lr_factor(100, cfg) == pytest.approx(0.1)
    factors = [lr_factor(s, cfg) for s in range(10, 101)]
    assert all(a >= b for a, b in zip(factors, factors[1:], strict=False))


def test_batches_visit_every_example_once_per_epoch():
    n, batch = 10, 4
    order = torch.cat([batch_indices(step, batch, n, seed=0) for step in range(5)])
    assert sorted(order[:10].tolist()) == list(range(10))
    assert sorted(order[10:20].tolist()) == list(range(10))
    assert not torch.equal(order[:10], order[10:20]), "each epoch reshuffles"
    assert torch.equal(batch_indices(3, batch, n, seed=0), order[12:16])


def test_loss_counts_only_predicted_positions():
    logits = torch.randn(2, 5, 7)
    target = torch.full((2, 5), IGNORE_INDEX)
    target[0, 1], target[1, 4] = 3, 6
    changed = logits.clone()
    changed[target == IGNORE_INDEX] = 100.0
    assert task_loss(logits, target) == pytest.approx(task_loss(changed, target).item())


# -- heads ---------------------------------------------------------------------------
def test_two_tower_head_shapes_and_shared_towers():
    spec = TaskSpec("pair", "pair", vocab_size=20, seq_len=10, n_classes=2)
    torch.manual_seed(0)
    model = build_model(spec, ModelConfig(MIXER, d_model=16, n_layers=1))
    assert isinstance(model, TwoTowerClassifier)
    tokens = torch.randint(1, 20, (3, 2, 10))
    assert model(tokens).shape == (3, 2)
    assert model.encode(tokens[:, 0]).shape == (3, 16)
    # one backbone encodes both documents
    swapped = tokens.flip(1)
    u, v = model.encode(tokens[:, 0]), model.encode(swapped[:, 1])
    torch.testing.assert_close(u, v)
    with pytest.raises(ValueError, match=r"\(batch, 2, length\)"):
        model(tokens[:, 0])


def test_two_tower_model_trains():
    spec = TaskSpec("pair", "pair", vocab_size=20, seq_len=10, n_classes=2)
    gen = torch.Generator().manual_seed(0)
    tokens = torch.randint(1, 20, (32, 2, 10), generator=gen)
    labels = (tokens[:, 0, 0] == tokens[:, 1, 0]).long()
    pairs = TensorDataset(tokens, labels)
    data = TaskData(spec, pairs, pairs, val=pairs)
    torch.manual_seed(0)
    result = train(
        build_model(spec, ModelConfig(MIXER, d_model=16, n_layers=1)), data, tiny_config(steps=3)
    )
    assert result.status == "ok" and result.tokens_per_s > 0


@pytest.mark.parametrize("pooling", ["mean", "first"])
def test_classifier_ignores_padding(pooling):
    spec = TaskSpec("cls", "classify", vocab_size=20, seq_len=16, n_classes=3, pad_id=0)
    torch.manual_seed(0)
    model = build_model(spec, ModelConfig(MIXER, d_model=16, n_layers=1, pooling=pooling))
    tokens = torch.randint(1, 20, (2, 8))
    padded = torch.cat([tokens, torch.zeros(2, 8, dtype=torch.long)], dim=1)
    assert model(padded).shape == (2, 3)
    # causal mixers: trailing pads change no real token's features, and the mask drops them
    torch.testing.assert_close(model(tokens), model(padded))


def test_per_token_model_predicts_the_vocabulary():
    data = tiny_data()
    logits = tiny_model(data.spec)(data.train.tensors[0][:2])
    assert logits.shape == (2, data.spec.seq_len, data.spec.vocab_size)


# -- accuracy runs -------------------------------------------------------------------------
def test_every_suite_profile_has_accuracy_budgets():
    from suite.options import PROFILES as SUITE_PROFILES
    from tasks.catalog import PROFILES

    assert set(SUITE_PROFILES) <= set(PROFILES)


def test_run_accuracy_times_only_the_training():
    from tasks.accuracy import run_accuracy

    timed = []

    def timer(run):
        outcome = run()
        timed.append(outcome.progress.step)
        return outcome

    run = run_accuracy(MIXER, "mqar", "smoke", timer=timer)
    assert timed == [run.result.steps] and run.result.status == "ok"
    assert run.seq_len == 32 and 0 <= run.result.accuracy <= 1
    assert run.model.mixer_config == {"n_heads": 2}


def test_unknown_accuracy_task_names_the_known_ones():
    from tasks.accuracy import run_accuracy

    with pytest.raises(ValueError, match="known:.*mqar"):
        run_accuracy(MIXER, "nope", "smoke")


# -- bf16 autocast: how a GPU accuracy run trains (autocast "auto") -----------------
def built_in_mixers() -> list[str]:
    return [spec.name for spec in list_mixers() if spec.unavailable_reason() is None]


@pytest.mark.parametrize("name", built_in_mixers())
def test_every_mixer_trains_under_bf16_autocast(name):
    """The accuracy runs train under bf16 autocast on a GPU; every variant's
    forward and backward must take it, hand-written autograd Functions included
    (models/base.py ``outside_autocast``), and give finite gradients."""
    torch.manual_seed(0)
    knobs = get_spec(name).cls.knobs_from(n_heads=4, chunk_size=8, l_max=64)
    mixer = build_mixer(name, 32, **knobs)
    x = torch.randn(2, 20, 32, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = mixer(x).float().square().mean()
    loss.backward()
    assert torch.isfinite(x.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in mixer.parameters() if p.grad is not None)


def test_hand_written_kernels_ignore_autocast():
    """Under autocast the chunked scan and the chunkwise retention compute
    exactly as outside it on float32 inputs: autocast would run their products
    in bf16, into float32 buffers."""
    torch.manual_seed(0)
    u, delta, B, C = torch.randn(2, 20, 8), torch.rand(2, 20, 8), *torch.randn(2, 2, 20, 4)
    A = -torch.rand(8, 4)
    q, k, v = torch.randn(3, 2, 4, 20, 8)
    log_decay = torch.log(1 - 2.0 ** -torch.arange(5.0, 9.0))
    runs = []
    for enabled in (False, True):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=enabled):
            y, h = chunked_selective_scan(u, delta, A, B, C, chunk_size=8)
            o, d, state = retain_chunks(q, k, v, log_decay, chunk_size=8)
        runs.append((y, h, o, d, state))
    for outside, inside in zip(*runs, strict=True):
        assert inside.dtype == torch.float32
        torch.testing.assert_close(inside, outside, rtol=0, atol=0)


# -- learning curves and the optimizer step ---------------------------------------------
def test_curve_steps_are_even_and_end_at_the_last_step():
    assert tiny_config(steps=10, curve_points=4).curve_steps() == {2, 5, 8, 10}
    assert tiny_config(steps=3, curve_points=8).curve_steps() == {1, 2, 3}
    assert tiny_config(curve_points=0).curve_steps() == set()


@pytest.mark.parametrize("value", [-1, 1.5, True])
def test_curve_points_must_be_a_non_negative_integer(value):
    with pytest.raises(ValueError, match="curve_points must be a non-negative integer"):
        tiny_config(curve_points=value)


def test_curve_records_validation_accuracy_cpu_and_flops_at_its_steps():
    data = tiny_data()
    model = tiny_model(data.spec)
    cfg = tiny_config(curve_points=4, curve_examples=5)
    result = train(model, data, cfg, step_flops=1000)
    assert [p["step"] for p in result.curve] == [3, 6, 9, 12]
    assert [p["flops"] for p in result.curve] == [3000.0, 6000.0, 9000.0, 12000.0]
    cpu = [p["cpu_s"] for p in result.curve]
    assert cpu == sorted(cpu) and 0 < cpu[-1] == pytest.approx(result.train_cpu_s)
    # the last point is the trained model on the first 5 validation examples
    subset = TensorDataset(*(t[:5] for t in data.val.tensors))
    assert result.curve[-1]["val_accuracy"] == evaluate(model, subset, cfg)
    assert all(0 <= p["val_accuracy"] <= 1 for p in result.curve)


def test_curve_without_flops_and_no_curve_unless_asked():
    data = tiny_data()
    assert train(tiny_model(data.spec), data, tiny_config()).curve == []
    curve = train(tiny_model(data.spec), data, tiny_config(curve_points=2)).curve
    assert [p["flops"] for p in curve] == [None, None]


def test_resumed_run_keeps_its_learning_curve(tmp_path):
    data = tiny_data()
    expected = train(tiny_model(data.spec), data, tiny_config(curve_points=4))
    cfg = tiny_config(curve_points=4, checkpoint_path=tmp_path / "run.pt", checkpoint_every=5)
    crashing = replace(data, train=CrashAfter(data.train, limit=7 * 8))
    with pytest.raises(KeyboardInterrupt):  # dies in step 7: the step-5 checkpoint holds 3
        train(tiny_model(data.spec), crashing, cfg)
    resumed = train(tiny_model(data.spec, seed=123), data, cfg)
    assert [p["step"] for p in resumed.curve] == [p["step"] for p in expected.curve]
    assert [p["val_accuracy"] for p in resumed.curve] == pytest.approx(
        [p["val_accuracy"] for p in expected.curve], abs=1e-6
    )


def test_optimizer_step_is_fused_on_the_cpu():
    data = tiny_data()
    optimizer = make_optimizer(tiny_model(data.spec), tiny_config())
    assert optimizer.defaults["fused"] is True
