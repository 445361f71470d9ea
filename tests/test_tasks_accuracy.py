"""What an accuracy run reports besides the accuracy: the chance level it is read
against, the learning rate, the profile's seeds and learning-rate grids."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import Subset, TensorDataset

from tasks.accuracy import PROFILES, majority_accuracy, run_accuracy
from tasks.base import IGNORE_INDEX
from tasks.lra.common import TokenArrayDataset

pytestmark = pytest.mark.usefixtures("one_thread")


def test_majority_accuracy_of_labels_and_of_predicted_positions():
    labels = torch.tensor([1, 1, 1, 0])
    assert majority_accuracy(TensorDataset(torch.zeros(4, 3), labels)) == 0.75
    per_token = torch.full((2, 4), IGNORE_INDEX)
    per_token[0, 1], per_token[1, 2], per_token[1, 3] = 5, 5, 7
    assert majority_accuracy(TensorDataset(torch.zeros(2, 4), per_token)) == pytest.approx(2 / 3)
    stored = TokenArrayDataset(np.zeros((4, 3), np.uint8), np.array([2, 0, 0, 2]))
    assert majority_accuracy(Subset(stored, [0, 3, 1])) == pytest.approx(2 / 3)


def test_run_accuracy_records_chance_and_the_learning_rate():
    run = run_accuracy("attention/sdpa", "induction", "smoke", lr=1e-3)
    assert run.lr == 1e-3 and run.result.status == "ok"
    assert 0 < run.chance_accuracy < 0.5  # 8 content tokens: about 1/8
    assert 0 <= run.result.val_accuracy <= 1


def test_profiles_have_seeds_and_learning_rates():
    for profile in PROFILES.values():
        assert profile.seeds >= 1
        budgets = [g.budget for g in profile.generated.values()] + [profile.disk]
        for budget in budgets:
            assert budget.lrs and all(lr > 0 for lr in budget.lrs)
            assert not budget.lr_grid or budget.lr in budget.lr_grid
