"""Signals for writes the ORM signals do not see, and the value snapshot they carry.

``rows_written``: sent after a bulk write (bulk_create/bulk_update) with
``sender`` = the model class and ``changes`` = a list of
``(object_id, region_code, before, after)`` — :func:`model_values` dicts,
``before`` None for a new row. The audit trail (accounts) listens; gis_core
imports nothing from it.

``boundaries_changed``: sent inside the transaction that gave regions a new boundary or took
theirs away, with ``codes`` = those regions' codes; data placed by a boundary (a family's
community point, in civilization) is placed again before the transaction commits.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid
from typing import Any

from django.contrib.gis.geos import GEOSGeometry
from django.db import models
from django.dispatch import Signal

__all__ = ["UNRECORDED_FIELDS", "boundaries_changed", "model_values", "rows_written"]

rows_written = Signal()
boundaries_changed = Signal()

# never copied into a snapshot: secrets, and bookkeeping that changes without an edit
UNRECORDED_FIELDS = {"password", "key_hash", "last_login", "last_used_at", "updated_at"}


def _plain(value: Any) -> Any:
    if isinstance(value, GEOSGeometry):
        return json.loads(value.geojson)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def model_values(obj: models.Model) -> dict[str, Any]:
    """Field values of a row, JSON-ready (geometries as GeoJSON)."""
    return {
        f.attname: _plain(getattr(obj, f.attname))
        for f in obj._meta.concrete_fields
        if f.name not in UNRECORDED_FIELDS
    }
