-- Unattended runs over many rooms: their history, and the procedure that compresses the
-- database a chunk at a time, committing after every chunk.

-- One row per run (of compress_largest_rooms or of the background worker).
CREATE TABLE synapse_compress.runs (
    run_id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source           text        NOT NULL,
    started_at       timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    finished_at      timestamptz,
    chunk_size       integer     NOT NULL,
    number_of_chunks integer     NOT NULL,
    levels           integer[]   NOT NULL,
    method           text        NOT NULL DEFAULT 'fork_aware',
    max_chain        integer,    -- the fork-aware method's cap; NULL for method 'levels'
    chunks           bigint      NOT NULL DEFAULT 0,
    rows_saved       bigint      NOT NULL DEFAULT 0,
    errors           bigint      NOT NULL DEFAULT 0
);
COMMENT ON TABLE synapse_compress.runs IS
    'synapse_compress: one row per run over many rooms (compress_largest_rooms, the worker); kept synapse_compress.history_days days';

-- One row per chunk: what it did or why it did nothing, or the error that stopped it.
CREATE TABLE synapse_compress.chunks (
    run_id               bigint REFERENCES synapse_compress.runs ON DELETE CASCADE,
    finished_at          timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    room_id              text        NOT NULL,
    first_group          bigint,
    last_group           bigint,
    state_groups         bigint,
    state_groups_changed bigint,
    rows_before          bigint,
    rows_after           bigint,
    outcome              text        NOT NULL,
    message              text,
    sqlstate             text,
    duration_ms          double precision,
    details              jsonb
);
CREATE INDEX chunks_run_id ON synapse_compress.chunks (run_id);
CREATE INDEX chunks_room_id ON synapse_compress.chunks (room_id, finished_at);
COMMENT ON TABLE synapse_compress.chunks IS
    'synapse_compress: one row per chunk compressed, skipped or failed (outcome: compressed, unchanged, skipped, done, busy, gone, error)';
SELECT pg_catalog.pg_extension_config_dump('synapse_compress.runs', '');
SELECT pg_catalog.pg_extension_config_dump('synapse_compress.chunks', '');

-- Compresses up to number_of_chunks chunks of chunk_size groups, the rooms with the most groups
-- not yet compressed first, committing after every chunk: a cancel or crash loses at most the
-- open chunk. An error in one room is recorded and the run goes on with the next room. method
-- and max_chain are those of compress_room_chunk (checked once, when the run starts). A
-- procedure that commits cannot pin search_path with SET, so every name and operator in it is
-- schema-qualified.
CREATE PROCEDURE synapse_compress.compress_largest_rooms(
    chunk_size       integer   DEFAULT 500,
    number_of_chunks integer   DEFAULT 100,
    levels           integer[] DEFAULT '{100,50,25}',
    method           text      DEFAULT 'fork_aware',
    max_chain        integer   DEFAULT NULL)
LANGUAGE plpgsql
AS $procedure$
DECLARE
    run           bigint;
    chunks_done   integer := 0;
    room          record;
    chunk         record;
    failed        boolean;
    error_state   text;
    error_message text;
BEGIN
    run := synapse_compress.start_run('procedure', chunk_size, number_of_chunks, levels, method, max_chain);
    COMMIT;
    <<rooms>>
    FOR room IN SELECT r.room_id FROM synapse_compress.rooms_to_compress() AS r LOOP
        LOOP
            EXIT rooms WHEN chunks_done OPERATOR(pg_catalog.>=) number_of_chunks;
            failed := false;
            BEGIN
                SELECT * INTO chunk
                  FROM synapse_compress.compress_room_chunk(room.room_id, chunk_size, levels, run, method, max_chain);
            EXCEPTION WHEN OTHERS THEN
                GET STACKED DIAGNOSTICS error_state = RETURNED_SQLSTATE, error_message = MESSAGE_TEXT;
                failed := true;
            END;
            IF failed THEN
                PERFORM synapse_compress.record_chunk_error(run, room.room_id, error_state, error_message);
                COMMIT;
                EXIT;
            END IF;
            COMMIT;
            EXIT WHEN chunk.outcome OPERATOR(pg_catalog.<>) ALL (ARRAY['compressed', 'unchanged', 'skipped']);
            chunks_done := chunks_done OPERATOR(pg_catalog.+) 1;
        END LOOP;
    END LOOP;
    PERFORM synapse_compress.finish_run(run);
    COMMIT;
END
$procedure$;
