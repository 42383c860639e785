-- The default method under each read budget on a room whose members change: rows after, and
-- the rows Synapse's reads of its groups fetch before and after (p50, p99, max).
SET client_min_messages = warning;
CREATE PROCEDURE pg_temp.churning_chain(room text, first bigint, n int, every int, statics int, users int)
LANGUAGE sql AS $$
    INSERT INTO state_groups (id, room_id, event_id)
        SELECT first + i, room, '$ev' || i FROM generate_series(0, n - 1) i;
    INSERT INTO state_group_edges (state_group, prev_state_group)
        SELECT first + i, first + i - 1 FROM generate_series(0, n - 1) i WHERE i % every <> 0;
    INSERT INTO state_groups_state (state_group, room_id, type, state_key, event_id)
        SELECT first + i, room, 'm.room.member', '@c' || (j % users) || ':x', '$c' || j
        FROM generate_series(0, n - 1) i,
             generate_series(CASE WHEN i % every = 0 THEN greatest(0, i - users + 1) ELSE i END, i) j;
    INSERT INTO state_groups_state (state_group, room_id, type, state_key, event_id)
        SELECT first + i, room, 'm.room.member', '@s' || k || ':x', '$s' || k
        FROM generate_series(0, n - 1) i, generate_series(1, statics) k WHERE i % every = 0;
$$;
CALL pg_temp.churning_chain('!off:x', 1000, 600, 100, 150, 30);
CALL pg_temp.churning_chain('!median:x', 2000, 600, 100, 150, 30);
CALL pg_temp.churning_chain('!strict:x', 3000, 600, 100, 150, 30);
SET synapse_compress.read_budget = off;
SELECT rows_before, rows_after, max_chain_after, applied, details->>'read_budget' AS read_budget,
       details->'read_rows_before' AS reads_before, details->'read_rows_after' AS reads_after
FROM synapse_compress.compress_room_state('!off:x');
SET synapse_compress.read_budget = median;
SELECT rows_before, rows_after, max_chain_after, applied, details->>'read_budget' AS read_budget,
       details->'read_rows_before' AS reads_before, details->'read_rows_after' AS reads_after
FROM synapse_compress.compress_room_state('!median:x');
SET synapse_compress.read_budget = strict;
SELECT rows_before, rows_after, max_chain_after, applied, details->>'read_budget' AS read_budget,
       details->'read_rows_before' AS reads_before, details->'read_rows_after' AS reads_after
FROM synapse_compress.compress_room_state('!strict:x');
RESET synapse_compress.read_budget;
-- the level method builds the existing tool's tree: no budget applies
SET synapse_compress.read_budget = strict;
CALL pg_temp.churning_chain('!levels:x', 4000, 300, 100, 150, 30);
SELECT rows_before, rows_after, applied, details->>'read_budget' AS read_budget
FROM synapse_compress.compress_room_state('!levels:x', method => 'levels');
RESET synapse_compress.read_budget;
