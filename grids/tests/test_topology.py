def test_probe(db):
    from gis_core.imports.service import export_layer
    from grids.models import UnitGrid
    r = export_layer(layer="grids", fmt="geojson", queryset=UnitGrid.objects.none())
    print(r.content[:300])
    r = export_layer(layer="grids", fmt="csv", queryset=UnitGrid.objects.none())
    print(r.content[:300])
    r = export_layer(layer="grids", fmt="gpkg", queryset=UnitGrid.objects.none())
    print(len(r.content))
