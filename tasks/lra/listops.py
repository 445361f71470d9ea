"""ListOps: nested MIN/MAX/MED/SM expressions over digits; the answer is a digit.

The generator follows LRA's ``lra_benchmarks/data/listops.py``:
- a node at depth < max_depth is an operator with probability 0.25 (the code's
  ``VALUE_P = 0.25`` with ``if r > VALUE_P: leaf``), else a digit 0-9; at max_depth it
  is always a digit; the root has depth 1;
- an operator takes ``randint(2, max_args)`` arguments and is one of
  ``[MIN [MAX [MED [SM`` (SM: sum mod 10; MED: ``int(np.median)``, the lower mean
  of the two middle values when there is an even count);
- the length counts digits, operators and closing brackets ``]``; a tree is kept only
  when ``min_length < length < max_length`` (strict, as there) and resampled otherwise;
- examples are unique (the original collects them in a set);
- sources are written with one parenthesis pair per argument, e.g.
  ``( ( ( [MAX 2 ) 9 ) ] )``, in TSV files with a ``Source\\tTarget`` header.

Tokenization: LRA's released input pipeline used tfds' alphanumeric tokenizer, which
silently dropped ``[`` and ``]`` and so the nesting; the LRA authors called that a bug
(google-research/long-range-arena issues #6 and #14: the tokens are ``]``, the digits
and ``[MIN [MAX [MED [SM``, parentheses stripped). We tokenize as they intended, with
a fixed vocabulary, truncate to ``max_length`` (2000 in LRA) and pad with id 0.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tasks.base import TaskData, TaskSpec, split_sizes
from tasks.lra.common import (
    MalformedData,
    TokenArrayDataset,
    locate,
    release_hint,
    require_examples,
    sibling,
)

MIN, MAX, MED, SUM_MOD, END = "[MIN", "[MAX", "[MED", "[SM", "]"
OPERATORS = (MIN, MAX, MED, SUM_MOD)
VALUES = range(10)
#: Probability that a node above max_depth is an operator rather than a digit.
OPERATOR_PROBABILITY = 0.25

PAD = "<pad>"
VOCAB = (PAD, *(str(v) for v in VALUES), *OPERATORS, END)
TOKEN_ID = {token: i for i, token in enumerate(VOCAB)}
N_CLASSES = 10

LRA_MAX_LENGTH = 2000
RELEASE_FOLDER = "listops-1000"
RELEASE_TASK = "basic"
SPLITS = ("train", "val", "test")
HEADER = ("Source", "Target")

#: A tree is a digit or (operator, arguments).
Tree = int | tuple[str, list["Tree"]]


@dataclass(frozen=True)
class ListOpsConfig:
    """The official generator's flags (its defaults are LRA's: lengths 500-2000)."""

    min_length: int = 500
    max_length: int = LRA_MAX_LENGTH
    max_depth: int = 10
    max_args: int = 10

    def __post_init__(self) -> None:
        # The shortest expression, ( [OP d ) d ) ] ), has 4 tokens.
        if self.max_length - max(self.min_length, 3) < 2:
            raise ValueError(
                f"no length fits min_length {self.min_length} < length < max_length "
                f"{self.max_length}; widen the window (e.g. 32 and 128)"
            )
        if self.max_args < 2 or self.max_depth < 2:
            raise ValueError("max_args and max_depth must be at least 2")


class _TooLong(Exception):
    """Raised to stop growing a tree that is already outside the window: it would be
    rejected anyway, so stopping early leaves the kept trees' distribution unchanged."""


#: A tree's shape: None for a digit, else the shapes of an operator's arguments.
Shape = list | None


def _grow_shape(rng: random.Random, depth: int, config: ListOpsConfig, budget: list[int]) -> Shape:
    if depth >= config.max_depth or rng.random() > OPERATOR_PROBABILITY:
        _spend(budget, 1)
        return None
    _spend(budget, 2)  # the operator and its closing bracket
    n_args = 2 + int(rng.random() * (config.max_args - 1))
    return [_grow_shape(rng, depth + 1, config, budget) for _ in range(n_args)]


def _spend(budget: list[int], tokens: int) -> None:
    budget[0] -= tokens
    if budget[0] < 0:
        raise _TooLong


def _fill(rng: random.Random, shape: Shape) -> Tree:
    """Draw the digits and operators of a kept shape; they do not affect the length, so
    drawing them only for kept shapes gives the same distribution for less work."""
    if shape is None:
        return int(rng.random() * len(VALUES))
    args = [_fill(rng, s) for s in shape]
    return OPERATORS[int(rng.random() * len(OPERATORS))], args


def sample_tree(rng: random.Random, config: ListOpsConfig) -> Tree:
    """One tree whose token length lies strictly inside the window."""
    while True:
        budget = [config.max_length - 1]
        try:
            shape = _grow_shape(rng, 1, config, budget)
        except _TooLong:
            continue
        if config.max_length - 1 - budget[0] > config.min_length:
            return _fill(rng, shape)


