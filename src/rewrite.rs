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
use crate::tables::{Synapse, PENDING_DELETION};

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
    /// Rows of the groups in range after the rewrite (skipped groups keep the rows they have).
    pub rows_after: u64,
}

/// Rows inserted per INSERT statement.
const INSERT_BATCH: usize = 10_000;

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

fn id_set(
    client: &mut SpiClient<'_>,
    sql: &str,
    ids: Vec<i64>,
    table: &str,
    column: &str,
) -> Result<HashSet<i64>> {
    let mut out = HashSet::new();
    for row in client.update(sql, None, &[ids.into()])? {
        out.insert(load::required(row.get::<i64>(1)?, table, column)?);
    }
    Ok(out)
}

/// Writes the plan's changed groups, skipping those that vanished, are queued for deletion or
/// changed since they were read.
pub fn apply(
    client: &mut SpiClient<'_>,
    synapse: &Synapse,
    room_id: &str,
    room: &Room,
    plan: &Plan,
) -> Result<Outcome> {
    let schema = &synapse.schema;
    let all = changes(room, plan);
    let (write, skip) = lock_and_filter(client, synapse, &all)?;
    let rows_after = rows_after(client, schema, plan, &skip)?;
    if !skip.is_empty() {
        let shown: Vec<String> = skip.iter().take(10).map(|c| c.id.to_string()).collect();
        log::info!(
            "room {}: {} state group(s) changed concurrently or are queued for deletion and were left as they are (e.g. {})",
            crate::errors::show_room(room_id),
            skip.len(),
            shown.join(", ")
        );
    }
    let outcome = Outcome { written: write.len() as u64, skipped: skip.len() as u64, rows_after };
    if write.is_empty() {
        return Ok(outcome);
    }
    bump_new_prevs(client, synapse, &write)?;
    replace_edges(client, schema, &write)?;
    replace_rows(client, schema, room_id, room, plan, &write)?;
    Ok(outcome)
}

/// Locks the groups and their old and new predecessors `FOR KEY SHARE` in id order, then splits
/// the changes into those to write and those to leave: a group is written only if it and its
/// predecessors still exist, it is not queued for deletion, and its edge is the one read.
fn lock_and_filter<'c>(
    client: &mut SpiClient<'_>,
    synapse: &Synapse,
    all: &'c [Change],
) -> Result<(Vec<&'c Change>, Vec<&'c Change>)> {
    let schema = &synapse.schema;
    let ids: Vec<i64> = all.iter().map(|c| c.id).collect();
    let sql = format!("SELECT id FROM {schema}.state_groups WHERE id = ANY($1) ORDER BY id FOR KEY SHARE");
    let present = id_set(client, &sql, lock_ids(all), "state_groups", "id")?;
    let pending = if synapse.pending_deletion {
        let sql = format!("SELECT state_group FROM {schema}.{PENDING_DELETION} WHERE state_group = ANY($1)");
        id_set(client, &sql, ids.clone(), PENDING_DELETION, "state_group")?
    } else {
        HashSet::new()
    };
    let sql = format!(
        "SELECT state_group, prev_state_group FROM {schema}.state_group_edges WHERE state_group = ANY($1)"
    );
    let mut edges: HashMap<i64, Vec<i64>> = HashMap::new();
    for row in client.select(sql.as_str(), None, &[ids.into()])? {
        let g = load::required(row.get::<i64>(1)?, "state_group_edges", "state_group")?;
        let p = load::required(row.get::<i64>(2)?, "state_group_edges", "prev_state_group")?;
        edges.entry(g).or_default().push(p);
    }
    let unchanged_edge = |c: &Change| match (edges.get(&c.id).map(Vec::as_slice), c.old_prev) {
        (None, None) => true,
        (Some([p]), Some(old)) => *p == old,
        _ => false,
    };
    let exists = |id: Option<i64>| id.is_none_or(|p| present.contains(&p));
    Ok(all.iter().partition(|c| {
        present.contains(&c.id)
            && !pending.contains(&c.id)
            && exists(c.old_prev)
            && exists(c.new_prev)
            && unchanged_edge(c)
    }))
}

