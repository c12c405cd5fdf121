"""Page tokens (AIP-158): opaque, bound to the query they came from, size-capped pages."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from services.kit.errors import FieldViolation, InvalidInput


@dataclass(frozen=True)
class PageRequest:
    size: int
    # The sort key of the last item of the previous page, or None for the first page.
    after: tuple[Any, ...] | None


def _query_hash(query: Sequence[Any]) -> str:
    return hashlib.sha256(json.dumps(list(query), default=str).encode()).hexdigest()[:16]


def encode_token(after: Sequence[Any], query: Sequence[Any]) -> str:
    body = json.dumps({"a": list(after), "q": _query_hash(query)}, default=str)
    return base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")


def page_request(
    page_size: int, page_token: str, query: Sequence[Any], *, default: int = 50, maximum: int = 200
) -> PageRequest:
    """Validates size and token; a token from another query (changed filters) is refused."""
    if page_size < 0:
        raise InvalidInput([FieldViolation("page_size", "PAGE_SIZE_NEGATIVE", "must be >= 0")])
    size = min(page_size or default, maximum)
    if not page_token:
        return PageRequest(size, None)
    try:
        padded = page_token + "=" * (-len(page_token) % 4)
        body = json.loads(base64.urlsafe_b64decode(padded.encode()))
        after, query_hash = tuple(body["a"]), body["q"]
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(
            [FieldViolation("page_token", "PAGE_TOKEN_INVALID", "is not a token this API issued")]
        ) from exc
    if query_hash != _query_hash(query):
        raise InvalidInput(
            [
                FieldViolation(
                    "page_token", "PAGE_TOKEN_MISMATCH", "was issued for a different query"
                )
            ]
        )
    return PageRequest(size, after)
