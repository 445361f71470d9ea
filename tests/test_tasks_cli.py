"""python -m tasks and python -m models on bad input: a one-line error naming the
argument and the fix, exit status 2, never a traceback; check finds what would
break training (empty splits, bad images, undecodable files)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tasks.__main__ import main

ROOT = Path(__file__).resolve().parents[1]
LISTOPS_HEADER = "Source\tTarget\n"


def usage_error(capsys: pytest.CaptureFixture, argv: list[str]) -> str:
    """Run ``main(argv)``, expect argparse's exit 2, return the error line."""
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(lines) == 1, lines
    assert "Traceback" not in lines[0]
    return lines[0]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )


# -- generate listops ------------------------------------------------------------------
def test_asking_for_more_listops_trees_than_exist_fails_at_once(tmp_path):
    # a root operator over two digits: 4 * 10 * 10 = 400 distinct expressions of length 4
    args = ["generate", "listops", "--out", str(tmp_path), "--min-length", "3"]
    args += ["--max-length", "6", "--max-depth", "2", "--max-args", "2"]
    done = run_cli("tasks", *args, "--n", "401")  # looped forever before
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "only 400 distinct expressions" in done.stderr and "lower --n" in done.stderr
    assert main([*args, "--n", "400"]) == 0


def test_count_expressions_matches_an_enumeration():
    from itertools import product

    from tasks.lra.listops import OPERATORS, ListOpsConfig, count_expressions

    def trees(depth: int, config: ListOpsConfig) -> list[int]:
        """Token lengths of every distinct tree rooted at ``depth``."""
        lengths = [1] * 10
        if depth < config.max_depth:
            below = trees(depth + 1, config)
            for k in range(2, config.max_args + 1):
                for args in product(below, repeat=k):
                    lengths += [2 + sum(args)] * len(OPERATORS)
        return lengths

    for config in (ListOpsConfig(3, 6, 2, 2), ListOpsConfig(1, 8, 2, 3), ListOpsConfig(4, 9, 3, 2)):
        expected = sum(config.min_length < n < config.max_length for n in trees(1, config))
        assert count_expressions(config, cap=10**9) == expected
        assert count_expressions(config, cap=10) == min(10, expected)


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--min-length", "60", "--max-length", "20"], "--min-length 60 must be at least 2 below"),
        (["--n", "0"], "argument --n: must be a positive integer"),
        (["--n", "2"], "--n 2 is too small to split"),
        (["--max-depth", "1"], "max_depth must be at least 2"),
    ],
)
def test_bad_listops_arguments(tmp_path, capsys, extra, words):
    line = usage_error(capsys, ["generate", "listops", "--out", str(tmp_path), *extra])
    assert words in line


def test_listops_refuses_to_overwrite_unless_asked(tmp_path, capsys):
    args = ["generate", "listops", "--out", str(tmp_path), "--n", "20"]
    args += ["--min-length", "10", "--max-length", "40"]
    assert main(args) == 0
    first = (tmp_path / "listops-1000/basic_train.tsv").read_text()
    line = usage_error(capsys, [*args, "--seed", "1"])
    assert "already holds a dataset" in line and "--overwrite" in line
    assert main([*args, "--seed", "1", "--overwrite"]) == 0
    assert (tmp_path / "listops-1000/basic_train.tsv").read_text() != first


# -- generate pathfinder ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--n", "-3"], "argument --n: must be a positive integer, got -3"),
        (["--images-per-file", "0"], "argument --images-per-file: must be a positive integer"),
        (["--workers", "0"], "argument --workers: must be a positive integer"),
        (["--paddle-margin", "-1"], "paddle_margin must hold values >= 0"),
        (["--resolution", "8"], "enlarge --resolution"),
    ],
)
def test_bad_pathfinder_arguments(tmp_path, capsys, extra, words):
    line = usage_error(capsys, ["generate", "pathfinder", "--out", str(tmp_path / "d"), *extra])
    assert words in line
    assert not (tmp_path / "d" / "pathfinder32").exists()


