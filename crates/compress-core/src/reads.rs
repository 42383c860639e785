//! What Synapse's read of a group fetches, and the read budgets of the fork-aware method.
//!
//! Synapse reads a group's state by walking its chain of edges and fetching every
//! `state_groups_state` row of every group on it (then keeping the newest row per key), so the
//! rows a read fetches are the group's rows plus its predecessor's read. A compressed room has
//! fewer snapshots; where keys change (memberships) its deltas repeat keys that the snapshot
//! above them already holds, and a read fetches more rows than before even when it walks fewer
//! groups. A [`ReadBudget`] bounds that growth, at the cost of rows saved.

use crate::forest::Node;
use crate::plan::{successors_outside_range, ReadRows};
use crate::room::Room;

/// How many rows a read of a group in range may fetch after the rewrite.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ReadBudget {
    /// No bound besides the chain cap.
    #[default]
    Off,
    /// No read fetches more rows than it does now or than the median read of the groups in range
    /// does now, whichever is more: the median, every higher percentile and the maximum of the
    /// rows fetched by reads of the groups in range do not grow.
    Median,
    /// No read of any group fetches more rows than it does now.
    Strict,
}

impl ReadBudget {
    /// The budget's name, as the `synapse_compress.read_budget` setting spells it.
    pub fn name(self) -> &'static str {
        match self {
            ReadBudget::Off => "off",
            ReadBudget::Median => "median",
            ReadBudget::Strict => "strict",
        }
    }
}

/// Rows a read of every loaded group fetches now: its rows now and its original predecessor's
/// read.
pub fn original_reads(room: &Room) -> Vec<u64> {
    let mut read = vec![0u64; room.len()];
    for node in 0..room.len() {
        let own = room.row_count(node as Node) as u64;
        read[node] = own + room.original_prev(node as Node).map_or(0, |p| read[p as usize]);
    }
    read
}

/// The most rows a read of each loaded group may fetch after the rewrite under `budget` (`None`
/// for [`ReadBudget::Off`]). Groups outside the range keep their rows and edges (no limit of
/// their own); a group in range with successors outside the range keeps its read as it is under
/// any budget, since those successors' reads run through it.
pub fn read_limits(room: &Room, budget: ReadBudget) -> Option<Vec<u64>> {
    if budget == ReadBudget::Off {
        return None;
    }
    let now = original_reads(room);
    let floor = match budget {
        ReadBudget::Median => {
            let mut in_range: Vec<u64> = room.range_nodes().map(|n| now[n as usize]).collect();
            ReadRows::of(&mut in_range).p50
        }
        _ => 0,
    };
    let pinned = successors_outside_range(room);
    Some(
        (0..room.len())
            .map(|n| match (room.in_range(n as Node), pinned[n]) {
                (false, _) => u64::MAX,
                (true, true) => now[n],
                (true, false) => now[n].max(floor),
            })
            .collect(),
    )
}
