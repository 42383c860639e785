//! The result of a compression, shared by both methods: the new tree, the groups to rewrite and
//! the statistics, and the builder that turns a base per group into that result. The builder
//! computes each delta exactly (every entry of the group's state that differs from its base's,
//! kept incrementally by two cursors, one on the original states and one on the new tree) and
//! counts rows and chain lengths along the real edges after the rewrite.
//!
//! Groups outside the range (context: predecessors of groups in range, level heads saved by an
//! earlier chunk, the window before a chunk, with their ancestors) keep their edges and rows. In
//! the new tree they carry their real state, so that a group in range can use one as its base.

use crate::cursor::StatePair;
use crate::forest::{Forest, Node};
use crate::intern::{KeyId, ValueId, ABSENT};
use crate::room::Room;

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
    /// Groups that had to become snapshots because no candidate base had a subset of their
    /// keys (for the level method: no base in the new tree from the level's candidate up).
    pub resets_no_suitable_prev: u64,
    /// Rows of those snapshots.
    pub resets_no_suitable_prev_size: u64,
    /// Longest chain of groups (counting the group itself) a read of a group in range walks,
    /// following the real edges (through context groups too).
    pub max_chain_before: u32,
    pub max_chain_after: u32,
    /// The chain cap the method applied (`None` for the level method, which has none).
    pub max_chain_cap: Option<u32>,
    /// Reads of groups in range already walked more than the cap, and no tree within the cap had
    /// fewer rows than now: the plan keeps the original tree (it changes nothing).
    pub chain_cap_unmet: bool,
    /// The read budget the method applied (`None` for the level method).
    pub read_budget: Option<crate::reads::ReadBudget>,
    /// `state_groups_state` rows Synapse's read of a group in range fetches (every row of every
    /// group on its chain), now and after the rewrite.
    pub read_rows_before: ReadRows,
    pub read_rows_after: ReadRows,
}

/// Percentiles of the rows that Synapse's reads of the groups in range fetch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadRows {
    pub p50: u64,
    pub p99: u64,
    pub max: u64,
}

impl ReadRows {
    /// The percentiles of `reads` (any order; sorted in place). Nearest rank, as
    /// `percentile_disc` computes it.
    pub fn of(reads: &mut [u64]) -> Self {
        if reads.is_empty() {
            return ReadRows::default();
        }
        reads.sort_unstable();
        let rank = |p: f64| reads[((p * reads.len() as f64).ceil() as usize).clamp(1, reads.len()) - 1];
        ReadRows { p50: rank(0.5), p99: rank(0.99), max: reads[reads.len() - 1] }
    }
}

/// The compressed tree of a room.
pub struct Plan {
    /// The new structure: for a group in range its new predecessor and delta. A group outside the
    /// range is not rewritten; its node holds its real state in the room's in-memory form (which
    /// may differ from its edge: use [`Room::original_prev`] for its real predecessor, and
    /// [`real_prev`] for any group).
    pub tree: Forest,
    /// Groups in range whose edge or rows differ from the original, ascending.
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

/// Chain lengths (counting the group itself) of every loaded group along its original edges.
pub fn original_chains(room: &Room) -> Vec<u32> {
    let mut chain = vec![0u32; room.len()];
    for node in 0..room.len() {
        chain[node] = room.original_prev(node as Node).map_or(1, |p| chain[p as usize] + 1);
    }
    chain
}

/// The groups in range that are the predecessor of a group outside the range: a group that was
/// not loaded ([`Room::has_outside_successor`]) or a loaded context group. Their successors keep
/// their edges, so their chains run through these groups, which must not get deeper.
pub fn successors_outside_range(room: &Room) -> Vec<bool> {
    let mut pinned: Vec<bool> = (0..room.len() as Node).map(|n| room.has_outside_successor(n)).collect();
    for node in 0..room.len() as Node {
        if !room.in_range(node) {
            if let Some(p) = room.original_prev(node) {
                pinned[p as usize] = true;
            }
        }
    }
    for (node, pinned) in pinned.iter_mut().enumerate() {
        *pinned &= room.in_range(node as Node);
    }
    pinned
}

/// Builds a [`Plan`] group by group, in ascending node order.
pub(crate) struct PlanBuilder<'a> {
    room: &'a Room,
    tree: Forest,
    /// Left: the original state of the group being built; right: the candidate base in the new
    /// tree.
    pair: StatePair,
    changed: Vec<Node>,
    stats: Stats,
    chain_before: Vec<u32>,
    chain_after: Vec<u32>,
    /// Rows a read of each built node fetches, now and after the plan.
    read_before: Vec<u64>,
    read_after: Vec<u64>,
    delta: Vec<(KeyId, ValueId)>,
}

