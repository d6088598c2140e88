"""Chinese address parsing: free text → address elements matched in the gazetteer. Pure Python.

The normalized text is segmented by a beam search over a lattice of tokens:
gazetteer names (regions, roads, places, POIs; exact, or within one edit when
the name is one the context allows), numbered parts (门牌号, 栋, 单元, 层, 室),
direction-and-distance phrases (路口东50米), connectives, and skipped
characters. A state carries the deepest region matched so far; a region token
must lie inside it (a street inside its district), a road/place/POI in its
district. So 重庆路 after 泸州市 is a road, never the province of 重庆, and 鼓楼区
after 南京 is 南京's. The best-scoring segmentations are returned; the caller
decides whether the top ones disagree (ambiguous) and where the address lies.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from rapidfuzz.distance import Levenshtein

from .gazetteer import SUB_LEVEL, Entity, Gazetteer, Kind

__all__ = ["Parse", "State", "Token", "fits", "parse"]

BEAM = 8
TYPO_COST = 1.6
SKIP_COST = 1.0
SUB_BONUS = 0.5

_NUM = r"(\d+)"
_DOOR = re.compile(r"(\d+)(?:-(\d+))?号(?:附(\d+)号?|之(\d+))?|(\d+)(?:-(\d+))?$")
_BUILDING = re.compile(r"([A-Z]|\d+)(?:栋|幢|座|号楼|号栋)|第(\d+)栋")
_UNIT = re.compile(_NUM + r"单元")
_FLOOR = re.compile(_NUM + r"(?:楼|层)(?!\d*号)")
_ROOM = re.compile(r"(\d+)(?:室|号房|房|户)|(\d+)$")
_OFFSET = re.compile(
    r"(?:路口|交叉口|十字路口|交汇处)?(东南|东北|西南|西北|东|西|南|北)(?:侧|方向|方|面|边)?(?:约)?(\d+(?:\.\d+)?)(米|M|公里|KM)"
)
_CONNECTOR = re.compile(
    r"中华人民共和国|中国|交叉口|交汇处|十字路口|路口|附近|旁边|周边|一带|对面|门口|院内|沿街|旁|内|处|与|和|及|的|院"
)
_UNKNOWN_ROAD = re.compile(r"[^\W\d_省市区县镇乡村][^\W_省市区县镇乡]{0,7}?(?:大道|大街|胡同|路|街|巷|弄)")
_DIRECTIONS = {
    "东": (1, 0), "西": (-1, 0), "南": (0, -1), "北": (0, 1),
    "东南": (0.7071, -0.7071), "东北": (0.7071, 0.7071),
    "西南": (-0.7071, -0.7071), "西北": (-0.7071, 0.7071),
}  # fmt: skip


@dataclass(slots=True)
class Token:
    kind: str  # region/road/place/poi, door/building/unit/floor/room, offset, unknown_road, connector, skip
    start: int
    end: int
    text: str
    entity: Entity | None = None
    weight: float = 1.0
    typo: bool = False
    value: dict = field(default_factory=dict)


@dataclass(slots=True)
class State:
    pos: int = 0
    score: float = 0.0
    ctx: Entity | None = None  # deepest region matched
    road: Entity | None = None
    road2: Entity | None = None  # the crossing road of an intersection
    sub: Entity | None = None  # last place/POI
    stage: int = 0  # 0 regions, 1 road/place/POI, 2 door, 3 building, 4 unit, 5 floor, 6 room
    tokens: tuple[Token, ...] = ()
    typos: int = 0
    skipped: int = 0

    def key(self) -> tuple:
        return (
            id(self.ctx),
            id(self.road),
            id(self.road2),
            id(self.sub),
            self.stage,
            any(t.kind == "offset" for t in self.tokens),
        )


@dataclass
class Parse:
    text: str  # normalized
    best: list[State]  # the top states, best first (ties included)

    @property
    def state(self) -> State:
        return self.best[0]


Visible = Callable[[Entity], bool]


def fits(st: State, e: Entity, visible: Visible | None) -> bool:
    ctx = st.ctx
    if e.kind == Kind.REGION:
        if st.stage > 0:
            return False
        return ctx is None or (e.level > ctx.level and e.prefix.startswith(ctx.prefix))
    if visible is not None and not visible(e):
        return False
    if st.stage >= 3 or (st.stage == 2 and e.kind == Kind.ROAD):
        return False
    if e.kind == Kind.ROAD and st.road2 is not None:
        return False
    if st.road is not None and e.district != st.road.district and e.code[:4] != st.road.code[:4]:
        return False
    if st.sub is not None and e.kind != Kind.ROAD:
        return False
    if ctx is None:
        return True
    return e.prefix.startswith(ctx.prefix) or (bool(e.district) and ctx.prefix.startswith(e.district))


def _with(st: State, tok: Token, gain: float, **changes) -> State:
    new = State(
        pos=tok.end,
        score=st.score + gain,
        ctx=st.ctx,
        road=st.road,
        road2=st.road2,
        sub=st.sub,
        stage=st.stage,
        tokens=(*st.tokens, tok),
        typos=st.typos + tok.typo,
        skipped=st.skipped,
    )
    for k, v in changes.items():
        setattr(new, k, v)
    return new


def _entity_state(st: State, tok: Token, gain: float) -> State:
    e = tok.entity
    if e.kind == Kind.REGION:
        return _with(st, tok, gain, ctx=e)
    if e.kind == Kind.ROAD:
        if st.road is not None:
            return _with(st, tok, gain, road2=e, stage=1)
        return _with(st, tok, gain, road=e, stage=1)
    return _with(st, tok, gain, sub=e, stage=max(st.stage, 1) if st.stage < 2 else 2)


def _gain(e: Entity, length: int, weight: float) -> float:
    gain = length * weight
    if e.level == SUB_LEVEL:
        gain += SUB_BONUS
    return gain


def _fuzzy_pool(ctx: Entity, stage: int, gaz: Gazetteer) -> list[Entity]:
    """Names a context allows a typo in: its child regions (two levels down) and its district's subs."""
    pool: list[Entity] = []
    if stage == 0:
        for child in gaz.children.get(ctx.code, ()):
            pool.append(child)
            if child.level <= 3 or ctx.level == 2:
                pool.extend(gaz.children.get(child.code, ()))
    if ctx.level >= 3:
        pool.extend(gaz.subs_in.get(ctx.prefix[:6], ()))
    return pool


