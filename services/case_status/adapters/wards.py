"""The official list of wards, for care places (the registry keeps its own copy: services
share no code)."""

from __future__ import annotations

from functools import cache

from vietnam_provinces import Ward


@cache
def _codes() -> frozenset[str]:
    return frozenset(f"{w.code.value:05d}" for w in Ward.iter_all())


def ward_exists(ward_code: str) -> bool:
    return ward_code in _codes()
