"""Pathfinder / Path-X: labels traced in the pixels, determinism, files, errors."""

from __future__ import annotations

from collections import deque
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tasks.__main__ import main
from tasks.lra import DataMissing, MalformedData, load_task, make_pathfinder
from tasks.lra.pathfinder import config_for, generate_images


def reaches(pixels: np.ndarray, start: tuple[int, int], goal: tuple[int, int]) -> bool:
    """Flood fill over lit pixels, 8-connected, written apart from the generator."""
    lit = pixels > 0
    assert lit[start] and lit[goal], "a marker centre should be lit"
    seen = np.zeros_like(lit)
    seen[start] = True
    queue = deque([start])
    while queue:
        y, x = queue.popleft()
        if (y, x) == goal:
            return True
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                ny, nx = y + dy, x + dx
                inside = 0 <= ny < lit.shape[0] and 0 <= nx < lit.shape[1]
                if inside and lit[ny, nx] and not seen[ny, nx]:
                    seen[ny, nx] = True
                    queue.append((ny, nx))
    return False


@pytest.mark.parametrize(("size", "n"), [(32, 40), (64, 6)])
def test_label_is_whether_the_markers_are_joined(size: int, n: int) -> None:
    # paddle_margin 0 draws each contour as one connected stroke, and distinct contours
    # never touch, so a flood fill from one marker finds the other exactly for label 1.
    config = config_for(size, "hard", paddle_margin=0.0)
    images = generate_images(config, n, seed=11)
    labels = []
    for image in images:
        (y0, x0), (y1, x1) = image.markers
        joined = reaches(image.pixels, (round(y0), round(x0)), (round(y1), round(x1)))
        assert joined == bool(image.label)
        labels.append(image.label)
    assert 0 < sum(labels) < len(labels)


def test_lra_settings_draw_dashed_contours_and_two_markers() -> None:
    image = generate_images(config_for(32, "hard"), 1, seed=0)[0]
    assert image.pixels.shape == (32, 32) and image.pixels.dtype == np.uint8
    lit = image.pixels > 0
    assert 60 < lit.sum() < 700  # contours, distractors and markers, not a full canvas
    for y, x in image.markers:
        assert image.pixels[round(y), round(x)] == 255


def test_make_pathfinder_shapes_and_determinism() -> None:
    first = make_pathfinder(12, 4, seed=7)
    again = make_pathfinder(12, 4, seed=7)
    other = make_pathfinder(12, 4, seed=8)
    spec = first.spec
    assert (spec.kind, spec.n_classes, spec.seq_len) == ("classify", 2, 32 * 32)
    assert spec.pad_id == 256 and spec.vocab_size == 257
    tokens, label = first.train[0]
    assert tokens.shape == (1024,) and tokens.dtype == torch.long and 0 <= int(tokens.max()) <= 255
    for i in range(12):
        assert torch.equal(first.train[i][0], again.train[i][0])
    assert any(not torch.equal(first.train[i][0], other.train[i][0]) for i in range(12))
    # train, val and test come from different streams of the same seed
    assert len(first.val) == len(first.test) == 4
    assert not torch.equal(first.train[0][0], first.test[0][0])
    assert not torch.equal(first.val[0][0], first.test[0][0])
    assert not torch.equal(first.val[0][0], first.train[0][0])


def test_generator_options_apply() -> None:
    data = make_pathfinder(2, 1, image_size=48, seed=1, contour_length=6, num_distractors=0)
    assert data.spec.seq_len == 48 * 48
    with pytest.raises(TypeError):
        make_pathfinder(1, 1, seed=1, no_such_option=3)


def test_cli_files_round_trip_and_are_deterministic(tmp_path: Path) -> None:
    args = ["generate", "pathfinder", "--n", "20", "--images-per-file", "8"]
    for out in ("a", "b"):
        assert main([*args, "--out", str(tmp_path / out), "--seed", "4"]) == 0
    base = Path("pathfinder32/curv_contour_length_14")
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.*"))
    assert len(files) == 20 + 3  # 20 images and 3 metadata files
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    first_line = (tmp_path / "a" / base / "metadata/0.npy").read_text().splitlines()[0]
    assert first_line.split()[:3] == ["imgs/0", "sample_0.png", "0"]

    data = load_task("pathfinder", tmp_path / "a")
    assert (len(data.train), len(data.val), len(data.test)) == (16, 2, 2)
    expected = generate_images(config_for(32, "hard"), 20, seed=4)
    loaded = [data.train[i] for i in range(16)] + [data.val[i] for i in range(2)]
    loaded += [data.test[i] for i in range(2)]
    for (tokens, label), image in zip(loaded, expected, strict=True):
        assert torch.equal(tokens, torch.from_numpy(image.pixels.reshape(-1).astype(np.int64)))
        assert int(label) == image.label