def _fuzzy_tokens(st: State, text: str, gaz: Gazetteer, visible: Visible | None) -> list[tuple[Token, float]]:
    """Names within one edit (wrong, missing or extra character) of the text at the state's position."""
    if st.stage >= 2 or (st.ctx is None and st.stage > 0):
        return []
    if st.ctx is None:
        index = gaz.fuzzy_index(None, 0, lambda: [])
    else:
        index = gaz.fuzzy_index(st.ctx, min(st.stage, 1), lambda: _fuzzy_pool(st.ctx, min(st.stage, 1), gaz))
    p = st.pos
    out = []
    seen = set()
    longest = min(index.max_len + 1, len(text) - p)
    for length in range(3, longest + 1):
        span = text[p : p + length]
        for form, e, weight in index.candidates(span):
            if (
                (id(e), length) in seen
                or span == form
                or Levenshtein.distance(span, form, score_cutoff=1) > 1
            ):
                continue
            seen.add((id(e), length))
            if fits(st, e, visible):
                tok = Token(e.kind, p, p + length, span, e, weight, True)
                out.append((tok, _gain(e, len(form), weight) - TYPO_COST))
    return out


def _regex_tokens(st: State, text: str) -> list[tuple[Token, float]]:
    p = st.pos
    out: list[tuple[Token, float]] = []
    has_door_or_place = st.stage >= 2 or (st.sub is not None and st.sub.kind == Kind.PLACE)
    on_road = st.road is not None or (bool(st.tokens) and st.tokens[-1].kind == "unknown_road")
    if on_road and st.stage < 2 and (m := _DOOR.match(text, p)):
        number = int(m.group(1) or m.group(5))
        sub = m.group(2) or m.group(6) or m.group(3) or m.group(4)
        suffix = f"-{int(sub)}" if sub else ""
        tok = Token("door", p, m.end(), m.group(0), value={"number": number, "suffix": suffix})
        out.append((tok, len(tok.text) + 1.0))
    if has_door_or_place and st.stage < 3 and (m := _BUILDING.match(text, p)):
        number = m.group(1) or m.group(2)
        tok = Token("building", p, m.end(), m.group(0), value={"number": number})
        out.append((tok, len(tok.text) + 0.5))
    if st.stage in (2, 3) and (m := _UNIT.match(text, p)):
        out.append((Token("unit", p, m.end(), m.group(0), value={"number": m.group(1)}), len(m.group(0))))
    if 2 <= st.stage < 5 and (m := _FLOOR.match(text, p)):
        out.append((Token("floor", p, m.end(), m.group(0), value={"number": m.group(1)}), len(m.group(0))))
    if 2 <= st.stage < 6 and (m := _ROOM.match(text, p)):
        out.append(
            (
                Token("room", p, m.end(), m.group(0), value={"number": m.group(1) or m.group(2)}),
                len(m.group(0)),
            )
        )
    if st.stage >= 1 and (m := _OFFSET.match(text, p)):
        metres = float(m.group(2)) * (1000 if m.group(3) in ("公里", "KM") else 1)
        dx, dy = _DIRECTIONS[m.group(1)]
        tok = Token("offset", p, m.end(), m.group(0), value={"dx": dx * metres, "dy": dy * metres})
        out.append((tok, len(tok.text)))
    if m := _CONNECTOR.match(text, p):
        out.append((Token("connector", p, m.end(), m.group(0)), 0.0))
    if st.road is None and st.stage < 2 and (m := _UNKNOWN_ROAD.match(text, p)):
        out.append((Token("unknown_road", p, m.end(), m.group(0)), 0.6 * len(m.group(0))))
    return out


