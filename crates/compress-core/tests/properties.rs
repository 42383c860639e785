//! Property tests over random rooms (forks, overwrites, snapshots that drop keys, duplicate
//! rows): whatever the shape, every group resolves to the same state after compression with
//! either method, the new tree keeps Synapse's rules, a second level run changes nothing, the
//! level method gives exactly the tree of a naive implementation of the existing tool's
//! algorithm, and the fork-aware method honours its cap and its read budget and never returns
//! more rows than now, in one run or in chunks.

mod common;

use common::{
    compress_and_check, fork_and_check, reference_levels, run_fork_chunks, run_level_chunks, Progress, Tables,
};
use compress_core::{ForkAwareOptions, ReadBudget};
use proptest::prelude::*;

/// One group of a random room: a snapshot of some keys (possibly dropping keys its
/// predecessor had) or a delta against a recent or older group (forks).
#[derive(Debug, Clone)]
enum Shape {
    Snapshot(Vec<(u8, u8)>),
    Delta { back: usize, rows: Vec<(u8, u8)>, duplicate_first: bool },
}

fn shape() -> impl Strategy<Value = Shape> {
    let row = (0u8..12, 0u8..4);
    prop_oneof![
        1 => prop::collection::vec(row.clone(), 0..10).prop_map(Shape::Snapshot),
        6 => (1usize..8, prop::collection::vec(row, 0..4), any::<bool>())
            .prop_map(|(back, rows, duplicate_first)| Shape::Delta { back, rows, duplicate_first }),
    ]
}

fn build(shapes: &[Shape], id_step: i64) -> Tables {
    let mut t = Tables::default();
    let mut ids: Vec<i64> = Vec::new();
    for (i, s) in shapes.iter().enumerate() {
        let id = 10 + i as i64 * id_step;
        let (prev, rows) = match s {
            Shape::Snapshot(rows) => (None, rows.clone()),
            Shape::Delta { back, rows, .. } if !ids.is_empty() => {
                (Some(ids[ids.len().saturating_sub(*back)]), rows.clone())
            }
            Shape::Delta { rows, .. } => (None, rows.clone()),
        };
        let mut seen = std::collections::BTreeSet::new();
        let mut out: Vec<(String, String, String)> = Vec::new();
        for (k, v) in rows {
            if seen.insert(k) {
                let t = if k % 3 == 0 { "m.room.member" } else { "m.room.other" };
                out.push((t.to_owned(), format!("k{k}"), format!("$v{k}_{v}")));
            }
        }
        if let (Shape::Delta { duplicate_first: true, .. }, Some(first)) = (s, out.first().cloned()) {
            out.push(first);
        }
        t.groups.insert(id, (prev, out));
        ids.push(id);
    }
    t
}

