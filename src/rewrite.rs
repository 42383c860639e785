//! The rewrite of a room's changed groups under Synapse's locking protocol, in the calling
//! transaction: lock the groups, their old and new predecessors `FOR KEY SHARE` in id order,
//! skip groups that vanished, are queued for deletion or changed since they were read, bump the
//! new predecessors in `state_groups_pending_deletion`, then replace edges and rows with
//! set-based statements. Skipping any group is safe: every group resolves to the same state
//! under its old and its new rows, so any mix of the two keeps all states.

use std::collections::{HashMap, HashSet};

use compress_core::{Node, Plan, Room};
use pgrx::spi::SpiClient;
use pgrx::PgMemoryContexts;

use crate::errors::{Error, Result};
use crate::load;

/// One group to rewrite.
pub struct Change {
    pub node: Node,
    pub id: i64,
    pub old_prev: Option<i64>,
    pub new_prev: Option<i64>,
}

pub fn changes(room: &Room, plan: &Plan) -> Vec<Change> {
    plan.changed
        .iter()
        .map(|&node| Change {
            node,
            id: room.id(node),
            old_prev: room.original_prev(node).map(|p| room.id(p)),
            new_prev: plan.tree.parent(node).map(|p| room.id(p)),
        })
        .collect()
}

/// Every group the rewrite locks: the groups and their old and new predecessors, ascending.
pub fn lock_ids(changes: &[Change]) -> Vec<i64> {
    let mut ids: Vec<i64> =
        changes.iter().flat_map(|c| [Some(c.id), c.old_prev, c.new_prev]).flatten().collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// The new predecessors, ascending: groups that may have just become referenced.
pub fn new_prevs<'a>(changes: impl IntoIterator<Item = &'a Change>) -> Vec<i64> {
    let mut ids: Vec<i64> = changes.into_iter().filter_map(|c| c.new_prev).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

pub struct Outcome {
    pub written: u64,
    pub skipped: u64,
    /// Rows of the groups in range after the rewrite (skipped groups keep their rows).
    pub rows_after: u64,
}

/// Rows inserted per INSERT statement.
const INSERT_BATCH: usize = 10_000;

/// Added in Synapse schema 89: older databases have no deletion queue.
pub const PENDING_DELETION: &str = "state_groups_pending_deletion";

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

pub fn apply(
    client: &mut SpiClient<'_>,
    schema: &str,
    room_id: &str,
    room: &Room,
    plan: &Plan,
) -> Result<Outcome> {
    let all = changes(room, plan);
    let ids: Vec<i64> = all.iter().map(|c| c.id).collect();

    // 1. Lock the groups and their old and new predecessors in id order.
    let lock = lock_ids(&all);
    let sql = format!("SELECT id FROM {schema}.state_groups WHERE id = ANY($1) ORDER BY id FOR KEY SHARE");
    let present: HashSet<i64> = client
        .update(sql.as_str(), None, &[lock.into()])?
        .map(|row| row.get::<i64>(1).map(|v| v.expect("NOT NULL")))
        .collect::<std::result::Result<_, _>>()?;

    // 2. Groups queued for deletion are left alone.
    let pending_table = load::table_exists(client, schema, PENDING_DELETION)?;
    let pending: HashSet<i64> = if pending_table {
        let sql = format!(
            "SELECT state_group FROM {schema}.state_groups_pending_deletion WHERE state_group = ANY($1)"
        );
        client
            .select(sql.as_str(), None, &[ids.clone().into()])?
            .map(|row| row.get::<i64>(1).map(|v| v.expect("NOT NULL")))
            .collect::<std::result::Result<_, _>>()?
    } else {
        HashSet::new()
    };

    // 3. After the locks, the edges must still be the ones that were compressed.
    let sql = format!(
        "SELECT state_group, prev_state_group FROM {schema}.state_group_edges WHERE state_group = ANY($1)"
    );
    let mut edges: HashMap<i64, Vec<i64>> = HashMap::new();
    for row in client.select(sql.as_str(), None, &[ids.into()])? {
        let g = row.get::<i64>(1)?.expect("NOT NULL");
        edges.entry(g).or_default().push(row.get::<i64>(2)?.expect("NOT NULL"));
    }
    let unchanged_edge = |c: &Change| match (edges.get(&c.id).map(Vec::as_slice), c.old_prev) {
        (None, None) => true,
        (Some([p]), Some(old)) => *p == old,
        _ => false,
    };
    let exists = |id: Option<i64>| id.is_none_or(|p| present.contains(&p));
    let (write, skip): (Vec<&Change>, Vec<&Change>) = all.iter().partition(|c| {
        present.contains(&c.id)
            && !pending.contains(&c.id)
            && exists(c.old_prev)
            && exists(c.new_prev)
            && unchanged_edge(c)
    });
    for c in &skip {
        log::info!("room {room_id}: state group {} changed or is queued for deletion; left as it is", c.id);
    }
    let mut rows_after = plan.stats.rows_after;
    for c in &skip {
        rows_after = rows_after - plan.tree.entries(c.node).len() as u64 + u64::from(room.row_count(c.node));
    }
    let outcome = Outcome { written: write.len() as u64, skipped: skip.len() as u64, rows_after };
    if write.is_empty() {
        return Ok(outcome);
    }

    // 4. A new predecessor may have become referenced: bump it, as Synapse does.
    let new_prevs = new_prevs(write.iter().copied());
    if pending_table && !new_prevs.is_empty() {
        let sql = format!(
            "UPDATE {schema}.state_groups_pending_deletion SET sequence_number = DEFAULT, insertion_ts = $2 \
             WHERE state_group = ANY($1)"
        );
        client.update(sql.as_str(), None, &[new_prevs.into(), now_ms().into()])?;
    }

    // 5. Replace edges and rows.
    let write_ids: Vec<i64> = write.iter().map(|c| c.id).collect();
    let sql = format!("DELETE FROM {schema}.state_group_edges WHERE state_group = ANY($1)");
    client.update(sql.as_str(), None, &[write_ids.clone().into()])?;
    let (edge_groups, edge_prevs): (Vec<i64>, Vec<i64>) =
        write.iter().filter_map(|c| c.new_prev.map(|p| (c.id, p))).unzip();
    if !edge_groups.is_empty() {
        let sql = format!(
            "INSERT INTO {schema}.state_group_edges (state_group, prev_state_group) SELECT * FROM unnest($1::bigint[], $2::bigint[])"
        );
        client.update(sql.as_str(), None, &[edge_groups.into(), edge_prevs.into()])?;
    }
    let expected: u64 = write.iter().map(|c| u64::from(room.row_count(c.node))).sum();
    let sql = format!("DELETE FROM {schema}.state_groups_state WHERE state_group = ANY($1)");
    let deleted = client.update(sql.as_str(), None, &[write_ids.into()])?.len() as u64;
    if deleted != expected {
        return Err(Error::Concurrent(format!(
            "room {room_id}: the rewritten groups had {deleted} rows, {expected} were read; they changed concurrently, nothing was written"
        )));
    }
    let strings = room.strings();
    let sql = format!(
        "INSERT INTO {schema}.state_groups_state (state_group, room_id, type, state_key, event_id) \
         SELECT g, $5, t, k, e FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) AS u(g, t, k, e)"
    );
    let mut batch = RowBatch::new();
    for c in &write {
        for &(key, value) in plan.tree.entries(c.node) {
            let (t, k) = strings.key_str(key);
            batch.push(c.id, t, k, strings.value_str(value));
            if batch.groups.len() >= INSERT_BATCH {
                batch.insert(client, &sql, room_id)?;
            }
        }
    }
    batch.insert(client, &sql, room_id)?;
    Ok(outcome)
}

/// Rows waiting for the next INSERT; their array datums live in `memory`, reset per statement.
struct RowBatch<'a> {
    groups: Vec<i64>,
    types: Vec<&'a str>,
    state_keys: Vec<&'a str>,
    events: Vec<&'a str>,
    memory: PgMemoryContexts,
}

