"""Session login for the web pages: the JSON login/logout/me endpoints, the
django-axes lockout (API and admin), CSRF, password rules and the idle timeout."""

from __future__ import annotations

import datetime as dt

import pytest
from axes.models import AccessAttempt
from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.services import user_create
from gis_core.errors import InvalidInput

LOGIN = "/api/v1/auth/login"
LOGOUT = "/api/v1/auth/logout"
ME = "/api/v1/auth/me"
PASSWORD = "Luzhou-2026-grid"
IP = "10.1.2.3"
OTHER_IP = "10.9.9.9"


@pytest.fixture(autouse=True)
def _fresh_axes(db):
    axes_reset()
    yield
    axes_reset()


@pytest.fixture
def operator(db):
    return user_create(username="op_jy", password=PASSWORD, roles=["operator"], region_code="510502")


def _client(ip: str = IP, **kwargs) -> Client:
    return Client(REMOTE_ADDR=ip, **kwargs)


def _login(client, username: str, password: str):
    return client.post(LOGIN, {"username": username, "password": password}, content_type="application/json")


def _error_code(response) -> str:
    assert response["Content-Type"].startswith("application/json"), response.content
    return response.json()["error"]["code"]


# ------------------------------------------------------------------ login, me, logout


def test_login_me_grids_logout(operator):
    client = _client()

    response = _login(client, "op_jy", PASSWORD)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["username"] == "op_jy"
    assert body["roles"] == ["operator"]
    assert "grids:read" in body["scopes"] and "import:write" not in body["scopes"]
    assert body["jurisdiction"] == {"nationwide": False, "region": "510502000000", "grids": []}
    assert settings.SESSION_COOKIE_NAME in response.cookies

    me = client.get(ME)
    assert me.status_code == 200 and me.json()["username"] == "op_jy"

    grids = client.get("/api/v1/grids/")
    assert grids.status_code == 200, grids.content
    features = grids.json()["features"]
    assert features and all(str(f["id"]).startswith("510502") for f in features)

    assert client.post(LOGOUT).status_code == 200
    response = client.get(ME)
    assert response.status_code == 401
    assert _error_code(response) == "not_authenticated"
    assert client.get("/api/v1/grids/").status_code == 401


def test_login_needs_username_and_password(db):
    response = _client().post(LOGIN, {"username": "x"}, content_type="application/json")
    assert response.status_code == 400 and _error_code(response) == "invalid"


@pytest.mark.parametrize("body", ["[null, null]", "null", '"op_jy"', "42"])
def test_login_with_a_body_that_is_not_an_object_is_400(db, body):
    """Found by the API fuzz pass (tests/test_fuzz.py): a JSON array was a 500."""
    response = _client().post(LOGIN, body, content_type="application/json")
    assert response.status_code == 400 and _error_code(response) == "invalid"


def test_wrong_password_is_401(operator):
    response = _login(_client(), "op_jy", "Wrong-pass-123")
    assert response.status_code == 401
    assert _error_code(response) == "invalid_credentials"
    assert response.json()["error"]["message"] == "用户名或密码错误"

    response = _login(_client(), "nobody", "Wrong-pass-123")
    assert response.status_code == 401 and _error_code(response) == "invalid_credentials"


# ------------------------------------------------------------------ lockout (django-axes)


def _fail(client, username: str, times: int) -> list[int]:
    return [_login(client, username, "Wrong-pass-123").status_code for _ in range(times)]


def _assert_locked(response) -> None:
    assert response.status_code == 429, response.content
    assert _error_code(response) == "locked"
    assert int(response["Retry-After"]) == int(settings.AXES_COOLOFF_TIME * 3600) == 1800


def test_lockout_after_five_failures_even_with_the_right_password(operator):
    assert settings.AXES_FAILURE_LIMIT == 5
    client = _client()

    statuses = _fail(client, "op_jy", 5)

    # axes locks as soon as the failure count reaches the limit: the 5th attempt already answers 429
    assert statuses == [401, 401, 401, 401, 429]
    _assert_locked(_login(client, "op_jy", PASSWORD))
    assert client.get(ME).status_code == 401  # no session was opened


def test_four_failures_then_success_resets_the_count(operator):
    client = _client()
    assert _fail(client, "op_jy", 4) == [401] * 4
    assert _login(client, "op_jy", PASSWORD).status_code == 200  # AXES_RESET_ON_SUCCESS
    client.post(LOGOUT)
    assert _fail(client, "op_jy", 4) == [401] * 4
    assert _login(client, "op_jy", PASSWORD).status_code == 200


