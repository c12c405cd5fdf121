"""The local development environment under one folder (default ``.dancu/``).

It holds the embedded PostgreSQL data, the token signing key pair and ready-made tokens for
demo personas. Nothing in it is committed; deleting the folder resets everything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from services.kit.auth import (
    EVERY_WARD,
    Identity,
    TokenIssuer,
    generate_private_key_pem,
    public_key_pem,
)
from services.kit.wards import province_ward_codes

HO_CHI_MINH_CITY = "79"
# Agencies of Hồ Chí Minh City answer for every ward of the city, as the city police and the
# city's centre for disease control did in 2021.
_HCMC_WARDS = frozenset(province_ward_codes(HO_CHI_MINH_CITY))

# Demo personas: who a partner agency's caller typically is. Tokens last a day.
PERSONAS: dict[str, Identity] = {
    "registrar-hoan-kiem": Identity(
        "registrar.hoankiem",
        "cong-an-phuong-hoan-kiem",
        frozenset({"registrar"}),
        frozenset({"00070"}),
        "residence-management",
    ),
    "ward-police-hoan-kiem": Identity(
        "police.hoankiem",
        "cong-an-phuong-hoan-kiem",
        frozenset({"ward_police"}),
        frozenset({"00070"}),
        "epidemic-control",
    ),
    # Operators of a checkpoint run by the Hoàn Kiếm ward police: they scan, nothing else.
    "checkpoint-hoan-kiem": Identity(
        "checkpoint.hoankiem.01",
        "cong-an-phuong-hoan-kiem",
        frozenset({"checkpoint"}),
        frozenset({"00070"}),
        "epidemic-control",
    ),
    "civil-status-officer": Identity(
        "officer.civil1",
        "so-tu-phap-ha-noi",
        frozenset({"civil_status_officer"}),
        EVERY_WARD,
        "civil-status",
    ),
    "civil-status-approver": Identity(
        "officer.civil2",
        "so-tu-phap-ha-noi",
        frozenset({"civil_status_officer"}),
        EVERY_WARD,
        "civil-status",
    ),
    "health-agency": Identity(
        "cdc.hanoi",
        "cdc-ha-noi",
        frozenset({"health_agency"}),
        EVERY_WARD,
        "epidemic-control",
    ),
    # Two officers, so that one opens a benefit case and the other decides it (maker-checker).
    "welfare-officer": Identity(
        "officer.welfare1",
        "so-lao-dong-ha-noi",
        frozenset({"welfare_officer"}),
        EVERY_WARD,
        "social-support",
    ),
    "welfare-checker": Identity(
        "officer.welfare2",
        "so-lao-dong-ha-noi",
        frozenset({"welfare_officer"}),
        EVERY_WARD,
        "social-support",
    ),
    "welfare-supervisor": Identity(
        "supervisor.welfare",
        "so-lao-dong-ha-noi",
        frozenset({"welfare_supervisor"}),
        EVERY_WARD,
        "social-support",
    ),
    "police-ho-chi-minh": Identity(
        "police.hcm",
        "cong-an-tp-ho-chi-minh",
        frozenset({"ward_police"}),
        _HCMC_WARDS,
        "epidemic-control",
    ),
    # Operators of the city police's checkpoints on the roads: they scan, nothing else.
    "checkpoint-ho-chi-minh": Identity(
        "checkpoint.hcm.01",
        "cong-an-tp-ho-chi-minh",
        frozenset({"checkpoint"}),
        _HCMC_WARDS,
        "epidemic-control",
    ),
    "health-agency-ho-chi-minh": Identity(
        "hcdc.hcm",
        "hcdc-ho-chi-minh",
        frozenset({"health_agency"}),
        _HCMC_WARDS,
        "epidemic-control",
    ),
    "civil-status-ho-chi-minh": Identity(
        "officer.civil.hcm",
        "so-tu-phap-ho-chi-minh",
        frozenset({"civil_status_officer"}),
        _HCMC_WARDS,
        "civil-status",
    ),
    "service": Identity(
        "dancu-internal",
        "dancu",
        frozenset({"service"}),
        EVERY_WARD,
        "inter-service",
    ),
}
TOKEN_TTL_SECONDS = 24 * 3600


def ward_police(ward_code: str) -> Identity:
    """The police of one ward, for wards only known at run time (a resident's temporary
    residence): ``dancu token --role ward_police --ward W`` issues the same."""
    return Identity(
        f"police.{ward_code}",
        f"cong-an-phuong-{ward_code}",
        frozenset({"ward_police"}),
        frozenset({ward_code}),
        "epidemic-control",
    )


@dataclass(frozen=True)
class DevEnv:
    home: Path

    @staticmethod
    def from_env() -> DevEnv:
        return DevEnv(Path(os.environ.get("DANCU_HOME", ".dancu")).resolve())

    @property
    def pgdata(self) -> Path:
        return self.home / "pgdata"

    @property
    def signing_key_path(self) -> Path:
        return self.home / "keys" / "signing.pem"

    @property
    def public_key_path(self) -> Path:
        return self.home / "keys" / "public.pem"

    @property
    def tokens_dir(self) -> Path:
        return self.home / "tokens"

    def ensure_keys(self) -> None:
        """Creates the development signing key pair once; later runs reuse it."""
        if self.signing_key_path.exists():
            if not self.public_key_path.exists():
                self.public_key_path.write_bytes(public_key_pem(self.signing_key_path.read_bytes()))
            return
        self.signing_key_path.parent.mkdir(parents=True, exist_ok=True)
        private = generate_private_key_pem()
        fd = os.open(self.signing_key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(private)
        self.public_key_path.write_bytes(public_key_pem(private))

    def issuer(self) -> TokenIssuer:
        self.ensure_keys()
        return TokenIssuer(self.signing_key_path.read_bytes())

    def write_persona_tokens(self) -> dict[str, Path]:
        issuer = self.issuer()
        self.tokens_dir.mkdir(parents=True, exist_ok=True)
        written = {}
        for name, identity in PERSONAS.items():
            path = self.tokens_dir / f"{name}.jwt"
            path.write_text(issuer.issue(identity, TOKEN_TTL_SECONDS))
            written[name] = path
        return written