impl<'a> RowBatch<'a> {
    fn new() -> Self {
        RowBatch {
            groups: Vec::with_capacity(INSERT_BATCH),
            types: Vec::with_capacity(INSERT_BATCH),
            state_keys: Vec::with_capacity(INSERT_BATCH),
            events: Vec::with_capacity(INSERT_BATCH),
            memory: PgMemoryContexts::new("synapse_compress insert"),
        }
    }

    fn push(&mut self, group: i64, t: &'a str, k: &'a str, e: &'a str) {
        self.groups.push(group);
        self.types.push(t);
        self.state_keys.push(k);
        self.events.push(e);
    }

    fn insert(&mut self, client: &mut SpiClient<'_>, sql: &str, room_id: &str) -> Result<()> {
        pgrx::check_for_interrupts!();
        if self.groups.is_empty() {
            return Ok(());
        }
        let (groups, types, state_keys, events) = (
            self.groups.split_off(0),
            self.types.split_off(0),
            self.state_keys.split_off(0),
            self.events.split_off(0),
        );
        // SAFETY: the array datums are made and used inside `memory`, and nothing made there
        // outlives the INSERT (it has no result); the context is reset only after it.
        let result = unsafe {
            self.memory.switch_to(|_| {
                client
                    .update(
                        sql,
                        None,
                        &[groups.into(), types.into(), state_keys.into(), events.into(), room_id.into()],
                    )
                    .map(|_| ())
            })
        };
        unsafe { self.memory.reset() };
        Ok(result?)
    }
}
