"""Signed caller tokens: what the issuer signs is what the verifier accepts, and nothing else."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from services.kit.auth import (
    AUDIENCE,
    EVERY_WARD,
    ISSUER,
    Identity,
    TokenIssuer,
    TokenVerifier,
    generate_private_key_pem,
    public_key_pem,
)
from services.kit.errors import Unauthenticated

OFFICER = Identity(
    subject="officer-17",
    agency="ca-phuong-hoan-kiem",
    roles=frozenset({"ward_police", "registry_reader"}),
    wards=frozenset({"00070", "00082"}),
    purpose="contact-tracing",
)


@pytest.fixture(scope="module")
def private_key() -> bytes:
    return generate_private_key_pem()


@pytest.fixture
def issuer(private_key: bytes) -> TokenIssuer:
    return TokenIssuer(private_key)


@pytest.fixture
def verifier(private_key: bytes) -> TokenVerifier:
    return TokenVerifier(public_key_pem(private_key))


def _segment(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(token: str) -> dict[str, object]:
    payload = token.split(".")[1]
    decoded: dict[str, object] = json.loads(base64.urlsafe_b64decode(payload + "=" * 4))
    return decoded


def test_round_trip_preserves_the_identity(issuer: TokenIssuer, verifier: TokenVerifier) -> None:
    assert verifier.verify(issuer.issue(OFFICER)) == OFFICER


def test_nationwide_identity_round_trips_with_the_every_ward_scope(
    issuer: TokenIssuer, verifier: TokenVerifier
) -> None:
    service = Identity("case-status", "dancu", frozenset({"service"}), EVERY_WARD)
    verified = verifier.verify(issuer.issue(service))
    assert verified == service
    assert verified.nationwide
    assert verified.sees_ward("26734")
    assert not verifier.verify(issuer.issue(OFFICER)).sees_ward("26734")


def test_a_token_naming_no_wards_sees_no_ward(issuer: TokenIssuer, verifier: TokenVerifier) -> None:
    unscoped = Identity(subject="forgetful", agency="x", roles=frozenset({"ward_police"}))
    verified = verifier.verify(issuer.issue(unscoped))
    assert not verified.nationwide
    assert not verified.sees_ward("00070")


def test_token_names_issuer_audience_and_lifetime(issuer: TokenIssuer) -> None:
    before = int(time.time())
    claims = _claims(issuer.issue(OFFICER, ttl_seconds=600))
    assert claims["iss"] == ISSUER
    assert claims["aud"] == AUDIENCE
    assert claims["sub"] == "officer-17"
    assert isinstance(claims["iat"], int)
    assert isinstance(claims["exp"], int)
    assert before <= claims["iat"] <= before + 5
    assert claims["exp"] == claims["iat"] + 600


def test_expired_token_is_refused(issuer: TokenIssuer, private_key: bytes) -> None:
    strict = TokenVerifier(public_key_pem(private_key), leeway_seconds=0)
    with pytest.raises(Unauthenticated):
        strict.verify(issuer.issue(OFFICER, ttl_seconds=-1))


def test_leeway_tolerates_small_clock_skew_only(issuer: TokenIssuer, private_key: bytes) -> None:
    lenient = TokenVerifier(public_key_pem(private_key), leeway_seconds=30)
    assert lenient.verify(issuer.issue(OFFICER, ttl_seconds=-10)) == OFFICER
    with pytest.raises(Unauthenticated):
        lenient.verify(issuer.issue(OFFICER, ttl_seconds=-60))


def test_a_verified_token_is_refused_once_it_expires(
    issuer: TokenIssuer, private_key: bytes
) -> None:
    strict = TokenVerifier(public_key_pem(private_key), leeway_seconds=0)
    token = issuer.issue(OFFICER, ttl_seconds=1)
    assert strict.verify(token) == OFFICER  # now remembered by the verifier
    expiry = _claims(token)["exp"]
    assert isinstance(expiry, int)
    time.sleep(max(0.0, expiry - time.time()) + 0.05)
    with pytest.raises(Unauthenticated):
        strict.verify(token)


def test_token_signed_with_another_key_is_refused(verifier: TokenVerifier) -> None:
    forger = TokenIssuer(generate_private_key_pem())
    with pytest.raises(Unauthenticated):
        verifier.verify(forger.issue(OFFICER))


def test_tampered_claims_are_refused(issuer: TokenIssuer, verifier: TokenVerifier) -> None:
    header, _, signature = issuer.issue(OFFICER).split(".")
    claims = _claims(issuer.issue(OFFICER))
    claims["roles"] = ["admin"]
    claims["wards"] = []
    tampered = f"{header}.{_segment(claims)}.{signature}"
    with pytest.raises(Unauthenticated):
        verifier.verify(tampered)


def test_tampered_signature_is_refused(issuer: TokenIssuer, verifier: TokenVerifier) -> None:
    header, payload, signature = issuer.issue(OFFICER).split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    with pytest.raises(Unauthenticated):
        verifier.verify(f"{header}.{payload}.{flipped}")


def test_unsigned_token_is_refused(issuer: TokenIssuer, verifier: TokenVerifier) -> None:
    claims = _claims(issuer.issue(OFFICER))
    unsigned = f"{_segment({'alg': 'none', 'typ': 'JWT'})}.{_segment(claims)}."
    with pytest.raises(Unauthenticated):
        verifier.verify(unsigned)


@pytest.mark.parametrize(
    ("claim", "value"), [("aud", "someone-else"), ("iss", "not-dancu"), ("sub", None)]
)
def test_token_for_another_audience_issuer_or_without_subject_is_refused(
    private_key: bytes, verifier: TokenVerifier, claim: str, value: object
) -> None:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "officer-17",
        "iat": now,
        "exp": now + 600,
    }
    if value is None:
        del claims[claim]
    else:
        claims[claim] = value
    key = serialization.load_pem_private_key(private_key, password=None)
    token = jwt.encode(claims, key, algorithm="EdDSA")  # type: ignore[arg-type]
    with pytest.raises(Unauthenticated):
        verifier.verify(token)


@pytest.mark.parametrize("garbage", ["", "not-a-token", "a.b.c", "Bearer x.y.z"])
def test_garbage_is_refused(verifier: TokenVerifier, garbage: str) -> None:
    with pytest.raises(Unauthenticated):
        verifier.verify(garbage)


@pytest.mark.parametrize("wards", ["*", "00070", None, [70], ["00070", 5]])
def test_a_wards_claim_that_is_not_a_list_of_strings_is_refused(
    private_key: bytes, verifier: TokenVerifier, wards: object
) -> None:
    # A bare "*" read character by character would have made the caller nationwide.
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "sloppy-issuer",
        "roles": ["ward_police"],
        "wards": wards,
        "iat": int(time.time()),
        "exp": int(time.time()) + 60,
    }
    key = serialization.load_pem_private_key(private_key, password=None)
    token = jwt.encode(claims, key, algorithm="EdDSA")  # type: ignore[arg-type]
    with pytest.raises(Unauthenticated):
        verifier.verify(token)
