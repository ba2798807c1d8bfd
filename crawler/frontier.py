"""Where the spider's work comes from and where its results go.

Both sit behind two small interfaces so that a shared frontier can replace the SQLite
ones for multi-machine crawls without touching the spider. A source is a stream of
task batches: a one-shot crawl's ends, a long-running worker's does not.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from datetime import timedelta
from typing import Protocol, TypeVar

from scrapy.settings import BaseSettings

from storage import FetchResult, FetchTask, Store
from storage.backend import RequestListener
from storage.health import HealthPolicy
from storage.leases import HostLease
from storage.lock import FetchRun

logger = logging.getLogger(__name__)
T = TypeVar("T")

results_stored = object()
"""Signal sent by the store pipeline after each batch write, with ``results`` (the
FetchResults) and ``statuses`` (each one's new status, ``store_error`` if not stored)."""


class TaskSource(Protocol):
    def stream(self) -> AsyncIterator[list[FetchTask]]:
        """Batches of resources to fetch, in the order to fetch them."""

    def settled(self, resource_ids: Iterable[str], *, stored: bool = True) -> None:
        """These tasks are over: their results were stored (or, ``stored=False``, never
        will be). A source that claims in rounds stops excluding them."""

    def fetched(self, resource_id: str) -> None:
        """The task's request is answered (or failed): its host is free of it, though
        its result is not stored yet. Optional."""

    def close(self) -> None: ...


class ResultSink(Protocol):
    def write(self, results: list[FetchResult]) -> list[str]:
        """Store a batch of results atomically; return each resource's new status."""

    def close(self) -> None: ...


class StoreTaskSource:
    """Takes tasks from the SQLite store: editor requests, never fetched, most overdue.

    One batch, the whole run's list. The editor requests it serves are claimed for its
    run (storage/lock.py), so two processes never fetch the same request, and only
    orphaned ones are requeued.
    """

    def __init__(
        self,
        db_path: str,
        *,
        run_id: str = "",
        mode: str = "due",
        refs: Iterable[str] = (),
        request_ids: Iterable[int] = (),
        limit: int = 0,
        force: bool = False,
    ):
        self.db_path, self.mode, self.refs = db_path, mode, list(refs)
        self.request_ids = [int(i) for i in request_ids]
        self.limit, self.force = limit or None, force
        # Without a run from the command that started us (`scrapy crawl`), be one.
        self._own_run = None if run_id else FetchRun(db_path)
        self.run_id = run_id or self._own_run.run_id  # type: ignore[union-attr]

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> StoreTaskSource:
        return cls(
            settings.get("CITECACHE_DB"),
            run_id=settings.get("CITECACHE_RUN_ID") or "",
            mode=settings.get("CITECACHE_CRAWL_MODE", "due"),
            refs=settings.getlist("CITECACHE_CRAWL_REFS"),
            request_ids=settings.getlist("CITECACHE_REQUEST_IDS"),
            limit=settings.getint("CITECACHE_CRAWL_LIMIT"),
            force=settings.getbool("CITECACHE_FORCE"),
        )

    async def stream(self) -> AsyncIterator[list[FetchTask]]:
        yield self.tasks()

    def settled(self, resource_ids: Iterable[str], *, stored: bool = True) -> None:
        pass  # nothing is claimed again in a one-shot run

    def fetched(self, resource_id: str) -> None:
        pass

    def close(self) -> None:
        pass

    def tasks(self) -> list[FetchTask]:
        if self._own_run is not None:
            self._own_run.acquire()  # held until the process ends
        with Store(self.db_path) as store:
            if self.request_ids:  # already claimed by this run when they were recorded
                return store.request_tasks(self.request_ids)
            store.requeue_orphaned_requests()
            return store.claim_tasks(
                self.run_id, mode=self.mode, refs=self.refs, limit=self.limit, force=self.force
            )


class ClaimingTaskSource:
    """A long-running worker's tasks: claims a batch at a time from the store, for ever.

    Editors' requests first, then due resources. At most ``max_in_flight`` claimed tasks
    are unsettled at a time (Scrapy 2.19 drains ``start()`` into its scheduler without
    pausing, so the bound is ours); editors' requests may go one batch beyond it so that
    a backlog of due work never keeps them waiting. Resources in flight are excluded from
    the next claims. With nothing to do it looks for editors' requests every ``idle``
    seconds (an indexed count) and for due resources every ``due_interval`` seconds (a
    claim, which takes the write lock). The store is used on a thread of its own: its
    calls block, the reactor must not.
    """

    STALE_SECONDS = 3600.0
    """A task unsettled this long is forgotten (a bug lost its result): the bound must
    not shrink for ever. At worst the resource is fetched twice."""
    FAILURE_PAUSE_SECONDS = 1.0
    """After a failed claim, wait this long (doubled at each further failure, to 60 s)."""
    WAKE_POLL_SECONDS = 0.05
    """An idle worker on SQLite looks this often whether another process committed
    (``PRAGMA data_version``: a read of shared memory, ~10 µs)."""
    COOL_DOWN_SECONDS = 3600.0
    """A resource whose result could not be stored is not claimed again this soon,
    so that a store error never turns into fetching one page in a loop."""

    def __init__(
        self,
        db_path: str,
        *,
        run_id: str,
        batch: int = 16,
        idle: float = 0.5,
        due_interval: float = 30.0,
        max_in_flight: int = 64,
        runtime: float = 0.0,
        leases: bool = False,
        per_host: int = 8,
        lease_seconds: float = 120.0,
        until_idle: bool = False,
        max_hosts: int = 0,
    ):
        if not run_id:
            raise ValueError("a claiming source needs the run id of its worker (CITECACHE_RUN_ID)")
        self.db_path, self.run_id = db_path, run_id
        self.batch, self.idle, self.due_interval = batch, idle, due_interval
        self.leases, self.per_host, self.lease_seconds = leases, per_host, lease_seconds
        """With ``leases``, work is claimed by host (storage/leases.py): one worker per host
        across a fleet; the leases are renewed while the worker runs."""
        self.until_idle = until_idle
        self.max_hosts = max_hosts
        """With leases: hosts leased at once, at most (0: no bound)."""
        self._unfetched: dict[str, str] = {}  # leased resource not yet fetched -> its host
        self._fetching: Counter[str] = Counter()  # leased host -> its tasks not yet fetched
        """End the stream when nothing is due and nothing is in flight (a crawl)."""
        self._next_renewal = 0.0
        self._next_requeue = 0.0  # orphaned requests, looked for every due_interval
        self.max_in_flight = max(max_in_flight, batch)
        self.deadline = time.monotonic() + runtime if runtime > 0 else None
        self.in_flight: Counter[str] = Counter()
        self._claimed_at: dict[str, float] = {}
        self._cooling: dict[str, float] = {}
        self._settled: asyncio.Event | None = None
        self._next_due_look = 0.0
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="citecache-frontier")
        self._store: Store | None = None
        self._listener: RequestListener | None = None
        self._stopping = threading.Event()

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> ClaimingTaskSource:
        concurrency = settings.getint("CONCURRENT_REQUESTS")
        per_host = settings.getint("CITECACHE_WORKER_PER_HOST")
        # Twice the download slots, plus the results waiting for their write batch: a
        # task settles only once stored, and a full batch must not starve the fetching.
        max_in_flight = 2 * concurrency + settings.getint("CITECACHE_WRITE_BATCH_SIZE")
        max_hosts = settings.getint("CITECACHE_WORKER_HOSTS")
        if settings.getbool("CITECACHE_WORKER_LEASES"):
            # Enough hosts leased at once to fill every download slot (a host takes only
            # CONCURRENT_REQUESTS_PER_DOMAIN requests at a time), a quarter more for the
            # leases near their end, and no more: a host leased and left waiting in this
            # worker's queue is a host no other worker of the fleet can fetch.
            per_domain = max(1, settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN"))
            max_hosts = max_hosts or -(-5 * concurrency // (4 * per_domain))
            max_in_flight = max(max_in_flight, max_hosts * per_host)
        return cls(
            settings.get("CITECACHE_DB"),
            run_id=settings.get("CITECACHE_RUN_ID") or "",
            batch=settings.getint("CITECACHE_WORKER_BATCH"),
            idle=settings.getfloat("CITECACHE_WORKER_IDLE"),
            due_interval=settings.getfloat("CITECACHE_WORKER_DUE_INTERVAL"),
            max_in_flight=settings.getint("CITECACHE_WORKER_MAX_IN_FLIGHT") or max_in_flight,
            runtime=settings.getfloat("CITECACHE_MAX_RUNTIME"),
            leases=settings.getbool("CITECACHE_WORKER_LEASES"),
            per_host=per_host,
            lease_seconds=settings.getfloat("CITECACHE_WORKER_LEASE_SECONDS"),
            until_idle=settings.getbool("CITECACHE_WORKER_UNTIL_IDLE"),
            max_hosts=max_hosts,
        )

    # ---- the stream ---------------------------------------------------------------

    async def stream(self) -> AsyncIterator[list[FetchTask]]:
        self._settled = asyncio.Event()
        self._next_due_look = 0.0
        await self._start_listening(self._settled)
        failures = 0
        while self.deadline is None or time.monotonic() < self.deadline:
            self._forget_stale()
            try:
                await self._renew_leases()
                tasks = await self._round()
                failures = 0
            except Exception:
                # A locked or unreachable database must not end a worker that is meant
                # to run for ever (Scrapy would close the spider when start() raises).
                failures += 1
                pause = min(self.FAILURE_PAUSE_SECONDS * 2 ** (failures - 1), 60.0)
                logger.exception("could not claim tasks; trying again in %.0f s", pause)
                await asyncio.sleep(pause)
                continue
            idle = not tasks and self.until_idle and not self.in_flight
            if idle and not await self._call(self._waiting):
                return  # nothing due, nothing in flight, no host resting with work
            if tasks:
                self._track(tasks)
                logger.info(
                    "claimed %d task(s), %d editor request(s); %d in flight",
                    len(tasks),
                    sum(t.request_id is not None for t in tasks),
                    sum(self.in_flight.values()),
                )
                yield tasks
                continue
            await self._wait_idle()

    async def _wait_idle(self) -> None:
        """Until a task settles (room at once) or ``idle`` seconds have passed; with
        nothing in flight on SQLite, also until another process commits to the database
        (an import, a queued request: look for due work now, not at the next due
        interval). A busy worker waits as before: its own results change the file."""
        settled = self._settled
        assert settled is not None  # set by stream()
        settled.clear()
        version = None if self.in_flight else await self._call(self._data_version)
        if version is None:
            with suppress(TimeoutError):
                await asyncio.wait_for(settled.wait(), self.idle)
            return
        deadline = time.monotonic() + self.idle
        while (left := deadline - time.monotonic()) > 0:
            with suppress(TimeoutError):
                await asyncio.wait_for(settled.wait(), min(left, self.WAKE_POLL_SECONDS))
                return
            if await self._call(self._data_version) != version:
                self._next_due_look = 0.0
                return

    async def _round(self) -> list[FetchTask]:
        """One look at the store: the tasks claimed, if any."""
        busy = sum(self.in_flight.values())
        room = self.max_in_flight - busy
        if self.leases:
            # Claims by host are cheap (an index on the hosts' due time) and a released
            # host rests only a moment: look at every round while there is room.
            # Hosts whose tasks are all fetched do not count: their results are only
            # waiting to be stored, which ends their lease.
            free_hosts = self.max_hosts - len(self._fetching) if self.max_hosts else room
            if room <= 0 or free_hosts <= 0:
                return []
            per_host = min(self.per_host, room)
            hosts = min(free_hosts, max(1, room // per_host))
            leases = await self._call(self._claim_hosts, hosts, per_host)
            for lease in leases:
                for task in lease.tasks:
                    if task.resource_id not in self._unfetched:
                        self._unfetched[task.resource_id] = lease.host
                        self._fetching[lease.host] += 1
            return [task for lease in leases for task in lease.tasks]
        # Due work in whole batches (one write transaction each), not one per result.
        if room >= self.batch and time.monotonic() >= self._next_due_look:
            # copied here: the sets change on this thread while the claim runs on its own
            exclude = [*self.in_flight, *self._cooling]
            tasks = await self._call(self._claim, "due", self.batch, exclude)
            if len(tasks) < self.batch:  # all that is due now: look again later
                self._next_due_look = time.monotonic() + self.due_interval
            return tasks
        if room + self.batch > 0 and await self._call(self._queued) > 0:
            return await self._call(self._claim, "requests", min(self.batch, room + self.batch), [])
        return []

    def _track(self, tasks: list[FetchTask]) -> None:
        now = time.monotonic()
        for task in tasks:
            self.in_flight[task.resource_id] += 1
            self._claimed_at.setdefault(task.resource_id, now)

    def settled(self, resource_ids: Iterable[str], *, stored: bool = True) -> None:
        now = time.monotonic()
        for resource_id in resource_ids:
            if self.in_flight[resource_id] > 1:
                self.in_flight[resource_id] -= 1
            else:
                self._forget(resource_id)
            if not stored:
                self._cooling[resource_id] = now + self.COOL_DOWN_SECONDS
        if self._settled is not None:
            self._settled.set()

    def fetched(self, resource_id: str) -> None:
        host = self._unfetched.pop(resource_id, None)
        if host is not None:
            self._fetching[host] -= 1
            if self._fetching[host] <= 0:
                del self._fetching[host]
            if self._settled is not None:  # room for another host
                self._settled.set()

    def _forget(self, resource_id: str) -> None:
        """The task of ``resource_id`` is settled: it frees its place (and its host's, if
        it was never fetched)."""
        self.in_flight.pop(resource_id, None)
        self._claimed_at.pop(resource_id, None)
        self.fetched(resource_id)

    def _forget_stale(self) -> None:
        now = time.monotonic()
        for resource_id, since in list(self._claimed_at.items()):
            if now - since > self.STALE_SECONDS:
                logger.warning("no result for %s after %.0f s: forgotten", resource_id, now - since)
                self._forget(resource_id)
        for resource_id, until in list(self._cooling.items()):
            if now >= until:
                del self._cooling[resource_id]

    # ---- on the store's thread ----------------------------------------------------

    async def _call(self, fn: Callable[..., T], *args) -> T:
        return await asyncio.wrap_future(self._thread.submit(fn, *args))

    def _open(self) -> Store:
        if self._store is None:
            self._store = Store(self.db_path)
        return self._store

    def _claim(self, mode: str, limit: int, exclude: list[str]) -> list[FetchTask]:
        self._requeue_orphans()
        return self._open().claim_tasks(self.run_id, mode=mode, limit=limit, exclude=exclude)

    def _requeue_orphans(self) -> None:
        """Put back the requests of runs killed meanwhile (a refetch -9'd): a write, so
        once every due interval, not at every claim."""
        if time.monotonic() >= self._next_requeue:
            self._open().requeue_orphaned_requests()
            self._next_requeue = time.monotonic() + self.due_interval

    def _queued(self) -> int:
        return self._open().queued_request_count()

    def _data_version(self) -> int | None:
        return self._open().sql.data_version()

    async def _start_listening(self, wake: asyncio.Event) -> None:
        """Where the database can say so (PostgreSQL NOTIFY), wake the idle wait as soon
        as an editor's request is queued, instead of at the next poll."""
        if self._listener is not None:
            return
        self._listener = await self._call(lambda: self._open().sql.listen_requests())
        if self._listener is None:
            return
        listener, loop = self._listener, asyncio.get_running_loop()

        def listen() -> None:
            try:
                while not self._stopping.is_set():
                    if listener.wait(1.0):
                        loop.call_soon_threadsafe(wake.set)
            finally:
                listener.close()

        threading.Thread(target=listen, name="citecache-listen", daemon=True).start()

    def _claim_hosts(self, hosts: int, per_host: int) -> list[HostLease]:
        self._requeue_orphans()
        return self._open().claim_hosts(
            self.run_id, hosts=hosts, per_host=per_host, lease_seconds=self.lease_seconds
        )

    def _waiting(self) -> int:
        return self._open().hosts_waiting() if self.leases else 0

    async def _renew_leases(self) -> None:
        if not self.leases or time.monotonic() < self._next_renewal:
            return
        self._next_renewal = time.monotonic() + self.lease_seconds / 3
        await self._call(lambda: self._open().renew_leases(self.run_id, self.lease_seconds))

    def close(self) -> None:
        self._stopping.set()  # the listening thread ends within a second

        def close_store() -> None:
            if self._store is not None:
                if self.leases:  # its unrecorded resources stay due for the next lease
                    self._store.release_leases(self.run_id)
                self._store.close()
                self._store = None

        self._thread.submit(close_store).result()
        self._thread.shutdown(wait=True)


class StoreResultSink:
    """Writes result batches to the store, one transaction per batch.

    A batch that cannot be written at all (the database unreachable: a PostgreSQL
    restart, a disk full) is tried again with growing pauses before it is given up,
    so that a short outage costs time, not results. Errors of single results are the
    store's business (it reports them per result).
    """

    RETRY_PAUSES = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0)
    """Seconds between attempts: about a minute in all."""

    def __init__(self, db_path: str, *, preview_max_chars: int, policy: HealthPolicy):
        self.store = Store(db_path, preview_max_chars=preview_max_chars, policy=policy)

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> StoreResultSink:
        return cls(
            settings.get("CITECACHE_DB"),
            preview_max_chars=settings.getint("CITECACHE_PREVIEW_MAX_CHARS"),
            policy=health_policy(settings),
        )

    def write(self, results: list[FetchResult]) -> list[str]:
        for pause in (*self.RETRY_PAUSES, None):
            try:
                return self.store.record_results(results)
            except Exception as exc:
                if pause is None:
                    raise
                logger.warning(
                    "writing %d result(s) failed (%s); trying again in %.1f s",
                    len(results),
                    exc,
                    pause,
                )
                time.sleep(pause)
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.store.close()


def health_policy(settings: BaseSettings) -> HealthPolicy:
    """The store's link-health and scheduling policy from CITECACHE_* settings."""
    overrides = settings.getdict("CITECACHE_TTL_OVERRIDES")
    return HealthPolicy(
        dead_after=settings.getint("CITECACHE_DEAD_AFTER"),
        dead_spacing=timedelta(hours=settings.getfloat("CITECACHE_DEAD_SPACING_HOURS")),
        ttl=timedelta(days=settings.getfloat("CITECACHE_TTL_DAYS")),
        ttl_overrides={key: timedelta(days=float(days)) for key, days in overrides.items()},
        host_delay=host_rest(settings),
    )


def host_rest(settings: BaseSettings) -> float:
    """Seconds a host rests between leases (CITECACHE_HOST_REST)."""
    if settings.get("CITECACHE_HOST_REST") is not None:
        return settings.getfloat("CITECACHE_HOST_REST")
    delay = settings.getfloat("DOWNLOAD_DELAY")
    if settings.getbool("AUTOTHROTTLE_ENABLED"):
        delay = max(delay, settings.getfloat("AUTOTHROTTLE_START_DELAY"))
    return delay
