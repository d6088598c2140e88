"""A job kind that exists only in tests: it exercises the job machinery without the geocoder.

``upper`` upper-cases the chosen column. An empty cell is a row error, the
value ``boom`` makes the handler raise (a poisonous row), the value ``crash``
kills the process running it (a row that kills its worker; only in a test
worker, ``CIVGRID_TEST_WORKER=1``, never in pytest's own process), and the option
``sleep`` (seconds per row) makes a job slow enough to kill a worker in the
middle of it. Each result records the process that produced it.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from gis_core.errors import InvalidInput
from jobs.registry import JobContext, JobKind, RowOutcome, register_kind

__all__ = ["UPPER_KIND", "register_test_kinds"]


class Boom(RuntimeError):
    pass


def _clean(form: dict[str, Any]) -> dict[str, Any]:
    try:
        sleep = float(form.get("sleep") or 0)
    except ValueError:
        raise InvalidInput("sleep 应为秒数") from None
    return {"sleep": min(max(sleep, 0.0), 5.0)}


def upper_rows(rows: list[dict[str, str]], ctx: JobContext) -> list[RowOutcome]:
    out = []
    for row in rows:
        value = row.get(ctx.column, "")
        if value == "boom":
            raise Boom("boom")
        if value == "crash" and os.environ.get("CIVGRID_TEST_WORKER") == "1":
            os.kill(os.getpid(), signal.SIGKILL)
        if ctx.options.get("sleep"):
            time.sleep(ctx.options["sleep"])
        if value:
            out.append(RowOutcome(result={"upper": value.upper(), "pid": os.getpid()}))
        else:
            out.append(RowOutcome(error="空值"))
    return out


UPPER_KIND = JobKind(
    name="upper",
    title="大写（测试用）",
    handler=upper_rows,
    clean_options=_clean,
    result_columns=("upper", "pid"),
    max_rows=lambda: 1000,
    chunk_rows=4,
)


def register_test_kinds() -> None:
    register_kind(UPPER_KIND)
