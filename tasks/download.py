"""python -m tasks download: the LRA data, fetched and laid out as the loaders read it.

    python -m tasks download [--tasks listops,retrieval,...] [--data-dir DIR] [--url URL]

ListOps, Retrieval, Pathfinder and Path-X come from the LRA release (one 7.7 GB
gzipped tar); Text (IMDB) and Image (CIFAR-10) from their own archives, as LRA
reads them through tfds. Each archive is fetched once into DIR/.downloads/ with a
progress bar; a broken connection is resumed where it stopped (HTTP Range), within
the run and by running the command again. Its size is checked against the server's,
and its MD5 where one is published (the release publishes none). Only the members of
the tasks asked for are extracted, into a staging folder, then moved into place:
``DIR/lra_release/listops-1000``, ``DIR/lra_release/lra_release/{tsv_data,pathfinder32,
pathfinder128}``, ``DIR/aclImdb``, ``DIR/cifar-10-batches-py``. A dataset already
there is never overwritten, and an archive with an unsafe member (an absolute path,
``..``, a link or device leading out) is refused whole. The archive is kept for
other tasks; delete DIR/.downloads/ to free its space.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import http.client
import os
import posixpath
import shutil
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from tasks.lra.common import (
    DATA_ENV_VAR,
    LRA_RELEASE_URL,
    candidate_roots,
    data_dir_from_env,
)
from tasks.lra.image import CIFAR_URL
from tasks.lra.text import IMDB_URL


@dataclass(frozen=True)
class Archive:
    url: str
    #: the MD5 its publisher gives (None: none published; the size alone is checked)
    md5: str | None = None

    @property
    def file_name(self) -> str:
        return posixpath.basename(self.url.rstrip("/")) or "archive"


RELEASE = Archive(LRA_RELEASE_URL)
IMDB = Archive(IMDB_URL, "7c2ac02c03563afcf9b574c7e56c153a")
CIFAR = Archive(CIFAR_URL, "c58f30108f718f92721af3b95e74349a")

#: task -> its archive and the folder of the archive it needs, extracted to the same
#: path under --data-dir (tasks.lra.common.candidate_roots looks in lra_release/ and
#: lra_release/lra_release/ too)
TASKS: dict[str, tuple[Archive, str]] = {
    "listops": (RELEASE, "lra_release/listops-1000"),
    "retrieval": (RELEASE, "lra_release/lra_release/tsv_data"),
    "pathfinder": (RELEASE, "lra_release/lra_release/pathfinder32"),
    "pathx": (RELEASE, "lra_release/lra_release/pathfinder128"),
    "text": (IMDB, "aclImdb"),
    "image": (CIFAR, "cifar-10-batches-py"),
}
CHUNK_BYTES = 1 << 20
#: connection attempts per archive in one run, each resuming where the last stopped
ATTEMPTS = 5
TIMEOUT_S = 60


class DownloadError(Exception):
    """What went wrong, in one line that says what to do."""


# -- fetching --------------------------------------------------------------------


def request(url: str, start: int) -> http.client.HTTPResponse:
    """The archive from byte ``start`` on (a Range request where ``start`` > 0)."""
    headers = {"User-Agent": "mixbench"} | ({"Range": f"bytes={start}-"} if start else {})
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=TIMEOUT_S)


def total_size(response: http.client.HTTPResponse, start: int) -> int | None:
    """The archive's whole size by the server: Content-Range's total for a resumed
    download, else Content-Length."""
    content_range = response.headers.get("Content-Range", "")
    if response.status == 206 and "/" in content_range:
        total = content_range.rsplit("/", 1)[1]
        return int(total) if total.isdigit() else None
    length = response.headers.get("Content-Length")
    return int(length) if length and length.isdigit() else None


def fetch_once(url: str, part: Path, bar: tqdm) -> int | None:
    """Append what the server sends to ``part``, resuming at its size; the total size."""
    start = part.stat().st_size if part.exists() else 0
    try:
        response = request(url, start)
    except urllib.error.HTTPError as error:
        if error.code == 416 and start:  # nothing after start: the part is whole
            total = error.headers.get("Content-Range", "").rsplit("/", 1)[-1]
            return int(total) if total.isdigit() else start
        raise
    with response:
        total = total_size(response, start)
        if start and response.status != 206:  # the server cannot resume: start again
            start = 0
        bar.reset(total=total)
        bar.update(start)
        with part.open("r+b" if start else "wb") as f:
            f.seek(start)
            f.truncate()
            while chunk := response.read(CHUNK_BYTES):
                f.write(chunk)
                bar.update(len(chunk))
    return total


def fetch(archive: Archive, url: str, into: Path) -> Path:
    """``into/<file name>``, downloaded whole (resumed from ``.part`` after a break)."""
    path = into / archive.file_name
    if path.exists():
        return path
    part = path.with_name(path.name + ".part")
    into.mkdir(parents=True, exist_ok=True)
    problem = ""
    with tqdm(unit="B", unit_scale=True, unit_divisor=1024, desc=archive.file_name) as bar:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                total = fetch_once(url, part, bar)
                size = part.stat().st_size
                if total is None or size == total:
                    part.rename(path)
                    return path
                problem = f"the connection closed after {size} of {total} bytes"
            except urllib.error.HTTPError as error:
                if error.code < 500:  # refused or not there: trying again will not help
                    raise DownloadError(
                        f"{url} answered {error.code} {error.reason}; give another address "
                        "of the archive (a mirror) with --url"
                    ) from None
                problem = f"the server answered {error.code} {error.reason}"
            except (OSError, http.client.HTTPException) as error:
                problem = str(getattr(error, "reason", None) or error) or type(error).__name__
            bar.write(f"{archive.file_name}: connection broke ({problem}); resuming", sys.stderr)
            time.sleep(0.2 * attempt)
    raise DownloadError(
        f"could not download {url} in {ATTEMPTS} attempts ({problem}); run the command again "
        f"to resume from the {part.stat().st_size if part.exists() else 0} bytes in {part}"
    )


def check_checksum(archive: Archive, path: Path) -> None:
    if archive.md5 is None:
        return
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            digest.update(chunk)
    if digest.hexdigest() != archive.md5:
        path.unlink()
        raise DownloadError(
            f"{path} has MD5 {digest.hexdigest()}, not the published {archive.md5}: it was "
            "corrupted on the way and was deleted; run the command again"
        )


# -- extracting ------------------------------------------------------------------


def unsafe(member: tarfile.TarInfo) -> str | None:
    """Why extracting ``member`` could write outside the data folder, or None."""
    name = member.name
    if name.startswith(("/", "\\")) or ":" in name.split("/")[0]:
        return "an absolute path"
    if ".." in name.replace("\\", "/").split("/"):
        return "a '..' in its path"
    if member.issym() or member.islnk():
        target = member.linkname
        joined = posixpath.normpath(posixpath.join(posixpath.dirname(name), target))
        if target.startswith("/") or joined.startswith(".."):
            return f"a link to {target}, outside the archive"
    if member.isdev():
        return "a device file"
    return None


def wanted(member: tarfile.TarInfo, folders: Sequence[str]) -> bool:
    name = member.name.removeprefix("./").rstrip("/")
    return any(name == f or name.startswith(f + "/") for f in folders)


def members(tar: tarfile.TarFile, path: Path, folders: Sequence[str]) -> Iterator[tarfile.TarInfo]:
    """The members under ``folders``; the whole archive is refused at its first
    unsafe member, wanted or not (an archive that holds one is not the release)."""
    for member in tar:
        problem = unsafe(member)
        if problem:
            raise DownloadError(
                f"{path} holds {member.name!r}, {problem}: refused, nothing was extracted; "
                "this is not the archive it claims to be"
            )
        if wanted(member, folders):
            yield member


def extract(path: Path, folders: Sequence[str], staging: Path) -> None:
    """The archive's ``folders`` into ``staging``, read as a stream (one pass over a
    7.7 GB archive) to its very end; DownloadError where it is truncated or corrupt.
    Python's gzip reader, not tarfile's own, reads it: tarfile takes a gzip stream
    that ends early for the end of the archive."""
    try:
        with gzip.open(path, "rb") as stream:
            with tarfile.open(fileobj=stream, mode="r|") as tar:
                tar.extractall(staging, members=members(tar, path, folders), filter="data")
            while stream.read(CHUNK_BYTES):  # to the gzip trailer, which checks the CRC
                pass
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise DownloadError(
            f"{path} is truncated or corrupt ({error or type(error).__name__}); delete it and "
            "run the command again to download it anew"
        ) from error
    missing = [f for f in folders if not (staging / f).is_dir()]
    if missing:
        raise DownloadError(
            f"{path} holds no {', '.join(missing)}: not the layout of the archive from "
            f"{LRA_RELEASE_URL if RELEASE.file_name == path.name else 'its publisher'}"
        )


# -- the command -----------------------------------------------------------------


def parse_tasks(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in TASKS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"{', '.join(unknown) or 'nothing'}: choose from {', '.join(TASKS)}"
        )
    return list(dict.fromkeys(names))


def add_download_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "download",
        help="fetch the LRA data (resumable) and extract the tasks asked for",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--tasks",
        type=parse_tasks,
        default=list(TASKS),
        help=f"comma-separated, from {','.join(TASKS)} (default: all)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help=f"where the loaders will read the data (default: ${DATA_ENV_VAR})",
    )
    parser.add_argument(
        "--url",
        default=None,
        help="fetch the archive from this address instead (a mirror); for tasks of one "
        f"archive (the release: {LRA_RELEASE_URL})",
    )


def in_place(task: str, data_dir: Path) -> Path | None:
    """Where ``task``'s folder already is, in any root the loaders look in (a release
    extracted by hand into DIR/lra_release/ or DIR itself), or None."""
    name = posixpath.basename(TASKS[task][1])
    found = [root / name for root in candidate_roots(data_dir) if (root / name).exists()]
    return found[0] if found else None


def plan(tasks: Sequence[str], data_dir: Path, url: str | None) -> dict[Archive, list[str]]:
    """The folders to extract from each archive; DownloadError for a dataset already
    in place or a --url that would stand for several archives."""
    present = [f"{task} ({found})" for task in tasks if (found := in_place(task, data_dir))]
    if present:
        raise DownloadError(
            f"already in place, not overwritten: {'; '.join(present)}; delete it or leave "
            "it out of --tasks"
        )
    chosen: dict[Archive, list[str]] = {}
    for task in tasks:
        archive, folder = TASKS[task]
        chosen.setdefault(archive, []).append(folder)
    if url is not None and len(chosen) > 1:
        raise DownloadError(
            f"--url stands for one archive, but {', '.join(tasks)} come from "
            f"{len(chosen)}; ask for the tasks of one archive at a time"
        )
    return chosen


def install(archive: Archive, url: str, folders: Sequence[str], data_dir: Path) -> None:
    path = fetch(archive, url, data_dir / ".downloads")
    check_checksum(archive, path)
    staging = Path(tempfile.mkdtemp(dir=data_dir, prefix=".extracting-"))
    try:
        extract(path, folders, staging)
        for folder in folders:
            (data_dir / folder).parent.mkdir(parents=True, exist_ok=True)
            os.rename(staging / folder, data_dir / folder)
            print(f"extracted {data_dir / folder}")
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def download_command(args: argparse.Namespace) -> int:
    data_dir = args.data_dir or data_dir_from_env()
    if data_dir is None:
        print(f"error: give --data-dir DIR or set {DATA_ENV_VAR}=DIR", file=sys.stderr)
        return 2
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        for archive, folders in plan(args.tasks, data_dir, args.url).items():
            install(archive, args.url or archive.url, folders, data_dir)
    except DownloadError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except OSError as error:  # the disk filled up, a folder is read-only
        print(f"error: {error}; free the space or fix the folder, then run again", file=sys.stderr)
        return 1
    print(f"done: point --data-dir or {DATA_ENV_VAR} at {data_dir}")
    return 0
