"""extract(): interface, encodings, PDFs, metadata provenance, page status, robustness."""

from __future__ import annotations

import codecs
import gzip
import pickle
import random
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from extraction import Extracted, extract, metadata
from extraction.boilerplate import clean_paragraphs, is_boilerplate
from extraction.charset import decode_html
from extraction.pdf import extract_pdf, is_pdf

PROSE = (
    "Die Bürger der Stadt haben über die Zukunft des Bahnhofs abgestimmt. "
    "Eine große Mehrheit wünscht sich mehr Grün, weniger Lärm und eine Brücke für Fußgänger. "
    "Der Gemeinderat will die Ergebnisse im Frühjahr prüfen und einen Plan vorlegen. "
)
FRENCH = "L'été dernier, la mairie a présenté un projet très ambitieux pour le quartier. "


def _page(body: str, head: str = "") -> str:
    return (
        f"<html><head>{head}<title>Ein Titel</title></head>"
        f"<body><article>{body}</article></body></html>"
    )


def _article(sentences: str, times: int = 6) -> str:
    return "".join(f"<p>{sentences}</p>" for _ in range(times))


# --- interface -----------------------------------------------------------------------


def test_result_is_plain_picklable_dataclass_with_text():
    result = extract(_page(_article(PROSE)), "https://example.org/a")
    assert isinstance(result, Extracted)
    assert "Fußgänger" in result.text
    assert pickle.loads(pickle.dumps(result)) == result
    assert set(result.to_dict()) >= {
        "text",
        "title",
        "authors",
        "published",
        "site_name",
        "description",
        "language",
        "canonical_url",
        "page_type",
        "page_status",
        "failure_reason",
        "metadata_sources",
        "doi",
        "arxiv_id",
        "charset",
        "abstract_url",
    }


# --- encoding ------------------------------------------------------------------------


def test_windows_1252_declared_as_utf8():
    raw = _page(_article(PROSE + FRENCH), '<meta charset="utf-8">').encode("cp1252")
    result = extract(raw)
    assert "Fußgänger" in result.text and "L'été dernier" in result.text
    assert "\ufffd" not in result.text
    assert result.charset == "cp1252"


def test_utf8_declared_as_windows_1252():
    raw = _page(_article(PROSE + "“Zitat” – €"), '<meta charset="windows-1252">').encode("utf-8")
    result = extract(raw)
    assert "Fußgänger" in result.text and "“Zitat” – €" in result.text
    assert "Ã" not in result.text
    assert result.charset == "utf-8"


def test_no_declaration_windows_1252():
    raw = _page(_article(PROSE + FRENCH)).encode("cp1252")
    result = extract(raw)
    assert "Fußgänger" in result.text and "été" in result.text
    assert result.charset == "cp1252"


def test_no_declaration_cyrillic():
    text, charset = decode_html(
        "<p>Привет, мир! Это проверка кодировки без объявления.</p>".encode("cp1251")
    )
    assert "Привет" in text and charset == "cp1251"


def test_http_charset_and_bom():
    assert decode_html("é".encode("latin-1"), http_charset="iso-8859-1") == ("é", "cp1252")
    assert decode_html(b"\xef\xbb\xbf<p>x") == ("<p>x", "utf-8")
    assert decode_html("<p>ü".encode("utf-16")) == ("<p>ü", "utf-16")


# --- PDF -----------------------------------------------------------------------------


