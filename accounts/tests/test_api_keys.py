"""API keys (``Authorization: Bearer cg_<prefix>_<secret>``): each way a key is
refused, the per-key rate limit and the brute-force limit counted in the real
Redis, and the management commands that issue, revoke and bootstrap."""

from __future__ import annotations

import datetime as dt
import io
import re
import time

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import authentication
from accounts.models import ApiKey, Membership
from accounts.services import apikey_issue, apikey_revoke

from .conftest import bearer

GRIDS = "/api/v1/grids"
LOCATE = "/api/v1/locate"
UNKNOWN_TOKEN = "cg_deadbeef_" + "A" * 43


def _redis():
    return cache._cache.get_client(None, write=True)


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code and error["message"], error
    return error


def _unauthorized(response, code: str) -> dict:
    error = _error(response, 401, code)
    assert response["WWW-Authenticate"] == 'Bearer realm="civgrid"'
    return error


def _key(**kwargs):
    return apikey_issue(**{"name": "外部系统", "scopes": ["grids:read"], "region_code": "510502", **kwargs})


def _locate_params(districts) -> dict:
    lon, lat = districts.a_grid_point
    return {"lon": lon, "lat": lat}


def _fresh_window(seconds_needed: int = 5) -> None:
    """Wait for a new minute window if the current one ends too soon for the test."""
    left = 60 - int(time.time()) % 60
    if left < seconds_needed:
        time.sleep(left + 0.05)


# ------------------------------------------------------------------ accepted and refused keys


def test_a_valid_key_works(db):
    issued = _key()
    assert issued.key.last_used_at is None

    response = bearer(issued.token).get(GRIDS, {"page_size": 1})

    assert response.status_code == 200, response.content
    assert response.json()["count"] > 0
    assert ApiKey.objects.get(pk=issued.key.pk).last_used_at is not None
    # only the hash is stored
    assert issued.token not in ApiKey.objects.filter(pk=issued.key.pk).values_list("key_hash", flat=True)[0]


def test_a_malformed_token_is_401(db):
    _unauthorized(bearer("abc").get(GRIDS), "malformed_token")


def test_an_unknown_key_is_401(db):
    _unauthorized(bearer(UNKNOWN_TOKEN).get(GRIDS), "invalid_key")
    # a real prefix with a wrong secret is just as unknown
    issued = _key()
    wrong = issued.token[:-3] + ("xyz" if not issued.token.endswith("xyz") else "abc")
    _unauthorized(bearer(wrong).get(GRIDS), "invalid_key")


