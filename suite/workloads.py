"""The speed workloads, built around the shared Backbone (LM head) so that
only the mixer differs: forward, train_step, prefill and decode. Each comes
as a ``Workload``: the callable a benchmark times, how many tokens one call
handles, and its analytic FLOPs. Also the agreement check of a variant
against its family's reference.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from models.backbone import Backbone, BackboneConfig, count_params
from models.base import matmul_flops, train_flops
from models.registry import MixerSpec, build_mixer, reference_of
from schema import Workload as WorkloadName

from .measure import synchronized
from .options import RunOptions

SEED = 0


def build_backbone(
    spec: MixerSpec, shape: Mapping[str, int], options: RunOptions, device: torch.device | str
) -> Backbone:
    """The same weights for every point of a variant (fixed seed), at the
    point's width (``shape``: every axis of schema.AXES)."""
    config = BackboneConfig(
        mixer=spec.name,
        d_model=shape["d_model"],
        n_layers=options.n_layers,
        head="lm",
        mixer_config=options.mixer_config(spec.name, shape["d_model"]),
    )
    torch.manual_seed(SEED)
    with torch.device(device):
        model = Backbone(config)
    return model.to(dtype=options.dtype)


@dataclass
class Workload:
    #: what the benchmark times; returns once the device is done
    call: Callable[[], Any]
    #: calls per timed round (decode: tokens per round, so the stats are per token)
    iterations: int
    #: tokens one call processes (tokens_per_s = tokens_per_call / seconds per call)
    tokens_per_call: int
    #: called before timing with the number of calls to come: the rounds start
    #: from here (decode: the next call begins a round from the prefilled state)
    prepare: Callable[[int], None] = lambda calls: None
    #: called before each call outside the suite's clocks' timed interval
    #: (decode: the fresh state a round starts from); ``call`` does it itself
    #: where no clock called it
    setup: Callable[[], None] | None = None
    #: decode under --cuda-graphs: "captured" or "not captured: <why>"; None: not asked
    cuda_graph: str | None = None


def random_tokens(model: Backbone, batch: int, length: int, device: torch.device) -> torch.Tensor:
    generator = torch.Generator().manual_seed(SEED)
    tokens = torch.randint(model.cfg.vocab_size, (batch, length), generator=generator)
    return tokens.to(device)


@dataclass(frozen=True)
class Call:
    """What a workload builder needs to know of its point."""

    batch: int
    length: int
    device: torch.device
    #: decode: tokens per timed round
    decode_tokens: int
    #: decode: capture one step in a CUDA graph and replay it (--cuda-graphs)
    cuda_graphs: bool = False


def call_for(shape: Mapping[str, int], options: RunOptions) -> Call:
    """What a point's workload is built with, from its value on every axis."""
    return Call(
        shape["batch"],
        shape["length"],
        options.device,
        options.profile.decode_tokens,
        options.cuda_graphs,
    )


def forward_workload(model: Backbone, call: Call) -> Workload:
    model.eval()
    tokens = random_tokens(model, call.batch, call.length, call.device)

    @torch.no_grad()
    def forward() -> torch.Tensor:
        return model(tokens)

    return Workload(synchronized(forward, call.device), 1, call.batch * call.length)


def train_step_workload(model: Backbone, call: Call) -> Workload:
    """Next-token loss, backward and an AdamW step of the whole backbone."""
    model.train()
    tokens = random_tokens(model, call.batch, call.length + 1, call.device)
    inputs, targets = tokens[:, :-1], tokens[:, 1:]
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def train_step() -> torch.Tensor:
        logits = model(inputs)
        loss = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten())
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss.detach()

    return Workload(synchronized(train_step, call.device), 1, call.batch * call.length)


def prefill_workload(model: Backbone, call: Call) -> Workload:
    model.eval()
    tokens = random_tokens(model, call.batch, call.length, call.device)

    @torch.no_grad()
    def prefill() -> Any:
        return model.prefill(tokens)

    return Workload(synchronized(prefill, call.device), 1, call.batch * call.length)


class DecodeLoop:
    """One call decodes one token; every ``per_round`` calls start again from
    a fresh copy of the prefilled state, so that each timed round decodes the
    same tokens after the same context (a step may update its state in place:
    a KV cache does). The copy is made one round at a time by ``setup``, which
    the suite's clocks call before each call outside their timed interval, the
    last round's state dropped first: at most two states live, the prefilled
    one and the round's (a copy per round made up front once asked for ~72 GiB
    where one 16 GiB state fits)."""

    def __init__(self, model: Backbone, states: Any, token: torch.Tensor, per_round: int):
        self.model, self.prefilled, self.token, self.per_round = model, states, token, per_round
        self.states: Any = None
        self.calls = 0
        self.fresh = False

    def prepare(self, calls: int) -> None:
        """The next call starts a round (``calls``, the calls to come, needs no copies)."""
        self.calls = 0

    def setup(self) -> None:
        if self.calls % self.per_round == 0 and not self.fresh:
            self.rewind()
            self.fresh = True

    def rewind(self) -> None:
        self.states = None  # freed before its replacement is allocated
        self.states = copy.deepcopy(self.prefilled)

    @torch.no_grad()
    def __call__(self) -> torch.Tensor:
        self.setup()
        self.fresh = False
        self.calls += 1
        return self.advance()

    def advance(self) -> torch.Tensor:
        logits, self.states = self.model.step(self.token, self.states)
        return logits


