"""Published Long Range Arena results, as data, shown beside the measured rows
of the LRA-release table (tasks ``schema.LRA_PREFIX`` + name) and labelled
"published" with their source: they are the papers' numbers, never measured
here, at the papers' own model sizes and budgets.

Accuracies are in percent, as printed; None is the paper's FAIL (no better
than chance). ``average`` is the paper's own, over the tasks it says.
"""

from __future__ import annotations

from dataclasses import dataclass

from schema import LRA_PREFIX

#: the LRA release's tasks in the papers' column order
LRA_TASKS = tuple(
    LRA_PREFIX + name for name in ("listops", "text", "retrieval", "image", "pathfinder", "pathx")
)
#: how the papers head the columns
TASK_TITLES = {
    LRA_PREFIX + "listops": "ListOps",
    LRA_PREFIX + "text": "Text",
    LRA_PREFIX + "retrieval": "Retrieval",
    LRA_PREFIX + "image": "Image",
    LRA_PREFIX + "pathfinder": "Pathfinder",
    LRA_PREFIX + "pathx": "Path-X",
}
FAIL = "FAIL"


@dataclass(frozen=True)
class PublishedRow:
    model: str
    #: the paper and the table the numbers are copied from
    source: str
    #: task -> accuracy in percent; None: FAIL
    scores: dict[str, float | None]
    #: the paper's average, in percent
    average: float
    #: what the paper's average is over
    average_of: str


TRANSFORMER_LRA = PublishedRow(
    model="Transformer",
    source='Tay et al. 2021, "Long Range Arena: A Benchmark for Efficient Transformers", '
    "ICLR, Table 1",
    scores={
        LRA_PREFIX + "listops": 36.37,
        LRA_PREFIX + "text": 64.27,
        LRA_PREFIX + "retrieval": 57.46,
        LRA_PREFIX + "image": 42.44,
        LRA_PREFIX + "pathfinder": 71.40,
        LRA_PREFIX + "pathx": None,
    },
    average=54.39,
    average_of="5 tasks (Path-X: FAIL, left out)",
)

S4_LRA = PublishedRow(
    model="S4",
    source='Gu, Goel, Ré 2022, "Efficiently Modeling Long Sequences with Structured State '
    'Spaces", ICLR, Table 4',
    scores={
        LRA_PREFIX + "listops": 58.35,
        LRA_PREFIX + "text": 76.02,
        LRA_PREFIX + "retrieval": 87.09,
        LRA_PREFIX + "image": 87.26,
        LRA_PREFIX + "pathfinder": 86.05,
        LRA_PREFIX + "pathx": 88.10,
    },
    average=80.48,
    average_of="6 tasks",
)

PUBLISHED_LRA: tuple[PublishedRow, ...] = (TRANSFORMER_LRA, S4_LRA)


def score_text(value: float | None) -> str:
    """A published score as printed: 36.37, or FAIL."""
    return FAIL if value is None else f"{value:.2f}"
