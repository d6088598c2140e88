"""Writing events by the hundred thousand (批量写入): the demo city at scale, loads of history.

One call places every point with the in-process locator
(:func:`gis_core.selectors.locate.locate_points_raw`: the same subdivided parts and the
same tie rule as :func:`~gis_core.selectors.locate.locate_point`, which
:func:`events.services.reporting.event_report` uses), so each event stores the same unit
grid and region chain (community, street, district) as if it had been reported alone.
The deadlines of every step come from :mod:`events.worktime` (the working calendar as
arrays, exact to the microsecond against :mod:`events.workdays`), and each event gets
the transitions of its way through the flow (:data:`events.flow.PATH_TO`) with the
fields the statistics read: who it was dispatched to, when each step began and was due.

Rows are written with binary ``COPY`` (psycopg 3), one transaction per chunk: ORM
inserts run at a few thousand rows a second, COPY at tens of thousands. Everything
is checked before the first row is written — an unknown category, a bad state or
source, a point outside every grid, times out of order, a merge without its
original are each :class:`~gis_core.errors.InvalidInput` and nothing is written. A
failure of the database itself halfway (a full disk) keeps the chunks committed
before it, each of them whole.

This is a system operation (demo, import), not a caller's report: there is no
jurisdiction check, no client id, no attachments, no duplicate search, no maximum
age of a report (history may be years old), and no notifications — the escalation
sweep (:func:`events.services.escalation.events_escalate`) picks up overdue events
as it does any others.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import logging
import struct
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
from django.db import connection, transaction
from django.utils import timezone

from gis_core.errors import InvalidInput
from gis_core.selectors.density import EARTH_R, MAX_LAT
from gis_core.selectors.locate import locate_points_raw

from .. import flow
from ..models import (
    CELL_M,
    WIDE_CELL_M,
    Department,
    Event,
    EventCategory,
    EventCell,
    EventCellTotal,
    EventClassCell,
    EventClassDayCell,
    EventDayCell,
    EventFineCell,
    EventSource,
    EventState,
    EventTransition,
)
from ..selectors.calendar import work_calendar
from ..selectors.events import most_local_department
from ..worktime import US, WorkTable, limit_us, to_us
from .clock import step_limit
from .reporting import CLOCK_SKEW

__all__ = ["BulkEvents", "BulkResult", "events_bulk_create", "events_load_mode"]

log = logging.getLogger(__name__)

#: the tables of event counts the cells trigger keeps (migrations 0009-0013)
CELL_TABLES = (EventCell, EventCellTotal, EventFineCell, EventDayCell, EventClassCell, EventClassDayCell)

NULL = np.iinfo(np.int64).min  # a missing moment in the int64 microsecond columns
PG_EPOCH_US = 946_684_800 * US  # PostgreSQL counts timestamps from 2000-01-01 UTC
STATES = list(EventState.values)
MAX_PATH = max(len(p) for p in flow.PATH_TO.values())
NOTE_MAX = 200
DESCRIPTION_MAX = 2000
EVENT_COLUMNS = (
    ("id", "int8"), ("kind", "text"), ("category_id", "int8"), ("description", "text"),
    ("geom", "bytea"), ("grid_code", "text"), ("region_code", "text"), ("street_code", "text"),
    ("district_code", "text"), ("address", "text"), ("source", "text"), ("component_code", "text"),
    ("state", "text"), ("resume_state", "text"), ("department_id", "int8"), ("reported_at", "int8"),
    ("step_started_at", "int8"), ("warn_at", "int8"), ("due_at", "int8"), ("escalate_at", "int8"),
    ("spent_s", "float8"), ("escalation_level", "int2"), ("closed_at", "int8"),
    ("duplicate_of_id", "int8"), ("created_at", "int8"), ("updated_at", "int8"),
)  # fmt: skip
TRANSITION_COLUMNS = (
    ("event_id", "int8"), ("from_state", "text"), ("to_state", "text"), ("action", "text"),
    ("actor", "text"), ("note", "text"), ("at", "int8"), ("department_id", "int8"),
    ("step_due_at", "int8"), ("step_started_at", "int8"),
)  # fmt: skip
# A point as EWKB (little-endian, type Point | SRID flag, SRID 4326, x, y): 25 bytes.
_EWKB = np.dtype([("order", "u1"), ("type", "<u4"), ("srid", "<u4"), ("x", "<f8"), ("y", "<f8")])
_EWKB_HEAD = struct.unpack("<I", struct.pack("<I", 0x20000001))[0]


@dataclass(frozen=True)
class BulkEvents:
    """Events to write, as columns (one entry per event).

    ``action_at[i]`` holds the times of the actions of ``flow.PATH_TO[state[i]]`` in
    order (entries past the path are ignored); ``duplicate_of[i]`` is, for a merged
    event, the row of its original (an earlier row of the same call), else -1.
    Times are ``datetime64`` in UTC (or aware datetimes).
    """

    lon: np.ndarray
    lat: np.ndarray
    category: np.ndarray  # codes of minor classes
    state: np.ndarray  # the state each event has reached
    reported_at: np.ndarray
    action_at: np.ndarray | None = None  # shape (n, k), k ≥ the longest path among the rows
    source: np.ndarray | str = EventSource.FIELD
    description: np.ndarray | str | None = None  # default: the category's name
    duplicate_of: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.lon)

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping]) -> BulkEvents:
        """From dicts with ``lon``, ``lat``, ``category``, ``state``, ``reported_at`` (aware
        datetimes) and optionally ``action_at`` (a list), ``source``, ``description``,
        ``duplicate_of`` — convenient for a few rows; use columns for many."""
        rows = list(rows)
        times = [[_moment(t) for t in r.get("action_at") or ()] for r in rows]
        width = max((len(t) for t in times), default=0)
        action_at = np.full((len(rows), width), NULL, dtype=np.int64)
        for i, t in enumerate(times):
            action_at[i, : len(t)] = t
        return cls(
            lon=np.array([r["lon"] for r in rows], dtype=float),
            lat=np.array([r["lat"] for r in rows], dtype=float),
            category=np.array([r["category"] for r in rows], dtype=object),
            state=np.array([r["state"] for r in rows], dtype=object),
            reported_at=np.array([_moment(r["reported_at"]) for r in rows], dtype=np.int64).astype(
                "datetime64[us]"
            ),
            action_at=action_at.astype("datetime64[us]"),
            source=np.array([r.get("source", EventSource.FIELD) for r in rows], dtype=object),
            description=np.array([r.get("description") or "" for r in rows], dtype=object),
            duplicate_of=np.array([r.get("duplicate_of", -1) for r in rows], dtype=np.int64),
        )


@dataclass(frozen=True)
class BulkResult:
    created: int
    transitions: int
    ids: np.ndarray = field(repr=False)  # the new events' ids, in row order
    seconds: float  # the whole call: checks, point location, deadlines and COPY

    @property
    def per_second(self) -> float:
        return self.created / self.seconds if self.seconds else 0.0


def _moment(value) -> int:
    if isinstance(value, dt.datetime):
        return to_us(value)
    raise InvalidInput(f"时间应为带时区的 datetime，实际为 {value!r}")


def _us(values, name: str) -> np.ndarray:
    """datetime64 (UTC) or aware datetimes → int64 microseconds, NULL for NaT/None."""
    arr = np.asarray(values)
    if np.issubdtype(arr.dtype, np.datetime64):
        out = arr.astype("datetime64[us]").astype(np.int64)
        return np.where(np.isnat(arr), NULL, out)
    if arr.dtype == np.int64:
        return arr
    try:
        flat = [NULL if v is None else to_us(v) for v in arr.ravel().tolist()]
    except (AttributeError, TypeError, ValueError):
        raise InvalidInput(f"{name} 应为带时区的时间", details={"field": name}) from None
    return np.array(flat, dtype=np.int64).reshape(arr.shape)


def _column(value, n: int, name: str) -> np.ndarray:
    arr = np.full(n, value, dtype=object) if isinstance(value, str) else np.asarray(value, dtype=object)
    if arr.shape != (n,):
        raise InvalidInput(f"{name} 的长度应为 {n}", details={"field": name})
    return arr


def _rows(mask: np.ndarray, limit: int = 10) -> list[int]:
    return np.flatnonzero(mask)[:limit].tolist()


# ------------------------------------------------------------------ lookups done once per call


@dataclass(frozen=True)
class _Categories:
    codes: list[str]
    id: np.ndarray
    kind: np.ndarray  # object
    name: np.ndarray  # object
    department_name: list[str]
    total_us: np.ndarray  # (category, state) → limit of the step the state waits for, 0: none
    working: np.ndarray  # (category, state) → counted in working time (d, h) rather than clock hours


def _categories(codes: np.ndarray, calendar) -> tuple[_Categories, np.ndarray]:
    """The minor classes named, and each row's index into them (unknown or inactive → 400)."""
    wanted, inverse = np.unique(codes.astype(str), return_inverse=True)
    found = {
        c.code: c
        for c in EventCategory.objects.filter(code__in=wanted.tolist(), active=True, parent__isnull=False)
        .select_related("parent")
    }  # fmt: skip
    unknown = [c for c in wanted.tolist() if c not in found]
    if unknown:
        raise InvalidInput(
            f"事件小类“{'、'.join(unknown[:5])}”不存在或未启用（请用 /api/v1/event-categories 中的小类编码）",
            code="unknown_category",
            details={"category": unknown[:20]},
        )
    cats = [found[c] for c in wanted.tolist()]
    total = np.zeros((len(cats), len(STATES)), dtype=np.int64)
    working = np.zeros((len(cats), len(STATES)), dtype=bool)
    for ci, category in enumerate(cats):
        for si, state in enumerate(STATES):
            if (limit := step_limit(category, state)) is not None:
                total[ci, si] = limit_us(limit, calendar)
                working[ci, si] = limit.working
    table = _Categories(
        codes=[c.code for c in cats],
        id=np.array([c.pk for c in cats], dtype=np.int64),
        kind=np.array([c.kind for c in cats], dtype=object),
        name=np.array([c.name for c in cats], dtype=object),
        department_name=[c.department_name or (c.parent and c.parent.department_name) or "" for c in cats],
        total_us=total,
        working=working,
    )
    return table, inverse


