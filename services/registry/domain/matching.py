"""Classifying a submitted identity against the residents that could be meant.

Set-based lookup happens in the repository; this module only decides, per claim, from the
candidates found by citizen id and by (folded name, birth date).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass, field

from services.registry.domain import names
from services.registry.domain.citizen_id import is_well_formed
from services.registry.domain.commands import IdentityClaim
from services.registry.domain.model import CivilStatus

MAX_CANDIDATES = 10


class Outcome(enum.IntEnum):
    MATCH = 1
    MATCH_WITH_DIFFERENCES = 2
    NO_MATCH = 3
    AMBIGUOUS = 4
    INVALID = 5


@dataclass(frozen=True)
class Candidate:
    citizen_id: str
    full_name: str
    birth_date: dt.date
    permanent_ward_code: str
    temporary_ward_code: str | None
    civil_status: CivilStatus

    @property
    def name_key(self) -> str:
        return names.fold(self.full_name)

    def lives_in(self, ward_code: str) -> bool:
        return ward_code in (self.permanent_ward_code, self.temporary_ward_code)


@dataclass(frozen=True)
class Verification:
    index: int
    client_ref: str
    outcome: Outcome
    match: Candidate | None = None
    differing_fields: tuple[str, ...] = ()
    candidates: tuple[Candidate, ...] = field(default_factory=tuple)
    problem: str = ""


def differences(claim: IdentityClaim, candidate: Candidate) -> tuple[str, ...]:
    fields = []
    if claim.citizen_id and claim.citizen_id != candidate.citizen_id:
        fields.append("citizen_id")
    if names.fold(claim.full_name) != candidate.name_key:
        fields.append("full_name")
    if claim.birth_date is not None and claim.birth_date != candidate.birth_date:
        fields.append("birth_date")
    if claim.ward_code and not candidate.lives_in(claim.ward_code):
        fields.append("ward_code")
    return tuple(fields)


def classify(
    index: int,
    claim: IdentityClaim,
    by_id: Candidate | None,
    by_name_and_birth: Sequence[Candidate],
) -> Verification:
    """Decides one claim.

    A known citizen id is authoritative: the resident it names is the match, and other fields
    can only make it a match with differences. Without an id (or with an unknown one), the
    residents of the same folded name and birth date are the candidates, narrowed by ward.
    """
    if by_id is not None:
        diff = differences(claim, by_id)
        outcome = Outcome.MATCH_WITH_DIFFERENCES if diff else Outcome.MATCH
        return Verification(index, claim.client_ref, outcome, match=by_id, differing_fields=diff)
    candidates = list(by_name_and_birth)
    if claim.ward_code and len(candidates) > 1:
        in_ward = [c for c in candidates if c.lives_in(claim.ward_code)]
        candidates = in_ward or candidates
    if not candidates:
        return Verification(index, claim.client_ref, Outcome.NO_MATCH)
    if len(candidates) > 1:
        return Verification(
            index,
            claim.client_ref,
            Outcome.AMBIGUOUS,
            candidates=tuple(candidates[:MAX_CANDIDATES]),
        )
    only = candidates[0]
    diff = differences(claim, only)
    outcome = Outcome.MATCH_WITH_DIFFERENCES if diff else Outcome.MATCH
    return Verification(index, claim.client_ref, outcome, match=only, differing_fields=diff)


def claim_problem(claim: IdentityClaim) -> str:
    """A stable reason when the claim cannot be looked up at all, else ""."""
    if claim.citizen_id and not is_well_formed(claim.citizen_id):
        return "CITIZEN_ID_MALFORMED"
    if claim.birth_date_invalid:
        return "BIRTH_DATE_INVALID"
    if not names.fold(claim.full_name):
        return "FULL_NAME_EMPTY"
    if claim.birth_date is None and not claim.citizen_id:
        return "BIRTH_DATE_REQUIRED"
    return ""
