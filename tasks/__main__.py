"""python -m tasks: generate LRA data that needs no download, and check what is on disk.

    python -m tasks generate listops --out DIR [--n 1000] [--min-length 32 --max-length 128]
    python -m tasks generate pathfinder --out DIR [--n 1000] [--difficulty hard]
    python -m tasks generate pathx --out DIR [--n 200]
    python -m tasks check [--data-dir DIR]

``generate`` writes the LRA release's layout under DIR, so pointing --data-dir or
MIXBENCH_DATA at DIR lets the loaders read it exactly as they read the real release.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tasks.lra import TASK_NAMES, DataMissing, MalformedData, data_dir_from_env, load_task
from tasks.lra.listops import ListOpsConfig, generate_examples
from tasks.lra.listops import write_release as write_listops
from tasks.lra.pathfinder import config_for, generate_images
from tasks.lra.pathfinder import write_release as write_pathfinder

#: Generated ListOps is split like this (the release has 96000 / 2000 / 2000).
LISTOPS_SPLIT = (0.8, 0.1, 0.1)


def split_counts(n: int, fractions: tuple[float, float, float]) -> tuple[int, int, int]:
    n_val = max(1, round(n * fractions[1]))
    n_test = max(1, round(n * fractions[2]))
    if n - n_val - n_test < 1:
        raise SystemExit(f"--n {n} is too small to split into train, val and test")
    return n - n_val - n_test, n_val, n_test


def generate_listops(args: argparse.Namespace) -> str:
    config = ListOpsConfig(args.min_length, args.max_length, args.max_depth, args.max_args)
    counts = split_counts(args.n, LISTOPS_SPLIT)
    examples = generate_examples(args.n, config, args.seed)
    splits, start = {}, 0
    for split, count in zip(("train", "val", "test"), counts, strict=True):
        splits[split] = examples[start : start + count]
        start += count
    paths = write_listops(args.out, splits)
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
    config = config_for(args.resolution, args.difficulty, **overrides)
    images = generate_images(config, args.n, args.seed, workers=args.workers)
    base = write_pathfinder(args.out, images, config, args.difficulty, args.images_per_file)
    return f"{args.n} images of {config.image_size}x{config.image_size} in {base}"


def check(args: argparse.Namespace) -> int:
    """Load each LRA task and say whether it is ready; 0 when all are."""
    data_dir = args.data_dir or data_dir_from_env()
    missing = 0
    for name in TASK_NAMES:
        try:
            data = load_task(name, data_dir)
        except (DataMissing, MalformedData) as error:
            missing += 1
            print(f"{name:<10} missing: {error}")
            continue
        sizes = [len(data.train), len(data.val) if data.val is not None else 0, len(data.test)]
        print(f"{name:<10} ok: train/val/test {'/'.join(map(str, sizes))}")
    return 1 if missing else 0


def add_generate_parser(subparsers: argparse._SubParsersAction) -> None:
    generate = subparsers.add_parser("generate", help="write generated LRA data to --out")
    tasks = generate.add_subparsers(dest="task", required=True)

    listops = tasks.add_parser("listops", help="ListOps, lengths min < length < max")
    _add_common(listops, n=1000)
    listops.add_argument("--min-length", type=int, default=500)
    listops.add_argument("--max-length", type=int, default=2000)
    listops.add_argument("--max-depth", type=int, default=10)
    listops.add_argument("--max-args", type=int, default=10)
    listops.set_defaults(run=generate_listops)

    for name, resolution, n in (("pathfinder", 32, 1000), ("pathx", 128, 200)):
        parser = tasks.add_parser(name, help=f"Pathfinder images, {resolution}x{resolution}")
        _add_common(parser, n=n)
        parser.add_argument("--resolution", type=int, default=resolution)
        parser.add_argument(
            "--difficulty", choices=("easy", "intermediate", "hard"), default="hard"
        )
        parser.add_argument("--images-per-file", type=int, default=1000)
        parser.add_argument("--workers", type=int, default=1, help="processes generating")
        for option, kind in PATHFINDER_OPTIONS.items():
            nargs = "+" if option == "paddle_margin" else None  # one is drawn per image
            flag = "--" + option.replace("_", "-")
            parser.add_argument(flag, type=kind, nargs=nargs, help="default: LRA's")
        parser.set_defaults(run=generate_pathfinder)


def _add_common(parser: argparse.ArgumentParser, n: int) -> None:
    parser.add_argument("--out", type=Path, required=True, help="the data directory")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n", type=int, default=n, help="number of examples in all")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tasks", description=__doc__.split("\n")[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    add_generate_parser(subparsers)
    check_parser = subparsers.add_parser("check", help="which LRA tasks are on disk")
    check_parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.command == "check":
        return check(args)
    start = time.perf_counter()
    summary = args.run(args)
    print(f"wrote {summary} ({time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
