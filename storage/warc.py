"""WARC capture: the exact responses behind snapshots, in size-rotated ``.warc.gz`` files.

Records are written with warcio (Webrecorder's library) as WARC/1.1, each record its
own gzip member, so that a record can be read alone from its (offset, length) and the
files are read by every archive tool (``warcio index``, pywb, ``cdxj-indexer``). A
snapshot row keeps the file name (relative to the WARC folder), offset and length of its
``response`` record and the record's payload digest (storage/recording.py).

Reading records back (``show --raw``, ``warc verify``, ``export --format warc``) is in
storage/warc_read.py; this module writes them. No Scrapy here: the crawler hands over an
:class:`Exchange`.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import os
import re
import socket
import time
import zlib
from dataclasses import dataclass
from functools import cached_property
from io import BytesIO
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

from isal import isal_zlib
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from .backend import is_postgres
from .results import WarcRef

DEFAULT_MAX_SIZE = 1024**3
"""A file is closed and the next one started once it reaches this size (1 GiB)."""
GZIP_LEVEL = 2
"""ISA-L's level (0-3), through python-isal: plain gzip members any reader inflates.
On 200 dev-set pages (125 KiB of HTML each) level 2 takes 0.23 ms of CPU a page for
28.6 KiB, where zlib took 1.08 ms at level 3 for 28.0 KiB and 2.5 ms at its default 6
for 26.7 KiB: a crawl on two busy cores is CPU-bound, and the 0.85 ms saved is 2% of a
page's whole cost (its extraction included)."""
# Hop-by-hop framing the body no longer has: Scrapy hands it over de-chunked.
DROPPED_HEADERS = frozenset({"transfer-encoding"})


@dataclass
class Exchange:
    """One HTTP request and the response to it, as the crawler sent and received them."""

    url: str
    """The URL answered (after redirects): the records' WARC-Target-URI."""
    date: str
    """When the request was sent: ISO 8601 UTC ending in Z (WARC-Date)."""
    method: str
    request_headers: list[tuple[str, str]]
    status: int
    response_headers: list[tuple[str, str]]
    body: bytes
    """The body as received: de-chunked, but still in its Content-Encoding (gzip, br)."""
    protocol: str = "HTTP/1.1"

    @cached_property
    def digest(self) -> str:
        """The WARC payload digest of ``body`` (computed off the reactor, when asked)."""
        return payload_digest(self.body)


@dataclass(frozen=True)
class Original:
    """The response record an unchanged re-fetch refers to with a revisit record."""

    ref: WarcRef
    url: str
    date: str
    record_id: str


def payload_digest(body: bytes) -> str:
    """WARC-Payload-Digest of a body, in warcio's form: ``sha1:`` + base32."""
    return "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode("ascii")


def default_warc_dir(db: str) -> Path:
    """Where WARC files go unless configured: beside a SQLite file, in ``warc/``; for a
    PostgreSQL database (no file to sit beside), in the user's data folder."""
    if is_postgres(db):
        data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
        return Path(data) / "citecache" / "warc"
    return Path(db).resolve().parent / "warc"


def warc_dir(db: str, configured: str | None) -> Path:
    """The WARC folder: ``configured`` (CITECACHE_WARC_DIR) if set, else the default."""
    return Path(configured) if configured else default_warc_dir(db)


class WarcFiles:
    """Appends records to this process's current ``.warc.gz`` file; starts the next one
    past ``max_size``. Not thread-safe: one writer thread owns it.

    File names carry the start time, a serial, the host and the process id, so that
    several crawls and workers (on one machine or several sharing a folder) never write
    to the same file.
    """

    def __init__(self, folder: Path, max_size: int = DEFAULT_MAX_SIZE, software: str = ""):
        self.folder = folder
        self.max_size = max_size
        self.software = software
        self.serial = 0
        self.file: BinaryIO | None = None
        self.name = ""
        self.written = 0
        """Bytes written by this process, over all its files."""
        self._buffer = BytesIO()
        self._writer = WARCWriter(self._buffer, gzip=False, warc_version="1.1")

    def write(self, exchange: Exchange, original: Original | None = None) -> WarcRef:
        """Write a response (or, given the ``original`` with the same payload, a
        revisit) record and its request record; return where the response is kept."""
        file = self._file_for_next_pair()
        response = self._response(exchange, original)
        request = self._request(exchange, response.rec_headers.get_header("WARC-Record-ID"))
        ref = self._append(file, response)
        self._append(file, request)
        file.flush()  # a row that points at it is stored only after this returns
        return original.ref if original else ref

    def close(self) -> None:
        file, self.file = self.file, None  # forgotten even if its last flush fails
        if file is not None:
            file.close()

    def _response(self, exchange: Exchange, original: Original | None):
        reason = http.client.responses.get(exchange.status, "")
        headers = [(k, v) for k, v in exchange.response_headers if k.lower() not in DROPPED_HEADERS]
        http_headers = StatusAndHeaders(
            f"{exchange.status} {reason}".strip(), headers, protocol=exchange.protocol
        )
        warc_headers = {"WARC-Date": exchange.date, "WARC-Payload-Digest": exchange.digest}
        if original is not None:
            record = self._writer.create_revisit_record(
                exchange.url,
                exchange.digest,
                original.url,
                original.date,
                http_headers=http_headers,
                warc_headers_dict={"WARC-Date": exchange.date},
            )
            record.rec_headers.add_header("WARC-Refers-To", original.record_id)
            return record
        return self._writer.create_warc_record(
            exchange.url,
            "response",
            payload=BytesIO(exchange.body),
            length=len(exchange.body),
            http_headers=http_headers,
            warc_headers_dict=warc_headers,
        )

    def _request(self, exchange: Exchange, response_id: str):
        parts = urlsplit(exchange.url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = [("Host", parts.netloc), *exchange.request_headers]
        http_headers = StatusAndHeaders(
            f"{exchange.method} {target} {exchange.protocol}", headers, is_http_request=True
        )
        return self._writer.create_warc_record(
            exchange.url,
            "request",
            http_headers=http_headers,
            warc_headers_dict={"WARC-Date": exchange.date, "WARC-Concurrent-To": response_id},
        )

    def _append(self, file: BinaryIO, record) -> WarcRef:
        """Write one record as a gzip member of its own; where it went."""
        self._buffer.seek(0)
        self._buffer.truncate()
        self._writer.write_record(record)
        member = isal_zlib.compress(self._buffer.getvalue(), GZIP_LEVEL, zlib.MAX_WBITS + 16)
        offset = file.tell()
        file.write(member)
        self.written += len(member)
        digest = record.rec_headers.get_header("WARC-Payload-Digest")
        return WarcRef(self.name, offset, len(member), digest)

    def _file_for_next_pair(self) -> BinaryIO:
        """The current file, or the next one once it has reached ``max_size`` (checked
        between pairs: a request record stays beside its response)."""
        if self.file is None or self.file.tell() >= self.max_size:
            self._next_file()
        assert self.file is not None
        return self.file

    def _next_file(self) -> None:
        self.close()
        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime())
        host = re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname()) or "host"
        self.name = f"citecache-{stamp}-{self.serial:05d}-{host}-{os.getpid()}.warc.gz"
        self.serial += 1
        # "x": never append to another process's file, whatever its name
        self.file = open(self.folder / self.name, "xb")  # noqa: SIM115 - kept open
        info = {"software": self.software, "format": "WARC File Format 1.1"}
        self._append(self.file, self._writer.create_warcinfo_record(self.name, info))
