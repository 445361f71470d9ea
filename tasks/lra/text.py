"""Text: IMDB sentiment from raw bytes (LRA's byte-level text classification).

Read from the standard ``aclImdb`` folder (aclImdb_v1.tar.gz): ``{train,test}/{neg,pos}/
<id>_<rating>.txt``, label 0 for neg and 1 for pos, each review stripped of surrounding
whitespace (as tfds' imdb_reviews does). Tokens are tfds ByteTextEncoder ids (byte + 1,
0 pads; 257 ids), cut to 4096 (LRA's 4K). LRA's input pipeline validates on the test set,
since IMDB has no validation split; we do the same, so ``val`` is the test set.
"""

from __future__ import annotations

from pathlib import Path

from tasks.base import TaskData, TaskSpec
from tasks.lra.common import BYTE_VOCAB_SIZE, ByteTextDataset, MalformedData, locate

IMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
LRA_MAX_LENGTH = 4096
CLASSES = ("neg", "pos")


def _review_order(path: Path) -> tuple[int, str]:
    head = path.stem.split("_")[0]
    return (int(head), path.name) if head.isdigit() else (1 << 62, path.name)


def read_split(split_dir: Path, max_length: int) -> ByteTextDataset:
    documents, labels = [], []
    for label, name in enumerate(CLASSES):
        class_dir = split_dir / name
        files = sorted(class_dir.glob("*.txt"), key=_review_order) if class_dir.is_dir() else []
        if not files:
            raise MalformedData(class_dir, None, "expected the reviews <id>_<rating>.txt here")
        for path in files:
            documents.append((path.read_bytes().strip()[:max_length],))
            labels.append(label)
    return ByteTextDataset(documents, labels, max_length)


def load_text(data_dir: str | Path | None, max_length: int = LRA_MAX_LENGTH) -> TaskData:
    hint = f"Download {IMDB_URL} and extract it there (it unpacks to aclImdb/)."
    train_dir = locate(data_dir, "aclImdb/train/pos", "text", hint).parent
    test_dir = locate(data_dir, "aclImdb/test/pos", "text", hint).parent
    test = read_split(test_dir, max_length)
    spec = TaskSpec("text", "classify", BYTE_VOCAB_SIZE, max_length, len(CLASSES))
    return TaskData(spec, read_split(train_dir, max_length), test, val=test)