def _places(lon: np.ndarray, lat: np.ndarray) -> dict[str, np.ndarray]:
    """Grid and region chain of every point, as ``event_report`` stores them (400 outside every grid)."""
    if not (np.all(np.isfinite(lon)) and np.all(np.isfinite(lat))):
        bad = ~(np.isfinite(lon) & np.isfinite(lat))
        raise InvalidInput("坐标无效（非数值）", details={"rows": _rows(bad)})
    index, best = locate_points_raw(lon, lat)
    inside = best >= 0
    inside[inside] = index.is_grid[best[inside]]
    if not inside.all():
        raise InvalidInput(
            f"{int((~inside).sum())} 个位置不在任何单元网格内（超出服务范围）",
            code="outside_service_area",
            details={"rows": _rows(~inside)},
        )
    grid = index.code[best]
    community, chain_of = np.unique(index.region_code[best].astype(str), return_inverse=True)
    levels = {3: [], 4: [], 5: []}
    for code in community.tolist():
        chain = index.chains.get(code, ())
        for level, out in levels.items():
            out.append(next((r["code"] for r in chain if r["level"] == level), ""))
    region = np.array(levels[5], dtype=object)[chain_of]
    # as event_report: a grid whose community is not on record keeps its own first 12 digits
    blank = region == ""
    region[blank] = np.array([g[:12] for g in grid[blank].tolist()], dtype=object)
    return {
        "grid_code": grid,
        "region_code": region,
        "street_code": np.array(levels[4], dtype=object)[chain_of],
        "district_code": np.array(levels[3], dtype=object)[chain_of],
    }


