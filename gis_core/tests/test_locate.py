def test_scratch(db):
    import cProfile, pstats
    from gis_core.services.regions import gazetteer_load
    cProfile.runctx("gazetteer_load()", globals(), locals(), "/tmp/gz.prof")
    pstats.Stats("/tmp/gz.prof").sort_stats("cumulative").print_stats(25)
