-- civgrid on Citus: events and positions past a few hundred million rows (docs/DEPLOYMENT.md "Citus").
-- NOT applied by any migration: a one-time conversion, run on the coordinator in a maintenance
-- window after `manage.py migrate`, with the application stopped. Tested on paper only (no Citus
-- cluster on the development machine); read docs/DEPLOYMENT.md before running it.
--
-- Distribution column: district_code (区县代码, 12 digits). Every query of the map, the statistics
-- and the event lifecycle already filters by a jurisdiction, and a district is the largest unit most
-- users see: a district's events and positions live on one shard, its queries touch one worker.
-- A city has 5-15 districts: too few shards to spread a big province evenly, so shard_count stays
-- at 32 and several districts share a worker; a very large district can be isolated later with
-- isolate_tenant_to_new_shard('events_event', '<code>').

CREATE EXTENSION IF NOT EXISTS citus;
SET citus.shard_count = 32;

BEGIN;

-- 0. the references of events and transitions are checked by statement triggers on a single node
-- (events/migrations/0012): their functions read the referenced tables directly, which a
-- distributed table's shards cannot do. Back to foreign keys here (step 5), at Citus's per-row cost.
DROP FUNCTION events_event_refs_ins() CASCADE;
DROP FUNCTION events_event_refs_upd() CASCADE;
DROP FUNCTION events_eventtransition_refs_ins() CASCADE;
DROP FUNCTION events_eventtransition_refs_upd() CASCADE;
DROP FUNCTION events_eventcategory_held_del() CASCADE;
DROP FUNCTION events_eventcategory_held_upd() CASCADE;
DROP FUNCTION events_eventcategory_held_trunc() CASCADE;
DROP FUNCTION events_department_held_del() CASCADE;
DROP FUNCTION events_department_held_upd() CASCADE;
DROP FUNCTION events_department_held_trunc() CASCADE;
DROP FUNCTION auth_user_held_del() CASCADE;
DROP FUNCTION auth_user_held_upd() CASCADE;
DROP FUNCTION auth_user_held_trunc() CASCADE;
DROP FUNCTION accounts_apikey_held_del() CASCADE;
DROP FUNCTION accounts_apikey_held_upd() CASCADE;
DROP FUNCTION accounts_apikey_held_trunc() CASCADE;
DROP FUNCTION events_event_held_del() CASCADE;
DROP FUNCTION events_event_held_upd() CASCADE;
DROP FUNCTION events_event_held_trunc() CASCADE;

-- 1. reference tables: small, read by every query, copied to every worker
SELECT create_reference_table('gis_core_region');
SELECT create_reference_table('gis_core_regionboundary');
SELECT create_reference_table('gis_core_locatorpart');
SELECT create_reference_table('gis_core_locatorrevision');
SELECT create_reference_table('grids_unitgrid');
SELECT create_reference_table('grids_gridstaff');
SELECT create_reference_table('events_eventcategory');
SELECT create_reference_table('events_department');
SELECT create_reference_table('events_department_handlers');
SELECT create_reference_table('events_workcalendarday');
-- events reference users (reporter) and keys: the accounts tables become reference tables too
SELECT create_reference_table('auth_user');
SELECT create_reference_table('accounts_apikey');
SELECT create_reference_table('accounts_membership');

-- 2. the distribution column must be part of every primary key and unique constraint
ALTER TABLE events_event DROP CONSTRAINT events_event_pkey CASCADE;  -- drops the attachments' and notifications' keys
ALTER TABLE events_event ADD PRIMARY KEY (district_code, id);
ALTER TABLE events_event DROP CONSTRAINT IF EXISTS events_event_client_id_key;
ALTER TABLE events_event ADD CONSTRAINT events_event_client_id_key UNIQUE (district_code, client_id);

-- the event's children carry its district (filled from the event; the services set it on write)
ALTER TABLE events_eventtransition ADD COLUMN district_code varchar(12);
ALTER TABLE events_attachment      ADD COLUMN district_code varchar(12);
ALTER TABLE events_notification    ADD COLUMN district_code varchar(12);
UPDATE events_eventtransition c SET district_code = e.district_code FROM events_event e WHERE e.id = c.event_id;
UPDATE events_attachment      c SET district_code = e.district_code FROM events_event e WHERE e.id = c.event_id;
UPDATE events_notification    c SET district_code = e.district_code FROM events_event e WHERE e.id = c.event_id;
ALTER TABLE events_eventtransition ALTER COLUMN district_code SET NOT NULL;
ALTER TABLE events_attachment      ALTER COLUMN district_code SET NOT NULL;
ALTER TABLE events_notification    ALTER COLUMN district_code SET NOT NULL;
ALTER TABLE events_eventtransition DROP CONSTRAINT events_eventtransition_pkey, ADD PRIMARY KEY (district_code, id);
ALTER TABLE events_attachment      DROP CONSTRAINT events_attachment_pkey,      ADD PRIMARY KEY (district_code, id);
ALTER TABLE events_notification    DROP CONSTRAINT events_notification_pkey,    ADD PRIMARY KEY (district_code, id);