def _departments(
    cats: _Categories, cat_index: np.ndarray, region: np.ndarray, needed: np.ndarray
) -> np.ndarray:
    """The department a row is dispatched to, 0 where none is needed: the category's default
    department, the most local one whose region contains the event — the rule of
    ``lifecycle._department`` without a department named (grid bindings are not consulted: bulk
    loads are for history and benchmarks), resolved once per (category, community) from one read
    of the departments."""
    by_name: dict[str, list[tuple[str, int]]] = {}
    for pk, name, code in Department.objects.filter(active=True).values_list("pk", "name", "region_code"):
        by_name.setdefault(name, []).append((code, pk))
    out = np.zeros(len(region), dtype=np.int64)
    rows = np.flatnonzero(needed)
    if not len(rows):
        return out
    keys = np.char.add(cat_index[rows].astype(str), np.char.add(":", region[rows].astype(str)))
    unique, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    resolved = np.zeros(len(unique), dtype=np.int64)
    for k, row in enumerate(rows[first].tolist()):
        name = cats.department_name[cat_index[row]]
        resolved[k] = most_local_department(by_name.get(name, ()), region[row]) or 0
    if not resolved.all():
        missing = rows[first[resolved == 0]]
        raise InvalidInput(
            "请先建立处置部门：有的事件所在区域没有该分类的默认处置部门，无法派遣",
            code="no_department",
            details={
                "rows": missing[:10].tolist(),
                "category": sorted({cats.codes[cat_index[r]] for r in missing.tolist()}),
            },
        )
    out[rows] = resolved[inverse]
    return out


