"""The Hyena operator (Poli et al. 2023, https://arxiv.org/abs/2302.10866).

Order N: ``in_proj`` maps d -> (N+1)·d streams; a short depthwise causal
convolution mixes each stream locally; the streams split into gates
x_0..x_{N-1} and a value v; then N-1 times ``v <- h_o * (x_i · v) + D_o · (x_i · v)``
with a long causal convolution whose filter h_o is implicit: a small MLP with
sin activations over positional features of t / l_max, times an exponential
decay. Finally ``y = out_proj(x_0 · v)``.

``hyena/direct`` convolves with the full-length kernel (O(L²·d), the
reference); ``hyena/fft`` multiplies rFFTs of size 2L (O(L log L · d)).

Decoding is exact but not recurrent: a long convolution needs every past
input, so the state keeps the history of each long convolution's input and
the filter taps generated so far. It grows linearly with the context, and a
step costs O(context).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .attention import causal_pairs
from .base import Mixer, accumulation_dtype, check_positive, matmul_flops, train_flops
from .registry import register_mixer


def rfft_flops(n: int) -> float:
    """A real FFT of size n: half of a complex FFT's ~5·n·log2(n), the usual
    count of a radix-2 FFT's work (the counter in torch does not see FFTs)."""
    return 2.5 * n * math.log2(n) if n > 1 else 0.0


class ImplicitFilter(nn.Module):
    """The long filters as a function of position: h(t) = MLP(features(t)) · decay(t).

    Features and decay depend on t / l_max only, never on the sequence length,
    so the taps a forward of length L uses are the ones a step at position t
    uses: any range of positions can be generated on its own.
    """

    def __init__(
        self,
        d_model: int,
        n_filters: int,
        l_max: int,
        filter_order: int,
        emb_dim: int,
        decay_fast: float,
        decay_slow: float,
        decay_target: float,
    ) -> None:
        super().__init__()
        self.d_model, self.n_filters, self.l_max = d_model, n_filters, l_max
        self.bands = (emb_dim - 1) // 2
        self.hidden = nn.ModuleList(
            [nn.Linear(emb_dim, filter_order)]
            + [nn.Linear(filter_order, filter_order) for _ in range(2)]
        )
        # the sin activations' frequency, learned per hidden unit
        self.freq = nn.Parameter(torch.ones(filter_order))
        self.out = nn.Linear(filter_order, n_filters * d_model, bias=False)
        # channels decay at rates spread from "reach decay_target at t = decay_slow"
        # to "at t = decay_fast": some filters stay long, some are local
        self.slow_rate = -math.log(decay_target) / decay_slow
        self.fast_rate = -math.log(decay_target) / decay_fast

    def features(self, t: torch.Tensor) -> torch.Tensor:
        """(len,) -> (len, emb_dim): t itself and complex exponentials of t."""
        k = torch.arange(1, self.bands + 1, device=t.device, dtype=t.dtype)
        angles = 2 * math.pi * t[:, None] * k
        return torch.cat((t[:, None], angles.cos(), angles.sin()), dim=-1)

    def decay(self, t: torch.Tensor) -> torch.Tensor:
        """(len,) -> (n_filters·d_model, len)."""
        rates = torch.linspace(
            self.slow_rate,
            self.fast_rate,
            self.n_filters * self.d_model,
            device=t.device,
            dtype=t.dtype,
        )
        return torch.exp(-rates[:, None] * t)

    def forward(self, start: int, end: int, dtype: torch.dtype) -> torch.Tensor:
        """Taps at positions start..end-1 in ``dtype``: (n_filters, d_model, end - start)."""
        t = torch.arange(start, end, device=self.freq.device, dtype=dtype) / self.l_max
        z = self.features(t)
        freq = self.freq.to(dtype)
        for layer in self.hidden:
            z = torch.sin(freq * F.linear(z, layer.weight.to(dtype), layer.bias.to(dtype)))
        # channels first, as the convolutions run along the last dim (W @ z^T: no copy)
        h = (self.out.weight.to(dtype) @ z.T) * self.decay(t)
        return h.view(self.n_filters, self.d_model, end - start)

    def flops(self, positions: int) -> int:
        width = self.freq.numel()
        emb_dim = self.hidden[0].in_features
        per_position = (
            matmul_flops(1, width, emb_dim)
            + 2 * matmul_flops(1, width, width)
            + matmul_flops(1, self.n_filters * self.d_model, width)
        )
        return positions * per_position


