"""API-key authentication: ``Authorization: Bearer cg_<prefix>_<secret>``.

Failed attempts are counted per source address in Redis; past the limit the
address gets 429 until the window ends, so keys cannot be guessed by brute
force. Redis being down fails closed for keys (503), see ratelimit.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time

from django.utils import timezone
from rest_framework import authentication, exceptions

from . import ratelimit
from .models import ApiKey

__all__ = ["TOKEN_RE", "ApiKeyAuthentication", "ApiKeyParamAuthentication", "KeyUser", "hash_token"]

TOKEN_RE = re.compile(r"^cg_([0-9a-f]{8})_([A-Za-z0-9_-]{43})$")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class KeyUser:
    """``request.user`` for a request authenticated by an API key."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = id = None

    def __init__(self, key: ApiKey) -> None:
        self.key = key
        self.username = f"key:{key.prefix}"

    def get_username(self) -> str:
        return self.username

    def __str__(self) -> str:
        return self.username


# Keys read from the database are kept this long per process, to spare a query
# per request; revocation and expiry therefore take effect within this delay.
KEY_CACHE_SECONDS = 5.0
_key_cache: dict[str, tuple[float, ApiKey | None]] = {}


def _lookup(prefix: str) -> ApiKey | None:
    now = time.monotonic()
    cached = _key_cache.get(prefix)
    if cached is not None and now - cached[0] < KEY_CACHE_SECONDS:
        return cached[1]
    key = ApiKey.objects.select_related("region").filter(prefix=prefix).first()
    if len(_key_cache) > 10_000:
        _key_cache.clear()
    _key_cache[prefix] = (now, key)
    return key


def forget_key(prefix: str) -> None:
    """Drop a key from this process's cache (called on revocation)."""
    _key_cache.pop(prefix, None)


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def token(self, request) -> str | None:
        """The key sent with the request: ``Authorization: Bearer cg_…``."""
        header = authentication.get_authorization_header(request).decode("latin-1")
        scheme, _, token = header.partition(" ")
        return token if header and scheme.lower() == self.keyword.lower() else None

    def authenticate(self, request):
        token = self.token(request)
        if token is None:
            return None
        match = TOKEN_RE.match(token.strip())
        key = _lookup(match.group(1)) if match else None
        if key is None or not hmac.compare_digest(key.key_hash, hash_token(token.strip())):
            # Only failures are counted and checked, so a valid key pays no extra Redis round trip.
            # Past the limit an address gets 429 instead of 401 for every bad token until the
            # window ends; guessing a 256-bit secret is hopeless anyway, this stops the hammering.
            ip = ratelimit.client_ip(request)
            ratelimit.check_auth_failures(ip)
            ratelimit.count_auth_failure(ip)
            if not match:
                raise exceptions.AuthenticationFailed(
                    "API 密钥格式错误（应为 cg_<前缀>_<密钥>）", code="malformed_token"
                )
            raise exceptions.AuthenticationFailed("API 密钥无效", code="invalid_key")
        if key.revoked_at is not None:
            raise exceptions.AuthenticationFailed("API 密钥已吊销", code="revoked_key")
        if key.expires_at is not None and key.expires_at <= timezone.now():
            raise exceptions.AuthenticationFailed("API 密钥已过期", code="expired_key")
        now = timezone.now()
        if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)  # at most once a minute
        return KeyUser(key), key

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="civgrid"'


class ApiKeyParamAuthentication(ApiKeyAuthentication):
    """The key as the header, or as the ``api_key`` query parameter — the way Open311
    GeoReport clients send it (only on the Open311 routes: a key in a URL ends up in logs)."""

    def token(self, request) -> str | None:
        return super().token(request) or request.query_params.get("api_key") or None
