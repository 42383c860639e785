//! Phase 3 of the fork-aware method: a local search, oldest group first, that moves a group to a
//! cheaper usable base when its whole subtree still fits under the cap.
//!
//! Processing in ascending order keeps every check exact with one pass of bookkeeping: a group's
//! subtree consists of newer groups, none of which has moved yet, so the depth each group may
//! take (computed before the pass from its subtree's limits) stays exact for every group still
//! to process; and a group's candidate bases are older, so their depths are final when it is
//! processed.

use super::place::{scan_window, window_candidates};
use super::Layout;
use crate::forest::Node;
use crate::meter::DeltaMeter;
use crate::room::Room;
use crate::{Interrupts, CHECK_EVERY};

/// The deepest each group may be so that no group of its subtree exceeds its own limit
/// (`max_depth`), and whether the subtree holds an open group (one of the last `window` groups in
/// range, which later groups may build on).
fn subtrees(room: &Room, layout: &Layout, window: u32) -> (Vec<u32>, Vec<u64>, Vec<bool>) {
    let n = room.len();
    let mut allowed = layout.max_depth.clone();
    let mut allowed_read = layout.max_read.clone();
    let mut open = vec![false; n];
    for node in room.range_nodes().collect::<Vec<_>>().into_iter().rev().take(window as usize) {
        open[node as usize] = true;
    }
    for node in (0..n).rev() {
        if let Some(p) = layout.parent[node] {
            allowed[p as usize] = allowed[p as usize].min(allowed[node].saturating_sub(1));
            let read = allowed_read[node].saturating_sub(layout.rows[node] as u64);
            allowed_read[p as usize] = allowed_read[p as usize].min(read);
            open[p as usize] |= open[node];
        }
    }
    (allowed, allowed_read, open)
}

pub(super) fn improve(room: &Room, layout: &mut Layout, window: u32, interrupts: &mut dyn Interrupts) {
    let forest = room.forest();
    let (allowed, allowed_read, open) = subtrees(room, layout, window);
    let mut meter = DeltaMeter::new(room.strings().key_count());
    for node in 0..room.len() as Node {
        if (node as usize).is_multiple_of(CHECK_EVERY) {
            interrupts.check();
        }
        let n = node as usize;
        layout.set_depth(node);
        // A group stored as cheaply as its best parent in the window allows is left alone (a
        // cheaper base further back is possible but rare).
        if !room.in_range(node)
            || (layout.best_parent[n].is_some() && layout.rows[n] <= layout.best_parent_rows[n])
        {
            continue;
        }
        // The deepest a new base may be: the subtree must fit, and an open subtree keeps its
        // depth (and, under a read budget, its read: later groups will build on it).
        let mut limit = allowed[n].saturating_sub(1);
        let mut read_limit = allowed_read[n];
        if open[n] {
            limit = limit.min(layout.parent[n].map_or(0, |p| layout.depth[p as usize]));
            if layout.read_budget {
                read_limit = read_limit.min(layout.read[n]);
            }
        }
        // A snapshot's read is the group's state, at most any read of it: it always fits.
        let fits = |layout: &Layout, p: Node, rows: u32| {
            layout.depth[p as usize] <= limit && layout.read_fits(Some(p), rows, read_limit)
        };
        let mut best = (layout.parent[n], layout.rows[n]);
        if layout.snapshot_rows[n] < best.1 {
            best = (None, layout.snapshot_rows[n]);
        }
        meter.set_group(forest, node);
        for p in window_candidates(room, node, window) {
            if layout.depth[p as usize] <= limit && Some(p) != best.0 {
                let cost = meter.cost_of(forest, Some(p));
                if cost.usable && cost.rows < best.1 && fits(layout, p, cost.rows) {
                    best = (Some(p), cost.rows);
                }
            }
        }
        // The deepest ancestor of the best parent (or, for a group that lost keys, of the
        // closest candidate) that fits.
        let from = match layout.best_parent[n] {
            Some(b) => Some(b),
            None => scan_window(room, &mut meter, node, window).closest.map(|(c, _)| c),
        };
        let mut at = from;
        while let Some(a) = at {
            if layout.depth[a as usize] <= limit {
                let cost = meter.cost_of(forest, Some(a));
                if cost.usable && fits(layout, a, cost.rows) {
                    if cost.rows < best.1 {
                        best = (Some(a), cost.rows);
                    }
                    break;
                }
            }
            at = layout.parent[a as usize];
        }
        if best.0 != layout.parent[n] {
            layout.parent[n] = best.0;
            layout.rows[n] = best.1;
            layout.set_depth(node);
            debug_assert!(layout.depth[n] <= allowed[n]);
            debug_assert!(layout.read[n] <= allowed_read[n]);
        }
    }
}