def test_pathfinder_refuses_to_mix_datasets_and_overwrite_replaces(tmp_path, capsys):
    base = tmp_path / "pathfinder32/curv_contour_length_14"
    args = ["generate", "pathfinder", "--out", str(tmp_path)]
    assert main([*args, "--n", "12", "--images-per-file", "5"]) == 0
    assert len(list((base / "metadata").glob("*.npy"))) == 3
    line = usage_error(capsys, [*args, "--n", "4"])
    assert "already holds a dataset (pathfinder32/curv_contour_length_14)" in line
    assert main([*args, "--n", "4", "--overwrite"]) == 0
    # the old batches are gone, not mixed in
    assert sorted(p.name for p in (base / "metadata").iterdir()) == ["0.npy"]
    assert len(list(base.rglob("*.png"))) == 4


def test_out_that_cannot_be_written(tmp_path, capsys, monkeypatch):
    afile = tmp_path / "afile"
    afile.write_text("")
    line = usage_error(capsys, ["generate", "pathfinder", "--out", str(afile), "--n", "3"])
    assert f"--out {afile} is a file" in line
    line = usage_error(capsys, ["generate", "pathfinder", "--out", str(afile / "sub"), "--n", "3"])
    assert "cannot be written to" in line and "choose a folder you can write to" in line

    # a read-only folder (simulated: the tests may run as root, who writes anywhere)
    import tempfile

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "TemporaryFile", refuse)
    line = usage_error(capsys, ["generate", "listops", "--out", str(tmp_path / "ro"), "--n", "9"])
    assert "cannot be written to (Permission denied)" in line


# -- check -------------------------------------------------------------------------------
def write_listops_files(root: Path, train: str) -> Path:
    folder = root / "listops-1000"
    folder.mkdir(parents=True)
    row = "( ( [SM 4 ) ] )\t4\n"
    for split, text in (
        ("train", train),
        ("val", LISTOPS_HEADER + row),
        ("test", LISTOPS_HEADER + row),
    ):
        (folder / f"basic_{split}.tsv").write_text(text)
    return folder / "basic_train.tsv"


def check_lines(capsys, data_dir: Path, *extra: str) -> tuple[int, dict[str, str]]:
    code = main(["check", "--data-dir", str(data_dir), *extra])
    out = capsys.readouterr().out
    return code, {line.split()[0]: line for line in out.splitlines()}


def test_check_reports_a_header_only_tsv_and_training_refuses_it(tmp_path, capsys):
    path = write_listops_files(tmp_path, LISTOPS_HEADER)
    code, lines = check_lines(capsys, tmp_path)
    assert code == 1
    assert "malformed" in lines["listops"] and f"{path}: holds no examples" in lines["listops"]

    from tasks.lra import MalformedData, load_task

    with pytest.raises(MalformedData, match="an empty split cannot be trained on"):
        load_task("listops", tmp_path)


def test_check_names_the_file_and_line_of_non_utf8_bytes(tmp_path, capsys):
    path = write_listops_files(tmp_path, LISTOPS_HEADER + "( ( [SM 4 ) ] )\t4\n")
    path.write_bytes(path.read_bytes() + b"( ( [MIN 1 \xff ) ] )\t1\n")
    code, lines = check_lines(capsys, tmp_path)
    assert code == 1 and f"{path}:3: not UTF-8 text (byte 0xff at column 12)" in lines["listops"]


def write_pathfinder_files(root: Path, n: int) -> Path:
    base = root / "pathfinder32/curv_contour_length_14"
    (base / "imgs/0").mkdir(parents=True)
    (base / "metadata").mkdir()
    lines = []
    for i in range(n):
        Image.fromarray(np.full((32, 32), i, np.uint8)).save(base / f"imgs/0/sample_{i}.png")
        lines.append(f"imgs/0 sample_{i}.png {i} {i % 2} 1.0\n")
    (base / "metadata/0.npy").write_text("".join(lines))
    return base


