//! The level method in chunks, as the SQL layer runs it: each chunk loads the next groups after
//! the last compressed one plus the saved level heads and their ancestors (context), restores
//! the levels, compresses, verifies and writes; the levels and progress are saved for the next
//! chunk. Chunked runs must give exactly the tree of one run.

mod common;

use common::{compress_and_check, member_chain, run_level_chunks, Progress, Tables};
use compress_core::{compress, verify, Levels};

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

fn edges(t: &Tables) -> Vec<(i64, Option<i64>)> {
    t.groups.iter().map(|(&g, v)| (g, v.0)).collect()
}

#[test]
fn worked_example_in_chunks_of_7() {
    let mut tables = member_chain(14, 1000);
    let mut progress = Progress::default();
    let stats = run_level_chunks(&mut tables, &mut progress, &[3, 3], 7, 10, true);
    assert_eq!(stats.len(), 2);
    assert_eq!(edges(&tables), WORKED_EXAMPLE);
    assert_eq!(tables.groups[&3].1.len(), 4);
    assert_eq!(tables.groups[&6].1.len(), 3);
    assert_eq!(tables.groups[&9].1.len(), 3);
    assert_eq!(tables.groups[&12].1.len(), 13);
    assert_eq!(stats[0].max_chain_after, 3); // 2 -> 1 -> 0 and 5 -> 4 -> 3
    assert_eq!(stats[1].max_chain_after, 5); // 11 -> 10 -> 9 -> 6 -> 3, of which 6 and 3 are context
    assert_eq!(progress.last_compressed, Some(13));
    assert_eq!(progress.levels, Some(vec![(2, Some(13)), (1, Some(12))]));
}

#[test]
fn chunk_sequence_8_100_1_1_5_5_gives_the_same_tree() {
    let mut tables = member_chain(14, 1000);
    let mut progress = Progress::default();
    for (size, count) in [(8, 1), (100, 1), (1, 2), (5, 1), (5, 1)] {
        run_level_chunks(&mut tables, &mut progress, &[3, 3], size, count, true);
    }
    assert_eq!(edges(&tables), WORKED_EXAMPLE);
    let (one_run, _) = compress_and_check(&member_chain(14, 1000), -1, &[3, 3]);
    assert_eq!(tables.sorted(), one_run.sorted());

    // The same sequence while the room grows by 4 groups before every run (so that every run
    // has work), then one last run over the rest.
    let all = member_chain(40, 1000);
    let mut tables = Tables::default();
    let mut progress = Progress::default();
    let mut grown = 0;
    for (run, (size, count)) in [(8, 1), (100, 1), (1, 2), (5, 1), (5, 1), (100, 1)].into_iter().enumerate() {
        let to = if run == 5 { 40 } else { grown + 4 };
        for g in grown..to {
            tables.groups.insert(g, all.groups[&g].clone());
        }
        grown = to;
        run_level_chunks(&mut tables, &mut progress, &[3, 3], size, count, true);
    }
    assert_eq!(progress.last_compressed, Some(39));
    let (one_run, _) = compress_and_check(&all, -1, &[3, 3]);
    assert_eq!(tables.sorted(), one_run.sorted());
}

#[test]
fn every_split_of_the_worked_example_gives_the_same_tree() {
    let (one_run, _) = compress_and_check(&member_chain(14, 1000), -1, &[3, 3]);
    // Bit i of `cuts` set: a chunk ends after group i.
    for cuts in 0u32..1 << 13 {
        let mut tables = member_chain(14, 1000);
        let mut progress = Progress::default();
        let mut start = 0;
        for end in (0..14).filter(|&i| i == 13 || cuts & (1 << i) != 0) {
            run_level_chunks(&mut tables, &mut progress, &[3, 3], end + 1 - start, 1, false);
            start = end + 1;
        }
        assert_eq!(tables.sorted(), one_run.sorted(), "chunks ending at the bits of {cuts:#b}");
    }
}

/// The reference room of `tests/compress.rs` (54,503 rows after one run) in 500-group chunks.
#[test]
fn chain_20k_in_chunks_of_500_gives_the_rows_of_one_run() {
    let mut tables = member_chain(20_000, 100);
    let one_run = {
        let room = tables.load(-1);
        let plan = compress(&room, &mut Levels::new(&[100, 50, 25]).unwrap(), &mut || {});
        verify(&room, &plan, &mut || {}).unwrap();
        assert_eq!(plan.stats.rows_after, 54_503);
        tables.apply(&room, &plan)
    };
    let mut progress = Progress::default();
    let stats = run_level_chunks(&mut tables, &mut progress, &[100, 50, 25], 500, 100, false);
    assert_eq!(stats.len(), 40);
    assert_eq!(stats.iter().map(|s| s.rows_before).sum::<u64>(), 2_010_000);
    assert_eq!(stats.iter().map(|s| s.rows_after).sum::<u64>(), 54_503);
    assert_eq!(tables.rows(), 54_503);
    assert!(tables.sorted() == one_run.sorted(), "the chunked tree differs from one run's");
}

