"""Tests for the grids_check command: same topology scenarios as the selector and the API."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from gis_core.tests.test_imports import TEST_COMMUNITY
from grids.tests.test_topology import build_faulty_community, code


def _run(*args) -> str:
    out = io.StringIO()
    call_command("grids_check", *args, stdout=out)
    return out.getvalue()


def test_clean_district_exits_zero(db):
    out = _run("--region", "510502", "--verbosity", "2")
    assert "：0 个社区有问题" in out and "白湖社区（510502001001）" in out


def test_issues_are_listed_and_exit_non_zero(db):
    build_faulty_community()
    out = io.StringIO()

    with pytest.raises(CommandError, match="1 个社区共 5 处拓扑问题"):
        call_command("grids_check", "--region", TEST_COMMUNITY, stdout=out)

    text = out.getvalue()
    assert f"试验社区（{TEST_COMMUNITY}）：4 个网格，5 处问题" in text
    for kind in ("overlap", "gap", "sliver", "outside", "invalid"):
        assert f"[{kind}]" in text
    assert f"网格 {code(1)}、{code(2)} 相互重叠" in text and "Self-intersection" in text


def test_json_output(db):
    build_faulty_community()
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("grids_check", "--region", TEST_COMMUNITY[:9], "--json", stdout=out)
    body = json.loads(out.getvalue())
    assert (body["region"], body["communities"], body["issues"]) == ("510502003000", 1, 5)
    assert {i["type"] for i in body["results"][0]["issues"]} == {
        "overlap",
        "gap",
        "sliver",
        "outside",
        "invalid",
    }


def test_json_output_clean(db):
    body = json.loads(_run("--region", "510502001", "--json"))
    assert body["issues"] == 0 and all(r["ok"] for r in body["results"])


def test_whole_database(db):
    assert "：0 个社区有问题" in _run()


@pytest.mark.parametrize(("region", "message"), [("51x", "不是行政区划代码"), ("510599", "不存在")])
def test_bad_region(db, region, message):
    with pytest.raises(CommandError, match=message):
        _run("--region", region)