def test_check_reports_all_empty_pngs(tmp_path, capsys):
    base = write_pathfinder_files(tmp_path, 5)
    for png in base.rglob("*.png"):
        png.write_bytes(b"")
    code, lines = check_lines(capsys, tmp_path)
    assert code == 1 and "malformed" in lines["pathfinder"]
    assert "0 usable images (5 of 5 listed are empty files)" in lines["pathfinder"]


def test_check_opens_the_images(tmp_path, capsys):
    base = write_pathfinder_files(tmp_path, 12)
    code, lines = check_lines(capsys, tmp_path)
    assert "ok: train/val/test 9/1/2" in lines["pathfinder"]

    (base / "imgs/0/sample_4.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(base / "imgs/0/sample_6.png")
    Image.fromarray(np.zeros((32, 32), np.float32)).save(base / "imgs/0/sample_7.tiff", "TIFF")
    (base / "imgs/0/sample_7.png").write_bytes((base / "imgs/0/sample_7.tiff").read_bytes())
    (base / "imgs/0/sample_2.png").write_bytes(b"")  # empty: skipped, as LRA does
    code, lines = check_lines(capsys, tmp_path)
    line = lines["pathfinder"]
    assert code == 1 and "bad images: 3 of 11 opened" in line
    assert "sample_4.png: not a readable image" in line
    assert "sample_6.png: image is 16x16, expected 32x32" in line
    assert "sample_7.png: image mode is F" in line

    code, lines = check_lines(capsys, tmp_path, "--max-images", "1")
    assert "bad images" not in lines["pathfinder"]  # only the first image of each split


def test_check_counts_the_empty_pngs_it_skips(tmp_path, capsys):
    base = write_pathfinder_files(tmp_path, 13)
    (base / "imgs/0/sample_5.png").write_bytes(b"")
    code, lines = check_lines(capsys, tmp_path)
    assert "ok: train/val/test 9/1/2, skipped 1 empty images" in lines["pathfinder"]


# -- python -m models --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("width", "words"),
    [
        ("0", "argument --d-model: must be from 1 to 4096"),
        ("99999999999", "argument --d-model: must be from 1 to 4096"),
        ("30", "try --d-model 32"),
    ],
)
def test_models_list_rejects_a_bad_width_in_one_line(width, words):
    done = run_cli("models", "list", "--d-model", width)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and words in errors[0]


def test_models_list_is_a_pandas_table():
    from models.__main__ import list_command, list_table
    from models.registry import list_mixers

    table = list_table(64)
    columns = ["name", "family", "modes", "knobs", "available", "params@d64"]
    assert list(table.columns) == columns
    assert len(table) == len(list_mixers()) and table["params@d64"].dtype.kind == "i"
    lines = list_command(64).splitlines()
    assert lines[0].startswith("name") and len(lines) == len(table) + 1


# -- train -------------------------------------------------------------------------------
TRAIN = ["train", "--task", "mqar", "--mixer", "attention/math", "--profile", "smoke"]


@pytest.fixture
def no_training(monkeypatch):
    """Bad arguments must be refused before any data is made or model trained."""
    import tasks.accuracy

    def refuse(*args, **kwargs):
        raise AssertionError("trained despite a bad argument")

    monkeypatch.setattr(tasks.accuracy, "run_accuracy", refuse)


