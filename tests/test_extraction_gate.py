"""Quality gate: F1 on a fixed sample of the judged dev set must not fall below its floor.

The sample is every 11th judged page (by URL) of ../shared/devsets/trafilatura-eval.tar.gz
(81 pages). The floors are the scores reached when the gate was set, minus 0.005 so a
one-snippet wobble does not fail it; raise them when extraction improves. The full table
comes from ``python bench/extraction_eval.py``.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DEVSET = REPO.parent / "shared" / "devsets" / "trafilatura-eval.tar.gz"
SAMPLE_STEP = 11
F1_FLOOR = 0.912
PRECISION_FLOOR = 0.918

pytestmark = pytest.mark.skipif(
    not DEVSET.exists(),
    reason=f"dev set not found at {DEVSET} (shared/devsets is not beside the repo)",
)


@pytest.fixture(scope="module")
def evaluation():
    spec = importlib.util.spec_from_file_location(
        "extraction_eval", REPO / "bench" / "extraction_eval.py"
    )
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules["extraction_eval"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_f1_floor_on_dev_sample(evaluation):
    sample = evaluation.load_devset(DEVSET)[::SAMPLE_STEP]
    start = time.perf_counter()
    score = evaluation.evaluate(evaluation.CANDIDATES["citecache"], sample)
    elapsed = time.perf_counter() - start
    print(
        f"\n{len(sample)} pages: P={score.precision:.4f} R={score.recall:.4f} "
        f"F1={score.f1:.4f} in {elapsed:.1f}s"
    )
    assert len(sample) == 81
    assert score.f1 >= F1_FLOOR
    assert score.precision >= PRECISION_FLOOR