@dataclass
class HyenaState:
    """What a step needs, all of it growing with the context except ``short``.

    ``short``: (batch, (order+1)·d, short_filter_order - 1), the short
    convolution's last inputs. ``history``: (order-1, batch, d, capacity), every
    past input of each long convolution, filled up to ``length``; capacity
    doubles so appends are amortised O(1). ``taps``: (order-1, d, n), the long
    filters at lags n-1 down to 0, ``taps[..., -1 - k]`` the filter at lag k, so
    that a step's history lines up with the last entries as they are (no
    flipped copy per step); a function of the weights only,
    generated as the context reaches them, kept in the compute dtype.
    """

    short: torch.Tensor
    history: torch.Tensor
    taps: torch.Tensor
    length: int = 0

    def reserve(self, n: int, limit: int) -> None:
        """Room for n positions of history, never more than ``limit``."""
        if n > self.history.shape[-1]:
            capacity = min(max(2 * self.history.shape[-1], n, 16), limit)
            grown = self.history.new_zeros(*self.history.shape[:-1], capacity)
            grown[..., : self.length] = self.history[..., : self.length]
            self.history = grown


class Hyena(Mixer):
    """Shared weights and plumbing; variants differ only in ``long_conv``."""

    modes = ("forward", "step (growing history)", "prefill")
    positional = (
        "none beyond its long convolution (filters a function of t / l_max with an "
        "exponential decay) and the short causal convolution"
    )

    def __init__(
        self,
        d_model: int,
        l_max: int = 2048,
        order: int = 2,
        filter_order: int = 64,
        short_filter_order: int = 3,
        emb_dim: int = 3,
        decay_fast: float = 0.3,
        decay_slow: float = 1.5,
        decay_target: float = 1e-2,
    ) -> None:
        super().__init__(d_model)
        check_positive("l_max", l_max)
        check_positive("filter_order", filter_order)
        check_positive("short_filter_order", short_filter_order)
        if not isinstance(order, int) or isinstance(order, bool) or order < 2:
            raise ValueError(f"order must be an integer >= 2 (2 is the paper's), got {order!r}")
        if not isinstance(emb_dim, int) or emb_dim < 3 or emb_dim % 2 == 0:
            raise ValueError(
                f"emb_dim must be an odd integer >= 3 (t plus cos/sin pairs), got {emb_dim!r}"
            )
        if not 0 < decay_target < 1:
            raise ValueError(f"decay_target must lie in (0, 1), got {decay_target!r}")
        if not (decay_fast > 0 and decay_slow > 0):
            raise ValueError(
                f"decay_fast and decay_slow must be positive, got {decay_fast!r}, {decay_slow!r}"
            )
        self.l_max, self.order = l_max, order
        self.short_filter_order = short_filter_order
        streams = (order + 1) * d_model
        self.in_proj = nn.Linear(d_model, streams)
        # depthwise, padded on both sides (cheaper than a left-padded copy of the input):
        # forward keeps the first L outputs, which see no future input
        self.short_filter = nn.Conv1d(
            streams, streams, short_filter_order, groups=streams, padding=short_filter_order - 1
        )
        self.filter = ImplicitFilter(
            d_model, order - 1, l_max, filter_order, emb_dim, decay_fast, decay_slow, decay_target
        )
        # D: the skip term of each long convolution
        self.bias = nn.Parameter(torch.randn(order - 1, d_model))
        self.out_proj = nn.Linear(d_model, d_model)

    # -- variants ------------------------------------------------------------
    def long_conv(self, w: torch.Tensor, h: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        """Causal convolution y[t] = sum_{s<=t} h[t-s] w[s]: w (batch, d, L), h (d, L)."""
        raise NotImplementedError

    def long_conv_flops(self, batch: int, seq_len: int) -> int:  # pragma: no cover
        raise NotImplementedError

    # -- the operator ----------------------------------------------------------
    def check_length(self, length: int) -> None:
        if length > self.l_max:
            raise ValueError(
                f"sequence length {length} exceeds l_max={self.l_max}, the positions the "
                f"implicit filter is defined for; build the mixer with a larger l_max, e.g. "
                f"build_mixer({self.name!r}, {self.d_model}, l_max={length})"
            )

    def skip_conv(self, w: torch.Tensor, h: torch.Tensor, o: int) -> torch.Tensor:
        """h_o * w + D_o · w in the compute dtype, returned in w's dtype."""
        acc = h.dtype
        out = self.long_conv(w.to(acc), h) + self.bias[o, :, None].to(acc) * w.to(acc)
        return out.to(w.dtype)

    def mix(
        self, x: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor], torch.Tensor]:
        """The whole sequence; also returns what prefill keeps: the short
        convolution's inputs u (batch, streams, L), the long convolutions'
        inputs ws and the taps."""
        n = x.shape[1]
        self.check_length(n)
        # (batch, streams, L) contiguous: oneDNN's depthwise conv is several times slower
        # on a transposed view
        u = self.in_proj(x).transpose(1, 2).contiguous()
        *gates, v = self.short_filter(u)[..., :n].split(self.d_model, dim=1)
        taps = self.filter(0, n, accumulation_dtype(x.dtype))
        ws = []
        for o, gate in enumerate(reversed(gates[1:])):
            w = gate * v
            ws.append(w)
            v = self.skip_conv(w, taps[o], o)
        y = self.out_proj((gates[0] * v).transpose(1, 2))
        return y, u, ws, taps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return self.mix(x)[0]

    # -- decoding ------------------------------------------------------------------
    def init_state(self, batch: int, device=None, dtype=None) -> HyenaState:
        weight = self.in_proj.weight
        device, dtype = device or weight.device, dtype or weight.dtype
        streams, lags = self.in_proj.out_features, self.short_filter_order - 1
        return HyenaState(
            short=torch.zeros(batch, streams, lags, device=device, dtype=dtype),
            history=torch.zeros(self.order - 1, batch, self.d_model, 0, device=device, dtype=dtype),
            taps=torch.zeros(
                self.order - 1, self.d_model, 0, device=device, dtype=accumulation_dtype(dtype)
            ),
        )

    def prefill(self, x: torch.Tensor) -> tuple[torch.Tensor, HyenaState]:
        """The prompt through ``forward``'s path (FFT for hyena/fft), keeping its history."""
        self.check_input(x)
        y, u, ws, taps = self.mix(x)
        state = self.init_state(x.shape[0], x.device, x.dtype)
        # the last lags inputs, zero-padded on the left for a prompt shorter than that
        lags = self.short_filter_order - 1
        tail = u[..., max(x.shape[1] - lags, 0) :]
        state.short = F.pad(tail, (lags - tail.shape[-1], 0))
        state.history, state.taps, state.length = torch.stack(ws), taps.flip(-1), x.shape[1]
        return y, state

    def extend_taps(self, state: HyenaState, n: int) -> None:
        """Generate taps up to position n-1 (doubling, at most l_max)."""
        have = state.taps.shape[-1]
        if n > have:
            end = min(max(2 * have, n, 16), self.l_max)
            more = self.filter(have, end, state.taps.dtype)
            state.taps = torch.cat((more.flip(-1), state.taps), dim=-1)

    def step(self, x_t: torch.Tensor, state: HyenaState) -> tuple[torch.Tensor, HyenaState]:
        self.check_token(x_t)
        t = state.length
        self.check_length(t + 1)
        acc = accumulation_dtype(x_t.dtype)
        window = torch.cat((state.short, self.in_proj(x_t)[..., None]), dim=-1)
        state.short = window[..., 1:]
        # the short filter's kernel runs oldest to newest, like the window
        kernel = self.short_filter.weight[:, 0].to(acc)
        short = (window.to(acc) * kernel).sum(-1) + self.short_filter.bias.to(acc)
        *gates, v = short.to(x_t.dtype).split(self.d_model, dim=-1)
        state.reserve(t + 1, self.l_max)
        self.extend_taps(state, t + 1)
        for o, gate in enumerate(reversed(gates[1:])):
            w = gate * v
            state.history[o, :, :, t] = w
            past = state.history[o, :, :, : t + 1].to(acc)
            # y[t] = sum_s h[t-s] w[s]: the last t+1 taps are h[t], ..., h[0], in
            # the history's order (a flipped copy of them each step cost ~40% of it)
            conv = (past * state.taps[o, :, -(t + 1) :]).sum(-1)
            v = (conv + self.bias[o].to(acc) * w.to(acc)).to(x_t.dtype)
        state.length = t + 1
        return self.out_proj(gates[0] * v), state

    # -- analytic costs: useful work, as models/attention.py states it -------------
    # (the gates and the D skip are elementwise work on one position: not counted)
    def flops(self, batch: int, seq_len: int, backward: bool = False) -> int:
        tokens, streams = batch * seq_len, self.in_proj.out_features
        total = (
            matmul_flops(tokens, streams, self.d_model)
            # the short filter's causal taps (its kernel also computes k-1 outputs
            # past the end that forward drops, and taps on the zero padding)
            + 2 * batch * streams * causal_pairs(seq_len, self.short_filter_order)
            + self.filter.flops(seq_len)
            + (self.order - 1) * self.long_conv_flops(batch, seq_len)
            + matmul_flops(tokens, self.d_model, self.d_model)
        )
        return train_flops(total) if backward else total

    def step_flops(self, batch: int, context_len: int) -> int:
        """One step at position ``context_len``: a dot product with the whole
        history per long convolution, plus one new filter position (amortised).
        Over positions 0..L-1 these add up to hyena/direct's ``flops``."""
        streams = self.in_proj.out_features
        return (
            matmul_flops(batch, streams, self.d_model)
            + 2 * batch * streams * min(context_len + 1, self.short_filter_order)
            + self.filter.flops(1)
            + (self.order - 1) * 2 * batch * self.d_model * (context_len + 1)
            + matmul_flops(batch, self.d_model, self.d_model)
        )

    def state_bytes(self, batch: int, seq_len: int, dtype: torch.dtype = torch.float32) -> int:
        """Short-conv window + history of each long convolution's input + taps:
        linear in seq_len (capacity slack from doubling not counted)."""
        itemsize = torch.empty((), dtype=dtype).element_size()
        acc_itemsize = torch.empty((), dtype=accumulation_dtype(dtype)).element_size()
        streams, lags = self.in_proj.out_features, self.short_filter_order - 1
        history = (self.order - 1) * batch * self.d_model * seq_len
        taps = (self.order - 1) * self.d_model * seq_len
        return itemsize * (batch * streams * lags + history) + acc_itemsize * taps