def test_train_prints_the_result_and_writes_the_suites_schema(tmp_path, capsys, monkeypatch):
    import json

    import tasks.accuracy
    from schema import EXTRA_INFO_KEYS, field_problems

    calls = []
    run_accuracy = tasks.accuracy.run_accuracy

    def recorded(*args, **kwargs):
        calls.append((args, kwargs))
        return run_accuracy(*args, **kwargs)

    monkeypatch.setattr(tasks.accuracy, "run_accuracy", recorded)
    out = tmp_path / "runs" / "mqar.json"
    argv = [*TRAIN, "--seed", "1", "--lr", "0.002", "--weight-decay", "0.05", "--out", str(out)]
    argv += ["--threads", "1"]
    assert main([*argv, "--no-progress", "--device", "cpu"]) == 0
    # the suite's accuracy run, not a copy of it
    ((args, kwargs),) = calls
    assert args == ("attention/math", "mqar", "smoke")
    assert kwargs["seed"] == 1 and kwargs["lr"] == 0.002 and kwargs["device"] == "cpu"
    assert kwargs["weight_decay"] == 0.05

    lines = capsys.readouterr().out.splitlines()
    head = "attention/math on mqar (d_model 32, lr 0.002, weight decay 0.05, seed 1, cpu)"
    assert lines[0] == head
    rows = {line.split()[0]: line for line in lines[1:-1]}
    assert set(rows) == {
        "status",
        "accuracy",
        "val",
        "chance",
        "params",
        "steps",
        "tokens/s",
        "train",
    }
    assert rows["status"].split() == ["status", "ok"]
    assert "steps        15 of batch 16 x 32 tokens" in rows["steps"]
    assert lines[-1] == f"wrote {out}"

    info = json.loads(out.read_text())
    assert tuple(info) == EXTRA_INFO_KEYS and field_problems(info) == []
    assert info["workload"] == "accuracy" and info["task"] == "mqar" and info["status"] == "ok"
    assert info["lr"] == 0.002 and info["seed_accuracies"][0]["seed"] == 1
    assert info["weight_decay"] == 0.05 and info["lr_grid"][0]["weight_decay"] == 0.05
    assert info["params"] == info["params_target"] and info["tokens_seen"] == 15 * 16 * 32
    assert 0 <= info["accuracy"] <= 1 and 0 <= info["val_accuracy"] <= 1
    assert f"{info['accuracy']:.4f} (test)" in rows["accuracy"]
    assert f"{info['chance_accuracy']:.4f}" in rows["chance"]
    assert f"{info['params']:,}" in rows["params"]
    assert not list(out.parent.glob("*.partial"))


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--task", "nope"], "unknown task 'nope' in profile smoke; choose one of mqar, "),
        (["--mixer", "attention/fast"], "--mixer: unknown mixer 'attention/fast'; did you mean"),
        (["--mixer", "nope"], "unknown mixer 'nope'; known mixers: attention/"),
        (["--profile", "tiny"], "unknown profile 'tiny'; choose one of smoke, default, paper"),
        (["--seed", "-1"], "argument --seed: must be from 0 to 2**63 - 1, got -1"),
        (["--seed", "one"], "argument --seed: expected a whole number, got 'one'"),
        (["--seed", str(2**63)], f"argument --seed: must be from 0 to 2**63 - 1, got {2**63}"),
        (["--lr", "0"], "argument --lr: must be a positive number (e.g. 1e-3), got 0"),
        (["--lr", "-0.001"], "argument --lr: must be a positive number"),
        (["--lr", "nan"], "argument --lr: must be a positive number"),
        (["--weight-decay", "-0.1"], "argument --weight-decay: must be a finite number >= 0"),
        (["--weight-decay", "inf"], "argument --weight-decay: must be a finite number >= 0"),
        (["--threads", "0"], "argument --threads: must be a positive integer"),
        (["--device", "tpu"], "--device 'tpu' is not a device; use auto, cpu or cuda"),
        (["--autocast", "fp16"], "argument --autocast: invalid choice: 'fp16'"),
    ],
)
def test_bad_train_arguments(capsys, no_training, extra, words):
    argv = list(TRAIN)
    for i in range(0, len(extra), 2):
        argv = with_option(argv, extra[i], extra[i + 1])
    assert words in usage_error(capsys, argv)


def with_option(argv: list[str], option: str, value: str) -> list[str]:
    """``argv`` with ``option`` set to ``value`` (replaced where argv has it)."""
    if option not in argv:
        return [*argv, option, value]
    at = argv.index(option) + 1
    return [*argv[:at], value, *argv[at + 1 :]]


def test_train_refuses_a_mixer_that_cannot_run_here(capsys, no_training, monkeypatch):
    from models.registry import get_spec

    cls = get_spec("attention/math").cls
    monkeypatch.setattr(cls, "unavailable_reason", classmethod(lambda cls: "needs CUDA"))
    line = usage_error(capsys, TRAIN)
    assert "--mixer attention/math cannot run here: needs CUDA; choose another" in line


