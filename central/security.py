"""Credentials: officer passwords (argon2id), officer sessions, CSRF tokens, lane tokens.

Officer passwords are hashed with argon2id (argon2-cffi's defaults: RFC 9106 low-memory
profile). Session and lane tokens are random 256-bit secrets; only their SHA-256 is stored, so
a copy of the database does not let anyone act as an officer or a lane. Lane tokens have the
form ``egl_<key id>_<secret>``: the key id finds the credential, the secret proves it. A lane may
hold two valid credentials while one is rotated (the old one expires after a grace period).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from central.db import lane_credentials, officers, sessions
from central.errors import CentralError, Conflict, InvalidRequest, NotFound
from gate.config import SecurityConfig

Role = Literal["officer", "supervisor", "admin"]
ROLES: tuple[Role, ...] = ("officer", "supervisor", "admin")
RANK: dict[str, int] = {role: i for i, role in enumerate(ROLES)}

_HASHERS: dict[tuple[int, int], tuple[PasswordHasher, str]] = {}
MIN_PASSWORD_LENGTH = 12
USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{1,63}$"


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def _hasher(cfg: SecurityConfig) -> tuple[PasswordHasher, str]:
    """The argon2id hasher of these settings and a dummy hash to equalise timing."""
    key = (cfg.argon2_time_cost, cfg.argon2_memory_kib)
    if key not in _HASHERS:
        hasher = PasswordHasher(time_cost=key[0], memory_cost=key[1], parallelism=4)
        _HASHERS[key] = (hasher, hasher.hash("egate-timing-equaliser"))
    return _HASHERS[key]


def hash_password(cfg: SecurityConfig, password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidRequest(f"passwords need at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher(cfg)[0].hash(password)


def check_password(cfg: SecurityConfig, stored_hash: str, password: str) -> bool:
    """Verifies with the parameters stored in the hash itself (old hashes keep working)."""
    try:
        return _hasher(cfg)[0].verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# --------------------------------------------------------------------------- officers


class LoginRefused(CentralError):
    """Wrong user name or password, a disabled account, or a locked one (retry_after > 0)."""

    def __init__(self, message: str, retry_after: int = 0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Officer:
    """The officer behind a request, from a valid session."""

    username: str
    role: Role
    display_name: str
    csrf_token: str
    session_hash: str

    def has(self, role: Role) -> bool:
        return RANK[self.role] >= RANK[role]


def create_officer(
    conn: Connection,
    cfg: SecurityConfig,
    *,
    username: str,
    password: str,
    role: Role,
    at: float,
    display_name: str = "",
) -> None:
    if role not in ROLES:
        raise InvalidRequest(f"role must be one of {', '.join(ROLES)}")
    if conn.execute(select(officers.c.username).where(officers.c.username == username)).first():
        raise Conflict(f"officer {username!r} exists already")
    conn.execute(
        officers.insert().values(
            username=username,
            display_name=display_name or username,
            role=role,
            password_hash=hash_password(cfg, password),
            failed_logins=0,
            disabled=False,
            created_at=at,
        )
    )


def lockout_seconds(cfg: SecurityConfig, failures: int) -> int:
    """Lock time after ``failures`` failed logins in a row (0 below the threshold)."""
    if failures < cfg.lockout_threshold:
        return 0
    doublings = min(failures - cfg.lockout_threshold, 30)
    return int(min(cfg.lockout_max_seconds, cfg.lockout_base_seconds * 2**doublings))


def login(
    conn: Connection, cfg: SecurityConfig, username: str, password: str, now: float
) -> tuple[str, Officer]:
    """Check the password and open a session; returns (session token, officer)."""
    row = conn.execute(select(officers).where(officers.c.username == username)).first()
    if row is None:
        check_password(cfg, _hasher(cfg)[1], password)  # same time as for a known name
        raise LoginRefused("wrong user name or password")
    if row.locked_until is not None and row.locked_until > now:
        raise LoginRefused(
            "account locked after repeated failed logins; try again later",
            retry_after=max(1, int(row.locked_until - now + 0.999)),
        )
    if not check_password(cfg, row.password_hash, password):
        failures = int(row.failed_logins) + 1
        lock = lockout_seconds(cfg, failures)
        conn.execute(
            update(officers)
            .where(officers.c.username == username)
            .values(failed_logins=failures, locked_until=(now + lock) if lock else None)
        )
        raise LoginRefused("wrong user name or password", retry_after=lock)
    if row.disabled:
        raise LoginRefused("this account is disabled; ask an administrator")
    conn.execute(
        update(officers)
        .where(officers.c.username == username)
        .values(failed_logins=0, locked_until=None, last_login_at=now)
    )
    token, csrf = new_token(), new_token()
    session_hash = sha256_hex(token)
    conn.execute(
        sessions.insert().values(
            session_hash=session_hash,
            username=username,
            csrf_token=csrf,
            created_at=now,
            last_seen_at=now,
            expires_at=now + cfg.session_max_hours * 3600,
        )
    )
    return token, Officer(username, row.role, row.display_name, csrf, session_hash)


def session_officer(
    conn: Connection, cfg: SecurityConfig, token: str, now: float
) -> Officer | None:
    """The officer of a live session, refreshing its idle timer; None when ended or unknown."""
    session_hash = sha256_hex(token)
    row = conn.execute(
        select(sessions, officers.c.role, officers.c.display_name, officers.c.disabled)
        .join(officers, officers.c.username == sessions.c.username)
        .where(sessions.c.session_hash == session_hash)
    ).first()
    if row is None:
        return None
    idle_limit = row.last_seen_at + cfg.session_idle_minutes * 60
    if row.disabled or now >= row.expires_at or now >= idle_limit:
        conn.execute(sessions.delete().where(sessions.c.session_hash == session_hash))
        return None
    if now - row.last_seen_at >= 5:  # spare a write per request
        conn.execute(
            update(sessions).where(sessions.c.session_hash == session_hash).values(last_seen_at=now)
        )
    return Officer(row.username, row.role, row.display_name, row.csrf_token, session_hash)


def end_session(conn: Connection, session_hash: str) -> None:
    conn.execute(sessions.delete().where(sessions.c.session_hash == session_hash))


def csrf_matches(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), str(given).encode())


# --------------------------------------------------------------------------- lanes


def issue_lane_credential(
    conn: Connection, lane_id: str, now: float, *, grace_seconds: float | None = None
) -> str:
    """A new credential for ``lane_id``; others expire after ``grace_seconds`` (rotation)."""
    if grace_seconds is not None:
        conn.execute(
            update(lane_credentials)
            .where(lane_credentials.c.lane_id == lane_id)
            .where(lane_credentials.c.revoked_at.is_(None))
            .where(
                lane_credentials.c.expires_at.is_(None)
                | (lane_credentials.c.expires_at > now + grace_seconds)
            )
            .values(expires_at=now + grace_seconds)
        )
    key_id = secrets.token_hex(8)
    secret = new_token()
    conn.execute(
        lane_credentials.insert().values(
            key_id=key_id, lane_id=lane_id, secret_hash=sha256_hex(secret), created_at=now
        )
    )
    return f"egl_{key_id}_{secret}"


def revoke_lane_credentials(conn: Connection, lane_id: str, now: float) -> int:
    result = conn.execute(
        update(lane_credentials)
        .where(lane_credentials.c.lane_id == lane_id)
        .where(lane_credentials.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(result.rowcount)


def split_lane_token(token: str) -> tuple[str, str]:
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != "egl" or not parts[1] or not parts[2]:
        raise NotFound("not a lane token (expected egl_<key>_<secret>)")
    return parts[1], parts[2]


def lane_for_token(conn: Connection, token: str, now: float) -> str | None:
    """The lane a valid token belongs to, or None."""
    try:
        key_id, secret = split_lane_token(token)
    except NotFound:
        return None
    row = conn.execute(select(lane_credentials).where(lane_credentials.c.key_id == key_id)).first()
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and now >= row.expires_at:
        return None
    if not hmac.compare_digest(row.secret_hash, sha256_hex(secret)):
        return None
    return str(row.lane_id)
