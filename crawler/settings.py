"""Scrapy settings of citecache, and its own ``CITECACHE_*`` keys (each documented here).

Any key can be overridden per run: ``scrapy crawl resources -s KEY=VALUE`` or the CLI's
options. Environment variables named like a key (``CITECACHE_DB``) are read for the ones
a cron job typically sets.
"""

import os

from citecache import __version__
from storage import DEFAULT_DB_PATH

BOT_NAME = "citecache"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

# ---- citecache --------------------------------------------------------------------
CITECACHE_DB = os.environ.get("CITECACHE_DB", DEFAULT_DB_PATH)
"""The cache: a SQLite file path or a ``postgresql://`` URL."""
CITECACHE_CONTACT_URL = os.environ.get(
    "CITECACHE_CONTACT_URL", "https://github.com/citecache/citecache"
)
"""Where a site owner can find out who crawls them; part of the User-Agent."""
CITECACHE_ALLOW_PRIVATE = os.environ.get("CITECACHE_ALLOW_PRIVATE", "") in ("1", "true", "yes")
"""Allow fetching private, loopback and link-local addresses (tests, intranets)."""
CITECACHE_CRAWL_MODE = "due"
"""Which resources a crawl takes: due | all (the CLI's --due / --all)."""
CITECACHE_CRAWL_REFS: list[str] = []
"""Explicit ids or URLs to fetch (the CLI's --url and refetch); overrides the mode."""
CITECACHE_REQUEST_IDS: list[int] = []
"""Editor re-fetch requests to serve now (refetch); overrides mode and refs."""
CITECACHE_RUN_ID = ""
"""This run's id (storage.lock.FetchRun), stamped on the editor requests it claims; the
crawl commands set it. Empty: the task source registers a run of its own."""
CITECACHE_CRAWL_LIMIT = 0
"""Fetch at most this many resources in a run (0: no limit)."""
CITECACHE_MAX_RUNTIME = 0
"""Seconds after which a run sends nothing more and ends (0: no limit); --max-runtime."""
CITECACHE_FORCE = False
"""Bypass conditional requests and freshness (refetch)."""
CITECACHE_EXTRACT_WORKERS = 0
"""Extraction processes; 0 means one per core."""
CITECACHE_EXTRACT_MAX_PENDING = 0
"""Pages handed to extraction and not yet back; 0 means 4 per worker. Bounds memory."""
CITECACHE_EXTRACT_EAGER = False
"""Start the extraction processes with the crawl, not with its first page (the worker)."""
CITECACHE_EXTRACT_TIMEOUT = 60.0
"""Seconds one page's extraction may take (0: no limit); a page over it is recorded as
extraction_failed ("time limit") and its process replaced. The slowest real pages we
measured, 5 MB of text or of tables, take 10-25 s."""
CITECACHE_EXTRACT_MEMORY_MB = 2048
"""Address space of one extraction process, in MB (0: no limit); a page that takes its
process near it is recorded as extraction_failed ("memory limit") and the process
replaced. A 5 MB page of tables peaks near 500 MB."""
CITECACHE_WRITE_BATCH_SIZE = 50
"""Results stored per SQLite transaction."""
CITECACHE_WRITE_INTERVAL = 1.0
"""Seconds after which a partial batch is written anyway, even if no new result comes."""
CITECACHE_PREVIEW_MAX_CHARS = 51_200
"""Size of the stored preview in UTF-16 code units (the wiki's JavaScript length), cut at a
word boundary."""
CITECACHE_MIRROR_URL = os.environ.get("CITECACHE_MIRROR_URL", "")
"""Fetch everything from a local mirror laid out as MIRROR/host/path (offline runs)."""
CITECACHE_TTL_DAYS = 26
"""Days between successful checks of a source (jittered by 10%): at most 28.6, so that a
daily crawl keeps every healthy source younger than the wiki's 30 days of freshness."""
CITECACHE_TTL_OVERRIDES: dict[str, float] = {}
"""Days per ``domain:HOST``, ``venue:ID`` or ``type:TYPE``, e.g. {"type:paper": 180}."""
CITECACHE_DEAD_AFTER = 3
"""Gone answers (404, 410, DNS failure) needed before a source counts as dead..."""
CITECACHE_DEAD_SPACING_HOURS = 24
"""...each at least this many hours after the previous one counted."""
CITECACHE_PROGRESS = None
"""Show a progress line on stderr; None: only when stderr is a terminal."""
CITECACHE_TASK_SOURCE = "crawler.frontier.StoreTaskSource"
"""Where the spider takes its tasks from (a class with ``from_settings``)."""
CITECACHE_RESULT_SINK = "crawler.frontier.StoreResultSink"
"""Where the store pipeline writes its result batches (a class with ``from_settings``)."""
CITECACHE_WORKER_BATCH = 16
"""Tasks a worker (``citecache worker``) claims per round; its --batch."""
CITECACHE_WORKER_IDLE = 0.5
"""Seconds between an idle worker's looks for editors' requests (an indexed count); --idle."""
CITECACHE_WORKER_DUE_INTERVAL = 30.0
"""Seconds between an idle worker's looks for due resources (a claim); --due-every."""
CITECACHE_WORKER_MAX_IN_FLIGHT = 0
"""Tasks a worker has claimed and not yet stored, at most; 0: twice CONCURRENT_REQUESTS
plus CITECACHE_WRITE_BATCH_SIZE (with leases, at least enough leases to fill every slot).
Editors' requests may go one batch beyond it."""
CITECACHE_WORKER_LEASES = False
"""Claim work by host lease (storage/leases.py): several workers on one database, one
per host at a time; on by default for PostgreSQL (the worker command decides)."""
CITECACHE_WORKER_PER_HOST = 8
"""With leases: resources of one host claimed per lease."""
CITECACHE_WORKER_HOSTS = 0
"""With leases: hosts a worker leases at once, at most; 0: enough to fill every download
slot and a quarter more (CONCURRENT_REQUESTS / CONCURRENT_REQUESTS_PER_DOMAIN x 1.25).
More would leave hosts waiting in one worker's queue that others could fetch."""
CITECACHE_WORKER_LEASE_SECONDS = 120.0
"""With leases: how long a lease lasts unless renewed (renewed every third of it). A
worker that dies loses its hosts this long."""
CITECACHE_WORKER_UNTIL_IDLE = False
"""End when nothing is due and nothing is in flight (a crawl on PostgreSQL)."""
CITECACHE_HOST_REST = None
"""With leases: seconds a host rests after a lease before the next (which may be another
worker's), unless the server asked for longer (Retry-After); None: the delay a worker
keeps between a host's requests, DOWNLOAD_DELAY or, with AutoThrottle, its start delay
if larger. This keeps the per-host delay across lease hand-overs too."""
CITECACHE_WARC_ENABLED = True
"""Keep every response that has a body (the bytes behind each snapshot, and failures'
pages) as WARC/1.1 records (crawler/warc.py); an unchanged body becomes a revisit record."""
CITECACHE_WARC_DIR = os.environ.get("CITECACHE_WARC_DIR", "")
"""Folder of the ``.warc.gz`` files; empty: ``warc/`` beside a SQLite database, or
``$XDG_DATA_HOME/citecache/warc`` (``~/.local/share/citecache/warc``) for PostgreSQL."""
CITECACHE_WARC_MAX_SIZE = 1024**3
"""Bytes after which a WARC file is closed and the next one started (1 GiB)."""
CITECACHE_WAYBACK_ENABLED = os.environ.get("CITECACHE_WAYBACK_ENABLED", "1") in ("1", "true", "yes")
"""Ask the Internet Archive's Wayback Machine for a copy of a source the live web fails:
blocked, blocked by robots.txt, a soft 404, dead, or never fetched well (crawler/wayback.py).
Off in runs from a mirror (CITECACHE_MIRROR_URL)."""
CITECACHE_WAYBACK_URL = os.environ.get("CITECACHE_WAYBACK_URL", "")
"""Base URL of the archive's three calls (``/wayback/available``, ``/cdx/search/cdx``,
``/web/{timestamp}id_/{url}``); empty: archive.org and web.archive.org. An operator's
choice, so it may be a private or local address (a stand-in) even when sources may not."""
CITECACHE_WAYBACK_DELAY = 1.0
"""Seconds between two requests to the archive (one at a time); a ``Retry-After`` from it
pauses them longer."""
CITECACHE_WAYBACK_CDX_LIMIT = 5
"""Newest good captures asked of the CDX API when the closest capture is not a good one."""
CITECACHE_WAYBACK_SAVE = False
"""Submit each source fetched well for the first time to the archive's Save Page Now
(SPN2, ``POST {base}/save``), so that a capture exists before it dies; needs the keys."""
CITECACHE_WAYBACK_ACCESS_KEY = os.environ.get("CITECACHE_WAYBACK_ACCESS_KEY", "")
"""The access key of the archive.org account Save Page Now runs under
(https://archive.org/account/s3.php)."""
CITECACHE_WAYBACK_SECRET_KEY = os.environ.get("CITECACHE_WAYBACK_SECRET_KEY", "")
"""Its secret key; sent as ``Authorization: LOW access:secret``."""
CITECACHE_BROWSER_ENABLED = True
"""Render pages that look script-rendered (an app shell) in a browser and extract them
again (crawler/browser.py); off: keep what plain HTTP gives."""
CITECACHE_BROWSER_PATH = os.environ.get("CITECACHE_BROWSER_PATH", "/usr/bin/chromium")
"""The Chromium the browser fallback drives (Debian's: apt-get install chromium)."""
CITECACHE_BROWSER_HOSTS: list[str] = []
"""Hosts whose pages are always rendered in the browser, e.g. ["forum.example.org"]."""
CITECACHE_BROWSER_PAGES = 4
"""Pages rendered at once, at most (each holds a renderer process of 50-100 MB)."""
CITECACHE_BROWSER_TIMEOUT = 20.0
"""Seconds a page may take to load in the browser, and again to settle (its network
idle) before it is read; a page that never settles is read as it is then."""
CITECACHE_HTML_TYPES = ["text/html", "application/xhtml+xml", "application/pdf", "text/plain"]
"""Content types handed to extraction; anything else is recorded as not_html."""

