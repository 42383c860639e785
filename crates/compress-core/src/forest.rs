//! A forest of state groups in which each node's state is its parent's state overlaid with the
//! node's own entries (Synapse's "highest group id wins" along an edge chain). Nodes are pushed
//! in ascending group-id order, so a parent always has a lower index than its children.

use std::collections::BTreeMap;

use crate::intern::{KeyId, ValueId, ABSENT};

/// Index of a state group in a room, in ascending id order.
pub type Node = u32;
const NO_PARENT: Node = Node::MAX;

#[derive(Default, Clone)]
pub struct Forest {
    parent: Vec<Node>,
    depth: Vec<u32>,
    starts: Vec<usize>,
    entries: Vec<(KeyId, ValueId)>,
}

impl Forest {
    pub fn with_capacity(nodes: usize) -> Self {
        let mut f = Forest {
            parent: Vec::with_capacity(nodes),
            depth: Vec::with_capacity(nodes),
            starts: Vec::with_capacity(nodes + 1),
            entries: Vec::new(),
        };
        f.starts.push(0);
        f
    }

    /// Appends a node. `entries` are the keys it sets (`ABSENT` removes a key: in-memory only).
    pub fn push(
        &mut self,
        parent: Option<Node>,
        entries: impl IntoIterator<Item = (KeyId, ValueId)>,
    ) -> Node {
        if self.starts.is_empty() {
            self.starts.push(0);
        }
        let node = self.parent.len() as Node;
        let depth = match parent {
            Some(p) => {
                assert!(p < node, "a parent must be pushed before its child");
                self.depth[p as usize] + 1
            }
            None => 0,
        };
        self.parent.push(parent.unwrap_or(NO_PARENT));
        self.depth.push(depth);
        self.entries.extend(entries);
        self.starts.push(self.entries.len());
        node
    }

    pub fn len(&self) -> usize {
        self.parent.len()
    }

    pub fn is_empty(&self) -> bool {
        self.parent.is_empty()
    }

    pub fn parent(&self, node: Node) -> Option<Node> {
        match self.parent[node as usize] {
            NO_PARENT => None,
            p => Some(p),
        }
    }

    /// Number of edges between the node and its root.
    pub fn depth(&self, node: Node) -> u32 {
        self.depth[node as usize]
    }

    pub fn entries(&self, node: Node) -> &[(KeyId, ValueId)] {
        let n = node as usize;
        &self.entries[self.starts[n]..self.starts[n + 1]]
    }

    /// The state of a node resolved from scratch by walking to its root. Slow: for tests and
    /// error messages only; the algorithm uses [`crate::cursor::StateCursor`].
    pub fn resolve_from_scratch(&self, node: Node) -> BTreeMap<KeyId, ValueId> {
        let mut state = BTreeMap::new();
        let mut at = Some(node);
        while let Some(n) = at {
            for &(k, v) in self.entries(n) {
                state.entry(k).or_insert(v);
            }
            at = self.parent(n);
        }
        state.retain(|_, v| *v != ABSENT);
        state
    }
}
