//! Exact verification of a compressed tree, independent of how it was built: every group in
//! range must resolve under the new tree to exactly the state it has now, and the new tree must
//! keep Synapse's rules (predecessor older and in range, one row per key, no removals).

use crate::compress::Plan;
use crate::cursor::StatePair;
use crate::error::VerifyError;
use crate::forest::Node;
use crate::intern::ABSENT;
use crate::room::Room;
use crate::{Interrupts, CHECK_EVERY};

pub fn verify(room: &Room, plan: &Plan, interrupts: &mut dyn Interrupts) -> Result<(), VerifyError> {
    let fail = |node: Node, detail: String| VerifyError { group: room.id(node), detail };
    if plan.tree.len() != room.len() {
        return Err(fail(0, format!("the new tree has {} groups, the room {}", plan.tree.len(), room.len())));
    }
    let strings = room.strings();
    let mut pair = StatePair::new(strings.key_count());
    for (i, node) in room.range_nodes().enumerate() {
        if i.is_multiple_of(CHECK_EVERY) {
            interrupts.check();
        }
        if let Some(p) = plan.tree.parent(node) {
            if !room.in_range(p) || room.id(p) >= room.id(node) {
                return Err(fail(
                    node,
                    format!("new predecessor {} is not an older group in range", room.id(p)),
                ));
            }
        }
        let entries = plan.tree.entries(node);
        if entries.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(fail(node, "new rows are not one per (type, state_key)".into()));
        }
        if entries.iter().any(|&(_, v)| v == ABSENT) {
            return Err(fail(node, "new rows remove a key".into()));
        }
        pair.move_left(room.forest(), Some(node));
        pair.move_right(&plan.tree, Some(node));
        if let Some(&key) = pair.diff.keys().first() {
            let (t, k) = strings.key_str(key);
            let show = |v| if v == ABSENT { "(absent)".to_owned() } else { strings.value_str(v).to_owned() };
            return Err(fail(
                node,
                format!(
                    "{} keys differ, e.g. ({t:?}, {k:?}): original {}, new {}",
                    pair.diff.keys().len(),
                    show(pair.left.value(key)),
                    show(pair.right.value(key))
                ),
            ));
        }
    }
    Ok(())
}