class GraphedDecode(DecodeLoop):
    """DecodeLoop with one step captured in a CUDA graph and replayed for
    each token (the launches of a batch-1 step cost more than its kernels):
    the step reads and writes one static state, into which a round's first
    call copies the prefilled one. Only a step whose state is all on the
    device can be captured (``capture_problem``)."""

    #: eager steps before capture, on a side stream, as torch.cuda.graphs asks
    WARMUP_STEPS = 3

    def __init__(self, model: Backbone, states: Any, token: torch.Tensor, per_round: int):
        super().__init__(model, states, token, per_round)
        self.states = copy.deepcopy(states)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side), torch.no_grad():
            for _ in range(self.WARMUP_STEPS):
                self.eager_step()
        torch.cuda.current_stream().wait_stream(side)
        self.rewind()
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph), torch.no_grad():
            self.logits = self.eager_step()

    def eager_step(self) -> torch.Tensor:
        """One step that leaves its new state in the static one."""
        logits, new = self.model.step(self.token, self.states)
        copy_tensors(new, self.states)
        return logits

    def rewind(self) -> None:
        copy_tensors(self.prefilled, self.states)

    def advance(self) -> torch.Tensor:
        self.graph.replay()
        return self.logits


def tensors_of(state: Any) -> list[torch.Tensor]:
    """Every tensor in a decoding state (nested lists, tuples, dicts and
    objects), in a fixed order."""
    if isinstance(state, torch.Tensor):
        return [state]
    return [t for part in parts_of(state).values() for t in tensors_of(part)]


def host_values(state: Any, where: str = "state") -> dict[str, Any]:
    """Every number a decoding state keeps on the host, by where it is
    (``KVCache.length``): a captured graph would replay it frozen."""
    if isinstance(state, bool | int | float):
        return {where: state}
    found: dict[str, Any] = {}
    for name, part in parts_of(state, where).items():
        found.update(host_values(part, name))
    return found


def parts_of(state: Any, where: str = "state") -> dict[str, Any]:
    if isinstance(state, torch.Tensor):
        return {}
    if isinstance(state, dict):
        return {f"{where}[{k!r}]": v for k, v in state.items()}
    if isinstance(state, list | tuple):
        return {f"{where}[{i}]": v for i, v in enumerate(state)}
    if hasattr(state, "__dict__"):
        return {f"{type(state).__name__}.{k}": v for k, v in vars(state).items()}
    return {}


def copy_tensors(source: Any, target: Any) -> None:
    for src, dst in zip(tensors_of(source), tensors_of(target), strict=True):
        if src is not dst:
            dst.copy_(src)


@torch.no_grad()
def capture_problem(model: Backbone, states: Any, token: torch.Tensor) -> str | None:
    """Why one step of ``model`` cannot be captured in a CUDA graph (found by
    one eager step on a copy of the state), or None: a number the step
    advances on the host (a cache's length, which flash-attn's room check and
    the fallback rotary read), or tensors that change shape (a cache that grows).
    One copy of the state at a time: no more than the decode loop holds."""
    old, old_shapes = host_values(states), [t.shape for t in tensors_of(states)]
    _, after = model.step(token, copy.deepcopy(states))
    new = host_values(after)
    moved = sorted(name for name in old.keys() | new.keys() if old.get(name) != new.get(name))
    if moved:
        return f"the step advances host-side values ({', '.join(moved)})"
    if old_shapes != [t.shape for t in tensors_of(after)]:
        return "the step changes its state's tensors (count or shape)"
    return None


def decode_loop(
    model: Backbone, states: Any, token: torch.Tensor, call: Call
) -> tuple[DecodeLoop, str | None]:
    """The decode loop of ``call`` and, under --cuda-graphs, whether its step
    was captured or why not (then it runs eagerly)."""
    if not call.cuda_graphs:
        return DecodeLoop(model, states, token, call.decode_tokens), None
    problem = "CUDA graphs need a CUDA device" if call.device.type != "cuda" else None
    problem = problem or capture_problem(model, states, token)
    if problem is None:
        try:
            return GraphedDecode(model, states, token, call.decode_tokens), "captured"
        except Exception as exc:  # an op that cannot be captured (a host sync, a CPU tensor)
            problem = f"capture failed: {type(exc).__name__}: {exc}"
    return DecodeLoop(model, states, token, call.decode_tokens), f"not captured: {problem}"


