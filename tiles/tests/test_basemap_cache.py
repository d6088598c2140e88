"""Where MapProxy stores the base map (``CIVGRID_BASEMAP_CACHE``): the real Redis of the
checkout shared by two independent MapProxy instances and by seeding, the S3 configuration,
and bad values refused with ImproperlyConfigured (at start-up, not at the first tile)."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import socket
import subprocess
import sys
import threading
import uuid
from urllib.parse import urlsplit

import pytest
import redis
import yaml
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from tiles.basemap.seed import _environ, seed_strip
from tiles.basemap.service import basemap_cache_backend, basemap_cache_check, basemap_config

from .conftest import grid_tile

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n"


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


class RedisOverTcp:
    """The checkout's Redis over TCP. MapProxy's redis cache takes a host and a port only, and
    the private Redis listens on a unix socket only: a plain byte relay from 127.0.0.1 to it
    (every command reaches the real server). A TCP ``REDIS_URL`` is used as it is."""

    def __init__(self) -> None:
        url = urlsplit(settings.REDIS_URL)
        self.server: socket.socket | None = None
        if url.scheme == "unix":
            self.client = redis.Redis(unix_socket_path=url.path)
            self.server = socket.create_server(("127.0.0.1", 0))
            self.host, self.port = self.server.getsockname()
            threading.Thread(target=self._accept, args=(url.path,), daemon=True).start()
        else:
            self.client = redis.Redis(host=url.hostname, port=url.port or 6379)
            self.host, self.port = url.hostname, url.port or 6379
        self.prefix = f"civgrid-test-basemap-{uuid.uuid4().hex[:12]}"

    def _accept(self, path: str) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(path)
            for a, b in ((conn, upstream), (upstream, conn)):
                threading.Thread(target=_pipe, args=(a, b), daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0?prefix={self.prefix}"

    def keys(self, cache: str = "") -> list[bytes]:
        return list(self.client.scan_iter(f"{self.prefix}:{cache}*", count=1000))

    def close(self) -> None:
        for key in self.keys():
            self.client.delete(key)
        if self.server is not None:
            self.server.close()
        self.client.close()


@pytest.fixture
def shared_redis():
    relay = RedisOverTcp()
    yield relay
    relay.close()


def _xyz(layer: str, tile) -> str:
    return f"/tiles/{layer}/webmercator/{tile.z}/{tile.x}/{tile.y}.png"


def _second_instance(tmp_path):
    """An independent MapProxy: the same caches, but the offline renderer replaced by a tile
    source nothing listens on, so a tile it serves can only come from the shared cache."""
    from mapproxy.wsgiapp import make_wsgi_app

    conf = basemap_config()
    conf["sources"]["basemap_render"] = {
        "type": "tile",
        "grid": "webmercator",
        "url": "http://127.0.0.1:9/%(z)s/%(x)s/%(y)s.png",
        "http": {"client_timeout": 2},
    }
    conf["globals"]["cache"]["base_dir"] = str(tmp_path / "other_host")
    conf["globals"]["cache"]["lock_dir"] = str(tmp_path / "other_host" / "locks")
    conf["globals"]["cache"]["tile_lock_dir"] = str(tmp_path / "other_host" / "tile_locks")
    path = tmp_path / "other-host-mapproxy.yaml"
    path.write_text(yaml.safe_dump(conf, allow_unicode=True), "utf-8")
    app = make_wsgi_app(str(path))

    def get(rest: str) -> tuple[int, bytes]:
        captured = {}

        def start_response(status, headers, exc_info=None):
            captured["status"] = int(status.split()[0])
            return lambda data: None

        body = b"".join(app(_environ(rest), start_response))
        return captured["status"], body

    return get


def test_redis_cache_is_shared_by_independent_mapproxy_instances(
    a_api, shared_redis, tile_namespace, tmp_path
):
    tile_namespace.update(BASEMAP_CACHE=shared_redis.url)
    _, tile = grid_tile("510502", 15)
    assert shared_redis.keys() == []
    first = a_api.get("/basemap" + _xyz("basemap", tile))
    assert first.status_code == 200 and first.content[:8] == PNG
    keys = shared_redis.keys("basemap_cache-")
    # the 4×4 meta tile drawn once, stored in Redis under the prefix, kept (ttl 0: no expiry)
    assert f"{shared_redis.prefix}:basemap_cache-15-{tile.x}-{tile.y}".encode() in keys
    assert len(keys) >= 4
    assert shared_redis.client.ttl(keys[0]) == -1
    assert shared_redis.client.get(keys[0])[:8] == PNG
    cache_data = tmp_path / "basemap" / "cache_data"
    assert not any(p.suffix == ".png" for p in cache_data.rglob("*"))  # nothing in the file cache

    other = _second_instance(tmp_path)
    status, body = other(_xyz("basemap", tile))
    assert status == 200 and body == first.content  # from Redis: its renderer cannot draw
    neighbour = type(tile)(tile.z, tile.x ^ 1, tile.y)  # same meta tile: cached by the first
    assert other(_xyz("basemap", neighbour))[0] == 200
    far = type(tile)(tile.z, tile.x + 40, tile.y + 40)  # never drawn: the broken source shows
    assert other(_xyz("basemap", far))[0] >= 500


def test_seeding_writes_into_the_configured_redis_cache(shared_redis, tile_namespace):
    tile_namespace.update(BASEMAP_CACHE=shared_redis.url)
    _, tile = grid_tile("510502", 14)
    assert seed_strip("basemap", tile.z, tile.y, tile.x, tile.x) == (1, 0)
    key = f"{shared_redis.prefix}:basemap_cache-14-{tile.x}-{tile.y}".encode()
    assert shared_redis.client.get(key)[:8] == PNG


def test_redis_configuration(tile_namespace):
    tile_namespace.update(BASEMAP_CACHE="redis://u%40x:p%3Aw@tiles.example:6380/3?ttl=604800")
    cache = basemap_config()["caches"]["basemap_cache"]["cache"]
    assert cache == {
        "type": "redis", "host": "tiles.example", "port": 6380, "db": 3,
        "prefix": "civgrid:basemap:basemap_cache", "default_ttl": 604800,
        "username": "u@x", "password": "p:w",
    }  # fmt: skip
    assert basemap_cache_backend("redis://10.0.0.21") == {
        "type": "redis", "host": "10.0.0.21", "port": 6379, "db": 0,
        "prefix": "civgrid:basemap:{name}", "default_ttl": 0,
    }  # fmt: skip
    tile_namespace.update(BASEMAP_CACHE="file")
    assert "cache" not in basemap_config()["caches"]["basemap_cache"]


def test_s3_configuration(tile_namespace):
    from mapproxy.config.spec import validate_options

    from tiles.basemap.plugins import register_plugins

    tile_namespace.update(
        BASEMAP_CACHE="s3://civgrid-tiles/basemap/v1/",
        BASEMAP_S3_ENDPOINT="http://minio.intranet:9000",
        TIANDITU_KEY="k",
        BASEMAP_UPSTREAMS=[{"name": "amap", "url": "http://a/{z}/{x}/{y}", "crs": "gcj02"}],
    )
    conf = basemap_config()
    caches = conf["caches"]
    stored = ["basemap_cache", "tianditu_vec_cache", "tianditu_img_cache", "amap_cache"]
    assert sorted(caches) == sorted([*stored, "amap_gcj02"])
    for name in stored:
        assert caches[name]["cache"] == {
            "type": "s3",
            "bucket_name": "civgrid-tiles",
            "directory": f"basemap/v1/{name}",
            "directory_layout": "tms",
            "endpoint_url": "http://minio.intranet:9000",
        }
    assert caches["amap_gcj02"]["disable_storage"] is True and "cache" not in caches["amap_gcj02"]
    register_plugins()
    assert validate_options(yaml.safe_load(yaml.safe_dump(conf))) == ([], True)  # MapProxy's schema
    tile_namespace.update(BASEMAP_CACHE="s3://civgrid-tiles", BASEMAP_S3_ENDPOINT="")
    assert basemap_config()["caches"]["basemap_cache"]["cache"] == {
        "type": "s3", "bucket_name": "civgrid-tiles", "directory": "basemap_cache", "directory_layout": "tms",
    }  # fmt: skip
    if importlib.util.find_spec("boto3") is None:
        with pytest.raises(ImproperlyConfigured, match=r"CIVGRID_BASEMAP_CACHE.*boto3"):
            basemap_cache_check()


@pytest.mark.parametrize(
    "value",
    [
        "ftp://tiles.example/x",
        "files",
        "redis://",
        "redis://tiles.example:port/0",
        "redis://tiles.example:99999/0",
        "redis://tiles.example/db1",
        "redis://tiles.example/0?ttl=-5",
        "redis://tiles.example/0?ttl=1h",
        "redis://tiles.example/0?prefx=a",
        "redis://tiles.example/0?prefix=",
        "redis://:secret@tiles.example/0#x",
        "unix:///run/redis.sock?db=2",
        "rediss://tiles.example/0",
        "s3://",
        "s3://Bad_Bucket/x",
        "s3://civgrid-tiles/x?endpoint=http://minio",
    ],
)
def test_bad_values_are_refused_naming_the_setting(tile_namespace, value):
    tile_namespace.update(BASEMAP_CACHE=value)
    with pytest.raises(ImproperlyConfigured, match="CIVGRID_BASEMAP_CACHE") as raised:
        basemap_config()
    assert "secret" not in str(raised.value)


def test_bad_s3_endpoint_is_refused(tile_namespace):
    tile_namespace.update(BASEMAP_CACHE="s3://civgrid-tiles", BASEMAP_S3_ENDPOINT="minio:9000")
    with pytest.raises(ImproperlyConfigured, match="CIVGRID_BASEMAP_S3_ENDPOINT"):
        basemap_config()


def test_a_bad_value_stops_the_processes_at_start_up():
    env = {**os.environ, "CIVGRID_BASEMAP_CACHE": "redis://tiles.example:port/0"}
    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=env, cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode != 0
    assert "ImproperlyConfigured: CIVGRID_BASEMAP_CACHE=" in done.stderr
