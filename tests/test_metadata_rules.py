"""Date and author rules on small pages written for each case."""

from __future__ import annotations

from datetime import date

import pytest

from extraction import extract
from extraction.authors import clean_authors
from extraction.metadata import iso_date

BODY = "<p>" + "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 30 + "</p>"
URL = "https://example.org/post"


def page(head: str = "", top: str = "", site: str = "") -> str:
    og_site = f'<meta property="og:site_name" content="{site}">' if site else ""
    return (
        f"<html><head><title>A post</title>{og_site}{head}</head><body>"
        f"<article><h1>A post</h1>{top}{BODY}</article></body></html>"
    )


def meta_author(value: str) -> str:
    return f'<meta name="author" content="{value}">'


# --- dates


def test_publication_date_wins_over_modification_date():
    head = (
        '<meta property="article:modified_time" content="2021-06-01T10:00:00Z">'
        '<meta property="article:published_time" content="2019-02-03T10:00:00Z">'
        '<script type="application/ld+json">{"@type": "NewsArticle", "headline": "A post",'
        ' "dateModified": "2021-06-01", "datePublished": "2019-02-03"}</script>'
    )
    result = extract(page(head), URL)
    assert result.published == "2019-02-03"


def test_a_date_that_does_not_parse_leaves_room_for_the_next_source():
    head = (
        '<script type="application/ld+json">{"@type": "NewsArticle", "headline": "A post",'
        ' "datePublished": "Wed May 04 2022 00:53:29 GMT+0000"}</script>'
        '<meta property="article:published_time" content="2022-05-03T21:53:29-03:00">'
    )
    result = extract(page(head), URL)
    assert (result.published, result.metadata_sources["published"]) == ("2022-05-03", "opengraph")


@pytest.mark.parametrize("stated", ["2099-01-01", "1985-06-30", "0001-01-01"])
def test_future_and_pre_web_dates_are_unknown(stated):
    head = f'<meta property="article:published_time" content="{stated}">'
    result = extract(page(head), URL)
    assert result.published is None
    assert "published" not in result.metadata_sources


def test_plausible_date_bounds():
    today = date(2026, 11, 27)
    assert iso_date("2026-11-28T01:00:00+09:00", today) == "2026-11-28"  # a zone ahead
    assert iso_date("2026-11-29", today) is None
    assert iso_date("1990-01-01", today) == "1990-01-01"
    assert iso_date("1989-12-31", today) is None
    assert iso_date("2021-02-30", today) is None


@pytest.mark.parametrize(
    ("stated", "expected"),
    [
        ("2022-11-06T23:00:00.000Z", "2022-11-07"),  # local midnight at +1, in UTC
        ("2021-11-04T22:00Z", "2021-11-05"),  # at +2
        ("2022-11-06T23:00:00+01:00", "2022-11-06"),  # a local time: the date as written
        ("2022-11-06T23:17:00Z", "2022-11-06"),
        ("2019-12-09T19:00:49+01:00", "2019-12-09"),
    ],
)
def test_dates_are_taken_as_written_but_a_local_midnight_in_utc(stated, expected):
    assert iso_date(stated, date(2026, 11, 27)) == expected


def test_a_date_only_in_the_text_comes_from_the_extensive_search():
    result = extract(page(top="<p>We met on March 12, 2019 with the team.</p>"), URL)
    assert result.published == "2019-03-12"
    assert result.metadata_sources["published"] == "htmldate-extensive"


def test_a_tag_date_that_the_page_contradicts_is_settled_by_the_extensive_search():
    head = '<meta name="date" content="2019-02-03">'
    agreed = extract(page(head), URL)
    assert (agreed.published, agreed.metadata_sources["published"]) == ("2019-02-03", "meta")
    contradicted = extract(page(head), "https://example.org/2020/05/06/post")
    assert contradicted.published == "2020-05-06"
    assert contradicted.metadata_sources["published"] == "htmldate-extensive"


