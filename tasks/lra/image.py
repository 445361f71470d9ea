"""Image: CIFAR-10 in grayscale as a sequence of 1024 pixel intensities.

Read from the standard ``cifar-10-batches-py`` folder (cifar-10-python.tar.gz): pickled
``data_batch_1..5`` and ``test_batch``, each a dict with ``data`` (N, 3072) uint8, the
red, green and blue planes of 32x32 images one after another, and ``labels``.

Grayscale is tf.image.rgb_to_grayscale on uint8, which LRA applies: scale to [0, 1]
in float32, weigh R, G, B by 0.2989, 0.5870, 0.1140, and convert back by multiplying
by 255.5 and truncating. LRA splits train[:90%] / train[90%:] / test; tfds orders
CIFAR's training set by a hash we cannot reproduce without tfds, so we take the first
45000 images of the batches in order for train and the last 5000 for val.
"""

from __future__ import annotations

import codecs
import pickle
from pathlib import Path

import numpy as np

from tasks.base import TaskData, TaskSpec
from tasks.lra.common import MalformedData, TokenArrayDataset, locate, require_examples, sibling
from tasks.lra.pathfinder import pixel_spec

CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
SIDE = 32
TRAIN_FRACTION = 0.9
GRAY_WEIGHTS = np.array([0.2989, 0.5870, 0.1140], dtype=np.float32)


def image_spec() -> TaskSpec:
    return pixel_spec("image", SIDE, 10)


def to_grayscale(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 -> (...) uint8, bit for bit as tf.image.rgb_to_grayscale."""
    scaled = rgb.astype(np.float32) * np.float32(1.0 / 255.0)
    gray = scaled @ GRAY_WEIGHTS
    return (gray * np.float32(255.5)).astype(np.uint8)


def _numpy_callables() -> dict[tuple[str, str], object]:
    """The callables a pickled numpy array names, under the module paths numpy 1 and
    numpy 2 write (the objects are taken from numpy's own reduce, not imported by name)."""
    sample = np.zeros(1, dtype=np.uint8)
    reconstruct = sample.__reduce__()[0]  # protocols 0-4
    frombuffer = sample.__reduce_ex__(5)[0]  # protocol 5
    allowed: dict[tuple[str, str], object] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): codecs.encode,  # bytes pickled by Python 3 at protocol 2
    }
    for core in ("numpy.core", "numpy._core"):
        allowed[(f"{core}.multiarray", "_reconstruct")] = reconstruct
        allowed[(f"{core}.numeric", "_frombuffer")] = frombuffer
    return allowed


class BatchUnpickler(pickle.Unpickler):
    """Admits only what a CIFAR-10 batch holds: dicts, lists, bytes, str, numbers and
    numpy arrays. Any other global (os.system, eval, ...) is refused, so a crafted batch
    cannot run code when a user checks a download they do not yet trust."""

    ALLOWED = _numpy_callables()

    def find_class(self, module: str, name: str) -> object:
        try:
            return self.ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refused to load {module}.{name}: a CIFAR-10 batch holds only dicts, lists, "
                "bytes and numpy arrays"
            ) from None


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(N, 1024) grayscale pixels, row by row, and (N,) labels of one pickled batch."""
    try:
        with path.open("rb") as f:
            batch = BatchUnpickler(f, encoding="bytes").load()
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
    except (
        pickle.UnpicklingError,
        EOFError,
        LookupError,
        TypeError,
        ValueError,
        AttributeError,
    ) as error:
        raise MalformedData(
            path, None, f"expected a CIFAR-10 python batch with b'data' and b'labels': {error!r}"
        ) from error
    if data.ndim != 2 or data.shape[1] != 3 * SIDE * SIDE or len(labels) != len(data):
        raise MalformedData(
            path, None, f"data is {data.shape} with {len(labels)} labels, expected (N, 3072)"
        )
    require_examples(path, len(labels), "images")
    if not (0 <= labels.min() and labels.max() < 10):
        raise MalformedData(path, None, "labels must lie in 0..9")
    rgb = data.reshape(-1, 3, SIDE * SIDE).transpose(0, 2, 1)  # planes -> pixels
    return to_grayscale(rgb), labels


def _read(paths: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    parts = [read_batch(p) for p in paths]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


#: other places the batches folder is found in (torchvision-style roots)
ALIASES = (f"cifar/{FOLDER}", f"cifar10/{FOLDER}")


def load_image(data_dir: str | Path | None) -> TaskData:
    """CIFAR-10 from ``cifar-10-batches-py/`` (or ``cifar/``, ``cifar10/`` above it)."""
    hint = f"Download {CIFAR_URL} and extract it there (it unpacks to {FOLDER}/)."
    first, *others = TRAIN_BATCHES
    aliases = [f"{a}/{first}" for a in ALIASES]
    first_path = locate(data_dir, f"{FOLDER}/{first}", "image", hint, aliases)
    train_paths = [first_path] + [sibling(first_path, b, "image") for b in others]
    test_path = sibling(first_path, TEST_BATCH, "image")
    pixels, labels = _read(train_paths)
    n_train = int(len(labels) * TRAIN_FRACTION)
    test_pixels, test_labels = _read([test_path])
    return TaskData(
        image_spec(),
        TokenArrayDataset(pixels[:n_train], labels[:n_train]),
        TokenArrayDataset(test_pixels, test_labels),
        val=TokenArrayDataset(pixels[n_train:], labels[n_train:]),
    )
