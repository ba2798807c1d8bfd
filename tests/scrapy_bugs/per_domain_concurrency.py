"""Scrapy 2.19 sends more than CONCURRENT_REQUESTS_PER_DOMAIN requests to one host at once.

Standalone: a threaded HTTP server on 127.0.0.1 holds every request for HOLD seconds and
counts how many are open at the same time; a spider sends REQUESTS requests to it with
CONCURRENT_REQUESTS_PER_DOMAIN = LIMIT and no download delay. Prints one JSON line.

    python per_domain_concurrency.py                 # Scrapy's own downloader
    python per_domain_concurrency.py my.Downloader   # another DOWNLOADER class
"""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import scrapy
from scrapy.crawler import CrawlerProcess

REQUESTS = 8
LIMIT = 2
HOLD = 0.5


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.lock = threading.Lock()
        self.open = 0
        self.peak = 0


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        server = self.server
        with server.lock:
            server.open += 1
            server.peak = max(server.peak, server.open)
        try:
            time.sleep(HOLD)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
        finally:
            with server.lock:
                server.open -= 1

    def log_message(self, *args) -> None:
        pass


class OneHostSpider(scrapy.Spider):
    name = "one_host"

    async def start(self):
        for i in range(REQUESTS):
            yield scrapy.Request(f"{self.base}/page/{i}", dont_filter=True)

    def parse(self, response):
        self.crawler.stats.inc_value("pages")


def main() -> None:
    server = Server()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings = {
        "CONCURRENT_REQUESTS": 16,
        "CONCURRENT_REQUESTS_PER_DOMAIN": LIMIT,
        "DOWNLOAD_DELAY": 0,
        "AUTOTHROTTLE_ENABLED": False,
        "ROBOTSTXT_OBEY": False,
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,
        "LOG_LEVEL": "WARNING",
    }
    if len(sys.argv) > 1:
        settings["DOWNLOADER"] = sys.argv[1]
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(OneHostSpider)
    process.crawl(crawler, base=f"http://127.0.0.1:{server.server_address[1]}")
    process.start()
    server.shutdown()
    print(
        json.dumps(
            {
                "scrapy": scrapy.__version__,
                "downloader": settings.get("DOWNLOADER", "scrapy.core.downloader.Downloader"),
                "requests": REQUESTS,
                "fetched": crawler.stats.get_value("pages", 0),
                "per_domain_limit": LIMIT,
                "peak_in_flight": server.peak,
            }
        )
    )


if __name__ == "__main__":
    main()
