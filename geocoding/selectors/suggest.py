"""Address suggestions while typing: the text so far is parsed, its unfinished tail completed.

What is already understood (四川泸州江阳区大山…) becomes the context; the tail
(大山) is completed by prefix over every name form in the gazetteer (a sorted
list, binary search), keeping only names the context allows and the caller may
see. After a road, digits complete to door plates. Ranked: deeper elements of
the context first, then names that complete more of what was typed, then
shorter names.
"""

from __future__ import annotations

import bisect

from accounts.scoping import Jurisdiction

from ..engine.gazetteer import Entity, Gazetteer, Kind
from ..engine.normalize import normalize
from ..engine.parser import State, fits, parse
from .geocode import NATIONWIDE, gazetteer, visibility

__all__ = ["suggest"]

_KIND_RANK = {Kind.POI: 0, Kind.PLACE: 0, Kind.ROAD: 1, Kind.REGION: 2}


def _label(gaz: Gazetteer, e: Entity) -> str:
    if e.kind == Kind.REGION:
        return gaz.chain_name(e.code)
    return gaz.chain_name(e.region_code or e.code) + e.name


def _entity_json(gaz: Gazetteer, e: Entity) -> dict:
    body = {"text": _label(gaz, e), "name": e.name, "kind": e.kind}
    if e.kind == Kind.REGION:
        body["code"] = e.code
        body["level"] = e.level
    else:
        body["district_code"] = e.code
        if e.category:
            body["category"] = e.category
    if e.point is not None:
        body["location"] = {"lon": round(e.point[0], 7), "lat": round(e.point[1], 7), "crs": "wgs84"}
    return body


def _split(parsed_state: State) -> tuple[State, str]:
    """The state before the unfinished tail (trailing skipped characters or an unknown road) and the tail."""
    tokens = list(parsed_state.tokens)
    tail = []
    while tokens and tokens[-1].kind in ("skip", "unknown_road"):
        tail.insert(0, tokens.pop().text)
    state = State(ctx=None)
    for tok in tokens:  # replay what was understood, keeping context, road and place
        e = tok.entity
        if e is not None and e.kind == Kind.REGION:
            state.ctx = e
        elif e is not None and e.kind == Kind.ROAD:
            state.road, state.stage = e, max(state.stage, 1)
        elif e is not None:
            state.sub, state.stage = e, max(state.stage, 1)
        elif tok.kind == "door":
            state.stage = 2
    state.tokens = tuple(tokens)
    return state, "".join(tail)


def suggest(q: str, *, limit: int = 10, jurisdiction: Jurisdiction | None = None) -> list[dict]:
    jurisdiction = jurisdiction or NATIONWIDE
    gaz = gazetteer()
    text = normalize(q)
    if not text:
        return []
    visible, covers = visibility(jurisdiction)
    state, tail = _split(parse(text, gaz, visible=visible).state)
    out: list[dict] = []
    if not tail and state.road is not None and state.tokens and state.tokens[-1].kind == "door":
        # 大山坪路1 → 大山坪路1号, 10号, 11号 … (the door token holds the digits typed so far)
        digits = str(state.tokens[-1].value["number"])
        doors = [
            d
            for d in gaz.road_doors(state.road)
            if str(d.number).startswith(digits) and (covers is None or covers(d.grid_code))
        ]
        doors.sort(key=lambda d: (len(str(d.number)), d.number, d.suffix))
        for d in doors[:limit]:
            head = gaz.chain_name(d.region_code)
            out.append(
                {
                    "text": head + state.road.name + d.label,
                    "name": state.road.name + d.label,
                    "kind": "door",
                    "location": {"lon": round(d.point[0], 7), "lat": round(d.point[1], 7), "crs": "wgs84"},
                }
            )
        return out
    if not tail:
        # a complete element typed (…江阳区): what comes next — its sub-regions, then its roads and places
        ctx = state.ctx
        if ctx is None or state.stage > 0:
            return out
        below = [
            e
            for e in gaz.children.get(ctx.code, ())
            if jurisdiction.nationwide or jurisdiction.covers_code(e.code)
        ]
        if ctx.level >= 3:
            subs = [
                e
                for e in gaz.subs_in.get(ctx.prefix[:6], ())
                if (visible is None or visible(e))
                and (e.kind == Kind.ROAD or e.prefix.startswith(ctx.prefix))
            ]
            below += sorted(subs, key=lambda e: (_KIND_RANK[e.kind], e.name))
        return [_entity_json(gaz, e) for e in below[:limit]]
    names = gaz.sorted_names
    start = bisect.bisect_left(names, tail)
    found: dict[int, tuple] = {}
    scanned = 0
    for name in names[start:]:
        if not name.startswith(tail) or scanned > 20_000:
            break
        scanned += 1
        for e, weight in gaz.names[name]:
            if id(e) in found or not fits(state, e, visible):
                continue
            if e.kind == Kind.REGION and not jurisdiction.nationwide and not jurisdiction.covers_code(e.code):
                continue
            # below a district, its roads/places/POIs first; above, the next regions down first
            deep = state.ctx is not None and state.ctx.level >= 3
            group = _KIND_RANK[e.kind] if deep else e.level
            rank = (group, len(name), -weight, name)
            found[id(e)] = (rank, e)
    for _, e in sorted(found.values(), key=lambda x: x[0])[:limit]:
        out.append(_entity_json(gaz, e))
    return out
