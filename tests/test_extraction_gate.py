"""Quality gate: F1, precision and metadata accuracy on a fixed sample of the judged dev
set keep their floors.

The sample is every 3rd judged page (by URL) of ../shared/devsets/trafilatura-eval.tar.gz:
295 pages, 885 snippets that must appear and 885 that must not, ~10 s here (57 s on a
machine loaded by other work). (All 884
pages took 34 s on the shared 2-core machine, too long to run on every test run;
every 11th page, 81 pages, was too coarse: one snippet moved F1 by 0.004.)

Measured when the floors were set: precision 0.9297, recall 0.9412, F1 0.9354 (all 884
pages: 0.9305 / 0.9452 / 0.9378, from ``python bench/extraction_eval.py``). The floors
are those scores minus a margin of 0.005: F1 fails after about 9 more must-appear
snippets are lost, precision after about 5 more must-not-appear snippets are kept.
Raise the measured scores when extraction improves.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DEVSET = REPO.parent / "shared" / "devsets" / "trafilatura-eval.tar.gz"
SAMPLE_STEP = 3
SAMPLE_PAGES = 295
MEASURED_F1 = 0.9354
MEASURED_PRECISION = 0.9297
MARGIN = 0.005
F1_FLOOR = MEASURED_F1 - MARGIN
PRECISION_FLOOR = MEASURED_PRECISION - MARGIN
# Metadata exact-match accuracy on the same sample when set: title 0.736 (273 judged
# pages), date 0.877 (228; 0.912 since the shown date, 0.939 since its months written
# out, the later-than-JSON-LD and UTC rules), author 0.691 (165; 0.715 after issue 13's
# third pass, 0.752 after its fourth), identifier 1.000 (295). Each floor is a few pages
# below (title 7, date 4, author 5, identifier 3): a rule that loses more than that
# fails the gate; raise them when metadata improves.
METADATA_FLOORS = {"title": 0.71, "date": 0.92, "author": 0.72, "identifier": 0.99}

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


@pytest.fixture(scope="module")
def extracted(evaluation):
    """The sample's pages and what extraction made of each (one pass for both gates)."""
    from extraction import extract

    sample = evaluation.load_devset(DEVSET)[::SAMPLE_STEP]
    assert len(sample) == SAMPLE_PAGES, "the dev set changed: re-measure the floors"
    start = time.perf_counter()
    results = [extract(page.content, page.url) for page in sample]
    return sample, results, time.perf_counter() - start


def test_f1_and_precision_floors_on_dev_sample(evaluation, extracted):
    sample, results, elapsed = extracted
    score = evaluation.Score()
    for page, result in zip(sample, results, strict=True):
        score.add(result.text, page)
    print(
        f"\n{len(sample)} pages in {elapsed:.1f}s: P={score.precision:.4f} "
        f"R={score.recall:.4f} F1={score.f1:.4f}\n"
        f"margin above floor: F1 {score.f1 - F1_FLOOR:+.4f} (floor {F1_FLOOR:.4f}), "
        f"precision {score.precision - PRECISION_FLOOR:+.4f} (floor {PRECISION_FLOOR:.4f})"
    )
    assert score.f1 >= F1_FLOOR
    assert score.precision >= PRECISION_FLOOR


def test_metadata_accuracy_floors_on_dev_sample(evaluation, extracted):
    sample, results, _ = extracted
    right = dict.fromkeys(METADATA_FLOORS, 0)
    judged = dict.fromkeys(METADATA_FLOORS, 0)
    for page, result in zip(sample, results, strict=True):
        found = {
            "title": result.title,
            "date": result.published,
            "author": "; ".join(result.authors),
            "identifier": {
                k: getattr(result, k) for k in evaluation.ID_FIELDS if getattr(result, k)
            },
        }
        for name, expected in page.meta.items():
            judged[name] += 1
            right[name] += evaluation._norm(name, found[name]) == evaluation._norm(name, expected)
    accuracy = {name: right[name] / judged[name] for name in METADATA_FLOORS}
    print(
        "\nmetadata accuracy (margin above floor): "
        + ", ".join(
            f"{n} {a:.3f} ({a - METADATA_FLOORS[n]:+.3f}, {judged[n]} pages)"
            for n, a in accuracy.items()
        )
    )
    for name, floor in METADATA_FLOORS.items():
        assert accuracy[name] >= floor, f"{name} accuracy {accuracy[name]:.3f} < {floor}"
