"""Text: IMDB sentiment from raw bytes (LRA's byte-level text classification).

Read from the standard ``aclImdb`` folder (aclImdb_v1.tar.gz): ``{train,test}/{neg,pos}/
<id>_<rating>.txt``, label 0 for neg and 1 for pos, each review stripped of surrounding
whitespace (as tfds' imdb_reviews does). Tokens are tfds ByteTextEncoder ids (byte + 1,
0 pads; 257 ids), cut to 4096 (LRA's 4K). IMDB has no validation split and LRA's input
pipeline validates on the test set; we hold out every 10th training review of each class
(in review-id order, starting with the first) as ``val`` instead, so that settings chosen
on validation never see the test set (train 22500, val 2500, test 25000).
"""

from __future__ import annotations

from pathlib import Path

from tasks.base import TaskData, TaskSpec
from tasks.lra.common import BYTE_VOCAB_SIZE, ByteTextDataset, MalformedData, locate, sibling

IMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
LRA_MAX_LENGTH = 4096
CLASSES = ("neg", "pos")
#: every VAL_EVERY-th training review of each class is held out for validation
VAL_EVERY = 10


def text_spec(max_length: int = LRA_MAX_LENGTH) -> TaskSpec:
    return TaskSpec("text", "classify", BYTE_VOCAB_SIZE, max_length, len(CLASSES))


def _review_order(path: Path) -> tuple[int, str]:
    head = path.stem.split("_")[0]
    return (int(head), path.name) if head.isdigit() else (1 << 62, path.name)


def read_reviews(split_dir: Path, max_length: int) -> tuple[list[tuple[bytes]], list[int]]:
    documents, labels = [], []
    for label, name in enumerate(CLASSES):
        class_dir = split_dir / name
        files = sorted(class_dir.glob("*.txt"), key=_review_order) if class_dir.is_dir() else []
        if not files:
            raise MalformedData(class_dir, None, "expected the reviews <id>_<rating>.txt here")
        for path in files:
            documents.append((path.read_bytes().strip()[:max_length],))
            labels.append(label)
    return documents, labels


def read_split(split_dir: Path, max_length: int) -> ByteTextDataset:
    return ByteTextDataset(*read_reviews(split_dir, max_length), max_length)


def hold_out(
    documents: list[tuple[bytes]], labels: list[int], max_length: int
) -> tuple[ByteTextDataset, ByteTextDataset]:
    """(train, val): each class's reviews 0, VAL_EVERY, 2 * VAL_EVERY, ... go to val."""
    position = {c: 0 for c in range(len(CLASSES))}
    keep: dict[bool, tuple[list, list]] = {False: ([], []), True: ([], [])}
    for document, label in zip(documents, labels, strict=True):
        held = position[label] % VAL_EVERY == 0
        position[label] += 1
        keep[held][0].append(document)
        keep[held][1].append(label)
    train, val = (ByteTextDataset(*keep[held], max_length) for held in (False, True))
    return train, val


#: other places aclImdb/ is found in (a folder named after the dataset)
ALIASES = ("imdb/aclImdb",)


def load_text(data_dir: str | Path | None, max_length: int = LRA_MAX_LENGTH) -> TaskData:
    """IMDB from ``aclImdb/`` (or ``imdb/aclImdb/``)."""
    hint = f"Download {IMDB_URL} and extract it there (it unpacks to aclImdb/)."
    aliases = [f"{a}/train/pos" for a in ALIASES]
    train_dir = locate(data_dir, "aclImdb/train/pos", "text", hint, aliases).parent
    test_dir = sibling(train_dir, "test/pos", "text").parent
    train, val = hold_out(*read_reviews(train_dir, max_length), max_length)
    return TaskData(text_spec(max_length), train, read_split(test_dir, max_length), val=val)
