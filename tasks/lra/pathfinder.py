"""Pathfinder (32x32) and Path-X (128x128): are the two circles joined by a path?

Release layout (as in LRA's lra_release and drewlinsley/pathfinder)::

    pathfinder{32,64,128,256}/{curv_baseline,curv_contour_length_9,curv_contour_length_14}/
        metadata/{0,1,...}.npy    despite the name, text: one image per line,
                                  "imgs/<batch> sample_<i>.png <i> <label> ..."
        imgs/<batch>/sample_<i>.png

LRA (lra_benchmarks/data/pathfinder.py, image/input_pipeline.py) reads fields 0, 1
(image path) and 3 (label) of each line, drops empty image files, and splits one
difficulty folder 80% / 10% / 10% into train / val / test; the Pathfinder task is
pathfinder32 "hard" (curv_contour_length_14) and Path-X pathfinder128 "hard". tfds
orders examples by a hash we cannot reproduce without tfds, so we split in the order
of the metadata files (by number) and their lines; the images are i.i.d., so any
fixed order gives an equally fair split. Tokens are the pixel intensities 0..255,
row by row; pad id 256 never occurs (every image fills the sequence) but keeps
black pixels from being taken for padding.
"""

from __future__ import annotations

import dataclasses
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from tasks.base import TaskData, TaskSpec, split_sizes
from tasks.lra.common import (
    DataMissing,
    LazyImageDataset,
    MalformedData,
    TokenArrayDataset,
    candidate_roots,
    locate,
    release_hint,
)
from tasks.lra.contours import (
    LRA_SETTINGS,
    PathfinderConfig,
    PathfinderImage,
    generate_image,
)

DIFFICULTY_FOLDER = {
    "easy": "curv_baseline",
    "intermediate": "curv_contour_length_9",
    "hard": "curv_contour_length_14",
}
PIXEL_VOCAB_SIZE = 257  # intensities 0..255 and the pad id
PIXEL_PAD_ID = 256
SPLIT_FRACTIONS = (0.8, 0.1)  # train, val; the rest is test
#: the random streams of generated splits (each image is keyed by seed, stream, index)
TRAIN_STREAM, TEST_STREAM, VAL_STREAM = 0, 1, 2


def pixel_spec(name: str, image_size: int, n_classes: int) -> TaskSpec:
    return TaskSpec(
        name, "classify", PIXEL_VOCAB_SIZE, image_size * image_size, n_classes, PIXEL_PAD_ID
    )


def config_for(image_size: int, difficulty: str = "hard", **options) -> PathfinderConfig:
    """LRA's settings for that size (for other sizes those of the nearest smaller LRA
    size, or 32's), with ``options`` overriding single fields."""
    base_size = max([s for s in LRA_SETTINGS if s <= image_size], default=32)
    if "paddle_margin" in options and not isinstance(options["paddle_margin"], tuple):
        margin = options["paddle_margin"]
        options["paddle_margin"] = tuple(margin) if isinstance(margin, list) else (margin,)
    config = PathfinderConfig.lra(base_size, difficulty)
    return dataclasses.replace(config, image_size=image_size, **options)


def _generate_chunk(
    config: PathfinderConfig, seed: int, stream: int, indices: range
) -> list[PathfinderImage]:
    # Each image has its own generator, keyed by (seed, stream, index): any subset or
    # any number of workers yields the same images.
    return [generate_image(config, np.random.default_rng([seed, stream, i])) for i in indices]


