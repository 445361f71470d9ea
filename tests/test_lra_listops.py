"""ListOps: generated answers checked by an independent evaluator, files, errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tasks.lra import DataMissing, MalformedData, data_dir_from_env, load_task, make_listops
from tasks.lra.listops import VOCAB, ListOpsConfig, generate_examples, to_source

ROOT = Path(__file__).resolve().parents[1]


def evaluate_tokens(tokens: list[str]) -> int:
    """A stack evaluator written apart from the generator: operators open a frame,
    digits join the innermost frame, ']' closes it."""
    stack: list[tuple[str, list[int]]] = [("top", [])]
    for token in tokens:
        if token.startswith("["):
            stack.append((token, []))
        elif token == "]":
            op, args = stack.pop()
            if op == "[MIN":
                value = min(args)
            elif op == "[MAX":
                value = max(args)
            elif op == "[SM":
                value = sum(args) % 10
            elif op == "[MED":
                ordered = sorted(args)
                mid = len(ordered) // 2
                value = (
                    ordered[mid] if len(ordered) % 2 else int((ordered[mid - 1] + ordered[mid]) / 2)
                )
            else:
                raise AssertionError(f"unknown operator {op}")
            stack[-1][1].append(value)
        else:
            stack[-1][1].append(int(token))
    assert len(stack) == 1 and len(stack[0][1]) == 1
    return stack[0][1][0]


def test_generated_targets_match_an_independent_evaluator() -> None:
    data = make_listops(150, 50, min_len=32, max_len=128, seed=1)
    assert data.spec.kind == "classify" and data.spec.n_classes == 10
    assert data.spec.seq_len == 128 and data.spec.vocab_size == len(VOCAB)
    seen = set()
    assert (len(data.train), len(data.val), len(data.test)) == (150, 50, 50)
    for split in (data.train, data.val, data.test):
        for i in range(len(split)):
            tokens, target = split[i]
            ids = [int(t) for t in tokens if t != data.spec.pad_id]
            assert 32 < len(ids) < 128  # the official window is strict on both ends
            assert tokens.shape == (128,) and (tokens[len(ids) :] == data.spec.pad_id).all()
            assert evaluate_tokens([VOCAB[t] for t in ids]) == int(target)
            seen.add(tuple(ids))
    assert len(seen) == 250  # unique, so train, val and test do not overlap
    targets = {int(data.train[i][1]) for i in range(len(data.train))}
    assert len(targets) >= 8


def test_source_strings_have_the_official_form() -> None:
    examples = generate_examples(30, ListOpsConfig(20, 60), seed=2)
    for source, target in examples:
        words = source.split()
        assert words.count("(") == words.count(")")
        assert evaluate_tokens([w for w in words if w not in "()"]) == target
    # one pair of parentheses per argument plus one for the closing bracket
    assert to_source(("[MAX", [2, ("[SM", [3, 4])])) == "( ( ( [MAX 2 ) ( ( ( [SM 3 ) 4 ) ] ) ) ] )"


@pytest.mark.parametrize(
    ("source", "answer"),
    [
        ("( ( ( [MED 1 ) 2 ) ] )", 1),  # int(np.median([1, 2])) = 1
        ("( ( ( ( [SM 5 ) 7 ) 9 ) ] )", 1),
        ("( ( ( [MAX 2 ) ( ( ( [MIN 7 ) 4 ) ] ) ) ] )", 4),
    ],
)
def test_loader_reads_official_strings(tmp_path: Path, source: str, answer: int) -> None:
    folder = tmp_path / "listops-1000"
    folder.mkdir()
    for split in ("train", "val", "test"):
        (folder / f"basic_{split}.tsv").write_text(f"Source\tTarget\r\n{source}\t{answer}\r\n")
    data = load_task("listops", tmp_path, max_length=16)
    tokens, target = data.test[0]
    words = [VOCAB[t] for t in tokens if t != 0]
    assert words == [w for w in source.split() if w not in "()"]
    assert evaluate_tokens(words) == int(target) == answer
    assert data.val is not None and len(data.train) == 1


def test_same_seed_same_files(tmp_path: Path) -> None:
    from tasks.__main__ import main

    args = ["generate", "listops", "--n", "40", "--min-length", "20", "--max-length", "60"]
    for out, seed in (("a", "5"), ("b", "5"), ("c", "6")):
        assert main([*args, "--out", str(tmp_path / out), "--seed", seed]) == 0
    files = [f"listops-1000/basic_{s}.tsv" for s in ("train", "val", "test")]
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert any(
        (tmp_path / "a" / f).read_bytes() != (tmp_path / "c" / f).read_bytes() for f in files
    )


def test_cli_output_loads_as_the_release(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "tasks", "generate", "listops", "--out", str(tmp_path)]
    command += ["--n", "50", "--seed", "3", "--min-length", "16", "--max-length", "64"]
    subprocess.run(command, check=True, cwd=ROOT, capture_output=True)
    data = load_task("listops", tmp_path, max_length=64)
    expected = generate_examples(50, ListOpsConfig(16, 64), seed=3)
    loaded = [data.train[i] for i in range(len(data.train))]
    loaded += [data.val[i] for i in range(len(data.val))]
    loaded += [data.test[i] for i in range(len(data.test))]
    assert (len(data.train), len(data.val), len(data.test)) == (40, 5, 5)
    for (tokens, target), (source, answer) in zip(loaded, expected, strict=True):
        assert [VOCAB[t] for t in tokens if t != 0] == [w for w in source.split() if w not in "()"]
        assert int(target) == answer


@pytest.mark.parametrize(
    ("content", "line", "words"),
    [
        ("Src\tTarget\n( [MIN 1 ] )\t1\n", 1, "header"),
        ("Source\tTarget\n( ( [MIN 1 ) ] )\t1\n( ( [MAX 2 ) ] )\t12\n", 3, "digit"),
        ("Source\tTarget\n( ( [MIN 1 ) ] )\n", 2, "2 tab-separated"),
        ("Source\tTarget\n( ( [AVG 1 ) ] )\t1\n", 2, "[AVG"),
    ],
)
def test_malformed_file_names_file_and_line(
    tmp_path: Path, content: str, line: int, words: str
) -> None:
    folder = tmp_path / "listops-1000"
    folder.mkdir()
    (folder / "basic_train.tsv").write_text(content)
    with pytest.raises(MalformedData) as error:
        load_task("listops", tmp_path)
    assert f"basic_train.tsv:{line}:" in str(error.value) and words in str(error.value)


def test_missing_data_says_which_file_goes_where(tmp_path: Path) -> None:
    with pytest.raises(DataMissing) as error:
        load_task("listops", tmp_path)
    assert isinstance(error.value, FileNotFoundError)
    message = str(error.value)
    assert str(tmp_path / "listops-1000" / "basic_train.tsv") in message
    assert "MIXBENCH_DATA" in message and "--data-dir" in message
    with pytest.raises(DataMissing, match="MIXBENCH_DATA"):
        load_task("listops", None)


def test_release_subfolder_and_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "lra_release" / "listops-1000"
    folder.mkdir(parents=True)
    for split in ("train", "val", "test"):
        (folder / f"basic_{split}.tsv").write_text("Source\tTarget\n( ( [SM 4 ) ] )\t4\n")
    monkeypatch.setenv("MIXBENCH_DATA", str(tmp_path))
    assert data_dir_from_env() == tmp_path
    assert len(load_task("listops", data_dir_from_env()).train) == 1
    monkeypatch.setenv("MIXBENCH_DATA", "")
    assert data_dir_from_env() is None


def write_splits(folder: Path, source: str, answer: int) -> None:
    folder.mkdir(parents=True)
    for split in ("train", "val", "test"):
        (folder / f"basic_{split}.tsv").write_text(f"Source\tTarget\n{source}\t{answer}\n")


def test_brackets_option_gives_lras_released_tokens(tmp_path: Path) -> None:
    source = "( ( ( [MAX 2 ) ( ( ( [MIN 7 ) 4 ) ] ) ) ] )"
    write_splits(tmp_path / "listops-1000", source, 4)
    kept = load_task("listops", tmp_path, max_length=16)
    dropped = load_task("listops", tmp_path, max_length=16, brackets=False)
    words = [VOCAB[t] for t in kept.train[0][0] if t != 0]
    assert words == ["[MAX", "2", "[MIN", "7", "4", "]", "]"]
    assert [VOCAB[t] for t in dropped.train[0][0] if t != 0] == ["[MAX", "2", "[MIN", "7", "4"]
    assert kept.spec == dropped.spec  # one vocabulary either way


def test_sources_written_without_brackets_load(tmp_path: Path) -> None:
    write_splits(tmp_path / "listops-1000", "MAX 2 MIN 7 4", 7)
    data = load_task("listops", tmp_path, max_length=8)
    assert [VOCAB[t] for t in data.test[0][0] if t != 0] == ["[MAX", "2", "[MIN", "7", "4"]


@pytest.mark.parametrize(
    "layout", ["lra_release/lra_release/listops-1000", "listops", "lra_release/listops"]
)
def test_folder_names_users_have(tmp_path: Path, layout: str) -> None:
    write_splits(tmp_path / layout, "( ( [SM 4 ) ] )", 4)
    data = load_task("listops", tmp_path)
    assert (len(data.train), len(data.val), len(data.test)) == (1, 1, 1)


def test_splits_must_sit_beside_each_other(tmp_path: Path) -> None:
    write_splits(tmp_path / "listops-1000", "( ( [SM 4 ) ] )", 4)
    (tmp_path / "listops-1000/basic_val.tsv").unlink()
    with pytest.raises(DataMissing, match="basic_val.tsv, which belongs beside it"):
        load_task("listops", tmp_path)


def test_generated_val_is_disjoint_and_sized() -> None:
    data = make_listops(20, 5, n_val=7, min_len=8, max_len=40, seed=0)
    assert (len(data.train), len(data.val), len(data.test)) == (20, 7, 5)
