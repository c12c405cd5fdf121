"""Domain error categories shared by every service.

Pure Python on purpose: domain packages raise these, and each service's ``api/errors.py`` maps
the categories to gRPC statuses. A message must never contain personal data: it reaches the
caller verbatim. ``reason`` is a stable UPPER_SNAKE identifier callers may branch on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class FieldViolation:
    """One bad field: ``field`` is the request path ("birth_date", "claims[3].citizen_id")."""

    field: str
    reason: str
    description: str


class DomainError(Exception):
    """Base of every expected failure. Subclasses pick the category, instances the reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class InvalidInput(DomainError):
    """The request itself is wrong; retrying it unchanged will fail again."""

    def __init__(
        self,
        violations: Iterable[FieldViolation],
        reason: str = "INVALID_INPUT",
        message: str = "the request has invalid fields",
    ) -> None:
        super().__init__(reason, message)
        self.violations = tuple(violations)


class NotFound(DomainError):
    """The named resource does not exist (or is not visible to the caller)."""


class AlreadyExists(DomainError):
    """A resource with the same identity exists already."""


class PreconditionFailed(DomainError):
    """The system is not in a state that allows the operation."""


class ConcurrentChange(DomainError):
    """The caller's etag is stale: someone changed the resource since it was read."""


class Unauthenticated(DomainError):
    """The caller's credentials are missing, malformed, expired or not ours."""


class Forbidden(DomainError):
    """The caller is authenticated but may not do this to this resource."""


class Validator:
    """Collects field violations so a request reports all its problems at once."""

    def __init__(self) -> None:
        self._violations: list[FieldViolation] = []

    def add(self, field: str, reason: str, description: str) -> None:
        self._violations.append(FieldViolation(field, reason, description))

    def check(self, condition: bool, field: str, reason: str, description: str) -> bool:
        if not condition:
            self.add(field, reason, description)
        return condition

    @property
    def ok(self) -> bool:
        return not self._violations

    def raise_if_any(self) -> None:
        if self._violations:
            raise InvalidInput(self._violations)