@pytest.mark.parametrize(
    "top",
    [
        "<p>Veröffentlicht am 16.08.2019</p>",
        "<p class='meta'>Published: 2019-08-16 by the desk</p>",
        '<time datetime="2019-08-16T10:20:00+02:00">Friday</time>',
        '<span class="post-date">16.08.2019 - 13:30</span>',
        '<span itemprop="datePublished" content="2019-08-16">16 August</span>',
        # the month written out
        '<span class="post-date">16 August 2019</span>',
        '<span class="post-date">Aug. 16th, 2019</span>',
        '<span class="fecha">Publicado el 16 de agosto de 2019</span>',
        '<time datetime="16 de agosto de 2019">16 de agosto de 2019</time>',
        '<div class="date">Freitag, 16. Aug 2019</div>',
        "<p>Publié le 16 août 2019</p>",
        "<p>Veröffentlicht am 16. August 2019</p>",
    ],
)
def test_the_date_shown_with_the_article_beats_htmldates_reading_of_the_url(top):
    result = extract(page(top=top), "https://example.org/2019/08/24/post")
    assert (result.published, result.metadata_sources["published"]) == ("2019-08-16", "shown")


@pytest.mark.parametrize(
    "top",
    [
        '<span class="date">3 decisions, 2019</span>',  # no month's name
        '<span class="date">12 Marché 2019</span>',  # a word that starts like one
        "<p>Posted by Kim on Friday, August 16, 2019</p>",  # the date is not the label's
    ],
)
def test_words_that_are_not_a_month_or_not_after_the_label_are_no_shown_date(top):
    result = extract(page(top=top), "https://example.org/2019/08/24/post")
    assert result.published == "2019-08-24"


def test_a_label_run_together_with_a_time_before_it_is_read():
    top = "<p>Letzte Änderung: 31.10.2023 - 14:49:39<br>Erschienen am: 01.11.2023</p>"
    result = extract(page(top=top), URL)
    assert (result.published, result.metadata_sources["published"]) == ("2023-11-01", "shown")


def test_the_date_of_the_sites_masthead_is_not_the_articles():
    html = (
        '<html><head><title>A post</title></head><body><div class="masthead-header">'
        '<div class="mh-date">Miércoles 4 de Mayo de 2022</div></div><article><h1>A post</h1>'
        f'<div class="byline-datetime">3 de Mayo de 2022</div>{BODY}</article></body></html>'
    )
    result = extract(html, URL)
    assert (result.published, result.metadata_sources["published"]) == ("2022-05-03", "shown")


@pytest.mark.parametrize(
    ("stated", "shown", "expected"),
    [
        # the same moment: 23:37 at -04:00 is 03:37 UTC the next day
        (
            "2022-05-04T03:37:37+00:00",
            '<time datetime="2022-05-03T23:37:37-04:00">3 May</time>',
            ("2022-05-03", "shown"),
        ),
        (
            "2022-05-04T00:53:29.274Z",
            '<span class="date">3 de mayo de 2022</span>',
            ("2022-05-03", "shown"),
        ),
        # written in the publisher's zone: the tag's own date stands
        (
            "2022-05-04T03:37:37+02:00",
            '<time datetime="2022-05-03">3 May</time>',
            ("2022-05-04", "opengraph"),
        ),
        # more than a day apart: another date, not the same moment
        (
            "2022-05-04T03:37:37Z",
            '<time datetime="2022-05-01">1 May</time>',
            ("2022-05-04", "opengraph"),
        ),
    ],
)
def test_a_date_stated_in_utc_gives_way_to_the_publishers_day_shown(stated, shown, expected):
    head = f'<meta property="article:published_time" content="{stated}">'
    result = extract(page(head, shown), URL)
    assert (result.published, result.metadata_sources["published"]) == expected


