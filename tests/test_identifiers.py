"""Identifier normalization and validation: DOI, arXiv (old and new forms), ISBN, PubMed."""

from __future__ import annotations

import pytest

from extraction import identifiers


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("10.1000/xyz123", "10.1000/xyz123"),
        ("doi:10.1000/xyz123", "10.1000/xyz123"),
        ("DOI: 10.1000/xyz123", "10.1000/xyz123"),
        ("https://doi.org/10.1038/nphys1170", "10.1038/nphys1170"),
        ("http://dx.doi.org/10.1038/nphys1170", "10.1038/nphys1170"),
        ("https://www.acpjournals.org/doi/10.7326/M19-3075", "10.7326/M19-3075"),
        ("https://doi.org/10.1002/%28SICI%291097", "10.1002/(SICI)1097"),
        ("10.1000/xyz123.", "10.1000/xyz123"),  # a sentence's full stop
        ("(see 10.1000/xyz123)", None),  # not a bare DOI
        ("10.1000/", None),
        ("10.12/abc", None),  # registrant code under 4 digits
        ("11.1000/abc", None),
        ("https://example.org/doi/", None),
        ("", None),
        (None, None),
    ],
)
def test_normalize_doi(value, expected):
    assert identifiers.normalize_doi(value) == expected


def test_find_doi_in_text_ends_at_punctuation():
    text = "Published as doi:10.5555/12345678, see also https://doi.org/10.1/x."
    assert identifiers.find_doi(text) == "10.5555/12345678"
    assert identifiers.find_doi("no identifier here, 10.5 percent") is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2101.00001", "2101.00001"),  # new form, five digits (2015 on)
        ("0704.0001", "0704.0001"),  # new form, four digits (2007-2014)
        ("arXiv:2101.00001v2", "2101.00001v2"),
        ("https://arxiv.org/abs/2101.00001v3", "2101.00001v3"),
        ("https://arxiv.org/pdf/2101.00001v1.pdf", "2101.00001v1"),
        ("hep-th/9901001", "hep-th/9901001"),  # old form
        ("math.GT/0309136", "math.GT/0309136"),
        ("arXiv:cond-mat/0211034v2", "cond-mat/0211034v2"),
        ("2113.00001", None),  # no 13th month
        ("2101.001", None),
        ("hep-th/99010", None),
        ("foo", None),
    ],
)
def test_normalize_arxiv(value, expected):
    assert identifiers.normalize_arxiv(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("978-0-306-40615-7", "9780306406157"),
        ("ISBN 978 0 306 40615 7", "9780306406157"),
        ("0-306-40615-2", "9780306406157"),  # ISBN-10 converted
        ("0-8044-2957-X", "9780804429573"),  # X check digit
        ("978-0-306-40615-8", None),  # wrong check digit
        ("0-306-40615-3", None),
        ("12345", None),
    ],
)
def test_normalize_isbn(value, expected):
    assert identifiers.normalize_isbn(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("31452104", "31452104"),
        ("PMID: 31452104", "31452104"),
        ("https://pubmed.ncbi.nlm.nih.gov/31452104/", "31452104"),
        ("https://www.ncbi.nlm.nih.gov/pubmed/31452104", "31452104"),
        ("031452104", None),
        ("123456789", None),
        ("abc", None),
    ],
)
def test_normalize_pmid(value, expected):
    assert identifiers.normalize_pmid(value) == expected


def test_find_in_a_first_page():
    page = "A Study\nISBN 978-0-306-40615-7\nPMID: 31452104\narXiv:hep-th/9901001v1 [hep-th]"
    assert identifiers.find_isbn(page) == "9780306406157"
    assert identifiers.find_pmid(page) == "31452104"
    assert identifiers.find_arxiv(page) == "hep-th/9901001v1"
