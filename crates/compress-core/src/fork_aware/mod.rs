//! The fork-aware method: for every group in range, the base (or a snapshot) that keeps its
//! delta small, under a cap on the chain a read walks.
//!
//! Three phases, all on the groups' real states (a base's cost is a function of the two states,
//! measured by a [`crate::meter::DeltaMeter`] whose cursors move between nearby
//! groups, never resolving a state from scratch):
//!
//! 1. **Backbone** (`place`): each group's best parent, the cheapest usable base among its
//!    original predecessor and the `window` groups loaded just before it. These edges follow the
//!    room's forks (the group a state was built on), not the order of ids.
//! 2. **Placement** (`place`): groups take their base from levels counted along the backbone.
//!    Every group's edge has a *level*: 1 when it continues its best parent's run, higher when it
//!    jumps back over runs of lower levels. The candidate heads of a group are its best parent's
//!    nearest ancestors (along the new edges) of each level; the group takes the lowest level
//!    whose head still leaves room under the cap ("depth-filling" levels: a run goes on until it
//!    reaches the cap, then the next level starts a fresh run next to the head). A group whose
//!    best parent is expensive (it lost keys: nothing nearby is usable) restarts: it becomes a
//!    snapshot, or a delta against a shallow usable base when that costs less, and heads every
//!    level, so that its descendants never jump back over it. Two rules set the level of a
//!    group's edge (the level it took, or also one level per factor of 8 its edge reaches back
//!    in group ids); both trees are built and the one with fewer rows is kept.
//! 3. **Local search** (`search`): oldest first, each group moves to a cheaper usable base
//!    (nearby groups, the deepest ancestor of its best parent that still fits, a snapshot) when
//!    its whole subtree still fits under the cap. Groups near the end of the range (the ones
//!    later groups will build on) and their ancestors never move deeper.
//!
//! The result is never worse than the room as it is: when the original tree fits under the cap
//! and has no more rows, it is kept; when the room's chains already exceed the cap and the new
//! tree would have more rows than now, the plan changes nothing and says so
//! ([`Stats::chain_cap_unmet`](crate::Stats::chain_cap_unmet)). Every plan that changes a group
//! keeps every chain of the range within `max_chain`, and never makes a group with successors
//! outside the range deeper than now (the chains of those successors run through it).
//!
//! **Read budget.** With a [`ReadBudget`] other than `Off`, every phase also keeps the rows a
//! read of each group fetches (its delta plus its base's read) within the group's limit from
//! [`read_limits`]: a base is usable only when it leaves room, and the local search moves a group
//! only when every read of its subtree still fits. A snapshot always fits (its read is its
//! state, which no read of it fetched less of).
//!
//! **Context, chunks and incremental runs.** Groups outside the range keep their edges, and the
//! chains through them count towards the cap. Besides the range and the ancestors of its groups,
//! the caller loads as context the `window` groups of the room just before the range (with their
//! ancestors: their states and chain lengths are needed) and marks the groups in range that have
//! successors it did not load ([`GroupGraph::mark_outside_successors`]). Nothing else is kept
//! between runs: the level of a context group's edge is taken from how far back it reaches,
//! which continues a compressed room within a fraction of a percent of one run.
//!
//! [`GroupGraph::mark_outside_successors`]: crate::GroupGraph::mark_outside_successors

mod place;
mod search;

use self::place::LevelRule;
use crate::error::ConfigError;
use crate::forest::Node;
use crate::meter::DeltaMeter;
use crate::plan::{original_chains, successors_outside_range, Plan, PlanBuilder};
use crate::reads::{read_limits, ReadBudget};
use crate::room::Room;
use crate::{Interrupts, CHECK_EVERY};

/// Settings of the fork-aware method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForkAwareOptions {
    /// The longest chain, counting the group itself, that a read of any group in range may walk
    /// after the rewrite (through context groups too). Synapse's own bound is 100.
    pub max_chain: u32,
    /// How many groups loaded just before a group are tried as its base (besides its original
    /// predecessor). Chunked runs load this many groups before the range as context.
    pub window: u32,
    /// How many rows a read of a group in range may fetch after the rewrite, besides the cap on
    /// its chain ([`ReadBudget`]).
    pub read_budget: ReadBudget,
}

/// Synapse's own bound on chains (`MAX_STATE_DELTA_HOPS`).
pub const DEFAULT_MAX_CHAIN: u32 = 100;
/// Groups tried as bases before each group.
pub const DEFAULT_WINDOW: u32 = 32;
/// The largest accepted `window`.
pub const MAX_WINDOW: u32 = 1024;