# ------------------------------------------------------------------ the plan: every column, before writing


@dataclass
class _Plan:
    n: int
    now_us: int  # created_at, updated_at
    ewkb: bytes
    events: dict[str, np.ndarray]
    transitions: dict[str, np.ndarray]
    offsets: np.ndarray  # transitions of event i: offsets[i]:offsets[i + 1]
    duplicate_of: np.ndarray  # row index of the original, -1
    merge_note: np.ndarray  # the row's merge transition, -1


def _path_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per state (index into STATES), the report plus the actions of PATH_TO and the states
    passed: lengths, actions, from/to states (indices into STATES, -1 for the report's from),
    where the event is dispatched (step number, or a large number) and the resume state."""
    length = np.zeros(len(STATES), dtype=np.int64)
    actions = np.full((len(STATES), MAX_PATH + 1), "", dtype=object)
    source = np.full((len(STATES), MAX_PATH + 1), -1, dtype=np.int64)
    target = np.full((len(STATES), MAX_PATH + 1), -1, dtype=np.int64)
    dispatched = np.full(len(STATES), MAX_PATH + 1, dtype=np.int64)
    resume = np.full(len(STATES), -1, dtype=np.int64)
    for si, state in enumerate(STATES):
        path = flow.PATH_TO[state]
        passed = flow.states_along(path)
        length[si] = len(path)
        actions[si, : len(path) + 1] = ["report", *path]
        source[si, 1 : len(path) + 1] = [STATES.index(s) for s in passed[:-1]]
        target[si, : len(path) + 1] = [STATES.index(s) for s in passed]
        if "dispatch" in path:
            dispatched[si] = path.index("dispatch") + 1
        if state == "suspended":
            resume[si] = STATES.index(passed[-2])
    return length, actions, source, target, dispatched, resume


def _plan(rows: BulkEvents, *, now: dt.datetime, actor: str, note: str) -> _Plan:
    n = len(rows)
    if n == 0:
        raise InvalidInput("没有要写入的事件")
    lon, lat = np.asarray(rows.lon, dtype=float), np.asarray(rows.lat, dtype=float)
    if lon.shape != (n,) or lat.shape != (n,):
        raise InvalidInput("lon 与 lat 的长度应相同")
    calendar = work_calendar()
    cats, cat_index = _categories(_column(rows.category, n, "category"), calendar)

    state = _column(rows.state, n, "state")
    bad = ~np.isin(state, STATES)
    if bad.any():
        raise InvalidInput(
            f"state 应为 {'、'.join(STATES)}", details={"rows": _rows(bad), "state": str(state[bad][0])}
        )
    order = np.argsort(np.array(STATES))  # STATES is not sorted: map through the sorted order
    state_index = order[np.searchsorted(np.array(STATES)[order], state.astype(str))]
    source = _column(rows.source, n, "source")
    bad = ~np.isin(source, EventSource.values)
    if bad.any():
        raise InvalidInput(
            f"来源 source 应为 {' / '.join(EventSource.values)}",
            details={"rows": _rows(bad), "source": str(source[bad][0])},
        )
    if rows.description is None:
        description = cats.name[cat_index]
    else:
        description = np.array([str(d or "").strip() for d in _column(rows.description, n, "description")])
        description = np.where(description == "", cats.name[cat_index], description).astype(object)
        bad = np.array([len(d) > DESCRIPTION_MAX for d in description.tolist()])
        if bad.any():
            raise InvalidInput(f"事件描述过长（上限 {DESCRIPTION_MAX} 字）", details={"rows": _rows(bad)})

    # the times of each row: the report, then one per action of its path
    length, actions, from_state, to_state, dispatch_step, resume = _path_tables()
    path_len = length[state_index]
    times = np.full((n, MAX_PATH + 1), NULL, dtype=np.int64)
    times[:, 0] = _us(rows.reported_at, "reported_at")
    if path_len.max() > 0:
        if rows.action_at is None:
            raise InvalidInput(
                "缺少 action_at：已流转的事件需给出各步操作时间", details={"field": "action_at"}
            )
        given = _us(rows.action_at, "action_at")
        if given.ndim != 2 or given.shape[0] != n or given.shape[1] < path_len.max():
            raise InvalidInput(
                f"action_at 的形状应为 ({n}, ≥{int(path_len.max())})", details={"field": "action_at"}
            )
        times[:, 1:] = NULL
        width = min(given.shape[1], MAX_PATH)
        times[:, 1 : width + 1] = given[:, :width]
    used = np.arange(MAX_PATH + 1)[None, :] <= path_len[:, None]
    if np.any((times == NULL) & used):
        raise InvalidInput(
            "上报时间或操作时间缺失", details={"rows": _rows(((times == NULL) & used).any(axis=1))}
        )
    steps = used[:, 1:] & (times[:, 1:] < times[:, :-1])
    if steps.any():
        raise InvalidInput("操作时间应不早于上一步的时间", details={"rows": _rows(steps.any(axis=1))})
    last = times[np.arange(n), path_len]
    latest = to_us(now + CLOCK_SKEW)
    if np.any(last > latest):
        raise InvalidInput("上报或操作时间不能晚于当前时间", details={"rows": _rows(last > latest)})

    # merges: each names an earlier row, still open at the time
    merged = state == "merged"
    duplicate_of = (
        np.full(n, -1, dtype=np.int64)
        if rows.duplicate_of is None
        else np.asarray(rows.duplicate_of, dtype=np.int64)
    )
    if duplicate_of.shape != (n,):
        raise InvalidInput(f"duplicate_of 的长度应为 {n}", details={"field": "duplicate_of"})
    rowno = np.arange(n)
    bad = merged & ~((duplicate_of >= 0) & (duplicate_of < rowno))
    bad |= ~merged & (duplicate_of != -1)
    if bad.any():
        raise InvalidInput(
            "已合并的事件应给出原事件所在的行（之前的一行），其他事件不应给出", details={"rows": _rows(bad)}
        )
    orig = np.where(merged, duplicate_of, 0)
    bad = merged & (
        np.isin(state[orig], ["merged", "invalid"]) | (times[orig, 0] > last) | (cat_index[orig] != cat_index)
    )
    if bad.any():
        raise InvalidInput(
            "合并的原事件应为同一小类、更早上报、且未作废或合并的事件", details={"rows": _rows(bad)}
        )

    places = _places(lon, lat)
    dispatched = dispatch_step[state_index] <= path_len
    department = _departments(cats, cat_index, places["region_code"], dispatched)

    # deadlines: of the step each transition ended, and of the step an open event waits in
    span = int(cats.total_us.max()) * 2 if cats.total_us.size else 0
    table = WorkTable.covering(calendar, int(times[:, 0].min()), int(last.max()), span)
    ev_t, m_t = np.nonzero(used)  # transitions in event order, then step order
    offsets = np.concatenate([[0], np.cumsum(path_len + 1)])
    prev = np.where(m_t > 0, times[ev_t, np.maximum(m_t - 1, 0)], NULL)
    from_t = from_state[state_index[ev_t], m_t]
    has_limit = (m_t > 0) & (cats.total_us[cat_index[ev_t], np.maximum(from_t, 0)] > 0)
    step_due = np.full(len(ev_t), NULL, dtype=np.int64)
    if has_limit.any():
        c, s = cat_index[ev_t[has_limit]], from_t[has_limit]
        step_due[has_limit] = table.advance(prev[has_limit], cats.total_us[c, s], cats.working[c, s])

    final = state_index
    is_open = ~np.isin(state, sorted(flow.TERMINAL_STATES))
    suspended = state == "suspended"
    started = last.copy()  # clock_start: the step starts now; a terminal state keeps the moment too
    started[suspended] = times[rowno, np.maximum(path_len - 1, 0)][suspended]  # clock_stop keeps it
    warn, due, escalate = (np.full(n, NULL, dtype=np.int64) for _ in range(3))
    clocked = is_open & ~suspended & (cats.total_us[cat_index, final] > 0)
    if clocked.any():
        c, s = cat_index[clocked], final[clocked]
        warn[clocked], due[clocked], escalate[clocked] = table.step_clocks(
            last[clocked], cats.total_us[c, s], cats.working[c, s]
        )
    spent = np.full(n, np.nan)
    resume_state = np.full(n, "", dtype=object)
    if suspended.any():
        rs = resume[final[suspended]]
        resume_state[suspended] = np.array(STATES, dtype=object)[rs]
        c = cat_index[suspended]
        limited = cats.total_us[c, rs] > 0
        work = cats.working[c, rs]
        begun, stopped = started[suspended], last[suspended]
        used_us = np.where(work, 0, stopped - begun)
        if work.any():
            used_us[work] = table.elapsed(begun[work], stopped[work])
        spent[suspended] = np.where(limited, np.maximum(used_us, 0) / US, np.nan)

    events = {
        "kind": cats.kind[cat_index],
        "category_id": cats.id[cat_index],
        "description": description,
        **places,
        "source": source,
        "state": state,
        "resume_state": resume_state,
        "department_id": np.where(dispatched, department, NULL),
        "reported_at": times[:, 0],
        "step_started_at": started,
        "warn_at": warn,
        "due_at": due,
        "escalate_at": escalate,
        "spent_s": spent,
        "closed_at": np.where(is_open, NULL, last),
    }
    action_t = actions[state_index[ev_t], m_t]
    notes = np.full(len(ev_t), note[:NOTE_MAX], dtype=object)
    report = m_t == 0
    notes[report] = np.array([d[:NOTE_MAX] for d in description[ev_t[report]].tolist()], dtype=object)
    state_names = np.array(["", *STATES], dtype=object)
    transitions = {
        "from_state": state_names[from_t + 1],
        "to_state": state_names[to_state[state_index[ev_t], m_t] + 1],
        "action": action_t,
        "actor": np.full(len(ev_t), actor, dtype=object),
        "note": notes,
        "at": times[ev_t, m_t],
        "department_id": np.where(m_t >= dispatch_step[state_index[ev_t]], department[ev_t], NULL),
        "step_due_at": step_due,
        "step_started_at": prev,
    }
    merge_note = np.full(n, -1, dtype=np.int64)
    merge_note[merged] = offsets[:-1][merged] + path_len[merged]
    ewkb = np.empty(n, dtype=_EWKB)
    ewkb["order"], ewkb["type"], ewkb["srid"], ewkb["x"], ewkb["y"] = 1, _EWKB_HEAD, 4326, lon, lat
    return _Plan(n, to_us(now), ewkb.tobytes(), events, transitions, offsets, duplicate_of, merge_note)


# ------------------------------------------------------------------ COPY


def _nullable(values: np.ndarray, null=NULL) -> list:
    """int64 column → Python list, None where ``null``."""
    out = values.astype(object)
    out[values == null] = None
    return out.tolist()


def _moments(values: np.ndarray) -> list:
    # Binary COPY carries no type per field: a timestamptz is the int64 count of microseconds
    # since 2000-01-01 UTC, so it is sent as an int8 (no datetime object per value).
    return _nullable(np.where(values == NULL, NULL, values - PG_EPOCH_US))


def _copy(cursor, table: str, columns, rows: Iterable[tuple]) -> None:
    names = ", ".join(name for name, _ in columns)
    with cursor.copy(f"COPY {table} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types([kind for _, kind in columns])
        for row in rows:
            copy.write_row(row)


def _allocate_ids(n: int) -> np.ndarray:
    """``n`` new event ids from the table's own sequence (taken even if the write fails)."""
    with connection.cursor() as cursor:
        # the sequence named once: pg_get_serial_sequence per row would read the catalogue n times
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [Event._meta.db_table])
        (sequence,) = cursor.fetchone()
        cursor.execute("SELECT nextval(%s::regclass) FROM generate_series(1, %s)", [sequence, n])
        return np.sort(np.fromiter((r[0] for r in cursor.fetchall()), dtype=np.int64, count=n))


