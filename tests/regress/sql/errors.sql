-- Bad arguments and settings: each error's SQLSTATE, message and hint, as a golden file.
SET client_min_messages = warning;
CREATE FUNCTION pg_temp.error_of(statement text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE code text; message text; hint text;
BEGIN
    EXECUTE statement;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
    RETURN code || ': ' || message || coalesce(' HINT: ' || nullif(hint, ''), '');
END $$;
\pset format unaligned
\pset tuples_only on
SELECT pg_temp.error_of($q$SELECT * FROM synapse_compress.compress_room_state(NULL)$q$);
SELECT pg_temp.error_of($q$SELECT * FROM synapse_compress.compress_room_state(repeat('x', 5000))$q$);
SELECT pg_temp.error_of($q$SELECT * FROM synapse_compress.compress_room_state('!r:x', levels => '{}', method => 'levels')$q$);
SELECT pg_temp.error_of($q$SELECT * FROM synapse_compress.compress_room_state('!r:x', levels => '{3,0}', method => 'levels')$q$);
SELECT pg_temp.error_of($q$SELECT * FROM synapse_compress.compress_room_state('!r:x', levels => '{3,NULL}', method => 'levels')$q$);
SELECT pg_temp.error_of($q$SELECT * FROM synapse_compress.compress_room_state('!r:x', levels => '{{3,3},{3,3}}', method => 'levels')$q$);
SELECT pg_temp.error_of($q$SELECT * FROM synapse_compress.compress_room_state('!r:x', levels => '{600,600}', method => 'levels')$q$);
SELECT pg_temp.error_of($q$SELECT * FROM synapse_compress.compress_room_state('!r:x', method => 'levels', max_chain => 100)$q$);
SELECT pg_temp.error_of($q$SELECT * FROM synapse_compress.compress_room_state('!r:x', levels => '{3,3}')$q$);
SELECT pg_temp.error_of($q$SELECT * FROM synapse_compress.compress_room_state('!r:x', method => 'fastest')$q$);
SELECT pg_temp.error_of($q$SELECT * FROM synapse_compress.compress_room_state('!r:x', max_chain => 0)$q$);
SELECT pg_temp.error_of($q$SELECT * FROM synapse_compress.compress_room_state('!r:x', method => NULL)$q$);
SELECT pg_temp.error_of($q$SELECT * FROM synapse_compress.compress_room_state_sql('!r:x', levels => '{0}', method => 'levels')$q$);
SELECT pg_temp.error_of($q$SELECT * FROM synapse_compress.compress_room_chunk('!r:x', chunk_size => 0)$q$);
SELECT pg_temp.error_of($q$SELECT * FROM synapse_compress.compress_room_chunk('!r:x', max_chain => -5)$q$);
SELECT pg_temp.error_of($q$CALL synapse_compress.compress_largest_rooms(chunk_size => 500, number_of_chunks => -1)$q$);
SELECT pg_temp.error_of($q$SELECT * FROM synapse_compress.room_status(max_rooms => -1)$q$);
SELECT pg_temp.error_of($q$SET synapse_compress.read_budget = 'sometimes'$q$);
SELECT pg_temp.error_of($q$SET synapse_compress.history_days = 0$q$);
SET synapse_compress.synapse_schema = '';
SELECT pg_temp.error_of($q$SELECT * FROM synapse_compress.compress_room_state('!r:x')$q$);
SET synapse_compress.synapse_schema = 'no_such_schema';
SELECT pg_temp.error_of($q$SELECT * FROM synapse_compress.compress_room_state('!r:x')$q$);
RESET synapse_compress.synapse_schema;
-- a room with no state groups
SELECT pg_temp.error_of($q$SELECT * FROM synapse_compress.compress_room_state('!no-such-room:x')$q$);
