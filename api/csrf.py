"""CSRF protection of the HTML forms: a signed double-submit token.

A random value lives in an HttpOnly, SameSite=Strict cookie and every POST form carries
its HMAC in a hidden field. Another site can make a browser send the cookie (or, from a
sibling subdomain, plant one) but can neither read it nor sign a value without the key,
which never leaves the process. A new key per process: a restart makes open forms stale
(403; reloading the page gives a fresh one).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from fastapi import Request
from fastapi.responses import Response

from .deps import settings
from .errors import APIError

COOKIE = "citecache_csrf"
FIELD = "csrf"
_VALUE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def _sign(request: Request, value: str) -> str:
    return hmac.new(settings(request).csrf_key, value.encode(), hashlib.sha256).hexdigest()


def _cookie_value(request: Request) -> str | None:
    value = request.cookies.get(COOKIE, "")
    return value if _VALUE.match(value) else None


def form_token(request: Request) -> tuple[str, str | None]:
    """The token for this page's forms, and the cookie value to set if the browser has none."""
    value = _cookie_value(request)
    fresh = None if value else secrets.token_urlsafe(24)
    return _sign(request, value or fresh or ""), fresh


def set_cookie(request: Request, response: Response, value: str) -> None:
    response.set_cookie(
        COOKIE, value, httponly=True, samesite="strict", secure=request.url.scheme == "https"
    )


_FAILED = "the form's CSRF token is missing, wrong or stale: reload the page and send it again"


def check_cookie(request: Request) -> str:
    """The browser's CSRF cookie; 403 without one (checked before the form is read)."""
    value = _cookie_value(request)
    if not value:
        raise APIError(403, "csrf_failed", _FAILED)
    return value


def check(request: Request, form: dict[str, list[str]]) -> None:
    """Raise 403 unless the form's token signs the browser's cookie."""
    value = check_cookie(request)
    given = (form.get(FIELD) or [""])[0]
    if not (given and hmac.compare_digest(_sign(request, value), given)):
        raise APIError(403, "csrf_failed", _FAILED)