def _write_chunk(plan: _Plan, sel: np.ndarray, ids: np.ndarray) -> int:
    """COPY the rows ``sel`` (ascending row numbers) and their transitions; call inside a transaction."""
    e, n, size = plan.events, len(sel), _EWKB.itemsize
    now = plan.now_us - PG_EPOCH_US
    dup = plan.duplicate_of[sel]
    geoms = np.frombuffer(plan.ewkb, dtype=f"V{size}")[sel].tobytes()
    spent = e["spent_s"][sel].astype(object)
    spent[np.isnan(e["spent_s"][sel])] = None
    events = [
        ids[sel].tolist(),
        e["kind"][sel].tolist(),
        e["category_id"][sel].tolist(),
        e["description"][sel].tolist(),
        [geoms[i : i + size] for i in range(0, n * size, size)],
        e["grid_code"][sel].tolist(),
        e["region_code"][sel].tolist(),
        e["street_code"][sel].tolist(),
        e["district_code"][sel].tolist(),
        [""] * n,
        e["source"][sel].tolist(),
        [""] * n,
        e["state"][sel].tolist(),
        e["resume_state"][sel].tolist(),
        _nullable(e["department_id"][sel]),
        _moments(e["reported_at"][sel]),
        _moments(e["step_started_at"][sel]),
        _moments(e["warn_at"][sel]),
        _moments(e["due_at"][sel]),
        _moments(e["escalate_at"][sel]),
        spent.tolist(),
        [0] * n,
        _moments(e["closed_at"][sel]),
        _nullable(np.where(dup >= 0, ids[np.maximum(dup, 0)], NULL)),
        [now] * n,
        [now] * n,
    ]
    # the transitions of the selected rows: offsets[i]:offsets[i + 1] for each i in sel, in sel's order
    counts = plan.offsets[sel + 1] - plan.offsets[sel]
    starts = np.cumsum(counts) - counts  # where each selected row's transitions begin in k
    k = np.repeat(plan.offsets[sel], counts) + np.arange(int(counts.sum())) - np.repeat(starts, counts)
    t = plan.transitions
    notes = t["note"][k]
    for at, row in zip(starts.tolist(), sel.tolist(), strict=True):
        if plan.merge_note[row] >= 0:
            at += int(plan.merge_note[row] - plan.offsets[row])
            notes[at] = f"合并到事件 {ids[plan.duplicate_of[row]]}：{notes[at]}"
    transitions = [
        np.repeat(ids[sel], counts).tolist(),
        t["from_state"][k].tolist(),
        t["to_state"][k].tolist(),
        t["action"][k].tolist(),
        t["actor"][k].tolist(),
        notes.tolist(),
        _moments(t["at"][k]),
        _nullable(t["department_id"][k]),
        _moments(t["step_due_at"][k]),
        _moments(t["step_started_at"][k]),
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        _copy(cursor, Event._meta.db_table, EVENT_COLUMNS, zip(*events, strict=True))
        _copy(cursor, EventTransition._meta.db_table, TRANSITION_COLUMNS, zip(*transitions, strict=True))
    return len(k)


def _spatial_order(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows along a Hilbert curve through the widest heatmap cells (geopandas, 2^16 steps a
    side; ``EventDayCell``: four ``CELL_M`` cells a side), and each row's widest cell.

    Written in this order, the events of one neighbourhood share heap pages: a range
    count reads a few runs of pages per chunk instead of one page per event (rows in
    report order put neighbours a whole table apart). The rows of a widest cell stay
    together (the finer cells nest in it), so chunks cut between them never add to the
    same cell rows at once: chunks written side by side do not wait on each other's locks
    (a cell row upserted by one chunk's trigger stays locked until that chunk commits)."""
    import geopandas as gpd

    x = np.radians(lon) * EARTH_R
    y = np.log(np.tan(np.pi / 4 + np.radians(np.clip(lat, -MAX_LAT, MAX_LAT)) / 2)) * EARTH_R
    i, j = np.floor(x / WIDE_CELL_M).astype(np.int64), np.floor(y / WIDE_CELL_M).astype(np.int64)
    curve = gpd.GeoSeries(gpd.points_from_xy(i, j)).hilbert_distance(level=16).to_numpy()
    cell = (i << 32) + (j & 0xFFFFFFFF)
    ci, cj = np.floor(x / CELL_M).astype(np.int64), np.floor(y / CELL_M).astype(np.int64)
    within = (ci << 32) + (cj & 0xFFFFFFFF)  # the finer cells, together inside a widest one
    return np.lexsort((within, cell, curve)), cell


def _chunks(
    plan: _Plan, order: np.ndarray, cell: np.ndarray, chunk_size: int
) -> tuple[list[np.ndarray], np.ndarray]:
    """Row selections, one per transaction, in the order ``order``, cut after about
    ``chunk_size`` rows where the cell changes, and the rows to write last: a merged row
    whose original is in another chunk is written after its original is committed
    (chunks may be written side by side)."""
    in_order = cell[order]
    change = np.flatnonzero(in_order[1:] != in_order[:-1]) + 1  # where a new cell begins
    cuts, at = [0], chunk_size
    while at < plan.n:
        k = np.searchsorted(change, at)
        at = int(change[k]) if k < len(change) else plan.n
        if at < plan.n:
            cuts.append(at)
        at += chunk_size
    cuts.append(plan.n)
    chunk = np.empty(plan.n, dtype=np.int64)
    for c, (lo, hi) in enumerate(itertools.pairwise(cuts)):
        chunk[order[lo:hi]] = c
    late = np.zeros(plan.n, dtype=bool)
    merged = plan.duplicate_of >= 0
    late[merged] = chunk[plan.duplicate_of[merged]] != chunk[merged]
    body = [order[lo:hi][~late[order[lo:hi]]] for lo, hi in itertools.pairwise(cuts)]
    return [c for c in body if len(c)], np.flatnonzero(late)


def _write_apart(
    plan: _Plan, chunks: list[np.ndarray], late: np.ndarray, ids: np.ndarray, workers: int
) -> int:
    """Chunks on ``workers`` connections at once, then the late rows. The server's work per
    row — index entries, foreign-key checks — is most of the cost, and a backend uses one core."""
    from concurrent.futures import ThreadPoolExecutor

    def write(sel: np.ndarray) -> int:
        try:
            return _write_chunk(plan, sel, ids)
        finally:
            connection.close()  # each thread has its own connection

    with ThreadPoolExecutor(workers) as pool:
        written = sum(pool.map(write, chunks))
    return written + (_write_chunk(plan, late, ids) if len(late) else 0)


_SECONDARY = """
    SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i
    WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary AND NOT i.indisunique
      AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
    ORDER BY 1"""
_FOREIGN = """
    SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
    WHERE contype = 'f' AND conrelid = ANY(%s::regclass[]) ORDER BY 1, 2"""


@contextlib.contextmanager
def events_load_mode() -> Iterator[None]:
    """For a load as large as the tables already are (the demo city's millions): the
    secondary indexes of events and transitions are dropped for the load and rebuilt after
    it (even when it fails), each in one pass.

    Keeping them costs more than the COPY itself: per row an entry in each index
    (BENCHMARKS.md, "Events"). Unique indexes (primary keys, client ids) stay: they keep
    the rules. The references of events and transitions are statement triggers (migration
    0012), which stay and check each chunk; a foreign key declared on the two tables (none
    since 0012; a deployment may add one) is dropped too and validated again, every row in
    one join, when it is rebuilt. The heatmap cells (:data:`CELL_TABLES`),
    updated once per chunk, are rewritten compactly at the end (``CLUSTER``). Takes an exclusive
    lock on the tables while dropping and rebuilding: a maintenance operation, not for a live
    system's busy hours.
    """
    tables = [Event._meta.db_table, EventTransition._meta.db_table]
    with connection.cursor() as cursor:
        cursor.execute(_SECONDARY, [tables])
        indexes = cursor.fetchall()
        cursor.execute(_FOREIGN, [tables])
        keys = cursor.fetchall()
        rebuild = [ddl for _, ddl in indexes] + [
            f'ALTER TABLE {t} ADD CONSTRAINT "{n}" {d}' for t, n, d in keys
        ]
        log.warning("load mode: secondary indexes dropped; if the load dies: %s", "; ".join(rebuild))
        for table, name, _ in keys:
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _ in indexes:
            cursor.execute(f"DROP INDEX {name}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for ddl in rebuild:
                cursor.execute(ddl)
            # the load updated each heatmap cell once per chunk: rewrite them compactly, in cell
            # order (the heatmap reads the whole table, a tile a range of its key)
            for cells in CELL_TABLES:  # keyed by their cells (0009)
                cursor.execute(f"CLUSTER {cells._meta.db_table} USING {cells._meta.db_table}_pkey")


def events_bulk_create(
    rows: BulkEvents,
    *,
    actor: str = "system:bulk",
    note: str = "批量写入",
    chunk_size: int = 50_000,
    workers: int = 1,
    now: dt.datetime | None = None,
) -> BulkResult:
    """Write ``rows`` with their grid, region chain, deadlines and transitions; returns the ids.

    ``actor`` and ``note`` are recorded on every transition after the report (whose note
    is the description, as for a single report). Checks everything first (400, nothing
    written), then writes ``chunk_size`` events per transaction, on ``workers``
    connections side by side — only outside a transaction (inside one, every chunk is
    written on the caller's connection, so the caller's rollback undoes them all).
    """
    started = time.perf_counter()
    now = now or timezone.now()
    if not actor or len(actor) > 150:
        raise InvalidInput("actor 应为 1–150 个字符", details={"actor": actor})
    if chunk_size < 1 or workers < 1:
        raise InvalidInput("chunk_size 与 workers 应为正整数", details={"chunk_size": chunk_size})
    plan = _plan(rows, now=now, actor=actor, note=note.strip() or "批量写入")
    ids = _allocate_ids(plan.n)
    apart = workers > 1 and not connection.in_atomic_block and plan.n > chunk_size
    order, cell = _spatial_order(np.asarray(rows.lon, dtype=float), np.asarray(rows.lat, dtype=float))
    chunks, late = _chunks(plan, order, cell, chunk_size)
    if apart:
        transitions = _write_apart(plan, chunks, late, ids, workers)
    else:
        transitions = sum(_write_chunk(plan, sel, ids) for sel in [*chunks, late] if len(sel))
    return BulkResult(plan.n, transitions, ids, time.perf_counter() - started)
