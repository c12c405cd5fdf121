"""CheckEligibility and FindSurvivors over real gRPC: the registry and case status give the
facts, each example program's rule is explained clause by clause."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import grpc
from dancu.case_status.v1 import case_pb2 as cpb
from dancu.welfare.v1 import welfare_pb2 as wpb
from dancu.welfare.v1 import welfare_service_pb2 as pb

from services.welfare.domain.examples import CHILD_F0_F1, FUNERAL, MEAL_SUPPORT, ORPHAN_MONTHLY
from tests.integration.case_status_client import status_request
from tests.integration.registry_client import (
    HOAN_KIEM,
    TAY_HO,
    RegistryDatabase,
    expect_error,
    register,
)
from tests.integration.welfare_client import (
    TAY_HO_OFFICER,
    WelfareClients,
    at,
    check,
    clause,
    facts,
    family,
    open_request,
    record_stay,
    register_covid_death,
)

if TYPE_CHECKING:
    from dancu.case_status.v1.case_status_service_pb2_grpc import CaseStatusServiceAsyncStub
    from dancu.registry.v1.registry_service_pb2_grpc import RegistryServiceAsyncStub
    from dancu.welfare.v1.welfare_service_pb2_grpc import WelfareServiceAsyncStub

SEPTEMBER = dt.date(2021, 9, 30)


def survivors_of(citizen_id: str) -> pb.FindSurvivorsRequest:
    return pb.FindSurvivorsRequest(deceased_citizen_id=citizen_id)


async def test_meal_support_counts_facility_days_and_caps_them(
    registrar: RegistryServiceAsyncStub,
    cdc: CaseStatusServiceAsyncStub,
    officer: WelfareServiceAsyncStub,
) -> None:
    short = await register(registrar)
    long = await register(registrar)
    # 10 days in hospital; 60 days in centralised quarantine (capped at 45).
    await record_stay(
        cdc,
        short.citizen_id,
        cpb.CLASSIFICATION_F0,
        cpb.CARE_SETTING_HOSPITAL,
        dt.date(2021, 8, 1),
        dt.date(2021, 8, 11),
    )
    await record_stay(
        cdc,
        long.citizen_id,
        cpb.CLASSIFICATION_F1,
        cpb.CARE_SETTING_CENTRALISED_QUARANTINE,
        dt.date(2021, 7, 20),
        dt.date(2021, 9, 18),
    )

    few = await officer.CheckEligibility(check(short.citizen_id, MEAL_SUPPORT, on=SEPTEMBER))
    many = await officer.CheckEligibility(check(long.citizen_id, MEAL_SUPPORT, on=SEPTEMBER))

    first, second = few.assessments[0], many.assessments[0]
    assert first.eligible
    assert second.eligible
    assert (first.entitlement.units, first.entitlement.amount_vnd) == (10, 800_000)
    assert (second.entitlement.uncapped_units, second.entitlement.units) == (60, 45)
    assert second.entitlement.amount_vnd == 45 * 80_000
    assert "capped at 45" in second.entitlement.explanation
    # Every clause says what it read.
    assert [c.name for c in first.clauses] == [
        "program_in_force",
        "was_f0_or_f1",
        "treated_or_quarantined",
        "beneficiary_alive",
    ]
    assert facts(clause(first, "was_f0_or_f1")) == {"case.ever_f0": "true", "case.ever_f1": "false"}
    assert '"HOSPITAL": 10' in facts(clause(first, "treated_or_quarantined"))["case.days_in_care"]


async def test_home_isolation_alone_earns_no_meal_support(
    registrar: RegistryServiceAsyncStub,
    cdc: CaseStatusServiceAsyncStub,
    officer: WelfareServiceAsyncStub,
) -> None:
    resident = await register(registrar)
    await record_stay(
        cdc,
        resident.citizen_id,
        cpb.CLASSIFICATION_F0,
        cpb.CARE_SETTING_HOME_ISOLATION,
        dt.date(2021, 8, 1),
        dt.date(2021, 8, 15),
    )

    result = (await officer.CheckEligibility(check(resident.citizen_id, MEAL_SUPPORT))).assessments[
        0
    ]

    assert not result.eligible
    assert not result.HasField("entitlement")
    assert [c.name for c in result.clauses if not c.satisfied] == ["treated_or_quarantined"]


async def test_program_not_yet_in_force_on_the_assessment_day(
    registrar: RegistryServiceAsyncStub,
    cdc: CaseStatusServiceAsyncStub,
    officer: WelfareServiceAsyncStub,
) -> None:
    resident = await register(registrar)
    await record_stay(
        cdc,
        resident.citizen_id,
        cpb.CLASSIFICATION_F0,
        cpb.CARE_SETTING_HOSPITAL,
        dt.date(2021, 6, 1),
        dt.date(2021, 6, 20),
    )

    before = await officer.CheckEligibility(
        check(resident.citizen_id, MEAL_SUPPORT, on=dt.date(2021, 6, 30))
    )
    on_first_day = await officer.CheckEligibility(
        check(resident.citizen_id, MEAL_SUPPORT, on=dt.date(2021, 7, 1))
    )

    in_force = clause(before.assessments[0], "program_in_force")
    assert not before.assessments[0].eligible
    assert not in_force.satisfied
    assert facts(in_force)["program.valid_from"] == '"2021-07-01"'
    assert on_first_day.assessments[0].eligible


async def test_child_support_stops_on_the_sixteenth_birthday(
    registrar: RegistryServiceAsyncStub,
    cdc: CaseStatusServiceAsyncStub,
    officer: WelfareServiceAsyncStub,
) -> None:
    child = await register(registrar, birth_date=dt.date(2010, 3, 15))
    await record_stay(
        cdc,
        child.citizen_id,
        cpb.CLASSIFICATION_F1,
        cpb.CARE_SETTING_HOME_ISOLATION,
        dt.date(2021, 9, 1),
        dt.date(2021, 9, 14),
    )

    day_before = await officer.CheckEligibility(
        check(child.citizen_id, CHILD_F0_F1, on=dt.date(2026, 3, 14))
    )
    birthday = await officer.CheckEligibility(
        check(child.citizen_id, CHILD_F0_F1, on=dt.date(2026, 3, 15))
    )

    assert day_before.assessments[0].eligible
    assert day_before.assessments[0].entitlement.amount_vnd == 1_000_000
    assert facts(clause(day_before.assessments[0], "under_16")) == {"beneficiary.age": "15"}
    assert not birthday.assessments[0].eligible
    assert facts(clause(birthday.assessments[0], "under_16")) == {"beneficiary.age": "16"}


async def test_every_self_program_at_once(
    registrar: RegistryServiceAsyncStub,
    cdc: CaseStatusServiceAsyncStub,
    officer: WelfareServiceAsyncStub,
) -> None:
    child = await register(registrar, birth_date=dt.date(2015, 1, 2))
    await record_stay(
        cdc,
        child.citizen_id,
        cpb.CLASSIFICATION_F0,
        cpb.CARE_SETTING_HOSPITAL,
        dt.date(2021, 8, 1),
        dt.date(2021, 8, 8),
    )

    found = await officer.CheckEligibility(check(child.citizen_id))

    verdicts = {a.program_code: a.eligible for a in found.assessments}
    assert verdicts[MEAL_SUPPORT]
    assert verdicts[CHILD_F0_F1]
    assert FUNERAL not in verdicts
    assert ORPHAN_MONTHLY not in verdicts


async def test_survivors_of_a_covid_death_and_the_orphan(
    registrar: RegistryServiceAsyncStub,
    civil_officer: RegistryServiceAsyncStub,
    officer: WelfareServiceAsyncStub,
) -> None:
    father, mother, child = await family(registrar, dt.date(2015, 5, 10))
    await register_covid_death(civil_officer, father.citizen_id, dt.date(2021, 8, 14))

    only_father = await officer.FindSurvivors(survivors_of(father.citizen_id))
    await register_covid_death(civil_officer, mother.citizen_id, dt.date(2021, 8, 20))
    both = await officer.FindSurvivors(survivors_of(father.citizen_id))

    assert [(s.citizen_id, s.relationship, s.alive, s.orphan) for s in only_father.survivors] == [
        (mother.citizen_id, wpb.SURVIVOR_RELATIONSHIP_SPOUSE, True, False),
        (child.citizen_id, wpb.SURVIVOR_RELATIONSHIP_CHILD, True, False),
    ]
    assert [(s.citizen_id, s.alive, s.orphan) for s in both.survivors] == [
        (mother.citizen_id, False, False),
        (child.citizen_id, True, True),
    ]


async def test_funeral_support_goes_to_one_survivor(
    registrar: RegistryServiceAsyncStub,
    civil_officer: RegistryServiceAsyncStub,
    officer: WelfareServiceAsyncStub,
) -> None:
    father, mother, child = await family(registrar, dt.date(2000, 2, 2))
    await register_covid_death(civil_officer, father.citizen_id)

    widow = await officer.CheckEligibility(check(mother.citizen_id, FUNERAL, father.citizen_id))
    await officer.OpenBenefitCase(open_request(FUNERAL, mother.citizen_id, father.citizen_id))
    son = await officer.CheckEligibility(check(child.citizen_id, FUNERAL, father.citizen_id))

    assert widow.assessments[0].eligible
    assert widow.assessments[0].entitlement.amount_vnd == 10_000_000
    assert facts(clause(widow.assessments[0], "died_of_covid19")) == {
        "death.recorded": "true",
        "death.cause": '"COVID19"',
    }
    assert facts(clause(widow.assessments[0], "close_family")) == {"relationship": '"SPOUSE"'}
    assert not son.assessments[0].eligible
    assert facts(clause(son.assessments[0], "first_claim")) == {"other_beneficiaries": "1"}


async def test_orphan_support_is_monthly_until_eighteen(
    registrar: RegistryServiceAsyncStub,
    civil_officer: RegistryServiceAsyncStub,
    officer: WelfareServiceAsyncStub,
) -> None:
    father, mother, child = await family(registrar, dt.date(2015, 5, 10))
    await register_covid_death(civil_officer, father.citizen_id, dt.date(2021, 8, 14))

    half_orphan = await officer.CheckEligibility(
        check(child.citizen_id, ORPHAN_MONTHLY, father.citizen_id)
    )
    await register_covid_death(civil_officer, mother.citizen_id, dt.date(2021, 8, 20))
    orphan = await officer.CheckEligibility(
        check(child.citizen_id, ORPHAN_MONTHLY, father.citizen_id)
    )

    assert not half_orphan.assessments[0].eligible
    assert [c.name for c in half_orphan.assessments[0].clauses if not c.satisfied] == ["orphaned"]
    owed = orphan.assessments[0].entitlement
    assert orphan.assessments[0].eligible
    # September 2021 up to the month before the 18th birthday (May 2033): 140 months.
    assert (owed.units, owed.amount_vnd) == (140, 140_000_000)


async def test_a_ward_officer_cannot_check_a_resident_of_another_ward(
    registrar: RegistryServiceAsyncStub,
    welfare_clients: WelfareClients,
    welfare_db: RegistryDatabase,
) -> None:
    resident = await register(registrar)  # Hoàn Kiếm
    tay_ho = welfare_clients.welfare_stub(TAY_HO_OFFICER)

    error = await expect_error(
        tay_ho.CheckEligibility(check(resident.citizen_id, MEAL_SUPPORT)), grpc.StatusCode.NOT_FOUND
    )
    neighbour = await register(registrar, ward=TAY_HO)
    seen = await tay_ho.CheckEligibility(check(neighbour.citizen_id, MEAL_SUPPORT))

    assert error.reason == "RESIDENT_NOT_FOUND"
    assert not seen.assessments[0].eligible
    # Both attempts are on record: who asked about whom, and what came of it.
    refused = await welfare_db.audit("CheckEligibility", resident.citizen_id)
    answered = await welfare_db.audit("CheckEligibility", neighbour.citizen_id)
    assert [(r["subject"], r["outcome"]) for r in refused] == [
        (TAY_HO_OFFICER.subject, "refused:RESIDENT_NOT_FOUND")
    ]
    assert [(r["subject"], r["outcome"]) for r in answered] == [(TAY_HO_OFFICER.subject, "ok")]


async def test_bad_input_is_reported_field_by_field(officer: WelfareServiceAsyncStub) -> None:
    error = await expect_error(
        officer.CheckEligibility(check("12345", subject="abc")), grpc.StatusCode.INVALID_ARGUMENT
    )

    assert error.violations == (
        ("beneficiary_citizen_id", "CITIZEN_ID_INVALID"),
        ("subject_citizen_id", "CITIZEN_ID_INVALID"),
    )
    assert "12345" not in error.text


async def test_a_corrected_event_is_what_counts(
    registrar: RegistryServiceAsyncStub,
    cdc: CaseStatusServiceAsyncStub,
    officer: WelfareServiceAsyncStub,
) -> None:
    resident = await register(registrar)
    admitted = await cdc.RecordStatus(
        status_request(
            resident.citizen_id,
            at=at(dt.date(2021, 8, 1)),
            classification=cpb.CLASSIFICATION_F0,
            care=cpb.Care(
                setting=cpb.CARE_SETTING_HOSPITAL, ward_code=HOAN_KIEM, facility="Bệnh viện E"
            ),
        )
    )
    # The list had it wrong: an F1 isolating at home. The F0 in hospital is superseded.
    await cdc.RecordStatus(
        status_request(
            resident.citizen_id,
            at=at(dt.date(2021, 8, 1)),
            classification=cpb.CLASSIFICATION_F1,
            care=cpb.Care(setting=cpb.CARE_SETTING_HOME_ISOLATION, ward_code=HOAN_KIEM),
            corrects_event_id=admitted.event.event_id,
            reason="nhầm mức độ và nơi cách ly trên danh sách",
        )
    )
    await cdc.RecordStatus(
        status_request(
            resident.citizen_id,
            at=at(dt.date(2021, 8, 11)),
            classification=cpb.CLASSIFICATION_CLEARED,
        )
    )

    found = await officer.CheckEligibility(check(resident.citizen_id, MEAL_SUPPORT))

    result = found.assessments[0]
    assert not result.eligible
    assert facts(clause(result, "was_f0_or_f1")) == {
        "case.ever_f0": "false",
        "case.ever_f1": "true",
    }
    days = facts(clause(result, "treated_or_quarantined"))["case.days_in_care"]
    assert days == '{"HOSPITAL": 0, "CENTRALISED_QUARANTINE": 0, "HOME_ISOLATION": 10}'
