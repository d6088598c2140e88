"""Tile arithmetic (pure, no database)."""

from __future__ import annotations

import pytest

from tiles.tilemath import HALF, Tile, count_tiles, lonlat_to_tile, mercator, tiles_covering


def test_bounds_of_the_world_and_its_quarters():
    assert Tile(0, 0, 0).bounds_3857() == (-HALF, -HALF, HALF, HALF)
    x0, y0, x1, y1 = Tile(1, 1, 0).bounds_3857()  # north-east quarter: y counts from the north
    assert (x0, y0, x1, y1) == (0.0, 0.0, HALF, HALF)
    lon0, lat0, lon1, lat1 = Tile(1, 0, 1).bounds_4326()
    assert (
        (lon0, lon1) == pytest.approx((-180.0, 0.0)) and lat0 == pytest.approx(-85.0511287798) and lat1 == 0.0
    )


def test_a_point_lies_in_its_tile_at_every_zoom():
    lon, lat = 105.4420, 28.8780
    for z in range(0, 21):
        tile = lonlat_to_tile(lon, lat, z)
        x0, y0, x1, y1 = tile.bounds_4326()
        assert x0 <= lon < x1 and y0 <= lat < y1
        assert tile.parent(max(0, z - 3)) == lonlat_to_tile(lon, lat, max(0, z - 3))


def test_buffer_grows_the_box_by_a_share_of_the_tile():
    tile = Tile(12, 3247, 1704)
    x0, _, _, y1 = tile.bounds_3857()
    bx0, _, _, by1 = tile.bounds_3857(1 / 64)
    assert bx0 == pytest.approx(x0 - tile.size_m / 64) and by1 == pytest.approx(y1 + tile.size_m / 64)
    assert mercator(180, 0)[0] == pytest.approx(HALF)


@pytest.mark.parametrize(("z", "x", "y"), [(-1, 0, 0), (25, 0, 0), (3, 8, 0), (3, 0, -1)])
def test_out_of_range_tiles_are_refused(z, x, y):
    with pytest.raises(ValueError):
        Tile(z, x, y)


def test_covering_tiles_match_their_count():
    bbox = (105.40, 28.85, 105.47, 28.90)
    tiles = list(tiles_covering(bbox, range(10, 15)))
    assert len(tiles) == count_tiles(bbox, range(10, 15)) == len(set(tiles))
    for t in tiles:
        x0, y0, x1, y1 = t.bounds_4326()
        assert x0 <= bbox[2] and x1 >= bbox[0] and y0 <= bbox[3] and y1 >= bbox[1]