def to_source(tree: Tree) -> str:
    """The official string form: one parenthesis pair per argument and one for ``]``."""
    if isinstance(tree, int):
        return str(tree)
    op, args = tree
    text = f"( {op} {to_source(args[0])} )"
    for arg in args[1:]:
        text = f"( {text} {to_source(arg)} )"
    return f"( {text} {END} )"


def evaluate(tree: Tree) -> int:
    if isinstance(tree, int):
        return tree
    op, args = tree
    values = sorted(evaluate(a) for a in args)
    if op == MIN:
        return values[0]
    if op == MAX:
        return values[-1]
    if op == SUM_MOD:
        return sum(values) % 10
    middle = len(values) // 2
    if len(values) % 2:
        return values[middle]
    return (values[middle - 1] + values[middle]) // 2


class TooFewExpressions(ValueError):
    """Fewer distinct expressions exist in the window than were asked for."""


def count_expressions(config: ListOpsConfig, cap: int) -> int:
    """How many distinct expressions (``min_length < length < max_length``, depth and
    arguments within the config) exist, counted up to ``cap`` (the count saturates
    there: it only has to be compared with the number asked for).

    By length: a digit has length 1 (10 of them); an operator node at a depth below
    max_depth has 2 + its arguments' lengths (4 operators, 2..max_args arguments,
    each a tree one level deeper). Counts are kept as float64 clipped at ``cap``,
    exact while cap ** 2 * max_length < 2 ** 53."""
    top = config.max_length - 1  # the longest length kept
    leaves = np.zeros(top + 1)
    leaves[1] = len(VALUES)
    below = leaves  # trees rooted at max_depth: digits only
    for _ in range(config.max_depth - 1):  # depths max_depth - 1 .. 1
        power, sums = below, np.zeros(top + 1)
        for _ in range(config.max_args - 1):  # 2 .. max_args arguments
            power = np.minimum(np.convolve(power, below)[: top + 1], cap)
            sums = np.minimum(sums + power, cap)
        trees = leaves.copy()
        trees[2:] += len(OPERATORS) * sums[: top - 1]
        below = np.minimum(trees, cap)
    return int(min(below[config.min_length + 1 : top + 1].sum(), cap))


def generate_examples(n: int, config: ListOpsConfig, seed: int) -> list[tuple[str, int]]:
    """``n`` distinct (source, answer) pairs, the same for the same seed;
    TooFewExpressions when fewer than ``n`` distinct expressions exist."""
    available = count_expressions(config, cap=n)
    if available < n:
        raise TooFewExpressions(
            f"only {available} distinct ListOps expressions have min_length "
            f"{config.min_length} < length < max_length {config.max_length} with max_depth "
            f"{config.max_depth} and max_args {config.max_args}, fewer than the {n} asked "
            "for; ask for fewer, widen the length window or raise max_depth / max_args"
        )
    rng = random.Random(seed)
    examples: dict[str, int] = {}  # a dict keeps first-seen order, unlike the original set
    while len(examples) < n:
        tree = sample_tree(rng, config)
        examples.setdefault(to_source(tree), evaluate(tree))
    return list(examples.items())


#: operators as a tokenizer that strips brackets writes them: "MIN" for "[MIN"
BARE_OPERATORS = {op.removeprefix("["): op for op in OPERATORS}


def tokenize(source: str, brackets: bool = True) -> list[str]:
    """The tokens of a source string, parentheses stripped (LRA's intended
    tokenization). Operators may be written ``[MIN`` or ``MIN`` (sources tokenised
    without brackets). ``brackets=False`` also drops ``]``, as LRA's released input
    pipeline did (its tokenizer kept only alphanumeric tokens): the nesting is lost,
    which is what the published LRA ListOps numbers were measured on."""
    tokens = []
    for token in source.split():
        if token in ("(", ")") or (token == END and not brackets):
            continue
        tokens.append(BARE_OPERATORS.get(token, token))
    return tokens


def encode(source: str, max_length: int, brackets: bool = True) -> np.ndarray:
    """Token ids cut to ``max_length`` and padded with 0; KeyError on an unknown token."""
    ids = [TOKEN_ID[t] for t in tokenize(source, brackets)][:max_length]
    row = np.zeros(max_length, dtype=np.uint8)
    row[: len(ids)] = ids
    return row


def listops_spec(max_length: int, name: str = "listops") -> TaskSpec:
    return TaskSpec(name, "classify", len(VOCAB), max_length, N_CLASSES, TOKEN_ID[PAD])


def to_dataset(
    examples: list[tuple[str, int]], max_length: int, brackets: bool = True
) -> TokenArrayDataset:
    tokens = np.zeros((len(examples), max_length), dtype=np.uint8)
    for i, (source, _) in enumerate(examples):
        tokens[i] = encode(source, max_length, brackets)
    return TokenArrayDataset(tokens, np.array([t for _, t in examples], dtype=np.int64))


