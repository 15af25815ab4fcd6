"""The local development token issuer (``aidctl token``), standing in for the OIDC provider.

Its key pair lives in the state directory; services trust its public key through
``AID_JWT_PUBLIC_KEY_FILE``. Never used in production.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

DEV_ISSUER = "aid-dev-issuer"
DEV_AUDIENCE = "aid-platform"


class DevIssuer:
    def __init__(self, key_dir: Path) -> None:
        self.private_path = key_dir / "dev-jwt-private.pem"
        self.public_path = key_dir / "dev-jwt-public.pem"
        if not self.private_path.exists():
            self._generate(key_dir)
        self._private = self.private_path.read_bytes()
        self._public = serialization.load_pem_public_key(self.public_path.read_bytes())
        self.kid = hashlib.sha256(self.public_path.read_bytes()).hexdigest()[:16]

    def jwks(self) -> dict:
        """The public key as a JSON Web Key Set, as an OIDC provider publishes its keys."""
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self._public))
        return {"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    def _generate(self, key_dir: Path) -> None:
        key_dir.mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        self.private_path.write_bytes(pem)
        self.private_path.chmod(0o600)
        self.public_path.write_bytes(key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))

    def issue(self, *, subject: str, role: str, ttl_seconds: int = 3600, **jurisdiction: str | None) -> str:
        """A signed token; jurisdiction claims: region, school_code, department."""
        now = int(time.time())
        claims = {"iss": DEV_ISSUER, "aud": DEV_AUDIENCE, "sub": subject, "role": role,
                  "iat": now, "exp": now + ttl_seconds, "jti": str(uuid.uuid4())}
        claims.update({k: v for k, v in jurisdiction.items() if v})
        return jwt.encode(claims, self._private, algorithm="RS256", headers={"kid": self.kid})
