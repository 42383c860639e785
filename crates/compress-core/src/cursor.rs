//! Incremental state resolution. A [`StateCursor`] holds the full resolved state of one node of
//! a [`Forest`] and moves to another node by undoing deltas up to their common ancestor and
//! applying deltas down to the target, reporting every key it changes. Two cursors and a
//! [`DiffSet`] keep the exact set of keys on which two states differ.

use crate::forest::{Forest, Node};
use crate::intern::{KeyId, ValueId, ABSENT};

#[derive(Default)]
pub struct StateCursor {
    values: Vec<ValueId>,
    path: Vec<Node>,
    marks: Vec<usize>,
    undo: Vec<(KeyId, ValueId)>,
    scratch: Vec<Node>,
}

impl StateCursor {
    /// A cursor at the empty state (before any root), for keys `0..key_count`.
    pub fn new(key_count: usize) -> Self {
        StateCursor { values: vec![ABSENT; key_count], ..Default::default() }
    }

    /// Makes room for keys interned after the cursor was made.
    pub fn grow(&mut self, key_count: usize) {
        if self.values.len() < key_count {
            self.values.resize(key_count, ABSENT);
        }
    }

    pub fn position(&self) -> Option<Node> {
        self.path.last().copied()
    }

    /// The value of `key` in the current state, `ABSENT` when the key is not set.
    pub fn value(&self, key: KeyId) -> ValueId {
        self.values[key as usize]
    }

    /// Every key that is set in the current state, in key order (O(number of keys)).
    pub fn state(&self) -> impl Iterator<Item = (KeyId, ValueId)> + '_ {
        self.values.iter().enumerate().filter(|(_, &v)| v != ABSENT).map(|(k, &v)| (k as KeyId, v))
    }

    /// Moves to `target` (`None`: the empty state), calling `changed(key, new_value)` for every
    /// key whose value changes on the way.
    pub fn move_to(
        &mut self,
        forest: &Forest,
        target: Option<Node>,
        changed: &mut impl FnMut(KeyId, ValueId),
    ) {
        let mut down = std::mem::take(&mut self.scratch);
        down.clear();
        let mut at = target;
        while let Some(node) = at {
            let d = forest.depth(node) as usize;
            if d < self.path.len() && self.path[d] == node {
                break;
            }
            down.push(node);
            at = forest.parent(node);
        }
        let keep = at.map_or(0, |common| forest.depth(common) as usize + 1);
        while self.path.len() > keep {
            self.pop(changed);
        }
        while let Some(node) = down.pop() {
            self.push(forest, node, changed);
        }
        self.scratch = down;
    }

    fn push(&mut self, forest: &Forest, node: Node, changed: &mut impl FnMut(KeyId, ValueId)) {
        self.marks.push(self.undo.len());
        self.path.push(node);
        for &(key, value) in forest.entries(node) {
            let slot = &mut self.values[key as usize];
            if *slot != value {
                self.undo.push((key, *slot));
                *slot = value;
                changed(key, value);
            }
        }
    }

    fn pop(&mut self, changed: &mut impl FnMut(KeyId, ValueId)) {
        self.path.pop();
        let mark = self.marks.pop().expect("marks follow the path");
        while self.undo.len() > mark {
            let (key, value) = self.undo.pop().expect("undo is longer than mark");
            self.values[key as usize] = value;
            changed(key, value);
        }
    }
}

/// A set of keys with O(1) insert, remove and membership: the keys on which two states differ.
#[derive(Default)]
pub struct DiffSet {
    slot: Vec<u32>,
    keys: Vec<KeyId>,
}

const NOT_IN_SET: u32 = u32::MAX;

impl DiffSet {
    pub fn new(key_count: usize) -> Self {
        DiffSet { slot: vec![NOT_IN_SET; key_count], keys: Vec::new() }
    }

