"""Where the demo population lives: real wards (``vietnam_provinces``) and street lines.

Wards are drawn with province weights close to each province's population, boosted for Hà Nội
and Hồ Chí Minh City, and urban wards (phường) weigh more than rural communes. Ward 00070
(Phường Hoàn Kiếm, which absorbed the old Đồng Xuân ward of the 2021 figures) gets a fixed
share of all households so that the demo scenarios there always have people to work with.
"""

from __future__ import annotations

import itertools
import random
from bisect import bisect
from dataclasses import dataclass

from vietnam_provinces import Ward

HOAN_KIEM_WARD = "00070"
HOAN_KIEM_SHARE = 0.02
HANOI_SHARE = 0.20
HCMC_SHARE = 0.25
HANOI, HCMC = 1, 79

# Population in millions (2024, provinces as merged on 1 July 2025) and, for each, the
# pre-2025 province codes merged into it: those are the codes citizen ids carry.
PROVINCES: dict[int, tuple[float, tuple[int, ...]]] = {
    1: (8.7, (1,)),
    4: (0.57, (4,)),
    8: (1.87, (8, 2)),
    11: (0.65, (11,)),
    12: (0.51, (12,)),
    14: (1.3, (14,)),
    15: (1.78, (10, 15)),
    19: (1.8, (19, 6)),
    20: (0.8, (20,)),
    22: (1.38, (22,)),
    24: (3.6, (27, 24)),
    25: (4.0, (25, 26, 17)),
    31: (4.7, (31, 30)),
    33: (3.6, (33, 34)),
    37: (4.4, (37, 35, 36)),
    38: (4.3, (38,)),
    40: (3.8, (40,)),
    42: (1.6, (42,)),
    44: (1.9, (45, 44)),
    46: (1.4, (46,)),
    48: (3.1, (48, 49)),
    51: (2.2, (51, 62)),
    52: (3.6, (64, 52)),
    56: (2.2, (56, 58)),
    66: (3.3, (66, 54)),
    68: (3.9, (68, 67, 60)),
    75: (4.5, (75, 70)),
    79: (14.0, (79, 74, 77)),
    80: (3.3, (72, 80)),
    82: (4.4, (87, 82)),
    86: (4.3, (86, 83, 84)),
    91: (4.9, (89, 91)),
    92: (4.2, (92, 93, 94)),
    96: (2.6, (96, 95)),
}
ALL_BIRTH_PROVINCES = tuple(sorted(code for _, olds in PROVINCES.values() for code in olds))
# Share of people whose birth was registered outside the province they live in now.
BORN_ELSEWHERE_SHARE = 0.18
# Of the rest, born in the province the merged one is named after (usually its largest part).
LOCAL_NAMESAKE_SHARE = BORN_ELSEWHERE_SHARE + (1 - BORN_ELSEWHERE_SHARE) * 0.6

# Provinces from Quảng Trị southwards write Huỳnh/Võ, and rural hamlets there are "ấp" from
# Đồng Nai southwards ("thôn" elsewhere); street numbering with slashes is a southern habit.
SOUTHERN_FROM = 44
SOUTHERN_URBAN_FROM = 75
URBAN_WEIGHT = {"phường": 3.0, "xã": 1.0, "đặc khu": 0.5}

OLD_QUARTER_STREETS = (
    "Hàng Bạc", "Hàng Đào", "Hàng Ngang", "Hàng Đường", "Hàng Buồm", "Hàng Bè", "Hàng Chiếu",
    "Hàng Giấy", "Đồng Xuân", "Hàng Mã", "Hàng Lược", "Hàng Cân", "Lương Văn Can", "Hàng Gai",
    "Hàng Bông", "Tạ Hiện", "Mã Mây", "Hàng Khoai", "Cầu Gỗ", "Hàng Mắm", "Chợ Gạo", "Hàng Trống",
)  # fmt: skip
STREETS = (
    "Lê Lợi", "Trần Hưng Đạo", "Nguyễn Trãi", "Hai Bà Trưng", "Lý Thường Kiệt", "Quang Trung",
    "Nguyễn Huệ", "Phan Chu Trinh", "Phan Bội Châu", "Hùng Vương", "Lê Duẩn", "Điện Biên Phủ",
    "Võ Thị Sáu", "Nguyễn Du", "Trần Phú", "Lê Lai", "Nguyễn Thái Học", "Bà Triệu",
    "Lý Tự Trọng", "Nguyễn Văn Cừ", "Trường Chinh", "Lê Hồng Phong", "Ngô Quyền",
    "Đinh Tiên Hoàng", "Nguyễn Chí Thanh", "Cách Mạng Tháng Tám", "Hoàng Diệu", "Lạc Long Quân",
    "Âu Cơ", "Tô Hiến Thành", "Nguyễn Đình Chiểu", "Pasteur", "Kim Mã", "Giải Phóng",
)  # fmt: skip
VILLAGES = (
    "Đông", "Tây", "Nam", "Bắc", "Thượng", "Hạ", "Trung", "An Phú", "Tân Lập", "Phú Mỹ",
    "Bình An", "Hòa Bình", "Thạnh Lợi", "Long Hòa", "Phú Thọ", "Tân Hưng", "Mỹ Lộc", "Yên Thái",
)  # fmt: skip


