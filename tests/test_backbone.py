"""The shared backbone: shapes, pooling and decoding through it (tasks/accuracy.py's
matched_sizing sizes whole models alike; tests/test_tasks_sizing.py tests it)."""

from __future__ import annotations

import pytest
import torch

from models.backbone import Backbone, BackboneConfig, count_params
from models.registry import reference_of


def small(mixer: str, **overrides) -> Backbone:
    torch.manual_seed(0)
    config = {"d_model": 32, "n_layers": 2, "vocab_size": 40, **overrides}
    return Backbone(BackboneConfig(mixer, **config))


def test_lm_and_classification_shapes():
    tokens = torch.randint(0, 40, (3, 17))
    assert small("attention/sdpa")(tokens).shape == (3, 17, 40)
    classifier = small("attention/sdpa", head="classify", n_classes=5)
    assert classifier(tokens).shape == (3, 5)


def test_mean_pooling_ignores_padding():
    model = small("attention/sdpa", head="classify", n_classes=3)
    tokens = torch.randint(1, 40, (1, 10))
    padded = torch.cat([tokens, torch.zeros(1, 6, dtype=torch.long)], dim=1)
    mask = torch.cat([torch.ones(1, 10), torch.zeros(1, 6)], dim=1).bool()
    # causal mixers: trailing padding cannot change the real tokens' features
    assert torch.allclose(model(tokens), model(padded, mask), atol=1e-6)


def test_first_token_pooling_reads_position_zero():
    model = small("attention/sdpa", head="classify", pooling="first")
    tokens = torch.randint(0, 40, (2, 8))
    h = model.features(tokens)
    assert torch.allclose(model(tokens), model.head(h[:, 0]))


@pytest.mark.parametrize("family", ["retnet", "attention", "hyena", "mamba"])
def test_prefill_then_step_equals_forward_through_the_backbone(family):
    spec = reference_of(family)
    model = small(spec.name).double()
    tokens = torch.randint(0, 40, (2, 12))
    logits = model(tokens)
    last, states = model.prefill(tokens[:, :7])
    assert torch.allclose(last, logits[:, 6], atol=1e-9)
    for t in range(7, 12):
        last, states = model.step(tokens[:, t], states)
        assert torch.allclose(last, logits[:, t], atol=1e-9)


def test_count_params_counts_every_weight():
    model = small("attention/sdpa")
    assert count_params(model) == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    "overrides,match",
    [
        ({"n_layers": 0}, "n_layers must be a positive integer"),
        ({"head": "regress"}, "head must be 'classify' or 'lm'"),
        ({"pooling": "max"}, "pooling must be 'mean' or 'first'"),
    ],
)
def test_bad_config_names_the_field(overrides, match):
    with pytest.raises(ValueError, match=match):
        BackboneConfig("attention/sdpa", **overrides)


def test_float_tokens_are_rejected():
    with pytest.raises(ValueError, match="integer tensor of shape"):
        small("attention/sdpa")(torch.zeros(2, 5))