def test_pathx_reads_pathfinder128(tmp_path: Path) -> None:
    assert main(["generate", "pathx", "--out", str(tmp_path), "--n", "3"]) == 0
    data = load_task("pathx", tmp_path)
    assert data.spec.name == "pathx" and data.spec.seq_len == 128 * 128
    tokens, _ = data.test[0]
    assert tokens.shape == (16384,)


def _write_release(tmp_path: Path, lines: list[str]) -> Path:
    base = tmp_path / "pathfinder32/curv_contour_length_14"
    (base / "metadata").mkdir(parents=True)
    (base / "imgs/0").mkdir(parents=True)
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(base / "imgs/0/sample_0.png")
    (base / "metadata/0.npy").write_text("".join(line + "\n" for line in lines))
    return base


@pytest.mark.parametrize(
    ("second_line", "words"),
    [
        ("imgs/0 sample_0.png 1", "fields"),
        ("imgs/0 sample_0.png 1 2 1.0", "0 or 1"),
        ("imgs/0 sample_9.png 1 1 1.0", "does not exist"),
    ],
)
def test_malformed_metadata_names_file_and_line(
    tmp_path: Path, second_line: str, words: str
) -> None:
    _write_release(tmp_path, ["imgs/0 sample_0.png 0 1 1.0", second_line])
    with pytest.raises(MalformedData) as error:
        load_task("pathfinder", tmp_path)
    assert "metadata/0.npy:2:" in str(error.value) and words in str(error.value)


def test_empty_images_are_dropped_and_bad_sizes_named(tmp_path: Path) -> None:
    base = _write_release(tmp_path, [f"imgs/0 sample_{i}.png {i} {i % 2} 1.0" for i in range(12)])
    for i in range(1, 12):
        Image.fromarray(np.full((32, 32), i, np.uint8)).save(base / f"imgs/0/sample_{i}.png")
    (base / "imgs/0/sample_3.png").write_bytes(b"")  # LRA filters out empty images
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(base / "imgs/0/sample_5.png")
    data = load_task("pathfinder", tmp_path)
    assert len(data.train) + len(data.val) + len(data.test) == 11
    assert int(data.train[1][0][0]) == 1 and int(data.train[3][0][0]) == 4
    with pytest.raises(MalformedData, match="sample_5.png.*expected 32x32"):
        data.train[4]


def test_missing_data_says_which_file_goes_where(tmp_path: Path) -> None:
    with pytest.raises(DataMissing) as error:
        load_task("pathfinder", tmp_path, difficulty="easy")
    assert str(tmp_path / "pathfinder32/curv_baseline/metadata") in str(error.value)
    with pytest.raises(DataMissing, match="pathfinder128/curv_contour_length_14"):
        load_task("pathx", tmp_path)


@pytest.mark.parametrize(
    "layout", ["lra_release/lra_release", "lra_release", "pathfinder", "lra_release/pathfinder"]
)
def test_folder_names_users_have(tmp_path: Path, layout: str) -> None:
    assert main(["generate", "pathfinder", "--out", str(tmp_path / "gen"), "--n", "10"]) == 0
    (tmp_path / layout).mkdir(parents=True, exist_ok=True)
    (tmp_path / "gen/pathfinder32").rename(tmp_path / layout / "pathfinder32")
    data = load_task("pathfinder", tmp_path)
    assert (len(data.train), len(data.val), len(data.test)) == (8, 1, 1)


def test_missing_difficulty_names_the_ones_on_disk(tmp_path: Path) -> None:
    assert main(["generate", "pathfinder", "--out", str(tmp_path), "--n", "3"]) == 0
    with pytest.raises(DataMissing) as error:
        load_task("pathfinder", tmp_path, difficulty="easy")
    message = str(error.value)
    assert "curv_baseline" in message and "difficulty='hard'" in message
    assert "pass that difficulty" in message


def test_empty_images_are_counted(tmp_path: Path) -> None:
    base = _write_release(tmp_path, [f"imgs/0 sample_{i}.png {i} {i % 2} 1.0" for i in range(5)])
    for i in range(1, 5):
        Image.fromarray(np.full((32, 32), i, np.uint8)).save(base / f"imgs/0/sample_{i}.png")
    (base / "imgs/0/sample_2.png").write_bytes(b"")
    data = load_task("pathfinder", tmp_path)
    assert data.skipped == {"empty images": 1}
    assert (len(data.train), len(data.val), len(data.test)) == (2, 1, 1)
    for png in base.rglob("*.png"):
        png.write_bytes(b"")
    with pytest.raises(MalformedData, match="0 usable images"):
        load_task("pathfinder", tmp_path)