def test_a_shown_date_outranks_dublin_core_and_an_earlier_json_ld_date():
    shown = '<time datetime="2022-01-27">27.01.2022</time>'
    dublin_core = '<meta name="DC.date" content="2022-02-20">'
    result = extract(page(dublin_core, shown), URL)
    assert (result.published, result.metadata_sources["published"]) == ("2022-01-27", "shown")

    def jsonld(stated: str) -> str:
        return (
            '<script type="application/ld+json">{"@type": "NewsArticle", "headline": "A post",'
            f' "datePublished": "{stated}"}}</script>'
        )

    # the record was made before the article went out: the page shows when it did
    later = extract(page(jsonld("2021-12-20T10:00:00+01:00"), shown), URL)
    assert (later.published, later.metadata_sources["published"]) == ("2022-01-27", "shown")
    # a date shown before the stated one is another item's, not this article's
    kept = extract(page(jsonld("2022-02-20T10:00:00+01:00"), shown), URL)
    assert (kept.published, kept.metadata_sources["published"]) == ("2022-02-20", "json-ld")
    # nor does a shown change of the article outrank the stated publication
    updated = '<p class="date">Aktualisiert: 27.01.2022</p>'
    stays = extract(page(jsonld("2021-12-20T10:00:00+01:00"), updated), URL)
    assert (stays.published, stays.metadata_sources["published"]) == ("2021-12-20", "json-ld")


@pytest.mark.parametrize(
    "top",
    [
        "<p>Mit Datum 1. Februar 2022 gilt die Regel.</p>",  # "Datum" in prose: no label
        '<div class="site-header"><span class="date">24.08.2019</span></div>',
    ],
)
def test_a_date_in_prose_or_the_sites_header_is_not_the_articles(top):
    result = extract(page(top=top), "https://example.org/2019/08/16/post")
    assert result.published == "2019-08-16"


@pytest.mark.parametrize(
    "elsewhere",
    [
        '<nav><time datetime="2018-01-01">1.1.2018</time></nav>',
        '<div class="comments"><time datetime="2018-01-01">1.1.2018</time></div>',
        '<div class="related-posts"><span class="date">01.01.2018</span></div>',
        '<div id="sidebar"><time datetime="2018-01-01">1.1.2018</time></div>',
    ],
)
def test_dates_of_comments_menus_and_teasers_are_not_the_articles(elsewhere):
    html = (
        f"<html><head><title>A post</title></head><body>{elsewhere}"
        f"<article><h1>A post</h1>{BODY}</article></body></html>"
    )
    result = extract(html, "https://example.org/2019/08/24/post")
    assert (result.published, result.metadata_sources["published"]) == ("2019-08-24", "htmldate")


def test_a_shown_date_that_is_no_date_or_implausible_is_passed_over():
    top = '<span class="date">31.02.2019</span><time datetime="1985-05-05">then</time>'
    result = extract(page(top=top), "https://example.org/2019/08/24/post")
    assert result.published == "2019-08-24"


# --- authors


