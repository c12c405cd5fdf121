"""A deterministic demo population: households of 1-6 people, rows ready for COPY.

The same ``(count, seed)`` always gives the same people: names, ids, birth dates, households
and addresses. Only temporary residences and registration dates follow ``today``, so that they
stay current whenever the demo runs.
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
TEMPORARY_RESIDENCE_SHARE = 0.08  # of adults
OPEN_ENDED_SHARE = 0.5  # temporary residences registered without an end date
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
        if self.today.year <= LAST_BIRTH_YEAR:
            raise ValueError(f"today must be after {LAST_BIRTH_YEAR}, the last birth year")
        rng = random.Random(seed)
        self._wards = WardSampler()
        plan: list[tuple[WardProfile, int]] = []
        remaining = count
        while remaining > 0:
            size = min(int(HOUSEHOLD_SIZES.pick(rng)), remaining)
            plan.append((self._wards.pick(rng), size))
            remaining -= size
        # Ward by ward, as a migration from local records would come, and with ascending
        # household ids: both keep the index inserts and foreign-key look-ups of a bulk load
        # on neighbouring pages, which cuts the database's share of the load time.
        plan.sort(key=lambda household: household[0].code)
        self._plan = plan
        self.household_ids = tuple(
            sorted(uuid.UUID(int=rng.getrandbits(128), version=4) for _ in plan)
        )
        # People come from their own stream so that all households can be written before the
        # first person is drawn.
        self._people_seed = rng.getrandbits(64)
        self._moves_seed = rng.getrandbits(64)

    def people(self) -> Iterator[Person]:
        """Each resident with their residence records (permanent, and temporary if any)."""
        rng = random.Random(self._people_seed)
        moves = random.Random(self._moves_seed)
        wards = self._wards
        names = NamePicker()
        serials: dict[int, int] = {}
        today = self.today.toordinal()
        for household_id, (ward, size) in zip(self.household_ids, self._plan, strict=True):
            street = ward.street_line(rng)
            members = _members(rng, names, ward, size)
            head_year = members[0][2]
            # When the household registered here: once the head was an adult, before today.
            adult_head = max(_JAN_1[head_year + 18], _EARLIEST_REGISTRATION)
            earliest = min(adult_head, today - 30)
            since = earliest + int(rng.random() * (today - 30 - earliest + 1))
            for relationship, sex, year, family_name in members:
                # random() arithmetic instead of randrange: this loop runs once per resident.
                birth = _JAN_1[year] + int(rng.random() * (_JAN_1[year + 1] - _JAN_1[year]))
                birth_date = dt.date.fromordinal(birth)
                sex_of = _SEXES[sex]
                full_name, name_key = names.full_name(rng, family_name, sex_of, year)
                province = ward.birth_province(rng)
                prefix = (province * 10 + sex) * 10_000 + year
                issued = serials.get(prefix, 0)
                if issued >= SERIALS:
                    raise RuntimeError(f"more than {SERIALS} ids for one prefix {prefix}")
                serials[prefix] = issued + 1
                # The offset makes each prefix start its serials somewhere else.
                serial = (issued * SERIAL_STRIDE + prefix * 7_919) % SERIALS
                cid = citizen_id.compose(province, sex_of, year, serial)
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
                # Drawn for everyone, adult or not, so that the main stream never depends on
                # ``today``; the details come from a stream of their own for the same reason.
                moves_here = rng.random() < TEMPORARY_RESIDENCE_SHARE
                if moves_here and birth <= today - ADULT_AGE_DAYS:
                    temp_ward = wards.pick_other(moves, ward)
                    temp_street = temp_ward.street_line(moves)
                    temp_from = dt.date.fromordinal(today - int(moves.random() * 731))
                    temp_to = (
                        None
                        if moves.random() < OPEN_ENDED_SHARE
                        else dt.date.fromordinal(today + 30 + int(moves.random() * 1066))
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
    # Parents are 18-45 years older than their children: 19-44 in birth years, whatever the
    # days. Everyone is born from 1930 to 2024, and the head is an adult.
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
        oldest, youngest = max(FIRST_BIRTH_YEAR, head_year - 44), head_year - 19
        father_year = rng.randint(oldest, youngest)
        members.append((_PARENT, _MALE, father_year, head_family))
        if parents == 2:
            mother_year = min(max(father_year + rng.randint(-2, 6), oldest), youngest)
            mother_family = names.family_name(rng, southern=ward.southern)
            members.append((_PARENT, _FEMALE, mother_year, mother_family))
    first_child = max(years) + 19
    last_child = min(min(years) + 44, LAST_BIRTH_YEAR)
    for _ in range(children):
        child_sex = _MALE if rng.random() < MALE_BIRTH_SHARE else _FEMALE
        members.append((_CHILD, child_sex, rng.randint(first_child, last_child), father_family))
    return members
