//! Exact verification of a compressed tree, independent of how it was built: every loaded group
//! must resolve under the new tree to exactly the state it has now, and the new tree must keep
//! Synapse's rules (predecessor older and loaded, one row per key, no removals). Groups outside
//! the range (context) are not rewritten: their real predecessor stays their original one, and
//! their node in the new tree must hold their real state, since groups in range may be stored
//! as deltas against them. A group in range that is not in `plan.changed` is not written either:
//! it must keep its original edge (its rows are then its original ones, since its state is). Chain lengths are counted along the real
//! edges after the rewrite ([`crate::compress::real_prev`]), optionally against a cap.

use crate::cursor::StatePair;
use crate::error::VerifyError;
use crate::forest::Node;
use crate::intern::ABSENT;
use crate::plan::{original_chains, real_prev, successors_outside_range, Plan};
use crate::reads::{read_limits, ReadBudget};
use crate::room::Room;
use crate::{Interrupts, CHECK_EVERY};

/// [`verify_with_cap`] without a chain cap.
pub fn verify(room: &Room, plan: &Plan, interrupts: &mut dyn Interrupts) -> Result<(), VerifyError> {
    verify_with_cap(room, plan, None, interrupts)
}

/// Verifies the plan exactly and, with `max_chain`, that no read of a group in range walks more
/// than `max_chain` groups (counting the group itself) after the rewrite, that no group in
/// range with successors outside the range (not loaded, [`Room::has_outside_successor`], or
/// loaded as context) gets a longer chain than now (the chains of those successors, which keep
/// their edges, run through it).
pub fn verify_with_cap(
    room: &Room,
    plan: &Plan,
    max_chain: Option<u32>,
    interrupts: &mut dyn Interrupts,
) -> Result<(), VerifyError> {
    verify_with_limits(room, plan, max_chain, ReadBudget::Off, interrupts)
}

/// Verifies the plan exactly, with an optional chain cap (as [`verify_with_cap`]) and a read
/// budget: no read of a group in range fetches more `state_groups_state` rows after the rewrite
/// than its limit ([`read_limits`]). Synapse's read of a group fetches every row of every group
/// on its chain, `rows(g) + read(predecessor)` along the real edges (context groups keep their
/// rows). Groups outside the range then fetch no more than now (their chains run through
/// context groups or through groups in range whose limit is their read now).
pub fn verify_with_limits(
    room: &Room,
    plan: &Plan,
    max_chain: Option<u32>,
    read_budget: ReadBudget,
    interrupts: &mut dyn Interrupts,
) -> Result<(), VerifyError> {
    let fail = |node: Node, detail: String| VerifyError { group: room.id(node), detail };
    if plan.tree.len() != room.len() {
        let detail = format!("the new tree has {} groups, the room {}", plan.tree.len(), room.len());
        return Err(VerifyError { group: if room.is_empty() { -1 } else { room.id(0) }, detail });
    }
    check_changed_list(room, plan)?;
    let strings = room.strings();
    let mut pair = StatePair::new(strings.key_count());
    let mut chain = vec![0u32; room.len()];
    let chain_before = max_chain.map(|_| original_chains(room));
    let pinned = max_chain.map(|_| successors_outside_range(room));
    let limits = read_limits(room, read_budget);
    let mut read = vec![0u64; if limits.is_some() { room.len() } else { 0 }];
    let mut next_changed = plan.changed.iter().copied().peekable();
    for node in 0..room.len() as Node {
        if (node as usize).is_multiple_of(CHECK_EVERY) {
            interrupts.check();
        }
        let prev = real_prev(room, &plan.tree, node);
        chain[node as usize] = prev.map_or(1, |p| chain[p as usize] + 1);
        if let Some(limits) = &limits {
            let own = if room.in_range(node) {
                plan.tree.entries(node).len() as u64
            } else {
                room.row_count(node) as u64
            };
            let r = own + prev.map_or(0, |p| read[p as usize]);
            read[node as usize] = r;
            if r > limits[node as usize] {
                let (limit, budget) = (limits[node as usize], read_budget.name());
                return Err(fail(
                    node,
                    format!("a read fetches {r} rows, more than the {limit} read budget {budget} allows"),
                ));
            }
        }
        if room.in_range(node) {
            let changed = next_changed.next_if_eq(&node).is_some();
            check_new_rows(room, plan, node, changed)?;
            if let (Some(cap), len) = (max_chain, chain[node as usize]) {
                if len > cap {
                    return Err(fail(node, format!("a read walks {len} groups, more than max_chain {cap}")));
                }
                let before = chain_before.as_ref().map_or(0, |c| c[node as usize]);
                if pinned.as_ref().is_some_and(|p| p[node as usize]) && len > before {
                    return Err(fail(
                        node,
                        format!("has successors outside the range, and its chain would grow from {before} to {len}"),
                    ));
                }
            }
        }
        pair.move_left(room.forest(), Some(node));
        pair.move_right(&plan.tree, Some(node));
        if let Some(&key) = pair.diff.keys().first() {
            let (t, k) = strings.key_str(key);
            let show = |v| if v == ABSENT { "(absent)".to_owned() } else { strings.value_str(v).to_owned() };
            let what = if room.in_range(node) { "" } else { " (context group: the new tree misstates it)" };
            return Err(fail(
                node,
                format!(
                    "{} keys differ{what}, e.g. ({t:?}, {k:?}): original {}, new {}",
                    pair.diff.keys().len(),
                    show(pair.left.value(key)),
                    show(pair.right.value(key))
                ),
            ));
        }
    }
    Ok(())
}

/// `plan.changed` lists groups in range, ascending, each once.
fn check_changed_list(room: &Room, plan: &Plan) -> Result<(), VerifyError> {
    let fail = |node: Node, detail: &str| VerifyError { group: room.id(node), detail: detail.to_owned() };
    for (i, &node) in plan.changed.iter().enumerate() {
        if node as usize >= room.len() {
            let detail =
                format!("the changed groups name node {node}, beyond the room's {} groups", room.len());
            return Err(VerifyError { group: -1, detail });
        }
        if !room.in_range(node) {
            return Err(fail(node, "listed as changed but outside the range"));
        }
        if i > 0 && plan.changed[i - 1] >= node {
            return Err(fail(node, "the changed groups are not ascending and distinct"));
        }
    }
    Ok(())
}

/// The rules for the rows and edge of one group in range.
fn check_new_rows(room: &Room, plan: &Plan, node: Node, changed: bool) -> Result<(), VerifyError> {
    let fail = |detail: String| VerifyError { group: room.id(node), detail };
    let prev = plan.tree.parent(node);
    if let Some(p) = prev {
        if room.id(p) >= room.id(node) {
            return Err(fail(format!("new predecessor {} is not older", room.id(p))));
        }
    }
    let entries = plan.tree.entries(node);
    if !changed && prev != room.original_prev(node) {
        return Err(fail("not listed as changed, yet its edge differs from the original".into()));
    }
    if entries.windows(2).any(|w| w[0].0 >= w[1].0) {
        return Err(fail("new rows are not one per (type, state_key)".into()));
    }
    if entries.iter().any(|&(_, v)| v == ABSENT) {
        return Err(fail("new rows remove a key".into()));
    }
    Ok(())
}
