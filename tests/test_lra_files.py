"""Text (IMDB), Retrieval (AAN pairs) and Image (CIFAR-10) read from fixture files in
their standard formats; malformed and missing files."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from tasks.lra import TASK_NAMES, DataMissing, MalformedData, load_task


def write_imdb(root: Path) -> None:
    reviews = {
        # the first review of each class (by id) is held out for validation
        ("train", "neg"): {"1_4.txt": b"held", "3_2.txt": b"Bad.", "10_1.txt": b"  Awful film!\n"},
        ("train", "pos"): {"2_8.txt": b"held too", "7_9.txt": "Caf\u00e9 scene was great".encode()},
        ("test", "neg"): {"0_3.txt": b"meh"},
        ("test", "pos"): {"0_10.txt": b"A" * 50},
    }
    for (split, label), files in reviews.items():
        folder = root / "aclImdb" / split / label
        folder.mkdir(parents=True)
        for name, text in files.items():
            (folder / name).write_bytes(text)


def test_text_is_bytes_plus_one_padded_with_zero(tmp_path: Path) -> None:
    write_imdb(tmp_path)
    data = load_task("text", tmp_path, max_length=32)
    assert (data.spec.kind, data.spec.vocab_size, data.spec.seq_len) == ("classify", 257, 32)
    assert data.spec.n_classes == 2 and data.spec.pad_id == 0
    assert (len(data.train), len(data.val), len(data.test)) == (3, 2, 2)
    held = [bytes(t - 1 for t in data.val[i][0].tolist() if t) for i in range(2)]
    assert held == [b"held", b"held too"]  # validation never touches the test set
    tokens, label = data.train[0]  # neg, ordered by review id: 3_2 before 10_1
    assert int(label) == 0
    assert tokens.tolist() == [b + 1 for b in b"Bad."] + [0] * 28
    stripped, _ = data.train[1]
    assert bytes(t - 1 for t in stripped.tolist() if t) == b"Awful film!"
    utf8, label = data.train[2]
    assert int(label) == 1 and utf8[3].item() == 0xC3 + 1  # bytes, not characters
    long_review, _ = data.test[1]
    assert long_review.tolist() == [ord("A") + 1] * 32  # cut to max_length
    assert load_task("text", tmp_path).spec.seq_len == 4096


def test_text_missing_class_folder(tmp_path: Path) -> None:
    write_imdb(tmp_path)
    for review in (tmp_path / "aclImdb/test/neg").iterdir():
        review.unlink()
    with pytest.raises(MalformedData, match="aclImdb/test/neg"):
        load_task("text", tmp_path)


def write_aan(root: Path, test_lines: list[bytes] | None = None) -> None:
    folder = root / "tsv_data"
    folder.mkdir()
    lines = {
        "train": [b'1\tp1\tp2\tfirst paper\tsecond "quoted" paper', b"0.0\tp3\tp4\tx\ty"],
        "eval": [b"1.0\tp1\tp3\tab\tcd"],
        "test": test_lines or [b"0\tp2\tp4\t" + b"z" * 10 + b"\tw"],
    }
    for split, rows in lines.items():
        (folder / f"new_aan_pairs.{split}.tsv").write_bytes(b"\n".join(rows) + b"\n")


def test_retrieval_pairs(tmp_path: Path) -> None:
    write_aan(tmp_path)
    data = load_task("retrieval", tmp_path, max_length=8)
    assert (data.spec.kind, data.spec.seq_len, data.spec.n_classes) == ("pair", 8, 2)
    tokens, label = data.train[0]
    assert tokens.shape == (2, 8) and int(label) == 1
    assert tokens[0].tolist() == [b + 1 for b in b"first pa"]
    assert tokens[1].tolist() == [b + 1 for b in b'second "']  # quotes are plain bytes
    assert int(data.train[1][1]) == 0 and int(data.val[0][1]) == 1
    assert data.test[0][0][1].tolist() == [ord("w") + 1] + [0] * 7
    assert load_task("retrieval", tmp_path).spec.seq_len == 4000


@pytest.mark.parametrize(
    ("bad", "words"),
    [(b"1\tp1\tp2\tonly four", "5 tab-separated"), (b"yes\tp1\tp2\ta\tb", "0 or 1")],
)
def test_retrieval_malformed_line(tmp_path: Path, bad: bytes, words: str) -> None:
    write_aan(tmp_path, [b"0\tp2\tp4\ta\tb", bad])
    with pytest.raises(MalformedData) as error:
        load_task("retrieval", tmp_path)
    assert "new_aan_pairs.test.tsv:2:" in str(error.value) and words in str(error.value)


def write_cifar(root: Path, per_batch: int = 10) -> dict[str, np.ndarray]:
    folder = root / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, size=per_batch).tolist()
        with (folder / name).open("wb") as f:
            pickle.dump({b"data": data, b"labels": labels, b"batch_label": b"x"}, f)
        batches[name] = data
    return batches


def test_image_grayscale_and_splits(tmp_path: Path) -> None:
    batches = write_cifar(tmp_path)
    data = load_task("image", tmp_path)
    assert (data.spec.seq_len, data.spec.n_classes, data.spec.vocab_size) == (1024, 10, 257)
    assert (len(data.train), len(data.val), len(data.test)) == (45, 5, 10)
    rgb = batches["data_batch_1"][0].reshape(3, 1024).astype(np.float64)
    # tf.image.rgb_to_grayscale: weights 0.2989/0.5870/0.1140 on [0, 1], then * 255.5
    # and truncated; float64 here, so allow the float32 rounding at the boundaries.
    expected = np.floor((0.2989 * rgb[0] + 0.5870 * rgb[1] + 0.1140 * rgb[2]) / 255 * 255.5)
    tokens, _ = data.train[0]
    assert np.abs(tokens.numpy() - expected).max() <= 1
    assert (tokens.numpy() == expected).mean() > 0.99
    last_val, _ = data.val[4]
    last_rgb = batches["data_batch_5"][-1].reshape(3, 1024).astype(np.float64)
    assert (
        abs(
            int(last_val[0])
            - (0.2989 * last_rgb[0, 0] + 0.587 * last_rgb[1, 0] + 0.114 * last_rgb[2, 0])
            / 255
            * 255.5
        )
        <= 1
    )


def test_grayscale_of_pure_colours() -> None:
    from tasks.lra.image import to_grayscale

    colours = np.array([[255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255], [0, 0, 0]])
    assert to_grayscale(colours.astype(np.uint8)).tolist() == [255, 76, 149, 29, 0]


def test_image_malformed_batch(tmp_path: Path) -> None:
    write_cifar(tmp_path)
    (tmp_path / "cifar-10-batches-py/data_batch_3").write_bytes(b"not a pickle")
    with pytest.raises(MalformedData, match="data_batch_3"):
        load_task("image", tmp_path)


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("text", "aclImdb/train/pos"),
        ("retrieval", "tsv_data/new_aan_pairs.train.tsv"),
        ("image", "cifar-10-batches-py/data_batch_1"),
    ],
)
def test_missing_data_names_the_file(tmp_path: Path, name: str, path: str) -> None:
    with pytest.raises(DataMissing) as error:
        load_task(name, tmp_path)
    assert str(tmp_path / path) in str(error.value) and "MIXBENCH_DATA" in str(error.value)


def test_task_names_and_unknown_task(tmp_path: Path) -> None:
    assert set(TASK_NAMES) == {"listops", "text", "retrieval", "image", "pathfinder", "pathx"}
    with pytest.raises(ValueError, match="listops"):
        load_task("cifar100", tmp_path)


@pytest.mark.parametrize("folder", ["aan", "retrieval", "lra_release/lra_release/tsv_data"])
def test_retrieval_folder_names_users_have(tmp_path: Path, folder: str) -> None:
    write_aan(tmp_path)
    (tmp_path / folder).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / "tsv_data").rename(tmp_path / folder)
    assert len(load_task("retrieval", tmp_path).val) == 1


def test_text_and_image_folder_names_users_have(tmp_path: Path) -> None:
    for folder in ("imdb", "cifar"):
        (tmp_path / folder).mkdir()
    write_imdb(tmp_path / "imdb")
    write_cifar(tmp_path / "cifar")
    assert len(load_task("text", tmp_path).test) == 2
    assert len(load_task("image", tmp_path).test) == 10


@pytest.mark.parametrize(
    ("name", "empty"),
    [("retrieval", "tsv_data/new_aan_pairs.eval.tsv"), ("image", "cifar-10-batches-py/test_batch")],
)
def test_empty_split_files_are_malformed(tmp_path: Path, name: str, empty: str) -> None:
    write_aan(tmp_path)
    write_cifar(tmp_path)
    if name == "retrieval":
        (tmp_path / empty).write_bytes(b"\n")
    else:
        with (tmp_path / empty).open("wb") as f:
            pickle.dump({b"data": np.zeros((0, 3072), np.uint8), b"labels": []}, f)
    with pytest.raises(MalformedData, match=f"{empty}: holds no"):
        load_task(name, tmp_path)


class RunsAShellCommand:
    """What a crafted batch pickles: os.system with an argument, called on load."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return os.system, (f"touch {self.marker}",)


def test_image_batch_that_would_run_code_is_refused(tmp_path: Path) -> None:
    write_cifar(tmp_path)
    marker = tmp_path / "ran"
    crafted = {b"data": RunsAShellCommand(marker), b"labels": [0]}
    (tmp_path / "cifar-10-batches-py/data_batch_2").write_bytes(pickle.dumps(crafted))
    with pytest.raises(MalformedData, match=r"data_batch_2: .*refused to load posix\.system"):
        load_task("image", tmp_path)
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_image_batches_of_every_pickle_protocol_load(tmp_path: Path, protocol: int) -> None:
    """The Python 2 batches of the release and ones Python 3 wrote, at any protocol."""
    write_cifar(tmp_path)
    path = tmp_path / "cifar-10-batches-py/test_batch"
    data = np.arange(2 * 3072, dtype=np.int64).reshape(2, 3072).astype(np.uint8)
    batch = {b"data": data, b"labels": [3, 4], b"filenames": [b"a.png", "b.png"]}
    path.write_bytes(pickle.dumps(batch, protocol=protocol))
    test = load_task("image", tmp_path).test
    assert len(test) == 2 and int(test[1][1]) == 4
