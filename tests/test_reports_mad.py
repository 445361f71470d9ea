"""MAD's score per task (reports/mad.py): the mean over a task's difficulty
settings of each setting's accuracy, against a hand-worked example."""

from __future__ import annotations

import pandas as pd
import pytest

from reports.mad import mad_scores, mad_table


def mad_point(mixer: str, task: str, difficulty: str, seeds: list[float], status="ok") -> dict:
    family, variant = mixer.split("/")
    return {
        "run": "lab",
        "mixer": mixer,
        "family": family,
        "variant": variant,
        "workload": "accuracy",
        "task": f"mad-{task}-{difficulty}",
        "status": status,
        "accuracy": sum(seeds) / len(seeds) if status == "ok" else None,
        "seed_accuracies": [
            {"seed": k, "accuracy": a, "status": status} for k, a in enumerate(seeds)
        ],
        "chance_accuracy": 0.1,
        "task_config": {"generator": task, "difficulty": difficulty, "seq_len": 128},
    }


def test_the_mad_score_is_the_mean_over_settings_of_the_seed_means():
    points = pd.DataFrame(
        [
            # baseline: seeds 0.9, 0.7 -> 0.8; seq_len=256: 0.5, 0.3 -> 0.4; score (0.8 + 0.4) / 2
            mad_point("attention/sdpa", "noisy_recall", "baseline", [0.9, 0.7]),
            mad_point("attention/sdpa", "noisy_recall", "seq_len=256", [0.5, 0.3]),
            mad_point("attention/sdpa", "memorization", "baseline", [1.0, 1.0]),
            mad_point("hyena/fft", "noisy_recall", "baseline", [0.2, 0.4]),
            mad_point("hyena/fft", "noisy_recall", "seq_len=256", [0.0], status="failed"),
            # not a MAD task (no difficulty): left out
            {**mad_point("hyena/fft", "mqar", "x", [0.5]), "task_config": {"generator": "mqar"}},
        ]
    )
    scores = mad_scores(points).set_index(["mixer", "mad_task"])
    attention = scores.loc[("attention/sdpa", "noisy_recall")]
    assert attention["mad_score"] == pytest.approx(0.6)
    assert attention["settings"] == "2 of 2" and attention["not_reached"] == ""
    assert scores.loc[("attention/sdpa", "memorization"), "mad_score"] == pytest.approx(1.0)
    hyena = scores.loc[("hyena/fft", "noisy_recall")]
    assert hyena["mad_score"] == pytest.approx(0.3)  # over the setting that reached one
    assert hyena["settings"] == "1 of 2" and hyena["not_reached"] == "seq_len=256"
    assert ("hyena/fft", "mqar") not in scores.index
    table = mad_table(points)
    assert table is not None and table.percent == ("mad_score", "chance_accuracy")
    assert "mean over its difficulty settings" in table.caption
    assert "chosen on validation accuracy" in table.caption


def test_no_mad_point_no_table():
    plain = pd.DataFrame([{**mad_point("hyena/fft", "mqar", "x", [0.5]), "task_config": None}])
    assert mad_table(plain) is None
