"""python -m tasks: generate LRA data that needs no download, check what is on disk,
and train one model.

    python -m tasks generate listops --out DIR [--n 1000] [--min-length 32 --max-length 128]
    python -m tasks generate pathfinder --out DIR [--n 1000] [--difficulty hard]
    python -m tasks generate pathx --out DIR [--n 200]
    python -m tasks check [--data-dir DIR] [--max-images N]
    python -m tasks train --task T --mixer M --profile P [--seed S] [--lr X] [--weight-decay W]
        [--out FILE.json [--overwrite]] [--mixer-option PATTERN:knob=value ...]
        [--checkpoint FILE [--resume]]
    torchrun --nproc_per_node N -m tasks train ...

``generate`` writes the LRA release's layout under DIR, so pointing --data-dir or
MIXBENCH_DATA at DIR lets the loaders read it exactly as they read the real release.
It refuses to write over a dataset already there unless given --overwrite (which
replaces it); the files appear whole or not at all.

``train`` is one of the suite's accuracy runs (tasks.accuracy.run_accuracy: the
profile's budget, the model matched to attention's parameters) outside pytest; it
prints the result and --out saves it as the suite's accuracy fields (schema.py,
through tasks.record, as the suite does), refusing to replace a file unless given
--overwrite. --mixer-option sets the mixer's own knobs
(``python -m models list`` shows them). --checkpoint FILE saves the run every
--checkpoint-every steps; after an interruption the same command with --resume
carries on from it to the result an uninterrupted run gives (a checkpoint of
another mixer, task or setting is refused).
Under torchrun it trains data-parallel (DDP; gloo on the CPU, nccl on CUDA) with
the profile's global batch split over the processes; rank 0 alone prints and writes.
A rank that loses another (killed, its machine gone) ends with one line saying so.

Bad arguments end with a one-line error and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from models.arguments import checked, non_negative_float, positive_float, positive_int
from tasks.download import add_download_parser, download_command
from tasks.lra import TASK_NAMES, DataMissing, MalformedData, data_dir_from_env, load_task
from tasks.lra.common import LazyImageDataset
from tasks.lra.listops import ListOpsConfig, count_expressions, generate_examples, split_path
from tasks.lra.listops import write_release as write_listops
from tasks.lra.pathfinder import DIFFICULTY_FOLDER, config_for, folder, generate_images
from tasks.lra.pathfinder import write_release as write_pathfinder

#: Generated ListOps is split like this (the release has 96000 / 2000 / 2000).
LISTOPS_SPLIT = (0.8, 0.1, 0.1)
SPLITS = ("train", "val", "test")


class UsageError(Exception):
    """A bad argument: main() reports it in argparse's style and exits with 2."""


class RunLost(Exception):
    """A rank of a torchrun run lost the others: main() says so in one line, exit 1."""


#: torch and numpy take seeds below 2**63
seed_int = checked(int, lambda v: 0 <= v < 2**63, "a whole number", "must be from 0 to 2**63 - 1")


def split_counts(n: int, fractions: tuple[float, float, float]) -> tuple[int, int, int]:
    n_val = max(1, round(n * fractions[1]))
    n_test = max(1, round(n * fractions[2]))
    if n - n_val - n_test < 1:
        raise UsageError(
            f"--n {n} is too small to split into train, val and test; use --n 3 or more"
        )
    return n - n_val - n_test, n_val, n_test


