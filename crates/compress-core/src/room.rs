//! A room's state groups as loaded from Synapse's tables: the edge graph (validated: one edge
//! per group, no missing predecessor, no cycle, predecessors older) and the state rows, streamed
//! in ascending group order into an in-memory [`Forest`]. A snapshot (a group without an edge)
//! is kept in memory as a delta, with removals, against the group loaded before it, so memory
//! follows the changes between groups rather than the number of rows.

use crate::cursor::StateCursor;
use crate::error::InputError;
use crate::forest::{Forest, Node};
use crate::intern::{KeyId, StringTable, ValueId, ABSENT};

/// The validated edge graph of the loaded groups.
pub struct GroupGraph {
    ids: Vec<i64>,
    in_range: Vec<bool>,
    prev: Vec<Option<Node>>,
    outside_successor: Vec<bool>,
}

impl GroupGraph {
    /// `groups`: every loaded group with whether it is in the range to compress (the others are
    /// context: predecessors of groups in range). `edges`: `(state_group, prev_state_group)`
    /// rows of those groups.
    pub fn new(mut groups: Vec<(i64, bool)>, edges: &[(i64, i64)]) -> Result<Self, InputError> {
        groups.sort_unstable_by_key(|g| g.0);
        groups.dedup_by_key(|g| g.0);
        let ids: Vec<i64> = groups.iter().map(|g| g.0).collect();
        let in_range = groups.iter().map(|g| g.1).collect();
        let node_of = |id: i64| ids.binary_search(&id).ok().map(|n| n as Node);
        let mut prev: Vec<Option<Node>> = vec![None; ids.len()];
        let mut prev_id: Vec<Option<i64>> = vec![None; ids.len()];
        for &(group, p) in edges {
            let node = node_of(group).ok_or(InputError::UnexpectedRow { group })? as usize;
            if let Some(first) = prev_id[node] {
                if first != p {
                    return Err(InputError::TwoEdges { group, prevs: (first.min(p), first.max(p)) });
                }
                continue;
            }
            prev_id[node] = Some(p);
            prev[node] = Some(node_of(p).ok_or(InputError::MissingPredecessor { group, prev: p })?);
        }
        let outside_successor = vec![false; ids.len()];
        let graph = GroupGraph { ids, in_range, prev, outside_successor };
        graph.check_cycles()?;
        for (node, p) in graph.prev.iter().enumerate() {
            if let Some(p) = *p {
                if p as usize >= node {
                    return Err(InputError::PrevNotOlder {
                        group: graph.ids[node],
                        prev: graph.ids[p as usize],
                    });
                }
            }
        }
        Ok(graph)
    }

    fn check_cycles(&self) -> Result<(), InputError> {
        const NEW: u8 = 0;
        const WALKING: u8 = 1;
        const DONE: u8 = 2;
        let mut mark = vec![NEW; self.ids.len()];
        let mut walk = Vec::new();
        for start in 0..self.ids.len() {
            walk.clear();
            let mut at = Some(start as Node);
            while let Some(n) = at {
                match mark[n as usize] {
                    NEW => {
                        mark[n as usize] = WALKING;
                        walk.push(n);
                        at = self.prev[n as usize];
                    }
                    WALKING => {
                        let from = walk.iter().position(|&w| w == n).expect("walking nodes are on the walk");
                        let lowest = walk[from..]
                            .iter()
                            .map(|&w| self.ids[w as usize])
                            .min()
                            .expect("a cycle has nodes");
                        return Err(InputError::Cycle { group: lowest });
                    }
                    _ => break,
                }
            }
            for &n in &walk {
                mark[n as usize] = DONE;
            }
        }
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn node_of(&self, id: i64) -> Option<Node> {
        self.ids.binary_search(&id).ok().map(|n| n as Node)
    }

    pub fn ids(&self) -> &[i64] {
        &self.ids
    }

    /// Records the loaded groups that are the predecessor of a group that is not loaded (a newer
    /// group after the range, typically the next chunk's): rewriting must not make their chains
    /// longer, since the chains of those unseen successors run through them. Ids that are not
    /// loaded are ignored.
    pub fn mark_outside_successors(&mut self, groups: impl IntoIterator<Item = i64>) {
        for id in groups {
            if let Some(node) = self.node_of(id) {
                self.outside_successor[node as usize] = true;
            }
        }
    }
}

/// Receives the state rows of the graph's groups in ascending group order.
pub struct RoomBuilder {
    graph: GroupGraph,
    strings: StringTable,
    forest: Forest,
    row_counts: Vec<u32>,
    pending: Vec<(KeyId, ValueId)>,
    cursor: StateCursor,
}

impl RoomBuilder {
    pub fn new(graph: GroupGraph) -> Self {
        let n = graph.len();
        RoomBuilder {
            graph,
            strings: StringTable::default(),
            forest: Forest::with_capacity(n),
            row_counts: vec![0; n],
            pending: Vec::new(),
            cursor: StateCursor::default(),
        }
    }