impl Default for ForkAwareOptions {
    fn default() -> Self {
        ForkAwareOptions {
            max_chain: DEFAULT_MAX_CHAIN,
            window: DEFAULT_WINDOW,
            read_budget: ReadBudget::Off,
        }
    }
}

impl ForkAwareOptions {
    /// Checks the settings: `max_chain` at least 1, `window` between 1 and [`MAX_WINDOW`]; no
    /// read budget ([`ForkAwareOptions::with_read_budget`]).
    pub fn new(max_chain: i64, window: i64) -> Result<Self, ConfigError> {
        if max_chain < 1 || max_chain > u32::MAX as i64 {
            return Err(ConfigError::MaxChainNotPositive { max_chain });
        }
        if window < 1 || window > MAX_WINDOW as i64 {
            return Err(ConfigError::WindowOutOfRange { window });
        }
        Ok(ForkAwareOptions {
            max_chain: max_chain as u32,
            window: window as u32,
            read_budget: ReadBudget::Off,
        })
    }

    /// The same settings with a read budget.
    pub fn with_read_budget(self, read_budget: ReadBudget) -> Self {
        ForkAwareOptions { read_budget, ..self }
    }
}

/// The level of an edge that heads every level: a snapshot, or a group that restarted its
/// branch.
pub(crate) const TOP_LEVEL: u16 = u16::MAX;

/// Compresses the groups in range with the fork-aware method.
pub fn compress_fork_aware(room: &Room, options: &ForkAwareOptions, interrupts: &mut dyn Interrupts) -> Plan {
    let cap = options.max_chain.max(1);
    let mut best: Option<Plan> = None;
    let limits = read_limits(room, options.read_budget);
    for rule in [LevelRule::Placement, LevelRule::PlacementOrReach] {
        let mut layout = Layout::new(room, cap, limits.as_deref());
        place::place(room, &mut layout, rule, options.window, interrupts);
        search::improve(room, &mut layout, options.window, interrupts);
        let plan = build(room, &layout, interrupts);
        if best.as_ref().is_none_or(|b| plan.stats.rows_after < b.stats.rows_after) {
            best = Some(plan);
        }
    }
    let mut plan = choose(room, best.expect("two rules ran"), cap, interrupts);
    plan.stats.read_budget = Some(options.read_budget);
    plan
}

/// The level assumed for the edge of a context group without a saved level, from how far back
/// (in group ids) its edge reaches: one level per factor of 8. A run of consecutive groups is
/// level 1; the longer jumps a level structure makes over its runs get higher levels, so that a
/// chunk continuing a compressed room without its saved levels still finds heads that leave
/// room under the cap without reaching back to the room's first snapshot.
pub(super) fn reach_level(span: i64) -> u16 {
    let mut level = 1;
    let mut reach = 8;
    while span >= reach && level < TOP_LEVEL - 1 {
        level += 1;
        reach = reach.saturating_mul(8);
    }
    level
}

/// The shape of the new tree while it is being built: for every loaded group its real
/// predecessor (original for context, chosen for groups in range), chain length, edge level and
/// delta rows.
pub(crate) struct Layout {
    pub parent: Vec<Option<Node>>,
    /// Chain length counting the group itself.
    pub depth: Vec<u32>,
    /// The longest chain the group may have: the cap, or for a group in range with successors
    /// outside the range, no longer than now (their chains run through it).
    pub max_depth: Vec<u32>,
    pub level: Vec<u16>,
    /// Rows of the group's delta against its parent (groups in range), its rows now (context).
    pub rows: Vec<u32>,
    /// Rows a read of the group fetches: its rows and its parent's read.
    pub read: Vec<u64>,
    /// The most rows a read of the group may fetch ([`read_limits`]; unlimited without a
    /// budget).
    pub max_read: Vec<u64>,
    /// Whether a read budget applies (`max_read` is not unlimited).
    pub read_budget: bool,
    /// The cheapest usable base found in the window (groups in range), and its rows.
    pub best_parent: Vec<Option<Node>>,
    pub best_parent_rows: Vec<u32>,
    /// Rows of the group's snapshot.
    pub snapshot_rows: Vec<u32>,
    /// No base in the window was usable.
    pub lost_keys: Vec<bool>,
}

