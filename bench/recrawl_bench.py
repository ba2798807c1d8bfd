"""How much cheaper is re-crawling an unchanged corpus? (conditional requests, 304)

Serves N real pages of the dev set with nginx on 127.0.0.1 (which sends ETag and
Last-Modified and answers 304 to a matching conditional request), then times, in one run:

  1. the first crawl of the corpus (everything downloaded, extracted, stored);
  2. the re-crawl of the unchanged corpus (conditional requests: 304, no extraction);
  3. for comparison, a forced re-crawl (no conditional headers: all downloaded and
     extracted again; the content hashes match, so still no new snapshots).

    .venv/bin/python bench/recrawl_bench.py [--pages 400]

Target (crawl issue): the unchanged re-crawl at least 5x faster than the first, with
zero new snapshots.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.crawl_bench import (  # noqa: E402 - after the path set-up above
    TARBALL,
    THROUGHPUT_OVERRIDES,
    VENV_BIN,
    load,
    start_nginx,
    stop,
    unpack_corpus,
)


def citecache(db: Path, *args: str, timeout: float) -> tuple[float, dict]:
    exe = VENV_BIN / "citecache"
    started = time.monotonic()
    done = subprocess.run(
        [str(exe), "--db", str(db), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"citecache {args[0]} failed: {done.stderr[-500:]}")
    return elapsed, json.loads(done.stdout) if done.stdout.strip() else {}


def counts(db: Path) -> tuple[int, dict[str, int]]:
    conn = sqlite3.connect(db)
    snapshots = conn.execute("SELECT count(*) FROM snapshots").fetchone()[0]
    outcomes = dict(conn.execute("SELECT outcome, count(*) FROM fetch_log GROUP BY 1"))
    conn.close()
    return snapshots, outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=400)
    parser.add_argument("--tarball", type=Path, default=TARBALL)
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args(argv)
    if not args.tarball.exists():
        print(f"dev set not found: {args.tarball}", file=sys.stderr)
        return 1

    with tempfile.TemporaryDirectory(prefix="citecache-recrawl-") as tmp_name:
        tmp = Path(tmp_name)
        pages = unpack_corpus(args.tarball, args.pages, tmp / "www" / "c")
        nginx, port = start_nginx(tmp)
        try:
            urls = tmp / "urls.txt"
            urls.write_text("".join(f"http://127.0.0.1:{port}/c/{p.name}\n" for p in pages))
            db = tmp / "bench.db"
            citecache(db, "import", str(urls), timeout=args.timeout)
            crawl = ["crawl", "--all", "--allow-private", "--json"]
            for key, value in THROUGHPUT_OVERRIDES.items():
                crawl += ["-s", f"{key}={value}"]

            print(f"corpus: {len(pages)} pages served by nginx on 127.0.0.1; {load()}")
            print(f"crawl: citecache {' '.join(crawl)}\n", flush=True)
            rows = []
            first, summary = citecache(db, *crawl, timeout=args.timeout)
            snaps_first, _ = counts(db)
            rows.append(("first crawl", first, summary, snaps_first))
            again, summary = citecache(db, *crawl, timeout=args.timeout)
            snaps_again, _ = counts(db)
            rows.append(("unchanged re-crawl (304)", again, summary, snaps_again - snaps_first))
            forced, summary = citecache(db, *crawl, "-s", "CITECACHE_FORCE=1", timeout=args.timeout)
            snaps_forced, outcomes = counts(db)
            rows.append(("forced re-crawl (200)", forced, summary, snaps_forced - snaps_again))
        finally:
            stop(nginx)

    print(f"{'':28}{'seconds':>9}{'pages/s':>9}{'vs first':>10}{'new snapshots':>15}  statuses")
    for label, seconds, summary, new in rows:
        rate = len(pages) / seconds
        print(
            f"{label:28}{seconds:9.2f}{rate:9.1f}{first / seconds:9.1f}x{new:15d}  "
            f"{json.dumps(summary.get('byStatus', {}))}"
        )
    print(f"\nfetch log outcomes over the three crawls: {json.dumps(outcomes)}")
    print(f"unchanged re-crawl speed-up: {first / again:.1f}x (target >= 5x); {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
