"""Store throughput: registering and recording fetch results, this tree against a baseline.

    .venv/bin/python bench/store_bench.py [--resources 3000] [--baseline REV]

The same workload runs in a subprocess per code tree (this working tree, and the git
revision ``--baseline``, default the commit before the storage split, exported to a temp
dir), on a fresh SQLite file each, alternating three times; it prints the best of the
three per phase:

- register: ``Store.register`` one URL at a time (one transaction each);
- record ok: ``record_results`` in batches of 50, each result new text of ~6 KB;
- record 304: the same resources answered "not modified", batches of 50;
- lookup: ``find_by_url`` of a www./trailing-slash variant of every URL.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BASELINE = "730f2e3"  # the last commit with storage/store.py in one piece

WORKLOAD = r"""
import json, sys, time, random
from pathlib import Path
from storage import FetchResult, Store

n, db = int(sys.argv[1]), Path(sys.argv[2])
random.seed(7)
words = [f"word{i}" for i in range(5000)]
def text(i):
    return " ".join(random.choice(words) for _ in range(900)) + f" article {i}."
urls = [f"https://site{i % 200}.example.org/posts/{i}/" for i in range(n)]
out = {}
with Store(db) as store:
    t = time.perf_counter()
    ids = [store.register(u).resource["id"] for u in urls]
    out["register"] = n / (time.perf_counter() - t)
    texts = [text(i) for i in range(n)]
    def batch(outcome):
        return [FetchResult(resource_id=r, url=u, started_at="2026-01-01T00:00:00Z",
                            outcome=outcome, http_status=200 if outcome == "ok" else 304,
                            text=texts[i] if outcome == "ok" else None, title=f"T{i}")
                for i, (r, u) in enumerate(zip(ids, urls))]
    for phase, outcome in (("record ok", "ok"), ("record 304", "not_modified")):
        results = batch(outcome)
        t = time.perf_counter()
        for k in range(0, n, 50):
            store.record_results(results[k:k + 50])
        out[phase] = n / (time.perf_counter() - t)
    t = time.perf_counter()
    for u in urls:
        assert store.find_by_url(u.replace("https://", "http://www.").rstrip("/"))
    out["lookup"] = n / (time.perf_counter() - t)
print(json.dumps(out))
"""


def export(revision: str, into: Path) -> Path:
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", revision, "storage"],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=__import__("io").BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def run(tree: Path, n: int, db: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", WORKLOAD, str(n), str(db)],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=900,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
    )
    if done.returncode:
        raise SystemExit(f"workload failed in {tree}:\n{done.stderr}")
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=3000)
    parser.add_argument("--baseline", default=DEFAULT_BASELINE)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"this tree": ROOT, f"baseline {args.baseline}": export(args.baseline, Path(tmp))}
        best: dict[str, dict[str, float]] = {name: {} for name in trees}
        for round_ in range(args.rounds):
            for name, tree in trees.items():
                figures = run(tree, args.resources, Path(tmp) / f"{round_}-{len(name)}.db")
                for phase, value in figures.items():
                    best[name][phase] = max(best[name].get(phase, 0.0), value)
    phases = list(next(iter(best.values())))
    print(f"{args.resources} resources, best of {args.rounds} rounds; per second")
    print(f"{'':24}" + "".join(f"{p:>14}" for p in phases))
    for name, figures in best.items():
        print(f"{name:24}" + "".join(f"{figures[p]:14.0f}" for p in phases))
    base, this = best[f"baseline {args.baseline}"], best["this tree"]
    print(f"{'this / baseline':24}" + "".join(f"{this[p] / base[p]:14.2f}" for p in phases))


if __name__ == "__main__":
    main()