@dataclass(frozen=True)
class WardProfile:
    code: str
    province: int
    urban: bool
    southern: bool
    birth_provinces: tuple[int, ...]

    def street_line(self, rng: random.Random) -> str:
        """A free address line in the local style ("12 ngõ 5 phố Hàng Bạc", "45/7 Lê Lợi")."""
        number = rng.randint(1, 250)
        if self.code == HOAN_KIEM_WARD:
            street = rng.choice(OLD_QUARTER_STREETS)
            if rng.random() < 0.6:
                return f"{number} phố {street}"
            return f"{rng.randint(1, 40)} ngõ {rng.randint(1, 60)} phố {street}"
        if not self.urban:
            village = rng.choice(VILLAGES)
            if self.province >= SOUTHERN_URBAN_FROM:
                return f"tổ {rng.randint(1, 20)}, ấp {village}"
            return f"xóm {rng.randint(1, 12)}, thôn {village}"
        street = rng.choice(STREETS)
        if self.province >= SOUTHERN_URBAN_FROM:
            if rng.random() < 0.5:
                return f"{number}/{rng.randint(1, 80)} đường {street}"
            return f"{number} đường {street}"
        if self.province == HANOI and rng.random() < 0.6:
            return f"số {rng.randint(1, 60)} ngõ {number} phố {street}"
        return f"số {number} đường {street}"

    def birth_province(self, rng: random.Random) -> int:
        """A pre-2025 province code of birth registration, mostly local."""
        draw = rng.random()
        if draw < BORN_ELSEWHERE_SHARE:
            return ALL_BIRTH_PROVINCES[int(draw / BORN_ELSEWHERE_SHARE * len(ALL_BIRTH_PROVINCES))]
        if len(self.birth_provinces) == 1 or draw < LOCAL_NAMESAKE_SHARE:
            return self.birth_provinces[0]
        return self.birth_provinces[1 + int(rng.random() * (len(self.birth_provinces) - 1))]


class WardSampler:
    """Draws wards from the whole country with the weights described in the module doc."""

    def __init__(self) -> None:
        wards = list(Ward.iter_all())
        province_units: dict[int, float] = {}
        for ward in wards:
            province = int(ward.province_code)
            province_units[province] = province_units.get(province, 0.0) + URBAN_WEIGHT.get(
                ward.division_type.value, 1.0
            )
        other_population = sum(
            people for code, (people, _) in PROVINCES.items() if code not in (HANOI, HCMC)
        )
        province_share = {
            code: people / other_population * (1 - HANOI_SHARE - HCMC_SHARE)
            for code, (people, _) in PROVINCES.items()
        }
        province_share[HANOI] = HANOI_SHARE - HOAN_KIEM_SHARE
        province_share[HCMC] = HCMC_SHARE
        profiles: list[WardProfile] = []
        weights: list[float] = []
        for ward in sorted(wards, key=lambda w: int(w.code)):
            province = int(ward.province_code)
            code = f"{int(ward.code):05d}"
            profiles.append(
                WardProfile(
                    code=code,
                    province=province,
                    urban=ward.division_type.value == "phường",
                    southern=province >= SOUTHERN_FROM,
                    birth_provinces=PROVINCES[province][1],
                )
            )
            unit = URBAN_WEIGHT.get(ward.division_type.value, 1.0)
            weight = province_share[province] * unit / province_units[province]
            weights.append(HOAN_KIEM_SHARE if code == HOAN_KIEM_WARD else weight)
        self.profiles = tuple(profiles)
        self._cum_weights = tuple(itertools.accumulate(weights))
        self._by_code = {profile.code: profile for profile in profiles}

    def pick(self, rng: random.Random) -> WardProfile:
        return self.profiles[bisect(self._cum_weights, rng.random() * self._cum_weights[-1])]

    def pick_other(self, rng: random.Random, than: WardProfile) -> WardProfile:
        while True:
            ward = self.pick(rng)
            if ward is not than:
                return ward

    def profile(self, code: str) -> WardProfile:
        return self._by_code[code]
