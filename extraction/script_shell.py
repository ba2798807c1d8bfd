"""Does a page need a browser: ``shell_reason(tree, text) -> reason | None``.

A script-rendered page (a single-page app, a framework's client-side render) sends an
empty shell whose text appears only once its scripts run: a ``noscript`` "requires
JavaScript" notice, an empty application root (``<div id="root"></div>``, ``__next``),
a framework's data blob (``__NEXT_DATA__``, ``__NUXT__``) and no body text. The crawl
renders such a page again in a browser (crawler/browser.py), and the store never lets
one replace a long good copy (storage/recording.py).

Only a page with little text is judged: a server-rendered article carries the same
marks (Next.js pages embed ``__NEXT_DATA__``, many sites have a noscript notice) but
also its text.
"""

from __future__ import annotations

import re

from lxml.etree import XPath
from lxml.html import HtmlElement

# Main text below this many characters may be a shell. The shells we wrote tests from
# (React, Next.js, Nuxt, Angular, Gatsby starters; the EA Forum's notice) give 0-200.
SHELL_MAX_TEXT = 500
# ...and visible body text below this: a page showing more (a list, a gallery's
# captions) than its main text is rendered already, whatever its scripts.
SHELL_MAX_VISIBLE = 1000
# A body with less visible text than this and scripts is a shell even without a mark.
BARE_MAX_VISIBLE = 150

_JS_NOTICE = re.compile(
    r"(enable|activate|turn on|requires?|need|needs|without|must have|must be)\b.{0,40}"
    r"\bjavascript|javascript\b.{0,30}\b(is )?(required|disabled|enabled|needed|to run)",
    re.I | re.S,
)
# Ids and tags frameworks mount their application on.
_APP_ROOT_IDS = ("root", "app", "__next", "__nuxt", "___gatsby", "svelte", "react-root")
_APP_ROOTS = XPath(
    "//body//*[@id and ("
    + " or ".join(f"@id='{name}'" for name in _APP_ROOT_IDS)
    + ")] | //body//app-root | //body//*[@ng-app or @data-reactroot or @data-server-rendered]"
)
_DATA_BLOBS = re.compile(
    r"__NEXT_DATA__|__NUXT__|__NUXT_DATA__|__APOLLO_STATE__|__PRELOADED_STATE__|"
    r"__INITIAL_STATE__|__remixContext|__sveltekit|ng-state"
)
_VISIBLE_TEXT = XPath(
    "//body//text()[not(ancestor::script or ancestor::style or ancestor::noscript"
    " or ancestor::template)]"
)
_NOSCRIPT_TEXT = XPath("//noscript//text()")
_SCRIPTS = XPath("//script[@src or string-length(normalize-space(.)) > 0]")
_INLINE_SCRIPTS = XPath("//script[not(@src)]/text() | //script/@id")


def shell_reason(tree: HtmlElement, text: str) -> str | None:
    """Why the page looks script-rendered (its text comes from its scripts), else None.

    ``text`` is the page's extracted main text.
    """
    if len(text) >= SHELL_MAX_TEXT:
        return None
    visible = " ".join(" ".join(_VISIBLE_TEXT(tree)).split())
    if len(visible) >= SHELL_MAX_VISIBLE:
        return None
    notice = _js_notice(tree, visible)
    if notice:
        return f"JavaScript notice: {notice!r}"
    root = _empty_app_root(tree)
    if root:
        return f"empty application root {root}"
    blob = _DATA_BLOBS.search(" ".join(_INLINE_SCRIPTS(tree)))
    if blob:
        return f"framework data {blob.group(0)} without body text"
    scripts = len(_SCRIPTS(tree))
    if scripts and len(visible) < BARE_MAX_VISIBLE:
        return f"very little text ({len(visible)} characters) and {scripts} scripts"
    return None


def _js_notice(tree: HtmlElement, visible: str) -> str | None:
    noscript = " ".join(" ".join(_NOSCRIPT_TEXT(tree)).split())
    # lxml parses a noscript in the head as text of no element; its markup then shows
    # up as the noscript's text, which the regex reads as well.
    for where in (noscript, visible):
        match = _JS_NOTICE.search(where)
        if match:
            return match.group(0)[:80]
    return None


def _empty_app_root(tree: HtmlElement) -> str | None:
    for element in _APP_ROOTS(tree):
        if not " ".join(element.itertext()).strip():
            name = element.get("id")
            return f"<{element.tag} id={name!r}>" if name else f"<{element.tag}>"
    return None
