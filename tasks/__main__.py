"""python -m tasks: generate LRA data that needs no download, and check what is on disk.

    python -m tasks generate listops --out DIR [--n 1000] [--min-length 32 --max-length 128]
    python -m tasks generate pathfinder --out DIR [--n 1000] [--difficulty hard]
    python -m tasks generate pathx --out DIR [--n 200]
    python -m tasks check [--data-dir DIR] [--max-images N]

``generate`` writes the LRA release's layout under DIR, so pointing --data-dir or
MIXBENCH_DATA at DIR lets the loaders read it exactly as they read the real release.
It refuses to write over a dataset already there unless given --overwrite (which
replaces it). Bad arguments end with a one-line error and exit status 2.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

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


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


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
    paths = write_listops(out, splits)
    return f"{args.n} ListOps examples ({'/'.join(map(str, counts))}) in {paths[0].parent}"


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
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n", type=positive_int, default=n, help="number of examples in all")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace a dataset already in --out"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tasks", description=__doc__.split("\n")[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    add_generate_parser(subparsers)
    check_parser = subparsers.add_parser("check", help="which LRA tasks are on disk")
    check_parser.add_argument("--data-dir", type=Path, default=None)
    check_parser.add_argument(
        "--max-images",
        type=positive_int,
        default=None,
        help="open at most N images per split (default: every one)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            return check(args)
        start = time.perf_counter()
        summary = args.run(args)
    except UsageError as error:
        parser.error(str(error))  # exits with status 2
    except OSError as error:  # the disk filled up, a folder vanished while writing
        parser.error(f"{error}; free the space or fix the folder, then run again")
    print(f"wrote {summary} ({time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
