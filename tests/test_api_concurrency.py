"""A crawl writes while the API serves reads: readers never see "database is locked"."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx

from api import create_app
from storage import FetchResult, Store, iso, utc_now

READERS = 4
WRITE_SECONDS = 3.0


def test_reads_during_writes_never_lock(tmp_path):
    path = tmp_path / "c.db"
    with Store(path) as store:
        ids = [store.register(f"https://example.org/article/{i}").resource["id"] for i in range(40)]
    app = create_app(path, api_token="t", start_worker=False)
    stop = threading.Event()
    problems: list[str] = []
    writes = [0]
    reads = [0]

    def writer():
        # The crawler's StorePipeline: its own read-write Store, batches of results.
        with Store(path) as store:
            n = 0
            deadline = time.monotonic() + WRITE_SECONDS
            while time.monotonic() < deadline:
                batch = []
                for rid in ids[n % 40 : n % 40 + 5]:
                    text = f"Version {n} of the article. " + "Body text. " * 300
                    batch.append(
                        FetchResult(
                            resource_id=rid,
                            url=f"https://example.org/article/{ids.index(rid)}",
                            started_at=iso(utc_now()),
                            outcome="ok",
                            http_status=200,
                            text=text,
                            title=f"Article {n}",
                        )
                    )
                try:
                    store.record_results(batch)
                    writes[0] += len(batch)
                except Exception as exc:  # noqa: BLE001 - any writer failure is a finding
                    problems.append(f"writer: {exc!r}")
                n += 5
        stop.set()

    paths = [
        "/api/resources?limit=50",
        "/api/resources/{id}",
        "/api/resources/{id}/snapshots",
        "/api/citations/content?url=https://example.org/article/3",
        "/api/resources/search?q=article",
        "/api/resources/stats",
        "/api/content/stats",
        "/resources/{id}",
        "/health",
    ]

    def reader(k: int):
        async def run():
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                i = 0
                while not stop.is_set():
                    path_ = paths[(i + k) % len(paths)].format(id=ids[i % len(ids)])
                    response = await client.get(path_)
                    reads[0] += 1
                    if response.status_code not in (200, 404):
                        problems.append(f"{path_}: {response.status_code} {response.text[:200]}")
                    elif "locked" in response.text and "database" in response.text:
                        problems.append(f"{path_}: {response.text[:200]}")
                    i += 1

        try:
            asyncio.run(run())
        except Exception as exc:  # noqa: BLE001
            problems.append(f"reader {k}: {exc!r}")

    threads = [threading.Thread(target=writer)]
    threads += [threading.Thread(target=reader, args=(k,)) for k in range(READERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not problems, problems[:5]
    assert writes[0] > 20
    assert reads[0] > 20
