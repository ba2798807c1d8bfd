"""Scrapy 2.19 fetches pages robots.txt disallows when several requests wait on the file.

Standalone: a threaded HTTP server on 127.0.0.1 serves a robots.txt that disallows
/private/ (after HOLD seconds, so that every request arrives while it downloads) and
counts the requests for /private/ pages; a spider with ROBOTSTXT_OBEY = True asks for
PRIVATE such pages of that one host. Prints one JSON line.

    python robots_waiters.py                  # Scrapy's own RobotsTxtMiddleware
    python robots_waiters.py my.RobotsMiddleware   # another middleware in its place
"""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import scrapy
from scrapy.crawler import CrawlerProcess

PRIVATE = 5
HOLD = 0.5
STOCK = "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware"


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.lock = threading.Lock()
        self.private_hits = 0


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/robots.txt":
            time.sleep(HOLD)
            body = b"User-agent: *\nDisallow: /private/\n"
        else:
            if self.path.startswith("/private/"):
                with self.server.lock:
                    self.server.private_hits += 1
            body = b"ok"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


class OneHostSpider(scrapy.Spider):
    name = "one_host"

    async def start(self):
        for i in range(PRIVATE):
            yield scrapy.Request(f"{self.base}/private/{i}", dont_filter=True)

    def parse(self, response):
        pass


def main() -> None:
    server = Server()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    middleware = sys.argv[1] if len(sys.argv) > 1 else STOCK
    settings = {
        "ROBOTSTXT_OBEY": True,
        "DOWNLOADER_MIDDLEWARES": {STOCK: None, middleware: 100},
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,
        "LOG_LEVEL": "WARNING",
    }
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(OneHostSpider)
    process.crawl(crawler, base=f"http://127.0.0.1:{server.server_address[1]}")
    process.start()
    server.shutdown()
    print(
        json.dumps(
            {
                "scrapy": scrapy.__version__,
                "middleware": middleware,
                "disallowed_requested": PRIVATE,
                "disallowed_fetched": server.private_hits,
                "forbidden_by_robots": crawler.stats.get_value("robotstxt/forbidden", 0),
            }
        )
    )


if __name__ == "__main__":
    main()
