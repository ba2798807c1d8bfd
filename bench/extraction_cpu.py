"""Extraction CPU per page: this tree against a git revision, interleaved, same pages.

    .venv/bin/python bench/extraction_cpu.py [--baseline REV] [--rounds 2]

Exports the packages ``extract()`` needs (extraction, and storage and citation where the
revision has them) at ``--baseline`` (default: the commit before issue 13's metadata
work) into a temp dir, then runs ``extract()`` over the 884 judged dev pages in a fresh
subprocess per tree, alternating ``--rounds`` times so that load from other work falls
on both alike. Prints each run's CPU per page and the best of each, and their ratio;
dateparser's one-time locale set-up is timed apart (see WORKLOAD).
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BASELINE = "dc947f5~1"  # the last commit before issue 13 (dates, authors, ids)
PACKAGES = ("extraction", "storage", "citation")

WORKLOAD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
sys.path.insert(1, sys.argv[2])  # bench/ from this tree: the dev set loader
from bench.extraction_eval import load_devset
from extraction import extract
pages = load_devset()
for page in pages[:30]:  # imports and lazily built objects, not timed
    extract(page.content, page.url)
# The first date htmldate's extensive search hands to dateparser loads dateparser's
# locale data (~1.8 s, ~40 MB): once per process, which a long-lived extraction process
# pays once, not per page. Timed apart, so a single pass does not spread it over pages.
from htmldate import find_date
started = time.process_time()
find_date("<html><body><p>Berlin, 15 августа 2016</p></body></html>", extensive_search=True)
once = time.process_time() - started
started = time.process_time()
for page in pages:
    extract(page.content, page.url)
print(json.dumps([(time.process_time() - started) / len(pages) * 1000, once]))
"""


def export(revision: str, into: Path) -> Path:
    """The packages of ``revision`` that exist there, unpacked into ``into``."""
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-tree", "--name-only", revision],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    wanted = [p for p in PACKAGES if p in listed]
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", revision, *wanted],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def cpu_per_page(tree: Path) -> tuple[float, float]:
    """(ms of CPU per page, s of CPU of dateparser's one-time set-up)"""
    done = subprocess.run(
        [sys.executable, "-c", WORKLOAD, str(tree), str(ROOT)],
        cwd=tempfile.gettempdir(),  # not the repo: its own packages would come first
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if done.returncode:
        raise SystemExit(f"extraction failed in {tree}:\n{done.stderr[-2000:]}")
    per_page, once = json.loads(done.stdout)
    return per_page, once


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=DEFAULT_BASELINE)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="citecache-cpu-") as tmp:
        trees = {f"baseline {args.baseline}": export(args.baseline, Path(tmp)), "this tree": ROOT}
        runs: dict[str, list[float]] = {name: [] for name in trees}
        for round_ in range(args.rounds):
            for name, tree in trees.items():
                per_page, once = cpu_per_page(tree)
                runs[name].append(per_page)
                print(
                    f"round {round_ + 1}: {name:<22} {per_page:5.1f} ms/page"
                    f"  (dateparser's set-up, once per process: {once:.2f} s)",
                    flush=True,
                )
    (base, *_), (ours, *_) = (sorted(r) for r in runs.values())
    print(f"best: baseline {base:.1f} ms/page, this tree {ours:.1f} ms/page")
    print(f"ratio: {ours / base:.2f}")


if __name__ == "__main__":
    main()
