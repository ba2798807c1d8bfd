"""citecache's HTTP service: the read API, re-fetch for editors, and HTML pages."""

__all__ = ["create_app"]


def __getattr__(name: str):
    # FastAPI loads only when the app is asked for: every `citecache` command imports
    # this package for its `serve` command, and a crawl should not pay 0.3 s for it.
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(name)
