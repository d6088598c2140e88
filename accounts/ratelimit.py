"""Fixed-window counters in Redis: per-key request limits and per-address
failed-authentication limits. Counted in Redis so the limits hold across every
web process and machine.

If Redis cannot be reached, key requests fail closed (503): an unlimited key is
worse than a short outage for other systems. Web (session) users are not rate
limited here, so the web UI keeps working.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from rest_framework import exceptions
from rest_framework.throttling import BaseThrottle

__all__ = ["ApiKeyRateThrottle", "check_auth_failures", "client_ip", "count_auth_failure", "hit"]


class RateLimitUnavailable(exceptions.APIException):
    status_code = 503
    default_detail = "限流服务（Redis）不可用，暂时无法处理 API 密钥请求"
    default_code = "rate_limit_unavailable"


def _client():
    return cache._cache.get_client(None, write=True)


def hit(key: str, window: int) -> tuple[int, int]:
    """Count one event in the current window; returns (count, seconds left in the window)."""
    now = int(time.time())
    start = now - now % window
    redis_key = f"civgrid:rl:{key}:{start}"
    try:
        pipe = _client().pipeline()
        pipe.incr(redis_key)
        pipe.expire(redis_key, window + 1)
        count = pipe.execute()[0]
    except Exception as exc:  # redis.exceptions.RedisError and socket errors alike
        raise RateLimitUnavailable() from exc
    return int(count), start + window - now


def _peek(key: str, window: int) -> tuple[int, int]:
    now = int(time.time())
    start = now - now % window
    try:
        value = _client().get(f"civgrid:rl:{key}:{start}")
    except Exception as exc:
        raise RateLimitUnavailable() from exc
    return int(value or 0), start + window - now


def client_ip(request) -> str:
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def check_auth_failures(ip: str) -> None:
    limit, window = settings.CIVGRID["AUTH_FAILURES_PER_WINDOW"], settings.CIVGRID["AUTH_FAILURE_WINDOW_S"]
    count, left = _peek(f"authfail:{ip}", window)
    if count >= limit:
        raise exceptions.Throttled(wait=left, detail=f"认证失败次数过多，请 {left} 秒后再试")


def count_auth_failure(ip: str) -> None:
    hit(f"authfail:{ip}", settings.CIVGRID["AUTH_FAILURE_WINDOW_S"])


class ApiKeyRateThrottle(BaseThrottle):
    """Requests per key per minute: the key's own limit or CIVGRID_API_KEY_RATE_PER_MINUTE."""

    def allow_request(self, request, view) -> bool:
        from .models import ApiKey

        key = getattr(request, "auth", None)
        if not isinstance(key, ApiKey):
            return True
        limit = key.rate_limit_per_minute or settings.CIVGRID["API_KEY_RATE_PER_MINUTE"]
        count, left = hit(f"key:{key.prefix}", 60)
        self._wait = left
        return count <= limit

    def wait(self) -> float:
        return getattr(self, "_wait", 60)
