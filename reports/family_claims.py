"""The claims of the families this project ships, as data: per family, the
headline claims of its paper, each with the kind of check claims.py (or,
for accuracy, accuracy_claims.py and paper_claims.py) makes. The accuracy
findings carry the paper's setting (``PaperSetting``), and name here, and
nowhere else, the families they set the claim's family against.

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
from .paper_claims import KeepsAccuracyBeyondLength, PaperSetting, SolvesWhereOthersFail

DECODE, FORWARD, TRAIN = Workload.DECODE, Workload.FORWARD, Workload.TRAIN_STEP
RETNET = "RetNet paper (Sun et al. 2023, arXiv:2307.08621)"
MAMBA = "Mamba paper (Gu & Dao 2023, arXiv:2312.00752)"
HYENA = "Hyena paper (Poli et al. 2023, arXiv:2302.10866)"
ZOOLOGY = (
    'Zoology (Arora et al. 2023, "Zoology: Measuring and Improving Recall in Efficient '
    'Language Models", arXiv:2312.04927)'
)
MECHANISTIC = (
    'Arora, Rathi et al. 2025, "Mechanistic evaluation of Transformers and state space '
    'models", arXiv:2505.15105'
)
#: Zoology's Fig. 2 (configs: HazyResearch/zoology, zoology/experiments/paper_configs/
#: iclr24_zoology_figure2/configs.py): 100,000 training examples, 64 epochs, batch
#: 512 at L 64 and 128 (256 at L 256), so 12,500 steps at its shortest length
ZOOLOGY_SETTING = PaperSetting(
    where="Zoology Fig. 2",
    steps=12_500,
    batch=512,
    seq_len=64,
    width="64–512",
    other="vocab 8192, 4–16 pairs at L 64–256, 2 layers, lr grid 1e-4–1e-2",
    searched=(
        "shows at L 32 with 4 and 8 pairs, vocab 4× the pairs, width 64, 250 and 500 steps "
        "× batch 32 (Mamba 28.4 ± 9.2% → 14.4 ± 3.5%, at the plateau, 1/pairs, both times; "
        "attention ≥ 99.6%; 3 seeds), "
        "~580 CPU s of the default's grid at 250 and 450 steps, which runs both"
    ),
)
#: checked in every run with attention's points: the claim compares the other
#: mixers to attention, and finds the fixed-state ones from the data
ZOOLOGY_CLAIM = RecallFallsWithFixedState(
    text="On MQAR attention stays near 100% while fixed-state mixers fall as the pairs grow",
    source=ZOOLOGY,
    setting=ZOOLOGY_SETTING,
)
#: what the 2-core CPU showed of Table 1 (width 64, lr 3e-3, seeds 0-2 unless
#: named; the default's grid spends ~0.86 CPU s a step at L 64 and batch 16): at
#: short lengths Hyena's gated convolution learns the task too, given the steps
SELECTIVE_COPY_SEARCH = (
    "not shown: at L 32 with 4 data tokens, vocab 16, batch 32, 1000 steps, Mamba 97, "
    "99.9, 99.7% and Hyena 89, 90.9, 89.1% (still rising); at L 48 with 4, 1000 steps, "
    "Mamba 99.9, 91.1, 97.4% and Hyena 82.5, 87.1, 86.8%, and at 1500 steps Hyena "
    "92.5, 97.2, 91.2%; at L 32 with 8 (seed 0, 1000 steps) Mamba 66.5%, Hyena 69.8%; at "
    "L 64 with 4, batch 16 (seed 0, 1000 steps) Mamba 15%, Hyena 77%; at the default's "
    "L 64 with 8, 120 steps, Mamba 7.7 ± 0.9%, Hyena 13.4 ± 11.7%: the separation needs "
    "longer sequences than 1000 steps teach Mamba here (1000 steps would cost ~860 CPU s "
    "of the default's grid, which trains 60)"
)
#: the Mamba paper's Table 1, its setting in Appendix E.1
SELECTIVE_COPY_SETTING = PaperSetting(
    where="Mamba Table 1, Appendix E.1",
    steps=400_000,
    batch=64,
    seq_len=4096,
    width="64",
    other="2 layers, vocab 16, 16 data tokens to copy, constant lr 1e-4",
    searched=SELECTIVE_COPY_SEARCH,
)
#: the Mamba paper's Table 2 (Table 11: every length), its setting in Appendix E.1:
#: Mamba's results after 25 epochs of 8192 steps (attention's after 50)
INDUCTION_SETTING = PaperSetting(
    where="Mamba Table 2, Appendix E.1",
    steps=204_800,
    batch=8,
    seq_len=256,
    width="64",
    other=(
        "2 layers, vocab 16, tested from 64 to 2^20 tokens; Adam without weight decay, "
        "constant lr 1e-3 (Mamba) or 2e-4 (attention)"
    ),
    searched=(
        "trained at L 32 (vocab 10, width 64, batch 32, lr 3e-3; seeds 0–2), Mamba at "
        "4L | 8L: 250 steps 87, 96, 100% | 56, 81, 96%; 400 steps 100, 97, 100% | 92, 96, "
        "93%; 500 steps 100, 99, 100% | 94, 86, 100%; 1000 steps (seed 0) 99% | 84.5%: at "
        "4L from 400 steps, at 8L not on every seed within 1000 (vocab 16 or batch 16 did "
        "no better); 400 steps would cost ~310 CPU s of the default's grid, which trains 250"
    ),
)
#: arXiv:2505.15105 section 5.1 (configs: aryamanarora/tinylang, experiments/configs/
#: ar_32/template.yaml and make_sweep.py); its length is in the task's data file
RECALL_SETTING = PaperSetting(
    where="arXiv:2505.15105 Sec. 5.1",
    steps=3126,
    batch=32,
    width="16–256",
    other="2 layers, lr grid 3e-5–3e-3, cosine with 10% warm-up, no weight decay",
    searched=(
        "shows at L 32 with 8 pairs from 450 steps × batch 32 (attention 100% on 3 seeds, "
        "Hyena 17–23% at 500); attention stayed on the plateau on 1–2 of 3 seeds in "
        "300- and 350-step schedules; with 4 pairs at 250 steps Hyena's seeds straddle 90% "
        "(62–81%; 91 and 84% at 1000 steps)"
    ),
)
#: Hyena is the time-invariant long convolution Mamba's Table 1 and the recall
#: finding set against the input-dependent mixers
SELECTIVE_COPY_CLAIM = SolvesWhereOthersFail(
    text=(
        "A selective (input-dependent) mixer solves selective copying where a time-invariant "
        "long convolution does not (Table 1)"
    ),
    generator="selective_copy",
    against=("hyena",),
    setting=SELECTIVE_COPY_SETTING,
    source=MAMBA,
)
INDUCTION_CLAIM = KeepsAccuracyBeyondLength(
    text=(
        "Trained on induction heads at one length, Mamba keeps its accuracy at 4× to 64× "
        "that length while attention falls (Table 2)"
    ),
    generator="induction",
    against=("attention",),
    setting=INDUCTION_SETTING,
    source=MAMBA,
)
RECALL_CLAIM = SolvesWhereOthersFail(
    text="Attention solves associative recall fully; Hyena does not",
    generator="mqar",
    against=("hyena",),
    setting=RECALL_SETTING,
    source=MECHANISTIC,
)

FAMILY_CLAIMS: dict[str, tuple[Claim, ...]] = {
    "attention": (ZOOLOGY_CLAIM, RECALL_CLAIM),
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
        SELECTIVE_COPY_CLAIM,
        INDUCTION_CLAIM,
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
