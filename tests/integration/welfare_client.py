"""Calling welfare in integration tests: officers, and the residents a claim needs.

The server runs once per session against the session's registry and case-status servers, so
every test registers its own residents and records their statuses first. Example programs are
published once per session; a test that changes a program publishes its own code.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from dancu.case_status.v1 import case_pb2 as cpb
from dancu.registry.v1 import resident_pb2 as rpb
from dancu.welfare.v1 import welfare_pb2 as wpb
from dancu.welfare.v1 import welfare_service_pb2 as pb
from dancu.welfare.v1 import welfare_service_pb2_grpc as pb_grpc

from services.kit.auth import EVERY_WARD, Identity
from services.registry.domain.model import Sex
from services.welfare.api.convert import program_message
from services.welfare.domain.examples import MEAL_SUPPORT, example_programs
from tests.integration.case_status_client import status_request
from tests.integration.registry_client import (
    HOAN_KIEM,
    RegistryClients,
    date,
    death_record,
    death_request,
    name_tag,
    new_request_id,
    register,
)

if TYPE_CHECKING:
    from dancu.case_status.v1.case_status_service_pb2_grpc import CaseStatusServiceAsyncStub
    from dancu.registry.v1.registry_service_pb2_grpc import RegistryServiceAsyncStub
    from dancu.welfare.v1.welfare_service_pb2_grpc import WelfareServiceAsyncStub

VIETNAM = dt.timezone(dt.timedelta(hours=7))

OFFICER = Identity(
    "welfare-hn-01", "so-lao-dong-ha-noi", frozenset({"welfare_officer"}), EVERY_WARD
)
CHECKER = Identity(
    "welfare-hn-02", "so-lao-dong-ha-noi", frozenset({"welfare_officer"}), EVERY_WARD
)
SUPERVISOR = Identity(
    "welfare-hn-boss", "so-lao-dong-ha-noi", frozenset({"welfare_supervisor"}), EVERY_WARD
)
TAY_HO_OFFICER = Identity(
    "welfare-th-01", "ubnd-tay-ho", frozenset({"welfare_officer"}), frozenset({"00103"})
)
HOAN_KIEM_OFFICER = Identity(
    "welfare-hk-01", "ubnd-hoan-kiem", frozenset({"welfare_officer"}), frozenset({HOAN_KIEM})
)


class WelfareClients(RegistryClients):
    """Channels to the welfare server under test (one per caller, token in every call)."""

    def welfare_stub(self, identity: Identity) -> WelfareServiceAsyncStub:
        token = self.issuer.issue(identity)
        return pb_grpc.WelfareServiceStub(self._channel(identity, token))


def at(day: dt.date, hour: int = 9) -> dt.datetime:
    """A Vietnam-time moment on ``day``."""
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=VIETNAM)


async def record_stay(
    cdc: CaseStatusServiceAsyncStub,
    citizen_id: str,
    level: int,
    setting: int,
    start: dt.date,
    end: dt.date | None,
) -> None:
    """A level reported on ``start`` with a stay in ``setting``, ended on ``end`` (an F0
    recovers, a contact is cleared)."""
    # Facilities are named; home isolation has none.
    facility = "" if setting == cpb.CARE_SETTING_HOME_ISOLATION else "Bệnh viện Thanh Nhàn"
    care = cpb.Care(setting=setting, ward_code=HOAN_KIEM, facility=facility)  # type: ignore[arg-type]
    await cdc.RecordStatus(
        status_request(citizen_id, at=at(start), classification=level, care=care)
    )
    if end is None:
        return
    if level == cpb.CLASSIFICATION_F0:
        ended = status_request(citizen_id, at=at(end), outcome=cpb.OUTCOME_RECOVERED)
    else:
        ended = status_request(citizen_id, at=at(end), classification=cpb.CLASSIFICATION_CLEARED)
    await cdc.RecordStatus(ended)


async def register_covid_death(
    civil_officer: RegistryServiceAsyncStub, citizen_id: str, day: dt.date = dt.date(2021, 8, 14)
) -> None:
    await civil_officer.RegisterDeath(
        death_request(citizen_id, death_record(death_date=day, cause=rpb.DEATH_CAUSE_COVID19))
    )


async def family(
    registrar: RegistryServiceAsyncStub, child_birth: dt.date, ward: str = HOAN_KIEM
) -> tuple[rpb.Resident, rpb.Resident, rpb.Resident]:
    """A household: a father at its head, a mother (his spouse) and a child."""
    father = await register(registrar, ward=ward)
    mother = await register(
        registrar,
        ward=ward,
        sex=Sex.FEMALE,
        birth_date=dt.date(1987, 6, 1),
        household_id=father.household_id,
        relationship=rpb.RELATIONSHIP_SPOUSE,
    )
    child = await register(
        registrar,
        ward=ward,
        birth_date=child_birth,
        household_id=father.household_id,
        relationship=rpb.RELATIONSHIP_CHILD,
    )
    return father, mother, child


def check(
    beneficiary: str, program: str = "", subject: str = "", on: dt.date | None = None
) -> pb.CheckEligibilityRequest:
    request = pb.CheckEligibilityRequest(
        beneficiary_citizen_id=beneficiary, subject_citizen_id=subject, program_code=program
    )
    if on is not None:
        request.assessment_date.CopyFrom(date(on))
    return request


def open_request(
    program: str, beneficiary: str, subject: str = "", request_id: str | None = None
) -> pb.OpenBenefitCaseRequest:
    return pb.OpenBenefitCaseRequest(
        request_id=request_id or new_request_id(),
        program_code=program,
        beneficiary_citizen_id=beneficiary,
        subject_citizen_id=subject,
    )


def clause(assessment: wpb.Assessment, name: str) -> wpb.ClauseResult:
    found = [c for c in assessment.clauses if c.name == name]
    assert len(found) == 1, name
    return found[0]


def facts(clause_result: wpb.ClauseResult) -> dict[str, str]:
    """Path -> value of the facts a clause used."""
    return {f.path: f.value for f in clause_result.facts}


async def publish_monthly_program(
    supervisor: WelfareServiceAsyncStub, months: int, amount_vnd: int = 1_500_000
) -> str:
    """A program of its own code paying ``amount_vnd`` a month for ``months`` months to a
    resident who was an F0 or F1 (the meal support's rule): a monthly case of that many
    periods."""
    [meal] = [p for p in example_programs() if p.code == MEAL_SUPPORT]
    program = program_message(meal)
    program.code = f"MONTHLY_{name_tag().upper()}"
    program.benefit.CopyFrom(
        wpb.Benefit(kind=wpb.BENEFIT_KIND_MONTHLY, amount_vnd=amount_vnd, max_units=months)
    )
    await supervisor.PublishProgram(
        pb.PublishProgramRequest(request_id=new_request_id(), program=program)
    )
    return program.code
