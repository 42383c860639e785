//! Property tests over random rooms: whatever the shape, every group resolves to the same state
//! after compression, the new tree keeps Synapse's rules, and a second run changes nothing.

mod common;

use common::{compress_and_check, run_level_chunks, Progress, Tables};
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

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

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
}
