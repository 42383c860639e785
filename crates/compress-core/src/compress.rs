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

use crate::forest::Node;
use crate::levels::Levels;
use crate::plan::PlanBuilder;
pub use crate::plan::{real_prev, Plan, Stats};
use crate::room::Room;
use crate::{Interrupts, CHECK_EVERY};

/// Compresses the groups in range with the level algorithm, continuing from `levels` (new or
/// restored) and leaving in it the state to save for the next chunk.
pub fn compress(room: &Room, levels: &mut Levels, interrupts: &mut dyn Interrupts) -> Plan {
    let mut builder = PlanBuilder::new(room);
    for node in 0..room.len() as Node {
        if (node as usize).is_multiple_of(CHECK_EVERY) {
            interrupts.check();
        }
        if !room.in_range(node) {
            builder.push_context();
            continue;
        }
        let proposed = levels.next_base(node);
        let mut base = proposed;
        while let Some(b) = base {
            if builder.usable(base) {
                break;
            }
            base = real_prev(room, builder.tree(), b);
        }
        builder.push(base, proposed.is_some() && base.is_none());
    }
    builder.finish()
}
