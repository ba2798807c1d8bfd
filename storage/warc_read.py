"""Reading WARC records back from the (file, offset, length) a snapshot keeps.

Each record is a gzip member of its own (storage/warc.py), so it is read alone: seek,
read ``length`` bytes, parse them with warcio.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path
from typing import Any, BinaryIO

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from .results import WarcRef
from .warc import Original, payload_digest


class WarcReadError(Exception):
    """A record could not be read where its snapshot says it is (file gone, bad bytes)."""


def record_bytes(folder: Path, ref: WarcRef) -> bytes:
    """The record's gzip member, as stored."""
    try:
        with open(folder / ref.file, "rb") as file:
            file.seek(ref.offset)
            data = file.read(ref.length)
    except OSError as exc:
        raise WarcReadError(f"cannot read {ref.file}: {exc.strerror or exc}") from None
    if len(data) != ref.length:
        raise WarcReadError(f"{ref.file} ends before the record (offset {ref.offset})")
    return data


@contextmanager
def open_record(folder: Path, ref: WarcRef) -> Iterator[Any]:
    """The warcio record at ``ref``; WarcReadError if it cannot be parsed."""
    try:
        records = ArchiveIterator(BytesIO(record_bytes(folder, ref)))
        record = next(records, None)
    except (ArchiveLoadFailed, zlib.error, EOFError, ValueError) as exc:
        raise WarcReadError(f"{ref.file}@{ref.offset}: not a readable record: {exc}") from None
    if record is None:
        raise WarcReadError(f"{ref.file}@{ref.offset}: no record there")
    try:
        yield record
    except (zlib.error, EOFError) as exc:
        raise WarcReadError(f"{ref.file}@{ref.offset}: damaged record: {exc}") from None


def read_body(folder: Path, ref: WarcRef) -> bytes:
    """The response body kept in the record, its Content-Encoding (gzip, br) undone."""
    with open_record(folder, ref) as record:
        return record.content_stream().read()


def original(folder: Path, ref: WarcRef) -> Original:
    """What a revisit record says about the response record it refers to."""
    with open_record(folder, ref) as record:
        headers = record.rec_headers
        return Original(
            ref,
            headers.get_header("WARC-Target-URI"),
            headers.get_header("WARC-Date"),
            headers.get_header("WARC-Record-ID"),
        )


def check(folder: Path, ref: WarcRef) -> str | None:
    """Why the record at ``ref`` is not what its snapshot stored, or None if it is: its
    payload is re-read and its digest recomputed."""
    try:
        with open_record(folder, ref) as record:
            if record.rec_type != "response":
                return f"a {record.rec_type} record, not a response"
            found = payload_digest(record.raw_stream.read())
            declared = record.rec_headers.get_header("WARC-Payload-Digest")
    except WarcReadError as exc:
        return str(exc)
    if found != ref.payload_digest:
        return f"payload digest {found}, stored {ref.payload_digest}"
    if declared != found:
        return f"payload digest {found}, the record declares {declared}"
    return None


def copy_records(folder: Path, refs: Iterable[WarcRef], out: BinaryIO) -> int:
    """Append the records at ``refs`` to ``out`` (gzip members concatenate into one
    valid ``.warc.gz``); returns how many were copied."""
    copied = 0
    for ref in refs:
        out.write(record_bytes(folder, ref))
        copied += 1
    return copied