def generate_images(
    config: PathfinderConfig, n: int, seed: int, stream: int = TRAIN_STREAM, workers: int = 1
) -> list[PathfinderImage]:
    if workers <= 1 or n < 64:
        return _generate_chunk(config, seed, stream, range(n))
    bounds = np.linspace(0, n, workers * 4 + 1).astype(int)
    chunks = [range(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    with ProcessPoolExecutor(workers) as pool:
        n_chunks = len(chunks)
        parts = pool.map(
            _generate_chunk, [config] * n_chunks, [seed] * n_chunks, [stream] * n_chunks, chunks
        )
        return [image for part in parts for image in part]


def to_dataset(images: list[PathfinderImage], image_size: int) -> TokenArrayDataset:
    pixels = np.zeros((len(images), image_size * image_size), dtype=np.uint8)
    for row, image in zip(pixels, images, strict=True):
        row[:] = image.pixels.reshape(-1)
    return TokenArrayDataset(pixels, np.array([im.label for im in images], dtype=np.int64))


def make_pathfinder(
    n_train: int,
    n_test: int,
    *,
    image_size: int = 32,
    seed: int,
    n_val: int | None = None,
    difficulty: str = "hard",
    workers: int = 1,
    **options,
) -> TaskData:
    """Generated Pathfinder images in memory: train, val (``n_val`` None: as many as
    ``n_test``) and test, each from its own random stream of one generator.
    ``options`` override PathfinderConfig fields (contour_length, num_distractors,
    paddle_length, paddle_margin, ...)."""
    n_val = split_sizes(n_train, n_test, n_val)["val"]
    config = config_for(image_size, difficulty, **options)
    splits = {
        name: to_dataset(generate_images(config, n, seed, stream, workers), image_size)
        for name, n, stream in (
            ("train", n_train, TRAIN_STREAM),
            ("val", n_val, VAL_STREAM),
            ("test", n_test, TEST_STREAM),
        )
    }
    spec = pixel_spec(f"pathfinder{image_size}-gen", image_size, 2)
    return TaskData(spec, splits["train"], splits["test"], val=splits["val"])


# -- the release's files --------------------------------------------------------------


def folder(root: Path, resolution: int, difficulty: str) -> Path:
    if difficulty not in DIFFICULTY_FOLDER:
        raise ValueError(f"difficulty must be one of {sorted(DIFFICULTY_FOLDER)}")
    return root / f"pathfinder{resolution}" / DIFFICULTY_FOLDER[difficulty]


def write_release(
    out_dir: str | Path,
    images: list[PathfinderImage],
    config: PathfinderConfig,
    difficulty: str,
    images_per_file: int = 1000,
) -> Path:
    """Write images and metadata as drewlinsley/pathfinder does: batch ``b`` holds
    images ``imgs/b/sample_<i>.png`` listed in ``metadata/b.npy``. Returns the folder."""
    base = folder(Path(out_dir), config.image_size, difficulty)
    (base / "metadata").mkdir(parents=True, exist_ok=True)
    for batch, first in enumerate(range(0, len(images), images_per_file)):
        subpath = f"imgs/{batch}"
        (base / subpath).mkdir(parents=True, exist_ok=True)
        lines = []
        for i, image in enumerate(images[first : first + images_per_file]):
            name = f"sample_{i}.png"
            Image.fromarray(image.pixels, mode="L").save(base / subpath / name)
            lines.append(_metadata_line(subpath, name, i, image.label, config))
        (base / "metadata" / f"{batch}.npy").write_text("".join(lines))
    return base


def _metadata_line(subpath: str, name: str, i: int, label: int, cfg: PathfinderConfig) -> str:
    # The original's fields: path, file, index, label, continuity, contour length,
    # distractor length, paddle length, paddle thickness, paddle margin, # contrasts.
    fields = [subpath, name, i, label, cfg.continuity, cfg.contour_length]
    fields += [cfg.distractor_length, cfg.paddle_length, cfg.paddle_thickness]
    fields += [cfg.paddle_margin[0], 1]
    return " ".join(str(f) for f in fields) + "\n"


def read_metadata(path: Path, base: Path) -> list[tuple[Path, int]]:
    """(image path, label) of each line; MalformedData names the file and line."""
    rows = []
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < 4:
            raise MalformedData(
                path,
                number,
                f"expected 'imgs/<batch> <file>.png <index> <label> ...', got {len(fields)} fields",
            )
        if fields[3] not in ("0", "1"):
            raise MalformedData(
                path, number, f"label (4th field) must be 0 or 1, got {fields[3]!r}"
            )
        image = base / fields[0] / fields[1]
        if not image.is_file():
            raise MalformedData(path, number, f"lists {image}, which does not exist")
        rows.append((image, int(fields[3])))
    return rows


def _metadata_order(path: Path) -> tuple[int, str]:
    return (int(path.stem), "") if path.stem.isdigit() else (1 << 62, path.name)


#: image modes read as grayscale (converted to L as LRA's decode_png(channels=1) would)
READABLE_MODES = ("L", "1", "P", "LA", "RGB", "RGBA")


@dataclasses.dataclass(frozen=True)
class PixelReader:
    """Reads one grayscale image of the expected size (a class, not a closure, so that
    DataLoader workers can pickle it); MalformedData names the image and what is wrong
    (not an image, cut off, another size, a mode that is not 8-bit grey or colour)."""

    resolution: int

    def __call__(self, path: Path) -> np.ndarray:
        try:
            with Image.open(path) as image:
                if image.mode not in READABLE_MODES:
                    raise MalformedData(
                        path,
                        None,
                        f"image mode is {image.mode}; expected 8-bit grayscale (L) or one of "
                        f"{', '.join(READABLE_MODES[1:])}",
                    )
                pixels = np.asarray(image if image.mode == "L" else image.convert("L"))
        except (OSError, SyntaxError, ValueError) as error:
            if isinstance(error, MalformedData):
                raise
            raise MalformedData(path, None, f"not a readable image: {error}") from error
        if pixels.shape != (self.resolution, self.resolution):
            size = f"{self.resolution}x{self.resolution}"
            got = "x".join(map(str, pixels.shape[::-1]))
            raise MalformedData(path, None, f"image is {got}, expected {size}")
        return pixels


#: other places pathfinder{32,64,128,256}/ is found in (S4 and its descendants
#: gather them in pathfinder/)
ALIASES = ("pathfinder",)


def split_sizes_of(n: int) -> tuple[int, int, int]:
    """LRA's 80/10/10 split of ``n`` images, with at least one image in val and test."""
    n_val = max(1, int(n * SPLIT_FRACTIONS[1]))
    n_train = min(int(n * SPLIT_FRACTIONS[0]), n - n_val - 1)
    return n_train, n_val, n - n_train - n_val


def load_pathfinder(
    data_dir: str | Path | None,
    resolution: int = 32,
    difficulty: str = "hard",
    name: str = "pathfinder",
) -> TaskData:
    """``pathfinder{resolution}/<difficulty folder>/`` (or under ``pathfinder/``), split
    80/10/10 in metadata order. Empty (0-byte) images, which the release holds, are
    skipped as LRA skips them; ``TaskData.skipped`` counts them."""
    relative = folder(Path(), resolution, difficulty) / "metadata"
    task = "pathx" if name == "pathx" else "pathfinder"
    hint = release_hint(task, generator=True)
    aliases = [f"{a}/{relative}" for a in ALIASES]
    try:
        metadata_dir = locate(data_dir, str(relative), name, hint, aliases)
    except DataMissing as missing:
        raise DataMissing(f"{missing}{_other_difficulties(data_dir, resolution)}") from None
    files = sorted(metadata_dir.glob("*.npy"), key=_metadata_order)
    if not files:
        raise MalformedData(metadata_dir, None, "holds no metadata *.npy files")
    listed = []
    for path in files:
        listed += read_metadata(path, metadata_dir.parent)
    rows = [(image, label) for image, label in listed if os.path.getsize(image) > 0]
    n_empty = len(listed) - len(rows)
    n_train, n_val, n_test = split_sizes_of(len(rows))
    if n_train < 1:
        raise MalformedData(
            metadata_dir.parent,
            None,
            f"has {len(rows)} usable images ({n_empty} of {len(listed)} listed are empty "
            "files): too few for train, val and test splits; regenerate or re-download it",
        )
    splits = rows[:n_train], rows[n_train : n_train + n_val], rows[n_train + n_val :]
    reader = PixelReader(resolution)
    train, val, test = (
        LazyImageDataset([p for p, _ in s], [label for _, label in s], reader) for s in splits
    )
    skipped = {"empty images": n_empty} if n_empty else {}
    return TaskData(pixel_spec(name, resolution, 2), train, test, val=val, skipped=skipped)


def _other_difficulties(data_dir: str | Path | None, resolution: int) -> str:
    """Which difficulty folders do exist, to say which ``difficulty`` would load."""
    if data_dir is None:
        return ""
    found = []
    for root in candidate_roots(data_dir):
        for base in (root, *(root / a for a in ALIASES)):
            for difficulty, name in DIFFICULTY_FOLDER.items():
                if (base / f"pathfinder{resolution}" / name / "metadata").is_dir():
                    found.append(
                        f"{base / f'pathfinder{resolution}' / name} (difficulty={difficulty!r})"
                    )
    if not found:
        return ""
    return f" Found instead: {'; '.join(found)}; pass that difficulty to load it."
