"""Packed track chunks (轨迹块): each person's fixes per 15-minute bucket as one ``bytea`` of
big-endian doubles (t, lon, lat, cum_m per fix, in time order), so playing back a day reads
~96 rows instead of 86,400 (the playback budget is 100 ms; the row-by-row read alone took
50–400 ms).

Invariant: every (person, bucket) that has fixes in ``grids_position`` has exactly one chunk
holding exactly those fixes. Statement triggers on ``grids_position`` keep it for every
writer — inserts are appended (or the bucket rebuilt when they land inside it), updates and
deletes rebuild the buckets they touch. The ingest service, which already holds its rows as
arrays, packs them itself and sets ``civgrid.track_chunks_by = 'ingest'`` for its COPY (the
insert trigger then stands aside). Detaching a partition (no trigger fires) deletes its
chunks in ``grids.services.partitions``. Existing fixes are packed here.
"""

from django.db import migrations

CHUNKS_SQL = """
CREATE TABLE grids_track_chunk (
    staff_id bigint NOT NULL,
    bucket timestamptz NOT NULL,
    first_at timestamptz NOT NULL,
    last_at timestamptz NOT NULL,
    n integer NOT NULL,
    data bytea NOT NULL,
    CONSTRAINT grids_track_chunk_pkey PRIMARY KEY (staff_id, bucket)
);
-- packed doubles do not compress: store out of line without trying
ALTER TABLE grids_track_chunk ALTER COLUMN data SET STORAGE EXTERNAL;

CREATE FUNCTION grids_track_bucket(at timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN date_bin('15 minutes', at, timestamptz '1970-01-01 00:00:00+00');

CREATE FUNCTION grids_track_pack(recorded_at timestamptz, geom geometry, cum_m double precision) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE
RETURN float8send(date_part('epoch', recorded_at)) || float8send(ST_X(geom)) || float8send(ST_Y(geom))
       || float8send(cum_m);

-- the chunks of these (person, bucket) pairs made again from the positions table
CREATE FUNCTION grids_track_chunk_rebuild(staff_ids bigint[], buckets timestamptz[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM grids_track_chunk c USING unnest(staff_ids, buckets) AS k(s, b)
   WHERE c.staff_id = k.s AND c.bucket = k.b;
  INSERT INTO grids_track_chunk (staff_id, bucket, first_at, last_at, n, data)
  SELECT k.s, k.b, min(p.recorded_at), max(p.recorded_at), count(*),
         string_agg(grids_track_pack(p.recorded_at, p.geom, p.cum_m), ''::bytea ORDER BY p.recorded_at)
  FROM (SELECT DISTINCT s, b FROM unnest(staff_ids, buckets) AS u(s, b)) k
  JOIN grids_position p
    ON p.staff_id = k.s AND p.recorded_at >= k.b AND p.recorded_at < k.b + interval '15 minutes'
  GROUP BY k.s, k.b;
END $$;

-- new fixes (already in grids_position), packed per (person, bucket) in time order: appended
-- to the bucket's chunk when they all come after it, otherwise the chunk is rebuilt
CREATE FUNCTION grids_track_chunk_add(
  staff_ids bigint[], buckets timestamptz[], first_ats timestamptz[], last_ats timestamptz[],
  ns integer[], datas bytea[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE rs bigint[]; rb timestamptz[];
BEGIN
  SELECT array_agg(v.s), array_agg(v.b) INTO rs, rb
  FROM unnest(staff_ids, buckets, first_ats) AS v(s, b, first_at)
  JOIN grids_track_chunk c ON c.staff_id = v.s AND c.bucket = v.b AND c.last_at >= v.first_at;
  INSERT INTO grids_track_chunk AS c (staff_id, bucket, first_at, last_at, n, data)
  SELECT * FROM unnest(staff_ids, buckets, first_ats, last_ats, ns, datas)
  ON CONFLICT (staff_id, bucket) DO UPDATE
     SET last_at = EXCLUDED.last_at, n = c.n + EXCLUDED.n, data = c.data || EXCLUDED.data
     WHERE c.last_at < EXCLUDED.first_at;
  IF rs IS NOT NULL THEN
    PERFORM grids_track_chunk_rebuild(rs, rb);
  END IF;
END $$;

CREATE FUNCTION grids_track_chunk_on_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  -- the ingest service packs its rows itself (it holds them as arrays) and says so
  IF current_setting('civgrid.track_chunks_by', true) = 'ingest' THEN
    RETURN NULL;
  END IF;
  PERFORM grids_track_chunk_add(array_agg(s), array_agg(b), array_agg(f), array_agg(l), array_agg(n), array_agg(d))
  FROM (SELECT staff_id s, grids_track_bucket(recorded_at) b, min(recorded_at) f, max(recorded_at) l,
               count(*)::integer n,
               string_agg(grids_track_pack(recorded_at, geom, cum_m), ''::bytea ORDER BY recorded_at) d
        FROM added GROUP BY 1, 2) g;
  RETURN NULL;
END $$;

CREATE FUNCTION grids_track_chunk_on_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    PERFORM grids_track_chunk_rebuild(array_agg(s), array_agg(b)) FROM (
      SELECT staff_id s, grids_track_bucket(recorded_at) b FROM removed
      UNION SELECT staff_id, grids_track_bucket(recorded_at) FROM added) k;
  ELSE
    PERFORM grids_track_chunk_rebuild(array_agg(s), array_agg(b)) FROM (
      SELECT DISTINCT staff_id s, grids_track_bucket(recorded_at) b FROM removed) k;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER grids_track_chunk_insert AFTER INSERT ON grids_position
  REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION grids_track_chunk_on_insert();
CREATE TRIGGER grids_track_chunk_update AFTER UPDATE ON grids_position
  REFERENCING OLD TABLE AS removed NEW TABLE AS added
  FOR EACH STATEMENT EXECUTE FUNCTION grids_track_chunk_on_change();
CREATE TRIGGER grids_track_chunk_delete AFTER DELETE ON grids_position
  REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION grids_track_chunk_on_change();

INSERT INTO grids_track_chunk (staff_id, bucket, first_at, last_at, n, data)
SELECT staff_id, grids_track_bucket(recorded_at), min(recorded_at), max(recorded_at), count(*),
       string_agg(grids_track_pack(recorded_at, geom, cum_m), ''::bytea ORDER BY recorded_at)
FROM grids_position GROUP BY 1, 2;
"""

REVERSE_SQL = """
DROP TRIGGER grids_track_chunk_insert ON grids_position;
DROP TRIGGER grids_track_chunk_update ON grids_position;
DROP TRIGGER grids_track_chunk_delete ON grids_position;
DROP FUNCTION grids_track_chunk_on_insert();
DROP FUNCTION grids_track_chunk_on_change();
DROP FUNCTION grids_track_chunk_add(bigint[], timestamptz[], timestamptz[], timestamptz[], integer[], bytea[]);
DROP FUNCTION grids_track_chunk_rebuild(bigint[], timestamptz[]);
DROP FUNCTION grids_track_pack(timestamptz, geometry, double precision);
DROP FUNCTION grids_track_bucket(timestamptz);
DROP TABLE grids_track_chunk;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("grids", "0003_components_cameras"),
    ]

    operations = [migrations.RunSQL(CHUNKS_SQL, reverse_sql=REVERSE_SQL)]