def test_train_without_a_gpu_refuses_cuda(capsys, no_training, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    line = usage_error(capsys, [*TRAIN, "--device", "cuda"])
    assert "--device cuda but torch sees no CUDA device; pass --device cpu" in line


def test_train_refuses_an_out_it_cannot_write(tmp_path, capsys, no_training, monkeypatch):
    line = usage_error(capsys, [*TRAIN, "--out", str(tmp_path)])
    example = tmp_path / "result.json"
    assert f"--out {tmp_path} is a folder; give a file name, e.g. {example}" in line
    afile = tmp_path / "afile"
    afile.write_text("")
    line = usage_error(capsys, [*TRAIN, "--out", str(afile / "r.json")])
    assert f"--out {afile / 'r.json'} cannot be written to" in line and "choose a file" in line

    import tempfile

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "TemporaryFile", refuse)
    line = usage_error(capsys, [*TRAIN, "--out", str(tmp_path / "ro" / "r.json")])
    assert "cannot be written to (Permission denied)" in line


def test_train_refuses_a_missing_data_dir(tmp_path, capsys, no_training):
    line = usage_error(capsys, [*TRAIN, "--data-dir", str(tmp_path / "absent")])
    assert f"--data-dir {tmp_path / 'absent'} is not a folder" in line


def test_train_on_lra_without_its_files_says_where_to_put_them(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MIXBENCH_DATA", raising=False)
    argv = ["train", "--task", "lra-listops", "--mixer", "attention/math", "--profile", "smoke"]
    line = usage_error(capsys, argv)
    assert "lra-listops: LRA task 'listops' needs" in line and "--data-dir" in line
    line = usage_error(capsys, [*argv, "--data-dir", str(tmp_path)])
    assert "which does not exist" in line


def test_train_refuses_a_world_size_that_does_not_divide_the_batch(
    capsys, no_training, monkeypatch
):
    monkeypatch.setenv("WORLD_SIZE", "3")  # as torchrun --nproc_per_node 3 sets it
    monkeypatch.setenv("RANK", "0")
    line = usage_error(capsys, TRAIN)
    assert "profile smoke, task mqar: the global batch of 16 cannot be split evenly over 3" in line
    assert "torchrun --nproc_per_node 1 or 2 or 4 or 8 or 16" in line

    monkeypatch.setenv("RANK", "1")  # the other ranks exit 2 without saying it again
    with pytest.raises(SystemExit) as exited:
        main(TRAIN)
    assert exited.value.code == 2 and capsys.readouterr().err == ""


def test_train_errors_never_show_a_traceback(tmp_path):
    done = run_cli("tasks", *TRAIN, "--lr", "-1")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "--lr" in errors[0]


# -- train: the mixer's knobs ------------------------------------------------------------
@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["attention:d_stat=3"], "--mixer-option: attention/math has no knob 'd_stat'"),
        (["attention/math=3"], "--mixer-option 'attention/math=3' is not PATTERN:knob=value"),
        (["mamba:d_state=32"], "--mixer-option 'mamba' does not match --mixer attention/math"),
    ],
)
def test_train_refuses_a_bad_mixer_option(capsys, no_training, extra, words):
    argv = [*TRAIN, *(arg for option in extra for arg in ("--mixer-option", option))]
    assert words in usage_error(capsys, argv)


def test_train_sets_the_mixers_knobs_and_sizes_the_model_with_them(tmp_path, capsys):
    import json

    out = tmp_path / "run.json"
    argv = ["train", "--task", "mqar", "--mixer", "mamba/scan", "--profile", "smoke"]
    argv += ["--mixer-option", "mamba:d_state=4", "--out", str(out), "--no-progress"]
    assert main([*argv, "--device", "cpu", "--threads", "1"]) == 0
    info = json.loads(out.read_text())
    assert info["mixer_config"]["d_state"] == 4 and info["fixed_state"] is True
    assert abs(info["params"] / info["params_target"] - 1) <= 0.05


