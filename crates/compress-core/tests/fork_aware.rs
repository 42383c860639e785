//! The fork-aware method on hand-made rooms and on rooms written the way Synapse writes them:
//! fewer rows than the level method where rooms fork, chains within the cap through context
//! groups, never more rows than now, chunked and incremental runs.

mod common;

use common::{
    check_plan_naively, compress_and_check, fork_and_check, grow_busy_room, member_chain, run_fork_chunks,
    Rng, Tables,
};
use compress_core::{
    compress_fork_aware, verify, verify_with_cap, verify_with_limits, ConfigError, ForkAwareOptions,
    GroupGraph, ReadBudget, RoomBuilder,
};

fn options(max_chain: u32) -> ForkAwareOptions {
    ForkAwareOptions { max_chain, ..ForkAwareOptions::default() }
}

/// Two branches growing side by side (each group extends the group two before it), each stored
/// with a snapshot every `every` hops of its own branch.
fn two_branches(n: i64, every: i64) -> Tables {
    let mut t = Tables::default();
    for g in 0..n {
        let branch = if g % 2 == 0 { "a" } else { "b" };
        let row = (branch.to_owned(), format!("k{g}"), format!("$e{g}"));
        if g < 2 || (g / 2) % every == 0 {
            let mut rows: Vec<_> = (g % 2..=g)
                .step_by(2)
                .map(|k| (branch.to_owned(), format!("k{k}"), format!("$e{k}")))
                .collect();
            rows.sort();
            t.groups.insert(g, (None, rows));
        } else {
            t.groups.insert(g, (Some(g - 2), vec![row]));
        }
    }
    t
}

#[test]
fn forked_room_where_the_level_method_grows_the_room() {
    let tables = two_branches(400, 50);
    let (_, levels) = compress_and_check(&tables, -1, &[100, 50, 25]);
    assert!(
        levels.stats.rows_after > levels.stats.rows_before,
        "the level method should grow this room: {:?}",
        levels.stats
    );
    let (after, plan) = fork_and_check(&tables, -1, &options(100));
    let s = &plan.stats;
    // Each branch of 200 groups needs two jumps back of about 100 rows to stay within 100: the
    // snapshots (of 51, 101 and 151 rows per branch) go, about 397 rows per branch remain.
    assert_eq!(s.rows_after, 794, "{s:?}");
    assert!(s.max_chain_after <= 100);
    assert!(!s.chain_cap_unmet);
    // Every edge stays on its branch.
    assert!(after.groups.iter().all(|(g, v)| v.0.is_none_or(|p| (g - p) % 2 == 0)));
}

#[test]
fn the_cap_counts_context_groups() {
    // A chain of 130 groups with a snapshot at 0 and 100; groups 90.. are in range, 0..89 are
    // context (chains 1..90). Group 100 can only become a delta on a shallow context group, so
    // that its chain plus its subtree (101..129) stays within 100.
    let tables = member_chain(130, 100);
    let (after, plan) = fork_and_check(&tables, 89, &options(100));
    let s = &plan.stats;
    assert_eq!(s.max_chain_before, 100);
    assert!(s.max_chain_after <= 100, "{s:?}");
    assert!(s.rows_after < s.rows_before, "{s:?}");
    let base = after.groups[&100].0.expect("group 100 becomes a delta");
    assert!(base < 90, "group 100 is based on context group {base}");
    assert_eq!(after.max_chain(90..130), s.max_chain_after);
    assert!(after.max_chain([129]) <= 100);

    // With a tighter cap the context chains themselves (up to 90 before the range) leave no
    // room: the groups 90..99 cannot keep their edges, and nothing cheaper than now exists.
    let (_, tight) = fork_and_check(&tables, 89, &options(60));
    assert!(tight.stats.chain_cap_unmet || tight.stats.max_chain_after <= 60, "{:?}", tight.stats);
}

