"""Vietnamese personal names for the demo population, drawn with realistic frequencies.

A name is family name + middle name(s) + given name. Family-name shares follow the commonly
cited national figures (Nguyễn ≈ 38 %, Trần ≈ 11 %, Lê ≈ 9.5 %, ...); Hoàng and Vũ are the
northern spellings of what the south writes Huỳnh and Võ. Văn and Thị, near universal as
middle names for people born before the 1980s, are much rarer among the young.
"""

from __future__ import annotations

import itertools
import random
from bisect import bisect
from collections.abc import Sequence

from services.registry.domain import names
from services.registry.domain.model import Sex

# (name, share in percent); the regional pairs are listed once per region below.
_COMMON_FAMILY_NAMES = (
    ("Nguyễn", 38.4),
    ("Trần", 11.0),
    ("Lê", 9.5),
    ("Phạm", 7.1),
    ("Phan", 4.5),
    ("Đặng", 2.1),
    ("Bùi", 2.0),
    ("Đỗ", 1.4),
    ("Hồ", 1.3),
    ("Ngô", 1.3),
    ("Dương", 1.0),
    ("Lý", 0.5),
    ("Đinh", 0.9),
    ("Trương", 0.8),
    ("Đoàn", 0.7),
    ("Trịnh", 0.6),
    ("Lâm", 0.5),
    ("Mai", 0.5),
    ("Cao", 0.4),
    ("Lương", 0.4),
    ("Hà", 0.4),
    ("Tạ", 0.3),
    ("Lưu", 0.3),
    ("Chu", 0.2),
    ("Tô", 0.2),
    ("Kiều", 0.1),
    ("Quách", 0.1),
    ("Thái", 0.1),
)
NORTHERN_FAMILY_NAMES = (
    *_COMMON_FAMILY_NAMES,
    ("Hoàng", 4.6),
    ("Huỳnh", 0.5),
    ("Vũ", 3.5),
    ("Võ", 0.4),
)
SOUTHERN_FAMILY_NAMES = (
    *_COMMON_FAMILY_NAMES,
    ("Hoàng", 0.6),
    ("Huỳnh", 4.5),
    ("Vũ", 0.4),
    ("Võ", 3.5),
)

_OLDER_MALE_MIDDLE = (
    ("Văn", 55), ("Đức", 8), ("Minh", 6), ("Quang", 5), ("Hữu", 6), ("Công", 5),
    ("Xuân", 4), ("Ngọc", 3), ("Thanh", 4), ("Đình", 4),
)  # fmt: skip
_YOUNGER_MALE_MIDDLE = (
    ("Văn", 12), ("Đức", 10), ("Minh", 14), ("Quang", 7), ("Hữu", 4), ("Công", 4),
    ("Gia", 9), ("Anh", 6), ("Duy", 6), ("Hoàng", 7), ("Quốc", 6), ("Tuấn", 5),
    ("Bảo", 6), ("Thành", 4),
)  # fmt: skip
_OLDER_FEMALE_MIDDLE = (
    ("Thị", 70), ("Ngọc", 6), ("Thu", 5), ("Thanh", 5), ("Hồng", 4), ("Kim", 4),
    ("Minh", 3), ("Mai", 3),
)  # fmt: skip
_YOUNGER_FEMALE_MIDDLE = (
    ("Thị", 18), ("Ngọc", 10), ("Thu", 6), ("Thanh", 5), ("Minh", 8), ("Phương", 7),
    ("Bảo", 8), ("Khánh", 7), ("Thùy", 6), ("Diệu", 4), ("Quỳnh", 5), ("Hoài", 4),
    ("Hải", 4), ("Kim", 4), ("Mai", 4),
)  # fmt: skip

