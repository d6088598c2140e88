"""Vector-tile layers, declared once each: what a layer shows and how it is scoped.

A layer is one :class:`TileLayer`. Adding one (components, cameras, civilization
units, staff positions…) is a declaration, in :mod:`tiles.layers` or in the
owning app's ``AppConfig.ready()``::

    from tiles.registry import TileLayer, register_layer

    register_layer(TileLayer(
        name="cameras", title="视频监控", scope="grids:read",
        queryset=lambda: Camera.objects.all(),            # unscoped: the registry scopes it
        attributes={"id": "pk", "code": "code", "kind": "kind"},
        geometry="point", aggregate_below=14,             # points: counts per cell below z14
        range_filter=True, time_field="installed_at",     # region, grid, from/to … (gis_core)
    ))

Everything else follows from the declaration: the tile endpoint and its
TileJSON, jurisdiction scoping (:func:`accounts.scoping.scope_queryset`, read
from the model's ``Scope``, the same as the API), the filters, the HTTP and
Redis caching, and the triggers that invalidate cached tiles when the layer's
table changes (installed on ``migrate`` for every registered layer's tables).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet

from gis_core.errors import NotFound

__all__ = ["GEOMETRIES", "TileLayer", "get_layer", "layer_names", "layers", "register_layer"]

GEOMETRIES = ("point", "line", "polygon")


def _scope(qs: QuerySet, jurisdiction) -> QuerySet:
    from accounts.scoping import scope_queryset

    return scope_queryset(qs, jurisdiction)


@dataclass(frozen=True)
class TileLayer:
    #: URL name: /tiles/{name}/{z}/{x}/{y}.mvt, and the MVT layer name inside the tile
    name: str
    title: str
    #: the API scope a caller needs (``accounts.permissions.SCOPES``)
    scope: str
    #: the rows the layer shows, *unscoped* (a callable, so querysets are built per request)
    queryset: Callable[[], QuerySet]
    #: MVT attribute → field path ("category__code") or ORM expression; values must be scalars
    attributes: Mapping[str, Any]
    geometry: str = "point"
    geom_field: str = "geom"
    #: how the queryset is narrowed to a jurisdiction; the default reads the model's ``Scope``
    scoped: Callable[[QuerySet, Any], QuerySet] = _scope
    #: the layer's own filter parameters → narrowed queryset (raise InvalidInput on bad values)
    filters: Callable[[QuerySet, Mapping[str, Any]], QuerySet] | None = None
    filter_params: tuple[str, ...] = ()
    #: also accept the shared range filter (region, grid, bbox, circle, polygon, line, from/to)
    range_filter: bool = False
    time_field: str | None = None
    #: parameters whose answer moves with the clock (e.g. overdue): cached briefly only
    volatile_params: tuple[str, ...] = ()
    minzoom: int = 0
    maxzoom: int = 22
    #: points: below this zoom a tile holds one feature per cell (``count``), never the points
    aggregate_below: int | None = None
    #: lines/polygons: features whose bbox is smaller than this many screen pixels are left out
    min_size_px: float = 0.0
    #: extra tables whose writes change the layer's tiles (e.g. a joined category table)
    depends_on: tuple[str, ...] = ()
    #: seconds a browser may keep a tile before revalidating it (ETag → 304)
    max_age: int = 60
    description: str = ""
    #: attribute name → type shown in TileJSON (``Number``, ``String``, ``Boolean``)
    fields: Mapping[str, str] = field(default_factory=dict)
    #: an attribute that moves with the clock (an event's timeliness colour, computed against
    #: ``statement_timestamp()``), null where the feature's clock stands still (a suspended or
    #: finished event) …
    clock_attribute: str | None = None
    #: … and the attributes holding, in whole epoch seconds (:class:`tiles.layers.Epoch`), the
    #: moments at which it turns (the warning, the limit). A feature tile then carries its *next
    #: turn*: the earliest of these still ahead among its features whose clock runs, computed in
    #: the statement that builds it; the cached tile and its ETag hold only until then (see
    #: :mod:`tiles.cache`). Aggregated cells carry no such attribute, and no expiry
    turns: tuple[str, ...] = ()
    #: the layer *is* the clock (latest staff positions): never served from the cache, and no
    #: change triggers on its tables (they are written all the time)
    live: bool = False
    #: shown instead of this layer, under the same name, to callers holding ``personal_scope``
    #: (families at their exact point); this layer is what everybody else gets
    personal_variant: TileLayer | None = None
    personal_scope: str = "personal:read"
    #: tells the cache entries of a personal variant from the public layer's (same name)
    variant: str = ""

    def __post_init__(self) -> None:
        if self.geometry not in GEOMETRIES:
            raise ValueError(f"layer {self.name}: geometry must be one of {GEOMETRIES}")
        if self.aggregate_below is not None and self.geometry != "point":
            raise ValueError(f"layer {self.name}: only point layers aggregate")
        reserved = {"count"} & set(self.attributes) if self.aggregate_below is not None else set()
        if reserved:
            raise ValueError(f"layer {self.name}: attribute 'count' is the aggregate's")
        if bool(self.turns) != bool(self.clock_attribute):
            raise ValueError(f"layer {self.name}: clock_attribute and turns go together")
        unknown = {self.clock_attribute, *self.turns} - {None} - set(self.attributes)
        if unknown:
            raise ValueError(f"layer {self.name}: clock attributes {sorted(unknown)} are not attributes")
        variant = self.personal_variant
        if variant is not None and (variant.name != self.name or not variant.variant or self.variant):
            raise ValueError(f"layer {self.name}: a personal variant has its name and its own variant tag")

    def for_scopes(self, scopes) -> TileLayer:
        """The layer as this caller sees it: the personal variant only with its scope."""
        if self.personal_variant is not None and self.personal_scope in scopes:
            return self.personal_variant
        return self

    def variants(self) -> list[TileLayer]:
        return [self, *([self.personal_variant] if self.personal_variant is not None else [])]

    @property
    def accepted_params(self) -> frozenset[str]:
        from gis_core.api.ranges import RANGE_PARAMETERS

        names = set(self.filter_params)
        if self.range_filter:
            names |= {p.name for p in RANGE_PARAMETERS}
        return frozenset(names)

    def tables(self) -> list[tuple[str, str | None]]:
        """(table, geometry column or None) whose writes invalidate this layer's cached tiles."""
        model = self.queryset().model
        column = model._meta.get_field(self.geom_field).column
        return [(model._meta.db_table, column), *((t, None) for t in self.depends_on)]


_LAYERS: dict[str, TileLayer] = {}


def register_layer(layer: TileLayer) -> None:
    _LAYERS[layer.name] = layer


def get_layer(name: str) -> TileLayer:
    try:
        return _LAYERS[name]
    except KeyError:
        raise NotFound(
            f"未知图层“{name}”，可选：{'、'.join(sorted(_LAYERS))}",
            code="unknown_layer",
            details={"layer": name, "layers": sorted(_LAYERS)},
        ) from None


def layer_names() -> list[str]:
    return sorted(_LAYERS)


def layers() -> list[TileLayer]:
    return [_LAYERS[n] for n in sorted(_LAYERS)]