def make_pdf(lines: list[str], title: str | None = None, author: str | None = None) -> bytes:
    """A minimal valid one-page PDF with Helvetica text and an info dictionary."""
    ops = (
        "BT /F1 12 Tf 72 720 Td 14 TL "
        + " ".join(
            "(" + line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ") '"
            for line in lines
        )
        + " ET"
    )
    stream = zlib.compress(ops.encode("latin-1"))
    info = "<< /Producer (test)"
    if title:
        info += f" /Title ({title})"
    if author:
        info += f" /Author ({author})"
    info += " /CreationDate (D:20240102030405Z) >>"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        info.encode("latin-1"),
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def test_pdf_detected_by_magic_bytes_and_extracted():
    raw = make_pdf(
        ["Measuring Link Rot", "We count dead links in citations.", "doi: 10.1234/abcd.5678"],
        title="Measuring Link Rot",
        author="Jane Doe and Richard Roe",
    )
    assert is_pdf(raw)
    result = extract(raw, "https://example.org/paper.pdf")
    assert result.content_kind == "pdf"
    assert "We count dead links in citations." in result.text
    assert result.title == "Measuring Link Rot"
    assert result.authors == ["Jane Doe", "Richard Roe"]
    assert result.published == "2024-01-02"
    assert result.doi == "10.1234/abcd.5678"
    assert result.metadata_sources["title"] == "pdf-info"


def test_pdf_title_from_first_page_when_info_is_a_file_name():
    raw = make_pdf(["A Careful Study of Caches", "Body text follows here."], title="paper.dvi")
    result = extract_pdf(raw)
    assert result.title == "A Careful Study of Caches"
    assert result.title_source == "pdf-first-page"


def test_arxiv_pdf_records_abstract_page():
    raw = make_pdf(["Attention Is Not Everything", "Abstract. We study things."])
    result = extract(raw, "https://arxiv.org/pdf/2101.00001v2")
    assert result.arxiv_id == "2101.00001v2"
    assert result.abstract_url == "https://arxiv.org/abs/2101.00001v2"
    assert result.page_type == "paper"


# --- broken input --------------------------------------------------------------------
# extract() never raises (its last guard turns any exception into a reason), so what is
# tested is that each kind of broken input gets its own reason, and that no input needs
# that guard.

_DEEP = "<div>" * 300 + "<p>" + PROSE * 4 + "</p>" + "</div>" * 300


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "not an HTML document"),
        ("", "not an HTML document"),
        (b"\x00\x01", "not an HTML document"),
        (random.Random(7).randbytes(4000), "not an HTML document"),
        # a gzip body served without Content-Encoding
        (gzip.compress(_page(_article(PROSE)).encode(), mtime=0), "not an HTML document"),
        # a UTF-16 byte-order mark over bytes that are no UTF-16 text
        (codecs.BOM_UTF16_LE + random.Random(8).randbytes(999), "not an HTML document"),
        (make_pdf(["Cut off in the middle of the transfer."])[:300], "unreadable PDF"),
        (b"%PDF-1.7\n garbage that is not a pdf", "unreadable PDF"),
        (make_pdf([]), "PDF has no extractable text"),
        ("<html></html>", "no main text found"),
        ("<html><body><script>var a = 1;</script></body></html>", "no main text found"),
        # libxml2 drops what lies deeper than 256 levels: the article is lost, and says so
        (f"<html><body>{_DEEP}</body></html>", "markup nested over 256 levels deep"),
    ],
    ids=[
        "empty-bytes",
        "empty-str",
        "nul-bytes",
        "binary-garbage",
        "gzip",
        "utf16-bom-garbage",
        "truncated-pdf",
        "pdf-header-only",
        "pdf-without-text",
        "empty-html",
        "script-only",
        "deep-nesting",
    ],
)
def test_broken_input_gives_empty_text_and_its_reason(raw, reason):
    result = extract(raw, "https://example.org/x")
    assert result.text == ""
    assert reason in (result.failure_reason or "")


def test_a_stage_error_becomes_the_reason(monkeypatch):
    def broken(*args):
        raise RuntimeError("metadata stage broke")

    monkeypatch.setattr(metadata, "page_metadata", broken)
    result = extract(_page(_article(PROSE)), "https://example.org/x")
    assert result.text == ""
    assert result.failure_reason == "extraction error: RuntimeError('metadata stage broke')"


_PREFIXES = st.sampled_from(["", "<p>", "<html><body><p>", "%PDF-1.4\n"])


