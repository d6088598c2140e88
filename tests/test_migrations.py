"""Our migrations can be reversed: every app of ours migrates back to zero and forward again on a
scratch database, and the schema it ends with is the one a single forward run gives.

A migration that cannot be reversed goes into IRREVERSIBLE with the reason; the round trip then
stops just after it instead of at zero (and the static check below keeps the list honest).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from django.apps import apps
from django.db import migrations as m
from django.db.migrations.loader import MigrationLoader

from tests.scratchdb import ROOT, ScratchDatabase

# (app_label, migration name) -> why it cannot be unapplied
IRREVERSIBLE: dict[tuple[str, str], str] = {}


def our_apps() -> list[str]:
    """The apps of this repository that have migrations."""
    migrated = MigrationLoader(None, ignore_no_migrations=True).migrated_apps
    return sorted(
        a.label for a in apps.get_app_configs() if ROOT in Path(a.path).parents and a.label in migrated
    )


def our_migrations() -> dict[tuple[str, str], m.Migration]:
    ours = set(our_apps())
    loader = MigrationLoader(None, ignore_no_migrations=True)
    return {key: mig for key, mig in loader.disk_migrations.items() if key[0] in ours}


def irreversible_operations(migration: m.Migration) -> list[str]:
    return [type(op).__name__ for op in migration.operations if not op.reversible]


def test_every_irreversible_operation_is_declared_with_its_reason():
    found = {key for key, mig in our_migrations().items() if irreversible_operations(mig)}
    undeclared = sorted(found - set(IRREVERSIBLE))
    assert not undeclared, (
        "RunPython/RunSQL without a reverse (give it reverse_code/reverse_sql, RunPython.noop or "
        f"RunSQL.noop when undoing needs nothing, or declare it in IRREVERSIBLE): {undeclared}"
    )
    stale = sorted(set(IRREVERSIBLE) - found)
    assert not stale, f"declared irreversible but reversible (or gone): {stale}"


def targets() -> list[tuple[str, str | None]]:
    """Per app: zero (None), or the latest migration that cannot be unapplied."""
    out = []
    for app in our_apps():
        stops = sorted(name for (label, name) in IRREVERSIBLE if label == app)
        out.append((app, stops[-1] if stops else None))
    return out


# All apps back in one process (one migration plan; a `migrate APP zero` per app costs a Django
# start-up and a project state rendering each, minutes on a loaded machine)
UNAPPLY = """
import json, os
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
MigrationExecutor(connection).migrate([tuple(t) for t in json.loads(os.environ["CIVGRID_MIGRATE_TARGETS"])])
"""


def schema(db: ScratchDatabase) -> str:
    """The database's schema as pg_dump writes it, without comments (they carry OIDs)."""
    dump = subprocess.run(
        ["pg_dump", "--schema-only", "--no-owner", "--no-privileges"],
        env=db.libpq_env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # comments carry OIDs, the \restrict/\unrestrict lines of pg_dump a random key
    return "\n".join(line for line in dump.splitlines() if line and not line.startswith(("--", "\\")))


@pytest.fixture(scope="module")
def scratch():
    db = ScratchDatabase("migrations")
    db.create()
    yield db
    db.drop()


def test_migrations_reverse_to_zero_and_forward_again(scratch):
    scratch.manage("migrate", "--noinput", "--skip-checks", "-v", "0")
    forward = schema(scratch)

    scratch.manage("shell", "-c", UNAPPLY, CIVGRID_MIGRATE_TARGETS=json.dumps(targets()))
    with scratch.connect() as conn:
        applied = conn.execute(
            "SELECT app, name FROM django_migrations WHERE app = ANY(%s) ORDER BY 1, 2", [our_apps()]
        ).fetchall()
        left_tables = [
            r[0]
            for r in conn.execute(
                "SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm') AND relname ~ %s",
                ["^(" + "|".join(our_apps()) + ")_"],
            )
        ]
        left_functions = [
            r[0]
            for r in conn.execute(
                "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                "WHERE n.nspname = 'public' AND NOT EXISTS (SELECT 1 FROM pg_depend d "
                "WHERE d.objid = p.oid AND d.deptype = 'e')"
            )
        ]
    if not IRREVERSIBLE:
        assert applied == [], "migrations still applied"
        assert left_tables == [], "tables left behind by the reverse migrations"
        assert left_functions == [], "functions left behind by the reverse migrations"

    scratch.manage("migrate", "--noinput", "--skip-checks", "-v", "0")
    assert schema(scratch) == forward, "the schema after zero → forward differs from a forward run"
