"""Roles, principals and credential hashing: pure, no I/O."""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from enum import IntEnum

from orderhub.core.errors import Forbidden


class Role(IntEnum):
    """Roles in rising order; each one may do everything the ones below it may.

    viewer reads; operator acts on orders (edit, cancel, hold, replay); editor edits rules and
    configuration drafts; publisher publishes them; admin manages users and keys.
    """

    viewer = 10
    operator = 20
    editor = 30
    publisher = 40
    admin = 50

    @classmethod
    def parse(cls, name: str) -> Role:
        try:
            return cls[name]
        except KeyError:
            raise ValueError(f"unknown role {name!r}; one of {', '.join(r.name for r in cls)}") from None


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a user (via session or API key) or a system actor."""

    user_id: str
    email: str
    role: Role
    via: str = "key"  # "key" | "session"

    @property
    def actor(self) -> str:
        """How this principal appears in event logs."""
        return f"user:{self.email}"

    def require(self, role: Role) -> None:
        """Raise ``Forbidden`` unless this principal has at least ``role``."""
        if self.role < role:
            raise Forbidden(
                f"this needs the {role.name} role; you have {self.role.name}",
                code="role_required",
                required_role=role.name,
            )


def hash_api_key(key: str) -> str:
    """API keys are long random strings: a plain SHA-256 is the right lookup hash."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_api_key() -> str:
    return "ohk_" + os.urandom(24).hex()


_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_password(password: str) -> str:
    """scrypt with a random salt, encoded as ``scrypt$salt$hash`` (hex)."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def verify_password(password: str, encoded: str) -> bool:
    try:
        scheme, salt_hex, digest_hex = encoded.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    digest = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt_hex), dklen=32, **_SCRYPT)
    return hmac.compare_digest(digest.hex(), digest_hex)
