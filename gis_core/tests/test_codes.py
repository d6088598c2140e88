"""Tests for gis_core.codes (pure functions: no database)."""

import pytest

from gis_core.codes import InvalidCode, ancestor_codes, level_of, pad_code, parent_code, prefix_of


@pytest.mark.parametrize(
    ("code", "padded"),
    [
        ("51", "510000000000"),
        ("5105", "510500000000"),
        ("510502", "510502000000"),
        ("510502001", "510502001000"),
        ("510502001001", "510502001001"),
        (51, "510000000000"),
        (510502, "510502000000"),
        (" 5105 ", "510500000000"),
    ],
)
def test_pad_code(code, padded):
    assert pad_code(code) == padded


@pytest.mark.parametrize(
    "code",
    [
        "",
        " ",
        "5",
        "510",
        "51050",
        "5105020",
        "51050200",
        "5105020010",
        "51050200100",
        "5105020010010",
        "abc",
        "51a5",
        "-51",
        "51.0",
        "51 05",
        "５１０５",  # full-width digits
        "٥١",  # Arabic-Indic digits
        -51,
    ],
)
def test_pad_code_rejects(code):
    with pytest.raises(InvalidCode, match="不是行政区划代码"):
        pad_code(code)


def test_invalid_code_is_value_error():
    assert issubclass(InvalidCode, ValueError)


@pytest.mark.parametrize(
    ("code", "level"),
    [
        ("51", 1),
        ("510000000000", 1),
        ("5105", 2),
        ("510500000000", 2),
        ("510502", 3),
        ("510502001", 4),
        ("510502001000", 4),
        ("510502001001", 5),
        ("441900003000", 4),  # 东莞 towns sit directly under the prefecture city
        ("429004000000", 3),  # 省直辖县级行政区划 仙桃市
    ],
)
def test_level_of(code, level):
    assert level_of(code) == level


@pytest.mark.parametrize("code", ["00", "000000000000", "x1"])
def test_level_of_rejects(code):
    with pytest.raises(InvalidCode):
        level_of(code)


@pytest.mark.parametrize(
    ("code", "parent"),
    [
        ("51", None),
        ("510000000000", None),
        ("5105", "510000000000"),
        ("510502", "510500000000"),
        ("510502001", "510502000000"),
        ("510502001001", "510502001000"),
        ("441900003000", "441900000000"),
        ("429004", "429000000000"),
    ],
)
def test_parent_code(code, parent):
    assert parent_code(code) == parent


def test_ancestor_codes_full_chain():
    assert ancestor_codes("510502001001") == [
        "510000000000",
        "510500000000",
        "510502000000",
        "510502001000",
        "510502001001",
    ]
    assert ancestor_codes("51") == ["510000000000"]
    assert ancestor_codes("5105") == ["510000000000", "510500000000"]


def test_ancestor_codes_of_town_directly_under_city_has_no_duplicates():
    # 东莞市 has no county level: the chain of a town must name the city once.
    assert ancestor_codes("441900003000") == ["440000000000", "441900000000", "441900003000"]


@pytest.mark.parametrize(
    ("code", "level", "prefix"),
    [
        ("510502001001", None, "510502001001"),
        ("510502001001", 4, "510502001"),
        ("510502001001", 3, "510502"),
        ("510502001001", 2, "5105"),
        ("510502001001", 1, "51"),
        ("510502", None, "510502"),
        ("5105", None, "5105"),
        ("510502001000", None, "510502001"),
    ],
)
def test_prefix_of(code, level, prefix):
    assert prefix_of(code, level) == prefix


def test_prefix_of_rejects_invalid():
    with pytest.raises(InvalidCode):
        prefix_of("51x")