# -- train: checkpoints and --resume -----------------------------------------------------
def test_resume_needs_a_checkpoint_and_a_checkpoint_needs_resume(tmp_path, capsys, no_training):
    assert "--resume needs --checkpoint FILE" in usage_error(capsys, [*TRAIN, "--resume"])
    checkpoint = tmp_path / "run.pt"
    line = usage_error(capsys, [*TRAIN, "--checkpoint", str(checkpoint), "--resume"])
    assert f"--resume: no checkpoint at {checkpoint}; run without --resume" in line
    checkpoint.write_bytes(b"")
    line = usage_error(capsys, [*TRAIN, "--checkpoint", str(checkpoint)])
    assert f"--checkpoint {checkpoint} already exists; pass --resume" in line
    line = usage_error(capsys, [*TRAIN, "--checkpoint", str(tmp_path)])
    assert f"--checkpoint {tmp_path} is a folder; give a file name, e.g. " in line


def interrupted_after_first_checkpoint(monkeypatch) -> None:
    """The next run dies right after it saves its first checkpoint (as a killed job)."""
    import tasks.train

    save = tasks.train.save_checkpoint

    def save_then_die(run, cfg):
        save(run, cfg)
        monkeypatch.setattr(tasks.train, "save_checkpoint", save)
        raise KeyboardInterrupt

    monkeypatch.setattr(tasks.train, "save_checkpoint", save_then_die)


def test_an_interrupted_run_resumes_to_the_uninterrupted_result(tmp_path, capsys, monkeypatch):
    """On the CPU a resumed run is the same run: the checkpoint carries the model, the
    optimizer, the schedule and the RNG, and the batches follow from the step, so the
    weights and accuracies match exactly."""
    import json

    import torch

    import tasks.train

    load = tasks.train.load_checkpoint
    argv = [*TRAIN, "--no-progress", "--device", "cpu", "--threads", "1"]
    argv += ["--checkpoint-every", "5"]
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    assert main([*argv, "--checkpoint", f"{whole}.pt", "--out", f"{whole}.json"]) == 0

    interrupted_after_first_checkpoint(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        main([*argv, "--checkpoint", f"{resumed}.pt", "--out", f"{resumed}.json"])
    assert torch.load(f"{resumed}.pt", weights_only=True)["progress"]["step"] == 5
    assert not Path(f"{resumed}.json").exists()
    resume = [*argv, "--checkpoint", f"{resumed}.pt", "--out", f"{resumed}.json", "--resume"]
    loads = []
    monkeypatch.setattr(tasks.train, "load_checkpoint", lambda *a: loads.append(load(*a)))
    assert main(resume) == 0
    assert len(loads) == 1, "the run carried on from its checkpoint"

    first, second = (json.loads(Path(f"{p}.json").read_text()) for p in (whole, resumed))
    for key in ("accuracy", "val_accuracy", "params", "tokens_seen", "status", "mixer_config"):
        assert first[key] == second[key], key
    a, b = (torch.load(f"{p}.pt", weights_only=True) for p in (whole, resumed))
    assert a["progress"]["losses"] == b["progress"]["losses"]
    assert a["model"].keys() == b["model"].keys()
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    capsys.readouterr()


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (["--mixer", "attention/sdpa"], "model.mixer: checkpoint 'attention/math' vs now"),
        (["--lr", "0.001"], "lr: checkpoint 0.003 vs now 0.001"),
        (["--task", "selective_copy"], "task.name: checkpoint"),
    ],
)
def test_resume_refuses_another_runs_checkpoint_in_one_line(tmp_path, capsys, change, named):
    checkpoint = tmp_path / "run.pt"
    argv = [*TRAIN, "--no-progress", "--device", "cpu", "--threads", "1"]
    assert main([*argv, "--checkpoint", str(checkpoint)]) == 0
    capsys.readouterr()
    other = with_option(argv, *change)
    line = usage_error(capsys, [*other, "--checkpoint", str(checkpoint), "--resume"])
    assert f"--resume: checkpoint {checkpoint} belongs to a different run" in line
    assert named in line
