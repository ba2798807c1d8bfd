"""How many sources have a usable preview, without and with the Wayback fallback?

On the "small web" of tests/smallweb.py (live pages, pages that die after the first
crawl, pages dead from the start, bot-walled pages, pages robots.txt forbids, soft 404s),
with the local Wayback stand-in of tests/waybackserver.py holding captures of all but the
last page of each failing kind. Two crawls each (the second after the dying pages died
and one wall lifted), once with the fallback off and once on, into two databases:

    .venv/bin/python bench/wayback_bench.py [--per-kind 5] [--delay 0.2]

A usable preview: the source has a current copy (live or archived). Target (issue 12):
at least 97% of the sources the archive holds a capture of. ``--delay`` is the gap
between archive requests (1 s against the real archive; a local stand-in needs none).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from storage import Store  # noqa: E402 - after the path set-up above
from tests.smallweb import KINDS, SmallWeb, archive_small_web  # noqa: E402
from tests.waybackserver import WaybackServer  # noqa: E402


def crawl(db: Path, archive: WaybackServer, *, fallback: bool, delay: float) -> dict:
    settings = [
        f"CITECACHE_WAYBACK_ENABLED={int(fallback)}",
        f"CITECACHE_WAYBACK_URL={archive.base}",
        f"CITECACHE_WAYBACK_DELAY={delay}",
    ]
    command = [sys.executable, "-m", "citecache", "--db", str(db), "crawl", "--all"]
    command += ["--allow-private", "--json", *[x for s in settings for x in ("-s", s)]]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def previews(db: Path) -> dict[str, str | None]:
    """url -> where its current copy came from (None: no usable preview)."""
    with Store(db) as store:
        rows = store._rows(
            "SELECT r.url, s.fetch_method FROM resources r "
            "LEFT JOIN snapshots s ON s.id = r.current_snapshot_id"
        )
    return {row["url"]: row["fetch_method"] for row in rows}


def run(per_kind: int, delay: float) -> None:
    results = {}
    for fallback in (False, True):
        web, archive = SmallWeb(per_kind).start(), WaybackServer().start()
        try:
            held = archive_small_web(web, archive)
            with tempfile.TemporaryDirectory() as tmp:
                db = Path(tmp) / "bench.db"
                with Store(db) as store:
                    for url in held:
                        store.register(url)
                started = time.perf_counter()
                crawl(db, archive, fallback=fallback, delay=delay)
                web.phase = 2
                crawl(db, archive, fallback=fallback, delay=delay)
                seconds = time.perf_counter() - started
                found = previews(db)
        finally:
            web.stop()
            archive.stop()
        results[fallback] = (found, held, seconds, len(archive.log))
    print(f"small web: {per_kind} pages of each of {len(KINDS)} kinds ({', '.join(KINDS)})")
    for fallback, (found, held, seconds, requests) in results.items():
        usable = [u for u, method in found.items() if method]
        in_archive = [u for u in held if held[u]]
        usable_held = [u for u in in_archive if found[u]]
        archived = sum(1 for method in found.values() if method == "wayback")
        share, share_held = 100 * len(usable) / len(found), 100 * len(usable_held) / len(in_archive)
        print(
            f"fallback {'on ' if fallback else 'off'}: usable previews {len(usable)}/{len(found)} "
            f"({share:.1f}%), of sources the archive holds "
            f"{len(usable_held)}/{len(in_archive)} ({share_held:.1f}%)"
            f"; archived copies {archived}; archive requests {requests}; two crawls {seconds:.1f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-kind", type=int, default=5, help="pages of each kind")
    parser.add_argument("--delay", type=float, default=0.2, help="seconds between archive requests")
    args = parser.parse_args()
    run(args.per_kind, args.delay)


if __name__ == "__main__":
    main()
