"""The store's exceptions: one per way a call can fail."""


class NotFoundError(LookupError):
    """No resource (or request) answers to this id, stable id or URL."""


class StoreError(ValueError):
    """A write was refused because its input is invalid; nothing was changed."""
