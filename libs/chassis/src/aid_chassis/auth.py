"""Bearer-token authorisation, deny by default.

Every route declares a policy: ``Depends(allow(Role.SCHOOL, ...))`` or ``Depends(public)``;
``assert_every_route_has_policy`` refuses to build an app with a route that has none.
Tokens are RS256 JWTs with the role and jurisdiction claims below.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import jwt
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

_bearer = HTTPBearer(auto_error=False)
POLICY_MARK = "__aid_policy__"


class Role(StrEnum):
    PROVINCE_BUREAU = "province_bureau"  # 省级教育部门 / 资助中心
    CITY_BUREAU = "city_bureau"  # 市级
    COUNTY_BUREAU = "county_bureau"  # 县级
    SCHOOL = "school"  # 学校
    DEPARTMENT = "department"  # 部门数据推送 (扶贫/民政/残联/总工会)
    OPERATOR = "operator"  # 运维


BUREAUS = (Role.PROVINCE_BUREAU, Role.CITY_BUREAU, Role.COUNTY_BUREAU)
_REGION_DIGITS = {Role.PROVINCE_BUREAU: 2, Role.CITY_BUREAU: 4, Role.COUNTY_BUREAU: 6}


@dataclass(frozen=True)
class Principal:
    """Who is calling: account, role and jurisdiction."""

    subject: str
    role: Role
    region: str | None = None
    school_code: str | None = None
    department: str | None = None
    stage: str | None = None  # a school account per stage (附设学前班的小学: one for each, FAQ Q16/Q27)

    @property
    def region_prefix(self) -> str | None:
        """The leading digits of region codes in a bureau's jurisdiction (None if not a bureau)."""
        digits = _REGION_DIGITS.get(self.role)
        return self.region[:digits] if digits and self.region else None

    def covers_region(self, region_code: str) -> bool:
        """Whether a county code lies in this bureau's jurisdiction."""
        prefix = self.region_prefix
        return bool(prefix and region_code.startswith(prefix))

    def is_school(self, school_code: str) -> bool:
        return self.role is Role.SCHOOL and self.school_code == school_code


class OutsideJurisdiction(PermissionError):
    """A region the caller may not see."""


def region_prefix(code: str) -> str:
    """A region code as the prefix of its counties: 520000 → 52, 520100 → 5201, 520102 → 520102."""
    while len(code) > 2 and code.endswith("00"):
        code = code[:-2]
    return code


def narrowed_prefix(who: Principal, region: str | None) -> str:
    """A bureau's jurisdiction narrowed to ``region`` (a city or county in it); raises
    OutsideJurisdiction for a region outside it or a caller that is no bureau."""
    home = who.region_prefix
    if not home:
        raise OutsideJurisdiction("无权按地区查询 (only a bureau has a jurisdiction by region)")
    wanted = region_prefix(region) if region else home
    if wanted.startswith(home):
        return wanted
    if home.startswith(wanted):
        return home
    raise OutsideJurisdiction(f"地区 {region} 不在您的管辖范围 (region {region} is outside your jurisdiction)")


def jurisdiction(who: Principal, region: str | None = None) -> tuple[str, str | None]:
    """(region prefix, school code) a caller may see: a school its own school, a bureau its region
    narrowed to ``region``; raises OutsideJurisdiction for any other caller or region."""
    if who.role is Role.SCHOOL:
        return "", who.school_code or "-"
    return narrowed_prefix(who, region), None


@dataclass(frozen=True)
class Level:
    """Where a drill-down groups one level below a jurisdiction: by the first ``digits`` of the
    region code (city 4, county 6), or by school (``digits`` None)."""

    name: str
    digits: int | None


def level_below(prefix: str, school_code: str | None = None) -> Level:
    if school_code or len(prefix) >= 6:
        return Level("school", None)
    return {2: Level("city", 4), 4: Level("county", 6)}.get(len(prefix), Level("province", 2))


class UnknownSigningKey(LookupError):
    """A token signed with a key id the verifier does not hold (yet: the provider may have rotated)."""


