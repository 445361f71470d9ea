"""python -m tasks download against a small archive in the LRA release's layout,
served from a local HTTP server on 127.0.0.1 (no outside network): the tasks asked
for land where the loaders read them; a connection that breaks mid-body is resumed
with a Range request; a truncated archive, an unsafe member, a dataset already in
place and a refused address each end in one line that says what to do."""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import io
import tarfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tasks import download
from tasks.__main__ import main
from tasks.lra import load_task

LISTOPS_ROWS = "Source\tTarget\n" + "".join(
    f"( [MAX {a} {b} ] )\t{max(a, b)}\n" for a, b in [(1, 2), (3, 4), (5, 0), (7, 7), (2, 9)]
)


AAN_ROWS = {
    "train": b"1\tp1\tp2\tfirst paper\tsecond paper\n0.0\tp3\tp4\tx\ty\n",
    "eval": b"1.0\tp1\tp3\tab\tcd\n",
    "test": b"0\tp2\tp4\tzz\tw\n",
}


def release_bytes(extra: dict[str, bytes] | None = None) -> bytes:
    """A gzipped tar in the release's layout: ListOps, Retrieval and a Pathfinder
    file (not asked for: it must stay in the archive), and ``extra`` members."""
    files = {
        f"lra_release/listops-1000/basic_{split}.tsv": LISTOPS_ROWS.encode()
        for split in ("train", "val", "test")
    }
    files |= {
        f"lra_release/lra_release/tsv_data/new_aan_pairs.{split}.tsv": rows
        for split, rows in AAN_ROWS.items()
    }
    files["lra_release/lra_release/pathfinder32/curv_baseline/metadata/0.npy"] = b"x"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in {**files, **(extra or {})}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@dataclass
class Served:
    body: bytes
    #: bytes sent before the connection is dropped, on the first request only
    drop_after: int | None = None
    status: int = 200
    requests: list[str | None] = field(default_factory=list)


class Handler(http.server.BaseHTTPRequestHandler):
    served: Served

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        served = self.served
        served.requests.append(self.headers.get("Range"))
        if served.status != 200:
            self.send_error(served.status)
            return
        start = 0
        if self.headers.get("Range"):
            start = int(self.headers["Range"].removeprefix("bytes=").rstrip("-"))
        body = served.body[start:]
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(body)))
        if start:
            self.send_header(
                "Content-Range", f"bytes {start}-{len(served.body) - 1}/{len(served.body)}"
            )
        self.end_headers()
        if served.drop_after is not None and len(served.requests) == 1:
            self.wfile.write(body[: served.drop_after])
            self.wfile.flush()
            self.connection.shutdown(2)  # the connection breaks mid-body
            return
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def serving(served: Served) -> Iterator[str]:
    handler = type("ServedHandler", (Handler,), {"served": served})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/lra_release.gz"
    finally:
        server.shutdown()
        server.server_close()


def run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str]:
    code = main(["download", *argv])
    return code, capsys.readouterr().err


def test_the_tasks_asked_for_land_where_the_loaders_read_them(tmp_path, capsys):
    served = Served(release_bytes())
    with serving(served) as url:
        code, errors = run(
            capsys, "--tasks", "listops,retrieval", "--data-dir", str(tmp_path), "--url", url
        )
    assert code == 0, errors
    assert len(load_task("listops", tmp_path).train) == 5
    assert len(load_task("retrieval", tmp_path).val) == 1
    assert not (tmp_path / "lra_release/lra_release/pathfinder32").exists()  # not asked for
    assert (tmp_path / ".downloads/lra_release.gz").read_bytes() == served.body
    assert sorted(p.name for p in tmp_path.iterdir()) == [".downloads", "lra_release"]


def test_a_broken_connection_is_resumed_where_it_stopped(tmp_path, capsys):
    served = Served(release_bytes(), drop_after=100)
    with serving(served) as url:
        code, errors = run(capsys, "--tasks", "listops", "--data-dir", str(tmp_path), "--url", url)
    assert code == 0, errors
    assert served.requests == [None, "bytes=100-"]
    assert "connection broke" in errors
    assert len(load_task("listops", tmp_path).test) == 5


