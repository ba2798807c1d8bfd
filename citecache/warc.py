"""``citecache warc``: the WARC files behind the snapshots (storage/warc.py)."""

from __future__ import annotations

import sys
from typing import BinaryIO

import click

from storage import Store
from storage.reads import warc_ref
from storage.warc_read import WarcReadError, check, copy_records, read_body

from .context import Context, db_option, pass_ctx, say


@click.group()
def warc() -> None:
    """The WARC records kept for the snapshots."""


@warc.command()
@db_option
@pass_ctx
def verify(ctx: Context) -> None:
    """Re-read every record a snapshot points at and check its payload digest.

    Prints one line per bad record (snapshot, URL, file@offset, what is wrong) and exits
    1 if there is any, 0 if every record is intact.
    """
    folder = ctx.warc_folder()
    checked = bad = 0
    with ctx.reading_store() as store:
        for row in store.warc_records():
            ref = warc_ref(row)
            assert ref is not None  # warc_records() yields only snapshots that have one
            checked += 1
            problem = check(folder, ref)
            if problem:
                bad += 1
                click.echo(
                    f"snapshot {row['id']}\t{row['url']}\t{ref.file}@{ref.offset}\t{problem}"
                )
    say(f"{checked} WARC record(s) checked in {folder}: {bad} bad")
    if bad:
        raise SystemExit(1)


def write_raw_body(ctx: Context, store: Store, resource: dict) -> None:
    """``show --raw``: the current snapshot's response body, as bytes on stdout."""
    ref = warc_ref(store.current_snapshot(resource["id"]))
    if ref is None:
        raise click.ClickException(
            f"no WARC record for {resource['id']}: no snapshot, or one taken with WARC "
            "capture off or before it existed"
        )
    try:
        body = read_body(ctx.warc_folder(), ref)
    except WarcReadError as exc:
        raise click.ClickException(str(exc)) from None
    sys.stdout.flush()
    sys.stdout.buffer.write(body)
    sys.stdout.buffer.flush()


def export_records(ctx: Context, store: Store, output: BinaryIO) -> None:
    """``export --format warc``: the response records of every current snapshot, in one
    ``.warc.gz`` (each record a gzip member, as stored)."""
    refs = (warc_ref(row) for row in store.warc_records(current_only=True))
    try:
        copied = copy_records(ctx.warc_folder(), (ref for ref in refs if ref), output)
    except WarcReadError as exc:
        raise click.ClickException(str(exc)) from None
    say(f"{copied} WARC record(s) exported")
