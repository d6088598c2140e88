"""The change-log writer takes several geometry columns (one trigger argument each): a table
read by two layers through different columns — a civilization unit's exact point and its
public point — logs the boxes of both (see tiles/triggers.py)."""

from django.db import migrations

_MULTI = r"""
CREATE OR REPLACE FUNCTION tiles_record_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    col text;
    cells text := 'SELECT %L, ST_SetSRID(ST_Extent(%I)::geometry, 4326) FROM %s WHERE %I IS NOT NULL '
                  'GROUP BY floor(ST_XMin(%I) / 0.05), floor(ST_YMin(%I) / 0.05)';
BEGIN
    IF TG_OP = 'TRUNCATE' OR TG_NARGS = 0 OR TG_ARGV[0] = '' THEN
        INSERT INTO tiles_tilechange (table_name, bbox) VALUES (TG_TABLE_NAME, NULL);
        RETURN NULL;
    END IF;
    FOR i IN 0 .. TG_NARGS - 1 LOOP
        col := TG_ARGV[i];
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            EXECUTE 'INSERT INTO tiles_tilechange (table_name, bbox) '
                || format(cells, TG_TABLE_NAME, col, 'new_rows', col, col, col);
        END IF;
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            EXECUTE 'INSERT INTO tiles_tilechange (table_name, bbox) '
                || format(cells, TG_TABLE_NAME, col, 'old_rows', col, col, col);
        END IF;
    END LOOP;
    RETURN NULL;
END $$
"""

# 0001's single-column writer (reads its first argument only)
_SINGLE = r"""
CREATE OR REPLACE FUNCTION tiles_record_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    col text := TG_ARGV[0];
    cells text := 'SELECT %L, ST_SetSRID(ST_Extent(%I)::geometry, 4326) FROM %s WHERE %I IS NOT NULL '
                  'GROUP BY floor(ST_XMin(%I) / 0.05), floor(ST_YMin(%I) / 0.05)';
BEGIN
    IF TG_OP = 'TRUNCATE' OR col = '' THEN
        INSERT INTO tiles_tilechange (table_name, bbox) VALUES (TG_TABLE_NAME, NULL);
        RETURN NULL;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        EXECUTE 'INSERT INTO tiles_tilechange (table_name, bbox) '
            || format(cells, TG_TABLE_NAME, col, 'new_rows', col, col, col);
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        EXECUTE 'INSERT INTO tiles_tilechange (table_name, bbox) '
            || format(cells, TG_TABLE_NAME, col, 'old_rows', col, col, col);
    END IF;
    RETURN NULL;
END $$
"""


class Migration(migrations.Migration):
    dependencies = [("tiles", "0002_anywhere_index")]

    operations = [migrations.RunSQL([_MULTI], [_SINGLE])]
