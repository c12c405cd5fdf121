"""The official list of wards (post-July-2025: 34 provinces, 3,321 communes and wards)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from vietnam_provinces import Province, Ward


@dataclass(frozen=True)
class WardInfo:
    code: str
    name: str
    province_code: str
    province_name: str


@cache
def _wards() -> dict[str, WardInfo]:
    provinces = {p.code.value: p.name for p in Province.iter_all()}
    return {
        f"{w.code.value:05d}": WardInfo(
            code=f"{w.code.value:05d}",
            name=w.name,
            province_code=f"{w.province_code.value:02d}",
            province_name=provinces[w.province_code.value],
        )
        for w in Ward.iter_all()
    }


def province_ward_codes(province_code: str) -> list[str]:
    """The codes of a province's wards (two-digit province code), in code order."""
    return sorted(code for code, w in _wards().items() if w.province_code == province_code)


class OfficialWards:
    """The ``vietnam-provinces`` data, loaded once per process on first use."""

    def exists(self, ward_code: str) -> bool:
        return ward_code in _wards()

    def info(self, ward_code: str) -> WardInfo | None:
        return _wards().get(ward_code)
