-- Synapse's own concurrent transactions, as the isolation specs in specs/ run them against a
-- compression: a writer adding a group, the deleter (REPEATABLE READ, FOR UPDATE, sequence
-- number check, de-delta of successors), and a room purge. Also the room every spec starts
-- from, the states every group must keep (synapse_sim.expected, kept up to date by the
-- writer, deleter and purge), and the final check. Needs tests/fixtures/*.sql loaded first.
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS synapse_sim CASCADE;
CREATE SCHEMA synapse_sim;

-- What every group of the room must resolve to.
CREATE TABLE synapse_sim.expected (state_group bigint, type text, state_key text, event_id text);
-- A generated script, one row per line.
CREATE TABLE synapse_sim.script (n bigserial, line text);

-- A room of p_n groups 1..p_n, each adding one member, a snapshot every 10 groups (so 10, 20,
-- 30 ... become deltas when compressed), and its states as expected.
CREATE FUNCTION synapse_sim.make_room(p_room text, p_n int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE state_groups, state_group_edges, state_groups_state, state_groups_pending_deletion,
             synapse_sim.expected, synapse_sim.script;
    INSERT INTO state_groups SELECT i, p_room, '$e' || i FROM generate_series(1, p_n) i;
    INSERT INTO state_group_edges SELECT i, i - 1 FROM generate_series(2, p_n) i WHERE i % 10 <> 0;
    INSERT INTO state_groups_state SELECT i, p_room, 'm.room.member', '@u' || i, '$m' || i
        FROM generate_series(1, p_n) i WHERE i % 10 <> 0;
    INSERT INTO state_groups_state SELECT i, p_room, 'm.room.member', '@u' || k, '$m' || k
        FROM generate_series(1, p_n) i, generate_series(1, i) k WHERE i % 10 = 0;
    INSERT INTO synapse_sim.expected SELECT * FROM synapse_compress_test.resolved_state(p_room);
END $$;

-- Synapse persisting a new group p_id as a delta on p_prev that sets one member.
CREATE FUNCTION synapse_sim.add_group(p_id bigint, p_prev bigint, p_key text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE r text;
BEGIN
    SELECT room_id INTO r FROM state_groups WHERE id = p_prev FOR KEY SHARE;
    IF NOT FOUND THEN RAISE EXCEPTION 'predecessor % is gone', p_prev; END IF;
    UPDATE state_groups_pending_deletion SET sequence_number = DEFAULT WHERE state_group = p_prev;
    INSERT INTO state_groups VALUES (p_id, r, '$new' || p_id);
    INSERT INTO state_group_edges VALUES (p_id, p_prev);
    INSERT INTO state_groups_state VALUES (p_id, r, 'm.room.member', p_key, '$w' || p_id);
    INSERT INTO synapse_sim.expected
        SELECT p_id, s.type, s.state_key, s.event_id FROM synapse_compress_test.group_state(p_id) s;
END $$;

-- The deleter's lock step, in its REPEATABLE READ transaction after it read the group's
-- sequence number into sim.seq: lock the group, then its queue row with the number read (40001
-- when someone bumped it since the transaction's snapshot).
CREATE FUNCTION synapse_sim.deleter_lock(p_g bigint) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM state_groups WHERE id = p_g FOR UPDATE;
    PERFORM 1 FROM state_groups_pending_deletion
     WHERE state_group = p_g AND sequence_number = current_setting('sim.seq')::bigint FOR UPDATE;
    RETURN CASE WHEN FOUND THEN 'locked' ELSE 'sequence number changed: kept' END;
END $$;

-- The deleter's delete step: every successor becomes a full snapshot, then the group goes.
CREATE FUNCTION synapse_sim.delete_group(p_g bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE s bigint;
BEGIN
    FOR s IN SELECT state_group FROM state_group_edges WHERE prev_state_group = p_g ORDER BY 1 LOOP
        CREATE TEMP TABLE IF NOT EXISTS dedelta (type text, state_key text, event_id text);
        TRUNCATE dedelta;
        INSERT INTO dedelta SELECT * FROM synapse_compress_test.group_state(s);
        DELETE FROM state_groups_state WHERE state_group = s;
        INSERT INTO state_groups_state
            SELECT s, (SELECT room_id FROM state_groups WHERE id = s), type, state_key, event_id FROM dedelta;
        DELETE FROM state_group_edges WHERE state_group = s;
    END LOOP;
    DELETE FROM state_groups_state WHERE state_group = p_g;
    DELETE FROM state_group_edges WHERE state_group = p_g;
    DELETE FROM state_groups WHERE id = p_g;
    DELETE FROM state_groups_pending_deletion WHERE state_group = p_g;
    DELETE FROM synapse_sim.expected WHERE state_group = p_g;
END $$;

-- Synapse's room purge: every row of the room, without row locks of its own beyond DELETE's.
CREATE FUNCTION synapse_sim.purge_room(p_room text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM state_groups_state WHERE room_id = p_room;
    DELETE FROM state_group_edges WHERE state_group IN (SELECT id FROM state_groups WHERE room_id = p_room);
    DELETE FROM state_groups WHERE room_id = p_room;
    DELETE FROM synapse_sim.expected;
END $$;

-- Applies a generated script's statements in the caller's transaction (BEGIN/COMMIT are the
-- caller's steps).
CREATE FUNCTION synapse_sim.apply_script() RETURNS void LANGUAGE plpgsql AS $$
DECLARE l text;
BEGIN
    FOR l IN SELECT line FROM synapse_sim.script WHERE line NOT LIKE '--%' AND line NOT IN ('BEGIN;', 'COMMIT;') ORDER BY n LOOP
        EXECUTE l;
    END LOOP;
END $$;

-- Every group resolves as expected (Synapse's read), the graph is sound, and nothing dangles.
CREATE FUNCTION synapse_sim.check(p_room text) RETURNS text LANGUAGE sql AS $$
    SELECT format('groups=%s differences=%s problems=%s dangling=%s',
        (SELECT count(*) FROM state_groups WHERE room_id = p_room),
        (SELECT count(*) FROM (
            (SELECT * FROM synapse_sim.expected EXCEPT ALL SELECT * FROM synapse_compress_test.resolved_state(p_room))
            UNION ALL
            (SELECT * FROM synapse_compress_test.resolved_state(p_room) EXCEPT ALL SELECT * FROM synapse_sim.expected)) d),
        (SELECT count(*) FROM synapse_compress_test.graph_problems(p_room)),
        (SELECT count(*) FROM state_group_edges e
          WHERE NOT EXISTS (SELECT FROM state_groups g WHERE g.id = e.state_group)
             OR NOT EXISTS (SELECT FROM state_groups g WHERE g.id = e.prev_state_group))
        + (SELECT count(*) FROM state_groups_state r WHERE NOT EXISTS (SELECT FROM state_groups g WHERE g.id = r.state_group)))
$$;
