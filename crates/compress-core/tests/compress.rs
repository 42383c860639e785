//! Behaviour of compression on hand-made rooms.

mod common;

use common::{compress_and_check, member_chain, Tables};
use compress_core::{compress, verify, Forest, Levels, Plan};

#[test]
fn worked_example_levels_3_3_gives_the_reference_edges() {
    let tables = member_chain(14, 1000);
    let (after, plan) = compress_and_check(&tables, -1, &[3, 3]);
    let edges: Vec<(i64, Option<i64>)> = after.groups.iter().map(|(&g, v)| (g, v.0)).collect();
    let expected = vec![
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
    assert_eq!(edges, expected);
    // 3 is a snapshot of 4 keys, 6 adds 3 keys over 3, 9 adds 3 over 6, 12 a snapshot of 13.
    assert_eq!(after.groups[&3].1.len(), 4);
    assert_eq!(after.groups[&6].1.len(), 3);
    assert_eq!(after.groups[&12].1.len(), 13);
    assert_eq!(plan.stats.max_chain_after, 5); // 11 -> 10 -> 9 -> 6 -> 3
    assert_eq!(plan.stats.max_chain_before, 14);
}

#[test]
fn snapshots_every_3_groups_are_replaced_by_deltas() {
    let tables = member_chain(200, 3);
    let (after, plan) = compress_and_check(&tables, -1, &[100, 50, 25]);
    // Level 2 starts without a head, so group 100 is a snapshot (as in the reference).
    let snapshots: Vec<i64> = after.groups.iter().filter(|g| g.1 .0.is_none()).map(|g| *g.0).collect();
    assert_eq!(snapshots, vec![0, 100]);
    assert_eq!(plan.stats.resets_no_suitable_prev, 0);
    // one row per group, except the snapshot at 100 with 101 keys
    assert_eq!(plan.stats.rows_after, 199 + 101);
    assert!(plan.stats.rows_before > 6000);
}

#[test]
fn second_run_changes_nothing() {
    let tables = member_chain(300, 7);
    let (after, _) = compress_and_check(&tables, -1, &[10, 5]);
    let (again, plan) = compress_and_check(&after, -1, &[10, 5]);
    assert_eq!(plan.stats.state_groups_changed, 0, "{:?}", plan.stats);
    assert_eq!(plan.stats.rows_after, plan.stats.rows_before);
    assert_eq!(again.groups, after.groups);
}

#[test]
fn walks_up_to_a_base_whose_keys_are_a_subset() {
    // 0: {a,b}; 1 -> 0 adds c; 2 is a snapshot that dropped c; 3 -> 2 adds d.
    let mut t = Tables::default();
    t.add(0, None, &[("a", "", "$a"), ("b", "", "$b")]);
    t.add(1, Some(0), &[("c", "", "$c")]);
    t.add(2, None, &[("a", "", "$a"), ("b", "", "$b2")]);
    t.add(3, Some(2), &[("d", "", "$d")]);
    let (after, plan) = compress_and_check(&t, -1, &[10]);
    // the levels propose 1 for group 2, which has c: walk up to 0.
    assert_eq!(after.groups[&2].0, Some(0));
    assert_eq!(after.groups[&2].1, vec![("b".to_owned(), "".to_owned(), "$b2".to_owned())]);
    assert_eq!(after.groups[&3].0, Some(2));
    assert_eq!(plan.stats.resets_no_suitable_prev, 0);
}

#[test]
fn forced_snapshot_when_no_base_is_usable() {
    let mut t = Tables::default();
    t.add(0, None, &[("a", "", "$a"), ("b", "", "$b")]);
    t.add(1, Some(0), &[("c", "", "$c")]);
    t.add(2, None, &[("x", "", "$x")]);
    let (after, plan) = compress_and_check(&t, -1, &[10]);
    assert_eq!(after.groups[&2].0, None);
    assert_eq!(plan.stats.resets_no_suitable_prev, 1);
    assert_eq!(plan.stats.resets_no_suitable_prev_size, 1);
}

#[test]
fn groups_outside_the_range_are_context_only() {
    let tables = member_chain(60, 10);
    let (after, plan) = compress_and_check(&tables, 29, &[5, 5]);
    assert_eq!(plan.stats.state_groups, 30);
    for g in 0..=29 {
        assert_eq!(after.groups[&g], tables.groups[&g]);
    }
    // the first group in range has no candidate: a snapshot of its full state.
    assert_eq!(after.groups[&30].0, None);
    assert_eq!(after.groups[&30].1.len(), 31);
}

#[test]
fn verification_catches_a_wrong_tree() {
    let tables = member_chain(40, 5);
    let room = tables.load(-1);
    let mut levels = Levels::new(&[4, 4]).unwrap();
    let plan = compress(&room, &mut levels, &mut || {});
    verify(&room, &plan, &mut || {}).unwrap();

    // Drop one row of a delta.
    let victim = (0..room.len() as u32).find(|&n| n > 5 && !plan.tree.entries(n).is_empty()).unwrap();
    let mut tree = Forest::with_capacity(room.len());
    for n in 0..room.len() as u32 {
        let mut e = plan.tree.entries(n).to_vec();
        if n == victim {
            e.pop();
        }
        tree.push(plan.tree.parent(n), e);
    }
    let bad = Plan { tree, changed: plan.changed.clone(), stats: plan.stats.clone() };
    let err = verify(&room, &bad, &mut || {}).unwrap_err();
    assert_eq!(err.group, victim as i64);

    // Point a delta at another predecessor without changing its rows.
    let mut tree = Forest::with_capacity(room.len());
    for n in 0..room.len() as u32 {
        let parent = if n == 22 { Some(3) } else { plan.tree.parent(n) };
        tree.push(parent, plan.tree.entries(n).to_vec());
    }
    let bad = Plan { tree, changed: plan.changed.clone(), stats: plan.stats.clone() };
    assert_eq!(verify(&room, &bad, &mut || {}).unwrap_err().group, 22);

    // A snapshot pointed at a group with a key it lacks inherits that key.
    let mut t = Tables::default();
    t.add(0, None, &[("a", "", "$a"), ("b", "", "$b")]);
    t.add(1, None, &[("a", "", "$a")]);
    let room = t.load(-1);
    let plan = compress(&room, &mut Levels::new(&[1]).unwrap(), &mut || {});
    let mut tree = Forest::with_capacity(2);
    tree.push(None, plan.tree.entries(0).to_vec());
    tree.push(Some(0), plan.tree.entries(1).to_vec());
    let bad = Plan { tree: tree.clone(), changed: vec![1], stats: plan.stats.clone() };
    let err = verify(&room, &bad, &mut || {}).unwrap_err();
    assert_eq!(err.group, 1);
    assert!(err.detail.contains("original (absent)"), "{}", err.detail);
    // The same change not listed as changed would not be written: refused too.
    let bad = Plan { tree, changed: vec![], stats: plan.stats.clone() };
    let err = verify(&room, &bad, &mut || {}).unwrap_err();
    assert_eq!(err.group, 1);
    assert!(err.detail.contains("not listed as changed"), "{}", err.detail);
}

#[test]
fn identical_duplicate_rows_are_removed_by_a_rewrite() {
    let mut t = Tables::default();
    t.add(0, None, &[("a", "", "$a")]);
    t.add(1, Some(0), &[("b", "", "$b"), ("b", "", "$b")]);
    let (after, plan) = compress_and_check(&t, -1, &[10]);
    assert_eq!(after.groups[&1].1.len(), 1);
    assert_eq!(plan.stats.state_groups_changed, 1);
}

#[test]
fn interrupts_are_checked() {
    let tables = member_chain(2000, 100);
    let room = tables.load(-1);
    let mut calls = 0;
    let plan = compress(&room, &mut Levels::new(&[100, 50, 25]).unwrap(), &mut || calls += 1);
    assert!(calls >= 2000 / 256, "{calls}");
    let mut calls = 0;
    verify(&room, &plan, &mut || calls += 1).unwrap();
    assert!(calls >= 2000 / 256, "{calls}");
}

/// The existing tool, measured on a 20,000-group member chain with a snapshot every 100 groups and
/// default levels, ends with 54,503 rows; the same algorithm must give the same number.
#[test]
fn chain_20k_matches_the_existing_tools_row_count() {
    let mut b = compress_core::RoomBuilder::new(
        compress_core::GroupGraph::new(
            (0..20_000).map(|g| (g, true)).collect(),
            &(0..20_000).filter(|g| g % 100 != 0).map(|g| (g, g - 1)).collect::<Vec<_>>(),
        )
        .unwrap(),
    );
    for g in 0..20_000i64 {
        let keys = if g % 100 == 0 { 0..=g } else { g..=g };
        for k in keys {
            b.add_row(g, "m.room.member", &format!("@u{k}:x"), &format!("$e{k}")).unwrap();
        }
    }
    let room = b.finish().unwrap();
    let plan = compress(&room, &mut Levels::new(&[100, 50, 25]).unwrap(), &mut || {});
    verify(&room, &plan, &mut || {}).unwrap();
    assert_eq!(plan.stats.rows_before, 2_010_000);
    assert_eq!(plan.stats.rows_after, 54_503);
}