fn read_budget() -> impl Strategy<Value = ReadBudget> {
    prop_oneof![Just(ReadBudget::Off), Just(ReadBudget::Median), Just(ReadBudget::Strict)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn compression_keeps_every_state(
        shapes in prop::collection::vec(shape(), 1..60),
        sizes in prop::collection::vec(1i64..6, 1..4),
        id_step in 1i64..3,
        range_start in 0usize..20,
    ) {
        let tables = build(&shapes, id_step);
        let ids: Vec<i64> = tables.groups.keys().copied().collect();
        let min = if range_start == 0 { -1 } else { ids[(range_start - 1).min(ids.len() - 1)] };
        let (after, plan) = compress_and_check(&tables, min, &sizes);
        prop_assert!(plan.stats.max_chain_after as i64 <= sizes.iter().sum::<i64>());
        let (_, again) = compress_and_check(&after, min, &sizes);
        prop_assert_eq!(again.stats.state_groups_changed, 0);
    }

    #[test]
    fn chunked_level_runs_give_the_tree_of_one_run(
        shapes in prop::collection::vec(shape(), 1..50),
        sizes in prop::collection::vec(1i64..6, 1..4),
        chunk_sizes in prop::collection::vec(1usize..12, 1..6),
        range_start in 0usize..10,
    ) {
        let tables = build(&shapes, 1);
        let ids: Vec<i64> = tables.groups.keys().copied().collect();
        let min = if range_start == 0 { -1 } else { ids[(range_start - 1).min(ids.len() - 1)] };
        let (one_run, _) = compress_and_check(&tables, min, &sizes);
        let mut chunked = tables.clone();
        let mut progress = Progress { levels: None, last_compressed: Some(min) };
        for &size in chunk_sizes.iter().cycle().take(100) {
            if run_level_chunks(&mut chunked, &mut progress, &sizes, size, 1, true).is_empty() {
                break;
            }
        }
        prop_assert_eq!(progress.last_compressed, ids.last().copied().filter(|&l| l > min).or(Some(min)));
        prop_assert!(chunked.sorted() == one_run.sorted(), "chunked tree differs from one run's");
    }

    #[test]
    fn level_method_matches_a_naive_reference(
        shapes in prop::collection::vec(shape(), 1..40),
        sizes in prop::collection::vec(1i64..5, 1..4),
        first_chunk in 0usize..20,
        range_start in 0usize..10,
    ) {
        let tables = build(&shapes, 1);
        let ids: Vec<i64> = tables.groups.keys().copied().collect();
        let min = if range_start == 0 { -1 } else { ids[(range_start - 1).min(ids.len() - 1)] };
        // One chunk first, then the rest from the saved levels, against the reference given the
        // same saved levels.
        let mut chunked = tables.clone();
        let mut progress = Progress { levels: None, last_compressed: Some(min) };
        run_level_chunks(&mut chunked, &mut progress, &sizes, first_chunk.max(1), 1, false);
        let saved = progress.levels.clone();
        let middle = progress.last_compressed.unwrap();
        let want = reference_levels(&chunked, middle, &sizes, saved.as_ref());
        run_level_chunks(&mut chunked, &mut progress, &sizes, usize::MAX, 1, false);
        prop_assert!(chunked.sorted() == want, "level tree differs from the reference");
        let whole = reference_levels(&tables, min, &sizes, None);
        let (one_run, _) = compress_and_check(&tables, min, &sizes);
        prop_assert!(one_run.sorted() == whole, "level tree differs from the reference");
    }

    #[test]
    fn fork_aware_keeps_every_state_within_the_cap(
        shapes in prop::collection::vec(shape(), 1..60),
        max_chain in 1u32..14,
        window in 1u32..12,
        id_step in 1i64..3,
        range_start in 0usize..20,
        budget in read_budget(),
    ) {
        let tables = build(&shapes, id_step);
        let ids: Vec<i64> = tables.groups.keys().copied().collect();
        let min = if range_start == 0 { -1 } else { ids[(range_start - 1).min(ids.len() - 1)] };
        let options = ForkAwareOptions::new(max_chain as i64, window as i64).unwrap().with_read_budget(budget);
        let (after, plan) = fork_and_check(&tables, min, &options);
        // A second run over the result never grows it and keeps the cap.
        let (_, again) = fork_and_check(&after, min, &options);
        prop_assert!(again.stats.rows_after <= plan.stats.rows_after);
    }

    #[test]
    fn fork_aware_chunks_keep_every_state_within_the_cap(
        shapes in prop::collection::vec(shape(), 1..60),
        max_chain in 1u32..14,
        window in 1u32..12,
        chunk_sizes in prop::collection::vec(1usize..15, 1..5),
        budget in read_budget(),
    ) {
        let tables = build(&shapes, 1);
        let options = ForkAwareOptions::new(max_chain as i64, window as i64).unwrap().with_read_budget(budget);
        let mut chunked = tables.clone();
        let mut last = None;
        for &size in chunk_sizes.iter().cycle().take(200) {
            if run_fork_chunks(&mut chunked, &mut last, &options, size, 1, true).is_empty() {
                break;
            }
        }
        prop_assert_eq!(last, tables.groups.keys().last().copied());
        prop_assert!(chunked.rows() <= tables.rows());
        // Chains the room had within the cap stay within it.
        if tables.max_chain(tables.groups.keys().copied()) <= max_chain {
            prop_assert!(chunked.max_chain(chunked.groups.keys().copied()) <= max_chain);
        }
    }
}
