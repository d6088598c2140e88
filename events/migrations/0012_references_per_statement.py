"""The references of events and transitions are checked once per statement, not once per row.

PostgreSQL checks a foreign key with one deferred row trigger per reference and row: at
commit, for every new row, the row is fetched again and one ``SELECT … FOR KEY SHARE`` is
run through SPI for each of its references — even a null one queues its trigger event and
fetches the row. A fresh report has seven references (an event's category, department,
reporter, reporting system and merged-into; its report transition's event and department),
and at 10 M events these checks were 31 % of the database's time in a bulk load
(BENCHMARKS.md, "Events").

Here the seven foreign keys become statement triggers with the same rules:

* **insert** into a referencing table (the ``COPY`` of a bulk load too): per reference, the
  distinct keys of the statement's new rows (its transition table) are looked up once,
  those not written by this transaction locked ``FOR KEY SHARE`` in key order (as the
  foreign key does: a referenced row cannot be deleted until the referencing transaction
  ends; a row this transaction wrote cannot be deleted by another before it commits), and a
  key not found is a ``foreign_key_violation`` (SQLSTATE 23503, Django's ``IntegrityError``)
  naming the table, column and key, checked at once instead of at commit;
* **update** of a reference (a row trigger, only where the value changes: ``WHEN``);
* **delete** from a referenced table: one semi-join of the deleted keys against each
  referencing column per statement (Django deletes or nulls the referencing rows first:
  ``on_delete`` is Django's); **update** of a referenced key (a row trigger, only where the
  key changes); **truncate** of a referenced table unless every referencing column is
  empty (a ``TRUNCATE`` of both tables together passes: the check runs after the last;
  ``CASCADE`` follows foreign keys only, so the transitions are named with their events).

A deleting transaction sees rows committed while it waited for the row lock (each statement
of a trigger function takes a new snapshot at READ COMMITTED; at SERIALIZABLE the conflict is
PostgreSQL's to find); at REPEATABLE READ it would not, so deleting or re-keying a referenced
row is refused there (PostgreSQL's own check uses a cross-check snapshot a trigger cannot).

Frozen here: a change is a new migration (``checks`` builds the SQL; a later migration may
import it, as 0010 and 0011 import 0009)."""

from django.conf import settings
from django.db import migrations, models

import django.db.models.deletion

# (referencing table, its column, referenced table): every foreign key of the two tables a
# bulk load writes; the referenced key is ``id`` everywhere
REFERENCES = [
    ("events_event", "category_id", "events_eventcategory"),
    ("events_event", "department_id", "events_department"),
    ("events_event", "reporter_id", "auth_user"),
    ("events_event", "api_key_id", "accounts_apikey"),
    ("events_event", "duplicate_of_id", "events_event"),
    ("events_eventtransition", "event_id", "events_event"),
    ("events_eventtransition", "department_id", "events_department"),
]


def _name(child: str, column: str) -> str:
    return f"{child}_{column}_ref"


def _violation(message: str, detail: str, args: str, name: str, table: str) -> str:
    return (
        f"RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation', MESSAGE = {message}, "
        f"DETAIL = format({detail}, {args}), CONSTRAINT = '{name}', TABLE = '{table}';"
    )


def _missing(child: str, column: str, parent: str) -> str:
    msg = f'\'insert or update on table "{child}" violates reference "{_name(child, column)}"\''
    detail = f"'Key ({column})=(%s) is not present in table \"{parent}\".'"
    return _violation(msg, detail, "missing", _name(child, column), child)


def _held(child: str, column: str, parent: str) -> str:
    msg = f'\'update or delete on table "{parent}" violates reference "{_name(child, column)}" on table "{child}"\''
    detail = f"'Key (id)=(%s) is still referenced from table \"{child}\".'"
    return _violation(msg, detail, "missing", _name(child, column), parent)


_REPEATABLE = (
    "\n    IF current_setting('transaction_isolation') = 'repeatable read' THEN "
    "RAISE EXCEPTION USING ERRCODE = 'feature_not_supported', MESSAGE = format("
    "'deleting or re-keying rows of %s is not supported at REPEATABLE READ "
    "(use READ COMMITTED or SERIALIZABLE)', TG_TABLE_NAME); END IF;"
)


def _insert_check(child: str, column: str, parent: str) -> str:
    """The statement's distinct keys of ``column``, looked up once: those found written by this
    transaction count as present, the others are locked (in key order) and count if still
    there; the first key neither, if any, is raised."""
    return f"""
    -- {column} → {parent}
    WITH k AS MATERIALIZED (SELECT DISTINCT {column} AS v FROM new_rows WHERE {column} IS NOT NULL),
    found AS MATERIALIZED (SELECT p.id, p.xmin = own AS mine FROM {parent} p JOIN k ON p.id = k.v),
    theirs AS (
        SELECT p.id FROM {parent} p WHERE p.id IN (SELECT id FROM found WHERE NOT mine)
        ORDER BY p.id FOR KEY SHARE OF p
    )
    SELECT (SELECT count(*) FROM k) - (SELECT count(*) FROM found WHERE mine) - (SELECT count(*) FROM theirs)
    INTO n;
    IF n > 0 THEN
        SELECT DISTINCT r.{column} INTO missing FROM new_rows r
        WHERE r.{column} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE p.id = r.{column}) LIMIT 1;
        {_missing(child, column, parent)}
    END IF;"""