def test_lockout_is_per_address_and_per_account(operator):
    """AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]: two independent
    lockouts — the source address (whatever username it tries) and the account
    (from whatever address)."""
    other = user_create(username="op_other", password=PASSWORD, roles=["operator"], region_code="510502")
    _fail(_client(IP), "op_jy", 5)

    # the same address is locked for another account (address lockout) ...
    _assert_locked(_login(_client(IP), other.username, PASSWORD))
    # ... and the same account is locked from another address (account lockout)
    _assert_locked(_login(_client(OTHER_IP), "op_jy", PASSWORD))
    # another account from another address is not affected
    assert _login(_client(OTHER_IP), other.username, PASSWORD).status_code == 200

    axes_reset()
    assert not AccessAttempt.objects.exists()
    assert _login(_client(IP), "op_jy", PASSWORD).status_code == 200


def test_failures_spread_over_usernames_lock_the_address(operator):
    client = _client()
    statuses = [_login(client, f"guess{i}", "Wrong-pass-123").status_code for i in range(5)]
    assert statuses[:4] == [401] * 4 and statuses[4] == 429
    _assert_locked(_login(client, "op_jy", PASSWORD))
    assert _login(_client(OTHER_IP), "op_jy", PASSWORD).status_code == 200


def test_admin_login_form_locks_too(django_user_model):
    django_user_model.objects.create_superuser("boss", "boss@example.com", PASSWORD)
    client = _client()
    statuses = [
        client.post("/admin/login/", {"username": "boss", "password": "Wrong-pass-123"}).status_code
        for _ in range(5)
    ]
    assert statuses[:4] == [200] * 4  # the form again, with an error
    assert statuses[4] == 429

    response = client.post("/admin/login/", {"username": "boss", "password": PASSWORD})
    assert response.status_code == 429
    assert response["Content-Type"].startswith("text/html")
    assert int(response["Retry-After"]) == 1800
    assert "锁定" in response.content.decode()
    # the lockout is shared with the API login
    _assert_locked(_login(client, "boss", PASSWORD))


# ------------------------------------------------------------------ CSRF


def test_login_requires_a_csrf_token(operator):
    client = APIClient(enforce_csrf_checks=True, REMOTE_ADDR=IP)
    credentials = {"username": "op_jy", "password": PASSWORD}

    response = client.post(LOGIN, credentials, format="json")
    assert response.status_code == 403

    # the login view sets the CSRF cookie on any request (ensure_csrf_cookie), even its 405 to GET
    client.get(LOGIN)
    token = client.cookies[settings.CSRF_COOKIE_NAME].value
    assert token

    response = client.post(LOGIN, credentials, format="json", HTTP_X_CSRFTOKEN="wrong" * 8)
    assert response.status_code == 403

    response = client.post(LOGIN, credentials, format="json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200, response.content
    assert response.json()["username"] == "op_jy"

    # a session-authenticated write needs the (rotated) token too
    assert client.post(LOGOUT).status_code == 403
    token = client.cookies[settings.CSRF_COOKIE_NAME].value
    assert client.post(LOGOUT, HTTP_X_CSRFTOKEN=token).status_code == 200


# ------------------------------------------------------------------ password rules


@pytest.mark.parametrize(
    "password",
    ["short1", "abcdefghijkl", "1234567890123", "password123", "op_weak_1234"],
    ids=["too-short", "no-digit", "only-digits", "common", "like-username"],
)
def test_weak_passwords_are_refused(db, password):
    with pytest.raises(InvalidInput, match="密码"):
        user_create(username="op_weak", password=password, roles=["operator"], region_code="510502")
    from django.contrib.auth import get_user_model

    assert not get_user_model().objects.filter(username="op_weak").exists()


def test_a_strong_password_is_accepted(db):
    user = user_create(username="op_ok", password="Jiangyang7grid", roles=["operator"], region_code="510502")
    assert user.check_password("Jiangyang7grid")
    assert user.membership.roles == ["operator"] and user.membership.region.code == "510502000000"


# ------------------------------------------------------------------ idle timeout


def test_session_expires_after_thirty_idle_minutes_and_each_request_extends_it(operator):
    assert settings.SESSION_COOKIE_AGE == 1800
    assert settings.SESSION_SAVE_EVERY_REQUEST is True
    client = _client()
    response = _login(client, "op_jy", PASSWORD)
    assert response.status_code == 200
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    # a browser-session cookie (SESSION_EXPIRE_AT_BROWSER_CLOSE): the idle limit is kept on the server
    assert cookie["httponly"] and not cookie["max-age"]
    key = cookie.value

    def expiry() -> dt.datetime:
        return Session.objects.get(session_key=key).expire_date

    first = expiry()
    assert abs((first - timezone.now()).total_seconds() - 1800) < 60

    # pretend the user was idle for 20 minutes: one request pushes the expiry 30 minutes ahead again
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() + dt.timedelta(minutes=10))
    response = client.get(ME)
    assert response.status_code == 200
    assert response.cookies[settings.SESSION_COOKIE_NAME].value == key
    assert abs((expiry() - timezone.now()).total_seconds() - 1800) < 60

    # idle past the limit: the session is gone
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - dt.timedelta(seconds=1))
    assert client.get(ME).status_code == 401
