"""The wiki's citation-content API as pydantic models: its bodies, answers and limits.

Field names are the wire's camelCase. Length limits count UTF-16 code units, as the
wiki's schema (JavaScript's ``string.length``) does: an emoji counts 2. Types are strict
where JavaScript's are (``"200"`` is not an integer, a number is not a string).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, StrictStr

from storage.previews import PREVIEW_MAX_CHARS, utf16_length

from .models import Answer

MAX_URL = 2000
MAX_FULL_TEXT = 5 * 1024 * 1024
"""5 MiB of code units: the wiki's cap on ``fullText``."""
JS_TIME_PATTERN = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"
"""``Date.toISOString()``: ``2026-01-17T09:22:15.000Z``."""
_ISO_DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?$")


def _utf16_max(limit: int):
    def check(value: str) -> str:
        if utf16_length(value) > limit:
            raise ValueError(f"at most {limit:,} UTF-16 code units (JavaScript length)")
        return value

    return AfterValidator(check)


# Strings of at most so many UTF-16 code units (``maxLength`` in the schema).
UrlText = Annotated[StrictStr, Field(min_length=1, max_length=MAX_URL), _utf16_max(MAX_URL)]
ShortText = Annotated[StrictStr, Field(max_length=200), _utf16_max(200)]
TitleText = Annotated[StrictStr, Field(max_length=1000), _utf16_max(1000)]
PreviewText = Annotated[
    StrictStr, Field(max_length=PREVIEW_MAX_CHARS), _utf16_max(PREVIEW_MAX_CHARS)
]
FullText = Annotated[StrictStr, Field(max_length=MAX_FULL_TEXT), _utf16_max(MAX_FULL_TEXT)]
HashText = Annotated[StrictStr, Field(max_length=64), _utf16_max(64)]
MethodText = Annotated[StrictStr, Field(max_length=50), _utf16_max(50)]


def _parse_datetime(value: str) -> str:
    """An ISO 8601 date and time (``Z``, an offset, or none: UTC), as stored: to the second."""
    if not _ISO_DATETIME.match(value):
        raise ValueError("must be an ISO 8601 date and time, e.g. 2026-01-17T09:22:15.000Z")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"not a valid date and time: {exc}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


DateTimeIn = Annotated[
    StrictStr, Field(json_schema_extra={"format": "date-time"}), AfterValidator(_parse_datetime)
]
JSTime = Annotated[str, Field(pattern=JS_TIME_PATTERN, json_schema_extra={"format": "date-time"})]


class UpsertBody(BaseModel):
    """``POST /api/citations/content/upsert``: a page the wiki's tools fetched themselves."""

    model_config = ConfigDict(extra="ignore")

    url: UrlText
    fetchedAt: DateTimeIn
    resourceId: StrictStr | None = None
    httpStatus: StrictInt | None = None
    contentType: ShortText | None = None
    pageTitle: TitleText | None = None
    fullTextPreview: PreviewText | None = None
    fullText: FullText | None = None
    contentLength: StrictInt | None = None
    """Accepted for the wiki's sake; citecache counts the text it keeps."""
    contentHash: HashText | None = None
    fetchMethod: MethodText | None = None


class UpsertAnswer(Answer):
    url: str


class CitationContent(Answer):
    """``GET /api/citations/content``: the 13 fields of the wiki's content row."""

    url: str
    resourceId: str | None
    fetchedAt: JSTime
    httpStatus: int | None
    contentType: str | None
    pageTitle: str | None
    fullTextPreview: str | None = Field(
        description=f"At most {PREVIEW_MAX_CHARS:,} UTF-16 code units"
    )
    fullText: str | None
    contentLength: int | None
    contentHash: str | None
    fetchMethod: str | None
    createdAt: JSTime
    updatedAt: JSTime


class ContentEntry(Answer):
    """One row of the listing: a source tried, without text."""

    url: str
    fetchedAt: JSTime
    httpStatus: int | None
    contentType: str | None
    pageTitle: str | None
    contentLength: int | None
    contentHash: str | None
    hasFullText: bool
    hasPreview: bool
    createdAt: JSTime
    updatedAt: JSTime


class ContentList(Answer):
    entries: list[ContentEntry]
    total: int
    withFullText: int
    withPreview: int
    limit: int
    offset: int


class ContentStats(Answer):
    total: int
    withFullText: int
    withPreview: int
    coverage: int = Field(description="Percent of ``total`` with full text, 0 when empty")
    okCount: int = Field(description="Last answer HTTP 200")
    deadCount: int = Field(description="Last answer HTTP 400 or above")
    avgContentLength: int | None


class LinkAnswer(Answer):
    linked: int
