"""API keys, the users store and the authentication cache, without a server."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect

from gateway import keys
from gateway.auth import Authenticator
from gateway.database import downgrade, open_gateway_engine
from gateway.errors import ApiError
from gateway.store import StoreError, UnknownUser, UserExists, UserStore


@pytest.fixture
def store(tmp_path: Path) -> UserStore:
    return UserStore(open_gateway_engine(f"sqlite:///{tmp_path / 'gw.sqlite3'}"))


def test_keys_are_random_prefixed_and_stored_only_as_salted_digests() -> None:
    a, b = keys.generate(), keys.generate()
    assert a.value.startswith("ha_") and a.value != b.value and a.salt != b.salt
    assert keys.parse(a.value) == (a.key_id, a.value[16:])
    secret = a.value[16:]
    assert secret not in a.digest and keys.verify(secret, a.salt, a.digest)
    assert not keys.verify(secret + "x", a.salt, a.digest)
    assert not keys.verify(secret, b.salt, a.digest)
    for bad in ("", "sk-abc", "ha_short", "ha_ZZZZZZZZZZZZ_secret", "ha_0123456789abXsecret"):
        assert keys.parse(bad) is None


def test_users_are_added_rotated_and_revoked(store: UserStore) -> None:
    user, first = store.add_user("alice", "red", admin=True)
    assert user.admin and user.team == "red"
    with pytest.raises(UserExists):
        store.add_user("alice")
    with pytest.raises(StoreError):
        store.add_user("bad name!")
    first_id = keys.parse(first)
    assert first_id is not None
    second = store.rotate_key("alice")
    second_id = keys.parse(second)
    assert second_id is not None
    old, new = store.lookup(first_id[0]), store.lookup(second_id[0])
    assert old is not None and not old.active
    assert new is not None and new.active and (new.user, new.team, new.admin) == ("alice", "red", True)
    store.revoke_user("alice")
    revoked = store.lookup(second_id[0])
    assert revoked is not None and not revoked.active
    with pytest.raises(StoreError):
        store.rotate_key("alice")
    with pytest.raises(UnknownUser):
        store.revoke_user("nobody")
    assert [(u.name, u.revoked, u.active_keys) for u in store.list_users()] == [("alice", True, 0)]


async def test_the_cache_spares_the_database_until_its_ttl_runs_out(store: UserStore) -> None:
    now = [0.0]
    _, key = store.add_user("bob")
    auth = Authenticator(store, ttl_s=5.0, clock=lambda: now[0])
    assert (await auth.authenticate(f"Bearer {key}")).name == "bob"
    store.revoke_user("bob")
    now[0] = 4.0
    assert (await auth.authenticate(f"Bearer {key}")).name == "bob"  # cached: within the documented TTL
    now[0] = 5.5
    with pytest.raises(ApiError) as refused:
        await auth.authenticate(f"Bearer {key}")
    assert refused.value.status == 401


async def test_forgetting_a_user_applies_a_revocation_at_once(store: UserStore) -> None:
    _, key = store.add_user("carol")
    auth = Authenticator(store, ttl_s=3600.0)
    await auth.authenticate(f"Bearer {key}")
    store.revoke_user("carol")
    auth.forget_user("carol")
    with pytest.raises(ApiError):
        await auth.authenticate(f"Bearer {key}")


def test_the_gateway_migration_reverses(store: UserStore) -> None:
    engine = store.engine
    assert {"gateway_users", "gateway_keys", "ledger_requests"} <= set(inspect(engine).get_table_names())
    downgrade(engine, "base")
    names = set(inspect(engine).get_table_names())
    assert "gateway_users" not in names and "ledger_requests" in names
