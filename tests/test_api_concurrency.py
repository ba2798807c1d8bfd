"""A crawl writes while the API serves reads: readers never see "database is locked"."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import pytest

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


SLOW_HOST = "slow-resolver.example"


@contextmanager
def live_server(app) -> Iterator[str]:
    """``app`` under a real uvicorn in a thread of this process; yields its base URL."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)


@pytest.mark.parametrize(
    "body",
    [
        {"url": f"https://{SLOW_HOST}/a"},
        {"resources": [{"url": "https://example.org/fast"}, {"url": f"https://{SLOW_HOST}/a"}]},
    ],
    ids=["one", "batch"],
)
def test_a_slow_resolver_does_not_delay_reads(tmp_path, monkeypatch, body):
    """A registration waiting on DNS (the address check) leaves the event loop free."""
    path = tmp_path / "c.db"
    with Store(path) as store:
        store.register("https://example.org/already")
    resolving, release = threading.Event(), threading.Event()
    real_getaddrinfo = socket.getaddrinfo

    def slow_getaddrinfo(host, port, *args, **kwargs):
        if host == "127.0.0.1":
            return real_getaddrinfo(host, port, *args, **kwargs)
        if host != SLOW_HOST:  # any other name: a public address, without asking the network
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port))]
        resolving.set()
        release.wait(10)  # held until the read below is answered (or gave up)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", slow_getaddrinfo)
    app = create_app(path, api_token="t", start_worker=False)
    with live_server(app) as base, ThreadPoolExecutor(1) as pool:
        posted = pool.submit(
            httpx.post,
            base + "/api/resources",
            json=body,
            headers={"Authorization": "Bearer t"},
            timeout=30,
        )
        try:
            assert resolving.wait(10), "the address check never asked the resolver"
            started = time.monotonic()
            read = httpx.get(base + "/api/resources?limit=5", timeout=3)
            elapsed = time.monotonic() - started
            page = httpx.get(base + "/health", timeout=3)
        finally:
            release.set()
        assert read.status_code == 200 and read.json()["total"] >= 1
        assert page.status_code == 200
        assert elapsed < 1.5
        assert posted.result().status_code in (200, 201)
    with Store(path, readonly=True) as store:
        assert store.find_by_url(f"https://{SLOW_HOST}/a") is not None