@pytest.mark.parametrize(
    ("top", "expected"),
    [
        ('<p class="byline">By <a rel="author" href="/author/kim">Kim Lee</a></p>', ["Kim Lee"]),
        ('<div class="post-meta-author">Von Anna Schmidt | 3. März 2020</div>', ["Anna Schmidt"]),
        (
            '<span class="author vcard"><a class="url fn n" href="/u/1">Loïc Le Clerc</a></span>',
            ["Loïc Le Clerc"],
        ),
        ('<div class="c-article__authors">Text: Ursula Eggers</div>', ["Ursula Eggers"]),
        ('<p class="entry-author">Posted by Joe S. on 4 May 2021</p>', ["Joe S."]),
        (
            '<div class="content__author">von Lars Fischer und Alina Schadwinkel</div>',
            ["Lars Fischer", "Alina Schadwinkel"],
        ),
        (
            '<div class="byline">By Kim Lee, Sam Ng &amp; Jo Park</div>',
            ["Kim Lee", "Sam Ng", "Jo Park"],
        ),
        ('<div class="author">Von Tomas Spahn Fr, 18. Oktober 2019</div>', ["Tomas Spahn"]),
        ('<span class="author">freeman1984 on 2 May 2020</span>', ["freeman1984"]),
        ('<div class="author">Johanna Kropfitsch Alle Artikel</div>', ["Johanna Kropfitsch"]),
        ('<div class="post-author">Posted on May 4, 2020 by Adi Tzlil</div>', ["Adi Tzlil"]),
        ('<div class="byline">Posted by Kim Lee in Politics</div>', ["Kim Lee"]),
        ('<span class="field-contributor"><a>Matthieu Hy</a></span>', ["Matthieu Hy"]),
    ],
)
def test_byline_forms(top, expected):
    result = extract(page(top=top), URL)
    assert result.authors == expected
    assert result.metadata_sources["authors"] == "byline"


@pytest.mark.parametrize(
    ("top", "expected"),
    [
        ("<p>Von Lisa Petrich</p>", ["Lisa Petrich"]),
        ("<h4>By Giovanni Gaggero | 12/10/2020</h4>", ["Giovanni Gaggero"]),
        ("<p>By U.S. Customs and Border Protection</p>", ["U.S. Customs and Border Protection"]),
        ('<div class="autor-wrapper">Disko Von Ernst Lohoff</div>', ["Ernst Lohoff"]),
        ("<byline>Von David Hutzler, dpa</byline>", ["David Hutzler"]),
        ("<p>Von den umliegenden Höfen kaufte er Speck, Hartbrot und Kartoffeln.</p>", []),
        ("<p>By the way, nobody signed this.</p>", []),
        ("<p>Posted by Konstantin @ 12:00 am</p>", ["Konstantin"]),
        ("<h2><span>06.11.2023 13:30 von Olga</span></h2>", ["Olga"]),
        ("<p>Seite 2 von 5</p>", []),
        ("<p>- Redaktion: Eberhard Fuhr (Pressesprecher)</p>", ["Eberhard Fuhr"]),
        ("<p>Blog Beitrag von Margarita Koreneva</p>", ["Margarita Koreneva"]),
        ("<p><i>von Daniela Obers</i></p>", ["Daniela Obers"]),
        ("<p><em>---- by Kenneth Surin</em></p>", ["Kenneth Surin"]),
        ("<p>Autoren Jelko Djuren und Jutta Klaukien</p>", ["Jelko Djuren", "Jutta Klaukien"]),
        ("<p><em>Text von Chris Seiler Illustration von Markus Roost</em></p>", ["Chris Seiler"]),
        ("<p> von <em>Klaus Stanjek</em></p>", ["Klaus Stanjek"]),  # the name in a child
        ("<p><strong>Text:</strong> Klausmartin Friedrich</p>", ["Klausmartin Friedrich"]),
        ('<span>Geschrieben von <a href="/u/6">Kim Lee</a></span>', ["Kim Lee"]),
        ("<h5>Autor: </h5>Peter Maahn/SP-X", ["Peter Maahn"]),  # an agency after a slash
        ("<p>Auteur : Kossivi Tiassou</p>", ["Kossivi Tiassou"]),
        (
            "<div>Ein Artikel von <strong>Pamela Sladky</strong> | 27.01.2022</div>",
            ["Pamela Sladky"],
        ),
        ("<p><b>Von:</b><br><br>Götz Warnke</p>", ["Götz Warnke"]),  # the label alone
        (
            '<h4 class="meta-title">Autor</h4><p><a href="/p/nh">Nikolai Huke</a></p>',
            ["Nikolai Huke"],
        ),
        (  # the label and the name each in a field of its own
            '<div class="field"><p class="label"><strong>By</strong></p></div>'
            '<div class="field"><p class="full-name">Todd Bates</p></div>',
            ["Todd Bates"],
        ),
        (  # the line ends at the break: the next label is not the name's
            "<div><span>Autor:</span> Fritz Imhof<br><span>Quelle:</span> Livenet</div>",
            ["Fritz Imhof"],
        ),
        ("<p><b>Autor</b></p><p>Die Zahlen sind hier zu finden.</p>", []),
        (  # a role after a name, not a label: a list of signatories
            "<p><strong>Marie Arana</strong>, <span>author</span><br>"
            "<strong>Margaret Atwood</strong><br><strong>John Banville</strong></p>",
            [],
        ),
        ('<div class="label">Interview</div><div>SVEN MICHAELSEN</div>', ["Sven Michaelsen"]),
        ("<p>11.12.2019 - Amelie Loevenich</p>", ["Amelie Loevenich"]),  # a dated line
        ("<small>04.02.2022 | 13:10 Uhr | Uta Helkenberg</small>", ["Uta Helkenberg"]),
        ("<p>25.10.2022 - Berlin</p>", []),  # one word: a place
        ("<p>12.03.2021 | aktuelle meldung</p>", []),
        ("<p>12.03.2021 - Deutsche Bahn AG</p>", []),  # an organisation
    ],
)
def test_unmarked_bylines_need_a_line_of_names(top, expected):
    assert extract(page(top=top), URL).authors == expected


