"""WARC capture (storage/warc.py, crawler/warc.py): real crawls through the CLI on
127.0.0.1, read back by warcio's and pywb's own tools, and by ``show --raw``,
``warc verify`` and ``export --format warc``."""

from __future__ import annotations

import gzip
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from storage import FetchResult, Store
from storage.reads import warc_ref
from storage.results import WarcRef
from storage.warc import Exchange, WarcFiles, payload_digest
from storage.warc_read import read_body

from .test_crawl import ROOT
from .test_store import T0, T1, ok_result

BIN = Path(sys.executable).parent
SAVED = ("aclu-school-grades", "emacspeak-defadvice", "googleblog-safe-browsing")
TIMEOUT = 120


def run(db: Path | str, *args: str, warc_dir: Path | None = None, check: bool = True):
    """``citecache --db DB ARGS``; stdout as bytes (``show --raw``)."""
    env = dict(os.environ)
    env.pop("CITECACHE_WARC_DIR", None)
    if warc_dir is not None:
        env["CITECACHE_WARC_DIR"] = str(warc_dir)
    done = subprocess.run(
        [sys.executable, "-m", "citecache", "--db", str(db), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=TIMEOUT,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"citecache {args} exited {done.returncode}:\n{done.stderr.decode()}")
    return done


def crawl(db: Path | str, *urls: str, warc_dir: Path | None = None, again: bool = False) -> dict:
    with Store(db) as store:
        for url in urls:
            store.register(url)
    args = ("--all",) if again else ()
    done = run(db, "crawl", "--allow-private", "--json", *args, warc_dir=warc_dir)
    return json.loads(done.stdout)


def served(url: str) -> bytes:
    """The body as the server sends it (no Accept-Encoding: as is), error pages too."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.read()


def records(where: Path) -> list:
    """(type, target URI, WARC headers, HTTP headers) of every record in a file, or in
    every file of a folder, in the order they were written."""
    found = []
    files = sorted(where.glob("*.warc.gz"), key=lambda p: p.stat().st_mtime_ns)
    for path in files if where.is_dir() else [where]:
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream):
                found.append(
                    (
                        record.rec_type,
                        record.rec_headers.get_header("WARC-Target-URI"),
                        dict(record.rec_headers.headers),
                        record.http_headers,
                    )
                )
    return found


def tool(name: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / name), *args], capture_output=True, text=True, timeout=TIMEOUT, check=True
    )


def test_crawl_keeps_the_served_bytes_in_warc_files_that_warcio_and_pywb_read(mockserver, db_path):
    urls = [mockserver.url(f"/pages/{name}.html") for name in SAVED]
    failure = mockserver.url("/status/404")
    summary = crawl(db_path, *urls, failure)
    assert summary["byStatus"] == {"ok": len(SAVED), "error": 1}

    folder = db_path.parent / "warc"  # the default: beside the database
    [path] = folder.glob("*.warc.gz")
    host = re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname())
    assert re.fullmatch(rf"citecache-\d{{14}}-00000-{re.escape(host)}-\d+\.warc\.gz", path.name)

    # warcio's own reader: every record's digests check out
    checked = tool("warcio", "check", "-v", str(path)).stdout
    assert checked.count("digest pass") == 1 + 2 * (len(SAVED) + 1)  # warcinfo, pairs
    index = [json.loads(line) for line in tool("warcio", "index", str(path)).stdout.splitlines()]
    types = [entry["warc-type"] for entry in index]
    assert types == ["warcinfo"] + ["response", "request"] * (len(SAVED) + 1)

    # pywb's CDXJ indexer: one line per response, its digest that of the served bytes
    lines = tool("cdxj-indexer", str(path)).stdout.splitlines()
    cdxj = {entry["url"]: entry for entry in (json.loads(line.split(" ", 2)[2]) for line in lines)}
    assert set(cdxj) == {*urls, failure}
    for url in [*urls, failure]:
        assert cdxj[url]["digest"] == payload_digest(served(url))
    assert cdxj[failure]["status"] == "404"

    with Store(db_path) as store:
        for url in urls:
            snapshot = store.current_snapshot(store.get(url)["id"])
            assert snapshot["warc_file"] == path.name
            assert snapshot["warc_payload_digest"] == payload_digest(served(url))
            assert snapshot["warc_offset"] == int(cdxj[url]["offset"])
            assert snapshot["warc_length"] == int(cdxj[url]["length"])

    # show --raw: the stored body, byte for byte what was served
    assert run(db_path, "show", urls[0], "--raw").stdout == served(urls[0])


@pytest.mark.parametrize("db", ["sqlite", "postgres"], indirect=True)
def test_an_unchanged_refetch_writes_a_revisit_record_not_a_second_copy(mockserver, db, tmp_path):
    # no validators: the second fetch is a full 200 with the same bytes, not a 304
    url = mockserver.url(f"/mutable/warc-{uuid.uuid4().hex[:8]}?validators=none")
    folder = tmp_path / "warc"
    crawl(db, url, warc_dir=folder)
    again = crawl(db, warc_dir=folder, again=True)
    assert again["byStatus"] == {"unchanged": 1}

    assert len(list(folder.glob("*.warc.gz"))) == 2  # one file per crawl process
    found = [record for record in records(folder) if record[0] != "warcinfo"]
    assert [(kind, uri) for kind, uri, _, _ in found] == [
        ("response", url),
        ("request", url),
        ("revisit", url),
        ("request", url),
    ]
    first, revisit = found[0][2], found[2][2]
    assert revisit["WARC-Profile"] == (
        "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
    )
    assert revisit["WARC-Payload-Digest"] == first["WARC-Payload-Digest"]
    assert revisit["WARC-Refers-To"] == first["WARC-Record-ID"]
    assert revisit["WARC-Refers-To-Target-URI"] == url
    assert revisit["WARC-Refers-To-Date"] == first["WARC-Date"]
    assert revisit["WARC-Date"] >= first["WARC-Date"]
    with Store(db) as store:
        snapshot = store.current_snapshot(store.get(url)["id"])
        assert snapshot["warc_payload_digest"] == first["WARC-Payload-Digest"]
        assert read_body(folder, warc_ref(snapshot)) == served(url)


def test_export_writes_one_readable_file_and_verify_catches_a_flipped_byte(
    mockserver, db_path, tmp_path
):
    urls = [mockserver.url(f"/pages/{name}.html") for name in SAVED[:2]]
    crawl(db_path, *urls)
    exported = tmp_path / "export.warc.gz"
    run(db_path, "export", "--format", "warc", "-o", str(exported))
    tool("warcio", "check", str(exported))
    # in the order the snapshots were stored, which a concurrent crawl does not fix
    assert sorted((kind, uri) for kind, uri, _, _ in records(exported)) == sorted(
        ("response", url) for url in urls
    )

    done = run(db_path, "warc", "verify")
    assert done.stdout == b""
    assert b"2 WARC record(s) checked" in done.stderr and b": 0 bad" in done.stderr

    with Store(db_path) as store:
        snapshot = store.current_snapshot(store.get(urls[1])["id"])
    path = db_path.parent / "warc" / snapshot["warc_file"]
    data = bytearray(path.read_bytes())
    data[snapshot["warc_offset"] + snapshot["warc_length"] // 2] ^= 0x01
    path.write_bytes(bytes(data))

    bad = run(db_path, "warc", "verify", check=False)
    assert bad.returncode == 1
    [line] = bad.stdout.decode().splitlines()
    assert line.startswith(f"snapshot {snapshot['id']}\t{urls[1]}\t{snapshot['warc_file']}@")
    assert b": 1 bad" in bad.stderr


@pytest.fixture
def gzip_server() -> Iterator[str]:
    """A page served with Content-Encoding: gzip, as most real servers send them."""
    page = (ROOT / "tests" / "pages" / f"{SAVED[0]}.html").read_bytes()
    body = gzip.compress(page, mtime=0)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/page.html"
    finally:
        server.shutdown()
        server.server_close()


def test_a_compressed_response_is_kept_compressed_as_received(gzip_server, db_path):
    assert crawl(db_path, gzip_server)["byStatus"] == {"ok": 1}
    [(kind, _, warc_headers, http_headers)] = [
        r for r in records(db_path.parent / "warc") if r[0] == "response"
    ]
    assert http_headers.get_header("Content-Encoding") == "gzip"
    assert warc_headers["WARC-Payload-Digest"] == payload_digest(served(gzip_server))
    page = (ROOT / "tests" / "pages" / f"{SAVED[0]}.html").read_bytes()
    assert run(db_path, "show", gzip_server, "--raw").stdout == page  # decoded for reading


def test_warc_capture_can_be_turned_off(mockserver, db_path):
    with Store(db_path) as store:
        store.register(mockserver.url("/article/warc-off"))
    run(db_path, "crawl", "--allow-private", "-s", "CITECACHE_WARC_ENABLED=false")
    assert not (db_path.parent / "warc").exists()
    done = run(db_path, "show", mockserver.url("/article/warc-off"), "--raw", check=False)
    assert done.returncode == 1 and b"no WARC record" in done.stderr


def test_a_running_worker_s_records_are_readable_before_it_stops(mockserver, db_path):
    url = mockserver.url("/article/warc-worker")
    with Store(db_path) as store:
        resource_id = store.register(url).resource["id"]
    env = {k: v for k, v in os.environ.items() if k != "CITECACHE_WARC_DIR"}
    worker = subprocess.Popen(
        [sys.executable, "-m", "citecache", "--db", str(db_path), "worker", "--allow-private"]
        + ["--max-runtime", "120s"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not _snapshot_warc_file(db_path, resource_id):
            time.sleep(0.1)
        assert _snapshot_warc_file(db_path, resource_id), "the worker stored no WARC record"
        # its file is still open: each pair is flushed before its row is stored
        done = run(db_path, "warc", "verify")
        assert b"1 WARC record(s) checked" in done.stderr and b": 0 bad" in done.stderr
        assert run(db_path, "show", url, "--raw").stdout == served(url)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)


def _snapshot_warc_file(db: Path, resource_id: str) -> str | None:
    with Store(db, readonly=True) as store:
        snapshot = store.current_snapshot(resource_id)
    return snapshot["warc_file"] if snapshot else None


def test_a_warc_folder_that_cannot_be_written_does_not_stop_the_crawl(mockserver, db_path):
    blocked = db_path.parent / "not-a-folder"
    blocked.write_text("a file where the WARC folder should be")
    url = mockserver.url("/article/warc-blocked")
    summary = crawl(db_path, url, warc_dir=blocked)
    assert summary["byStatus"] == {"ok": 1}  # extracted and stored all the same
    with Store(db_path) as store:
        assert store.current_snapshot(store.get(url)["id"])["warc_file"] is None


def exchange(url: str, body: bytes) -> Exchange:
    return Exchange(
        url=url,
        date=T0,
        method="GET",
        request_headers=[("User-Agent", "test")],
        status=200,
        response_headers=[("Content-Type", "text/html"), ("Transfer-Encoding", "chunked")],
        body=body,
    )


def test_files_rotate_past_their_size_and_each_record_reads_alone(tmp_path):
    files = WarcFiles(tmp_path, max_size=2_000)
    bodies = [os.urandom(1_500) for _ in range(3)]  # incompressible: one pair per file
    refs = [files.write(exchange(f"http://x.test/{i}", b)) for i, b in enumerate(bodies)]
    files.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 3 and names == sorted({ref.file for ref in refs})
    assert all(f"-{os.getpid()}.warc.gz" in name for name in names)
    for ref, body in zip(refs, bodies, strict=True):
        assert read_body(tmp_path, ref) == body
        assert ref.payload_digest == payload_digest(body)
    # the body is stored de-chunked: its framing header is not kept
    [(_, _, _, http_headers)] = [r for r in records(tmp_path) if r[0] == "response"][:1]
    assert http_headers.get_header("Transfer-Encoding") is None


def test_a_snapshot_points_at_its_record_and_an_old_one_gets_a_pointer(db):
    ref = WarcRef("a.warc.gz", 100, 2_000, "sha1:AAAA")
    with Store(db) as store:
        store.register("https://example.org/warc")
        resource = store.get("https://example.org/warc")
        store.record_result(ok_result(resource, "Text before WARC capture."))
        snapshot = store.current_snapshot(resource["id"])
        assert snapshot["warc_file"] is None
        assert store.warc_original(resource["id"], ref.payload_digest) is None

        # the same text fetched again with capture on: the snapshot gets the pointer
        result: FetchResult = ok_result(resource, "Text before WARC capture.", at=T1, warc=ref)
        store.record_result(result)
        assert store.warc_original(resource["id"], ref.payload_digest) == ref
        [row] = list(store.warc_records())
        assert (row["id"], row["url"]) == (snapshot["id"], resource["url"])
        assert [r["id"] for r in store.warc_records(current_only=True)] == [snapshot["id"]]
