"""How ``dancu demo`` builds the Đồng Xuân list from the registry's residents."""

from __future__ import annotations

import datetime as dt

import pytest
from dancu.registry.v1 import resident_pb2 as rpb
from google.type.date_pb2 import Date

from services.cli import devenv
from services.cli.demo import (
    DONG_XUAN_F0,
    DONG_XUAN_F1,
    DemoFailed,
    choose_dong_xuan,
    has_active_temporary_residence,
)
from services.kit.wards import OfficialWards

TODAY = dt.date(2026, 11, 28)


def resident(
    n: int, household: int, temporary: str = "", until: Date | None = None
) -> rpb.Resident:
    person = rpb.Resident(
        citizen_id=f"001090{n:06d}",
        full_name=f"Nguyễn Văn {n}",
        household_id=f"h{household}",
        permanent_residence=rpb.Address(ward_code="00070", street="1 phố Hàng Bạc"),
    )
    if temporary:
        person.temporary_residence.CopyFrom(
            rpb.TemporaryResidence(
                address=rpb.Address(ward_code=temporary, street="2 đường Lê Lợi"),
                valid_from=Date(year=2025, month=1, day=1),
            )
        )
        if until is not None:
            person.temporary_residence.valid_to.CopyFrom(until)
    return person


def ward(count: int, household_size: int, mover_at: int) -> list[rpb.Resident]:
    return [
        resident(n, n // household_size, "26791" if n == mover_at else "") for n in range(count)
    ]


def test_the_mover_is_the_first_f0_and_the_f0s_households_are_f1() -> None:
    residents = ward(300, 3, mover_at=100)

    chosen = choose_dong_xuan(residents, TODAY)

    assert chosen.mover.citizen_id == residents[100].citizen_id
    assert chosen.f0[0] is chosen.mover
    assert len(chosen.f0) == DONG_XUAN_F0
    assert len(chosen.f1) == DONG_XUAN_F1
    f0 = {r.citizen_id for r in chosen.f0}
    f1 = {r.citizen_id for r in chosen.f1}
    f2 = {r.citizen_id for r in chosen.f2}
    assert not f0 & f1
    assert not f0 & f2
    assert not f1 & f2
    # Everyone sharing a home with an F0 is on the list: no household contact is left to be
    # derived beyond the 127 F1.
    f0_households = {r.household_id for r in chosen.f0}
    at_home = {r.citizen_id for r in residents if r.household_id in f0_households}
    assert at_home <= f0 | f1
    assert chosen.f2


def test_the_same_residents_give_the_same_list() -> None:
    residents = ward(300, 4, mover_at=7)

    first = choose_dong_xuan(residents, TODAY)
    second = choose_dong_xuan(list(residents), TODAY)

    assert [r.citizen_id for r in first.f0 + first.f1 + first.f2] == [
        r.citizen_id for r in second.f0 + second.f1 + second.f2
    ]


def test_an_ended_temporary_residence_does_not_count() -> None:
    ended = resident(1, 1, "26791", until=Date(year=2026, month=11, day=27))
    open_ended = resident(2, 2, "26791")

    assert not has_active_temporary_residence(ended, TODAY)
    assert has_active_temporary_residence(open_ended, TODAY)


def test_a_ward_too_small_for_the_list_is_refused() -> None:
    with pytest.raises(DemoFailed, match="too few"):
        choose_dong_xuan(ward(150, 2, mover_at=0), TODAY)


def test_a_ward_without_a_temporary_resident_elsewhere_is_refused() -> None:
    with pytest.raises(DemoFailed, match="temporary residence"):
        choose_dong_xuan(ward(300, 2, mover_at=-1), TODAY)


def test_the_city_personas_cover_every_ward_of_ho_chi_minh_city() -> None:
    wards = devenv.PERSONAS["police-ho-chi-minh"].wards
    official = OfficialWards()

    assert len(wards) == 168
    assert all(
        info is not None and info.province_code == "79" for info in map(official.info, wards)
    )
    assert devenv.PERSONAS["checkpoint-ho-chi-minh"].agency == "cong-an-tp-ho-chi-minh"