def test_bylines_in_comments_menus_and_bios_are_not_the_authors():
    top = (
        '<nav class="menu"><a href="/author/editor">Ed Itor</a></nav>'
        '<div class="author-bio">Kim Lee writes about the web since 2001.</div>'
        '<ol class="comment-list"><li><span class="comment-author">Troll Person</span></li></ol>'
    )
    assert extract(page(top=top), URL).authors == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Kim Lee and Sam Ng", ["Kim Lee", "Sam Ng"]),
        ("Kim Lee, Sam Ng", ["Kim Lee", "Sam Ng"]),
        ("Rob Picheta, CNN", ["Rob Picheta"]),  # an outlet after the name
        ("admin", []),
        ("Staff", []),
        ("jo@example.org", []),
        ("cipha[at]cipha.net", []),  # an e-mail address written around spam filters
        ("Frank Bueltge - http://bueltge.de", ["Frank Bueltge"]),
        ("facebook.com/evgenia.karp", []),
        ("Institute for Fiscal Studies", ["Institute for Fiscal Studies"]),  # not split
        ("Bundesamt für Umwelt und Energie", ["Bundesamt für Umwelt und Energie"]),
    ],
)
def test_meta_author_values(value, expected):
    result = extract(page(meta_author(value)), URL)
    assert result.authors == expected


def test_site_name_is_not_an_author():
    result = extract(page(meta_author("Example News"), site="Example News"), URL)
    assert result.authors == []
    byline = '<span class="byline">By Kim Lee</span>'
    result = extract(page(meta_author("Example News"), byline, site="Example News"), URL)
    assert result.authors == ["Kim Lee"]


def test_a_personal_site_byline_names_its_owner():
    byline = '<li class="post-author meta-wrapper">Post author By Helge Fahrnberger</li>'
    result = extract(page(top=byline, site="Helge Fahrnberger"), URL)
    assert result.authors == ["Helge Fahrnberger"]


@pytest.mark.parametrize("stray", ["Dezember", "Stand", "About", "Donnerstag"])
def test_a_date_or_label_word_in_a_byline_is_no_author(stray):
    assert extract(page(top=f'<span class="byline">{stray}</span>'), URL).authors == []


def test_html_entities_and_a_site_in_brackets_are_cleaned():
    assert extract(page(meta_author("Deutsche Welle (www.dw.com)")), URL).authors == [
        "Deutsche Welle"
    ]
    head = (
        '<script type="application/ld+json">{"@type": "Article", "headline": "A post",'
        ' "author": {"@type": "Person", "name": "Redacci&oacute;n Central"}}</script>'
    )
    assert extract(page(head), URL).authors == ["Redacción Central"]


