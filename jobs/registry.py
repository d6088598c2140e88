"""Job kinds, registered by the app that owns each (like gis_core's import layers).

The ``jobs`` app knows how to read an uploaded table, run it in chunks, survive
restarts and hand out results; a kind says what one chunk of rows becomes. A
handler gets the rows of a chunk and returns one :class:`RowOutcome` per row,
in order: a result, an error, or both (a result that explains a bad row). A
handler that raises is retried row by row, so one poisonous row cannot stop a
job.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gis_core.errors import InvalidInput

if TYPE_CHECKING:
    from accounts.scoping import Jurisdiction

__all__ = ["JobContext", "JobKind", "RowOutcome", "get_kind", "kind_names", "register_kind"]


@dataclass(frozen=True)
class RowOutcome:
    result: dict[str, Any] | None = None
    error: str = ""


@dataclass(frozen=True)
class JobContext:
    """What a handler knows about its job besides the rows."""

    column: str  # the column the user chose (e.g. the address column)
    options: dict[str, Any]
    jurisdiction: Jurisdiction


@dataclass(frozen=True)
class JobKind:
    name: str
    title: str
    # rows of one chunk ({column name: text}) → one outcome per row, same order
    handler: Callable[[list[dict[str, str]], JobContext], list[RowOutcome]]
    # the kind's own options from the upload form → cleaned options (raises InvalidInput)
    clean_options: Callable[[dict[str, Any]], dict[str, Any]] = field(default=lambda form: {})
    # result download: the columns added after the input columns, and a result → their values
    result_columns: tuple[str, ...] = ()
    flatten: Callable[[dict[str, Any]], dict[str, Any]] = field(default=lambda result: result)
    # upper bound of rows per upload (a callable, so settings are read when used)
    max_rows: Callable[[], int] = field(default=lambda: 200_000)
    # rows per committed chunk; None: settings.CIVGRID["JOB_CHUNK_ROWS"]
    chunk_rows: int | None = None


_KINDS: dict[str, JobKind] = {}


def register_kind(kind: JobKind) -> None:
    _KINDS[kind.name] = kind


def get_kind(name: str) -> JobKind:
    try:
        return _KINDS[name]
    except KeyError:
        raise InvalidInput(
            f"未知任务类型“{name}”，可选：{'、'.join(sorted(_KINDS))}", code="unknown_job_kind"
        ) from None


def kind_names() -> list[str]:
    return sorted(_KINDS)
