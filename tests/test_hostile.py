"""Crawls of hostile input through the CLI: pages that would stall or exhaust extraction,
names and addresses that lead into the machine itself, and a crawl killed mid-run."""

from __future__ import annotations

import json
import time

import pytest

from storage import Store

from .test_crawl import citecache, crawl

NORMAL = ["/article/first", "/article/second", "/article/third"]


def outcomes(mockserver, db_path, paths: list[str]) -> dict[str, tuple[str, str | None]]:
    """Path -> (outcome, error) of the last fetch of ``mockserver.url(path)``."""
    found = {}
    with Store(db_path) as store:
        for path in paths:
            [last, *_] = store.fetch_log(store.get(mockserver.url(path))["id"])
            found[path] = (last["outcome"], last["error"])
    return found


def crawl_pages(mockserver, db_path, paths: list[str], *settings: str) -> tuple[dict, float]:
    with Store(db_path) as store:
        for path in paths:
            store.register(mockserver.url(path))
    started = time.monotonic()
    args = ["--all", "-s", "CITECACHE_EXTRACT_WORKERS=1"]
    for setting in settings:
        args += ["-s", setting]
    summary = crawl(db_path, *args)
    return summary, time.monotonic() - started


# -- extraction limits (crawler/pipelines.py, crawler/extract_worker.py) -----------------


@pytest.mark.slow
def test_a_page_over_the_time_limit_is_recorded_and_the_run_goes_on(mockserver, db_path):
    # 8 MB in one table: some 30 s of extraction here, stopped after 1 s.
    table = "/pathological/table?mb=8"
    summary, seconds = crawl_pages(
        mockserver, db_path, [table, *NORMAL], "CITECACHE_EXTRACT_TIMEOUT=1"
    )
    assert seconds < 20
    found = outcomes(mockserver, db_path, [table, *NORMAL])
    assert found.pop(table) == ("extraction_failed", "time limit: extraction took over 1 s")
    assert {outcome for outcome, _ in found.values()} == {"ok"}
    assert summary["stored"] == 4


@pytest.mark.slow
def test_a_page_over_the_memory_limit_is_recorded_and_its_process_replaced(mockserver, db_path):
    # 10 MB of tiny elements: 1.7 GB and 30 s to extract here, stopped at 400 MB (a
    # process needs about 100 MB at rest).
    tags = "/pathological/tags?mb=10"
    summary, _ = crawl_pages(
        mockserver, db_path, [tags, *NORMAL], "CITECACHE_EXTRACT_MEMORY_MB=400"
    )
    found = outcomes(mockserver, db_path, [tags, *NORMAL])
    assert found.pop(tags) == ("extraction_failed", "memory limit: extraction needed over 400 MB")
    assert {outcome for outcome, _ in found.values()} == {"ok"}
    assert summary["stored"] == 4