# ---- Scrapy ----------------------------------------------------------------------
USER_AGENT = f"citecache/{__version__} (+{CITECACHE_CONTACT_URL})"
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 32
CONCURRENT_REQUESTS_PER_DOMAIN = 2
# Enforces the per-host limit above, which Scrapy 2.19's own downloader overshoots.
DOWNLOADER = "crawler.downloader.PoliteDownloader"
DOWNLOAD_DELAY = 0
DOWNLOAD_DELAY_JITTER = 0.5
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.5
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 20 * 1024 * 1024
DOWNLOAD_WARNSIZE = 5 * 1024 * 1024
REDIRECT_MAX_TIMES = 10
RETRY_ENABLED = True
RETRY_TIMES = 2
# Transient failures only: 5xx, 408 and 429. Other 4xx answers will not change on retry.
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
# Scrapy's list minus DNS failures: a name that does not resolve is not a blip.
RETRY_EXCEPTIONS = [
    "scrapy.exceptions.DownloadConnectionRefusedError",
    "scrapy.exceptions.DownloadFailedError",
    "scrapy.exceptions.DownloadTimeoutError",
    "scrapy.exceptions.ResponseDataLossError",
    "twisted.internet.error.ConnectionDone",
    "twisted.internet.error.ConnectError",
    "twisted.internet.error.ConnectionLost",
    OSError,
]
CITECACHE_RETRY_BACKOFF_BASE = 1.0
"""Seconds before the first retry; doubled at each further one (with +/-25% jitter)."""
CITECACHE_RETRY_MAX_DELAY = 60.0
"""Longest wait (backoff or Retry-After) a run sits out; longer ones end the fetch."""
# Every status reaches the spider, so a 404 is recorded rather than dropped.
HTTPERROR_ALLOW_ALL = True
# Each response yields exactly one item; Scrapy's default (100) starts 100 asyncio tasks
# per response to process items in parallel, a measurable share of the reactor's CPU.
CONCURRENT_ITEMS = 1
COOKIES_ENABLED = False
# Both consoles run Python sent to a local port inside the crawl; an unattended cron
# crawler needs neither. Scrapy 2.19's RemoteControl (on by default) also writes its port
# and token to a job file under the user's profile (~/.local/state/scrapy/job_files).
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False
DNSCACHE_ENABLED = True
# Connections get only addresses that passed the address check (DNS rebinding).
TWISTED_DNS_RESOLVER = "crawler.resolver.SafeResolver"
LOG_LEVEL = os.environ.get("CITECACHE_LOG_LEVEL", "INFO")
# Retried and redirected requests are not duplicates of ours; every task is fetched once.
DUPEFILTER_CLASS = "scrapy.dupefilters.BaseDupeFilter"

# Ours replace Scrapy's at the same priority. The Typed* ones raise their giving-up
# IgnoreRequest as a type of its own, which the spider records without reading messages.
DOWNLOADER_MIDDLEWARES = {
    "crawler.middlewares.MirrorMiddleware": 40,
    "crawler.middlewares.SafeURLMiddleware": 50,
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawler.robots.SharedRobotsTxtMiddleware": 100,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.retry.BackoffRetryMiddleware": 550,
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "crawler.middlewares.TypedMetaRefreshMiddleware": 580,
    "scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware": None,
    "crawler.middlewares.TypedHttpCompressionMiddleware": 590,
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
    "crawler.middlewares.TypedRedirectMiddleware": 600,
    # next to the downloader: the response as received, before decompression
    "crawler.warc.WarcCaptureMiddleware": 950,
}
ITEM_PIPELINES = {
    "crawler.warc.WarcPipeline": 200,
    "crawler.pipelines.ExtractPipeline": 300,
    "crawler.wayback.WaybackFallback": 500,
    "crawler.pipelines.StorePipeline": 800,
}
EXTENSIONS = {
    "crawler.extensions.CrawlProgress": 500,
}