def test_one_person_per_value_sources_keep_family_given_order():
    head = (
        '<meta name="citation_title" content="A post">'
        '<meta name="citation_author" content="Anderson, Michael L.">'
        '<meta name="citation_author" content="Dobkin, Carlos">'
    )
    result = extract(page(head), URL)
    assert result.authors == ["Anderson, Michael L.", "Dobkin, Carlos"]
    assert result.metadata_sources["authors"] == "citation"


def test_jsonld_degree_suffix_dropped_and_order_kept():
    head = (
        '<script type="application/ld+json">{"@type": "Article", "headline": "A post",'
        ' "author": [{"@type": "Person", "name": "Grant Tinsley, PhD"},'
        ' {"@type": "Person", "name": "Amy Ng"}]}</script>'
    )
    assert extract(page(head), URL).authors == ["Grant Tinsley", "Amy Ng"]


def test_clean_authors_dedupes_case_insensitively():
    assert clean_authors(["Kim Lee", "KIM LEE", "Sam Ng"]) == ["Kim Lee", "Sam Ng"]


# --- identifiers on pages


def test_page_identifiers_from_tags_jsonld_and_head_links():
    head = (
        '<meta name="citation_title" content="A post">'
        '<meta name="citation_doi" content="doi:10.5555/ABC.123">'
        '<meta name="citation_pmid" content="31452104">'
        '<meta name="citation_isbn" content="0-306-40615-2">'
        '<meta name="citation_arxiv_id" content="hep-th/9901001">'
    )
    result = extract(page(head), URL)
    assert (result.doi, result.pmid, result.isbn, result.arxiv_id) == (
        "10.5555/ABC.123",
        "31452104",
        "9780306406157",
        "hep-th/9901001",
    )
    jsonld = (
        '<script type="application/ld+json">{"@type": "ScholarlyArticle", "headline": "A post",'
        ' "identifier": {"@type": "PropertyValue", "propertyID": "DOI", "value": "10.1000/j1"},'
        ' "sameAs": "https://pubmed.ncbi.nlm.nih.gov/123456/"}</script>'
    )
    result = extract(page(jsonld), URL)
    assert (result.doi, result.pmid) == ("10.1000/j1", "123456")
    assert result.metadata_sources["doi"] == "json-ld"


def test_invalid_identifiers_and_cited_works_are_ignored():
    head = (
        '<meta name="citation_doi" content="10.12/abc"><meta name="citation_isbn" content="1234">'
    )
    top = '<p>See <a href="https://doi.org/10.1000/other">another paper</a>.</p>'
    result = extract(page(head, top), URL)
    assert (result.doi, result.isbn) == (None, None)


def test_jsonld_author_given_as_a_reference_to_a_person_in_the_graph():
    head = (
        '<script type="application/ld+json">{"@context": "https://schema.org", "@graph": ['
        '{"@type": "Article", "headline": "A post", "author": {"@id": "https://example.org/#/p/1"}},'
        '{"@type": "Person", "@id": "https://example.org/#/p/1", "name": "Kim Lee"}]}</script>'
    )
    result = extract(page(head), URL)
    assert result.authors == ["Kim Lee"]
    assert result.metadata_sources["authors"] == "json-ld"


def test_jsonld_webpage_author_counts():
    head = (
        '<script type="application/ld+json">{"@graph": ['
        '{"@type": "WebPage", "name": "A post", "author": {"@id": "#kim"}},'
        '{"@type": "Person", "@id": "#kim", "name": "Kim Lee"}]}</script>'
    )
    assert extract(page(head), URL).authors == ["Kim Lee"]