/// A context group's edge is followed when walking up from an unusable level head: the head is
/// a group of an earlier chunk whose state has a key the next group lacks.
#[test]
fn walking_up_from_a_context_head_follows_its_real_edge() {
    let mut t = Tables::default();
    t.add(0, None, &[("a", "", "$a"), ("b", "", "$b")]);
    t.add(1, Some(0), &[("c", "", "$c")]);
    t.add(2, Some(1), &[("d", "", "$d")]);
    // 3 dropped c: 2 and 1 are unusable, 0 is usable.
    t.add(3, None, &[("a", "", "$a"), ("b", "", "$b"), ("d", "", "$d")]);
    t.add(4, Some(3), &[("e", "", "$e")]);
    let mut whole = t.clone();
    let mut progress = Progress::default();
    run_level_chunks(&mut t, &mut progress, &[10], 3, 1, true);
    assert_eq!(progress.levels, Some(vec![(3, Some(2))]));
    let stats = run_level_chunks(&mut t, &mut progress, &[10], 3, 1, true);
    assert_eq!(t.groups[&3].0, Some(0));
    assert_eq!(t.groups[&3].1, vec![("d".to_owned(), "".to_owned(), "$d".to_owned())]);
    assert_eq!(stats[0].resets_no_suitable_prev, 0);
    assert_eq!(stats[0].max_chain_after, 3); // 4 -> 3 -> 0
    let one = run_level_chunks(&mut whole, &mut Progress::default(), &[10], 100, 1, true);
    assert_eq!(one[0].rows_after, 2 + 1 + 1 + 1 + 1);
    assert_eq!(t.sorted(), whole.sorted());
}

/// A saved head outside the range, with a chain of context groups behind it, and a cap: the
/// chain length counts the context groups.
#[test]
fn chain_lengths_count_context_groups() {
    let tables = member_chain(30, 1000);
    let room = tables.load_groups(&(20..30).collect::<Vec<_>>(), &[]);
    let mut levels = Levels::restore(&[5, 5], &[(3, Some(room.node_of(19).unwrap())), (0, None)]).unwrap();
    let plan = compress(&room, &mut levels, &mut || {});
    verify(&room, &plan, &mut || {}).unwrap();
    // 19 is 20 groups deep (0 <- 1 <- ... <- 19): group 20 -> 19, 21 -> 20: 22 deep.
    assert_eq!(plan.stats.max_chain_before, 30);
    assert_eq!(plan.stats.max_chain_after, 22);
    assert!(compress_core::verify_with_cap(&room, &plan, Some(22), &mut || {}).is_ok());
    let err = compress_core::verify_with_cap(&room, &plan, Some(21), &mut || {}).unwrap_err();
    assert!(err.detail.contains("walks 22 groups"), "{}", err.detail);
}

#[test]
fn a_plan_that_misstates_a_context_group_is_refused() {
    let tables = member_chain(12, 1000);
    let room = tables.load_groups(&[8, 9, 10, 11], &[]);
    let mut levels = Levels::restore(&[5], &[(1, Some(room.node_of(5).unwrap()))]).unwrap();
    let plan = compress(&room, &mut levels, &mut || {});
    verify(&room, &plan, &mut || {}).unwrap();
    assert_eq!(plan.tree.parent(room.node_of(8).unwrap()), Some(room.node_of(5).unwrap()));
    // Give context group 5 another state in the tree: group 8's delta no longer reproduces its
    // state in the database, and verification names the context group.
    let mut tree = compress_core::Forest::with_capacity(room.len());
    for n in 0..room.len() as u32 {
        let mut e = plan.tree.entries(n).to_vec();
        if room.id(n) == 5 {
            e.clear();
        }
        tree.push(plan.tree.parent(n), e);
    }
    let bad = compress_core::Plan { tree, changed: plan.changed.clone(), stats: plan.stats.clone() };
    let err = verify(&room, &bad, &mut || {}).unwrap_err();
    assert_eq!(err.group, 5, "{err}");
    assert!(err.detail.contains("context"), "{}", err.detail);
    // A plan listing a context group as changed is refused.
    let bad = compress_core::Plan {
        tree: plan.tree.clone(),
        changed: vec![room.node_of(5).unwrap()],
        stats: plan.stats.clone(),
    };
    assert_eq!(verify(&room, &bad, &mut || {}).unwrap_err().group, 5);
}
