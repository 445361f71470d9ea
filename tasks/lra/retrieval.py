"""Retrieval: do two ACL Anthology papers cite one another? Byte-level document pairs.

Read from the LRA release's ``tsv_data/new_aan_pairs.{train,eval,test}.tsv``: one pair
per line, tab-separated, no header and no quoting (LRA reads them with
``use_quote_delim=False``): ``label id1 id2 text1 text2``, the label 0 or 1 (as an
integer or a float). Each text is cut to its first 4000 bytes (LRA cuts to 10000 bytes
before encoding, then to max_length 4000) and encoded like Text (byte + 1, 0 pads).
An example's tokens are (2, 4000): the two documents.
"""

from __future__ import annotations

from pathlib import Path

from tasks.base import TaskData, TaskSpec
from tasks.lra.common import (
    BYTE_VOCAB_SIZE,
    ByteTextDataset,
    MalformedData,
    locate,
    release_hint,
    require_examples,
    sibling,
)

LRA_MAX_LENGTH = 4000
SPLIT_FILES = {"train": "train", "val": "eval", "test": "test"}
N_FIELDS = 5


def retrieval_spec(max_length: int = LRA_MAX_LENGTH) -> TaskSpec:
    return TaskSpec("retrieval", "pair", BYTE_VOCAB_SIZE, max_length, 2)


def split_path(root: Path, split: str) -> Path:
    return root / "tsv_data" / split_file(split)


#: other names the release's tsv_data/ folder goes by (S4: aan/)
FOLDER_ALIASES = ("aan", "retrieval")


def split_file(split: str) -> str:
    return f"new_aan_pairs.{SPLIT_FILES[split]}.tsv"


def read_split(path: Path, max_length: int) -> ByteTextDataset:
    pairs, labels = [], []
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            line = raw.rstrip(b"\r\n")
            if not line.strip():
                continue
            fields = line.split(b"\t")
            if len(fields) != N_FIELDS:
                raise MalformedData(
                    path,
                    number,
                    f"expected {N_FIELDS} tab-separated fields (label, id1, id2, text1, "
                    f"text2), got {len(fields)}",
                )
            labels.append(_label(path, number, fields[0]))
            pairs.append((fields[3][:max_length], fields[4][:max_length]))
    require_examples(path, len(labels), "document pairs")
    return ByteTextDataset(pairs, labels, max_length)


def _label(path: Path, number: int, field: bytes) -> int:
    try:
        value = float(field)
    except ValueError:
        value = None
    if value not in (0.0, 1.0):
        raise MalformedData(path, number, f"label must be 0 or 1, got {field[:20]!r}")
    return int(value)


def load_retrieval(data_dir: str | Path | None, max_length: int = LRA_MAX_LENGTH) -> TaskData:
    """The release's AAN pairs from ``tsv_data/`` (or ``aan/``, ``retrieval/``)."""
    hint = release_hint("retrieval", False)
    aliases = [f"{folder}/{split_file('train')}" for folder in FOLDER_ALIASES]
    train_path = locate(data_dir, str(split_path(Path(), "train")), "retrieval", hint, aliases)
    datasets = {}
    for split in SPLIT_FILES:
        path = (
            train_path if split == "train" else sibling(train_path, split_file(split), "retrieval")
        )
        datasets[split] = read_split(path, max_length)
    spec = retrieval_spec(max_length)
    return TaskData(spec, datasets["train"], datasets["test"], val=datasets["val"])