def _expand(st: State, text: str, gaz: Gazetteer, visible: Visible | None) -> list[State]:
    p = st.pos
    n = len(text)
    out: list[State] = []
    longest_exact = 0
    for length in range(min(gaz.max_len, n - p), 1, -1):
        entries = gaz.names.get(text[p : p + length])
        if not entries:
            continue
        matched = [(e, w) for e, w in entries if fits(st, e, visible)]
        if st.ctx is None and len(matched) > 8:
            # a name found all over the country with no context (新华, 城关镇): only high levels
            matched = [(e, w) for e, w in matched if e.kind == Kind.REGION and e.level <= 3]
        for e, w in matched:
            tok = Token(e.kind, p, p + length, text[p : p + length], e, w)
            out.append(_entity_state(st, tok, _gain(e, length, w)))
        if not matched and length >= 3 and st.ctx is not None and st.stage == 0:
            # a full region name that does not nest in the context (江阳区小市街道): read as a
            # contradiction, not as noise — the answer stays at the context, with less confidence
            e = next((e for e, w in entries if e.kind == Kind.REGION and w == 1.0 and e.level >= 3), None)
            if e is not None:
                tok = Token("conflict", p, p + length, text[p : p + length], None, value={"name": e.name})
                out.append(_with(st, tok, 0.0))
        if matched:
            longest_exact = max(longest_exact, length)
    # a typo is looked for where no name of three or more characters starts, after a name or at the start
    if longest_exact < 3 and (not st.tokens or st.tokens[-1].entity is not None):
        for tok, gain in _fuzzy_tokens(st, text, gaz, visible):
            out.append(_entity_state(st, tok, gain))
    for tok, gain in _regex_tokens(st, text):
        if tok.kind in ("door", "building", "unit", "floor", "room"):
            stage = {"door": 2, "building": 3, "unit": 4, "floor": 5, "room": 6}[tok.kind]
            out.append(_with(st, tok, gain, stage=stage))
        elif tok.kind == "unknown_road":
            out.append(_with(st, tok, gain, stage=1))
        else:
            out.append(_with(st, tok, gain))
    skip = Token("skip", p, p + 1, text[p])
    skipped = _with(st, skip, -SKIP_COST)
    skipped.skipped += 1
    out.append(skipped)
    return out


def parse(
    text: str, gaz: Gazetteer, *, context: Entity | None = None, visible: Visible | None = None
) -> Parse:
    """Segment normalized ``text``; ``context`` is a region the address is known to lie in."""
    n = len(text)
    frontier: dict[int, list[State]] = {0: [State(ctx=context)]}
    done: list[State] = []
    for pos in range(n + 1):
        states = frontier.pop(pos, [])
        if not states:
            continue
        states.sort(key=lambda s: -s.score)
        kept, seen = [], set()
        for s in states:
            k = s.key()
            if k in seen:
                continue
            seen.add(k)
            kept.append(s)
            if len(kept) >= BEAM:
                break
        if pos == n:
            done = kept
            break
        for st in kept:
            for new in _expand(st, text, gaz, visible):
                frontier.setdefault(new.pos, []).append(new)
    if not done:
        done = [State(ctx=context)]
    best = done[0].score
    return Parse(text=text, best=[s for s in done if s.score >= best - 1e-9])
