"""Users and API keys in the usage database: create, list, revoke, rotate, look up.

Synchronous (SQLAlchemy Core); the server calls :meth:`UserStore.lookup` in a
worker thread and only when its in-memory cache (:mod:`gateway.auth`) has no
fresh answer. The admin CLI and the admin endpoints use the same methods, so
both act on the same database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, func, select, update

from gateway import keys
from gateway.models import gateway_keys, gateway_users
from routing.usage.database import write_transaction

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$")


class StoreError(ValueError):
    """A request the store refuses (unknown user, existing user, bad name); the message says which."""

    code = "invalid"


class UnknownUser(StoreError):
    code = "unknown_user"


class UserExists(StoreError):
    code = "user_exists"


@dataclass(frozen=True, slots=True)
class User:
    name: str
    team: str
    admin: bool
    created_at: datetime
    revoked_at: datetime | None = None
    active_keys: int = 0

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "team": self.team,
            "admin": self.admin,
            "created_at": self.created_at.isoformat(),
            "revoked": self.revoked,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "active_keys": self.active_keys,
        }


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """What authentication needs to know about one key id."""

    key_id: str
    user: str
    team: str
    admin: bool
    salt: str
    digest: str
    active: bool  # neither the key nor its user is revoked


def check_name(name: str, what: str = "user") -> str:
    """``name`` if it is a usable user or team name; :class:`StoreError` otherwise."""
    if not _NAME.match(name):
        raise StoreError(
            f"invalid {what} name {name!r}: use 1-128 letters, digits and . _ @ + - (starting with a letter or digit)"
        )
    return name


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class UserStore:
    """The gateway's users and keys on ``engine`` (see :func:`gateway.database.open_gateway_engine`)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add_user(self, name: str, team: str = "default", *, admin: bool = False) -> tuple[User, str]:
        """Create ``name`` with a first key; returns the user and the key (shown once, never stored)."""
        check_name(name)
        check_name(team, "team")
        new = keys.generate()
        now = _now()
        u = gateway_users.c
        with write_transaction(self.engine) as connection:
            existing = connection.execute(select(u.revoked_at).where(u.name == name)).first()
            if existing is not None:
                state = "revoked" if existing.revoked_at is not None else "active"
                raise UserExists(f"user {name!r} already exists ({state}); use `keys rotate` for a new key")
            connection.execute(gateway_users.insert().values(name=name, team=team, admin=admin, created_at=now))
            self._insert_key(connection, name, new, now)
        return User(name, team, admin, now, active_keys=1), new.value

    def rotate_key(self, name: str) -> str:
        """Revoke every key of ``name`` and issue a new one (returned once)."""
        new = keys.generate()
        now = _now()
        u, k = gateway_users.c, gateway_keys.c
        with write_transaction(self.engine) as connection:
            row = connection.execute(select(u.revoked_at).where(u.name == name)).first()
            if row is None:
                raise UnknownUser(f"no user {name!r}")
            if row.revoked_at is not None:
                raise StoreError(f"user {name!r} is revoked; add them again under another name")
            connection.execute(
                update(gateway_keys).where(k.user_name == name, k.revoked_at.is_(None)).values(revoked_at=now)
            )
            self._insert_key(connection, name, new, now)
        return new.value

    def revoke_user(self, name: str) -> User:
        """Revoke ``name`` and all their keys (their ledger rows stay)."""
        now = _now()
        u, k = gateway_users.c, gateway_keys.c
        with write_transaction(self.engine) as connection:
            row = connection.execute(select(gateway_users).where(u.name == name)).first()
            if row is None:
                raise UnknownUser(f"no user {name!r}")
            connection.execute(
                update(gateway_users).where(u.name == name, u.revoked_at.is_(None)).values(revoked_at=now)
            )
            connection.execute(
                update(gateway_keys).where(k.user_name == name, k.revoked_at.is_(None)).values(revoked_at=now)
            )
        return User(row.name, row.team, row.admin, row.created_at, row.revoked_at or now)

    def get_user(self, name: str) -> User | None:
        return next((user for user in self.list_users() if user.name == name), None)

    def list_users(self) -> list[User]:
        """Every user (revoked ones included), by name, with their count of active keys."""
        u, k = gateway_users.c, gateway_keys.c
        active = (
            select(k.user_name, func.count().label("n")).where(k.revoked_at.is_(None)).group_by(k.user_name).subquery()
        )
        query = (
            select(u.name, u.team, u.admin, u.created_at, u.revoked_at, func.coalesce(active.c.n, 0).label("n"))
            .select_from(gateway_users.outerjoin(active, active.c.user_name == u.name))
            .order_by(u.name)
        )
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return [User(r.name, r.team, bool(r.admin), r.created_at, r.revoked_at, int(r.n)) for r in rows]

    def lookup(self, key_id: str) -> KeyRecord | None:
        """The key ``key_id`` with its user, or None when there is no such key."""
        u, k = gateway_users.c, gateway_keys.c
        query = (
            select(
                k.key_id, k.salt, k.digest, k.revoked_at, u.name, u.team, u.admin, u.revoked_at.label("user_revoked")
            )
            .select_from(gateway_keys.join(gateway_users, u.name == k.user_name))
            .where(k.key_id == key_id)
        )
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        if row is None:
            return None
        active = row.revoked_at is None and row.user_revoked is None
        return KeyRecord(row.key_id, row.name, row.team, bool(row.admin), row.salt, row.digest, active)

    @staticmethod
    def _insert_key(connection: Connection, name: str, new: keys.NewKey, now: datetime) -> None:
        connection.execute(
            gateway_keys.insert().values(
                key_id=new.key_id, user_name=name, salt=new.salt, digest=new.digest, created_at=now
            )
        )