#[test]
fn a_room_already_over_the_cap_is_left_alone_and_reported() {
    // 12 groups, each adding a key to the previous one: chains up to 12, one row per group.
    // Within a cap of 5 some group needs a base further back (more rows): nothing changes.
    let tables = member_chain(12, 1000);
    let (after, plan) = fork_and_check(&tables, -1, &options(5));
    assert!(plan.stats.chain_cap_unmet, "{:?}", plan.stats);
    assert!(plan.changed.is_empty());
    assert_eq!(plan.stats.rows_after, plan.stats.rows_before);
    assert_eq!(plan.stats.max_chain_after, 12);
    assert_eq!(after.groups, tables.groups);
    // Verified without the cap it passes; with the cap it is refused (it does not honour it).
    let room = tables.load(-1);
    let plan = compress_fork_aware(&room, &options(5), &mut || {});
    verify(&room, &plan, &mut || {}).unwrap();
    assert!(verify_with_cap(&room, &plan, Some(5), &mut || {}).is_err());

    // With big snapshots to save, the same cap is met with fewer rows.
    let tables = member_chain(60, 10);
    let (after, plan) = fork_and_check(&tables, -1, &options(5));
    assert!(!plan.stats.chain_cap_unmet);
    assert!(plan.stats.rows_after < plan.stats.rows_before);
    assert!(after.max_chain(after.groups.keys().copied()) <= 5);
}

#[test]
fn the_original_tree_is_kept_when_nothing_beats_it() {
    // A delta chain within the cap with no snapshot but the first: nothing to gain.
    let tables = member_chain(50, 1000);
    let (after, plan) = fork_and_check(&tables, -1, &options(100));
    assert!(plan.changed.is_empty(), "{:?}", plan.stats);
    assert_eq!(after.groups, tables.groups);
    // And a second run over a compressed room does not churn.
    let tables = member_chain(700, 100);
    let (once, first) = fork_and_check(&tables, -1, &options(100));
    let (_, second) = fork_and_check(&once, -1, &options(100));
    assert!(second.stats.rows_after <= first.stats.rows_after);
}

#[test]
fn groups_with_successors_outside_the_range_never_get_deeper() {
    // Groups 0..149 of a chain with a snapshot every 100; group 149's successor 150 is not
    // loaded. Group 149 keeps a chain of at most 50 (its length now) whatever the structure.
    let tables = member_chain(300, 100);
    let range: Vec<i64> = (0..150).collect();
    let room = tables.load_groups(&range, &[]);
    assert!(room.has_outside_successor(room.node_of(149).unwrap()));
    assert!(!room.has_outside_successor(room.node_of(148).unwrap()));
    let plan = compress_fork_aware(&room, &options(150), &mut || {});
    verify_with_cap(&room, &plan, Some(150), &mut || {}).unwrap();
    let after = check_plan_naively(&tables, &room, &plan);
    assert!(after.max_chain([149]) <= tables.max_chain([149]));
    assert!(after.max_chain(150..300) <= 150, "the unseen successors stay within the cap");

    // The same groups loaded without knowing about the successor may deepen 149; verifying
    // that plan against the room that knows refuses it.
    let build = |mark: bool| {
        let groups = range.iter().map(|&g| (g, true)).collect();
        let edges: Vec<(i64, i64)> =
            range.iter().filter_map(|&g| tables.groups[&g].0.map(|p| (g, p))).collect();
        let mut graph = GroupGraph::new(groups, &edges).unwrap();
        if mark {
            graph.mark_outside_successors([149]);
        }
        let mut b = RoomBuilder::new(graph);
        for &g in &range {
            for (t, k, e) in &tables.groups[&g].1 {
                b.add_row(g, t, k, e).unwrap();
            }
        }
        b.finish().unwrap()
    };
    let (blind, knowing) = (build(false), build(true));
    let plan = compress_fork_aware(&blind, &options(150), &mut || {});
    let deeper = check_plan_naively(&tables, &blind, &plan).max_chain([149]);
    assert!(deeper > tables.max_chain([149]), "this case must deepen 149 to test the check");
    let err = verify_with_cap(&knowing, &plan, Some(150), &mut || {}).unwrap_err();
    assert_eq!(err.group, 149, "{err}");
    assert!(err.detail.contains("successors"), "{}", err.detail);
}

/// A room that Synapse wrote (forks, drops, snapshots every 100 hops of the real chains).
fn busy_room(groups: usize, seed: u64) -> Tables {
    let mut tables = Tables::default();
    grow_busy_room(&mut tables, &mut Rng(seed), groups, 100);
    tables
}

#[test]
fn synapse_written_room_in_chunks_stays_close_to_one_run() {
    let tables = busy_room(1500, 7);
    let (one, plan) = fork_and_check(&tables, -1, &options(100));
    let (_, levels) = compress_and_check(&tables, -1, &[100, 50, 25]);
    assert!(plan.stats.rows_after < levels.stats.rows_after, "{:?} {:?}", plan.stats, levels.stats);
    for size in [300, 700] {
        let mut chunked = tables.clone();
        let stats = run_fork_chunks(&mut chunked, &mut None, &options(100), size, usize::MAX, false);
        assert_eq!(stats.len(), 1500_usize.div_ceil(size));
        assert!(chunked.max_chain(chunked.groups.keys().copied()) <= 100);
        let (c, o) = (chunked.rows() as f64, one.rows() as f64);
        assert!(c <= o * 1.03, "chunks of {size}: {c} rows against {o} in one run");
    }
}

