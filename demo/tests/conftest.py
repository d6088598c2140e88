"""Fixtures of the demo generator tests: 泸州 from the bundled division files, and its plans at
every scale (built once per session: the citygen and addressgen tests share them)."""

from __future__ import annotations

import csv
import time
from collections import defaultdict
from pathlib import Path

import pytest

from demo.citygen import CityPlan, DivisionInput, build_city

DATA = Path(__file__).resolve().parents[2] / "data" / "divisions"
STREETS_PER_DISTRICT = 12


def _read(name: str) -> list[dict[str, str]]:
    with open(DATA / name, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="session")
def luzhou() -> DivisionInput:
    streets = defaultdict(list)
    for row in _read("streets.csv"):
        if row["cityCode"] == "5105":
            streets[row["areaCode"]].append(row)
    districts = tuple(
        DivisionInput(
            code=row["code"].ljust(12, "0"),
            name=row["name"],
            children=tuple(
                DivisionInput(s["code"].ljust(12, "0"), s["name"])
                for s in streets[row["code"]][:STREETS_PER_DISTRICT]
            ),
        )
        for row in _read("areas.csv")
        if row["cityCode"] == "5105"
    )
    assert [d.name for d in districts] == [
        "江阳区",
        "纳溪区",
        "龙马潭区",
        "泸县",
        "合江县",
        "叙永县",
        "古蔺县",
    ]
    return DivisionInput("510500000000", "泸州市", children=districts)


@pytest.fixture(scope="session")
def plans(luzhou) -> dict[str, CityPlan]:
    out = {}
    for scale in ("small", "medium", "large"):
        started = time.perf_counter()
        out[scale] = build_city(city=luzhou, seed=1, scale=scale)
        assert time.perf_counter() - started < 20, f"{scale} too slow"
    return out


@pytest.fixture(params=["small", "medium", "large"])
def plan(request, plans) -> CityPlan:
    return plans[request.param]
