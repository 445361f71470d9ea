"""The claims of the families this project ships, as data: per family, the
headline claims of its paper, each with the kind of check claims.py (or,
for accuracy, accuracy_claims.py) makes.

A family this file does not know brings its own through an entry point of
the ``mixbench.claims`` group (see claim_sources.py).
"""

from __future__ import annotations

from schema import Workload

from .accuracy_claims import RecallFallsWithFixedState
from .claims import (
    BeatsBaseline,
    Claim,
    ConstantIn,
    MatchesReference,
    SlopeBelowBaseline,
    SlopeWithin,
)

DECODE, FORWARD, TRAIN = Workload.DECODE, Workload.FORWARD, Workload.TRAIN_STEP
RETNET = "RetNet paper (Sun et al. 2023, arXiv:2307.08621)"
MAMBA = "Mamba paper (Gu & Dao 2023, arXiv:2312.00752)"
HYENA = "Hyena paper (Poli et al. 2023, arXiv:2302.10866)"
ZOOLOGY = (
    'Zoology (Arora et al. 2023, "Zoology: Measuring and Improving Recall in Efficient '
    'Language Models", arXiv:2312.04927)'
)
#: checked in every run with attention's points: the claim compares the other
#: mixers to attention, and finds the fixed-state ones from the data
ZOOLOGY_CLAIM = RecallFallsWithFixedState(
    text="On MQAR attention stays near 100% while fixed-state mixers fall as the pairs grow",
    source=ZOOLOGY,
)

FAMILY_CLAIMS: dict[str, tuple[Claim, ...]] = {
    "attention": (ZOOLOGY_CLAIM,),
    "retnet": (
        ConstantIn(
            text="Decode state (KV-cache) bytes constant in context length",
            workloads=(DECODE,),
            column="state_bytes",
            source=RETNET,
        ),
        ConstantIn(
            text="Decode memory constant in context length",
            workloads=(DECODE,),
            column="peak_mem_bytes",
            source=RETNET,
        ),
        ConstantIn(
            text="Decode latency per token constant in context length",
            workloads=(DECODE,),
            column="latency_per_token_s",
            source=RETNET,
        ),
        SlopeWithin(
            text="Chunkwise time linear in length",
            variants=("chunkwise",),
            workloads=(FORWARD, TRAIN),
            column="time_s",
            low=0.8,
            high=1.2,
            source=RETNET,
        ),
        SlopeWithin(
            text="Chunkwise memory at most linear in length",
            variants=("chunkwise",),
            workloads=(FORWARD, TRAIN),
            column="peak_mem_bytes",
            high=1.2,
            source=RETNET,
        ),
        MatchesReference(text="parallel ≡ chunkwise ≡ recurrent (same outputs)", source=RETNET),
        BeatsBaseline(
            text="Decoding faster than attention at long context",
            workload=DECODE,
            column="latency_per_token_s",
            source=RETNET,
        ),
        BeatsBaseline(
            text="Decoding uses less memory than attention at long context",
            workload=DECODE,
            column="peak_mem_bytes",
            source=RETNET,
        ),
        # The paper trains long sequences with the chunkwise form (Table 4).
        BeatsBaseline(
            text="Training uses less memory than attention (Table 4)",
            variants=("chunkwise",),
            workload=TRAIN,
            column="peak_mem_bytes",
            source=RETNET,
        ),
        BeatsBaseline(
            text="Training has higher throughput than attention (Table 4)",
            variants=("chunkwise",),
            workload=TRAIN,
            column="tokens_per_s",
            lower_is_better=False,
            source=RETNET,
        ),
    ),
    "mamba": (
        ConstantIn(
            text="Decode state bytes constant in context length (fixed-size recurrent state)",
            workloads=(DECODE,),
            column="state_bytes",
            source=MAMBA,
        ),
        SlopeWithin(
            text="Forward and training time at most linear in length (selective scan)",
            workloads=(FORWARD, TRAIN),
            column="time_s",
            high=1.2,
            source=MAMBA,
        ),
        MatchesReference(text="scan ≡ sequential reference (same outputs)", source=MAMBA),
    ),
    "hyena": (
        SlopeBelowBaseline(
            text="Time sub-quadratic in length (FFT long convolution): slope below attention's",
            variants=("fft",),
            workloads=(FORWARD, TRAIN),
            column="time_s",
            source=HYENA,
        ),
        MatchesReference(text="FFT ≡ direct convolution (same outputs)", source=HYENA),
    ),
}