#[test]
fn incremental_run_over_new_groups_leaves_old_groups_alone() {
    let mut tables = busy_room(800, 11);
    let mut last = None;
    run_fork_chunks(&mut tables, &mut last, &options(100), usize::MAX, 1, false);
    let compressed = tables.clone();
    // Synapse goes on writing on the compressed room (its chains as they are now).
    grow_busy_room(&mut tables, &mut Rng(12), 400, 100);
    let stats = run_fork_chunks(&mut tables, &mut last, &options(100), usize::MAX, 1, true);
    assert_eq!(stats[0].state_groups, 400);
    for (id, g) in &compressed.groups {
        assert_eq!(&tables.groups[id], g, "old group {id} changed");
    }
    assert!(tables.max_chain(tables.groups.keys().copied()) <= 100);
    assert!(stats[0].rows_after < stats[0].rows_before, "{:?}", stats[0]);
}

#[test]
fn options_are_checked() {
    assert_eq!(ForkAwareOptions::new(100, 32), Ok(ForkAwareOptions::default()));
    assert_eq!(ForkAwareOptions::new(0, 32), Err(ConfigError::MaxChainNotPositive { max_chain: 0 }));
    assert_eq!(ForkAwareOptions::new(-3, 32), Err(ConfigError::MaxChainNotPositive { max_chain: -3 }));
    assert_eq!(ForkAwareOptions::new(100, 0), Err(ConfigError::WindowOutOfRange { window: 0 }));
    assert_eq!(ForkAwareOptions::new(100, 5000), Err(ConfigError::WindowOutOfRange { window: 5000 }));
    assert!(ConfigError::MaxChainNotPositive { max_chain: 0 }.to_string().contains("max_chain"));
}

#[test]
fn max_chain_1_makes_every_group_a_snapshot() {
    let tables = member_chain(30, 1000);
    let (after, plan) = fork_and_check(&tables, -1, &options(1));
    assert!(plan.stats.chain_cap_unmet, "snapshots of every group would grow the room");
    assert_eq!(after.groups, tables.groups);
    let mut t = Tables::default();
    for g in 0..5 {
        t.add(g, None, &[("a", "", "$a")]);
    }
    let (_, plan) = fork_and_check(&t, -1, &options(1));
    assert!(!plan.stats.chain_cap_unmet);
    assert_eq!(plan.stats.max_chain_after, 1);
}

#[test]
fn interrupts_are_checked() {
    let tables = member_chain(2000, 100);
    let room = tables.load(-1);
    let mut calls = 0;
    let plan = compress_fork_aware(&room, &options(100), &mut || calls += 1);
    assert!(calls >= 4 * 2000 / 256, "{calls}");
    verify_with_cap(&room, &plan, Some(100), &mut || {}).unwrap();
}

#[test]
fn loaded_context_after_the_range_keeps_its_chains() {
    // A chain 0..40 with a snapshot every 20, where only 10..29 are in range and 30..39 are
    // loaded as context (an unusual load, but the core must not deepen their chains).
    let tables = member_chain(40, 20);
    let groups = (0..40).map(|g| (g, (10..30).contains(&g))).collect();
    let edges: Vec<(i64, i64)> = (0..40).filter_map(|g| tables.groups[&g].0.map(|p| (g, p))).collect();
    let mut b = RoomBuilder::new(GroupGraph::new(groups, &edges).unwrap());
    for g in 0..40 {
        for (t, k, e) in &tables.groups[&g].1 {
            b.add_row(g, t, k, e).unwrap();
        }
    }
    let room = b.finish().unwrap();
    for cap in [5, 12, 30] {
        let plan = compress_fork_aware(&room, &options(cap), &mut || {});
        verify(&room, &plan, &mut || {}).unwrap();
        let after = check_plan_naively(&tables, &room, &plan);
        if !plan.stats.chain_cap_unmet {
            verify_with_cap(&room, &plan, Some(cap), &mut || {}).unwrap();
            for g in 30..40 {
                assert!(after.max_chain([g]) <= tables.max_chain([g]), "group {g} at cap {cap}");
            }
        }
    }
}

