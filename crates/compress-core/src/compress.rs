//! Builds the compressed tree: for every group in range, in ascending id order, the levels give
//! a candidate predecessor; if the candidate's state has a key the group lacks, walk up the new
//! tree to the first usable base (none: a forced snapshot). The group's new delta is every entry
//! of its state that differs from the base's. Both states are kept by cursors, one on the
//! original states and one on the new tree, and their difference is maintained incrementally.
//!
//! Groups outside the range (context: predecessors of groups in range, and level heads saved by
//! an earlier chunk with their ancestors) keep their edges and rows. In the new tree they carry
//! their real state, so that a group in range can use one as its base, and walking up from one
//! follows its original edge, as the existing tool does with the heads it loads.

use crate::cursor::StatePair;
use crate::forest::{Forest, Node};
use crate::intern::ABSENT;
use crate::levels::Levels;
use crate::room::Room;
use crate::{Interrupts, CHECK_EVERY};

/// What a compression did, in the terms of the existing tool.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Groups in range.
    pub state_groups: u64,
    /// Groups whose edge or rows change.
    pub state_groups_changed: u64,
    /// `state_groups_state` rows of the groups in range, now.
    pub rows_before: u64,
    /// The same rows after the rewrite.
    pub rows_after: u64,
    /// Groups the levels wanted as deltas that had to become snapshots: no base in the new
    /// tree had a subset of their keys.
    pub resets_no_suitable_prev: u64,
    /// Rows of those snapshots.
    pub resets_no_suitable_prev_size: u64,
    /// Longest chain of groups (counting the group itself) a read of a group in range walks,
    /// following the real edges (through context groups too).
    pub max_chain_before: u32,
    pub max_chain_after: u32,
}

/// The compressed tree of a room.
pub struct Plan {
    /// The new structure: for a group in range its new predecessor and delta. A group outside the
    /// range is not rewritten; its node holds its real state in the room's in-memory form (which
    /// may differ from its edge: use [`Room::original_prev`] for its real predecessor, and
    /// [`real_prev`] for any group).
    pub tree: Forest,
    /// Groups in range whose edge or rows differ from the original.
    pub changed: Vec<Node>,
    pub stats: Stats,
}

/// The predecessor a group has after the plan is written: its new one when it is in range, its
/// original one otherwise.
pub fn real_prev(room: &Room, tree: &Forest, node: Node) -> Option<Node> {
    if room.in_range(node) {
        tree.parent(node)
    } else {
        room.original_prev(node)
    }
}

/// Pushes a group outside the range onto the new tree with its real state.
pub(crate) fn push_context(room: &Room, tree: &mut Forest, node: Node) {
    let old = room.forest();
    let pushed = tree.push(old.parent(node), old.entries(node).iter().copied());
    debug_assert_eq!(pushed, node);
}

/// Compresses the groups in range with the level algorithm, continuing from `levels` (new or
/// restored) and leaving in it the state to save for the next chunk.
pub fn compress(room: &Room, levels: &mut Levels, interrupts: &mut dyn Interrupts) -> Plan {
    let old = room.forest();
    let mut tree = Forest::with_capacity(room.len());
    let mut pair = StatePair::new(room.strings().key_count());
    let mut changed = Vec::new();
    let mut stats = Stats::default();
    let mut chain_before = vec![0u32; room.len()];
    let mut chain_after = vec![0u32; room.len()];
    let mut delta = Vec::new();

    for node in 0..room.len() as Node {
        if (node as usize).is_multiple_of(CHECK_EVERY) {
            interrupts.check();
        }
        chain_before[node as usize] = room.original_prev(node).map_or(1, |p| chain_before[p as usize] + 1);
        if !room.in_range(node) {
            push_context(room, &mut tree, node);
            chain_after[node as usize] = room.original_prev(node).map_or(1, |p| chain_after[p as usize] + 1);
            continue;
        }
        pair.move_left(old, Some(node));
        let proposed = levels.next_base(node);
        let mut base = proposed;
        loop {
            pair.move_right(&tree, base);
            let usable = pair.diff.keys().iter().all(|&k| pair.left.value(k) != ABSENT);
            match base {
                Some(b) if !usable => base = real_prev(room, &tree, b),
                _ => break,
            }
        }
        delta.clear();
        delta.extend(pair.diff.keys().iter().map(|&k| (k, pair.left.value(k))));
        delta.sort_unstable();
        if proposed.is_some() && base.is_none() {
            stats.resets_no_suitable_prev += 1;
            stats.resets_no_suitable_prev_size += delta.len() as u64;
        }
        let rows = room.row_count(node) as u64;
        if base != room.original_prev(node) || delta.len() as u64 != rows {
            changed.push(node);
        }
        stats.state_groups += 1;
        stats.rows_before += rows;
        stats.rows_after += delta.len() as u64;
        stats.max_chain_before = stats.max_chain_before.max(chain_before[node as usize]);
        let pushed = tree.push(base, delta.iter().copied());
        debug_assert_eq!(pushed, node);
        chain_after[node as usize] = base.map_or(1, |b| chain_after[b as usize] + 1);
        stats.max_chain_after = stats.max_chain_after.max(chain_after[node as usize]);
        pair.move_right(&tree, Some(node));
        debug_assert!(pair.diff.is_empty());
    }
    stats.state_groups_changed = changed.len() as u64;
    Plan { tree, changed, stats }
}
