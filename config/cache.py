"""Django's Redis cache with one client object per server, built once per process.

``django.core.cache.backends.redis.RedisCacheClient.get_client`` builds a new
``redis.Redis`` around the (kept) connection pool on every call, and redis-py 5+ spends
~0.2 ms of CPU building one — more than the round trip to a local Redis. Every API
request reads or counts something in the cache (the key's rate limit, the API-key lookup,
cached tiles), so the clients are kept instead. A ``redis.Redis`` is thread-safe (it
takes a connection from its pool per command) and its pool reconnects after a fork, so
one per process serves every thread.
"""

from __future__ import annotations

from django.core.cache.backends.redis import RedisCache as _RedisCache
from django.core.cache.backends.redis import RedisCacheClient

__all__ = ["RedisCache"]


class _KeptClients(RedisCacheClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            client = self._clients[index] = self._client(connection_pool=self._get_connection_pool(write))
        return client


class RedisCache(_RedisCache):
    """``django.core.cache.backends.redis.RedisCache`` keeping its clients (see the module)."""

    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = _KeptClients