#[test]
fn empty_rooms_ranges_and_huge_caps() {
    let empty = Tables::default().load(-1);
    let plan = compress_fork_aware(&empty, &options(100), &mut || {});
    assert!(plan.changed.is_empty());
    verify_with_cap(&empty, &plan, Some(100), &mut || {}).unwrap();
    // Everything is context.
    let tables = member_chain(50, 10);
    let room = tables.load(1000);
    let plan = compress_fork_aware(&room, &options(5), &mut || {});
    assert!(plan.changed.is_empty());
    assert_eq!(plan.stats.state_groups, 0);
    verify_with_cap(&room, &plan, Some(5), &mut || {}).unwrap();
    // A cap beyond any chain: one delta chain, every snapshot gone.
    let (after, plan) = fork_and_check(&tables, -1, &options(u32::MAX));
    assert_eq!(plan.stats.rows_after, 50);
    assert_eq!(after.max_chain([49]), 50);
}

#[test]
fn read_budgets_trade_rows_for_reads_on_a_busy_room() {
    // Members join, leave and change: without a budget, fewer snapshots mean deltas that repeat
    // keys the snapshot above them holds, and reads fetch more rows than now.
    let tables = busy_room(1500, 7);
    let ids: Vec<i64> = tables.groups.keys().copied().collect();
    let now = tables.read_percentiles(&ids);
    let (off, off_plan) = fork_and_check(&tables, -1, &options(100));
    let grown = off.read_percentiles(&ids);
    assert!(grown.p50 > now.p50, "this room must show the growth: {now:?} -> {grown:?}");
    assert_eq!(off_plan.stats.read_budget, Some(ReadBudget::Off));
    // fork_and_check also checks every group's read against its limit, naively.
    let (median, median_plan) =
        fork_and_check(&tables, -1, &options(100).with_read_budget(ReadBudget::Median));
    let m = median.read_percentiles(&ids);
    assert!(m.p50 <= now.p50 && m.p99 <= now.p99 && m.max <= now.max, "{now:?} -> {m:?}");
    let (strict, strict_plan) =
        fork_and_check(&tables, -1, &options(100).with_read_budget(ReadBudget::Strict));
    assert!(ids.iter().all(|&id| strict.read(id) <= tables.read(id)));
    // Each budget saves fewer rows than the looser one, and none grows the room.
    let rows = |p: &compress_core::Plan| p.stats.rows_after;
    assert!(rows(&off_plan) < rows(&median_plan), "{} {}", rows(&off_plan), rows(&median_plan));
    assert!(rows(&median_plan) <= rows(&strict_plan));
    assert!(rows(&strict_plan) <= strict_plan.stats.rows_before);
    assert!(rows(&median_plan) < median_plan.stats.rows_before, "the median budget still saves rows");
}

#[test]
fn a_strict_read_budget_still_compresses_rooms_that_only_add_keys() {
    // Every group adds a member: a delta never repeats a key, so reads do not grow and the strict
    // budget saves as much as no budget.
    let tables = member_chain(1000, 100);
    let (_, off) = fork_and_check(&tables, -1, &options(100));
    let (after, strict) = fork_and_check(&tables, -1, &options(100).with_read_budget(ReadBudget::Strict));
    assert_eq!(strict.stats.rows_after, off.stats.rows_after);
    assert!(strict.stats.rows_after * 2 < strict.stats.rows_before, "{:?}", strict.stats);
    assert!(tables.groups.keys().all(|&id| after.read(id) == tables.read(id)));
}

#[test]
fn verification_refuses_a_plan_over_the_read_budget() {
    let tables = busy_room(600, 3);
    let room = tables.load(-1);
    let plan = compress_fork_aware(&room, &options(100), &mut || {});
    verify_with_limits(&room, &plan, Some(100), ReadBudget::Off, &mut || {}).unwrap();
    let err = verify_with_limits(&room, &plan, Some(100), ReadBudget::Strict, &mut || {}).unwrap_err();
    assert!(err.detail.contains("read budget strict"), "{err}");
}

#[test]
fn read_budgets_hold_in_chunks() {
    let tables = busy_room(1200, 5);
    for budget in [ReadBudget::Median, ReadBudget::Strict] {
        let mut chunked = tables.clone();
        // run_fork_chunks checks every group's read after every chunk, naively.
        let stats = run_fork_chunks(
            &mut chunked,
            &mut None,
            &options(100).with_read_budget(budget),
            250,
            usize::MAX,
            true,
        );
        assert_eq!(stats.len(), 5);
        assert!(chunked.rows() <= tables.rows());
    }
}
