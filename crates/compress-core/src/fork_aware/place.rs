//! Phases 1 and 2 of the fork-aware method, in one pass in ascending node order: each group's
//! best parent among its window (the backbone), then its place in the levels counted along the
//! backbone (see the module documentation of [`super`]).

use super::{Layout, TOP_LEVEL};
use crate::forest::Node;
use crate::meter::{BaseCost, DeltaMeter};
use crate::room::Room;
use crate::{Interrupts, CHECK_EVERY};

/// A best parent costing more rows than this makes a group restart its branch.
pub(super) const EXPENSIVE_ROWS: u32 = 32;

/// Rows a restart is charged per level of depth its base consumes (a shallower restart leaves
/// its branch more room, which saves rows further on).
const DEPTH_WEIGHT: u64 = 1;

/// The candidates tried as a group's base: its original predecessor, then the `window` loaded
/// groups just before it, newest first.
pub(super) fn window_candidates(room: &Room, node: Node, window: u32) -> impl Iterator<Item = Node> + '_ {
    let original = room.original_prev(node);
    let first = node.saturating_sub(window);
    original.into_iter().chain((first..node).rev().filter(move |&p| Some(p) != original))
}

/// The cheapest usable candidate of the current group and the closest candidate of all (fewest
/// differing keys, usable or not), with their costs.
pub(super) struct WindowBest {
    pub usable: Option<(Node, u32)>,
    pub closest: Option<(Node, BaseCost)>,
}

pub(super) fn scan_window(room: &Room, meter: &mut DeltaMeter, node: Node, window: u32) -> WindowBest {
    let forest = room.forest();
    let mut best = WindowBest { usable: None, closest: None };
    for p in window_candidates(room, node, window) {
        let cost = meter.cost_of(forest, Some(p));
        if cost.usable && best.usable.is_none_or(|(_, rows)| cost.rows < rows) {
            best.usable = Some((p, cost.rows));
        }
        if best.closest.is_none_or(|(_, c)| cost.rows < c.rows) {
            best.closest = Some((p, cost));
        }
    }
    best
}

/// The lowest level whose head (the nearest ancestor-or-self of `from` whose edge level is at
/// least that level) leaves room under `cap` (a head's chain must be shorter), with that head.
fn find_head(layout: &Layout, from: Node, cap: u32) -> Option<(Node, u16)> {
    let mut at = from;
    let mut level: u32 = 1;
    loop {
        let own = layout.level[at as usize] as u32;
        if layout.depth[at as usize] >= cap {
            level = level.max(own + 1);
        } else if own >= level {
            return Some((at, level.min(TOP_LEVEL as u32) as u16));
        }
        at = layout.parent[at as usize]?;
    }
}

/// A base for a group that restarts its branch: a snapshot, or a usable base whose rows plus
/// depth cost less. Tries the window's usable candidates, and when none is usable, the
/// ancestors of the closest candidate (a group that lost keys needs a base from before them).
fn restart_base(
    room: &Room,
    layout: &Layout,
    meter: &mut DeltaMeter,
    node: Node,
    window: u32,
    cap: u32,
    found: &WindowBest,
) -> (Option<Node>, u32) {
    let forest = room.forest();
    let mut best = (None, layout.snapshot_rows[node as usize]);
    let mut best_score = best.1 as u64;
    let mut consider = |base: Node, cost: BaseCost, best: &mut (Option<Node>, u32)| {
        let depth = layout.depth[base as usize];
        if cost.usable
            && depth < cap
            && layout.read_fits(Some(base), cost.rows, layout.max_read[node as usize])
        {
            let score = cost.rows as u64 + DEPTH_WEIGHT * depth as u64;
            if score < best_score {
                best_score = score;
                *best = (Some(base), cost.rows);
            }
        }
    };
    if found.usable.is_some() {
        for p in window_candidates(room, node, window) {
            let cost = meter.cost_of(forest, Some(p));
            consider(p, cost, &mut best);
        }
    } else if let Some((closest, _)) = found.closest {
        let mut at = layout.parent[closest as usize];
        let mut steps = 0;
        while let Some(a) = at {
            let cost = meter.cost_of(forest, Some(a));
            consider(a, cost, &mut best);
            steps += 1;
            if steps > cap.saturating_mul(2) {
                break;
            }
            at = layout.parent[a as usize];
        }
    }
    best
}