impl Layout {
    fn new(room: &Room, cap: u32, read_limits: Option<&[u64]>) -> Self {
        let n = room.len();
        let chains = original_chains(room);
        let pinned = successors_outside_range(room);
        let mut layout = Layout {
            parent: vec![None; n],
            depth: vec![0; n],
            max_depth: (0..n as Node)
                .map(|node| {
                    let now = chains[node as usize];
                    match (room.in_range(node), pinned[node as usize]) {
                        (true, true) => cap.min(now),
                        (true, false) => cap,
                        (false, _) => cap.max(now),
                    }
                })
                .collect(),
            level: vec![1; n],
            rows: (0..n as Node).map(|node| room.row_count(node)).collect(),
            read: vec![0; n],
            max_read: read_limits.map_or_else(|| vec![u64::MAX; n], <[u64]>::to_vec),
            read_budget: read_limits.is_some(),
            best_parent: vec![None; n],
            best_parent_rows: vec![u32::MAX; n],
            snapshot_rows: vec![0; n],
            lost_keys: vec![false; n],
        };
        for node in 0..n as Node {
            let prev = room.original_prev(node);
            layout.parent[node as usize] = prev;
            layout.level[node as usize] = match prev {
                None => TOP_LEVEL,
                Some(p) => reach_level(room.id(node) - room.id(p)),
            };
        }
        layout
    }

    /// Sets the depth and read of `node` from its parent's (and its rows).
    pub fn set_depth(&mut self, node: Node) {
        let n = node as usize;
        self.depth[n] = self.parent[n].map_or(1, |p| self.depth[p as usize] + 1);
        self.read[n] = self.rows[n] as u64 + self.parent[n].map_or(0, |p| self.read[p as usize]);
    }

    /// Whether `base` (a placed group) leaves room for `node` under its read budget when the
    /// node's delta against it has `rows` rows, with at most `limit` rows read.
    pub fn read_fits(&self, base: Option<Node>, rows: u32, limit: u64) -> bool {
        rows as u64 + base.map_or(0, |b| self.read[b as usize]) <= limit
    }
}

/// The plan of the layout's parents.
fn build(room: &Room, layout: &Layout, interrupts: &mut dyn Interrupts) -> Plan {
    let mut builder = PlanBuilder::new(room);
    for node in 0..room.len() as Node {
        if (node as usize).is_multiple_of(CHECK_EVERY) {
            interrupts.check();
        }
        if room.in_range(node) {
            let parent = layout.parent[node as usize];
            builder.push(parent, parent.is_none() && layout.lost_keys[node as usize]);
        } else {
            builder.push_context();
        }
    }
    builder.finish()
}

/// The plan to return: the new tree, unless the original tree fits under the cap and has no
/// more rows (then the original tree), or the room's chains already exceed the cap and the new
/// tree has more rows than now (then nothing changes, and the plan says so).
fn choose(room: &Room, new: Plan, cap: u32, interrupts: &mut dyn Interrupts) -> Plan {
    let chains = original_chains(room);
    let over_cap = room.range_nodes().any(|n| chains[n as usize] > cap);
    let mut plan = if over_cap {
        if new.stats.rows_after <= new.stats.rows_before {
            new
        } else {
            let mut unchanged = original_plan(room, interrupts);
            unchanged.changed.clear();
            unchanged.stats.state_groups_changed = 0;
            unchanged.stats.rows_after = unchanged.stats.rows_before;
            unchanged.stats.read_rows_after = unchanged.stats.read_rows_before;
            unchanged.stats.chain_cap_unmet = true;
            unchanged
        }
    } else if new.stats.rows_after < original_rows(room, interrupts) {
        new
    } else {
        original_plan(room, interrupts)
    };
    plan.stats.max_chain_cap = Some(cap);
    plan
}

/// The rows of the groups in range in the original tree once exact duplicates are dropped (the
/// rows of [`original_plan`], counted without building it).
fn original_rows(room: &Room, interrupts: &mut dyn Interrupts) -> u64 {
    let forest = room.forest();
    let mut meter = DeltaMeter::new(room.strings().key_count());
    let mut rows = 0;
    for (i, node) in room.range_nodes().enumerate() {
        if i.is_multiple_of(CHECK_EVERY) {
            interrupts.check();
        }
        rows += match room.original_prev(node) {
            // Rows with an edge are kept in memory as they are stored (without duplicates).
            Some(_) => forest.entries(node).len() as u64,
            None => {
                meter.set_group(forest, node);
                meter.snapshot_rows() as u64
            }
        };
    }
    rows
}

/// The original tree as a plan (groups with duplicate rows are rewritten without them).
fn original_plan(room: &Room, interrupts: &mut dyn Interrupts) -> Plan {
    let mut builder = PlanBuilder::new(room);
    for node in 0..room.len() as Node {
        if (node as usize).is_multiple_of(CHECK_EVERY) {
            interrupts.check();
        }
        if room.in_range(node) {
            builder.push(room.original_prev(node), false);
        } else {
            builder.push_context();
        }
    }
    builder.finish()
}