    /// Adds one `state_groups_state` row. Rows must come grouped by group, groups ascending.
    pub fn add_row(
        &mut self,
        group: i64,
        event_type: &str,
        state_key: &str,
        event_id: &str,
    ) -> Result<(), InputError> {
        let node = self.graph.node_of(group).ok_or(InputError::UnexpectedRow { group })? as usize;
        if node < self.forest.len() {
            return Err(InputError::UnexpectedRow { group });
        }
        while self.forest.len() < node {
            self.finish_next()?;
        }
        let key = self.strings.key(event_type, state_key);
        let value = self.strings.value(event_id);
        self.pending.push((key, value));
        self.row_counts[node] += 1;
        Ok(())
    }

    /// Pushes the next node with the rows collected for it.
    fn finish_next(&mut self) -> Result<(), InputError> {
        let node = self.forest.len();
        self.pending.sort_unstable();
        let mut kept = 0;
        for i in 0..self.pending.len() {
            let row = self.pending[i];
            if kept > 0 && self.pending[kept - 1].0 == row.0 {
                if self.pending[kept - 1].1 == row.1 {
                    continue;
                }
                let (event_type, state_key) = self.strings.key_str(row.0);
                return Err(InputError::DuplicateKey {
                    group: self.graph.ids[node],
                    event_type: event_type.to_owned(),
                    state_key: state_key.to_owned(),
                });
            }
            self.pending[kept] = row;
            kept += 1;
        }
        self.pending.truncate(kept);
        match self.graph.prev[node] {
            Some(p) => {
                self.forest.push(Some(p), self.pending.drain(..));
            }
            None if node > 0 => self.push_snapshot_as_delta(node as Node),
            None => {
                self.forest.push(None, self.pending.drain(..));
            }
        }
        Ok(())
    }

    /// Stores a snapshot as its difference (with removals) from the group before it, unless
    /// that difference is not smaller than the snapshot itself.
    fn push_snapshot_as_delta(&mut self, node: Node) {
        let before = node - 1;
        self.cursor.grow(self.strings.key_count());
        self.cursor.move_to(&self.forest, Some(before), &mut |_, _| {});
        let rows = &self.pending;
        let mut delta: Vec<(KeyId, ValueId)> =
            rows.iter().copied().filter(|&(k, v)| self.cursor.value(k) != v).collect();
        for (k, _) in self.cursor.state() {
            if rows.binary_search_by_key(&k, |r| r.0).is_err() {
                delta.push((k, ABSENT));
            }
        }
        if delta.len() < rows.len() {
            self.forest.push(Some(before), delta);
            self.pending.clear();
        } else {
            self.forest.push(None, self.pending.drain(..));
        }
    }

    pub fn finish(mut self) -> Result<Room, InputError> {
        while self.forest.len() < self.graph.len() {
            self.finish_next()?;
        }
        Ok(Room {
            graph: self.graph,
            strings: self.strings,
            forest: self.forest,
            row_counts: self.row_counts,
        })
    }
}

/// A loaded room: its groups, their original edges and row counts, and their states.
pub struct Room {
    graph: GroupGraph,
    strings: StringTable,
    forest: Forest,
    row_counts: Vec<u32>,
}

impl Room {
    pub fn len(&self) -> usize {
        self.graph.len()
    }

    pub fn is_empty(&self) -> bool {
        self.graph.is_empty()
    }

    pub fn id(&self, node: Node) -> i64 {
        self.graph.ids[node as usize]
    }

    pub fn node_of(&self, id: i64) -> Option<Node> {
        self.graph.node_of(id)
    }

    pub fn in_range(&self, node: Node) -> bool {
        self.graph.in_range[node as usize]
    }

    pub fn range_nodes(&self) -> impl Iterator<Item = Node> + '_ {
        (0..self.len() as Node).filter(|&n| self.in_range(n))
    }

    /// Whether a group that is not loaded has this group as its predecessor
    /// ([`GroupGraph::mark_outside_successors`]).
    pub fn has_outside_successor(&self, node: Node) -> bool {
        self.graph.outside_successor[node as usize]
    }

