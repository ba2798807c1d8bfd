"""False positives of the script-shell detector on the dev set: pages whose text is in
their HTML, so none should be taken for a shell that needs a browser.

    python bench/shell_devset.py [--step N]

Prints each page flagged, with its main-text length and the reason, then the count.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from extraction_eval import DEFAULT_DEVSET, load_devset  # noqa: E402

from extraction import extract  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step", type=int, default=1, help="take every Nth page")
    parser.add_argument("--devset", type=Path, default=DEFAULT_DEVSET)
    args = parser.parse_args()
    pages = load_devset(args.devset)[:: args.step]
    started = time.perf_counter()
    flagged = 0
    for page in pages:
        found = extract(page.content, page.url)
        if found.script_shell:
            flagged += 1
            print(f"{page.name}: {len(found.text)} chars: {found.script_shell}")
    elapsed = time.perf_counter() - started
    print(f"{flagged} of {len(pages)} dev-set pages look like script shells ({elapsed:.0f} s)")


if __name__ == "__main__":
    main()
