"""The published /openapi.json against live answers: every operation is called, and each
answer's status must be one the schema lists, its body valid against that schema."""

from __future__ import annotations

import jsonschema
import pytest

from api import create_app

from .test_api import SUBSTACK_URL, TOKEN, Client, auth, build_db

CALLS = [
    # (method, path, keyword arguments of the request)
    ("GET", "/api/citations/content", {"params": {"url": SUBSTACK_URL}}),
    ("GET", "/api/citations/content", {"params": {"url": "https://example.org/gone"}}),
    ("GET", "/api/citations/content", {"params": {"url": "https://nowhere.example/"}}),
    ("GET", "/api/citations/content", {"params": {"url": "ftp://x.org/"}}),
    (
        "POST",
        "/api/citations/content/upsert",
        {"json": {"url": "https://example.net/new", "fetchedAt": "2026-01-17T09:22:15.000Z"}},
    ),
    ("POST", "/api/citations/content/upsert", {"json": {"url": "https://example.net/"}}),
    ("POST", "/api/citations/content/upsert", {"content": b"{", "auth": False}),
    ("GET", "/api/citations/content/list", {"params": {"limit": 2}}),
    ("GET", "/api/citations/content/list", {"params": {"limit": 5001}}),
    ("GET", "/api/citations/content/stats", {}),
    ("POST", "/api/citations/content/link-resources", {}),
    ("POST", "/api/citations/content/link-resources", {"auth": False}),
    ("GET", "/api/resources/lookup", {"params": {"url": SUBSTACK_URL}}),
    ("GET", "/api/resources/lookup", {"params": {"url": "https://nowhere.example/"}}),
    ("GET", "/api/resources/search", {"params": {"q": "sleeper"}}),
    ("GET", "/api/resources/search", {"params": {"q": ""}}),
    ("GET", "/api/resources/stats", {}),
    ("GET", "/api/content/stats", {}),
    ("GET", "/api/resources", {"params": {"limit": 2}}),
    ("GET", "/api/resources", {"params": {"limit": 0}}),
    ("POST", "/api/resources", {"json": {"url": "https://example.net/a", "citedBy": ["p"]}}),
    ("POST", "/api/resources", {"json": {"url": "https://example.net/a"}}),
    (
        "POST",
        "/api/resources",
        {"json": {"resources": [{"url": "https://example.net/b"}, {"url": "nope"}]}},
    ),
    ("POST", "/api/resources", {"json": {"title": "no url"}}),
    ("GET", "/api/resources/{post}", {}),
    ("GET", "/api/resources/nope", {}),
    ("GET", "/api/resources/{post}/snapshots", {}),
    ("GET", "/api/resources/{post}/csl", {}),
    ("GET", "/api/resources/nope/csl", {}),
    ("POST", "/api/resources/{post}/refetch", {"json": {"by": "ann", "reason": "updated"}}),
    ("POST", "/api/resources/{post}/refetch", {"auth": False}),
    ("GET", "/api/refetch/1", {}),
    ("GET", "/api/refetch/999", {}),
    ("GET", "/api/refetch/notanumber", {}),
    ("GET", "/healthz", {}),
    ("GET", "/health", {}),
    ("GET", "/health", {"headers": {"Accept": "application/json"}}),
]


@pytest.fixture
def app(db_path):
    ids = build_db(str(db_path))
    return create_app(db_path, api_token=TOKEN, allow_private=True, start_worker=False), ids


def operation_of(spec: dict, method: str, path: str) -> tuple[str, dict]:
    """The schema's path template and operation that ``path`` is served by."""
    wanted = path.split("/")
    for template, item in spec["paths"].items():
        parts = template.split("/")
        same_shape = len(parts) == len(wanted) and all(
            p == w or (p.startswith("{") and w) for p, w in zip(parts, wanted, strict=True)
        )
        if same_shape and method.lower() in item:
            return template, item[method.lower()]
    raise AssertionError(f"{method} {path} is not in /openapi.json")


def test_live_answers_match_the_published_schema(app):
    app, ids = app
    client = Client(app)
    spec = client.get("/openapi.json").json()
    called = set()
    for method, path, kwargs in CALLS:
        kwargs = dict(kwargs)
        path = path.format(post=ids["post"])
        headers = {**kwargs.pop("headers", {}), **(auth() if kwargs.pop("auth", True) else {})}
        if "content" in kwargs:
            headers["Content-Type"] = "application/json"
        response = client.request(method, path, headers=headers, **kwargs)
        template, operation = operation_of(spec, method, path)
        called.add((method.lower(), template))
        declared = operation["responses"].get(str(response.status_code))
        assert declared, f"{method} {path}: {response.status_code} is not in the schema"
        media = response.headers["content-type"].split(";")[0]
        schema = declared.get("content", {}).get(media, {}).get("schema")
        assert schema is not None, f"{method} {path}: no schema for {media}"
        document = {**schema, "components": spec["components"]}
        jsonschema.validate(response.json(), document, cls=jsonschema.Draft202012Validator)
    every = {(m, p) for p, item in spec["paths"].items() for m in item}
    assert every - called == set(), "operations never checked"


def test_the_schema_says_400_not_422(app):
    spec = Client(app[0]).get("/openapi.json").json()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            assert "422" not in operation["responses"], (method, path)
            if operation.get("parameters") or operation.get("requestBody"):
                assert operation["responses"]["400"]["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/ErrorBody"
                }
    upsert = spec["paths"]["/api/citations/content/upsert"]["post"]
    body = upsert["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/UpsertBody"}
    fields = spec["components"]["schemas"]["UpsertBody"]["properties"]
    assert fields["url"]["maxLength"] == 2000
    assert fields["fullText"]["anyOf"][0]["maxLength"] == 5 * 1024 * 1024
    assert spec["components"]["schemas"]["UpsertBody"]["required"] == ["url", "fetchedAt"]
