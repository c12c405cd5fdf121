"""Caller identity: signed tokens, the role policy table, and the authorising interceptor.

A caller presents ``authorization: Bearer <token>``, an EdDSA-signed JWT naming the subject
(officer or system), its agency, roles and the ward codes it is responsible for. Services hold
only the public key; the issuer (``dancu token`` in development, the identity provider in a
deployment) holds the private key. The policy table says which roles may call which RPC;
anything it does not name is refused.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import grpc
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from services.kit.errors import DomainError, Forbidden, Unauthenticated
from services.kit.grpc_errors import status_for
from services.kit.grpc_types import Context, Continuation, MethodHandler
from services.kit.handler_wrapping import inner_behaviours, rebuild

ISSUER = "dancu"
AUDIENCE = "dancu"
PURPOSE_METADATA_KEY = "x-dancu-purpose"
AUTH_ERROR_DOMAIN = "auth.dancu"


# The ward list that means "every ward". Scope is always explicit: a token naming no wards
# sees no resident, so an issuer that forgets the wards fails closed.
NATIONWIDE = "*"
EVERY_WARD = frozenset({NATIONWIDE})


@dataclass(frozen=True)
class Identity:
    """Who is calling, for whom, and why."""

    subject: str
    agency: str
    roles: frozenset[str]
    wards: frozenset[str] = field(default_factory=frozenset)
    # Legal purpose of the processing (PDPL): from the token, or the call's purpose header.
    purpose: str = "unspecified"

    @property
    def nationwide(self) -> bool:
        """National agencies and services carry the ward list ``["*"]``."""
        return NATIONWIDE in self.wards

    def sees_ward(self, ward_code: str | None) -> bool:
        return self.nationwide or (ward_code is not None and ward_code in self.wards)


_current: contextvars.ContextVar[Identity] = contextvars.ContextVar("dancu_identity")


def current_identity() -> Identity:
    """The authenticated caller of the RPC being served. Set by ``AuthInterceptor``."""
    return _current.get()


def generate_private_key_pem() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_key_pem(private_key_pem: bytes) -> bytes:
    private_key = serialization.load_pem_private_key(private_key_pem, password=None)
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


class TokenIssuer:
    def __init__(self, private_key_pem: bytes) -> None:
        self._key = serialization.load_pem_private_key(private_key_pem, password=None)

    def issue(self, identity: Identity, ttl_seconds: int = 3600) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": identity.subject,
            "agency": identity.agency,
            "roles": sorted(identity.roles),
            "wards": sorted(identity.wards),
            "purpose": identity.purpose,
            "iat": now,
            "exp": now + ttl_seconds,
        }
        return jwt.encode(claims, self._key, algorithm="EdDSA")  # type: ignore[arg-type]


class InvalidPublicKey(ValueError):
    """The configured token verification key is not an Ed25519 public key in PEM."""


class TokenVerifier:
    """Verifies tokens; remembers recently verified ones so hot paths skip the signature check."""

    def __init__(self, public_key_pem: bytes, *, leeway_seconds: int = 30, cache_size: int = 4096):
        try:
            key = serialization.load_pem_public_key(public_key_pem)
        except ValueError as exc:
            raise InvalidPublicKey("DANCU_AUTH_PUBLIC_KEY is not a PEM public key") from exc
        if not isinstance(key, Ed25519PublicKey):
            raise InvalidPublicKey("DANCU_AUTH_PUBLIC_KEY must be an Ed25519 key")
        self._key = key
        self._leeway = leeway_seconds
        self._cache: dict[str, tuple[Identity, float]] = {}
        self._cache_size = cache_size

    def verify(self, token: str) -> Identity:
        cached = self._cache.get(token)
        now = time.time()
        if cached is not None and cached[1] + self._leeway > now:
            return cached[0]
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=["EdDSA"],
                audience=AUDIENCE,
                issuer=ISSUER,
                leeway=self._leeway,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
            identity = Identity(
                subject=str(claims["sub"]),
                agency=str(claims.get("agency", "")),
                roles=_string_set(claims.get("roles", [])),
                wards=_string_set(claims.get("wards", [])),
                purpose=str(claims.get("purpose", "unspecified")),
            )
        except (jwt.PyJWTError, KeyError, TypeError) as exc:
            raise Unauthenticated(
                "TOKEN_INVALID", "the token is malformed, expired or not issued for dancu"
            ) from exc
        if len(self._cache) >= self._cache_size:
            self._cache.clear()
        self._cache[token] = (identity, float(claims["exp"]))
        return identity


def _string_set(claim: object) -> frozenset[str]:
    """A list claim of strings; anything else is a malformed token (a bare string "*" must not
    be read character by character into a ward list)."""
    if not isinstance(claim, list) or not all(isinstance(item, str) for item in claim):
        raise TypeError("list of strings expected")
    return frozenset(claim)


# Full method name ("/dancu.registry.v1.RegistryService/GetResident") -> roles allowed.
Policy = Mapping[str, frozenset[str]]

# Served to anyone, authenticated or not: probes and service discovery.
PUBLIC_METHOD_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Authenticates every call, applies the policy table, and exposes the identity."""

    def __init__(self, verifier: TokenVerifier, policy: Policy) -> None:
        self._verifier = verifier
        self._policy = policy

    async def intercept_service(
        self,
        continuation: Continuation,
        handler_call_details: grpc.HandlerCallDetails,
    ) -> MethodHandler | None:
        method: str = handler_call_details.method
        handler = await continuation(handler_call_details)
        if handler is None or method.startswith(PUBLIC_METHOD_PREFIXES):
            return handler
        metadata = dict(handler_call_details.invocation_metadata or ())
        allowed = self._policy.get(method)
        try:
            identity = self._authenticate(metadata)
        except Unauthenticated as error:
            return _refusal(handler, error, grpc.StatusCode.UNAUTHENTICATED)
        if allowed is None or not (identity.roles & allowed):
            denial = Forbidden("ROLE_NOT_ALLOWED", "none of the caller's roles may call this")
            return _refusal(handler, denial, grpc.StatusCode.PERMISSION_DENIED)
        return _with_identity(handler, identity)

    def _authenticate(self, metadata: Mapping[str, Any]) -> Identity:
        header = metadata.get("authorization")
        if not isinstance(header, str) or not header.lower().startswith("bearer "):
            raise Unauthenticated("TOKEN_MISSING", "send `authorization: Bearer <token>`")
        identity = self._verifier.verify(header[7:].strip())
        purpose = metadata.get(PURPOSE_METADATA_KEY)
        if isinstance(purpose, str) and purpose.strip():
            identity = Identity(
                identity.subject, identity.agency, identity.roles, identity.wards, purpose.strip()
            )
        return identity


def _refusal(handler: MethodHandler, error: DomainError, code: grpc.StatusCode) -> MethodHandler:
    status = status_for(error, code, AUTH_ERROR_DOMAIN)

    async def refuse(request: Any, context: Context) -> Any:
        await context.abort(status.code, status.details, status.trailing_metadata)

    async def refuse_stream(request: Any, context: Context) -> AsyncIterator[Any]:
        await context.abort(status.code, status.details, status.trailing_metadata)
        yield  # pragma: no cover - makes this an async generator like the handler it replaces

    return rebuild(handler, refuse, refuse_stream)


def _with_identity(handler: MethodHandler, identity: Identity) -> MethodHandler:
    inner_unary, inner_stream = inner_behaviours(handler)

    async def unary(request: Any, context: Context) -> Any:
        token = _current.set(identity)
        try:
            return await inner_unary(request, context)
        finally:
            _current.reset(token)

    async def stream(request: Any, context: Context) -> AsyncIterator[Any]:
        token = _current.set(identity)
        try:
            async for item in inner_stream(request, context):
                yield item
        finally:
            _current.reset(token)

    return rebuild(handler, unary, stream)