def test_an_expired_key_is_401(db, monkeypatch):
    issued = _key(expires_at=timezone.now() + dt.timedelta(days=1))
    assert bearer(issued.token).get(GRIDS, {"page_size": 1}).status_code == 200
    # the expiry is edited in the database by someone else: seen once the per-process cache lapses
    ApiKey.objects.filter(pk=issued.key.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    monkeypatch.setattr(authentication, "KEY_CACHE_SECONDS", 0.0)

    _unauthorized(bearer(issued.token).get(GRIDS), "expired_key")


def test_a_key_expiring_while_cached_is_401_at_once(db):
    issued = _key(expires_at=timezone.now() + dt.timedelta(seconds=1))
    assert bearer(issued.token).get(GRIDS, {"page_size": 1}).status_code == 200
    cached_key = authentication._key_cache[issued.key.prefix][1]
    cached_key.expires_at = timezone.now() - dt.timedelta(seconds=1)  # time has passed its expiry

    _unauthorized(bearer(issued.token).get(GRIDS), "expired_key")


def test_a_key_revoked_by_another_process_is_401_after_the_cache_delay(db, monkeypatch):
    issued = _key()
    assert bearer(issued.token).get(GRIDS, {"page_size": 1}).status_code == 200
    ApiKey.objects.filter(pk=issued.key.pk).update(revoked_at=timezone.now())
    monkeypatch.setattr(authentication, "KEY_CACHE_SECONDS", 0.0)

    _unauthorized(bearer(issued.token).get(GRIDS), "revoked_key")


def test_a_revoked_key_is_401(db):
    issued = _key()
    assert bearer(issued.token).get(GRIDS, {"page_size": 1}).status_code == 200
    apikey_revoke(prefix=issued.key.prefix)

    _unauthorized(bearer(issued.token).get(GRIDS), "revoked_key")


def test_a_key_without_the_scope_is_403(districts):
    issued = _key(scopes=["grids:read"])

    _error(bearer(issued.token).get(LOCATE, _locate_params(districts)), 403, "missing_scope")


def test_a_user_without_membership_is_403(db, django_user_model):
    user = django_user_model.objects.create_user("clerk", password="Clerk-Pass-12345")
    client = APIClient()
    client.force_authenticate(user)
    assert not Membership.objects.filter(user=user).exists()

    _error(client.get(GRIDS), 403, "no_jurisdiction")


def test_anonymous_is_401(db):
    _unauthorized(APIClient().get(GRIDS), "not_authenticated")


# ------------------------------------------------------------------ limits counted in Redis


def test_the_rate_limit_of_a_key_is_counted_in_redis(db):
    issued = _key(rate_limit_per_minute=3)
    client = bearer(issued.token)
    _fresh_window()
    window = int(time.time()) // 60 * 60

    for _ in range(3):
        assert client.get(GRIDS, {"page_size": 1}).status_code == 200
    response = client.get(GRIDS, {"page_size": 1})

    _error(response, 429, "throttled")
    retry_after = response["Retry-After"]
    assert re.fullmatch(r"\d+", retry_after) and 1 <= int(retry_after) <= 60, retry_after
    redis_key = f"civgrid:rl:key:{issued.key.prefix}:{window}"
    assert _redis().exists(redis_key)
    assert int(_redis().get(redis_key)) == 4
    assert 0 < _redis().ttl(redis_key) <= 61
    # another key has its own counter
    assert bearer(_key().token).get(GRIDS, {"page_size": 1}).status_code == 200


def test_brute_force_from_one_address_is_429(db, settings):
    settings.CIVGRID = {**settings.CIVGRID, "AUTH_FAILURES_PER_WINDOW": 3}
    attacker, other = "203.0.113.7", "198.51.100.9"
    valid = _key().token

    for token in ("abc", UNKNOWN_TOKEN, "cg_deadbeef_short"):
        assert bearer(token).get(GRIDS, REMOTE_ADDR=attacker).status_code == 401
    response = bearer(UNKNOWN_TOKEN).get(GRIDS, REMOTE_ADDR=attacker)

    _error(response, 429, "throttled")
    assert 1 <= int(response["Retry-After"]) <= settings.CIVGRID["AUTH_FAILURE_WINDOW_S"]
    # every further bad token from that address is 429; a genuine key is not held hostage
    _error(bearer("abc").get(GRIDS, REMOTE_ADDR=attacker), 429, "throttled")
    assert bearer(valid).get(GRIDS, {"page_size": 1}, REMOTE_ADDR=attacker).status_code == 200
    # other addresses are not affected
    assert bearer(valid).get(GRIDS, {"page_size": 1}, REMOTE_ADDR=other).status_code == 200
    assert list(_redis().scan_iter(match="civgrid:rl:authfail:203.0.113.7:*"))


def test_counters_do_not_leak_between_tests(db):
    assert not list(_redis().scan_iter(match="civgrid:rl:*"))


# ------------------------------------------------------------------ management commands


def _issue_command(*args: str) -> tuple[str, str]:
    out = io.StringIO()
    call_command("apikey_issue", *args, stdout=out)
    text = out.getvalue()
    token = re.search(r"(cg_[0-9a-f]{8}_[A-Za-z0-9_-]{43})", text).group(1)
    prefix = re.search(r"前缀：([0-9a-f]{8})", text).group(1)
    return token, prefix


def test_apikey_issue_and_revoke_commands(districts):
    token, prefix = _issue_command("sys", "--scopes", "locate:read", "--region", "510502")
    client = bearer(token)

    response = client.get(LOCATE, _locate_params(districts))

    assert response.status_code == 200, response.content
    assert response.json()["inside"] is True
    call_command("apikey_revoke", prefix, stdout=io.StringIO())
    _unauthorized(client.get(LOCATE, _locate_params(districts)), "revoked_key")


def test_apikey_issue_refuses_an_unknown_scope(db):
    with pytest.raises(CommandError, match="权限范围无效"):
        call_command("apikey_issue", "sys", "--scopes", "everything:write", "--region", "510502")
    assert not ApiKey.objects.filter(name="sys").exists()


def test_apikey_revoke_of_an_unknown_prefix(db):
    with pytest.raises(CommandError):
        call_command("apikey_revoke", "00000000")


def test_accounts_create_admin_reads_the_password_from_stdin(db, django_user_model, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("Strong-Admin-2024\n"))

    call_command("accounts_create_admin", "root", "--password-stdin", stdout=io.StringIO())

    user = django_user_model.objects.get(username="root")
    assert user.is_superuser and user.is_staff and user.check_password("Strong-Admin-2024")
    assert user.membership.nationwide and user.membership.roles == ["admin"]
    client = APIClient()
    response = client.post(
        "/api/v1/auth/login", {"username": "root", "password": "Strong-Admin-2024"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["jurisdiction"]["nationwide"] is True


def test_accounts_create_admin_refuses_a_weak_password(db, django_user_model, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("12345\n"))

    with pytest.raises(CommandError, match="密码"):
        call_command("accounts_create_admin", "root", "--password-stdin", stdout=io.StringIO())
    assert not django_user_model.objects.filter(username="root").exists()
