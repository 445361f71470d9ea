"""The speed workloads, built around the shared Backbone (LM head) so that
only the mixer differs: forward, train_step, prefill and decode. Each comes
as a ``Workload``: the callable a benchmark times, how many tokens one call
handles, and its analytic FLOPs. Also the agreement check of a variant
against its family's reference.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from models.backbone import Backbone, BackboneConfig, count_params
from models.base import matmul_flops, train_flops
from models.registry import build_mixer, get_spec, reference_of

from .measure import synchronized
from .options import RunOptions

SPEED_WORKLOADS = ("forward", "train_step", "prefill", "decode")
#: the family knobs a mixer gets when its constructor names them
FAMILY_KNOBS = ("n_heads", "chunk_size", "l_max")
SEED = 0


def mixer_config(name: str, options: RunOptions) -> dict[str, Any]:
    """The profile's family knobs that this variant's constructor takes:
    heads (attention, RetNet), chunk size (chunkwise modes) and l_max (Hyena,
    at least the longest sequence of the run)."""
    values = {
        "n_heads": options.profile.n_heads,
        "chunk_size": options.profile.chunk_size,
        "l_max": options.max_len,
    }
    named = inspect.signature(get_spec(name).cls).parameters
    return {knob: values[knob] for knob in FAMILY_KNOBS if knob in named}


def backbone_config(name: str, options: RunOptions) -> BackboneConfig:
    return BackboneConfig(
        mixer=name,
        d_model=options.d_model,
        n_layers=options.n_layers,
        head="lm",
        mixer_config=mixer_config(name, options),
    )


def build_backbone(name: str, options: RunOptions, device: torch.device | str) -> Backbone:
    """The same weights for every point of a variant (fixed seed)."""
    torch.manual_seed(SEED)
    with torch.device(device):
        model = Backbone(backbone_config(name, options))
    return model.to(dtype=options.dtype)


@dataclass
class Workload:
    #: what the benchmark times; returns once the device is done
    call: Callable[[], Any]
    #: calls per timed round (decode: tokens per round, so the stats are per token)
    iterations: int
    #: tokens one call processes (tokens_per_s = tokens_per_call / seconds per call)
    tokens_per_call: int
    #: called before timing with the number of calls to come (decode: fresh states)
    prepare: Callable[[int], None] = lambda calls: None


def random_tokens(model: Backbone, batch: int, length: int, device: torch.device) -> torch.Tensor:
    generator = torch.Generator().manual_seed(SEED)
    tokens = torch.randint(model.cfg.vocab_size, (batch, length), generator=generator)
    return tokens.to(device)


def forward_workload(model: Backbone, options: RunOptions, length: int) -> Workload:
    model.eval()
    tokens = random_tokens(model, options.batch, length, options.device)

    @torch.no_grad()
    def forward() -> torch.Tensor:
        return model(tokens)

    return Workload(synchronized(forward, options.device), 1, options.batch * length)


def train_step_workload(model: Backbone, options: RunOptions, length: int) -> Workload:
    """Next-token loss, backward and an AdamW step of the whole backbone."""
    model.train()
    tokens = random_tokens(model, options.batch, length + 1, options.device)
    inputs, targets = tokens[:, :-1], tokens[:, 1:]
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def train_step() -> torch.Tensor:
        logits = model(inputs)
        loss = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten())
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss.detach()

    return Workload(synchronized(train_step, options.device), 1, options.batch * length)


def prefill_workload(model: Backbone, options: RunOptions, length: int) -> Workload:
    model.eval()
    tokens = random_tokens(model, options.batch, length, options.device)

    @torch.no_grad()
    def prefill() -> Any:
        return model.prefill(tokens)

    return Workload(synchronized(prefill, options.device), 1, options.batch * length)


class DecodeLoop:
    """One call decodes one token; every ``tokens_per_round`` calls start again
    from a fresh copy of the prefilled state, so that each timed round decodes
    the same tokens after the same context. The copies are made before timing
    (``prepare``): a step may update its state in place (a KV cache does)."""

    def __init__(self, model: Backbone, states: list[Any], token: torch.Tensor, per_round: int):
        self.model, self.prefilled, self.token, self.per_round = model, states, token, per_round
        self.fresh: list[list[Any]] = []
        self.states = states
        self.calls = 0

    def prepare(self, calls: int) -> None:
        rounds = -(-calls // self.per_round) + 1
        self.fresh = [copy.deepcopy(self.prefilled) for _ in range(rounds)]
        self.calls = 0

    @torch.no_grad()
    def __call__(self) -> torch.Tensor:
        if self.calls % self.per_round == 0:
            self.states = self.fresh.pop() if self.fresh else copy.deepcopy(self.prefilled)
        self.calls += 1
        logits, self.states = self.model.step(self.token, self.states)
        return logits


def decode_workload(model: Backbone, options: RunOptions, context_len: int) -> Workload:
    model.eval()
    prompt = random_tokens(model, options.batch, context_len, options.device)
    with torch.no_grad():
        _, states = model.prefill(prompt)
    token = prompt[:, -1]
    loop = DecodeLoop(model, states, token, options.profile.decode_tokens)
    return Workload(
        synchronized(loop, options.device),
        iterations=options.profile.decode_tokens,
        tokens_per_call=options.batch,
        prepare=loop.prepare,
    )


WORKLOAD_BUILDERS = {
    "forward": forward_workload,
    "train_step": train_step_workload,
    "prefill": prefill_workload,
    "decode": decode_workload,
}


def build_workload(workload: str, model: Backbone, options: RunOptions, length: int) -> Workload:
    return WORKLOAD_BUILDERS[workload](model, options, length)


# -- analytic costs -------------------------------------------------------------
def dense_flops(model: Backbone, tokens: int, head_tokens: int) -> int:
    """The backbone's own matmuls: every layer's MLP over ``tokens`` and the LM
    head over ``head_tokens`` (the embedding is a lookup: no FLOPs)."""
    cfg = model.cfg
    hidden = cfg.mlp_ratio * cfg.d_model
    mlp = 2 * matmul_flops(tokens, hidden, cfg.d_model)
    return cfg.n_layers * mlp + matmul_flops(head_tokens, cfg.vocab_size, cfg.d_model)


def analytic_flops(model: Backbone, workload: str, batch: int, length: int) -> int | None:
    """Model-level FLOPs of one timed call (decode: one token after ``length``);
    None when a mixer does not implement its analytic cost."""
    try:
        if workload == "decode":
            mixers = sum(m.step_flops(batch, length) for m in model.mixers)
            return mixers + dense_flops(model, batch, batch)
        mixers = sum(m.flops(batch, length) for m in model.mixers)
        if workload == "prefill":
            return mixers + dense_flops(model, batch * length, batch)
        forward = mixers + dense_flops(model, batch * length, batch * length)
        return train_flops(forward) if workload == "train_step" else forward
    except NotImplementedError:
        return None


def model_state_bytes(model: Backbone, batch: int, length: int, dtype: torch.dtype) -> int | None:
    """Decoding state after ``length`` tokens, all layers (a KV cache grows with it)."""
    try:
        return sum(m.state_bytes(batch, length, dtype) for m in model.mixers)
    except NotImplementedError:
        return None


def analytic_figures(name: str, options: RunOptions, workload: str, length: int) -> dict[str, Any]:
    """params, flops and state_bytes from a model on the meta device (no memory,
    no compute), for points that never ran; empty when the model cannot be built."""
    if get_spec(name).unavailable_reason() is not None:
        return {}
    try:
        model = build_backbone(name, options, "meta")
    except Exception:  # an unavailable or broken variant: its figures stay None
        return {}
    return {
        "params": count_params(model),
        "flops": analytic_flops(model, workload, options.batch, length),
        "state_bytes": model_state_bytes(model, options.batch, length, options.dtype),
    }


# -- agreement with the family's reference ----------------------------------------
def check_dtype(device: torch.device) -> torch.dtype:
    """fp64 on CPU; fp32 on CUDA, where fused kernels rarely take fp64."""
    return torch.float64 if device.type == "cpu" else torch.float32


def relative_error(y: torch.Tensor, y_ref: torch.Tensor) -> float:
    scale = y_ref.abs().max().clamp_min(torch.finfo(y_ref.dtype).tiny)
    return ((y - y_ref).abs().max() / scale).item()


def stepped_output(mixer: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The decode path: prefill the first half, then step through the rest."""
    half = x.shape[1] // 2
    y_prompt, state = mixer.prefill(x[:, :half])
    ys = [y_prompt]
    for t in range(half, x.shape[1]):
        y_t, state = mixer.step(x[:, t], state)
        ys.append(y_t[:, None])
    return torch.cat(ys, dim=1)