def _row_check(child: str, column: str, parent: str) -> str:
    return f"""
    IF NEW.{column} IS NOT NULL AND NEW.{column} IS DISTINCT FROM OLD.{column} THEN
        PERFORM 1 FROM {parent} p WHERE p.id = NEW.{column} FOR KEY SHARE;
        IF NOT FOUND THEN
            missing := NEW.{column};
            {_missing(child, column, parent)}
        END IF;
    END IF;"""


def _held_check(child: str, column: str, parent: str, keys: str) -> str:
    return f"""
    SELECT o.id INTO missing FROM {keys} o
    WHERE EXISTS (SELECT 1 FROM {child} c WHERE c.{column} = o.id) LIMIT 1;
    IF FOUND THEN
        {_held(child, column, parent)}
    END IF;"""


def _truncate_check(child: str, column: str, parent: str) -> str:
    return f"""
    IF EXISTS (SELECT 1 FROM {child} c WHERE c.{column} IS NOT NULL) THEN
        missing := '(any)';
        {_held(child, column, parent)}
    END IF;"""


def _function(name: str, body: str, declare: str = "missing text;") -> str:
    return f"""
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE {declare}
BEGIN{body}
    RETURN NULL;
END $fn$;"""


def checks(references: list[tuple[str, str, str]]) -> tuple[str, str]:
    """The SQL (forward, reverse) of the triggers checking ``references`` — one function and
    trigger per table and operation, covering every reference of that table."""
    children = dict.fromkeys(c for c, _, _ in references)
    parents = dict.fromkeys(p for _, _, p in references)
    forward, reverse = [], []
    for child in children:
        refs = [(c, col, p) for c, col, p in references if c == child]
        columns = [col for _, col, _ in refs]
        forward += [
            _function(
                f"{child}_refs_ins",
                "".join(_insert_check(*r) for r in refs),
                "own xid := pg_current_xact_id()::xid; n bigint; missing text;",
            ),
            f"CREATE TRIGGER {child}_refs_ins AFTER INSERT ON {child} REFERENCING NEW TABLE AS new_rows "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {child}_refs_ins();",
            _function(f"{child}_refs_upd", "".join(_row_check(*r) for r in refs)),
            f"CREATE TRIGGER {child}_refs_upd AFTER UPDATE OF {', '.join(columns)} ON {child} FOR EACH ROW "
            f"WHEN ({' OR '.join(f'OLD.{c} IS DISTINCT FROM NEW.{c}' for c in columns)}) "
            f"EXECUTE FUNCTION {child}_refs_upd();",
        ]
        reverse += [
            f"DROP FUNCTION {child}_refs_ins() CASCADE;",
            f"DROP FUNCTION {child}_refs_upd() CASCADE;",
        ]
    for parent in parents:
        refs = [(c, col, p) for c, col, p in references if p == parent]
        forward += [
            _function(f"{parent}_held_del", _REPEATABLE + "".join(_held_check(*r, "old_rows") for r in refs)),
            f"CREATE TRIGGER {parent}_held_del AFTER DELETE ON {parent} REFERENCING OLD TABLE AS old_rows "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {parent}_held_del();",
            _function(
                f"{parent}_held_upd",
                _REPEATABLE + "".join(_held_check(*r, "(SELECT OLD.id AS id)") for r in refs),
            ),
            f"CREATE TRIGGER {parent}_held_upd AFTER UPDATE OF id ON {parent} FOR EACH ROW "
            f"WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION {parent}_held_upd();",
            _function(f"{parent}_held_trunc", "".join(_truncate_check(*r) for r in refs)),
            f"CREATE TRIGGER {parent}_held_trunc AFTER TRUNCATE ON {parent} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {parent}_held_trunc();",
        ]
        reverse += [f"DROP FUNCTION {parent}_held_{op}() CASCADE;" for op in ("del", "upd", "trunc")]
    return "\n".join(forward), "\n".join(reverse)


FORWARD, REVERSE = checks(REFERENCES)


def _unchecked(model: str, name: str, **field) -> migrations.AlterField:
    """The foreign key ``model.name`` without its database constraint (the triggers check it)."""
    return migrations.AlterField(
        model_name=model, name=name, field=models.ForeignKey(db_constraint=False, **field)
    )


_OPTIONAL = {"blank": True, "null": True, "db_index": False}
PROTECT, SET_NULL = django.db.models.deletion.PROTECT, django.db.models.deletion.SET_NULL


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0011_event_class_cells"),
        ("accounts", "0003_role_department"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # the foreign keys go (AlterField), then the triggers come; reversed: triggers, then keys
        _unchecked("event", "category", on_delete=PROTECT, related_name="+", to="events.eventcategory",
                   verbose_name="小类"),
        _unchecked("event", "department", **_OPTIONAL, on_delete=PROTECT, related_name="events",
                   to="events.department", verbose_name="处置部门"),
        _unchecked("event", "reporter", **_OPTIONAL, on_delete=SET_NULL, related_name="+",
                   to=settings.AUTH_USER_MODEL, verbose_name="上报人"),
        _unchecked("event", "api_key", **_OPTIONAL, on_delete=SET_NULL, related_name="+",
                   to="accounts.apikey", verbose_name="上报系统"),
        _unchecked("event", "duplicate_of", **_OPTIONAL, on_delete=SET_NULL, related_name="duplicates",
                   to="events.event", verbose_name="合并至"),
        _unchecked("eventtransition", "event", on_delete=django.db.models.deletion.CASCADE,
                   related_name="transitions", to="events.event"),
        _unchecked("eventtransition", "department", **_OPTIONAL, on_delete=PROTECT, related_name="+",
                   to="events.department", verbose_name="处置部门"),
        migrations.RunSQL(FORWARD, REVERSE),
    ]  # fmt: skip