/// The rows of the range once the written groups have their new rows and the skipped groups
/// keep whatever they have now (a group the deleter removed has none).
fn rows_after(client: &mut SpiClient<'_>, schema: &str, plan: &Plan, skip: &[&Change]) -> Result<u64> {
    if skip.is_empty() {
        return Ok(plan.stats.rows_after);
    }
    let planned: u64 = skip.iter().map(|c| plan.tree.entries(c.node).len() as u64).sum();
    let ids: Vec<i64> = skip.iter().map(|c| c.id).collect();
    let sql = format!("SELECT count(*) FROM {schema}.state_groups_state WHERE state_group = ANY($1)");
    let now = client.select(sql.as_str(), Some(1), &[ids.into()])?.first().get_one::<i64>()?.unwrap_or(0);
    Ok(plan.stats.rows_after - planned + now as u64)
}

/// A new predecessor may have just become referenced: bump it in the deletion queue, as
/// Synapse does, so that a deleter that already read it fails and retries.
fn bump_new_prevs(client: &mut SpiClient<'_>, synapse: &Synapse, write: &[&Change]) -> Result<()> {
    let new_prevs = new_prevs(write.iter().copied());
    if synapse.pending_deletion && !new_prevs.is_empty() {
        let sql = format!(
            "UPDATE {}.{PENDING_DELETION} SET sequence_number = DEFAULT, insertion_ts = $2 \
             WHERE state_group = ANY($1)",
            synapse.schema
        );
        client.update(sql.as_str(), None, &[new_prevs.into(), now_ms().into()])?;
    }
    Ok(())
}

fn replace_edges(client: &mut SpiClient<'_>, schema: &str, write: &[&Change]) -> Result<()> {
    let write_ids: Vec<i64> = write.iter().map(|c| c.id).collect();
    let sql = format!("DELETE FROM {schema}.state_group_edges WHERE state_group = ANY($1)");
    client.update(sql.as_str(), None, &[write_ids.into()])?;
    let (edge_groups, edge_prevs): (Vec<i64>, Vec<i64>) =
        write.iter().filter_map(|c| c.new_prev.map(|p| (c.id, p))).unzip();
    if !edge_groups.is_empty() {
        let sql = format!(
            "INSERT INTO {schema}.state_group_edges (state_group, prev_state_group) \
             SELECT * FROM unnest($1::bigint[], $2::bigint[])"
        );
        client.update(sql.as_str(), None, &[edge_groups.into(), edge_prevs.into()])?;
    }
    Ok(())
}

/// Deletes the written groups' rows (exactly the rows that were read, or nothing is written)
/// and inserts their new rows in batches.
fn replace_rows(
    client: &mut SpiClient<'_>,
    schema: &str,
    room_id: &str,
    room: &Room,
    plan: &Plan,
    write: &[&Change],
) -> Result<()> {
    let write_ids: Vec<i64> = write.iter().map(|c| c.id).collect();
    let expected: u64 = write.iter().map(|c| u64::from(room.row_count(c.node))).sum();
    let sql = format!("DELETE FROM {schema}.state_groups_state WHERE state_group = ANY($1)");
    let deleted = client.update(sql.as_str(), None, &[write_ids.into()])?.len() as u64;
    if deleted != expected {
        return Err(Error::Concurrent(format!(
            "room {}: the rewritten groups had {deleted} rows, {expected} were read; they changed concurrently, nothing was written",
            crate::errors::show_room(room_id)
        )));
    }
    let strings = room.strings();
    let sql = format!(
        "INSERT INTO {schema}.state_groups_state (state_group, room_id, type, state_key, event_id) \
         SELECT g, $5, t, k, e FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) AS u(g, t, k, e)"
    );
    let mut batch = RowBatch::new();
    for c in write {
        for &(key, value) in plan.tree.entries(c.node) {
            let (t, k) = strings.key_str(key);
            batch.push(c.id, t, k, strings.value_str(value));
            if batch.groups.len() >= INSERT_BATCH {
                batch.insert(client, &sql, room_id)?;
            }
        }
    }
    batch.insert(client, &sql, room_id)
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
