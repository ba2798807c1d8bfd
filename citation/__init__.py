"""Citation data out of citecache: CSL-JSON and BibTeX for a resource.

Pure formatting, no I/O and no HTTP: ``csl_item(view, found)`` builds one CSL-JSON item
from a resource's view (``storage.views.resource_view``) and what extraction found on its
current snapshot; ``bibtex_entry(item)`` writes that item as a BibTeX entry. The API
(``GET /api/resources/{id}/csl``) and the CLI (``show``/``export --format``) use both.
"""

from citation.bibtex import bibtex_entry
from citation.csl import csl_item

__all__ = ["bibtex_entry", "csl_item"]
