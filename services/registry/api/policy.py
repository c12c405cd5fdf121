"""Which roles may call which registry RPC. Anything not listed is refused.

Roles:
- registrar: household-registration officers (ward police) registering residents and moves.
- ward_police: look residents up in their wards, verify lists.
- civil_status_officer: registers deaths, proposes and approves corrections.
- health_agency: verifies the identities on its case lists; sees nothing else.
- service: other dancu services and workflows (nationwide, minimised by their own APIs).
"""

from __future__ import annotations

from services.kit.auth import Policy

_SERVICE = "/dancu.registry.v1.RegistryService/"

REGISTRAR = "registrar"
WARD_POLICE = "ward_police"
CIVIL_STATUS_OFFICER = "civil_status_officer"
HEALTH_AGENCY = "health_agency"
SERVICE = "service"

_LOOKUP = frozenset({REGISTRAR, WARD_POLICE, CIVIL_STATUS_OFFICER, SERVICE})

POLICY: Policy = {
    _SERVICE + "RegisterResident": frozenset({REGISTRAR}),
    _SERVICE + "GetResident": _LOOKUP,
    _SERVICE + "BatchGetResidents": _LOOKUP,
    _SERVICE + "SearchResidents": _LOOKUP,
    _SERVICE + "VerifyIdentities": frozenset({WARD_POLICE, HEALTH_AGENCY, SERVICE}),
    _SERVICE + "UpdateResidence": frozenset({REGISTRAR}),
    _SERVICE + "ListResidenceHistory": _LOOKUP,
    _SERVICE + "GetHousehold": _LOOKUP,
    _SERVICE + "BatchGetHouseholds": _LOOKUP,
    _SERVICE + "RegisterDeath": frozenset({CIVIL_STATUS_OFFICER, SERVICE}),
    _SERVICE + "ProposeCivilStatusCorrection": frozenset({CIVIL_STATUS_OFFICER}),
    _SERVICE + "CorrectCivilStatus": frozenset({CIVIL_STATUS_OFFICER}),
    _SERVICE + "ListCivilStatusHistory": _LOOKUP,
}
