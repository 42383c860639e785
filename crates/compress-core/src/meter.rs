//! What storing one group as a delta against another would cost, maintained incrementally: a
//! [`DeltaMeter`] holds a cursor on the group (`group`) and one on the candidate base (`base`),
//! both over the same forest of real states, and counts the keys whose values differ (the delta
//! rows) and the keys the base has but the group lacks (which make the base unusable: a delta
//! cannot remove a key). Moving either cursor updates both counts per changed key, so trying
//! the nearby candidates of nearby groups costs only the deltas walked between them.

use crate::cursor::StateCursor;
use crate::forest::{Forest, Node};
use crate::intern::{KeyId, ValueId, ABSENT};

const DIFFERS: u8 = 1;
const REMOVES: u8 = 2;
/// Not a difference: the key is set in the group's state.
const GROUP_SET: u8 = 4;

fn status(group: ValueId, base: ValueId) -> u8 {
    let mut s = 0;
    if group != base {
        s |= DIFFERS;
        if group == ABSENT {
            s |= REMOVES;
        }
    }
    s
}

/// The cost of a base for a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BaseCost {
    /// Keys whose values differ: for a usable base, the rows of the group's delta against it
    /// (against no base, the rows of its snapshot).
    pub rows: u32,
    /// The base's keys are a subset of the group's.
    pub usable: bool,
}

pub struct DeltaMeter {
    group: StateCursor,
    base: StateCursor,
    status: Vec<u8>,
    differing: u32,
    removing: u32,
    /// Keys set in the group's state (its snapshot rows).
    group_keys: u32,
}

impl DeltaMeter {
    pub fn new(key_count: usize) -> Self {
        DeltaMeter {
            group: StateCursor::new(key_count),
            base: StateCursor::new(key_count),
            status: vec![0; key_count],
            differing: 0,
            removing: 0,
            group_keys: 0,
        }
    }

    fn update(status: &mut [u8], differing: &mut u32, removing: &mut u32, key: KeyId, new: u8) {
        let old = std::mem::replace(&mut status[key as usize], new);
        *differing = *differing + u32::from(new & DIFFERS != 0) - u32::from(old & DIFFERS != 0);
        *removing = *removing + u32::from(new & REMOVES != 0) - u32::from(old & REMOVES != 0);
    }

    /// Moves the group cursor to `node`.
    pub fn set_group(&mut self, forest: &Forest, node: Node) {
        let DeltaMeter { group, base, status, differing, removing, group_keys } = self;
        group.move_to(forest, Some(node), &mut |k, v| {
            let was_set = status[k as usize] & GROUP_SET != 0;
            let mut new = self::status(v, base.value(k));
            if v != ABSENT {
                new |= GROUP_SET;
            }
            *group_keys = *group_keys + u32::from(v != ABSENT) - u32::from(was_set);
            Self::update(status, differing, removing, k, new)
        });
    }

    /// The rows of the group's snapshot: the keys set in its state.
    pub fn snapshot_rows(&self) -> u32 {
        self.group_keys
    }

    /// Moves the base cursor to `node` (`None`: no base, i.e. a snapshot).
    pub fn set_base(&mut self, forest: &Forest, node: Option<Node>) {
        let DeltaMeter { group, base, status, differing, removing, .. } = self;
        base.move_to(forest, node, &mut |k, v| {
            let set = status[k as usize] & GROUP_SET;
            Self::update(status, differing, removing, k, self::status(group.value(k), v) | set)
        });
    }

    pub fn group_position(&self) -> Option<Node> {
        self.group.position()
    }

    /// The cost of the current base for the current group.
    pub fn cost(&self) -> BaseCost {
        BaseCost { rows: self.differing, usable: self.removing == 0 }
    }

    /// The cost of `base` for the current group (moves the base cursor).
    pub fn cost_of(&mut self, forest: &Forest, base: Option<Node>) -> BaseCost {
        self.set_base(forest, base);
        self.cost()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_match_a_direct_comparison() {
        // 0: {0:a,1:b}  1<-0: {1:c}  2<-1: {2:d}  3<-0: {0:e}  4 root: {3:f}  5<-4: {3:ABSENT, 0:g}
        let mut f = Forest::with_capacity(6);
        f.push(None, [(0, 10), (1, 11)]);
        f.push(Some(0), [(1, 12)]);
        f.push(Some(1), [(2, 13)]);
        f.push(Some(0), [(0, 14)]);
        f.push(None, [(3, 15)]);
        f.push(Some(4), [(3, ABSENT), (0, 16)]);
        let mut m = DeltaMeter::new(4);
        for g in [2u32, 5, 3, 0, 4, 1] {
            m.set_group(&f, g);
            for b in [None, Some(0), Some(1), Some(2), Some(3), Some(4), Some(5), Some(2), None] {
                let got = m.cost_of(&f, b);
                let gs = f.resolve_from_scratch(g);
                let bs = b.map(|b| f.resolve_from_scratch(b)).unwrap_or_default();
                let mut keys: Vec<_> = gs.keys().chain(bs.keys()).collect();
                keys.sort();
                keys.dedup();
                let rows = keys.iter().filter(|k| gs.get(k) != bs.get(k)).count() as u32;
                let usable = bs.keys().all(|k| gs.contains_key(k));
                assert_eq!(got, BaseCost { rows, usable }, "group {g} base {b:?}");
                assert_eq!(m.snapshot_rows() as usize, gs.len());
            }
        }
    }
}
