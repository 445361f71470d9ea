"""How busy the machine is around a point: a fixed probe (a few small
matmuls, ~1 ms of work on a quiet core) timed just before and just after it.
The probe's time over the quietest probe of the session is the point's
``contention`` (1: as quiet as this run ever was; 2: the probe took twice as
long). On a shared machine a 2-4x swing is ordinary; the suite records it,
flags points above ``CONTENDED``, and gives a point's time budget the
contention back, so that a budget counts what the point needs, not what the
load adds.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field

import torch

from .measure import synchronized

#: a point whose probe ran this many times slower than the quietest is flagged
CONTENDED = 1.5
#: a budget stretches with the contention by at most this factor
MAX_STRETCH = 4.0
PROBE_SIZE = 128
PROBE_REPEATS = 5


@dataclass
class ContentionProbe:
    device: torch.device
    #: the quietest probe of the session, seconds
    quietest_s: float = float("inf")
    probes_s: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        generator = torch.Generator().manual_seed(0)
        self.a = torch.randn(PROBE_SIZE, PROBE_SIZE, generator=generator).to(self.device)
        self.product = synchronized(lambda: self.a @ self.a, self.device)
        self.product()

    def measure(self) -> float:
        """The probe's median seconds now, and the contention that implies."""
        times = []
        for _ in range(PROBE_REPEATS):
            start = time.perf_counter()
            self.product()
            times.append(time.perf_counter() - start)
        seconds = statistics.median(times)
        self.probes_s.append(seconds)
        self.quietest_s = min(self.quietest_s, seconds)
        return seconds

    def contention(self, seconds: float) -> float:
        return max(1.0, seconds / self.quietest_s)


def stretched_budget(budget_s: float, contention: float) -> float:
    """The seconds a point may take when the machine is ``contention`` times slower."""
    return budget_s * min(max(contention, 1.0), MAX_STRETCH)
