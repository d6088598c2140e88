"""Bulk geocoding (批量地址编码) as a kind of job of the ``jobs`` app.

Each chunk of uploaded rows goes through :func:`geocoding.selectors.geocode.geocode_batch`
with the job's ``city``, ``crs`` and the submitter's jurisdiction, exactly as the
batch endpoint does. A row whose address is empty, or that the geocoder calls
``invalid`` (too long, binary…), is a row error with its reason; ``not_found``,
``ambiguous`` and ``outside`` are answers, not errors.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings

from gis_core.api.params import parse_crs
from gis_core.errors import InvalidInput
from jobs.registry import JobContext, JobKind, RowOutcome

__all__ = ["GEOCODE_KIND", "GEOCODE_RESULT_COLUMNS"]

_LEVELS = {1: "province", 2: "city", 3: "district", 4: "street", 5: "community"}

GEOCODE_RESULT_COLUMNS: tuple[str, ...] = (
    "status", "match_level", "match_kind", "confidence", "lon", "lat", "crs", "address",
    "grid_code", "grid_name",
    "province", "province_code", "city", "city_code", "district", "district_code",
    "street", "street_code", "community", "community_code",
    "message", "components",
)  # fmt: skip


def clean_options(form: dict[str, Any]) -> dict[str, Any]:
    """``city`` (name or region code, to resolve short addresses) and ``crs`` of the output points."""
    from .selectors.geocode import gazetteer, resolve_context

    crs = parse_crs(form.get("crs") or None)
    city = str(form.get("city") or "").strip() or None
    if city is not None:
        if len(city) > 100:
            raise InvalidInput("city 参数过长", code="invalid_city")
        resolve_context(gazetteer(), city)  # an unknown city is the whole file's problem: 400 now
    return {"city": city, "crs": crs}


def geocode_rows(rows: list[dict[str, str]], ctx: JobContext) -> list[RowOutcome]:
    from .selectors.geocode import geocode_batch

    outcomes: list[RowOutcome | None] = [None] * len(rows)
    texts, where = [], []
    for i, row in enumerate(rows):
        text = (row.get(ctx.column) or "").strip()
        if text:
            texts.append(text)
            where.append(i)
        else:
            outcomes[i] = RowOutcome(error="地址为空")
    if texts:
        answers = geocode_batch(
            texts,
            city=ctx.options.get("city"),
            crs=ctx.options.get("crs") or "wgs84",
            jurisdiction=ctx.jurisdiction,
        )
        for i, answer in zip(where, answers, strict=True):
            invalid = answer.get("status") == "invalid"
            outcomes[i] = RowOutcome(
                result=answer, error=(answer.get("message") or "地址无效") if invalid else ""
            )
    return outcomes  # type: ignore[return-value]


def flatten(result: dict[str, Any]) -> dict[str, Any]:
    """One geocoding answer as the flat fields of :data:`GEOCODE_RESULT_COLUMNS`."""
    location = result.get("location") or {}
    grid = result.get("grid") or {}
    flat: dict[str, Any] = {
        "status": result.get("status"),
        "match_level": result.get("match_level"),
        "match_kind": result.get("match_kind"),
        "confidence": result.get("confidence"),
        "lon": location.get("lon"),
        "lat": location.get("lat"),
        "crs": location.get("crs"),
        "address": result.get("address") or None,
        "grid_code": grid.get("code"),
        "grid_name": grid.get("name"),
        "message": result.get("message"),
        "components": json.dumps(result["components"], ensure_ascii=False)
        if result.get("components")
        else None,
    }
    for region in result.get("regions") or ():
        if level := _LEVELS.get(region.get("level")):
            flat[level], flat[f"{level}_code"] = region.get("name"), region.get("code")
    return flat


GEOCODE_KIND = JobKind(
    name="geocode",
    title="批量地址编码",
    handler=geocode_rows,
    clean_options=clean_options,
    result_columns=GEOCODE_RESULT_COLUMNS,
    flatten=flatten,
    max_rows=lambda: settings.CIVGRID["GEOCODE_JOB_MAX_ROWS"],
)
