"""What every LRA loader shares: finding files, the two errors, and the datasets.

Loaders keep examples compactly (uint8/uint16 numpy arrays or raw bytes) and make
the ``(tokens, target)`` long tensors only when an example is read, so that the
full Text or Retrieval sets do not take gigabytes as int64.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

DATA_ENV_VAR = "MIXBENCH_DATA"
LRA_RELEASE_URL = "https://storage.googleapis.com/long-range-arena/lra_release.gz"

#: Byte-level tokens as tfds' ByteTextEncoder makes them (LRA Text and Retrieval):
#: byte b -> b + 1, with 0 kept for padding; 256 bytes + padding = 257 ids.
BYTE_VOCAB_SIZE = 257


class DataMissing(FileNotFoundError):
    """A task's files are not on disk; the message says which file to put where."""


class MalformedData(ValueError):
    """A data file does not have the expected format; the message names file and line."""

    def __init__(self, path: str | Path, line: int | None, problem: str) -> None:
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {problem}")
        self.path = Path(path)
        self.line = line


def data_dir_from_env() -> Path | None:
    """The data directory named by MIXBENCH_DATA, or None when it is unset or empty."""
    value = os.environ.get(DATA_ENV_VAR, "").strip()
    return Path(value).expanduser() if value else None


def candidate_roots(data_dir: str | Path) -> list[Path]:
    """Where to look: the folder itself and, since the release tarball unpacks into
    ``lra_release/`` (and, extracted into a folder of that name, into
    ``lra_release/lra_release/``, where the release keeps Pathfinder), those
    subfolders, so the folder, its parent or its grandparent all work."""
    root = Path(data_dir).expanduser()
    return [root, root / "lra_release", root / "lra_release" / "lra_release"]


def locate(
    data_dir: str | Path | None,
    relative: str,
    task: str,
    how_to_get: str,
    aliases: Sequence[str] = (),
) -> Path:
    """The first ``root/relative`` (or ``root/alias``: other names the same files go by,
    such as S4's ``listops/`` for the release's ``listops-1000/``) that exists, or
    DataMissing saying where it belongs."""
    names = [relative, *aliases]
    also = f" (or {', '.join(aliases)})" if aliases else ""
    if data_dir is None:
        raise DataMissing(
            f"LRA task {task!r} needs {relative}{also} inside a data directory, but none was "
            f"given: pass --data-dir DIR or set {DATA_ENV_VAR}=DIR, with DIR/{relative} "
            f"in place. {how_to_get}"
        )
    for root in candidate_roots(data_dir):
        for name in names:
            if (root / name).exists():
                return root / name
    expected = Path(data_dir).expanduser() / relative
    raise DataMissing(
        f"LRA task {task!r} needs {expected}{also}, which does not exist (looked in "
        f"{', '.join(str(r) for r in candidate_roots(data_dir))}; the data directory "
        f"comes from --data-dir or {DATA_ENV_VAR}). {how_to_get}"
    )


def sibling(found: Path, relative: str, task: str) -> Path:
    """``relative`` next to ``found`` (the other splits of a task live where its first
    split was found), or DataMissing naming both."""
    path = found.parent / relative
    if not path.exists():
        raise DataMissing(
            f"LRA task {task!r}: found {found} but not {path}, which belongs beside it "
            "(every split of a task must be in one folder)"
        )
    return path


def require_examples(path: Path, count: int, what: str = "examples") -> None:
    """MalformedData when a split's file holds nothing: training would divide by zero."""
    if count == 0:
        raise MalformedData(path, None, f"holds no {what}; an empty split cannot be trained on")


def release_hint(task: str, generator: bool) -> str:
    hint = f"It is part of the LRA release: download {LRA_RELEASE_URL} and extract it there."
    if generator:
        hint += f" Or generate it: python -m tasks generate {task} --out DIR."
    return hint


class TokenArrayDataset(Dataset):
    """Fixed-length token rows (N, L) or pairs (N, 2, L) with one class label each."""

    def __init__(self, tokens: np.ndarray, labels: np.ndarray) -> None:
        if len(tokens) != len(labels):
            raise ValueError(f"{len(tokens)} token rows but {len(labels)} labels")
        self.tokens = tokens
        self.labels = labels.astype(np.int64)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        tokens = torch.from_numpy(self.tokens[i].astype(np.int64))
        return tokens, torch.tensor(int(self.labels[i]))


def encode_bytes(text: bytes, max_length: int) -> np.ndarray:
    """tfds ByteTextEncoder ids of the first ``max_length`` bytes, padded with 0."""
    ids = np.zeros(max_length, dtype=np.int64)
    head = np.frombuffer(text[:max_length], dtype=np.uint8)
    ids[: len(head)] = head.astype(np.int64) + 1
    return ids


class ByteTextDataset(Dataset):
    """Documents kept as bytes (already cut to ``max_length``), encoded on access.

    Each example has one document (kind classify) or a pair of documents (kind pair).
    """

    def __init__(
        self, documents: Sequence[tuple[bytes, ...]], labels: Sequence[int], max_length: int
    ) -> None:
        if len(documents) != len(labels):
            raise ValueError(f"{len(documents)} documents but {len(labels)} labels")
        self.documents = list(documents)
        self.labels = list(labels)
        self.max_length = max_length

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        docs = self.documents[i]
        rows = np.stack([encode_bytes(d, self.max_length) for d in docs])
        tokens = torch.from_numpy(rows[0] if len(docs) == 1 else rows)
        return tokens, torch.tensor(self.labels[i])


class LazyImageDataset(Dataset):
    """Images read from disk on access (Path-X would take gigabytes in memory)."""

    def __init__(
        self,
        paths: Sequence[Path],
        labels: Sequence[int],
        read_pixels: Callable[[Path], np.ndarray],
    ) -> None:
        if len(paths) != len(labels):
            raise ValueError(f"{len(paths)} images but {len(labels)} labels")
        self.paths = list(paths)
        self.labels = list(labels)
        self.read_pixels = read_pixels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        pixels = self.read_pixels(self.paths[i]).reshape(-1).astype(np.int64)
        return torch.from_numpy(pixels), torch.tensor(self.labels[i])

    def problems(self, limit: int | None = None) -> tuple[int, list[str]]:
        """Open (decode) the first ``limit`` images (all by default): how many were
        checked, and what is wrong with the bad ones, each naming its file."""
        paths = self.paths if limit is None else self.paths[:limit]
        found = []
        for path in paths:
            try:
                self.read_pixels(path)
            except MalformedData as error:
                found.append(str(error))
        return len(paths), found
