"""Main text and metadata of a fetched page: ``extract(html_or_bytes, url) -> Extracted``.

Pure and process-safe: no I/O, no Scrapy (the crawl runs it in worker processes through
crawler/extract_worker.py). ``extract`` never raises; what went wrong is in
``Extracted.failure_reason``. Stages, in the order pipeline.py runs them:

1. ``pdf``          bytes starting with ``%PDF-``: pypdf text and info metadata, and stop
2. ``charset``      bytes to str without mojibake (then one lxml parse for all stages)
3. ``metadata``     title, authors, date, ... each with its source (citation_*, JSON-LD, ...)
4. ``rules``        the platform (Substack, WordPress, ...) and where it keeps the article
5. ``main_text``    candidates: the rule's container, trafilatura fast then full, readability
6. ``boilerplate``  drops chrome paragraphs from each candidate before they are compared
7. ``page_status``  ok, paywalled or blocked, judged on the content
8. ``script_shell`` whether the page is a script-rendered shell that needs a browser

``extracted`` holds the result type and fills it from the stages' findings; ``authors``
and ``identifiers`` are the metadata stage's rules for names and for DOI, arXiv id,
ISBN and PubMed id.
See docs/extraction.md for the measured quality and cost.
"""

from extraction.extracted import Extracted
from extraction.pipeline import extract

__all__ = ["Extracted", "extract"]
