-- Settings and privileges of the functions that rewrite Synapse's tables.
--
-- Not executable by PUBLIC: grant EXECUTE to the role that runs compression (see the README).
-- search_path is pinned so that no object planted in a schema of the caller's search_path can
-- run inside a call (everything the functions run is schema-qualified anyway). JIT is off: the
-- loader's one big index scan gains nothing from it, and it would load LLVM into the backend.
-- Sequential and bitmap scans are off, as in Synapse's own state reads: with a few hundred group
-- ids the planner misjudges the rows of state_group = ANY(...) and would scan all of
-- state_groups_state (hundreds of millions of rows) and sort; the ordered index scan reads only
-- the chunk's rows, already in group order.
REVOKE ALL ON FUNCTION synapse_compress.compress_room_state(text, integer[], bigint, bigint, integer, bigint, boolean, text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION synapse_compress.compress_room_state_sql(text, integer[], bigint, bigint, integer, bigint, boolean, text, integer) FROM PUBLIC;
ALTER FUNCTION synapse_compress.compress_room_state(text, integer[], bigint, bigint, integer, bigint, boolean, text, integer)
    SET search_path = pg_catalog, pg_temp SET jit = off SET enable_seqscan = off SET enable_bitmapscan = off;
ALTER FUNCTION synapse_compress.compress_room_state_sql(text, integer[], bigint, bigint, integer, bigint, boolean, text, integer)
    SET search_path = pg_catalog, pg_temp SET jit = off SET enable_seqscan = off SET enable_bitmapscan = off;

-- Unattended runs: not for PUBLIC either.
REVOKE ALL ON PROCEDURE synapse_compress.compress_largest_rooms(integer, integer, integer[], text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION synapse_compress.compress_room_chunk(text, integer, integer[], bigint, text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION synapse_compress.rooms_to_compress(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION synapse_compress.room_status(text, bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION synapse_compress.start_run(text, integer, integer, integer[], text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION synapse_compress.finish_run(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION synapse_compress.record_chunk_error(bigint, text, text, text) FROM PUBLIC;
ALTER FUNCTION synapse_compress.compress_room_chunk(text, integer, integer[], bigint, text, integer)
    SET search_path = pg_catalog, pg_temp SET jit = off SET enable_seqscan = off SET enable_bitmapscan = off;
ALTER FUNCTION synapse_compress.rooms_to_compress(bigint) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION synapse_compress.room_status(text, bigint) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION synapse_compress.start_run(text, integer, integer, integer[], text, integer) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION synapse_compress.finish_run(bigint) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION synapse_compress.record_chunk_error(bigint, text, text, text) SET search_path = pg_catalog, pg_temp;

-- What \df+ and \dx+ show.
COMMENT ON FUNCTION synapse_compress.compress_room_state(text, integer[], bigint, bigint, integer, bigint, boolean, text, integer) IS
    'synapse_compress: compresses one room''s state groups in the calling transaction, verifying every group''s state first';
COMMENT ON FUNCTION synapse_compress.compress_room_state_sql(text, integer[], bigint, bigint, integer, bigint, boolean, text, integer) IS
    'synapse_compress: the statements compress_room_state would run, as a script that checks the room is unchanged when applied';
COMMENT ON FUNCTION synapse_compress.compress_room_chunk(text, integer, integer[], bigint, text, integer) IS
    'synapse_compress: compresses the next chunk of one room from its saved progress, saving the progress in the same transaction';
COMMENT ON PROCEDURE synapse_compress.compress_largest_rooms(integer, integer, integer[], text, integer) IS
    'synapse_compress: compresses the database chunk by chunk, the rooms with the most groups not yet compressed first, committing after every chunk';
COMMENT ON FUNCTION synapse_compress.rooms_to_compress(bigint) IS
    'synapse_compress: the rooms in the order compress_largest_rooms takes them, with their groups not yet compressed';
COMMENT ON FUNCTION synapse_compress.room_status(text, bigint) IS
    'synapse_compress: per room, its groups, rows, groups not yet compressed, last compressed group and estimated saving';
COMMENT ON FUNCTION synapse_compress.start_run(text, integer, integer, integer[], text, integer) IS
    'synapse_compress: internal, starts a run of compress_largest_rooms or of the worker';
COMMENT ON FUNCTION synapse_compress.finish_run(bigint) IS
    'synapse_compress: internal, ends a run of compress_largest_rooms or of the worker';
COMMENT ON FUNCTION synapse_compress.record_chunk_error(bigint, text, text, text) IS
    'synapse_compress: internal, records a chunk that failed';
