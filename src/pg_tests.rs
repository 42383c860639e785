//! In-database tests (`cargo pgrx test`): the SQL functions against Synapse's real table layout,
//! with every group's state checked by the plain-SQL resolver in tests/fixtures.

#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;
    use serde_json::Value;

    const SCHEMA: &str = include_str!("../tests/fixtures/synapse_schema.sql");
    const RESOLVER: &str = include_str!("../tests/fixtures/resolve_state.sql");
    const ERROR_OF: &str = r#"
    CREATE OR REPLACE FUNCTION pg_temp.error_of(q text) RETURNS text LANGUAGE plpgsql AS $f$
    DECLARE st text; msg text;
    BEGIN
        EXECUTE q;
        RETURN 'no error';
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
        RETURN st || ': ' || msg;
    END $f$;
    "#;

    fn setup() {
        Spi::run(SCHEMA).unwrap();
        Spi::run(RESOLVER).unwrap();
        Spi::run(ERROR_OF).unwrap();
    }

    fn lit(s: &str) -> String {
        format!("'{}'", s.replace('\'', "''"))
    }

    /// A chain of `n` groups, ids `first, first+stride, ...`, each adding one member; a full
    /// snapshot every `every` groups (Synapse style).
    fn member_chain(room: &str, first: i64, stride: i64, n: i64, every: i64) {
        let r = lit(room);
        Spi::run(&format!(
            "INSERT INTO state_groups (id, room_id, event_id)
                 SELECT {first} + i * {stride}, {r}, '$ev' || i FROM generate_series(0, {n} - 1) i;
             INSERT INTO state_group_edges (state_group, prev_state_group)
                 SELECT {first} + i * {stride}, {first} + (i - 1) * {stride}
                 FROM generate_series(0, {n} - 1) i WHERE i % {every} <> 0;
             INSERT INTO state_groups_state (state_group, room_id, type, state_key, event_id)
                 SELECT {first} + i * {stride}, {r}, 'm.room.member', '@u' || i || ':x', '$' || md5({r} || i)
                 FROM generate_series(0, {n} - 1) i WHERE i % {every} <> 0;
             INSERT INTO state_groups_state (state_group, room_id, type, state_key, event_id)
                 SELECT {first} + i * {stride}, {r}, 'm.room.member', '@u' || k || ':x', '$' || md5({r} || k)
                 FROM generate_series(0, {n} - 1) i, generate_series(0, i) k WHERE i % {every} = 0;"
        ))
        .unwrap();
    }

    fn add_group(room: &str, id: i64, prev: Option<i64>, rows: &[(&str, &str, &str)]) {
        let r = lit(room);
        Spi::run(&format!("INSERT INTO state_groups VALUES ({id}, {r}, '$g{id}')")).unwrap();
        if let Some(p) = prev {
            Spi::run(&format!("INSERT INTO state_group_edges VALUES ({id}, {p})")).unwrap();
        }
        for (t, k, e) in rows {
            Spi::run(&format!(
                "INSERT INTO state_groups_state VALUES ({id}, {r}, {}, {}, {})",
                lit(t),
                lit(k),
                lit(e)
            ))
            .unwrap();
        }
    }

    /// Every group's full state, resolved the way Synapse reads it.
    fn states(room: &str) -> String {
        Spi::get_one::<String>(&format!(
            "SELECT coalesce(string_agg(format('%s %s %s %s', state_group, type, state_key, event_id), E'\\n'
                     ORDER BY state_group, type, state_key), '')
             FROM synapse_compress_test.resolved_state({})",
            lit(room)
        ))
        .unwrap()
        .unwrap()
    }

    /// The three tables, every row.
    fn dump() -> String {
        Spi::get_one::<String>(
            "SELECT coalesce(string_agg(x, E'\\n' ORDER BY x), '') FROM (
                 SELECT format('g %s %s %s', id, room_id, event_id) AS x FROM state_groups
                 UNION ALL SELECT format('e %s %s', state_group, prev_state_group) FROM state_group_edges
                 UNION ALL SELECT format('s %s %s %s %s %s', state_group, room_id, type, state_key, event_id)
                     FROM state_groups_state) t",
        )
        .unwrap()
        .unwrap()
    }

    fn dump_groups(filter: &str) -> String {
        Spi::get_one::<String>(&format!(
            "SELECT coalesce(string_agg(x, E'\\n' ORDER BY x), '') FROM (
                 SELECT format('e %s %s', state_group, prev_state_group) AS x FROM state_group_edges WHERE {filter}
                 UNION ALL SELECT format('s %s %s %s %s', state_group, type, state_key, event_id)
                     FROM state_groups_state WHERE {filter}) t"
        ))
        .unwrap()
        .unwrap()
    }

    fn compress(args: &str) -> Value {
        Spi::get_one::<pgrx::JsonB>(&format!(
            "SELECT to_jsonb(r) FROM synapse_compress.compress_room_state({args}) r"
        ))
        .unwrap()
        .unwrap()
        .0
    }

    fn error_of(sql: &str) -> String {
        Spi::get_one_with_args::<String>("SELECT pg_temp.error_of($1)", &[sql.into()]).unwrap().unwrap()
    }

    fn count(sql: &str) -> i64 {
        Spi::get_one::<i64>(sql).unwrap().unwrap()
    }

    fn edges(room: &str) -> Vec<(i64, Option<i64>)> {
        Spi::connect(|c| {
            c.select(
                "SELECT g.id, e.prev_state_group FROM state_groups g
                 LEFT JOIN state_group_edges e ON e.state_group = g.id WHERE g.room_id = $1 ORDER BY g.id",
                None,
                &[room.into()],
            )
            .unwrap()
            .map(|row| (row.get::<i64>(1).unwrap().unwrap(), row.get::<i64>(2).unwrap()))
            .collect()
        })
    }

    const ROOM: &str = "!room:example.org";
    const OTHER: &str = "!other:example.org";

    #[pg_test]
    fn worked_example_gives_the_reference_edges() {
        setup();
        // a snapshot every 2 groups, so that the reference tree saves rows
        member_chain(ROOM, 0, 1, 14, 2);
        let before = states(ROOM);
        let r = compress(&format!("{}, levels => '{{3,3}}', method => 'levels'", lit(ROOM)));
        assert_eq!(r["applied"], true, "{r}");
        let expected = WORKED_EXAMPLE.to_vec();
        assert_eq!(edges(ROOM), expected);
        assert_eq!(states(ROOM), before);
        assert_eq!(r["rows_before"], 7 * 7 + 7);
        // 0:1, 1,2:1, 3:4, 4,5:1, 6:3, 7,8:1, 9:3, 10,11:1, 12:13, 13:1
        assert_eq!(r["rows_after"], 1 + 2 + 4 + 2 + 3 + 2 + 3 + 2 + 13 + 1);
        assert_eq!(r["rows_after"], count("SELECT count(*) FROM state_groups_state"));
        assert_eq!(r["max_chain_before"], 2);
        assert_eq!(r["max_chain_after"], 5);
    }

    #[pg_test]
    fn snapshots_every_3_groups_compress_and_every_group_resolves_the_same() {
        setup();
        member_chain(ROOM, 1, 1, 300, 3);
        let before = states(ROOM);
        let rows_before = count("SELECT count(*) FROM state_groups_state");
        let r = compress(&lit(ROOM));
        assert_eq!(r["applied"], true, "{r}");
        assert_eq!(r["state_groups"], 300);
        assert_eq!(r["rows_before"], rows_before);
        let rows_after = count("SELECT count(*) FROM state_groups_state");
        assert_eq!(r["rows_after"], rows_after);
        assert!(rows_after * 10 < rows_before, "{rows_before} -> {rows_after}");
        assert_eq!(r["max_chain_before"], 3);
        assert_eq!(states(ROOM), before);
        assert_eq!(
            count(&format!("SELECT count(*) FROM synapse_compress_test.graph_problems({})", lit(ROOM))),
            0
        );
    }

    #[pg_test]
    fn a_second_run_changes_nothing() {
        setup();
        member_chain(ROOM, 1, 1, 250, 10);
        compress(&lit(ROOM));
        let after_first = dump();
        let r = compress(&lit(ROOM));
        assert_eq!(r["state_groups_changed"], 0, "{r}");
        assert_eq!(r["applied"], false);
        assert_eq!(r["rows_before"], r["rows_after"]);
        assert_eq!(dump(), after_first);
    }

    #[pg_test]
    fn another_room_is_untouched() {
        setup();
        member_chain(ROOM, 1, 2, 200, 10);
        member_chain(OTHER, 2, 2, 200, 10);
        let other_before = dump_groups("state_group % 2 = 0");
        let before = states(ROOM);
        let r = compress(&lit(ROOM));
        assert_eq!(r["applied"], true);
        assert_eq!(r["state_groups"], 200);
        assert_eq!(dump_groups("state_group % 2 = 0"), other_before);
        assert_eq!(states(ROOM), before);
    }

    #[pg_test]
    fn range_options_limit_what_is_rewritten() {
        setup();
        member_chain(ROOM, 1, 1, 400, 10);
        let before = states(ROOM);
        let outside = dump_groups("state_group <= 100 OR state_group > 300");

        let r = compress(&format!("{}, min_state_group => 100, max_state_group => 300", lit(ROOM)));
        assert_eq!(r["state_groups"], 200, "min exclusive, max inclusive: {r}");
        assert_eq!(r["applied"], true);
        assert_eq!(dump_groups("state_group <= 100 OR state_group > 300"), outside);
        assert_eq!(states(ROOM), before);

        let outside = dump_groups("state_group <= 300 OR state_group > 350");
        let r = compress(&format!("{}, min_state_group => 300, groups_to_compress => 50", lit(ROOM)));
        assert_eq!(r["state_groups"], 50, "{r}");
        assert_eq!(dump_groups("state_group <= 300 OR state_group > 350"), outside);
        assert_eq!(states(ROOM), before);

        let r = compress(&format!("{}, max_state_group => 50", lit(ROOM)));
        assert_eq!(r["state_groups"], 50, "{r}");
        assert_eq!(states(ROOM), before);

        let r = compress(&format!("{}, min_state_group => 400", lit(ROOM)));
        assert_eq!(r["state_groups"], 0);
        assert_eq!(r["applied"], false);
    }

    #[pg_test]
    fn min_saved_rows_both_ways() {
        setup();
        member_chain(ROOM, 1, 1, 100, 10);
        let before = dump();
        let saving = {
            let r = compress(&format!("{}, dry_run => true", lit(ROOM)));
            r["rows_before"].as_i64().unwrap() - r["rows_after"].as_i64().unwrap()
        };
        assert!(saving > 0);
        let r = compress(&format!("{}, min_saved_rows => {}", lit(ROOM), saving + 1));
        assert_eq!(r["applied"], false);
        assert!(r["message"].as_str().unwrap().contains("min_saved_rows"), "{r}");
        assert_eq!(dump(), before);
        let r = compress(&format!("{}, min_saved_rows => {saving}", lit(ROOM)));
        assert_eq!(r["applied"], true, "{r}");
        assert_ne!(dump(), before);
    }

    #[pg_test]
    fn dry_run_and_rollback_leave_the_tables_identical() {
        setup();
        member_chain(ROOM, 1, 1, 120, 10);
        Spi::run("INSERT INTO state_groups_pending_deletion (state_group, insertion_ts) VALUES (1, 5)")
            .unwrap();
        let before = dump();
        let pending = dump_pending();
        let dry = compress(&format!("{}, dry_run => true", lit(ROOM)));
        assert_eq!(dry["applied"], false);
        assert!(dry["message"].as_str().unwrap().starts_with("dry run"), "{dry}");
        assert_eq!(dump(), before);
        assert_eq!(dump_pending(), pending);

        // A rolled-back (sub)transaction leaves nothing behind.
        let e = error_of(&format!(
            "DO $$ BEGIN PERFORM synapse_compress.compress_room_state({}); RAISE EXCEPTION 'roll back'; END $$",
            lit(ROOM)
        ));
        assert!(e.contains("roll back"), "{e}");
        assert_eq!(dump(), before);
        assert_eq!(dump_pending(), pending);

        let real = compress(&lit(ROOM));
        assert_eq!(real["rows_after"], dry["rows_after"]);
        assert_eq!(real["state_groups_changed"], dry["state_groups_changed"]);
    }

    fn dump_pending() -> String {
        Spi::get_one::<String>(
            "SELECT coalesce(string_agg(format('%s %s %s', state_group, sequence_number, insertion_ts), ',' ORDER BY state_group), '')
             FROM state_groups_pending_deletion",
        )
        .unwrap()
        .unwrap()
    }

    #[pg_test]
    fn bad_arguments_are_refused_with_their_sqlstate() {
        setup();
        member_chain(ROOM, 1, 1, 30, 10);
        let before = dump();
        let call =
            |args: &str| error_of(&format!("SELECT * FROM synapse_compress.compress_room_state({args})"));
        let r = lit(ROOM);
        let cases = [
            ("NULL".to_owned(), "22004", "room_id must not be NULL"),
            ("'!nowhere:example.org'".to_owned(), "P0002", "room !nowhere:example.org has no state groups"),
            (format!("{r}, levels => '{{}}'"), "22023", "levels must not be empty"),
            (format!("{r}, levels => '{{100,0}}'"), "22023", "level 2 has size 0"),
            (format!("{r}, levels => '{{-1}}'"), "22023", "level 1 has size -1"),
            (format!("{r}, levels => '{{1000,1000}}'"), "22023", "at most 1000"),
            (format!("{r}, levels => NULL"), "22004", "levels must not be NULL"),
            (format!("{r}, min_state_group => 20, max_state_group => 20"), "22023", "must be lower than"),
            (format!("{r}, groups_to_compress => 0"), "22023", "groups_to_compress must be positive"),
            (format!("{r}, min_saved_rows => -1"), "22023", "min_saved_rows must not be negative"),
        ];
        for (args, state, text) in cases {
            let e = call(&args);
            assert!(e.starts_with(state) && e.contains(text), "{args}: {e}");
            let e = error_of(&format!("SELECT * FROM synapse_compress.compress_room_state_sql({args})"));
            assert!(e.starts_with(state), "sql variant, {args}: {e}");
        }
        assert_eq!(dump(), before);
    }

    /// Each kind of corrupt data: an ERROR naming the room and group, and nothing changed.
    #[pg_test]
    fn corrupt_data_is_refused_naming_the_group() {
        setup();
        let cases: [(&str, &str, &str); 8] = [
            ("INSERT INTO state_group_edges VALUES (15, 3)", "state group 15 has two edges", "two edges"),
            ("UPDATE state_group_edges SET prev_state_group = 21 WHERE state_group = 15", "state group 15 has an edge to state group 21, whose id is not lower", "newer predecessor"),
            ("UPDATE state_group_edges SET prev_state_group = 14 WHERE state_group = 12", "form a cycle", "cycle"),
            ("UPDATE state_group_edges SET prev_state_group = 999 WHERE state_group = 15", "state group 15 has an edge to state group 999, which does not exist", "missing"),
            ("INSERT INTO state_groups VALUES (5000, '!else:x', '$x'); UPDATE state_group_edges SET prev_state_group = 5000 WHERE state_group = 15",
             "state group 15 has an edge to state group 5000 of another room (!else:x)", "foreign"),
            ("INSERT INTO state_groups_state VALUES (15, '!room:example.org', 'm.room.member', '@u14:x', '$different')",
             "state group 15 has two rows for (\"m.room.member\", \"@u14:x\")", "duplicate"),
            // the edge that leaves the room is named, not an edge inside the other room
            ("INSERT INTO state_groups VALUES (4999, '!else:x', '$x'), (5000, '!else:x', '$y'); \
              INSERT INTO state_group_edges VALUES (5000, 4999); \
              UPDATE state_group_edges SET prev_state_group = 5000 WHERE state_group = 15",
             "state group 15 has an edge to state group 5000 of another room (!else:x)", "foreign chain"),
            ("UPDATE state_groups_state SET room_id = '!else:x' WHERE state_group = 17",
             "state group 17 has a row in state_groups_state whose room_id is !else:x", "row of another room"),
        ];
        for (corruption, message, what) in cases {
            Spi::run("TRUNCATE state_groups, state_group_edges, state_groups_state").unwrap();
            member_chain(ROOM, 1, 1, 30, 10);
            Spi::run(corruption).unwrap();
            let before = dump();
            let e = error_of(&format!("SELECT * FROM synapse_compress.compress_room_state({})", lit(ROOM)));
            assert!(e.starts_with("XX001"), "{what}: {e}");
            assert!(e.contains("room !room:example.org") && e.contains(message), "{what}: {e}");
            assert_eq!(dump(), before, "{what}");
        }
        // a cycle names the lowest group on it
        Spi::run("TRUNCATE state_groups, state_group_edges, state_groups_state").unwrap();
        member_chain(ROOM, 1, 1, 30, 10);
        Spi::run("UPDATE state_group_edges SET prev_state_group = 14 WHERE state_group = 12").unwrap();
        let e = error_of(&format!("SELECT * FROM synapse_compress.compress_room_state({})", lit(ROOM)));
        assert!(e.contains("the edges of state group 12 form a cycle"), "{e}");
    }

    #[pg_test]
    fn identical_duplicate_rows_are_accepted_and_removed() {
        setup();
        member_chain(ROOM, 1, 1, 30, 10);
        Spi::run("INSERT INTO state_groups_state SELECT * FROM state_groups_state WHERE state_group = 15")
            .unwrap();
        let before = states(ROOM);
        let r = compress(&lit(ROOM));
        assert_eq!(r["applied"], true, "{r}");
        assert_eq!(states(ROOM), before);
        assert_eq!(count("SELECT count(*) FROM (SELECT 1 FROM state_groups_state GROUP BY state_group, type, state_key HAVING count(*) > 1) d"), 0);
    }

    #[pg_test]
    fn forks_and_snapshots_that_drop_keys_resolve_the_same() {
        setup();
        add_group(ROOM, 1, None, &[("m.room.create", "", "$c"), ("m.room.member", "@a", "$a1")]);
        add_group(ROOM, 2, Some(1), &[("m.room.member", "@b", "$b1")]);
        add_group(ROOM, 3, Some(1), &[("m.room.member", "@c", "$c1")]); // fork of 1
        add_group(ROOM, 4, Some(2), &[("m.room.topic", "", "$t1")]);
        // a snapshot that dropped @b (state resolution)
        add_group(
            ROOM,
            5,
            None,
            &[("m.room.create", "", "$c"), ("m.room.member", "@a", "$a2"), ("m.room.topic", "", "$t1")],
        );
        add_group(ROOM, 6, Some(5), &[("m.room.member", "@d", "$d1")]);
        add_group(ROOM, 7, Some(4), &[("m.room.member", "@a", "$a3")]); // fork of 4
        add_group(
            ROOM,
            8,
            None,
            &[
                ("m.room.create", "", "$c"),
                ("m.room.member", "@a", "$a2"),
                ("m.room.topic", "", "$t1"),
                ("m.room.member", "@d", "$d1"),
                ("m.room.name", "", "$n"),
            ],
        );
        let before = states(ROOM);
        let r = compress(&format!("{}, levels => '{{2,2}}', method => 'levels'", lit(ROOM)));
        assert_eq!(states(ROOM), before, "{r}");
        assert_eq!(
            count(&format!("SELECT count(*) FROM synapse_compress_test.graph_problems({})", lit(ROOM))),
            0
        );
        assert!(r["resets_no_suitable_prev"].as_i64().unwrap() >= 0);
    }

    #[pg_test]
    fn groups_queued_for_deletion_are_skipped_and_new_predecessors_bumped() {
        setup();
        member_chain(ROOM, 1, 1, 30, 10);
        // 11 and 21 are snapshots that become deltas on 10 and 20. 21 is queued for deletion: it
        // must stay as it is. 10 is queued too: it becomes 11's predecessor, so it is bumped.
        Spi::run(
            "INSERT INTO state_groups_pending_deletion (state_group, insertion_ts) VALUES (21, 5), (10, 5)",
        )
        .unwrap();
        let g21 = dump_groups("state_group = 21");
        let seq10 = count("SELECT sequence_number FROM state_groups_pending_deletion WHERE state_group = 10");
        let before = states(ROOM);
        let r = compress(&format!("{}, method => 'levels'", lit(ROOM)));
        assert_eq!(r["applied"], true, "{r}");
        assert!(r["message"].as_str().unwrap().contains("skipped"), "{r}");
        assert_eq!(dump_groups("state_group = 21"), g21);
        assert_eq!(states(ROOM), before);
        assert_eq!(
            count("SELECT count(*) FROM state_group_edges WHERE state_group = 11 AND prev_state_group = 10"),
            1
        );
        let seq10_after =
            count("SELECT sequence_number FROM state_groups_pending_deletion WHERE state_group = 10");
        assert!(seq10_after > seq10, "{seq10} -> {seq10_after}");
        assert!(count("SELECT insertion_ts FROM state_groups_pending_deletion WHERE state_group = 10") > 5);
        assert_eq!(count("SELECT insertion_ts FROM state_groups_pending_deletion WHERE state_group = 21"), 5);
    }

    #[pg_test]
    fn unfinished_background_updates_block_compression() {
        setup();
        member_chain(ROOM, 1, 1, 30, 10);
        Spi::run("INSERT INTO background_updates (update_name) VALUES ('state_group_edges_unique_idx')")
            .unwrap();
        let e = error_of(&format!("SELECT * FROM synapse_compress.compress_room_state({})", lit(ROOM)));
        assert!(e.starts_with("55000") && e.contains("state_group_edges_unique_idx"), "{e}");
    }

    #[pg_test]
    fn works_without_the_deletion_tables_of_older_synapse() {
        setup();
        Spi::run("DROP TABLE state_groups_pending_deletion, state_groups_persisting, background_updates")
            .unwrap();
        member_chain(ROOM, 1, 1, 50, 10);
        let before = states(ROOM);
        assert_eq!(compress(&lit(ROOM))["applied"], true);
        assert_eq!(states(ROOM), before);
    }

    #[pg_test]
    fn tables_in_another_schema_via_the_setting() {
        Spi::run("CREATE SCHEMA synapse; SET LOCAL search_path = synapse, public").unwrap();
        setup();
        member_chain(ROOM, 1, 1, 60, 10);
        let before = states(ROOM);
        let e = error_of(&format!("SELECT * FROM synapse_compress.compress_room_state({})", lit(ROOM)));
        assert!(e.starts_with("42P01") && e.contains("schema public has no table state_groups"), "{e}");
        Spi::run("SET LOCAL synapse_compress.synapse_schema = 'synapse'").unwrap();
        assert_eq!(compress(&lit(ROOM))["applied"], true);
        assert_eq!(states(ROOM), before);
    }

    #[pg_test]
    fn the_sql_variant_makes_the_same_change() {
        setup();
        member_chain(ROOM, 1, 1, 150, 10);
        let before = states(ROOM);
        let lines: Vec<String> = Spi::connect(|c| {
            c.select(
                &format!("SELECT * FROM synapse_compress.compress_room_state_sql({})", lit(ROOM)),
                None,
                &[],
            )
            .unwrap()
            .map(|row| row.get::<String>(1).unwrap().unwrap())
            .collect()
        });
        assert!(lines[0].starts_with("-- synapse_compress: room '!room:example.org'"), "{}", lines[0]);
        assert!(lines.contains(&"BEGIN;".to_owned()) && lines.last().unwrap() == "COMMIT;");
        assert_eq!(states(ROOM), before, "the SQL variant writes nothing itself");
        let search_path = Spi::get_one::<String>("SELECT current_setting('search_path')").unwrap().unwrap();
        for line in lines.iter().filter(|l| !l.starts_with("--") && *l != "BEGIN;" && *l != "COMMIT;") {
            Spi::run(line).unwrap();
        }
        Spi::run(&format!("SET LOCAL search_path = {search_path}")).unwrap();
        assert_eq!(states(ROOM), before);
        let r = compress(&lit(ROOM));
        assert_eq!(r["state_groups_changed"], 0, "applying the statements gives the same tree: {r}");
    }

    #[pg_test]
    fn the_functions_are_not_executable_by_public_and_run_without_jit() {
        Spi::run("CREATE ROLE synapse_compress_nobody").unwrap();
        for f in ["compress_room_state", "compress_room_state_sql"] {
            let q = format!(
                "SELECT has_function_privilege('synapse_compress_nobody', 'synapse_compress.{f}(text, integer[], bigint, bigint, integer, bigint, boolean, text, integer)', 'EXECUTE')"
            );
            assert_eq!(Spi::get_one::<bool>(&q).unwrap(), Some(false), "{f}");
            let config = format!("SELECT proconfig::text FROM pg_proc WHERE proname = '{f}'");
            assert_eq!(
                Spi::get_one::<String>(&config).unwrap().as_deref(),
                Some(
                    r#"{"search_path=pg_catalog, pg_temp",jit=off,enable_seqscan=off,enable_bitmapscan=off}"#
                ),
                "{f}"
            );
        }
    }

    /// The nesting level of the current transaction (1 at top level).
    fn nest_level() -> i32 {
        unsafe { pgrx::pg_sys::GetCurrentTransactionNestLevel() }
    }

    /// An error raised while rewriting (here by a trigger) and caught by a PL/pgSQL exception
    /// block leaves the caller exactly one level deep, as before the call, holding no lock of
    /// the call, with nothing changed; the block's later statements take effect.
    #[pg_test]
    fn a_caught_error_leaves_no_subtransaction_open() {
        setup();
        member_chain(ROOM, 1, 1, 60, 10);
        Spi::run(
            "CREATE FUNCTION pg_temp.refuse() RETURNS trigger LANGUAGE plpgsql AS $f$
             BEGIN RAISE EXCEPTION 'trigger says no' USING ERRCODE = 'P0001', HINT = 'from the trigger'; END $f$;
             CREATE TRIGGER refuse BEFORE INSERT ON state_groups_state FOR EACH STATEMENT EXECUTE FUNCTION pg_temp.refuse();
             CREATE TEMP TABLE after_error (x int);",
        )
        .unwrap();
        let before = dump();
        let level = nest_level();
        let locks_sql = "SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() \
                         AND relation IS DISTINCT FROM 'after_error'::regclass";
        let locks = count(locks_sql);
        Spi::run(&format!(
            "DO $d$ DECLARE st text; msg text; det text;
             BEGIN
                 BEGIN
                     PERFORM * FROM synapse_compress.compress_room_state({});
                 EXCEPTION WHEN OTHERS THEN
                     GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
                     INSERT INTO after_error VALUES (1);
                     IF st <> 'P0001' OR msg <> 'trigger says no' OR det <> '' THEN
                         RAISE EXCEPTION 'unexpected error: % % [%]', st, msg, det;
                     END IF;
                 END;
                 INSERT INTO after_error VALUES (2);
             END $d$",
            lit(ROOM)
        ))
        .unwrap();
        assert_eq!(nest_level(), level, "the call left a subtransaction open");
        assert_eq!(count("SELECT count(*) FROM after_error"), 2);
        assert_eq!(dump(), before);
        assert_eq!(count(locks_sql), locks, "the call's locks are gone");
        assert_eq!(
            count("SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory'"),
            0
        );
        Spi::run("DROP TRIGGER refuse ON state_groups_state").unwrap();
        assert_eq!(compress(&lit(ROOM))["applied"], true);
    }

    /// PostgreSQL's own errors inside the call keep their SQLSTATE and message and carry no
    /// Rust backtrace; privileges are checked before anything is loaded.
    #[pg_test]
    fn errors_are_plain_and_privileges_are_checked_first() {
        setup();
        member_chain(ROOM, 1, 1, 60, 10);
        Spi::run(
            "CREATE ROLE synapse_compress_reader;
             GRANT USAGE ON SCHEMA synapse_compress TO synapse_compress_reader;
             GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA synapse_compress TO synapse_compress_reader;
             GRANT SELECT ON ALL TABLES IN SCHEMA public TO synapse_compress_reader;
             SET LOCAL ROLE synapse_compress_reader",
        )
        .unwrap();
        let e = error_of(&format!("SELECT * FROM synapse_compress.compress_room_state({})", lit(ROOM)));
        assert!(e.starts_with("42501"), "{e}");
        assert!(
            e.contains("UPDATE on public.state_groups") && e.contains("INSERT on public.state_group_edges"),
            "{e}"
        );
        // reading is enough for a dry run and for the script
        let r = compress(&format!("{}, dry_run => true", lit(ROOM)));
        assert_eq!(r["applied"], false, "{r}");
        assert!(
            count(&format!("SELECT count(*) FROM synapse_compress.compress_room_state_sql({})", lit(ROOM)))
                > 3
        );
        Spi::run("RESET ROLE").unwrap();

        // a lock timeout while Synapse's deleter would hold a lock is a plain 55P03
        // (simulated: NOWAIT-style failure raised inside the rewrite by a trigger)
        Spi::run(
            "CREATE FUNCTION pg_temp.busy() RETURNS trigger LANGUAGE plpgsql AS $f$
             BEGIN RAISE EXCEPTION 'could not obtain lock' USING ERRCODE = '55P03'; END $f$;
             CREATE TRIGGER busy BEFORE DELETE ON state_group_edges FOR EACH STATEMENT EXECUTE FUNCTION pg_temp.busy();",
        )
        .unwrap();
        let detail = Spi::get_one::<String>(&format!(
            "DO $d$ DECLARE st text; msg text; det text; hint text; BEGIN
                 PERFORM * FROM synapse_compress.compress_room_state({});
             EXCEPTION WHEN OTHERS THEN
                 GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
                 PERFORM set_config('synapse_compress_test.last', st || '|' || msg || '|' || det || '|' || hint, true);
             END $d$; SELECT current_setting('synapse_compress_test.last')",
            lit(ROOM)
        ))
        .unwrap()
        .unwrap();
        assert!(detail.starts_with("55P03|could not obtain lock||"), "{detail}");
        assert!(detail.contains("run it again later"), "{detail}");
        assert!(!detail.contains("panicked") && !detail.contains("backtrace"), "{detail}");
    }

    #[pg_test]
    fn settings_and_argument_shapes_are_checked() {
        setup();
        member_chain(ROOM, 1, 1, 30, 10);
        let call =
            |args: &str| error_of(&format!("SELECT * FROM synapse_compress.compress_room_state({args})"));
        let e = call(&format!("{}, levels => '{{{{3,3}},{{3,3}}}}'", lit(ROOM)));
        assert!(e.starts_with("22023") && e.contains("one-dimensional"), "{e}");
        Spi::run("SET LOCAL synapse_compress.synapse_schema = ''").unwrap();
        let e = call(&lit(ROOM));
        assert!(e.starts_with("22023") && e.contains("synapse_schema is empty"), "{e}");
        Spi::run("SET LOCAL synapse_compress.synapse_schema = 'no\"where'").unwrap();
        let e = call(&lit(ROOM));
        assert!(e.starts_with("3F000") && e.contains(r#"schema "no""where""#), "{e}");
        Spi::run("SET LOCAL synapse_compress.synapse_schema = 'pg_catalog'").unwrap();
        let e = call(&lit(ROOM));
        assert!(e.starts_with("42P01") && e.contains("has no table state_groups"), "{e}");
        Spi::run("RESET synapse_compress.synapse_schema").unwrap();
        // a huge room id is refused without echoing it whole
        let e = call("repeat('x', 1000000)");
        assert!(e.starts_with("22023") && e.len() < 1000, "{}", &e[..200.min(e.len())]);
        let e = call("repeat('y', 300)");
        assert!(e.starts_with("P0002") && e.len() < 400 && e.contains("(300 bytes)"), "{e}");
    }

    /// A NULL where Synapse's schema has NOT NULL (tables that are not Synapse's): a clear
    /// error, no panic.
    #[pg_test]
    fn nullable_columns_holding_null_are_refused() {
        setup();
        Spi::run(
            "CREATE SCHEMA loose;
             CREATE TABLE loose.state_groups (id bigint, room_id text, event_id text);
             CREATE TABLE loose.state_group_edges (state_group bigint, prev_state_group bigint);
             CREATE TABLE loose.state_groups_state (state_group bigint, room_id text, type text, state_key text, event_id text);
             INSERT INTO loose.state_groups VALUES (1, '!r:x', '$1'), (2, '!r:x', '$2');
             INSERT INTO loose.state_group_edges VALUES (2, 1);
             INSERT INTO loose.state_groups_state VALUES (1, '!r:x', 'm.room.create', '', '$c'), (2, '!r:x', 'm.room.name', NULL, '$n');
             SET LOCAL synapse_compress.synapse_schema = 'loose';",
        )
        .unwrap();
        let e = error_of("SELECT * FROM synapse_compress.compress_room_state('!r:x')");
        assert!(e.starts_with("XX001") && e.contains("state_groups_state.state_key holds NULL"), "{e}");
        assert!(!e.contains("panicked"), "{e}");
    }

    /// After a group was skipped (queued for deletion), rows_after counts what the room has.
    #[pg_test]
    fn rows_after_counts_skipped_groups_as_they_are() {
        setup();
        member_chain(ROOM, 1, 1, 30, 10);
        Spi::run("INSERT INTO state_groups_pending_deletion (state_group, insertion_ts) VALUES (21, 5)")
            .unwrap();
        let r = compress(&lit(ROOM));
        assert_eq!(r["applied"], true, "{r}");
        let rows = count("SELECT count(*) FROM state_groups_state WHERE state_group BETWEEN 1 AND 30");
        assert_eq!(r["rows_after"].as_i64().unwrap(), rows, "{r}");
    }

    /// Room ids are free text from remote servers: a generated script quotes every value on one
    /// line, so nothing in the data can end a comment, literal or statement.
    #[pg_test]
    fn the_script_quotes_hostile_room_ids_and_keys() {
        setup();
        let room = "!nl\nDROP TABLE state_groups; --'$$\\:x";
        add_group(room, 1, None, &[("m.room.create", "", "$c"), ("m.room.member", "@a\tb\\c'\r\n", "$a$$1")]);
        add_group(
            room,
            2,
            None,
            &[("m.room.create", "", "$c"), ("m.room.member", "@a\tb\\c'\r\n", "$a$$1"), ("x", "y", "z")],
        );
        let lines: Vec<String> = Spi::connect(|c| {
            c.select(
                "SELECT * FROM synapse_compress.compress_room_state_sql($1, levels => '{5}', method => 'levels')",
                None,
                &[room.into()],
            )
            .unwrap()
            .map(|row| row.get::<String>(1).unwrap().unwrap())
            .collect()
        });
        assert!(lines.len() > 5, "{lines:?}");
        for line in &lines {
            assert!(!line.contains('\n') && !line.contains('\r'), "{line:?}");
        }
        assert!(lines[0].starts_with(r"-- synapse_compress: room E'!nl\nDROP TABLE"), "{}", lines[0]);
    }

    const WORKED_EXAMPLE: [(i64, Option<i64>); 14] = [
        (0, None),
        (1, Some(0)),
        (2, Some(1)),
        (3, None),
        (4, Some(3)),
        (5, Some(4)),
        (6, Some(3)),
        (7, Some(6)),
        (8, Some(7)),
        (9, Some(6)),
        (10, Some(9)),
        (11, Some(10)),
        (12, None),
        (13, Some(12)),
    ];

    fn chunk(args: &str) -> Value {
        Spi::get_one::<pgrx::JsonB>(&format!(
            "SELECT to_jsonb(r) FROM synapse_compress.compress_room_chunk({args}) r"
        ))
        .unwrap()
        .unwrap()
        .0
    }

    /// The existing auto compressor's saved state of a room: "level:max:len:head,..." and
    /// last_compressed.
    fn saved_state(room: &str) -> String {
        Spi::get_one::<String>(&format!(
            "SELECT coalesce(string_agg(format('%s:%s:%s:%s', level_num, max_size, current_length, current_head), ',' ORDER BY level_num), '')
                 || ' last=' || coalesce((SELECT last_compressed::text FROM state_compressor_progress WHERE room_id = {0}), 'none')
             FROM state_compressor_state WHERE room_id = {0}",
            lit(room)
        ))
        .unwrap()
        .unwrap()
    }

    /// Chunked runs give the tree of one run: the worked example in chunks of 7, and the
    /// sequence of (chunk size, chunks) (8,1), (100,1), (1,2), (5,1), (5,1).
    #[pg_test]
    fn chunked_runs_give_the_tree_of_one_run() {
        setup();
        for sequence in [vec![(7, 2)], vec![(8, 1), (100, 1), (1, 2), (5, 1), (5, 1)]] {
            Spi::run("TRUNCATE state_groups, state_group_edges, state_groups_state").unwrap();
            Spi::run("DROP TABLE IF EXISTS state_compressor_state, state_compressor_progress, state_compressor_total_progress").unwrap();
            member_chain(ROOM, 0, 1, 14, 2);
            let before = states(ROOM);
            for (size, chunks) in &sequence {
                for _ in 0..*chunks {
                    let r = chunk(&format!(
                        "{}, chunk_size => {size}, levels => '{{3,3}}', method => 'levels'",
                        lit(ROOM)
                    ));
                    assert!(
                        ["compressed", "done"].contains(&r["outcome"].as_str().unwrap()),
                        "{sequence:?}: {r}"
                    );
                    assert_eq!(states(ROOM), before, "{sequence:?}");
                }
            }
            assert_eq!(edges(ROOM), WORKED_EXAMPLE.to_vec(), "{sequence:?}");
            assert_eq!(saved_state(ROOM), "1:3:2:13,2:3:1:12 last=13", "{sequence:?}");
        }
        // what the existing tool saves after groups 0..6, and that a run ends with 'done'
        Spi::run("TRUNCATE state_groups, state_group_edges, state_groups_state, state_compressor_state, state_compressor_progress, synapse_compress.chunks").unwrap();
        member_chain(ROOM, 0, 1, 14, 2);
        chunk(&format!("{}, chunk_size => 7, levels => '{{3,3}}', method => 'levels'", lit(ROOM)));
        assert_eq!(saved_state(ROOM), "1:3:1:6,2:3:2:6 last=6");
        assert_eq!(count("SELECT count(*) FROM synapse_compress.chunks WHERE outcome = 'compressed'"), 1);
    }

    /// A room the existing auto compressor left after groups 0..6 (its edges written, its
    /// levels and progress saved the way it saves them) continues to the same tree.
    #[pg_test]
    fn continues_where_the_existing_tool_stopped() {
        setup();
        member_chain(ROOM, 0, 1, 14, 2);
        let before = states(ROOM);
        // the existing tool's first chunk: same tree for 0..6 (a whole-room call limited to
        // them writes exactly that), then its tables
        compress(&format!("{}, levels => '{{3,3}}', max_state_group => 6, method => 'levels'", lit(ROOM)));
        Spi::run(
            "CREATE TABLE state_compressor_state (room_id TEXT NOT NULL, level_num INT NOT NULL, max_size INT NOT NULL,
                 current_length INT NOT NULL, current_head BIGINT, UNIQUE (room_id, level_num));
             CREATE TABLE state_compressor_progress (room_id TEXT PRIMARY KEY, last_compressed BIGINT NOT NULL);
             CREATE TABLE state_compressor_total_progress (lock CHAR(1) NOT NULL DEFAULT 'X' UNIQUE,
                 lowest_uncompressed_group BIGINT NOT NULL, CHECK (lock = 'X'));
             INSERT INTO state_compressor_total_progress (lowest_uncompressed_group) VALUES (0);
             INSERT INTO state_compressor_state VALUES ('!room:example.org', 1, 3, 1, 6), ('!room:example.org', 2, 3, 2, 6);
             INSERT INTO state_compressor_progress VALUES ('!room:example.org', 6);",
        )
        .unwrap();
        let r = chunk(&format!("{}, chunk_size => 500, levels => '{{3,3}}', method => 'levels'", lit(ROOM)));
        assert_eq!(r["outcome"], "compressed", "{r}");
        assert_eq!(r["first_group"], 7, "{r}");
        assert_eq!(edges(ROOM), WORKED_EXAMPLE.to_vec());
        assert_eq!(states(ROOM), before);
        assert_eq!(chunk(&lit(ROOM))["outcome"], "done");
    }

    /// Saved state that no longer fits is reset with a NOTICE, never a crash: a head Synapse
    /// purged, a head of another room or beyond the progress, other level sizes; a room that
    /// no longer exists is dropped from progress.
    #[pg_test]
    fn unusable_saved_state_is_reset_not_fatal() {
        setup();
        member_chain(ROOM, 0, 1, 40, 5);
        member_chain(OTHER, 1000, 1, 10, 5);
        let before = states(ROOM);
        chunk(&format!("{}, chunk_size => 10, levels => '{{3,3}}', method => 'levels'", lit(ROOM)));
        let bad = [
            (
                "UPDATE state_compressor_state SET current_head = 99999 WHERE level_num = 1",
                "no longer exists",
            ),
            (
                "UPDATE state_compressor_state SET current_head = 1001 WHERE level_num = 1",
                "no longer exists in the room",
            ),
            (
                "UPDATE state_compressor_state SET current_head = 35 WHERE level_num = 2",
                "beyond the last compressed",
            ),
            ("SELECT 1", "differ from the requested"),
        ];
        for (i, (corruption, why)) in bad.iter().enumerate() {
            Spi::run(corruption).unwrap();
            let levels = if i == 3 { "{100,50,25}" } else { "{3,3}" };
            let r =
                chunk(&format!("{}, chunk_size => 5, levels => '{levels}', method => 'levels'", lit(ROOM)));
            assert!(
                ["compressed", "skipped", "unchanged"].contains(&r["outcome"].as_str().unwrap()),
                "{corruption}: {r}"
            );
            assert!(r["details"]["levels_reset"].as_str().unwrap_or("").contains(why), "{corruption}: {r}");
            assert_eq!(states(ROOM), before, "{corruption}");
        }
        // the room is purged: dropped from the progress tables
        Spi::run(&format!("DELETE FROM state_groups WHERE room_id = {}", lit(ROOM))).unwrap();
        let r = chunk(&lit(ROOM));
        assert_eq!(r["outcome"], "gone", "{r}");
        assert_eq!(count("SELECT count(*) FROM state_compressor_progress"), 0);
        assert_eq!(count("SELECT count(*) FROM state_compressor_state"), 0);
    }

    /// A chunk that would not save rows is left as it is, with progress advanced and levels
    /// reset, in plain words.
    #[pg_test]
    fn a_chunk_that_saves_nothing_is_skipped_and_progress_advances() {
        setup();
        // one snapshot, then pure deltas: starting a chunk at 6 with empty levels would make 6 a
        // snapshot, which only adds rows
        member_chain(ROOM, 1, 1, 10, 100);
        let dump_before = dump();
        Spi::run(
            "SELECT * FROM synapse_compress.rooms_to_compress();
             INSERT INTO state_compressor_progress VALUES ('!room:example.org', 5)",
        )
        .unwrap();
        let r = chunk(&format!("{}, chunk_size => 5, method => 'levels'", lit(ROOM)));
        assert_eq!(r["outcome"], "skipped", "{r}");
        assert!(r["message"].as_str().unwrap().contains("would not save rows"), "{r}");
        assert_eq!(dump(), dump_before);
        assert_eq!(saved_state(ROOM), "1:100:0:,2:50:0:,3:25:0: last=10");
    }

    #[pg_test]
    fn chunk_arguments_are_checked() {
        setup();
        member_chain(ROOM, 1, 1, 10, 5);
        let call =
            |args: &str| error_of(&format!("SELECT * FROM synapse_compress.compress_room_chunk({args})"));
        let r = lit(ROOM);
        for (args, state) in [
            ("NULL".to_owned(), "22004"),
            (format!("{r}, chunk_size => 0"), "22023"),
            (format!("{r}, chunk_size => NULL"), "22004"),
            (format!("{r}, levels => '{{0}}'"), "22023"),
            (format!("{r}, levels => '{{{{1}},{{2}}}}'"), "22023"),
        ] {
            let e = call(&args);
            assert!(e.starts_with(state), "{args}: {e}");
        }
    }

    /// Two branches growing side by side from ids `first..first+n` (each group extends the group
    /// two before it), each stored with a snapshot every `every` hops of its own branch: the
    /// level method, which walks ids, jumps between the branches and grows the room.
    fn two_branches(room: &str, first: i64, n: i64, every: i64) {
        let r = lit(room);
        let snapshot = format!("(i < 2 OR (i / 2) % {every} = 0)");
        Spi::run(&format!(
            "INSERT INTO state_groups (id, room_id, event_id)
                 SELECT {first} + i, {r}, '$ev' || i FROM generate_series(0, {n} - 1) i;
             INSERT INTO state_group_edges (state_group, prev_state_group)
                 SELECT {first} + i, {first} + i - 2 FROM generate_series(0, {n} - 1) i WHERE NOT {snapshot};
             INSERT INTO state_groups_state (state_group, room_id, type, state_key, event_id)
                 SELECT {first} + i, {r}, CASE WHEN i % 2 = 0 THEN 'a' ELSE 'b' END, 'k' || i, '$e' || i
                 FROM generate_series(0, {n} - 1) i WHERE NOT {snapshot};
             INSERT INTO state_groups_state (state_group, room_id, type, state_key, event_id)
                 SELECT {first} + i, {r}, CASE WHEN i % 2 = 0 THEN 'a' ELSE 'b' END, 'k' || k, '$e' || k
                 FROM generate_series(0, {n} - 1) i, generate_series(i % 2, i, 2) k WHERE {snapshot};"
        ))
        .unwrap();
    }

    /// The longest chain (counting the group itself) a read of each group of the room walks,
    /// along the real edges, for the groups with `min <= id <= max`.
    fn longest_chain(room: &str, min: i64, max: i64) -> i64 {
        count(&format!(
            "WITH RECURSIVE c(g, at, n) AS (
                 SELECT id, id, 1 FROM state_groups WHERE room_id = {} AND id BETWEEN {min} AND {max}
               UNION ALL
                 SELECT c.g, e.prev_state_group, c.n + 1 FROM c JOIN state_group_edges e ON e.state_group = c.at)
             SELECT max(n) FROM c",
            lit(room)
        ))
    }

    /// Per group of the room (`$1`), the bigint pair `sql` selects: group id and a measure.
    fn per_group(sql: &str, room: &str) -> Vec<(i64, i64)> {
        Spi::connect(|c| {
            c.select(sql, None, &[room.into()])
                .unwrap()
                .map(|row| (row.get::<i64>(1).unwrap().unwrap(), row.get::<i64>(2).unwrap().unwrap()))
                .collect()
        })
    }

    /// Per group of the room, its chain length along the real edges.
    fn chains(room: &str) -> Vec<(i64, i64)> {
        per_group(
            "WITH RECURSIVE c(g, at, n) AS (
                 SELECT id, id, 1 FROM state_groups WHERE room_id = $1
               UNION ALL
                 SELECT c.g, e.prev_state_group, c.n + 1 FROM c JOIN state_group_edges e ON e.state_group = c.at)
             SELECT g, max(n) FROM c GROUP BY g ORDER BY g",
            room,
        )
    }

    /// The default method writes a forked room that the reference level method would grow (and
    /// so refuses), and every group resolves the same.
    #[pg_test]
    fn the_default_method_writes_a_forked_room_the_reference_refuses() {
        setup();
        two_branches(ROOM, 0, 400, 50);
        let before = states(ROOM);
        let dump_before = dump();
        let reference = compress(&format!("{}, method => 'levels'", lit(ROOM)));
        assert_eq!(reference["applied"], false, "{reference}");
        assert!(reference["message"].as_str().unwrap().contains("rows would not shrink"), "{reference}");
        assert!(reference["max_chain"].is_null(), "{reference}");
        assert_eq!(dump(), dump_before);

        let r = compress(&lit(ROOM));
        assert_eq!(r["applied"], true, "{r}");
        assert_eq!(r["max_chain"], 100, "{r}");
        let rows_before = r["rows_before"].as_i64().unwrap();
        let rows_after = r["rows_after"].as_i64().unwrap();
        assert_eq!(rows_after, count("SELECT count(*) FROM state_groups_state"));
        assert!(rows_after < rows_before, "{r}");
        assert!(rows_after < reference["rows_after"].as_i64().unwrap(), "{r} vs {reference}");
        assert!(r["max_chain_after"].as_i64().unwrap() <= 100, "{r}");
        assert!(longest_chain(ROOM, 0, 399) <= 100);
        assert_eq!(states(ROOM), before);
        assert_eq!(
            count(&format!("SELECT count(*) FROM synapse_compress_test.graph_problems({})", lit(ROOM))),
            0
        );
        // every edge stays on its branch
        assert_eq!(
            count("SELECT count(*) FROM state_group_edges WHERE (state_group - prev_state_group) % 2 <> 0"),
            0
        );
    }

    /// max_chain counts the chains through groups before the range (context), along the real
    /// edges: a range whose predecessors already have long chains.
    #[pg_test]
    fn max_chain_is_honoured_through_context_groups() {
        setup();
        // snapshots at 0 and 100; groups 90..129 in range, 0..89 before it (chains up to 90)
        member_chain(ROOM, 0, 1, 130, 100);
        let before = states(ROOM);
        let outside = dump_groups("state_group < 90");
        let r = compress(&format!("{}, min_state_group => 89", lit(ROOM)));
        assert_eq!(r["applied"], true, "{r}");
        assert_eq!(r["state_groups"], 40, "{r}");
        assert_eq!(r["max_chain_before"], 100, "{r}");
        let after = r["max_chain_after"].as_i64().unwrap();
        assert!(after <= 100, "{r}");
        assert_eq!(longest_chain(ROOM, 90, 129), after, "{r}");
        assert!(r["rows_after"].as_i64().unwrap() < r["rows_before"].as_i64().unwrap(), "{r}");
        // group 100 became a delta on a shallow context group
        let base = count("SELECT prev_state_group FROM state_group_edges WHERE state_group = 100");
        assert!(base < 90, "group 100 is based on {base}");
        assert_eq!(dump_groups("state_group < 90"), outside);
        assert_eq!(states(ROOM), before);

        // a tighter cap than the chains before the range allow: within the cap, or left alone
        // and said so
        Spi::run("TRUNCATE state_groups, state_group_edges, state_groups_state").unwrap();
        member_chain(ROOM, 0, 1, 130, 100);
        let dump_before = dump();
        let r = compress(&format!("{}, min_state_group => 89, max_chain => 60", lit(ROOM)));
        assert_eq!(r["max_chain"], 60, "{r}");
        if r["applied"] == true {
            assert!(longest_chain(ROOM, 90, 129) <= 60, "{r}");
        } else {
            assert!(r["message"].as_str().unwrap().contains("already exceed max_chain 60"), "{r}");
            assert_eq!(dump(), dump_before);
        }
        assert_eq!(states(ROOM), before);
    }

    /// A room whose chains already exceed max_chain, where no tree within the cap has fewer rows:
    /// left as it is, in plain words.
    #[pg_test]
    fn a_room_over_the_cap_is_left_alone_and_reported() {
        setup();
        member_chain(ROOM, 1, 1, 12, 1000);
        let dump_before = dump();
        let r = compress(&format!("{}, max_chain => 5", lit(ROOM)));
        assert_eq!(r["applied"], false, "{r}");
        assert_eq!(r["max_chain"], 5, "{r}");
        assert_eq!(r["max_chain_after"], 12, "{r}");
        assert_eq!(r["rows_after"], r["rows_before"], "{r}");
        assert_eq!(
            r["message"],
            "the room's chains already exceed max_chain 5; left as it is (no tree within the cap has fewer rows than now)",
            "{r}"
        );
        assert_eq!(dump(), dump_before);
        let r = chunk(&format!("{}, max_chain => 5", lit(ROOM)));
        assert_eq!(r["outcome"], "skipped", "{r}");
        assert!(r["message"].as_str().unwrap().contains("already exceed max_chain 5"), "{r}");
        assert_eq!(r["details"]["chain_cap_unmet"], true, "{r}");
        assert_eq!(dump(), dump_before);
    }

    /// A group in range whose successor lies outside the range never gets deeper: the chains of
    /// the groups after the range stay as they are, whatever max_chain allows.
    #[pg_test]
    fn groups_with_successors_after_the_range_never_get_deeper() {
        setup();
        // snapshots at 1, 101, 201, 301; range 151..250: making 201 a delta on 200 would save
        // 200 rows but push 251..300 (deltas on 250) past 150
        member_chain(ROOM, 1, 1, 400, 100);
        let before = states(ROOM);
        let chains_before = chains(ROOM);
        let outside = dump_groups("state_group <= 150 OR state_group > 250");
        let r = compress(&format!(
            "{}, min_state_group => 150, max_state_group => 250, max_chain => 150",
            lit(ROOM)
        ));
        assert_eq!(r["state_groups"], 100, "{r}");
        assert_eq!(dump_groups("state_group <= 150 OR state_group > 250"), outside);
        let chains_after = chains(ROOM);
        for ((g, b), (_, a)) in chains_before.iter().zip(&chains_after) {
            if *g > 250 {
                assert!(a <= b, "group {g} after the range got deeper: {b} -> {a} ({r})");
            }
            assert!(*a <= 150.max(*b), "group {g}: {b} -> {a} ({r})");
        }
        assert_eq!(states(ROOM), before);
        // the same in chunks: the first chunk's last groups carry the next chunk
        Spi::run("TRUNCATE state_groups, state_group_edges, state_groups_state").unwrap();
        member_chain(ROOM, 1, 1, 400, 100);
        Spi::run("SELECT * FROM synapse_compress.rooms_to_compress(); INSERT INTO state_compressor_progress VALUES ('!room:example.org', 150)").unwrap();
        let r = chunk(&format!("{}, chunk_size => 100, max_chain => 150", lit(ROOM)));
        assert_eq!(r["last_group"], 250, "{r}");
        let chains_after = chains(ROOM);
        for ((g, b), (_, a)) in chains_before.iter().zip(&chains_after) {
            if *g > 250 {
                assert!(a <= b, "chunk: group {g} after the range got deeper: {b} -> {a} ({r})");
            }
        }
        assert_eq!(states(ROOM), before);
    }

    /// Fork-aware runs in chunks of 500 end within 2% of the rows of one whole-room call, with
    /// every state the same; only last_compressed is kept, the room's levels are reset.
    #[pg_test]
    fn fork_aware_chunks_end_near_one_run() {
        setup();
        const CHUNKED: &str = "!chunked:example.org";
        for (shape, n) in [("branches", 1600), ("chain", 2000)] {
            Spi::run("TRUNCATE state_groups, state_group_edges, state_groups_state").unwrap();
            Spi::run("DROP TABLE IF EXISTS state_compressor_state, state_compressor_progress, state_compressor_total_progress").unwrap();
            if shape == "branches" {
                two_branches(ROOM, 0, n, 50);
                two_branches(CHUNKED, 100_000, n, 50);
            } else {
                member_chain(ROOM, 0, 1, n, 100);
                member_chain(CHUNKED, 100_000, 1, n, 100);
            }
            let (before, before_chunked) = (states(ROOM), states(CHUNKED));
            let one = compress(&lit(ROOM));
            assert_eq!(one["applied"], true, "{shape}: {one}");
            let mut chunks = 0;
            loop {
                let r = chunk(&format!("{}, chunk_size => 500", lit(CHUNKED)));
                if r["outcome"] == "done" {
                    break;
                }
                assert!(
                    ["compressed", "unchanged"].contains(&r["outcome"].as_str().unwrap()),
                    "{shape}: {r}"
                );
                assert_eq!(r["max_chain"], 100, "{r}");
                assert_eq!(r["details"]["method"], "fork_aware", "{r}");
                chunks += 1;
            }
            assert_eq!(chunks, (n + 499) / 500, "{shape}");
            let rows_one =
                count(&format!("SELECT count(*) FROM state_groups_state WHERE room_id = {}", lit(ROOM)));
            let rows_chunked =
                count(&format!("SELECT count(*) FROM state_groups_state WHERE room_id = {}", lit(CHUNKED)));
            assert!(
                (rows_chunked - rows_one).abs() * 50 <= rows_one,
                "{shape}: chunks {rows_chunked} rows, one run {rows_one}"
            );
            assert!(longest_chain(CHUNKED, 100_000, 100_000 + n) <= 100, "{shape}");
            assert_eq!(states(ROOM), before, "{shape}");
            assert_eq!(states(CHUNKED), before_chunked, "{shape}");
            assert_eq!(saved_state(CHUNKED), format!("1:100:0:,2:50:0:,3:25:0: last={}", 100_000 + n - 1));
        }
        // after a chunk of the level method, a fork-aware chunk resets the saved levels; the level
        // method then starts afresh without a reset NOTICE
        Spi::run("TRUNCATE state_groups, state_group_edges, state_groups_state, state_compressor_state, state_compressor_progress").unwrap();
        member_chain(ROOM, 0, 1, 30, 5);
        let before = states(ROOM);
        chunk(&format!("{}, chunk_size => 10, method => 'levels'", lit(ROOM)));
        assert_ne!(saved_state(ROOM), "1:100:0:,2:50:0:,3:25:0: last=9");
        chunk(&format!("{}, chunk_size => 10", lit(ROOM)));
        assert_eq!(saved_state(ROOM), "1:100:0:,2:50:0:,3:25:0: last=19");
        let r = chunk(&format!("{}, chunk_size => 10, method => 'levels'", lit(ROOM)));
        assert!(r["details"]["levels_reset"].is_null(), "{r}");
        assert_eq!(r["first_group"], 20, "{r}");
        assert_eq!(states(ROOM), before);
    }

    /// method and max_chain: a bad method name, NULL, max_chain with the level method, a
    /// max_chain below 1, levels with the fork-aware method, on every compressing entry point.
    #[pg_test]
    fn method_and_max_chain_are_checked() {
        setup();
        member_chain(ROOM, 1, 1, 30, 10);
        let before = dump();
        let r = lit(ROOM);
        let cases = [
            ("method => 'zip'", "22023", "method must be 'fork_aware' or 'levels', not 'zip'"),
            ("method => 'LEVELS'", "22023", "method must be 'fork_aware' or 'levels'"),
            ("method => NULL", "22004", "method must not be NULL"),
            (
                "method => 'levels', max_chain => 100",
                "22023",
                "max_chain (100) applies only to method 'fork_aware'",
            ),
            ("max_chain => 0", "22023", "max_chain is 0; it must be at least 1"),
            ("max_chain => -5", "22023", "max_chain is -5; it must be at least 1"),
            ("method => 'fork_aware', max_chain => 0", "22023", "max_chain is 0"),
            ("levels => '{50,25}'", "22023", "apply only to method 'levels'"),
            ("levels => '{50,25}', max_chain => 50", "22023", "apply only to method 'levels'"),
        ];
        for (args, state, text) in cases {
            for f in ["compress_room_state", "compress_room_state_sql", "compress_room_chunk"] {
                let e = error_of(&format!("SELECT * FROM synapse_compress.{f}({r}, {args})"));
                assert!(e.starts_with(state) && e.contains(text), "{f}({args}): {e}");
                assert!(!e.contains("invalid levels"), "{f}({args}): {e}");
            }
            let e = error_of(&format!("CALL synapse_compress.compress_largest_rooms({args})"));
            assert!(e.starts_with(state) && e.contains(text), "compress_largest_rooms({args}): {e}");
        }
        // levels errors keep their wording, and the accepted combinations work
        let e = error_of(&format!(
            "SELECT * FROM synapse_compress.compress_room_state({r}, levels => '{{0}}', method => 'levels')"
        ));
        assert!(e.starts_with("22023") && e.contains("invalid levels: level 1 has size 0"), "{e}");
        assert_eq!(dump(), before);
        assert_eq!(count("SELECT count(*) FROM synapse_compress.runs"), 0);
        let states_before = states(ROOM);
        let ok = compress(&format!("{r}, levels => '{{100,50,25}}', max_chain => 1000, dry_run => true"));
        assert_eq!(ok["max_chain"], 1000, "{ok}");
        let ok = compress(&format!("{r}, levels => '{{7}}', method => 'levels', dry_run => true"));
        assert!(ok["max_chain"].is_null(), "{ok}");
        assert_eq!(states(ROOM), states_before);
        assert_eq!(dump(), before);
    }

    /// `dry_run` gives a rehearsal script (it ends in ROLLBACK); results carry their timings and
    /// method in `details`.
    #[pg_test]
    fn dry_run_scripts_roll_back_and_results_have_details() {
        setup();
        member_chain(ROOM, 1, 1, 50, 10);
        let last = Spi::get_one::<String>(
            "SELECT line FROM synapse_compress.compress_room_state_sql('!room:example.org', dry_run => true)
                 WITH ORDINALITY AS s(line, n) ORDER BY n DESC LIMIT 1",
        )
        .unwrap();
        assert_eq!(last.as_deref(), Some("ROLLBACK;"));
        let r = compress(&lit(ROOM));
        assert_eq!(r["applied"], true, "{r}");
        assert_eq!(r["details"]["method"], "fork_aware", "{r}");
        assert_eq!(r["details"]["max_chain"], 100, "{r}");
        assert!(r["details"]["load_ms"].as_f64().unwrap() >= 0.0, "{r}");
        assert!(r["details"]["write_ms"].as_f64().unwrap() > 0.0, "{r}");
    }

    /// A chain of `n` groups from id `first` whose state holds `statics` members who never
    /// change and `users` members who change in turn (group `i` changes member `i % users`): a
    /// snapshot every `every` groups, a one-row delta otherwise.
    fn churning_chain(room: &str, first: i64, n: i64, every: i64, statics: i64, users: i64) {
        let r = lit(room);
        Spi::run(&format!(
            "INSERT INTO state_groups (id, room_id, event_id)
                 SELECT {first} + i, {r}, '$ev' || i FROM generate_series(0, {n} - 1) i;
             INSERT INTO state_group_edges (state_group, prev_state_group)
                 SELECT {first} + i, {first} + i - 1 FROM generate_series(0, {n} - 1) i WHERE i % {every} <> 0;
             INSERT INTO state_groups_state (state_group, room_id, type, state_key, event_id)
                 SELECT {first} + i, {r}, 'm.room.member', '@c' || (i % {users}) || ':x', '$c' || {first} || '_' || i
                 FROM generate_series(0, {n} - 1) i WHERE i % {every} <> 0;
             INSERT INTO state_groups_state (state_group, room_id, type, state_key, event_id)
                 SELECT {first} + i, {r}, 'm.room.member', '@c' || (j % {users}) || ':x', '$c' || {first} || '_' || j
                 FROM generate_series(0, {n} - 1) i, generate_series(greatest(0, i - {users} + 1), i) j
                 WHERE i % {every} = 0;
             INSERT INTO state_groups_state (state_group, room_id, type, state_key, event_id)
                 SELECT {first} + i, {r}, 'm.room.member', '@s' || k || ':x', '$s' || k
                 FROM generate_series(0, {n} - 1) i, generate_series(1, {statics}) k WHERE i % {every} = 0;"
        ))
        .unwrap();
    }

    /// Per group of the room, the rows Synapse's read of it fetches: every row of every group on
    /// its chain.
    fn reads(room: &str) -> Vec<(i64, i64)> {
        per_group(
            "WITH RECURSIVE c(g, at) AS (
                 SELECT id, id FROM state_groups WHERE room_id = $1
               UNION ALL
                 SELECT c.g, e.prev_state_group FROM c JOIN state_group_edges e ON e.state_group = c.at)
             SELECT c.g, count(s.state_group) FROM c LEFT JOIN state_groups_state s ON s.state_group = c.at
             GROUP BY c.g ORDER BY c.g",
            room,
        )
    }

    /// `synapse_compress.read_budget` bounds the rows Synapse's reads fetch after the default
    /// method: off lets them grow on a room whose members change, median keeps the median and
    /// every higher percentile, strict keeps every group's read; every group resolves the same.
    #[pg_test]
    fn the_read_budget_setting_bounds_what_reads_fetch() {
        setup();
        let rooms =
            [("off", "!off:x"), ("median", "!median:x"), ("strict", "!strict:x"), ("strict", "!adding:x")];
        for (i, (_, room)) in rooms.iter().enumerate().take(3) {
            churning_chain(room, 1 + 1000 * i as i64, 600, 100, 150, 30);
        }
        // Only new members: deltas never repeat a key, so even the strict budget writes.
        member_chain("!adding:x", 4001, 1, 300, 100);
        let percentile = |reads: &[(i64, i64)], p: f64| {
            let mut r: Vec<i64> = reads.iter().map(|x| x.1).collect();
            r.sort();
            r[((p * r.len() as f64).ceil() as usize).max(1) - 1]
        };
        let (mut rows_before, mut rows_after) = (Vec::new(), Vec::new());
        for (budget, room) in rooms {
            let before = states(room);
            let reads_before = reads(room);
            Spi::run(&format!("SET synapse_compress.read_budget = {budget}")).unwrap();
            let r = compress(&lit(room));
            assert_eq!(r["applied"], budget != "strict" || room == "!adding:x", "{budget}: {r}");
            assert_eq!(r["details"]["read_budget"], budget, "{r}");
            assert_eq!(states(room), before, "{budget}");
            let reads_after = reads(room);
            for p in [0.5, 0.99, 1.0] {
                let (b, a) = (percentile(&reads_before, p), percentile(&reads_after, p));
                let key = if p == 1.0 { "max".to_string() } else { format!("p{}", (p * 100.0) as i64) };
                assert_eq!(r["details"]["read_rows_before"][&key], b, "{budget} {key}: {r}");
                assert_eq!(r["details"]["read_rows_after"][&key], a, "{budget} {key}: {r}");
                match budget {
                    "off" if p == 0.5 => assert!(a > b, "without a budget this room's reads grow: {r}"),
                    "off" => {}
                    _ => assert!(a <= b, "{budget} {key}: {b} -> {a}"),
                }
            }
            if budget == "strict" {
                for ((g, b), (_, a)) in reads_before.iter().zip(&reads_after) {
                    assert!(a <= b, "group {g}: a read fetches {a} rows, {b} before");
                }
            }
            rows_before.push(r["rows_before"].as_i64().unwrap());
            rows_after.push(r["rows_after"].as_i64().unwrap());
        }
        Spi::run("RESET synapse_compress.read_budget").unwrap();
        assert!(rows_after[0] < rows_after[1] && rows_after[1] <= rows_after[2], "{rows_after:?}");
        assert!(rows_after[3] < rows_before[3], "{rows_before:?} -> {rows_after:?}");
        let bad = error_of("SET synapse_compress.read_budget = 'sometimes'");
        assert!(bad.starts_with("22023"), "{bad}");
        // The level method builds the existing tool's tree: no budget applies.
        Spi::run("SET synapse_compress.read_budget = strict").unwrap();
        member_chain(ROOM, 5000, 1, 30, 10);
        let r = compress(&format!("{}, method => 'levels', levels => '{{3,3}}'", lit(ROOM)));
        assert!(r["details"]["read_budget"].is_null(), "{r}");
        Spi::run("RESET synapse_compress.read_budget").unwrap();
    }
}