def test_a_download_broken_for_good_resumes_on_the_next_run(tmp_path, capsys, monkeypatch):
    served = Served(release_bytes(), drop_after=300)
    monkeypatch.setattr(download, "ATTEMPTS", 1)
    with serving(served) as url:
        code, errors = run(capsys, "--tasks", "listops", "--data-dir", str(tmp_path), "--url", url)
        assert code == 1 and "run the command again to resume from the 300 bytes" in errors
        assert len(errors.strip().splitlines()[-1:]) == 1 and "Traceback" not in errors
        code, errors = run(capsys, "--tasks", "listops", "--data-dir", str(tmp_path), "--url", url)
    assert code == 0, errors
    assert served.requests == [None, "bytes=300-"]


def test_a_truncated_archive_is_named_and_nothing_is_extracted(tmp_path, capsys):
    whole = release_bytes()
    served = Served(whole[: len(whole) // 2])  # the server itself holds half of it
    with serving(served) as url:
        code, errors = run(capsys, "--tasks", "listops", "--data-dir", str(tmp_path), "--url", url)
    assert code == 1
    assert "lra_release.gz is truncated or corrupt" in errors and "Traceback" not in errors
    assert sorted(p.name for p in tmp_path.iterdir()) == [".downloads"]


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("lra_release/listops-1000/../../../escaped.txt", "'..'"),
        ("/tmp/escaped.txt", "absolute path"),
    ],
)
def test_an_archive_with_an_unsafe_member_is_refused_whole(tmp_path, capsys, name, why):
    served = Served(release_bytes({name: b"owned"}))
    with serving(served) as url:
        code, errors = run(
            capsys, "--tasks", "listops", "--data-dir", str(tmp_path / "d"), "--url", url
        )
    assert code == 1 and why in errors and "refused, nothing was extracted" in errors
    assert not (tmp_path / "escaped.txt").exists()
    assert not (tmp_path / "d/lra_release").exists()


def test_a_link_out_of_the_archive_is_refused(tmp_path, capsys):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        link = tarfile.TarInfo("lra_release/listops-1000/basic_train.tsv")
        link.type, link.linkname = tarfile.SYMTYPE, "../../../../etc/passwd"
        tar.addfile(link)
    with serving(Served(buffer.getvalue())) as url:
        code, errors = run(capsys, "--tasks", "listops", "--data-dir", str(tmp_path), "--url", url)
    assert code == 1 and "a link to ../../../../etc/passwd, outside the archive" in errors


@pytest.mark.parametrize(
    "mine", ["lra_release/listops-1000/basic_train.tsv", "listops-1000/basic_train.tsv"]
)
def test_a_dataset_already_in_place_is_not_overwritten(tmp_path, capsys, mine):
    """Where the download would put it, or where the loaders would find it first."""
    mine = tmp_path / mine
    mine.parent.mkdir(parents=True)
    mine.write_text("my own")
    served = Served(release_bytes())
    with serving(served) as url:
        code, errors = run(
            capsys, "--tasks", "retrieval,listops", "--data-dir", str(tmp_path), "--url", url
        )
    assert code == 1 and f"already in place, not overwritten: listops ({mine.parent})" in errors
    assert mine.read_text() == "my own" and served.requests == []  # nothing fetched


def test_a_refused_address_says_to_give_a_mirror(tmp_path, capsys):
    served = Served(b"", status=401)
    with serving(served) as url:
        code, errors = run(capsys, "--tasks", "listops", "--data-dir", str(tmp_path), "--url", url)
    assert code == 1 and "answered 401" in errors and "--url" in errors
    assert served.requests == [None]  # not retried


def test_a_corrupted_download_fails_its_published_checksum(tmp_path, capsys, monkeypatch):
    body = release_bytes()
    archive = download.Archive("http://unused/lra_release.gz", hashlib.md5(b"other").hexdigest())
    monkeypatch.setitem(download.TASKS, "listops", (archive, "lra_release/listops-1000"))
    with serving(Served(body)) as url:
        code, errors = run(capsys, "--tasks", "listops", "--data-dir", str(tmp_path), "--url", url)
    assert code == 1 and f"not the published {archive.md5}" in errors
    assert not (tmp_path / ".downloads/lra_release.gz").exists()  # deleted: fetched anew next time


def test_bad_task_names_and_mixed_archives_with_one_url_are_usage_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["download", "--tasks", "listops,cifar100", "--data-dir", str(tmp_path)])
    assert exit_.value.code == 2 and "cifar100" in capsys.readouterr().err
    code, errors = run(
        capsys,
        "--tasks",
        "listops,text",
        "--data-dir",
        str(tmp_path),
        "--url",
        "http://127.0.0.1:9/x",
    )
    assert code == 1 and "--url stands for one archive" in errors