    pub fn grow(&mut self, key_count: usize) {
        if self.slot.len() < key_count {
            self.slot.resize(key_count, NOT_IN_SET);
        }
    }

    /// Records whether `key` differs between the two states.
    pub fn set(&mut self, key: KeyId, differs: bool) {
        let slot = self.slot[key as usize];
        match (slot != NOT_IN_SET, differs) {
            (false, true) => {
                self.slot[key as usize] = self.keys.len() as u32;
                self.keys.push(key);
            }
            (true, false) => {
                let last = self.keys.pop().expect("slot says the set is not empty");
                if last != key {
                    self.keys[slot as usize] = last;
                    self.slot[last as usize] = slot;
                }
                self.slot[key as usize] = NOT_IN_SET;
            }
            _ => {}
        }
    }

    pub fn keys(&self) -> &[KeyId] {
        &self.keys
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Two cursors over two forests with the same key space and the keys where their states differ.
pub struct StatePair {
    pub left: StateCursor,
    pub right: StateCursor,
    pub diff: DiffSet,
}

impl StatePair {
    pub fn new(key_count: usize) -> Self {
        StatePair {
            left: StateCursor::new(key_count),
            right: StateCursor::new(key_count),
            diff: DiffSet::new(key_count),
        }
    }

    pub fn move_left(&mut self, forest: &Forest, target: Option<Node>) {
        let (right, diff) = (&self.right, &mut self.diff);
        self.left.move_to(forest, target, &mut |k, v| diff.set(k, v != right.value(k)));
    }

    pub fn move_right(&mut self, forest: &Forest, target: Option<Node>) {
        let (left, diff) = (&self.left, &mut self.diff);
        self.right.move_to(forest, target, &mut |k, v| diff.set(k, v != left.value(k)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Forest {
        // 0: {0:a,1:b}  1<-0: {1:c}  2<-1: {2:d}  3<-0: {0:e}  4 root: {3:f}  5<-4: {3:ABSENT... }
        let mut f = Forest::with_capacity(6);
        f.push(None, [(0, 10), (1, 11)]);
        f.push(Some(0), [(1, 12)]);
        f.push(Some(1), [(2, 13)]);
        f.push(Some(0), [(0, 14)]);
        f.push(None, [(3, 15)]);
        f.push(Some(4), [(3, ABSENT), (0, 16)]);
        f
    }

    #[test]
    fn cursor_matches_scratch_resolution_in_any_order() {
        let f = sample();
        let mut c = StateCursor::new(4);
        for &target in &[2u32, 3, 5, 0, 4, 2, 1, 5, 3] {
            c.move_to(&f, Some(target), &mut |_, _| {});
            let got: Vec<_> = c.state().collect();
            let want: Vec<_> = f.resolve_from_scratch(target).into_iter().collect();
            assert_eq!(got, want, "state of node {target}");
            assert_eq!(c.position(), Some(target));
        }
        c.move_to(&f, None, &mut |_, _| {});
        assert_eq!(c.state().count(), 0);
    }

    #[test]
    fn pair_tracks_exact_difference() {
        let f = sample();
        let mut p = StatePair::new(4);
        p.move_left(&f, Some(2));
        p.move_right(&f, Some(3));
        let mut d = p.diff.keys().to_vec();
        d.sort();
        assert_eq!(d, vec![0, 1, 2]);
        p.move_right(&f, Some(2));
        assert!(p.diff.is_empty());
        p.move_right(&f, Some(5));
        let mut d = p.diff.keys().to_vec();
        d.sort();
        assert_eq!(d, vec![0, 1, 2]);
    }

    #[test]
    fn diffset_insert_remove() {
        let mut s = DiffSet::new(5);
        s.set(1, true);
        s.set(3, true);
        s.set(1, true);
        s.set(4, true);
        s.set(1, false);
        s.set(2, false);
        let mut k = s.keys().to_vec();
        k.sort();
        assert_eq!(k, vec![3, 4]);
    }
}