@settings(max_examples=250, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=2000),
        st.builds(lambda prefix, text: prefix + text, _PREFIXES, st.text(max_size=1000)),
        st.builds(
            lambda prefix, text: (prefix + text).encode("utf-8", "surrogatepass"),
            _PREFIXES,
            st.text(max_size=1000),
        ),
    )
)
def test_no_input_needs_the_last_guard_and_empty_text_has_a_reason(raw):
    result = extract(raw, "https://example.org/x")
    assert not (result.failure_reason or "").startswith("extraction error"), result
    assert result.text or result.failure_reason


# --- metadata ------------------------------------------------------------------------

HEAD = """
<meta name="citation_title" content="Citation Title">
<meta name="citation_author" content="Ada Lovelace">
<meta name="citation_author" content="Charles Babbage">
<meta name="citation_publication_date" content="2020/05/17">
<meta name="citation_doi" content="10.5555/12345678">
<meta property="og:title" content="OG Title">
<meta property="og:site_name" content="The Journal">
<meta property="og:description" content="OG description">
<meta name="DC.language" content="en">
<link rel="canonical" href="/articles/42">
<script type="application/ld+json">
{"@context": "https://schema.org", "@type": "ScholarlyArticle", "headline": "LD Title",
 "author": {"@type": "Person", "name": "Someone Else"}, "datePublished": "2019-01-01"}
</script>
"""


def test_metadata_precedence_and_provenance():
    result = extract(_page(_article(PROSE), HEAD), "https://journal.example/a?id=42")
    assert result.title == "Citation Title"
    assert result.authors == ["Ada Lovelace", "Charles Babbage"]
    assert result.published == "2020-05-17"
    assert result.doi == "10.5555/12345678"
    assert result.site_name == "The Journal"
    assert result.description == "OG description"
    assert result.canonical_url == "https://journal.example/articles/42"
    assert result.page_type == "paper"
    assert result.metadata_sources == {
        "title": "citation",
        "authors": "citation",
        "published": "citation",
        "site_name": "opengraph",
        "description": "opengraph",
        "language": "dublincore",
        "canonical_url": "html",
        "doi": "citation",
        "page_type": "citation",
    }


def test_jsonld_graph_and_news_type():
    head = """<script type="application/ld+json">{"@graph": [
      {"@type": "WebSite", "name": "Daily Example"},
      {"@type": "NewsArticle", "headline": "Bridge Opens", "datePublished": "2023-06-01T09:00:00Z",
       "author": [{"@type": "Person", "name": "Kim Lee"}, {"name": "Sam Park"}]}]}</script>"""
    result = extract(_page(_article(PROSE), head), "https://daily.example/bridge")
    assert (result.title, result.site_name, result.published) == (
        "Bridge Opens",
        "Daily Example",
        "2023-06-01",
    )
    assert result.authors == ["Kim Lee", "Sam Park"]
    assert result.page_type == "news"
    assert result.metadata_sources["title"] == "json-ld"


def test_sloppy_jsonld_is_read():
    # a CDATA comment wrapper and a trailing comma, as some CMSs write JSON-LD
    head = """<script type="application/ld+json">//<![CDATA[
      {"@type": "BlogPosting", "headline": "Sloppy But Readable",
       "author": {"name": "Kim Lee"},}
    //]]></script>"""
    result = extract(_page(_article(PROSE), head), "https://blog.example/p")
    assert (result.title, result.authors) == ("Sloppy But Readable", ["Kim Lee"])
    assert result.metadata_sources["title"] == "json-ld"


def test_title_tag_site_suffix_dropped_and_date_shown_on_the_page():
    html = (
        "<html lang='de-DE'><head><title>Neue Brücke für die Altstadt | Stadtblatt</title>"
        "</head><body><article><p>Veröffentlicht am 2021-09-14</p>"
        + _article(PROSE)
        + "</article></body></html>"
    )
    result = extract(html, "https://stadtblatt.example/bruecke")
    assert result.title == "Neue Brücke für die Altstadt"
    assert result.language == "de"
    assert result.published == "2021-09-14"
    assert result.metadata_sources["published"] == "shown"  # "Veröffentlicht am ..."


