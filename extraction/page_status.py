"""Is a page an article, a paywall or a block page: ``page_status(...) -> (status, reason)``.

Judged on the content itself (the crawl also sees HTTP codes): bot challenges and
access-denied pages are "blocked", subscriber walls are "paywalled". The markers of bot
challenges live here only: ``challenge_reason(raw)`` applies them to the raw body of an
error answer, for the spider (crawler/spiders/resources.py), which judges those before
any extraction.
"""

from __future__ import annotations

import html as html_entities
import re

from lxml.html import HtmlElement

# Challenge and denial pages are short; an article that quotes these phrases is long.
BLOCK_MAX_TEXT = 1500
# Google's paywall markup (isAccessibleForFree: false) is also set on metered pages that
# serve the full text; below this length the text is the teaser only.
PAYWALL_TEASER_MAX_TEXT = 2500

_BLOCK_TITLE = re.compile(
    r"^\s*(just a moment\.*|attention required!? \| cloudflare|access denied|403 forbidden|"
    r"forbidden|request blocked|pardon our interruption|are you a robot\??|robot check|"
    r"security check|captcha|ddos-guard|you have been blocked|please wait\.*|"
    r"verifying you are human.*|human verification)\s*$",
    re.I,
)
_BLOCK_MARKUP = re.compile(
    # Cloudflare; not the bare "challenge-platform": its /cdn-cgi/challenge-platform/scripts/
    # bot-detection script is on ordinary pages too, only /h/ serves challenges
    r"cf-browser-verification|cf_chl_opt|cf-chl|challenge-platform/h/|"
    r"_Incapsula_Resource|sucuri_cloudproxy|ddos-guard|"
    # not g-recaptcha / hcaptcha: comment and contact forms embed them on ordinary articles
    r"captcha-delivery\.com|px-captcha|distil_r_captcha|/_sec/cp_challenge",
    re.I,
)
_BLOCK_TEXT = re.compile(
    r"(checking (if the site connection is secure|your browser before accessing)|"
    r"enable javascript and cookies to continue|verify(ing)? you are (a )?human|"
    r"you don't have permission to access .{0,120} on this server|"
    r"access to this page has been denied|this request was blocked by|"
    r"please complete the security check|sorry, you have been blocked|"
    r"unusual traffic from your computer network)",
    re.I,
)
_PAYWALL_TEXT = re.compile(
    r"(this post is for paid subscribers|this post is for (paying )?subscribers only|"
    r"keep reading with a 7-day free trial|subscribe to (continue|keep) reading|"
    r"to continue reading,? (please )?(subscribe|log in|sign in)|"
    r"this (article|content|story) is (only )?(available|reserved) (to|for) (paid )?"
    r"(subscribers|members)|"
    r"to view the full story,? please subscribe|"
    r"the author made this story available to medium members only|"
    r"pour lire la suite|réservé aux abonnés|"
    r"(dieser artikel|dieser beitrag|der artikel) ist (nur )?(für|exklusiv für) abonnenten|"
    r"jetzt weiterlesen mit|exclusivo para suscriptores|contenido exclusivo para suscriptores)",
    re.I,
)
_NOT_FREE = re.compile(r'"isAccessibleForFree"\s*:\s*"?(false|False)"?')
_TITLE_TAG = re.compile(r"<title[^>]*>(.*?)</title", re.I | re.S)
# How far into the markup the challenge markers and (when there is no text) phrases are
# searched: challenge pages are small, and a page's head must not cost a full scan.
_MARKUP_SCAN = 200_000
_TEXT_SCAN = 50_000


def page_status(
    html: str, tree: HtmlElement | None, text: str, rule_paywall: bool = False
) -> tuple[str, str | None]:
    """``("ok" | "paywalled" | "blocked", reason)`` for a page and its extracted text."""
    title = ""
    if tree is not None:
        title = " ".join(tree.xpath("//head/title//text()")).strip()
    if len(text) < BLOCK_MAX_TEXT:
        reason = _block_reason(title, html if len(text) < 500 else "", text)
        if reason:
            return "blocked", reason
    if rule_paywall:
        return "paywalled", "platform paywall marker"
    tail = text[-1500:]
    match = _PAYWALL_TEXT.search(tail)
    if match:
        return "paywalled", f"paywall text: {match.group(0)[:80]!r}"
    if (
        len(text) < PAYWALL_TEASER_MAX_TEXT
        and "isAccessibleForFree" in html
        and _NOT_FREE.search(html)
    ):
        match = _PAYWALL_TEXT.search(html)
        if match or len(text) < 1000:
            return "paywalled", "isAccessibleForFree: false"
    return "ok", None


def challenge_reason(raw: bytes) -> str | None:
    """Why a raw response body is a bot challenge or access-denied page, else None.

    For the body of a 403, 429 or 503 answer, judged before (and without) extraction:
    the title, markup and text tests ``page_status`` applies to a page with no main text.
    """
    page = raw[:_MARKUP_SCAN].decode("utf-8", "replace")
    match = _TITLE_TAG.search(page)
    title = html_entities.unescape(match.group(1)).strip() if match else ""
    return _block_reason(title, page, "")


def _block_reason(title: str, html: str, text: str) -> str | None:
    """The block-page marker found in the title, the markup or the text (the page's
    own when ``text`` is empty), if any; ``html`` is "" to skip the markup test."""
    if _BLOCK_TITLE.match(title):
        return f"block page title: {title[:80]!r}"
    match = _BLOCK_MARKUP.search(html[:_MARKUP_SCAN])
    if match:
        return f"bot challenge markup: {match.group(0)}"
    match = _BLOCK_TEXT.search(text or html[:_TEXT_SCAN])
    if match:
        return f"block page text: {match.group(0)[:80]!r}"
    return None