-- the five tables of event counts (kept by the events' cells trigger, keyed by their cells): the
-- district (the community code's first 6 digits) leads each key; the trigger function must fill it
-- (events/migrations/0009's generator: add it to COLUMNS and to each table's key, a new migration)
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['events_eventcell', 'events_eventcelltotal', 'events_eventfinecell',
                           'events_eventdaycell', 'events_eventclasscell', 'events_eventclassdaycell'] LOOP
    EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS district_code varchar(12)', t);
    EXECUTE format('UPDATE %I SET district_code = rpad(left(region_code, 6), 12, ''0'')', t);
    EXECUTE format('ALTER TABLE %I ALTER COLUMN district_code SET NOT NULL', t);
    EXECUTE format(
      'ALTER TABLE %1$I DROP CONSTRAINT %1$s_pkey, ADD PRIMARY KEY (district_code, %2$s)', t,
      (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY k.n)
         FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, n)
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
        WHERE i.indrelid = t::regclass AND i.indisprimary));
  END LOOP;
END $$;

-- positions: a person's district (the staff member's region, 6 digits + zeros), stable per person,
-- so one person's track stays on one shard (track playback and trip splitting stay local)
ALTER TABLE grids_position ADD COLUMN district_code varchar(12);
UPDATE grids_position p SET district_code = rpad(left(s.region_code, 6), 12, '0')
  FROM grids_gridstaff s WHERE s.id = p.staff_id;
ALTER TABLE grids_position ALTER COLUMN district_code SET NOT NULL;
ALTER TABLE grids_position DROP CONSTRAINT grids_position_pkey;
ALTER TABLE grids_position ADD PRIMARY KEY (district_code, staff_id, recorded_at);

-- tables written by the triggers of the two: they gain the column too (the trigger functions must fill
-- it: a change of the grids and tiles migrations, see docs/DEPLOYMENT.md)
ALTER TABLE grids_track_chunk ADD COLUMN IF NOT EXISTS district_code varchar(12);
ALTER TABLE tiles_tilechange  ADD COLUMN IF NOT EXISTS district_code varchar(12);

-- 3. triggers: Citus runs triggers on distributed tables only when told to; ours (tile change log,
-- event cells, track chunks) write to tables that are distributed by the same column below, so they
-- stay shard-local
SET citus.enable_unsafe_triggers = on;   -- also in postgresql.conf of every node

-- 4. distribute, colocated: an event and its children on the same shard (joins stay local)
SELECT create_distributed_table('events_event', 'district_code');
SELECT create_distributed_table('events_eventtransition', 'district_code', colocate_with => 'events_event');
SELECT create_distributed_table('events_attachment', 'district_code', colocate_with => 'events_event');
SELECT create_distributed_table('events_notification', 'district_code', colocate_with => 'events_event');
SELECT create_distributed_table('events_eventcell', 'district_code', colocate_with => 'events_event');
SELECT create_distributed_table('events_eventcelltotal', 'district_code', colocate_with => 'events_event');
SELECT create_distributed_table('events_eventfinecell', 'district_code', colocate_with => 'events_event');
SELECT create_distributed_table('events_eventdaycell', 'district_code', colocate_with => 'events_event');
SELECT create_distributed_table('events_eventclasscell', 'district_code', colocate_with => 'events_event');
SELECT create_distributed_table('events_eventclassdaycell', 'district_code', colocate_with => 'events_event');
SELECT create_distributed_table('grids_position', 'district_code', colocate_with => 'events_event');
SELECT create_distributed_table('grids_track_chunk', 'district_code', colocate_with => 'events_event');
-- the tile change log is written by triggers of both: distribute it the same way
SELECT create_distributed_table('tiles_tilechange', 'district_code', colocate_with => 'events_event');

-- 5. foreign keys again, now including the distribution column
ALTER TABLE events_eventtransition ADD FOREIGN KEY (district_code, event_id) REFERENCES events_event (district_code, id) ON DELETE CASCADE;
ALTER TABLE events_attachment      ADD FOREIGN KEY (district_code, event_id) REFERENCES events_event (district_code, id) ON DELETE CASCADE;
ALTER TABLE events_notification    ADD FOREIGN KEY (district_code, event_id) REFERENCES events_event (district_code, id) ON DELETE CASCADE;
-- references to reference tables: plain foreign keys (step 0 dropped their triggers)
ALTER TABLE events_event           ADD FOREIGN KEY (category_id)   REFERENCES events_eventcategory (id) DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE events_event           ADD FOREIGN KEY (department_id) REFERENCES events_department (id) DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE events_event           ADD FOREIGN KEY (reporter_id)   REFERENCES auth_user (id) DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE events_event           ADD FOREIGN KEY (api_key_id)    REFERENCES accounts_apikey (id) DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE events_eventtransition ADD FOREIGN KEY (department_id) REFERENCES events_department (id) DEFERRABLE INITIALLY DEFERRED;
-- duplicate_of across districts cannot be a foreign key any more: checked by the merge service
COMMIT;

-- 6. workers: add them, then spread the shards (online, no downtime)
-- SELECT citus_add_node('10.0.0.31', 5432); SELECT citus_add_node('10.0.0.32', 5432);
-- SELECT citus_rebalance_start();
