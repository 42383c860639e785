-- The worked example of the existing tool (levels {3,3} over a chain of 14 groups, each adding a
-- member, a snapshot every 2 groups): the result row, the edges it leaves (the reference tree),
-- the saved progress of a chunked run, and what room_status shows.
SET client_min_messages = warning;
CREATE PROCEDURE pg_temp.member_chain(room text, first bigint, n int, every int)
LANGUAGE sql AS $$
    INSERT INTO state_groups (id, room_id, event_id)
        SELECT first + i, room, '$ev' || i FROM generate_series(0, n - 1) i;
    INSERT INTO state_group_edges (state_group, prev_state_group)
        SELECT first + i, first + i - 1 FROM generate_series(0, n - 1) i WHERE i % every <> 0;
    INSERT INTO state_groups_state (state_group, room_id, type, state_key, event_id)
        SELECT first + i, room, 'm.room.member', '@u' || k || ':x', '$m' || k
        FROM generate_series(0, n - 1) i, generate_series(CASE WHEN i % every = 0 THEN 0 ELSE i END, i) k;
$$;
CALL pg_temp.member_chain('!worked:x', 0, 14, 2);
SELECT state_groups, state_groups_changed, rows_before, rows_after, resets_no_suitable_prev,
       max_chain_before, max_chain_after, max_chain, applied, details->>'method' AS method
FROM synapse_compress.compress_room_state('!worked:x', levels => '{3,3}', method => 'levels');
SELECT g.id, e.prev_state_group, (SELECT count(*) FROM state_groups_state s WHERE s.state_group = g.id) AS rows
FROM state_groups g LEFT JOIN state_group_edges e ON e.state_group = g.id
WHERE g.room_id = '!worked:x' ORDER BY g.id;
-- the same room in chunks of 5 groups: the same tree, the existing tool's saved state
CALL pg_temp.member_chain('!chunked:x', 100, 14, 2);
SELECT outcome, state_groups, rows_before, rows_after, applied
FROM synapse_compress.compress_room_chunk('!chunked:x', chunk_size => 5, levels => '{3,3}', method => 'levels');
SELECT outcome, state_groups, rows_before, rows_after, applied
FROM synapse_compress.compress_room_chunk('!chunked:x', chunk_size => 5, levels => '{3,3}', method => 'levels');
SELECT outcome, state_groups, rows_before, rows_after, applied
FROM synapse_compress.compress_room_chunk('!chunked:x', chunk_size => 5, levels => '{3,3}', method => 'levels');
SELECT outcome, state_groups, applied
FROM synapse_compress.compress_room_chunk('!chunked:x', chunk_size => 5, levels => '{3,3}', method => 'levels');
SELECT g.id - 100 AS id, e.prev_state_group - 100 AS prev_state_group
FROM state_groups g LEFT JOIN state_group_edges e ON e.state_group = g.id
WHERE g.room_id = '!chunked:x' ORDER BY g.id;
SELECT level_num, max_size, current_length, current_head FROM state_compressor_state
WHERE room_id = '!chunked:x' ORDER BY level_num;
SELECT last_compressed FROM state_compressor_progress WHERE room_id = '!chunked:x';
SELECT * FROM synapse_compress.room_status('!chunked:x');
-- a second call finds nothing to change
SELECT state_groups_changed, applied, message
FROM synapse_compress.compress_room_state('!worked:x', levels => '{3,3}', method => 'levels');
