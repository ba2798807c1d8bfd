"""citecache's HTTP service: the read API, re-fetch for editors, and HTML pages."""

from .app import create_app

__all__ = ["create_app"]
