//! A room as rows and edges, resolved the naive way Synapse reads it, to check the core against.

#![allow(dead_code)]

use std::collections::BTreeMap;

use compress_core::{compress, verify, GroupGraph, Levels, Plan, Room, RoomBuilder, ABSENT};

pub type State = BTreeMap<(String, String), String>;
/// One group: its edge and its `(type, state_key, event_id)` rows.
pub type Group = (Option<i64>, Vec<(String, String, String)>);

/// Synapse's tables for one room: group id -> (edge, rows).
#[derive(Clone, Debug, Default)]
pub struct Tables {
    pub groups: BTreeMap<i64, Group>,
}

impl Tables {
    pub fn add(&mut self, id: i64, prev: Option<i64>, rows: &[(&str, &str, &str)]) {
        let rows = rows.iter().map(|(t, k, e)| (t.to_string(), k.to_string(), e.to_string())).collect();
        self.groups.insert(id, (prev, rows));
    }

    /// Synapse's read: follow edges to the root, the highest group id wins per key.
    pub fn resolve(&self, id: i64) -> State {
        let mut chain = Vec::new();
        let mut at = Some(id);
        while let Some(g) = at {
            chain.push(g);
            at = self.groups[&g].0;
        }
        chain.sort();
        let mut state = State::new();
        for g in chain {
            for (t, k, e) in &self.groups[&g].1 {
                state.insert((t.clone(), k.clone()), e.clone());
            }
        }
        state
    }

    pub fn rows(&self) -> usize {
        self.groups.values().map(|g| g.1.len()).sum()
    }

    /// Loads every group (those with id > `min` in range) the way the extension does.
    pub fn load(&self, min: i64) -> Room {
        let groups = self.groups.keys().map(|&id| (id, id > min)).collect();
        let edges: Vec<(i64, i64)> = self.groups.iter().filter_map(|(&g, v)| v.0.map(|p| (g, p))).collect();
        let mut b = RoomBuilder::new(GroupGraph::new(groups, &edges).expect("valid graph"));
        for (&g, (_, rows)) in &self.groups {
            for (t, k, e) in rows {
                b.add_row(g, t, k, e).expect("valid rows");
            }
        }
        b.finish().expect("valid room")
    }

    /// The tables after writing a plan: changed groups get their new edge and delta rows.
    pub fn apply(&self, room: &Room, plan: &Plan) -> Tables {
        let mut out = self.clone();
        let s = room.strings();
        for &node in &plan.changed {
            let prev = plan.tree.parent(node).map(|p| room.id(p));
            let rows = plan
                .tree
                .entries(node)
                .iter()
                .map(|&(k, v)| {
                    assert_ne!(v, ABSENT);
                    let (t, sk) = s.key_str(k);
                    (t.to_owned(), sk.to_owned(), s.value_str(v).to_owned())
                })
                .collect();
            out.groups.insert(room.id(node), (prev, rows));
        }
        out
    }
}

/// Compresses and verifies, then checks against the naive model: every group resolves the same,
/// the rules hold, and the stats add up. Returns the tables after the rewrite.
pub fn compress_and_check(tables: &Tables, min: i64, sizes: &[i64]) -> (Tables, Plan) {
    let room = tables.load(min);
    let mut levels = Levels::new(sizes).unwrap();
    let plan = compress(&room, &mut levels, &mut || {});
    verify(&room, &plan, &mut || {}).expect("verification passes");
    let after = tables.apply(&room, &plan);
    for (&id, (prev, rows)) in &after.groups {
        assert_eq!(after.resolve(id), tables.resolve(id), "state of group {id}");
        if let Some(p) = prev {
            assert!(*p < id, "edge {id} -> {p} must point to an older group");
            let pk: Vec<_> = after.resolve(*p).into_keys().collect();
            let gk = after.resolve(id);
            assert!(pk.iter().all(|k| gk.contains_key(k)), "keys of {p} must be a subset of {id}'s");
        }
        let mut keys: Vec<_> = rows.iter().map(|r| (&r.0, &r.1)).collect();
        let n = keys.len();
        keys.sort();
        keys.dedup();
        if room.node_of(id).is_some_and(|n| plan.changed.contains(&n)) {
            assert_eq!(keys.len(), n, "group {id} has duplicate keys after the rewrite");
        }
    }
    let in_range = |id: &i64| *id > min;
    let rows_before: usize =
        tables.groups.iter().filter(|(id, _)| in_range(id)).map(|(_, g)| g.1.len()).sum();
    let rows_after: usize = after.groups.iter().filter(|(id, _)| in_range(id)).map(|(_, g)| g.1.len()).sum();
    assert_eq!(plan.stats.rows_before as usize, rows_before);
    assert_eq!(plan.stats.rows_after as usize, rows_after);
    for (id, g) in &tables.groups {
        if !in_range(id) {
            assert_eq!(&after.groups[id].1, &g.1, "group {id} outside the range must not change");
            assert_eq!(after.groups[id].0, g.0);
        }
    }
    (after, plan)
}

/// A chain `first..first+n` where each group adds one member; a snapshot every `every` groups.
pub fn member_chain(n: i64, every: i64) -> Tables {
    let mut t = Tables::default();
    let mut all: Vec<(String, String, String)> = Vec::new();
    for g in 0..n {
        let row = ("m.room.member".to_owned(), format!("@u{g}:x"), format!("$e{g}"));
        all.push(row.clone());
        if g % every == 0 {
            t.groups.insert(g, (None, all.clone()));
        } else {
            t.groups.insert(g, (Some(g - 1), vec![row]));
        }
    }
    t
}