    /// The predecessor in `state_group_edges`.
    pub fn original_prev(&self, node: Node) -> Option<Node> {
        self.graph.prev[node as usize]
    }

    /// The number of `state_groups_state` rows the group has now.
    pub fn row_count(&self, node: Node) -> u32 {
        self.row_counts[node as usize]
    }

    /// The states of all groups (in-memory form: may differ from the original edges).
    pub fn forest(&self) -> &Forest {
        &self.forest
    }

    pub fn strings(&self) -> &StringTable {
        &self.strings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(groups: &[i64], edges: &[(i64, i64)]) -> Result<GroupGraph, InputError> {
        GroupGraph::new(groups.iter().map(|&g| (g, true)).collect(), edges)
    }

    #[test]
    fn graph_errors_name_the_group() {
        assert_eq!(
            graph(&[1, 2, 3], &[(3, 1), (3, 2)]).err(),
            Some(InputError::TwoEdges { group: 3, prevs: (1, 2) })
        );
        assert_eq!(
            graph(&[1, 2], &[(2, 9)]).err(),
            Some(InputError::MissingPredecessor { group: 2, prev: 9 })
        );
        assert_eq!(graph(&[1, 2, 3], &[(1, 3), (3, 2), (2, 1)]).err(), Some(InputError::Cycle { group: 1 }));
        assert_eq!(graph(&[5], &[(5, 5)]).err(), Some(InputError::Cycle { group: 5 }));
        assert_eq!(graph(&[1, 2], &[(1, 2)]).err(), Some(InputError::PrevNotOlder { group: 1, prev: 2 }));
        assert!(graph(&[1, 2], &[(2, 1), (2, 1)]).is_ok());
    }

    #[test]
    fn duplicate_rows_with_different_events_are_refused() {
        let mut b = RoomBuilder::new(graph(&[1, 2], &[(2, 1)]).unwrap());
        b.add_row(1, "m.room.create", "", "$a").unwrap();
        b.add_row(2, "m.room.name", "", "$b").unwrap();
        b.add_row(2, "m.room.name", "", "$b").unwrap();
        let room = b.finish().unwrap();
        assert_eq!(room.row_count(1), 2);
        assert_eq!(room.forest().entries(1).len(), 1);

        let mut b = RoomBuilder::new(graph(&[1], &[]).unwrap());
        b.add_row(1, "m.room.name", "", "$b").unwrap();
        b.add_row(1, "m.room.name", "", "$c").unwrap();
        assert_eq!(
            b.finish().err(),
            Some(InputError::DuplicateKey {
                group: 1,
                event_type: "m.room.name".into(),
                state_key: "".into()
            })
        );
    }

    #[test]
    fn snapshots_become_deltas_with_removals_and_keep_their_state() {
        let mut b = RoomBuilder::new(graph(&[1, 2, 3, 4], &[(2, 1), (4, 3)]).unwrap());
        for (g, t, k, e) in [
            (1, "a", "", "$1"),
            (1, "b", "", "$2"),
            (1, "c", "", "$3"),
            (2, "d", "", "$4"),
            (3, "a", "", "$1"),
            (3, "b", "", "$5"),
            (3, "d", "", "$4"),
            (4, "e", "", "$6"),
        ] {
            b.add_row(g, t, k, e).unwrap();
        }
        let room = b.finish().unwrap();
        let f = room.forest();
        assert_eq!(f.parent(2), Some(1), "snapshot 3 stored against group 2");
        let s = room.strings();
        let named = |n: Node| -> Vec<(String, String)> {
            f.resolve_from_scratch(n)
                .into_iter()
                .map(|(k, v)| (s.key_str(k).0.to_owned(), s.value_str(v).to_owned()))
                .collect()
        };
        assert_eq!(
            named(2),
            vec![("a".into(), "$1".into()), ("b".into(), "$5".into()), ("d".into(), "$4".into())]
        );
        assert_eq!(named(3).len(), 4);
        assert_eq!(room.original_prev(2), None);
        assert_eq!(room.row_count(2), 3);
    }

    #[test]
    fn rows_out_of_order_are_refused() {
        let mut b = RoomBuilder::new(graph(&[1, 2], &[]).unwrap());
        b.add_row(2, "a", "", "$1").unwrap();
        assert_eq!(b.add_row(1, "a", "", "$1"), Err(InputError::UnexpectedRow { group: 1 }));
        assert_eq!(b.add_row(7, "a", "", "$1"), Err(InputError::UnexpectedRow { group: 7 }));
    }
}