/// How a group's edge level is set when it takes a head's place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LevelRule {
    /// The level of the head it took.
    Placement,
    /// That level, or more when its edge reaches far back (one level per factor of 8 in group
    /// ids, as [`super::reach_level`]): long jumps become heads of higher levels, which
    /// starts fresh runs with more room under the cap sooner (better on long chains).
    PlacementOrReach,
}

pub(super) fn place(
    room: &Room,
    layout: &mut Layout,
    rule: LevelRule,
    window: u32,
    interrupts: &mut dyn Interrupts,
) {
    let forest = room.forest();
    let mut meter = DeltaMeter::new(room.strings().key_count());
    for node in 0..room.len() as Node {
        if (node as usize).is_multiple_of(CHECK_EVERY) {
            interrupts.check();
        }
        if !room.in_range(node) {
            layout.set_depth(node);
            continue;
        }
        let n = node as usize;
        let cap = layout.max_depth[n];
        meter.set_group(forest, node);
        layout.snapshot_rows[n] = meter.snapshot_rows();
        let found = scan_window(room, &mut meter, node, window);
        layout.best_parent[n] = found.usable.map(|(p, _)| p);
        layout.best_parent_rows[n] = found.usable.map_or(u32::MAX, |(_, rows)| rows);
        layout.lost_keys[n] = found.usable.is_none();

        let snapshot = layout.snapshot_rows[n];
        let mut chosen = None;
        if let Some((best, _)) = found.usable.filter(|&(_, rows)| rows <= EXPENSIVE_ROWS && rows < snapshot) {
            if let Some((head, level)) = find_head(layout, best, cap) {
                let cost = meter.cost_of(forest, Some(head));
                if cost.usable && layout.read_fits(Some(head), cost.rows, layout.max_read[n]) {
                    chosen = Some((Some(head), cost.rows, level));
                } else if cost.usable && head != best && layout.depth[best as usize] < cap {
                    // The head's chain reads too many rows: the best parent itself, continuing
                    // its run, when its read leaves room.
                    let cost = meter.cost_of(forest, Some(best));
                    if cost.usable && layout.read_fits(Some(best), cost.rows, layout.max_read[n]) {
                        chosen = Some((
                            Some(best),
                            cost.rows,
                            layout.level[best as usize].clamp(1, TOP_LEVEL - 1),
                        ));
                    }
                }
            }
        }
        // A head far back costs rows by design (the level structure pays them to keep chains
        // short); only a missing or expensive best parent, or a head no cheaper than a
        // snapshot, makes the group restart.
        if chosen.is_none_or(|(_, rows, _)| rows >= snapshot) {
            let (base, rows) = restart_base(room, layout, &mut meter, node, window, cap, &found);
            if chosen.is_none_or(|(_, head_rows, _)| rows < head_rows) {
                chosen = Some((base, rows, TOP_LEVEL));
            }
        }
        let (parent, rows, level) = chosen.expect("a restart always has a base or a snapshot");
        layout.parent[n] = parent;
        layout.rows[n] = rows;
        layout.level[n] = match (rule, parent) {
            (LevelRule::PlacementOrReach, Some(p)) if level != TOP_LEVEL => {
                level.max(super::reach_level(room.id(node) - room.id(p)))
            }
            _ => level,
        };
        layout.set_depth(node);
        debug_assert!(layout.depth[n] <= layout.max_depth[n]);
        debug_assert!(layout.read[n] <= layout.max_read[n]);
    }
}