@pytest.mark.parametrize(
    "head",
    [
        '<meta name="author" content="Kim Lee, Sam Ng">',
        '<meta name="parsely-author" content="Kim Lee">'
        '<meta name="parsely-author" content="Sam Ng">',
    ],
)
def test_a_meta_author_list_that_extends_the_jsonld_one_wins(head):
    jsonld = (
        '<script type="application/ld+json">{"@type": "Article", "headline": "A post",'
        ' "author": {"@type": "Person", "name": "Kim Lee"}}</script>'
    )
    assert extract(page(jsonld + head), URL).authors == ["Kim Lee", "Sam Ng"]


def test_a_local_midnight_in_utc_is_not_overruled_by_htmldate():
    head = '<meta property="article:published_time" content="2022-11-06T23:00:00.000Z">'
    result = extract(page(head), URL)
    assert result.published == "2022-11-07"
    assert result.metadata_sources["published"] == "opengraph"


def test_a_handle_gives_way_to_the_byline_spelling_the_same_name():
    head = meta_author("gabor_munier")
    top = '<div class="byline">Von Gàbor Muniér</div>'
    result = extract(page(head, top), URL)
    assert result.authors == ["Gàbor Muniér"]
    assert result.metadata_sources["authors"] == "byline"
    other = extract(page(head, '<div class="byline">Von Kim Lee</div>'), URL)
    assert other.authors == ["gabor_munier"]


def test_a_first_name_in_the_tags_gives_way_to_the_byline_starting_with_it():
    head = meta_author("Todd")
    result = extract(page(head, '<div class="byline">By Todd Bates</div>'), URL)
    assert (result.authors, result.metadata_sources["authors"]) == (["Todd Bates"], "byline")
    other = extract(page(head, '<div class="byline">By Kim Lee</div>'), URL)
    assert other.authors == ["Todd"]


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("Written by", ["Karoline Herr"]),
        ("Verfasst von", ["Karoline Herr"]),
        ("Est. reading time", []),
    ],
)
def test_the_written_by_label_of_a_twitter_card_names_the_author(label, expected):
    head = (
        f'<meta name="twitter:label1" content="{label}">'
        '<meta name="twitter:data1" content="Karoline Herr">'
    )
    assert extract(page(head), URL).authors == expected


def test_a_byline_naming_json_lds_one_author_and_others_names_them_all():
    jsonld = (
        '<script type="application/ld+json">{"@type": "NewsArticle", "headline": "A post",'
        ' "author": {"@type": "Person", "name": "Rudolf Fischer"}}</script>'
    )
    both = '<div class="author">von Rudolf Fischer, Simon Kohler</div>'
    assert extract(page(jsonld, both), URL).authors == ["Rudolf Fischer", "Simon Kohler"]
    other = '<div class="author">von Kim Lee, Simon Kohler</div>'  # not the same person
    assert extract(page(jsonld, other), URL).authors == ["Rudolf Fischer"]


@pytest.mark.parametrize(
    ("end", "expected"),
    [
        ("<p><b><i>Stefan Wasmer</i></b></p>", ["Stefan Wasmer"]),
        ('<p class="clearfix"> <strong>Marina Mucha</strong> </p>', ["Marina Mucha"]),
        ("<p>Marina Mucha</p>", []),  # not set apart
        ("<p><strong>Weitere Informationen</strong> zum Thema</p>", []),
        ("<p><strong>KLIMANEUTRALITÄT VON UNTERNEHMEN</strong></p>", []),  # a heading
        ("<p><strong>Deutsche Bahn AG</strong></p>", []),  # an organisation
    ],
)
def test_a_name_signing_the_text_is_its_author_where_none_other_is_named(end, expected):
    html = (
        f"<html><head><title>A post</title></head><body><article><h1>A post</h1>{BODY}{end}"
        "</article></body></html>"
    )
    assert extract(html, URL).authors == expected


