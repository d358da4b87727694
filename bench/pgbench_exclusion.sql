-- One guarded booking insert, as slotwise's write path does it: an advisory transaction lock
-- on the resource (serialising writers per resource, so contended exclusion checks never
-- deadlock), then an insert the exclusion constraint may refuse (ON CONFLICT DO NOTHING: a
-- refusal is an answer, not an error). bench/stress.py creates the table:
--   CREATE TABLE bench_allocations (id bigserial PRIMARY KEY, resource_id int NOT NULL,
--     blocked_start bigint NOT NULL, blocked_end bigint NOT NULL, active bool NOT NULL,
--     EXCLUDE USING gist (resource_id WITH =, int8range(blocked_start, blocked_end) WITH &&)
--     WHERE (active));
-- and runs it uncontended (-D resources=1000000 -D slots=1000000) and contended
-- (-D resources=1 -D slots=100).
\set r random(1, :resources)
\set s random(1, :slots)
\set b :s * 3600
\set e :b + 3600
BEGIN;
SELECT pg_advisory_xact_lock(:r);
INSERT INTO bench_allocations (resource_id, blocked_start, blocked_end, active)
  VALUES (:r, :b, :e, true) ON CONFLICT DO NOTHING;
COMMIT;