class TokenVerifier:
    """Validates signature, issuer, audience and expiry. The keys are one PEM public key (the dev
    issuer's) or the OIDC provider's JWKS, fetched at start and again when a token names a key id
    not seen yet (key rotation) — at most once per ``refetch_after`` seconds, so tokens with made-up
    key ids cannot make the service hammer the provider."""

    def __init__(self, public_key_pem: bytes | None = None, *, issuer: str, audience: str,
                 jwks_url: str | None = None, refetch_after: float = 10.0, clock=time.monotonic) -> None:
        if (public_key_pem is None) == (jwks_url is None):
            raise ValueError("give either a public key or a JWKS URL")
        self._key = public_key_pem
        self._jwks = jwt.PyJWKClient(jwks_url, cache_keys=False, timeout=5) if jwks_url else None
        self._keys: dict[str | None, object] = {}
        self._fetched_at = float("-inf")
        self._issuer = issuer
        self._audience = audience
        self._refetch_after, self._clock = refetch_after, clock

    @classmethod
    def from_file(cls, path: Path, *, issuer: str, audience: str) -> TokenVerifier:
        return cls(path.read_bytes(), issuer=issuer, audience=audience)

    @classmethod
    def from_settings(cls, settings) -> TokenVerifier:
        if settings.jwks_url:
            return cls(issuer=settings.jwt_issuer, audience=settings.jwt_audience, jwks_url=settings.jwks_url)
        return cls.from_file(settings.jwt_public_key_file, issuer=settings.jwt_issuer, audience=settings.jwt_audience)

    async def refresh(self) -> bool:
        """Fetch the JWKS again (off the event loop) unless fetched just now; whether it did."""
        if self._jwks is None or self._clock() - self._fetched_at < self._refetch_after:
            return False
        self._fetched_at = self._clock()
        keys = await asyncio.to_thread(self._jwks.get_jwk_set, True)
        self._keys = {k.key_id: k.key for k in keys.keys if k.public_key_use in (None, "sig")}
        return True

    def _signing_key(self, token: str):
        if self._key is not None:
            return self._key
        kid = jwt.get_unverified_header(token).get("kid")
        if kid not in self._keys:
            raise UnknownSigningKey(kid)
        return self._keys[kid]

    def verify(self, token: str) -> Principal:
        claims = jwt.decode(
            token, self._signing_key(token), algorithms=["RS256"], issuer=self._issuer, audience=self._audience,
            options={"require": ["exp", "iss", "aud", "sub", "role"]},
        )
        return Principal(
            subject=claims["sub"], role=Role(claims["role"]), region=claims.get("region"),
            school_code=claims.get("school_code"), department=claims.get("department"),
            stage=claims.get("stage"),
        )


async def _principal(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    if credentials is None:
        raise HTTPException(401, "请登录 (sign-in required)", headers={"WWW-Authenticate": "Bearer"})
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        try:
            return verifier.verify(credentials.credentials)
        except UnknownSigningKey:
            if not await verifier.refresh():
                raise
            return verifier.verify(credentials.credentials)
    except (jwt.PyJWTError, UnknownSigningKey, ValueError):
        raise HTTPException(401, "登录凭证无效或已过期 (invalid or expired token)",
                            headers={"WWW-Authenticate": "Bearer"}) from None


def allow(*roles: Role):
    """A dependency admitting only the given roles; returns the caller's Principal."""

    async def dependency(request: Request,
                         credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Principal:
        principal = await _principal(request, credentials)
        if principal.role not in roles:
            raise HTTPException(403, "无权访问 (your role may not do this)")
        return principal

    setattr(dependency, POLICY_MARK, tuple(roles))
    return dependency


async def public() -> None:
    """The policy of a route anyone may call (health, public lookup). Async, like ``allow``'s
    dependency: a plain function would cost every request a hop to the thread pool."""


setattr(public, POLICY_MARK, ("public",))


def route_policy(route: APIRoute) -> tuple | None:
    """The policy a route declares, searched through its dependency tree."""
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        mark = getattr(dep.call, POLICY_MARK, None)
        if mark:
            return mark
        stack.extend(dep.dependencies)
    return None


def api_routes(routes) -> list[APIRoute]:
    """Every APIRoute, also inside included routers (newer FastAPI nests them)."""
    found = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif (inner := getattr(route, "original_router", None)) is not None:
            found += api_routes(inner.routes)
        elif hasattr(route, "routes"):
            found += api_routes(route.routes)
    return found


def assert_every_route_has_policy(app: FastAPI) -> None:
    """Deny by default: refuse an app with a route that declares no access policy."""
    missing = [r.path for r in api_routes(app.routes) if route_policy(r) is None]
    if missing:
        raise RuntimeError(f"routes without an access policy: {', '.join(sorted(missing))}")