def decode_workload(model: Backbone, call: Call) -> Workload:
    """Decoding after a context of ``call.length`` tokens."""
    model.eval()
    prompt = random_tokens(model, call.batch, call.length, call.device)
    with torch.no_grad():
        _, states = model.prefill(prompt)
    loop, graphed = decode_loop(model, states, prompt[:, -1], call)
    return Workload(
        synchronized(loop, call.device),
        iterations=call.decode_tokens,
        tokens_per_call=call.batch,
        prepare=loop.prepare,
        setup=loop.setup,
        cuda_graph=graphed,
    )


WORKLOAD_BUILDERS: dict[str, Callable[[Backbone, Call], Workload]] = {
    WorkloadName.FORWARD: forward_workload,
    WorkloadName.TRAIN_STEP: train_step_workload,
    WorkloadName.PREFILL: prefill_workload,
    WorkloadName.DECODE: decode_workload,
}


def build_workload(workload: str, model: Backbone, call: Call) -> Workload:
    return WORKLOAD_BUILDERS[workload](model, call)


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
        if workload == "prefill":
            mixers = sum(m.prefill_flops(batch, length) for m in model.mixers)
            return mixers + dense_flops(model, batch * length, batch)
        mixers = sum(m.flops(batch, length) for m in model.mixers)
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


def analytic_figures(model: Backbone, workload: str, batch: int, length: int) -> dict[str, Any]:
    """params, analytic FLOPs and state bytes; ``model`` may live on the meta
    device (no memory, no compute) for points that never ran."""
    dtype = next(model.parameters()).dtype
    return {
        "params": count_params(model),
        "flops": analytic_flops(model, workload, batch, length),
        "state_bytes": model_state_bytes(model, batch, length, dtype),
    }


# -- agreement with the family's reference ----------------------------------------
def check_dtype(spec: MixerSpec, device: torch.device) -> torch.dtype:
    """fp64 on CPU; fp32 on CUDA, where fused kernels rarely take fp64, and for
    a variant that says it runs in fp32 only (mamba/fused's C scan); bf16 for
    a variant that refuses fp32 (flash-attn computes in fp16 and bf16 only)."""
    if device.type == "cpu" and spec.cls.run_problem(device, torch.float64) is None:
        return torch.float64
    if spec.cls.run_problem(device, torch.float32) is not None:
        return torch.bfloat16
    return torch.float32


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


@dataclass(frozen=True)
class ReferenceCheck:
    """Relative errors of one variant, same weights, at the profile's check length."""

    #: forward against the family reference's forward; None when it is the reference
    forward: float | None
    #: prefill of the first half and steps through the rest, against its own forward
    stepped: float
    #: change of the first half's outputs when only the second half's inputs change
    causality: float

    @property
    def worst(self) -> float:
        return max(e for e in (self.forward, self.stepped, self.causality) if e is not None)

    def failures(self, tolerance: float) -> list[str]:
        """Which checks the variant failed, in words; empty when it passed."""
        named = (
            ("forward disagrees with the family reference", self.forward),
            ("prefill + step disagrees with its own forward", self.stepped),
            ("not causal: earlier outputs change with later inputs", self.causality),
        )
        return [
            f"{what} (relative error {error:.3g} > {tolerance:g})"
            for what, error in named
            if error is not None and not error <= tolerance
        ]


def reference_config(which: MixerSpec, checked: MixerSpec, options: RunOptions) -> dict[str, Any]:
    """What ``which`` (the checked variant or its reference) is built with in
    the check: the reference also takes the checked variant's --mixer-option
    knobs that it has (mamba/scan:d_state=32 checks against a reference of
    d_state 32), so that their weights load into each other."""
    d_model, knobs = options.fixed("d_model"), which.cls.knobs()
    config = options.mixer_config(which.name, d_model)
    checked_config = options.mixer_config(checked.name, d_model)
    return config | {k: v for k, v in checked_config.items() if k in knobs}


@torch.no_grad()
def check_against_reference(spec: MixerSpec, options: RunOptions) -> ReferenceCheck:
    with full_precision_fp32():
        return unguarded_check(spec, options)


def unguarded_check(spec: MixerSpec, options: RunOptions) -> ReferenceCheck:
    reference = reference_of(spec.family)
    dtype, device = check_dtype(spec, options.device), options.device
    d_model, length = options.fixed("d_model"), options.profile.check_len

    def built(which: MixerSpec) -> torch.nn.Module:
        torch.manual_seed(SEED)
        mixer = build_mixer(which.name, d_model, **reference_config(which, spec, options))
        return mixer.to(device=device, dtype=dtype).eval()

    mixer = built(spec)
    generator = torch.Generator(device=device).manual_seed(SEED)
    x = torch.randn(2, length, d_model, device=device, dtype=dtype, generator=generator)
    y = mixer(x)
    forward = None
    if reference.name != spec.name:
        ref = built(reference)
        mixer.load_state_dict(ref.state_dict())
        y = mixer(x)
        forward = relative_error(y, ref(x))
    later = x.clone()
    later[:, length // 2 :] = torch.randn_like(later[:, length // 2 :])
    causality = relative_error(mixer(later)[:, : length // 2], y[:, : length // 2])
    return ReferenceCheck(forward, relative_error(stepped_output(mixer, x), y), causality)