@contextmanager
def full_precision_fp32() -> Iterator[None]:
    """No TF32 in matmuls and convolutions (cuDNN allows it by default): it
    alone would put a faithful variant past the check's tolerance on a GPU."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


@torch.no_grad()
def reference_error(name: str, options: RunOptions) -> float:
    """Largest relative error of the variant's forward and of its prefill+step
    path against the family reference's forward, same weights, at the
    profile's check length."""
    with full_precision_fp32():
        return unguarded_reference_error(name, options)


def unguarded_reference_error(name: str, options: RunOptions) -> float:
    reference = reference_of(get_spec(name).family)
    dtype, device = check_dtype(options.device), options.device
    torch.manual_seed(SEED)
    ref = build_mixer(reference.name, options.d_model, **mixer_config(reference.name, options))
    ref = ref.to(device=device, dtype=dtype).eval()
    mixer = build_mixer(name, options.d_model, **mixer_config(name, options))
    mixer = mixer.to(device=device, dtype=dtype).eval()
    mixer.load_state_dict(ref.state_dict())
    x = torch.randn(2, options.profile.check_len, options.d_model, device=device, dtype=dtype)
    y_ref = ref(x)
    return max(relative_error(mixer(x), y_ref), relative_error(stepped_output(mixer, x), y_ref))
