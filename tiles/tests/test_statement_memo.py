"""The compiled rows statement of a layer is reused for a caller's next tiles
(tiles/selectors/mvt.py, ``_rows_sql``): per layer, jurisdiction and filters, for a few
seconds, never for filters that move with the clock — and never across jurisdictions."""

from __future__ import annotations

import pytest

from tiles.selectors import mvt
from tiles.tilemath import Tile

from .conftest import A_PREFIX, B_PREFIX, decode, grid_tile, tile_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def compiles(monkeypatch) -> list[tuple]:
    """Every rows statement (SQL, parameters) compiled from a queryset (not taken from the memo)."""
    seen: list[tuple] = []
    real = mvt._compiled

    def counting(qs):
        found = real(qs)
        seen.append(found)
        return found

    monkeypatch.setattr(mvt, "_compiled", counting)
    return seen


def _codes(client, tile: Tile, layer: str = "grids", query: str = "") -> set[str]:
    response = client.get(tile_url(layer, tile, query))
    assert response.status_code == 200, response.content
    assert response["X-Tile-Cache"] == "miss"
    return {f["properties"]["code"] for f in decode(response.content).get(layer, [])}


def test_one_compiled_statement_serves_a_callers_tiles_and_only_theirs(a_api, b_api, compiles, monkeypatch):
    _, tile = grid_tile(A_PREFIX, 15)
    west, east = Tile(tile.z, tile.x - 1, tile.y), Tile(tile.z, tile.x + 1, tile.y)
    mine = _codes(a_api, tile)
    assert mine and all(c.startswith(A_PREFIX) for c in mine)
    assert len(compiles) == 1
    for other in (west, east):  # the next tiles of the same caller: the same statement
        assert all(c.startswith(A_PREFIX) for c in _codes(a_api, other))
    assert len(compiles) == 1
    # another jurisdiction compiles its own: B's answer for A's tile holds none of A's grids
    assert not any(c.startswith(A_PREFIX) for c in _codes(b_api, tile))
    assert len(compiles) == 2 and compiles[0] != compiles[1]
    _, b_tile = grid_tile(B_PREFIX, 15)
    assert all(c.startswith(B_PREFIX) for c in _codes(b_api, b_tile))
    assert len(compiles) == 2
    # another filter: its own statement
    _codes(a_api, Tile(tile.z, tile.x, tile.y + 1), query="region=510502")
    assert len(compiles) == 3
    # after STATEMENT_SECONDS the statement is compiled again
    monkeypatch.setattr(mvt, "STATEMENT_SECONDS", 0.0)
    _codes(a_api, Tile(tile.z, tile.x, tile.y - 1))
    assert len(compiles) == 4


def test_filters_that_move_with_the_clock_are_compiled_every_time(a_api, compiles):
    _, tile = grid_tile(A_PREFIX, 17)
    for k in range(3):
        response = a_api.get(tile_url("events", Tile(tile.z, tile.x + k, tile.y), "overdue=true"))
        assert response.status_code == 200
    assert len(compiles) == 3
    for k in range(3):
        assert a_api.get(tile_url("events", Tile(tile.z, tile.x + k, tile.y + 1))).status_code == 200
    assert len(compiles) == 4
