"""The gazetteer admin: lists and searches load, and a hand edit is located like a bulk write
(a door plate moved out of its street's district is a form error, not a 500)."""

from __future__ import annotations

import pytest

from geocoding.models import DoorPlate

JIANGYANG = "510502000000"


@pytest.mark.parametrize("model", ["street", "place", "doorplate", "building", "poi"])
def test_changelists_and_search(admin_client, model):
    assert admin_client.get(f"/admin/geocoding/{model}/").status_code == 200
    assert admin_client.get(f"/admin/geocoding/{model}/", {"q": "1"}).status_code == 200


def _form(door: DoorPlate, geom) -> dict:
    return {"street": door.street_id, "number": door.number, "suffix": "1", "geom": geom.geojson}


def test_door_edit_located_or_refused(admin_client):
    door = DoorPlate.objects.filter(district_code=JIANGYANG).first()
    url = f"/admin/geocoding/doorplate/{door.pk}/change/"
    assert admin_client.get(url).status_code == 200

    elsewhere = DoorPlate.objects.filter(district_code__startswith="5105").exclude(district_code=JIANGYANG)
    response = admin_client.post(url, _form(door, elsewhere.first().geom))
    assert response.status_code == 200  # the form again, with the error
    assert "所在区县" in response.content.decode()
    door.refresh_from_db()
    assert door.suffix == ""

    neighbour = DoorPlate.objects.filter(district_code=JIANGYANG).exclude(grid_code=door.grid_code).first()
    response = admin_client.post(url, _form(door, neighbour.geom))
    assert response.status_code == 302
    door.refresh_from_db()
    assert door.suffix == "-1" and door.grid_code == neighbour.grid_code
