"""The Wayback Machine as a fallback: an archived copy for sources the live web fails.

When a live fetch leaves a source without a usable copy (a bot wall, robots.txt, a
soft 404, a dead source, or any failure of a source never fetched well), this item
pipeline asks the Internet Archive for its closest good capture, as Scrapy requests in
the same crawl:

1. the availability API, ``{base}/wayback/available?url=U&timestamp=YYYYMMDD``;
2. if its closest capture is missing or not a 200, the CDX API,
   ``{base}/cdx/search/cdx?url=U&output=json&filter=statuscode:200&limit=-N`` (the
   last N good captures);
3. the capture's original bytes, ``{base}/web/{timestamp}id_/{url}`` (no banner).

The capture becomes a FetchedPage like any other (``fetch_method`` "wayback", its
capture time and archive URL) and goes through extraction and the store, which keeps
it only if the source has no copy as recent (storage/recording.py) and never lets it
touch the source's own health. The archive's failures are counted (``wayback/*``
stats) and logged, nothing more.

Optional (CITECACHE_WAYBACK_SAVE): a source fetched well for the first time is sent to
Save Page Now (SPN2, ``POST {base}/save`` with the operator's S3-style access keys), so
that a capture exists before the source dies.

Politeness: every archive request goes through one download slot of its own, one at a
time, CITECACHE_WAYBACK_DELAY seconds apart (1 s by default, AutoThrottle kept out),
and a 429 or 503 with ``Retry-After`` pauses that slot as long as it asks.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from time import monotonic
from urllib.parse import urlencode, urlsplit

import scrapy
from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler.downloader import RunDeadline
from crawler.items import FetchedPage
from crawler.retry import retry_after_seconds
from storage import FetchResult, FetchTask, iso, utc_now

logger = logging.getLogger(__name__)

METHOD = "wayback"
"""``fetch_method`` of an archived copy (storage/recording.py's ARCHIVED)."""
SLOT = "citecache-wayback"
"""The download slot of every archive request: its own delay and concurrency."""
META = "wayback"
"""Meta key of archive requests: the source they are about (an ``Asked``)."""

AVAILABILITY_BASE = "https://archive.org"
"""The real service's documented hosts, when CITECACHE_WAYBACK_URL is not set."""
CDX_AND_CAPTURE_BASE = "https://web.archive.org"

# Outcomes that leave a source without a usable copy whatever it had before: the
# states named in issue 12 (an HTTP 403 is a bot wall to the store too).
ARCHIVE_OUTCOMES = frozenset({"blocked", "blocked_by_robots", "soft_404"})
# Outcomes the archive cannot help with: a copy is there, the URL may not be fetched,
# or the thing is not a document.
NEVER_ASK = frozenset(
    {"ok", "redirected", "paywalled", "not_modified", "unsafe_url", "not_html", "too_large"}
)


def is_archived(item: FetchedPage | FetchResult) -> bool:
    """The item is a copy from the archive, not a fetch of the source."""
    return getattr(item, "fetch_method", None) == METHOD


def any_failure_asks_archive(task: FetchTask) -> bool:
    """Any failure of this task's fetch is worth asking the archive about: the source has
    no copy yet, or is dead already (the spider notes it on the page, as the task's
    facts do not reach the pipelines)."""
    return not task.has_copy or task.status == "dead"


def _first_good_copy(result: FetchResult) -> bool:
    """A live fetch that gave the first copy of its source (it had none before)."""
    return result.outcome == "ok" and result.archive_fallback and not is_archived(result)


def worth_asking(result: FetchResult) -> bool:
    """This live fetch failed in a way an archived copy can make up for."""
    if is_archived(result) or result.outcome in NEVER_ASK:
        return False
    if result.outcome in ARCHIVE_OUTCOMES or result.http_status == 403:
        return True
    # Any other failure: only for a source with no copy yet, or one already dead.
    return result.archive_fallback


@dataclass(frozen=True)
class Asked:
    """The source an archive request is about (not its result: that may hold a text)."""

    resource_id: str
    url: str


@dataclass(frozen=True)
class Capture:
    timestamp: str
    """The archive's 14-digit capture time, YYYYMMDDhhmmss (UTC)."""
    url: str
    """The URL the archive captured."""

    @property
    def archived_at(self) -> str:
        return iso(datetime.strptime(self.timestamp[:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC))


def closest_capture(body: bytes) -> Capture | None:
    """The availability API's closest capture, if there is one and it was a 200."""
    closest = (json.loads(body).get("archived_snapshots") or {}).get("closest") or {}
    if not closest.get("available") or str(closest.get("status")) != "200":
        return None
    timestamp = str(closest.get("timestamp") or "")
    return Capture(timestamp, _original_url(closest.get("url", ""))) if timestamp else None


def latest_good_capture(body: bytes) -> Capture | None:
    """The newest 200 capture in a CDX JSON answer (a header row, then one row each)."""
    rows = json.loads(body) if body.strip() else []
    if len(rows) < 2:
        return None
    header = rows[0]
    found = [dict(zip(header, row, strict=False)) for row in rows[1:]]
    good = [r for r in found if str(r.get("statuscode")) == "200" and r.get("timestamp")]
    if not good:
        return None
    newest = max(good, key=lambda r: r["timestamp"])
    return Capture(newest["timestamp"], newest.get("original") or "")


def _original_url(archive_url: str) -> str:
    """``http://archive/web/2020.../http://x/y`` -> ``http://x/y`` ("" if not that shape)."""
    _, sep, rest = archive_url.partition("/web/")
    if not sep or "/" not in rest:
        return ""
    return rest.split("/", 1)[1]


class WaybackEndpoints:
    """The three URLs of the service: all under one base if set (a stand-in, a mirror
    of the API), else the real service's documented hosts."""

    def __init__(self, base: str = ""):
        base = base.rstrip("/")
        self.base = base
        self.availability_base = base or AVAILABILITY_BASE
        self.cdx_and_capture_base = base or CDX_AND_CAPTURE_BASE

    def availability(self, url: str, when: datetime) -> str:
        query = urlencode({"url": url, "timestamp": when.strftime("%Y%m%d")})
        return f"{self.availability_base}/wayback/available?{query}"

    def cdx(self, url: str, limit: int) -> str:
        query = urlencode(
            {"url": url, "output": "json", "filter": "statuscode:200", "limit": -limit}
        )
        return f"{self.cdx_and_capture_base}/cdx/search/cdx?{query}"

    def raw(self, capture: Capture) -> str:
        """The capture's original bytes, without the archive's banner and rewriting."""
        return f"{self.cdx_and_capture_base}/web/{capture.timestamp}id_/{capture.url}"

    def save(self) -> str:
        """Save Page Now 2's endpoint."""
        return f"{self.cdx_and_capture_base}/save"

    def viewer(self, capture: Capture) -> str:
        """The capture as a reader sees it in the archive."""
        return f"{self.cdx_and_capture_base}/web/{capture.timestamp}/{capture.url}"

    def hosts(self) -> set[str]:
        """Host names an operator chose (CITECACHE_WAYBACK_URL): trusted even if private."""
        host = urlsplit(self.base).hostname if self.base else None
        return {host} if host else set()

    def owns(self, url: str) -> bool:
        """``url`` is under the operator's archive base."""
        return bool(self.base) and (url == self.base or url.startswith(self.base + "/"))


def endpoints_from(settings) -> WaybackEndpoints | None:
    """The archive's endpoints, or None when the fallback is off: switched off, or an
    offline run from a mirror (CITECACHE_MIRROR_URL), which must stay offline."""
    if not settings.getbool("CITECACHE_WAYBACK_ENABLED") or settings.get("CITECACHE_MIRROR_URL"):
        return None
    return WaybackEndpoints(settings.get("CITECACHE_WAYBACK_URL") or "")


class WaybackFallback:
    """Item pipeline, after extraction: asks the archive for sources the live fetch
    failed (``worth_asking``); the capture comes back through the pipelines."""

    def __init__(
        self,
        crawler,
        endpoints: WaybackEndpoints,
        *,
        delay: float,
        cdx_limit: int,
        save_keys: str | None = None,
    ):
        self.crawler = crawler
        self.stats = crawler.stats
        self.endpoints = endpoints
        self.delay = delay
        self.cdx_limit = cdx_limit
        self.save_keys = save_keys
        """``access:secret`` for Save Page Now, or None: nothing is submitted."""

    @classmethod
    def from_crawler(cls, crawler):
        settings = crawler.settings
        endpoints = endpoints_from(settings)
        if endpoints is None:
            raise NotConfigured
        save_keys = None
        if settings.getbool("CITECACHE_WAYBACK_SAVE"):
            keys = [
                settings.get("CITECACHE_WAYBACK_ACCESS_KEY"),
                settings.get("CITECACHE_WAYBACK_SECRET_KEY"),
            ]
            if all(keys):
                save_keys = ":".join(keys)
            else:  # the fallback works without; only the submissions are off
                logger.warning(
                    "Save Page Now is off: it needs CITECACHE_WAYBACK_ACCESS_KEY "
                    "and CITECACHE_WAYBACK_SECRET_KEY"
                )
        pipeline = cls(
            crawler,
            endpoints,
            delay=settings.getfloat("CITECACHE_WAYBACK_DELAY"),
            cdx_limit=settings.getint("CITECACHE_WAYBACK_CDX_LIMIT"),
            save_keys=save_keys,
        )
        crawler.signals.connect(pipeline._response_downloaded, signal=signals.response_downloaded)
        return pipeline

    def open_spider(self):
        # One at a time, `delay` apart, without jitter (Scrapy reads DOWNLOAD_SLOTS when
        # it creates a slot, also after an idle slot was collected).
        downloader = self.crawler.engine.downloader
        downloader.per_slot_settings[SLOT] = {"concurrency": 1, "delay": self.delay, "jitter": 0}

    def process_item(self, item):
        if isinstance(item, FetchResult) and worth_asking(item):
            self.stats.inc_value("wayback/asked")
            asked = Asked(item.resource_id, item.url)
            self._send(self.endpoints.availability(item.url, utc_now()), self._available, asked)
        elif isinstance(item, FetchResult) and is_archived(item):
            self.stats.inc_value(f"wayback/extracted/{item.outcome}")
        elif isinstance(item, FetchResult) and self.save_keys and _first_good_copy(item):
            self._save(Asked(item.resource_id, item.url))
        return item

    def _save(self, source: Asked) -> None:
        """Ask Save Page Now to capture a source we just fetched well for the first time."""
        self.stats.inc_value("wayback/save/asked")
        self._send(
            self.endpoints.save(),
            self._saved,
            source,
            method="POST",
            body=urlencode({"url": source.url}),
            headers={
                "Authorization": f"LOW {self.save_keys}",
                "Accept": "application/json",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )

    def _saved(self, response: Response):
        if response.status == 200:
            self.stats.inc_value("wayback/save/ok")
        else:
            self._archive_error(response.meta[META], f"Save Page Now: HTTP {response.status}")
        return []

    def _send(
        self,
        url: str,
        callback,
        about: Asked,
        *,
        method: str = "GET",
        body: str | None = None,
        headers: dict | None = None,
        capture: Capture | None = None,
    ) -> None:
        request = scrapy.Request(
            url,
            method=method,
            body=body,
            headers=headers,
            callback=callback,
            errback=self._failed,
            dont_filter=True,
            meta={
                META: about,
                "download_slot": SLOT,
                "autothrottle_dont_adjust_delay": True,
                # the archive's API is called on purpose, like an API, not crawled
                "dont_obey_robotstxt": True,
                "wayback_capture": capture,
            },
        )
        self.crawler.engine.crawl(request)

    def _available(self, response: Response):
        asked: Asked = response.meta[META]
        capture = self._parsed(response, closest_capture)
        if capture is not None:
            self._fetch(capture, asked)
        elif response.status == 200:  # none, or not a good one: the last good ones
            self._send(self.endpoints.cdx(asked.url, self.cdx_limit), self._listed, asked)
        return []

    def _listed(self, response: Response):
        asked: Asked = response.meta[META]
        capture = self._parsed(response, latest_good_capture)
        if capture is not None:
            self._fetch(capture, asked)
        elif response.status == 200:
            self.stats.inc_value("wayback/none")
            logger.info("the archive holds no good capture of %s", asked.url)
        return []

    def _parsed(self, response: Response, parse) -> Capture | None:
        if response.status != 200:
            self._archive_error(response.meta[META], f"HTTP {response.status} from {response.url}")
            return None
        try:
            capture = parse(response.body)
        except (ValueError, TypeError, AttributeError) as exc:
            self._archive_error(response.meta[META], f"unreadable answer: {exc}")
            return None
        if capture is not None and not capture.url:
            capture = Capture(capture.timestamp, response.meta[META].url)
        return capture

    def _fetch(self, capture: Capture, asked: Asked) -> None:
        self.stats.inc_value("wayback/found")
        self._send(self.endpoints.raw(capture), self._captured, asked, capture=capture)

    def _captured(self, response: Response):
        asked: Asked = response.meta[META]
        capture: Capture = response.meta["wayback_capture"]
        if response.status != 200 or not response.body:
            self._archive_error(asked, f"HTTP {response.status} for capture {response.url}")
            return
        self.stats.inc_value("wayback/captured")
        content_type = (response.headers.get("Content-Type") or b"").decode("latin-1")
        yield FetchedPage(
            resource_id=asked.resource_id,
            url=asked.url,
            started_at=iso(utc_now()),
            outcome="fetched",
            duration_ms=int(response.meta.get("download_latency", 0) * 1000),
            http_status=200,
            final_url=capture.url or asked.url,
            content_type=content_type.split(";")[0].strip().lower() or None,
            body=response.body,
            bytes=len(response.body),
            fetch_method=METHOD,
            archived_at=capture.archived_at,
            archive_url=self.endpoints.viewer(capture),
        )

    def _failed(self, failure: Failure):
        request = failure.request  # type: ignore[attr-defined]  # set by Scrapy
        if failure.check(RunDeadline):  # never sent: asked again if the source fails again
            self.stats.inc_value("wayback/left_for_next_run")
            return
        self._archive_error(request.meta[META], f"{type(failure.value).__name__}: {failure.value}")

    def _archive_error(self, asked: Asked, reason: str) -> None:
        # The source's own state is not touched: the archive failing says nothing of it.
        self.stats.inc_value("wayback/error")
        logger.warning("the archive failed for %s: %s", asked.url, reason)

    def _response_downloaded(self, response: Response, request: scrapy.Request, **kwargs):
        if META not in request.meta or response.status not in (429, 503):
            return
        wait = retry_after_seconds(response.headers.get("Retry-After"))
        slot = self.crawler.engine.downloader.slots.get(SLOT)
        if wait and slot is not None:
            # The slot's next request starts `delay` after lastseen (crawler/downloader.py).
            slot.lastseen = max(slot.lastseen, monotonic() + wait - slot.delay)
            self.stats.inc_value("wayback/retry_after_honoured")
            logger.info("the archive asks for %g s of rest", wait)