MALE_GIVEN_NAMES = (
    "An", "Bình", "Cường", "Dũng", "Đạt", "Đức", "Dương", "Hải", "Hiếu", "Hòa", "Hoàng",
    "Hùng", "Huy", "Hưng", "Khang", "Khánh", "Khoa", "Kiên", "Lâm", "Long", "Lộc", "Mạnh",
    "Minh", "Nam", "Nghĩa", "Nhân", "Phong", "Phúc", "Quân", "Quang", "Sơn", "Tài", "Tâm",
    "Thắng", "Thành", "Thịnh", "Toàn", "Trung", "Tuấn", "Tùng", "Việt", "Vinh", "Bảo",
    "Đăng", "Hậu", "Thái", "Trí", "Tiến", "Hiển", "Duy",
)  # fmt: skip
FEMALE_GIVEN_NAMES = (
    "Anh", "Ánh", "Bích", "Châu", "Chi", "Diệp", "Dung", "Duyên", "Giang", "Hà", "Hạnh",
    "Hằng", "Hiền", "Hoa", "Hồng", "Huệ", "Hương", "Huyền", "Lan", "Liên", "Linh", "Loan",
    "Mai", "My", "Nga", "Ngân", "Ngọc", "Nhung", "Nhi", "Oanh", "Phương", "Quyên", "Quỳnh",
    "Tâm", "Thảo", "Thủy", "Thư", "Trang", "Trinh", "Tuyết", "Uyên", "Vân", "Vy", "Xuân",
    "Yến", "Trâm", "Thu", "Hậu", "Nhàn", "Lệ",
)  # fmt: skip

# People born from this year on get the younger middle-name mix.
YOUNGER_GENERATION_FROM = 1985
# Share of younger people with a second middle name ("Nguyễn Thị Minh Anh"), and those names.
DOUBLE_MIDDLE_SHARE = 0.08
SECOND_MIDDLE_NAMES = {
    Sex.MALE: ("Minh", "Gia", "Hoàng", "Anh", "Bảo", "Quang", "Đức"),
    Sex.FEMALE: ("Minh", "Bảo", "Khánh", "Ngọc", "Phương", "Thanh", "Anh", "Thảo"),
}


class WeightedChoice:
    """Picks from ``(item, weight)`` pairs with one ``random()`` and a bisection."""

    def __init__(self, weighted: Sequence[tuple[str, float]]) -> None:
        self.items = tuple(item for item, _ in weighted)
        self.cum_weights = tuple(itertools.accumulate(weight for _, weight in weighted))

    def pick(self, rng: random.Random) -> str:
        # random() < 1, so the product stays below the last cumulative weight: always in range.
        return self.items[bisect(self.cum_weights, rng.random() * self.cum_weights[-1])]


class NamePicker:
    """Draws family names and whole names; each distinct name is normalised and folded once."""

    def __init__(self) -> None:
        self._family = {
            False: WeightedChoice(NORTHERN_FAMILY_NAMES),
            True: WeightedChoice(SOUTHERN_FAMILY_NAMES),
        }
        # Indexed by (sex == FEMALE, younger generation): list indexing, no hashing per name.
        self._middle = (
            (WeightedChoice(_OLDER_MALE_MIDDLE), WeightedChoice(_YOUNGER_MALE_MIDDLE)),
            (WeightedChoice(_OLDER_FEMALE_MIDDLE), WeightedChoice(_YOUNGER_FEMALE_MIDDLE)),
        )
        self._given = (MALE_GIVEN_NAMES, FEMALE_GIVEN_NAMES)
        self._second_middle = (SECOND_MIDDLE_NAMES[Sex.MALE], SECOND_MIDDLE_NAMES[Sex.FEMALE])
        self._forms: dict[tuple[str, str, str], tuple[str, str]] = {}

    def family_name(self, rng: random.Random, *, southern: bool) -> str:
        return self._family[southern].pick(rng)

    def full_name(
        self, rng: random.Random, family_name: str, sex: Sex, birth_year: int
    ) -> tuple[str, str]:
        """``(full_name, name_key)``: the stored NFC form and ``names.fold`` of it."""
        female = sex is Sex.FEMALE
        younger = birth_year >= YOUNGER_GENERATION_FROM
        middle = self._middle[female][younger].pick(rng)
        given_names = self._given[female]
        # Indexing with random() rather than rng.choice: a few times cheaper, same determinism.
        given = given_names[int(rng.random() * len(given_names))]
        if younger and rng.random() < DOUBLE_MIDDLE_SHARE:
            second = rng.choice(self._second_middle[female])
            if second not in (middle, given):
                middle = f"{middle} {second}"
        key = (family_name, middle, given)
        forms = self._forms.get(key)
        if forms is None:
            full_name = names.normalise(f"{family_name} {middle} {given}")
            forms = self._forms[key] = (full_name, names.fold(full_name))
        return forms
