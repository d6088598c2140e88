"""Layers that can be imported and exported, registered by the app that owns each.

gis_core knows how to read files and report rows; the owning app says how a
row is cleaned and written (``grids`` registers unit grids in its AppConfig),
so gis_core never imports a feature app.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from shapely.geometry.base import BaseGeometry

__all__ = ["ImportLayer", "RowError", "get_layer", "layer_names", "register_layer"]


class RowError(ValueError):
    """A problem with one field of one row."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class ImportLayer:
    name: str
    title: str
    # canonical column → names accepted in files (matched case-insensitively)
    columns: dict[str, tuple[str, ...]]
    # row (canonical keys, geometry under "geometry") + options → cleaned item; raises RowError
    clean_row: Callable[[dict[str, Any], dict[str, Any]], Any]
    # cleaned items → {"created": n, "updated": n}; runs inside the import transaction
    write: Callable[[list[Any]], dict[str, int]]
    # export: a queryset of the layer and a function turning an object into (properties, geometry)
    export_queryset: Callable[[], Any]
    export_record: Callable[[Any], tuple[dict[str, Any], BaseGeometry | None]]
    # whole-file checks after every row is clean: yields (row index, field, message)
    check_rows: Callable[[list[Any]], Iterable[tuple[int, str, str]]] = field(default=lambda items: ())
    # lookups done once per file (e.g. known parent codes), passed to clean_row as context
    prepare: Callable[[list[dict[str, Any]]], dict[str, Any]] = field(default=lambda rows: {})


_LAYERS: dict[str, ImportLayer] = {}


def register_layer(layer: ImportLayer) -> None:
    _LAYERS[layer.name] = layer


def get_layer(name: str) -> ImportLayer:
    from ..errors import InvalidInput

    try:
        return _LAYERS[name]
    except KeyError:
        raise InvalidInput(
            f"未知图层“{name}”，可选：{'、'.join(sorted(_LAYERS))}", code="unknown_layer"
        ) from None


def layer_names() -> list[str]:
    return sorted(_LAYERS)