def make_listops(
    n_train: int,
    n_test: int,
    *,
    min_len: int,
    max_len: int,
    seed: int,
    n_val: int | None = None,
    max_depth: int = 10,
    max_args: int = 10,
) -> TaskData:
    """Generated ListOps in memory: train, val (``n_val`` None: as many as ``n_test``)
    and test, disjoint draws of one generator; token lengths satisfy
    ``min_len < length < max_len`` and sequences are padded to ``max_len``."""
    n_val = split_sizes(n_train, n_test, n_val)["val"]
    config = ListOpsConfig(min_len, max_len, max_depth, max_args)
    examples = generate_examples(n_train + n_val + n_test, config, seed)
    spec = listops_spec(max_len, name=f"listops-gen{min_len}-{max_len}")
    train, val, test = (
        examples[:n_train],
        examples[n_train : n_train + n_val],
        examples[n_train + n_val :],
    )
    return TaskData(
        spec, to_dataset(train, max_len), to_dataset(test, max_len), val=to_dataset(val, max_len)
    )


# -- the release's files --------------------------------------------------------------


#: other names the release's folder goes by (S4 and its descendants move it to listops/)
FOLDER_ALIASES = ("listops",)


def split_path(root: Path, split: str) -> Path:
    return root / RELEASE_FOLDER / split_file(split)


def split_file(split: str) -> str:
    return f"{RELEASE_TASK}_{split}.tsv"


def write_release(out_dir: str | Path, splits: dict[str, list[tuple[str, int]]]) -> list[Path]:
    """Write ``listops-1000/basic_{train,val,test}.tsv`` as the official script does
    (csv module, tab-separated, ``Source``/``Target`` header)."""
    written = []
    for split, examples in splits.items():
        path = split_path(Path(out_dir), split)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as f:
            writer = csv.writer(f, delimiter="\t")
            writer.writerow(HEADER)
            writer.writerows(examples)
        written.append(path)
    return written


def read_split(path: Path) -> list[tuple[str, int]]:
    """(source, target) rows of one release TSV; MalformedData names file and line
    (a bad header, a bad row, bytes that are not UTF-8, no rows at all)."""
    lines = path.read_bytes().splitlines()
    header = _decode(path, 1, lines[0]).lstrip("\ufeff") if lines else ""
    if tuple(header.split("\t")) != HEADER:
        raise MalformedData(path, 1, f"expected the header 'Source<TAB>Target', got {header!r}")
    examples = []
    for number, raw in enumerate(lines[1:], start=2):
        line = _decode(path, number, raw)
        if not line.strip():
            continue
        examples.append(_parse_row(path, number, line))
    require_examples(path, len(examples), "examples (only the header)")
    return examples


def _decode(path: Path, number: int, raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise MalformedData(
            path,
            number,
            f"not UTF-8 text (byte 0x{raw[error.start]:02x} at column {error.start + 1}); "
            "ListOps files are plain ASCII: re-download or regenerate this file",
        ) from None


def _parse_row(path: Path, number: int, line: str) -> tuple[str, int]:
    fields = line.split("\t")
    if len(fields) != 2:
        raise MalformedData(path, number, f"expected 2 tab-separated fields, got {len(fields)}")
    source, target = fields
    if target.strip() not in {str(v) for v in VALUES}:
        raise MalformedData(path, number, f"target must be a digit 0-9, got {target!r}")
    unknown = sorted({t for t in tokenize(source) if t not in TOKEN_ID or t == PAD})
    if unknown:
        raise MalformedData(
            path, number, f"unknown tokens {unknown}; expected digits, {', '.join(OPERATORS)}, ]"
        )
    return source, int(target.strip())


def load_listops(
    data_dir: str | Path | None, max_length: int = LRA_MAX_LENGTH, brackets: bool = True
) -> TaskData:
    """The LRA release's ListOps (96k/2k/2k examples, padded to 2000 tokens) from
    ``listops-1000/`` (or ``listops/``). ``brackets`` keeps ``]`` and the operators'
    ``[`` (LRA's intended tokens; False: the tokens LRA's released pipeline saw)."""
    hint = release_hint("listops", generator=True)
    aliases = [f"{folder}/{split_file('train')}" for folder in FOLDER_ALIASES]
    train_path = locate(data_dir, str(split_path(Path(), "train")), "listops", hint, aliases)
    datasets = {}
    for split in SPLITS:
        path = train_path if split == "train" else sibling(train_path, split_file(split), "listops")
        datasets[split] = to_dataset(read_split(path), max_length, brackets)
    return TaskData(
        listops_spec(max_length), datasets["train"], datasets["test"], val=datasets["val"]
    )
