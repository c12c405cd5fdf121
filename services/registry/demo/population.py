"""A deterministic demo population: households of 1-6 people, rows ready for COPY.

The same ``(count, seed)`` always gives the same people, households, ids and addresses. Only
the dates of temporary residence and of recent registrations are counted back from ``today``
(so that they stay "current" whenever the demo runs); the random draws do not depend on it.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Iterator

from services.registry.demo.addresses import WardProfile, WardSampler
from services.registry.demo.vietnamese_names import NamePicker, WeightedChoice
from services.registry.domain import citizen_id
from services.registry.domain.model import CivilStatus, Relationship, ResidenceKind, Sex

# Column order of the COPY statements in ``loader``.
ResidentRow = tuple[
    str,  # citizen_id
    str,  # full_name
    str,  # name_key
    dt.date,  # birth_date
    int,  # sex
    uuid.UUID,  # household_id
    int,  # relationship_to_head
    str,  # perm_ward_code
    str,  # perm_street
    str | None,  # temp_ward_code
    str | None,  # temp_street
    dt.date | None,  # temp_valid_from
    dt.date | None,  # temp_valid_to
    int,  # civil_status
    int,  # version
]
ResidenceRow = tuple[
    str,  # citizen_id
    int,  # kind
    str,  # ward_code
    str,  # street
    dt.date,  # valid_from
    dt.date | None,  # valid_to
    str,  # recorded_by
    str,  # recorded_agency
    str,  # reason
]
Person = tuple[ResidentRow, tuple[ResidenceRow, ...]]

RECORDED_BY = "demo-seed"
RECORDED_AGENCY = "demo"
REASON = "initial registration (demo data)"

FIRST_BIRTH_YEAR = 1930
LAST_BIRTH_YEAR = 2024
HEAD_BIRTH_YEAR_MODE = 1985
# Household sizes, close to the 2019 census (mean ≈ 3.5 people).
HOUSEHOLD_SIZES = WeightedChoice([("1", 11), ("2", 20), ("3", 22), ("4", 25), ("5", 12), ("6", 10)])
TEMPORARY_RESIDENCE_SHARE = 0.08
ADULT_AGE_DAYS = 6575  # 18 years
MALE_BIRTH_SHARE = 0.53  # Vietnam's sex ratio at birth is about 112 boys per 100 girls
SERIALS = 1_000_000
# Odd and not a multiple of 5, so coprime with 10^6: consecutive people sharing an id prefix
# get serials that look scattered but never repeat.
SERIAL_STRIDE = 618_033

_MALE, _FEMALE = int(Sex.MALE), int(Sex.FEMALE)
_HEAD, _SPOUSE = int(Relationship.HEAD), int(Relationship.SPOUSE)
_CHILD, _PARENT = int(Relationship.CHILD), int(Relationship.PARENT)
_PERMANENT, _TEMPORARY = int(ResidenceKind.PERMANENT), int(ResidenceKind.TEMPORARY)
_ALIVE = int(CivilStatus.ALIVE)
_SEXES = {_MALE: Sex.MALE, _FEMALE: Sex.FEMALE}
_JAN_1 = {year: dt.date(year, 1, 1).toordinal() for year in range(1900, 2101)}
_EARLIEST_REGISTRATION = dt.date(1960, 1, 1).toordinal()

# (relationship, sex, birth year, family name) of one member before ids and dates are drawn.
Member = tuple[int, int, int, str]


class DemoPopulation:
    """``count`` residents in households; ``household_ids`` are fixed before any person is."""

    def __init__(self, count: int, seed: int = 2021, *, today: dt.date | None = None) -> None:
        if count < 0:
            raise ValueError(f"count must not be negative, got {count}")
        self.count = count
        self.seed = seed
        self.today = today or dt.date.today()
        rng = random.Random(seed)
        wards = WardSampler()
        plan: list[tuple[str, int]] = []
        remaining = count
        while remaining > 0:
            size = min(int(HOUSEHOLD_SIZES.pick(rng)), remaining)
            plan.append((wards.pick(rng).code, size))
            remaining -= size
        # Ward by ward, as a real migration would load them; with ascending household ids this
        # also keeps the index inserts of a bulk load local (several times fewer page misses).
        plan.sort(key=lambda household: household[0])
        self.household_wards = tuple(ward for ward, _ in plan)
        self.household_sizes = tuple(size for _, size in plan)
        self.household_ids = tuple(
            sorted(uuid.UUID(int=rng.getrandbits(128), version=4) for _ in plan)
        )
        # People come from their own stream so that households can be written (and committed
        # to the COPY) before the first person is drawn.
        self._people_seed = rng.getrandbits(64)

    def people(self) -> Iterator[Person]:
        """Each resident with their residence records (permanent, and temporary if any)."""
        rng = random.Random(self._people_seed)
        wards = WardSampler()
        names = NamePicker()
        serials: dict[int, int] = {}
        today = self.today.toordinal()
        households = zip(
            self.household_ids, self.household_wards, self.household_sizes, strict=True
        )
        for household_id, ward_code, size in households:
            ward = wards.profile(ward_code)
            street = ward.street_line(rng)
            members = _members(rng, names, ward, size)
            head_year = members[0][2]
            # When the household registered here: once the head was an adult, before today.
            adult_head = max(_JAN_1[head_year + 18], _EARLIEST_REGISTRATION)
            since = rng.randint(min(adult_head, today - 30), today - 30)
            for relationship, sex, year, family_name in members:
                birth = _JAN_1[year] + rng.randrange(_JAN_1[year + 1] - _JAN_1[year])
                birth_date = dt.date.fromordinal(birth)
                full_name, name_key = names.full_name(rng, family_name, _SEXES[sex], year)
                province = ward.birth_province(rng)
                prefix = (province * 10 + sex) * 10_000 + year
                issued = serials.get(prefix, 0)
                if issued >= SERIALS:
                    raise RuntimeError(f"more than {SERIALS} ids for one prefix {prefix}")
                serials[prefix] = issued + 1
                serial = (issued * SERIAL_STRIDE + prefix * 7_919) % SERIALS
                cid = citizen_id.compose(province, _SEXES[sex], year, serial)
                permanent = (
                    cid,
                    _PERMANENT,
                    ward.code,
                    street,
                    dt.date.fromordinal(max(birth, since)),
                    None,
                    RECORDED_BY,
                    RECORDED_AGENCY,
                    REASON,
                )
                if birth <= today - ADULT_AGE_DAYS and rng.random() < TEMPORARY_RESIDENCE_SHARE:
                    temp_ward = wards.pick_other(rng, ward)
                    temp_street = temp_ward.street_line(rng)
                    temp_from = dt.date.fromordinal(today - rng.randint(0, 730))
                    temp_to = (
                        None
                        if rng.random() < 0.5
                        else dt.date.fromordinal(today + rng.randint(30, 1095))
                    )
                    temporary = (
                        cid,
                        _TEMPORARY,
                        temp_ward.code,
                        temp_street,
                        temp_from,
                        temp_to,
                        RECORDED_BY,
                        RECORDED_AGENCY,
                        REASON,
                    )
                    yield (
                        (cid, full_name, name_key, birth_date, sex, household_id, relationship,
                         ward.code, street, temp_ward.code, temp_street, temp_from, temp_to,
                         _ALIVE, 1),
                        (permanent, temporary),
                    )  # fmt: skip
                else:
                    yield (
                        (cid, full_name, name_key, birth_date, sex, household_id, relationship,
                         ward.code, street, None, None, None, None, _ALIVE, 1),
                        (permanent,),
                    )  # fmt: skip


def _members(rng: random.Random, names: NamePicker, ward: WardProfile, size: int) -> list[Member]:
    """The head first, then spouse, parents of the head and children, with consistent ages."""
    parents = 0
    if size >= 3 and rng.random() < 0.2:
        parents = 2 if size >= 4 and rng.random() < 0.5 else 1
    spouse = size - parents >= 2 and rng.random() < (0.7 if size == 2 else 0.88)
    children = size - 1 - parents - int(spouse)
    # Parents of the head were born 18-45 years before the head and from 1930 on; children
    # are born when both partners are 18-45 and by 2024.
    earliest = FIRST_BIRTH_YEAR + (25 if parents else 10)
    latest = LAST_BIRTH_YEAR - (24 if children else 18)
    head_year = int(rng.triangular(earliest, latest, HEAD_BIRTH_YEAR_MODE))
    head_sex = _MALE if rng.random() < 0.75 else _FEMALE
    head_family = names.family_name(rng, southern=ward.southern)
    members: list[Member] = [(_HEAD, head_sex, head_year, head_family)]
    years = [head_year]
    father_family = head_family
    if spouse:
        # Husbands are typically 0-6 years older than their wives.
        gap = rng.randint(-2, 6)
        spouse_year = head_year + gap if head_sex == _MALE else head_year - gap
        spouse_year = min(max(spouse_year, FIRST_BIRTH_YEAR), latest)
        spouse_sex = _FEMALE if head_sex == _MALE else _MALE
        spouse_family = names.family_name(rng, southern=ward.southern)
        members.append((_SPOUSE, spouse_sex, spouse_year, spouse_family))
        years.append(spouse_year)
        if spouse_sex == _MALE:
            father_family = spouse_family
    if parents:
        father_year = rng.randint(max(FIRST_BIRTH_YEAR, head_year - 45), head_year - 18)
        members.append((_PARENT, _MALE, father_year, head_family))
        if parents == 2:
            mother_year = rng.randint(max(FIRST_BIRTH_YEAR, head_year - 45), head_year - 18)
            mother_family = names.family_name(rng, southern=ward.southern)
            members.append((_PARENT, _FEMALE, mother_year, mother_family))
    first_child = max(years) + 18
    last_child = min(min(years) + 45, LAST_BIRTH_YEAR)
    for _ in range(children):
        child_sex = _MALE if rng.random() < MALE_BIRTH_SHARE else _FEMALE
        members.append((_CHILD, child_sex, rng.randint(first_child, last_child), father_family))
    return members