impl<'a> PlanBuilder<'a> {
    pub fn new(room: &'a Room) -> Self {
        PlanBuilder {
            room,
            tree: Forest::with_capacity(room.len()),
            pair: StatePair::new(room.strings().key_count()),
            changed: Vec::new(),
            stats: Stats::default(),
            chain_before: Vec::with_capacity(room.len()),
            chain_after: Vec::with_capacity(room.len()),
            read_before: Vec::with_capacity(room.len()),
            read_after: Vec::with_capacity(room.len()),
            delta: Vec::new(),
        }
    }

    /// The tree built so far (every node below the next one).
    pub fn tree(&self) -> &Forest {
        &self.tree
    }

    /// The next node to build.
    pub fn next(&self) -> Node {
        self.tree.len() as Node
    }

    /// Records the chain length and read of the node just pushed, whose real predecessor is
    /// `real_prev` and which stores `rows` rows after the plan.
    fn push_chains(&mut self, node: Node, real_prev: Option<Node>, rows: u64) {
        let original_prev = self.room.original_prev(node);
        let before = original_prev.map_or(1, |p| self.chain_before[p as usize] + 1);
        let after = real_prev.map_or(1, |p| self.chain_after[p as usize] + 1);
        self.chain_before.push(before);
        self.chain_after.push(after);
        let own = self.room.row_count(node) as u64;
        self.read_before.push(own + original_prev.map_or(0, |p| self.read_before[p as usize]));
        self.read_after.push(rows + real_prev.map_or(0, |p| self.read_after[p as usize]));
    }

    /// Pushes the next node, which is outside the range, with its real state.
    pub fn push_context(&mut self) {
        let node = self.next();
        debug_assert!(!self.room.in_range(node));
        let old = self.room.forest();
        self.tree.push(old.parent(node), old.entries(node).iter().copied());
        self.push_chains(node, self.room.original_prev(node), self.room.row_count(node) as u64);
    }

    /// Whether `base` (a built node, or `None`) can be the base of the next node, which is in
    /// range: its keys are a subset of the node's.
    pub fn usable(&mut self, base: Option<Node>) -> bool {
        let node = self.next();
        self.pair.move_left(self.room.forest(), Some(node));
        self.pair.move_right(&self.tree, base);
        let left = &self.pair.left;
        self.pair.diff.keys().iter().all(|&k| left.value(k) != ABSENT)
    }

    /// Pushes the next node, which is in range, as a delta against `base` (which must be
    /// usable). `reset`: it is a snapshot because no candidate was usable.
    pub fn push(&mut self, base: Option<Node>, reset: bool) {
        let node = self.next();
        debug_assert!(self.room.in_range(node));
        let usable = self.usable(base);
        assert!(usable, "the base of group {} lacks none of its keys", self.room.id(node));
        self.delta.clear();
        self.delta.extend(self.pair.diff.keys().iter().map(|&k| (k, self.pair.left.value(k))));
        self.delta.sort_unstable();
        let rows = self.room.row_count(node) as u64;
        if base != self.room.original_prev(node) || self.delta.len() as u64 != rows {
            self.changed.push(node);
        }
        if reset {
            self.stats.resets_no_suitable_prev += 1;
            self.stats.resets_no_suitable_prev_size += self.delta.len() as u64;
        }
        self.stats.state_groups += 1;
        self.stats.rows_before += rows;
        self.stats.rows_after += self.delta.len() as u64;
        self.tree.push(base, self.delta.iter().copied());
        self.push_chains(node, base, self.delta.len() as u64);
        self.stats.max_chain_before = self.stats.max_chain_before.max(self.chain_before[node as usize]);
        self.stats.max_chain_after = self.stats.max_chain_after.max(self.chain_after[node as usize]);
    }

    pub fn finish(mut self) -> Plan {
        self.stats.state_groups_changed = self.changed.len() as u64;
        let room = self.room;
        let in_range = |reads: &[u64]| -> Vec<u64> {
            reads.iter().enumerate().filter(|&(n, _)| room.in_range(n as Node)).map(|(_, &r)| r).collect()
        };
        self.stats.read_rows_before = ReadRows::of(&mut in_range(&self.read_before));
        self.stats.read_rows_after = ReadRows::of(&mut in_range(&self.read_after));
        Plan { tree: self.tree, changed: self.changed, stats: self.stats }
    }
}