def test_a_credit_line_under_the_headline_names_the_author():
    top = '<p class="credit">JIJI</p>'
    assert extract(page(top=top), URL).authors == ["JIJI"]
    photo = '<figure><img src="a.jpg"><span class="photo-credit">Kim Lee</span></figure>'
    assert extract(page(top=photo), URL).authors == []


def test_a_byline_marked_by_a_test_id_ends_before_its_weekday():
    top = (
        '<div data-testid="prism-byline"><a href="/team/jr">J.R. Stone</a>'
        " Thursday, August 24</div>"
    )
    result = extract(page(top=top), URL)
    assert (result.authors, result.metadata_sources["authors"]) == (["J.R. Stone"], "byline")


def test_a_first_name_in_json_ld_is_completed_from_the_persons_description():
    jsonld = (
        '<script type="application/ld+json">{"@type": "BlogPosting", "headline": "A post",'
        ' "author": {"@type": "Person", "name": "Stefanus",'
        ' "description": "Stefanus Stahl - Maschinenbauer und Abenteurer."}}</script>'
    )
    assert extract(page(jsonld), URL).authors == ["Stefanus Stahl"]


@pytest.mark.parametrize(
    ("author", "site"),
    [
        ("El Colombiano", "ElColombiano.com"),  # the site's name written another way
        ("JF", "JUNGE FREIHEIT"),  # its initials
        ("Die FURCHE", "Achtsam durch die Krise | Die FURCHE"),  # a part of it
        ("IT Finanzmagazin /PP", "IT Finanzmagazin"),  # with a desk's initials
        ("Deutsche Welle (www.dw.com)", "DW.COM"),  # the site is its initials
    ],
)
def test_a_tag_author_that_is_the_site_gives_way_to_the_byline(author, site):
    top = '<div class="author"><a href="/author/kim-lee">Kim Lee</a></div>'
    result = extract(page(meta_author(author), top, site), URL)
    assert result.authors == ["Kim Lee"]
    assert extract(page(meta_author(author), "", site), URL).authors == []


def test_an_organisation_in_the_tags_gives_way_to_a_persons_byline_only():
    head = meta_author("Hanns-Seidel-Stiftung e.V.")
    top = "<p><strong>Autorin: Uta Staschewski, Projektleiterin der HSS.</strong></p>"
    assert extract(page(head, top), URL).authors == ["Uta Staschewski"]  # one author, a role
    assert extract(page(head), URL).authors == ["Hanns-Seidel-Stiftung e.V."]


def test_a_site_name_split_like_a_byline_is_no_two_people():
    top = '<div class="wrote_by"> By <a href="/reporters/jose">Jose de la Cruz</a></div>'
    result = extract(page(meta_author("Jobs & Hire"), top, "Jobs & Hire"), URL)
    assert result.authors == ["Jose de la Cruz"]


@pytest.mark.parametrize(
    ("byline", "expected"),
    [
        ("Adam Aaronson PhillyVoice Staff", ["Adam Aaronson"]),
        ("Redacción PhillyVoice", ["Redacción PhillyVoice"]),  # a desk, kept whole
        ("PhillyVoice-Experte Robin Tschöpe", ["Robin Tschöpe"]),  # the site's role before
        ("PhillyVoice Team", ["PhillyVoice Team"]),
    ],
)
def test_the_sites_name_after_a_persons_name_is_dropped(byline, expected):
    top = f'<div class="author">{byline}</div>'
    assert extract(page(top=top, site="PhillyVoice"), URL).authors == expected


def test_only_a_word_longer_than_the_sites_name_before_a_name_is_its_role():
    assert clean_authors(["FOCUS-Online-Experte Robin Tschöpe"], "FOCUS Online") == [
        "Robin Tschöpe"
    ]
    # the site's name itself before other words is no role to drop
    assert clean_authors(["GIROMATCH Frankfurt am Main"], "GIROMATCH") == [
        "GIROMATCH Frankfurt am Main"
    ]