@register_mixer("hyena/direct", reference=True)
class DirectHyena(Hyena):
    """Long convolution with the full-length kernel (depthwise conv1d): the reference."""

    def long_conv(self, w: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        # conv1d correlates: a flipped kernel over L-1 zeros on the left is a causal
        # convolution, with exactly L outputs (no right padding to compute and drop)
        past = F.pad(w, (w.shape[-1] - 1, 0))
        return F.conv1d(past, h.flip(-1)[:, None], groups=self.d_model)

    def long_conv_flops(self, batch: int, seq_len: int) -> int:
        """The L(L+1)/2 causal taps per channel (the kernel also multiplies the
        L-1 zeros padded in front: L taps at each of L outputs)."""
        return 2 * batch * self.d_model * causal_pairs(seq_len)


@register_mixer("hyena/fft")
class FFTHyena(Hyena):
    """Long convolution by rFFT of size 2L: zero padding to 2L makes the circular
    convolution linear, so no output wraps around onto earlier positions."""

    accuracy_rank = 0

    def long_conv(self, w: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        n = w.shape[-1]
        spectrum = torch.fft.rfft(w, n=2 * n) * torch.fft.rfft(h, n=2 * n)
        return torch.fft.irfft(spectrum, n=2 * n)[..., :n]

    def long_conv_flops(self, batch: int, seq_len: int) -> int:
        """The FFT work by ``rfft_flops``: per channel the input's rFFT, the
        complex product over L + 1 bins (6 FLOPs each) and the inverse, plus the
        filter's rFFT once per channel for the whole batch."""
        size, bins = 2 * seq_len, seq_len + 1
        per_channel = 2 * rfft_flops(size) + 6 * bins  # input rFFT + inverse + complex product
        return int(self.d_model * (batch * per_channel + rfft_flops(size)))  # + the filter's rFFT