def test_government_page_type_from_host():
    result = extract(_page(_article(PROSE)), "https://www.agency.gov/report")
    assert result.page_type == "government"


# --- status --------------------------------------------------------------------------


def test_cloudflare_challenge_is_blocked():
    html = (
        "<html><head><title>Just a moment...</title></head><body>"
        "<p>Checking if the site connection is secure</p>"
        "<script src='/cdn-cgi/challenge-platform/h/b/orchestrate/jsch/v1'></script>"
        "</body></html>"
    )
    result = extract(html, "https://example.org/")
    assert result.page_status == "blocked"
    assert result.failure_reason


def test_access_denied_is_blocked():
    html = (
        "<html><head><title>Access Denied</title></head><body><h1>Access Denied</h1>"
        '<p>You don\'t have permission to access "http://example.org/a" on this server.'
        "</p><p>Reference #18.1234</p></body></html>"
    )
    assert extract(html).page_status == "blocked"


def test_subscribe_to_continue_is_paywalled_and_wall_text_removed():
    html = _page(_article(PROSE, 2) + "<p>Subscribe to continue reading this article.</p>")
    result = extract(html)
    assert result.page_status == "paywalled"
    assert "Subscribe to continue" not in result.text


def test_article_about_cloudflare_stays_ok():
    body = _article(
        "Cloudflare shows a page titled Just a moment while it checks browsers. "
        "Site owners can tune how often visitors see the challenge. ",
        12,
    )
    assert extract(_page(body)).page_status == "ok"


# --- boilerplate ---------------------------------------------------------------------


def test_boilerplate_paragraphs():
    for chrome in (
        "Share",
        "Subscribe now",
        "42 Likes",
        "Leave a comment",
        "Teilen mit:",
        "Lea también: Otro titular de hoy",
        "À lire aussi : Le titre",
        "Tags: politics, economy",
        "Follow The Gleaner on Twitter and Instagram",
    ):
        assert is_boilerplate(chrome), chrome
    for prose in (
        "Share prices fell sharply on Monday after the announcement.",
        "She decided to subscribe to the idea that less is more.",
    ):
        assert not is_boilerplate(prose), prose


def test_related_heading_cuts_the_tail_only_late():
    body = ["A real paragraph of the article with enough words to count. " * 3] * 4
    assert clean_paragraphs(["Related posts", *body]) == [p.strip() for p in body]
    assert clean_paragraphs([*body, "Related posts", "Other headline"]) == [p.strip() for p in body]


def test_byline_author_when_no_tag_names_one():
    body = '<p class="byline">By <a rel="author" href="/author/kim-lee">Kim Lee</a></p>' + _article(
        PROSE
    )
    head = '<meta name="author" content="stadtblatt.example">'
    result = extract(_page(body, head), "https://stadtblatt.example/a")
    assert result.authors == ["Kim Lee"]
    assert result.metadata_sources["authors"] == "byline"


def test_comment_authors_are_not_bylines():
    body = (
        _article(PROSE) + '<div id="comments"><span class="author">Troll42</span>'
        "<p>First!</p></div>"
    )
    assert extract(_page(body)).authors == []


def test_html_mentioning_pdf_magic_is_not_a_pdf():
    raw = b"<html><head><title>%PDF-1.4 explained</title></head><body><p>x</p></body></html>"
    assert not is_pdf(raw)


def test_utf8_page_with_one_stray_byte_stays_utf8():
    raw = _page("<!-- M\xe4scot -->".encode("latin-1").decode("latin-1")).encode("latin-1")
    raw = raw.replace(b"<article>", ("<article>" + _article(PROSE)).encode("utf-8"))
    text, charset = decode_html(raw)
    assert charset == "utf-8"
    assert "Fußgänger" in text


def test_title_is_the_part_the_h1_repeats():
    head = '<meta property="og:title" content="Brücke eröffnet › Stadtblatt Online">'
    body = "<h1>Brücke eröffnet</h1>" + _article(PROSE)
    result = extract(_page(body, head))
    assert result.title == "Brücke eröffnet"
    assert result.metadata_sources["title"] == "opengraph"