def writable_out(out: Path) -> Path:
    """``out``, created if need be; UsageError when it cannot be written to."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; give a folder to write the dataset into")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as error:
        raise UsageError(
            f"--out {out} cannot be written to ({error.strerror or error}); "
            "choose a folder you can write to"
        ) from None
    return out


def clear_old(paths: list[Path], out: Path, overwrite: bool) -> None:
    """Refuse to mix a new dataset with one already in ``out``, or remove the old one."""
    present = [p for p in paths if p.exists()]
    if not present:
        return
    if not overwrite:
        shown = ", ".join(str(p.relative_to(out)) for p in present)
        raise UsageError(
            f"--out {out} already holds a dataset ({shown}); pass --overwrite to replace "
            "it or choose another --out"
        )
    for path in present:
        shutil.rmtree(path) if path.is_dir() else path.unlink()


def generate_listops(args: argparse.Namespace) -> str:
    if args.min_length >= args.max_length - 1:
        raise UsageError(
            f"--min-length {args.min_length} must be at least 2 below --max-length "
            f"{args.max_length} (lengths lie strictly between them)"
        )
    try:
        config = ListOpsConfig(args.min_length, args.max_length, args.max_depth, args.max_args)
    except ValueError as error:
        raise UsageError(str(error)) from None
    counts = split_counts(args.n, LISTOPS_SPLIT)
    available = count_expressions(config, cap=args.n)
    if available < args.n:
        raise UsageError(
            f"only {available} distinct expressions have --min-length {args.min_length} < "
            f"length < --max-length {args.max_length} with --max-depth {args.max_depth} and "
            f"--max-args {args.max_args}; lower --n to {available} or less, or widen the "
            "lengths or raise --max-depth / --max-args"
        )
    out = writable_out(args.out)
    clear_old([split_path(out, s) for s in SPLITS], out, args.overwrite)
    examples = generate_examples(args.n, config, args.seed)
    splits, start = {}, 0
    for split, count in zip(SPLITS, counts, strict=True):
        splits[split] = examples[start : start + count]
        start += count
    paths = write_whole(out, splits)
    return f"{args.n} ListOps examples ({'/'.join(map(str, counts))}) in {paths[0].parent}"


def write_whole(out: Path, splits: dict[str, list[tuple[str, int]]]) -> list[Path]:
    """The ListOps TSVs whole or not at all: written in a staging folder inside
    ``out``, then moved into place; a full disk leaves no truncated split."""
    staging = Path(tempfile.mkdtemp(dir=out, prefix=".generating-"))
    try:
        written = write_listops(staging, splits)
        moved = [out / path.relative_to(staging) for path in written]
        for path, target in zip(written, moved, strict=True):
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
        return moved
    except OSError as error:
        raise OSError(error.errno, f"{error.strerror} while writing ListOps", str(out)) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


#: PathfinderConfig fields settable from the command line, with their types.
PATHFINDER_OPTIONS = {
    "contour_length": int,
    "distractor_length": int,
    "num_distractors": int,
    "paddle_length": float,
    "paddle_thickness": float,
    "paddle_margin": float,
    "marker_radius": float,
    "continuity": float,
    "seed_distance": float,
    "separation": int,
}


def generate_pathfinder(args: argparse.Namespace) -> str:
    overrides = {
        name: getattr(args, name) for name in PATHFINDER_OPTIONS if getattr(args, name) is not None
    }
    try:
        config = config_for(args.resolution, args.difficulty, **overrides)
    except ValueError as error:
        raise UsageError(f"{error} (from the generate {args.task} options)") from None
    out = writable_out(args.out)
    base = folder(out, config.image_size, args.difficulty)
    clear_old([base], out, args.overwrite)
    try:
        images = generate_images(config, args.n, args.seed, workers=args.workers)
    except RuntimeError as error:  # the contours do not fit the image
        raise UsageError(str(error).replace("image_size", "--resolution")) from None
    base = write_pathfinder(out, images, config, args.difficulty, args.images_per_file)
    return f"{args.n} images of {config.image_size}x{config.image_size} in {base}"


def check(args: argparse.Namespace) -> int:
    """Load each LRA task, open its images, and say whether it is ready; 0 when all are."""
    data_dir = args.data_dir or data_dir_from_env()
    if data_dir is not None and not Path(data_dir).is_dir():
        raise UsageError(f"--data-dir {data_dir} is not a folder; give the folder with the data")
    problems = 0
    for name in TASK_NAMES:
        try:
            data = load_task(name, data_dir)
        except DataMissing as error:
            problems += 1
            print(f"{name:<10} missing: {error}")
            continue
        except MalformedData as error:
            problems += 1
            print(f"{name:<10} malformed: {error}")
            continue
        sizes = {s: len(getattr(data, s)) for s in SPLITS}
        empty = [s for s, size in sizes.items() if size == 0]
        bad = image_problems(data, args.max_images)
        if empty:
            problems += 1
            print(f"{name:<10} empty: the {' and '.join(empty)} split has no examples")
        elif bad:
            problems += 1
            n_checked, found = bad
            shown = "; ".join(found[:3]) + ("; ..." if len(found) > 3 else "")
            print(f"{name:<10} bad images: {len(found)} of {n_checked} opened: {shown}")
        else:
            counts = "/".join(str(sizes[s]) for s in SPLITS)
            skipped = "".join(f", skipped {n} {what}" for what, n in data.skipped.items())
            print(f"{name:<10} ok: train/val/test {counts}{skipped}")
    return 1 if problems else 0


def image_problems(data, limit: int | None) -> tuple[int, list[str]] | None:
    """Open every image of the splits read from image files (at most ``limit`` per
    split): (how many were opened, what is wrong with the bad ones) or None."""
    opened, found = 0, []
    for split in SPLITS:
        dataset = getattr(data, split)
        if isinstance(dataset, LazyImageDataset):
            n, bad = dataset.problems(limit)
            opened, found = opened + n, found + bad
    return (opened, found) if found else None


# -- train ---------------------------------------------------------------------------------
def resolve_device(text: str) -> str:
    """``--device``: auto (cuda when torch sees a GPU), cpu, cuda or cuda:N."""
    import torch

    if text == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(text)
    except RuntimeError:
        raise UsageError(f"--device {text!r} is not a device; use auto, cpu or cuda") from None
    if device.type not in ("cpu", "cuda"):
        raise UsageError(f"--device {text}: training runs on cpu or cuda; use auto, cpu or cuda")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(f"--device {text} but torch sees no CUDA device; pass --device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise UsageError(
                f"--device {text}: torch sees {torch.cuda.device_count()} CUDA devices; "
                "pass --device cuda (under torchrun each rank takes its LOCAL_RANK's GPU)"
            )
    return text


def writable_file(out: Path, option: str = "--out", example: str = "result.json") -> Path:
    """``out`` as a file to write to (its folder created if need be); UsageError
    naming ``option`` when it cannot be written, found before any training."""
    if out.is_dir():
        raise UsageError(f"{option} {out} is a folder; give a file name, e.g. {out / example}")
    if out.exists() and not out.is_file():  # a device or a FIFO: the rename would replace it
        raise UsageError(f"{option} {out} is not a plain file; give a file name to write")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out.parent):
            pass
    except OSError as error:
        raise UsageError(
            f"{option} {out} cannot be written to ({error.strerror or error}); "
            "choose a file in a folder you can write to"
        ) from None
    return out


def check_train_args(args: argparse.Namespace) -> str:
    """Every argument checked before any data is made or model built; the device."""
    from models.registry import get_spec
    from tasks.catalog import PROFILES
    from tasks.sizing import matched_sizing
    from tasks.train import launched_world_size, world_size_problem

    if args.profile not in PROFILES:
        raise UsageError(f"unknown profile {args.profile!r}; choose one of {', '.join(PROFILES)}")
    known = PROFILES[args.profile].accepted_names()
    if args.task not in known:
        raise UsageError(
            f"unknown task {args.task!r} in profile {args.profile}; choose one of "
            f"{', '.join(known)}"
        )
    try:
        spec = get_spec(args.mixer)
    except ValueError as error:
        raise UsageError(f"--mixer: {error}") from None
    import torch

    device = resolve_device(args.device)
    # the weights stay float32 (autocast only lowers the products)
    unavailable = spec.unavailable_reason(torch.device(device), torch.float32)
    if unavailable is not None:
        raise UsageError(
            f"--mixer {args.mixer} cannot run here: {unavailable}; choose another "
            "(python -m models list shows which can)"
        )
    if args.data_dir is not None and not args.data_dir.is_dir():
        raise UsageError(
            f"--data-dir {args.data_dir} is not a folder; give the folder holding the LRA "
            "data (python -m tasks check --data-dir DIR shows what it holds)"
        )
    task = PROFILES[args.profile].task(args.task)
    problem = world_size_problem(task.budget.batch_size, launched_world_size())
    if problem is not None:
        raise UsageError(f"profile {args.profile}, task {args.task}: {problem}")
    args.options = mixer_options(args)
    try:
        matched_sizing(args.mixer, task.spec, task.budget, args.options)
    except ValueError as error:
        raise UsageError(str(error)) from None
    if args.out is not None and is_main_process():
        writable_file(args.out)
        if args.out.exists() and not args.overwrite:
            raise UsageError(
                f"--out {args.out} already exists; pass --overwrite to replace it or choose "
                "another --out"
            )
    check_checkpoint(args)  # every rank reads the checkpoint: every rank checks it
    return device


def mixer_options(args: argparse.Namespace) -> dict[str, str]:
    """The knobs --mixer-option sets for --mixer; UsageError for a malformed option, a
    pattern that does not match --mixer, or a knob the mixer does not have."""
    from models.registry import (
        mixer_config,
        mixer_options_for,
        parse_mixer_options,
        pattern_matches,
    )

    try:
        by_pattern = parse_mixer_options(args.mixer_option)
    except ValueError as error:
        raise UsageError(f"--mixer-option {error}") from None
    stray = [p for p in by_pattern if not pattern_matches(p, args.mixer)]
    if stray:
        raise UsageError(
            f"--mixer-option {stray[0]!r} does not match --mixer {args.mixer}; "
            f"name the mixer or its family, e.g. {args.mixer}:knob=value"
        )
    options = mixer_options_for(args.mixer, by_pattern)
    try:
        mixer_config(args.mixer, 1, {}, options)
    except ValueError as error:
        raise UsageError(f"--mixer-option: {error}") from None
    return options


def check_checkpoint(args: argparse.Namespace) -> None:
    """--resume needs --checkpoint and the file; without --resume a checkpoint
    already there is refused rather than silently continued or overwritten."""
    checkpoint = args.checkpoint
    if checkpoint is None:
        if args.resume:
            raise UsageError("--resume needs --checkpoint FILE, the file the run saved to")
        return
    writable_file(checkpoint, "--checkpoint", "run.pt")
    if args.resume and not checkpoint.is_file():
        raise UsageError(
            f"--resume: no checkpoint at {checkpoint}; run without --resume to start one"
        )
    if not args.resume and checkpoint.exists():
        raise UsageError(
            f"--checkpoint {checkpoint} already exists; pass --resume to carry on from it, "
            "or delete it to start again"
        )


def is_main_process() -> bool:
    """Rank 0 of a torchrun launch, or a process on its own."""
    from tasks.train import launched_rank

    return launched_rank() == 0


def train_command(args: argparse.Namespace) -> int:
    """Train one accuracy run (data-parallel under torchrun), print it, save --out."""
    import torch.distributed

    from tasks.train import distributed, launched_rank

    device = check_train_args(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        with distributed(device) as ddp:
            run, world_size = train_here(args, device, ddp)
    except torch.distributed.DistError as error:  # a rank killed, its machine gone
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise RunLost(
            f"rank {launched_rank()} lost the other processes of the run ({first}); nothing "
            "was saved: run again (--checkpoint FILE with --resume carries on from the last "
            "checkpoint)"
        ) from None
    if not is_main_process():
        return 0
    info = result_info(run, args, device)
    print(result_lines(run, info, world_size))
    if args.out is not None:
        write_json(args.out, info)
        print(f"wrote {args.out}")
    return 0


def train_here(args: argparse.Namespace, device: str, ddp) -> tuple[Any, int]:
    """The run in this process (one rank of it under torchrun), and the world size."""
    from models.registry import MixerUnavailable
    from tasks.accuracy import run_accuracy
    from tasks.train import CheckpointError

    try:
        run = run_accuracy(
            args.mixer,
            args.task,
            args.profile,
            device=ddp.device if ddp is not None else device,
            data_dir=args.data_dir,
            seed=args.seed,
            lr=args.lr,
            weight_decay=args.weight_decay,
            autocast=args.autocast,
            progress=args.progress,
            options=args.options,
            checkpoint=args.checkpoint,
            checkpoint_every=args.checkpoint_every,
        )
    except CheckpointError as error:
        raise UsageError(f"--resume: {error}") from None
    except (DataMissing, MalformedData) as error:
        raise UsageError(f"{args.task}: {error}") from None
    except MixerUnavailable as error:
        raise UsageError(f"--mixer {args.mixer} cannot run here: {error}") from None
    return run, 1 if ddp is None else ddp.world_size


def result_info(run, args: argparse.Namespace, device: str) -> dict[str, Any]:
    """The run as the suite's accuracy point records it (tasks.record): one seed,
    one learning rate."""
    import torch

    from tasks.record import RunKey, point_extra_info, record_run

    record = record_run(RunKey(run.task, run.mixer, args.seed, run.lr, run.weight_decay), run)
    bf16 = args.autocast == "bf16" or (args.autocast == "auto" and device.startswith("cuda"))
    return point_extra_info(
        run.mixer,
        run.task,
        [record],
        [record],
        device=torch.device(device).type,
        dtype=str(torch.bfloat16 if bf16 else torch.float32).removeprefix("torch."),
    )


def result_lines(run, info: dict[str, Any], world_size: int) -> str:
    def fraction(value: float | None) -> str:
        return "-" if value is None else f"{value:.4f}"

    processes = f", {world_size} processes (DDP)" if world_size > 1 else ""
    rows = [
        ("status", info["status"] + (f" ({info['reason']})" if info["reason"] else "")),
        ("accuracy", f"{fraction(info['accuracy'])} (test)"),
        ("val accuracy", fraction(info["val_accuracy"])),
        ("chance", f"{fraction(info['chance_accuracy'])} (majority class on test)"),
        ("params", f"{info['params']:,} (attention's model: {info['params_target']:,})"),
        ("steps", f"{run.result.steps} of batch {info['batch']} x {info['seq_len']} tokens"),
        ("tokens/s", "-" if info["tokens_per_s"] is None else f"{info['tokens_per_s']:,.0f}"),
        ("train time", f"{run.result.train_time_s:.1f} s"),
    ]
    head = (
        f"{info['mixer']} on {info['task']} (d_model {info['d_model']}, lr {info['lr']:g}, "
        f"weight decay {info['weight_decay']:g}, "
        f"seed {info['seed_accuracies'][0]['seed']}, {info['device']}{processes})"
    )
    return "\n".join([head, *(f"  {name:<13}{value}" for name, value in rows)])


def write_json(out: Path, info: dict[str, Any]) -> None:
    """Write ``info`` whole or not at all: a temporary file of a name of its own
    in ``out``'s folder (never a user's), renamed over ``out``; when writing
    fails it is removed and the error names ``out``."""
    with tempfile.NamedTemporaryFile(
        "w", dir=out.parent, prefix=f".{out.name}.", suffix=".partial", delete=False
    ) as partial:
        temporary = Path(partial.name)
    try:
        temporary.write_text(json.dumps(info, indent=2, allow_nan=True) + "\n")
        temporary.chmod(0o666 & ~current_umask())  # as a plain open would make it
        os.replace(temporary, out)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise OSError(
            error.errno, f"{error.strerror}; the result was not saved", str(out)
        ) from None


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def add_train_parser(subparsers: argparse._SubParsersAction) -> None:
    train = subparsers.add_parser(
        "train",
        help="train one model as the suite's accuracy runs do (data-parallel under torchrun)",
        description=(
            "Train one mixer on one task within the profile's budget, exactly as an accuracy "
            "point of the suite does (tasks.accuracy.run_accuracy), and print its accuracy. "
            "Under torchrun --nproc_per_node N it trains with DistributedDataParallel, the "
            "profile's global batch split over the N processes (N must divide it); rank 0 "
            "alone shows progress and writes --out."
        ),
    )
    train.add_argument("--task", required=True, help="a task of the profile, e.g. mqar")
    train.add_argument("--mixer", required=True, help="family/variant (python -m models list)")
    train.add_argument("--profile", required=True, help="smoke, default, paper or gpu-smoke")
    train.add_argument("--seed", type=seed_int, default=0)
    train.add_argument("--lr", type=positive_float, default=None, help="default: the budget's")
    train.add_argument(
        "--weight-decay", type=non_negative_float, default=None, help="default: the budget's"
    )
    train.add_argument("--data-dir", type=Path, default=None, help="LRA data (or MIXBENCH_DATA)")
    train.add_argument("--out", type=Path, default=None, help="write the result here as JSON")
    train.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    train.add_argument("--device", default="auto", help="auto (cuda if present), cpu, cuda")
    train.add_argument(
        "--autocast", choices=("auto", "bf16", "off"), default="auto", help="auto: bf16 on CUDA"
    )
    train.add_argument(
        "--mixer-option",
        action="append",
        default=[],
        metavar="PATTERN:KNOB=VALUE",
        help="a knob of the mixer, e.g. mamba:d_state=32 (python -m models list shows them)",
    )
    train.add_argument(
        "--checkpoint", type=Path, default=None, help="save the run here every few steps"
    )
    train.add_argument(
        "--checkpoint-every", type=positive_int, default=100, help="steps between checkpoints"
    )
    train.add_argument(
        "--resume",
        action="store_true",
        help="carry on from --checkpoint (refused when it holds another run)",
    )
    train.add_argument(
        "--threads", type=positive_int, default=None, help="torch threads (default: torch's)"
    )
    train.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="a progress bar (default: when stderr is a terminal)",
    )
    train.set_defaults(run=train_command)


def add_generate_parser(subparsers: argparse._SubParsersAction) -> None:
    generate = subparsers.add_parser("generate", help="write generated LRA data to --out")
    tasks = generate.add_subparsers(dest="task", required=True)

    listops = tasks.add_parser("listops", help="ListOps, lengths min < length < max")
    _add_common(listops, n=1000)
    listops.add_argument("--min-length", type=positive_int, default=500)
    listops.add_argument("--max-length", type=positive_int, default=2000)
    listops.add_argument("--max-depth", type=positive_int, default=10)
    listops.add_argument("--max-args", type=positive_int, default=10)
    listops.set_defaults(run=generate_listops)

    for name, resolution, n in (("pathfinder", 32, 1000), ("pathx", 128, 200)):
        parser = tasks.add_parser(name, help=f"Pathfinder images, {resolution}x{resolution}")
        _add_common(parser, n=n)
        parser.add_argument("--resolution", type=positive_int, default=resolution)
        parser.add_argument("--difficulty", choices=tuple(DIFFICULTY_FOLDER), default="hard")
        parser.add_argument("--images-per-file", type=positive_int, default=1000)
        parser.add_argument("--workers", type=positive_int, default=1, help="processes generating")
        for option, kind in PATHFINDER_OPTIONS.items():
            nargs = "+" if option == "paddle_margin" else None  # one is drawn per image
            flag = "--" + option.replace("_", "-")
            parser.add_argument(flag, type=kind, nargs=nargs, help="default: LRA's")
        parser.set_defaults(run=generate_pathfinder)


def _add_common(parser: argparse.ArgumentParser, n: int) -> None:
    parser.add_argument("--out", type=Path, required=True, help="the data directory")
    parser.add_argument("--seed", type=seed_int, default=0)
    parser.add_argument("--n", type=positive_int, default=n, help="number of examples in all")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace a dataset already in --out"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="python -m tasks", description=__doc__.split("\n")[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    add_generate_parser(subparsers)
    add_train_parser(subparsers)
    add_download_parser(subparsers)
    check_parser = subparsers.add_parser("check", help="which LRA tasks are on disk")
    check_parser.add_argument("--data-dir", type=Path, default=None)
    check_parser.add_argument(
        "--max-images",
        type=positive_int,
        default=None,
        help="open at most N images per split (default: every one)",
    )
    return parser


class Parser(argparse.ArgumentParser):
    """argparse's one-line errors with exit status 2; under torchrun rank 0 alone
    prints them (every rank exits 2), so that N processes do not say it N times."""

    def error(self, message: str):
        if not is_main_process():
            sys.exit(2)
        super().error(message)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            return check(args)
        if args.command == "train":
            return train_command(args)
        if args.command == "download":
            return download_command(args)
        start = time.perf_counter()
        summary = args.run(args)
    except UsageError as error:
        parser.error(str(error))  # exits with status 2
    except OSError as error:  # the disk filled up, a folder vanished while writing
        parser.error(f"{error}; free the space or fix the folder, then run again")
    except RunLost as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 1
    print(f"wrote {summary} ({time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
