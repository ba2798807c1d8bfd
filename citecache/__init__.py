"""citecache: cached, cleaned copies of the web sources a knowledge base cites.

This package is the front door: the ``citecache`` command (``citecache.cli``), above
the rooms it drives: ``storage`` (the cache), ``extraction`` (text and metadata of a
page), ``crawler`` (the Scrapy project), ``api`` (the service) and ``wiki`` (the
wiki's pages). It holds the one version string; rooms may read it, nothing else.
"""

__version__ = "0.1.0"
