//! Per-room progress of chunked runs, in the existing auto compressor's three tables in
//! Synapse's schema (same names, columns and meaning, created if missing), so that a database
//! processed by either tool continues where the other stopped:
//! `state_compressor_state` (each level's size, length and head), `state_compressor_progress`
//! (the last compressed group) and `state_compressor_total_progress` (the lowest group not yet
//! compressed, the existing tool's cursor). Saved state is validated before use: a head that no
//! longer exists (Synapse purged it), belongs to another room or lies beyond the last compressed
//! group, and levels of other sizes than requested, reset the room's levels with a NOTICE.

use pgrx::prelude::*;
use pgrx::spi::SpiClient;

use crate::errors::{show_room, Result};
use crate::tables::Synapse;

/// The existing tool's tables, as it creates them.
fn create_sql(schema: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {schema}.state_compressor_state ( \
             room_id TEXT NOT NULL, level_num INT NOT NULL, max_size INT NOT NULL, \
             current_length INT NOT NULL, current_head BIGINT, UNIQUE (room_id, level_num)); \
         CREATE INDEX IF NOT EXISTS state_compressor_state_index ON {schema}.state_compressor_state (room_id); \
         CREATE TABLE IF NOT EXISTS {schema}.state_compressor_progress ( \
             room_id TEXT PRIMARY KEY, last_compressed BIGINT NOT NULL); \
         CREATE TABLE IF NOT EXISTS {schema}.state_compressor_total_progress ( \
             lock CHAR(1) NOT NULL DEFAULT 'X' UNIQUE, lowest_uncompressed_group BIGINT NOT NULL, \
             CHECK (lock = 'X')); \
         INSERT INTO {schema}.state_compressor_total_progress (lowest_uncompressed_group) VALUES (0) \
             ON CONFLICT (lock) DO NOTHING"
    )
}

/// Creates the three tables if one is missing (the first run in a database).
pub fn ensure_tables(client: &mut SpiClient<'_>, synapse: &Synapse) -> Result<()> {
    let present = client
        .select(
            "SELECT count(*) FROM unnest(ARRAY['state_compressor_state', 'state_compressor_progress', \
             'state_compressor_total_progress']) AS t(name) \
             WHERE pg_catalog.to_regclass(pg_catalog.format('%s.%I', $1::text, t.name)) IS NOT NULL",
            Some(1),
            &[synapse.schema.as_str().into()],
        )?
        .first()
        .get_one::<i64>()?
        .unwrap_or(0);
    if present < 3 {
        client.update(create_sql(&synapse.schema).as_str(), None, &[])?;
    }
    Ok(())
}

/// One saved level: its size, current length and head group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SavedLevel {
    pub max_size: i32,
    pub length: i32,
    pub head: Option<i64>,
}

/// Where a room's chunked compression stands.
#[derive(Debug, Default)]
pub struct Saved {
    /// The last compressed group (`None`: the room was never compressed in chunks).
    pub last_compressed: Option<i64>,
    /// The levels to continue from, lowest first; empty when they were reset or never saved.
    pub levels: Vec<SavedLevel>,
    /// Why saved levels were not usable and were reset.
    pub reset: Option<String>,
}

/// The room's last compressed group (`None`: never compressed in chunks). The fork-aware method
/// reads only this.
pub fn last_compressed(client: &SpiClient<'_>, synapse: &Synapse, room_id: &str) -> Result<Option<i64>> {
    let schema = &synapse.schema;
    let sql =
        format!("SELECT (SELECT last_compressed FROM {schema}.state_compressor_progress WHERE room_id = $1)");
    Ok(client.select(&sql, Some(1), &[room_id.into()])?.first().get_one::<i64>()?)
}

/// Reads the room's saved state and keeps its levels only if they are usable with `sizes`.
pub fn read(client: &SpiClient<'_>, synapse: &Synapse, room_id: &str, sizes: &[i64]) -> Result<Saved> {
    let schema = &synapse.schema;
    let last_compressed = last_compressed(client, synapse, room_id)?;
    let mut levels = Vec::new();
    let sql = format!(
        "SELECT s.level_num, s.max_size, s.current_length, s.current_head, \
                g.room_id IS NOT DISTINCT FROM $1 AS head_in_room \
         FROM {schema}.state_compressor_state s LEFT JOIN {schema}.state_groups g ON g.id = s.current_head \
         WHERE s.room_id = $1 ORDER BY s.level_num"
    );
    let mut problem: Option<String> = None;
    for (i, row) in client.select(&sql, None, &[room_id.into()])?.enumerate() {
        let level_num = row.get::<i32>(1)?.unwrap_or(-1);
        let level = SavedLevel {
            max_size: row.get::<i32>(2)?.unwrap_or(-1),
            length: row.get::<i32>(3)?.unwrap_or(-1),
            head: row.get::<i64>(4)?,
        };
        let head_in_room = row.get::<bool>(5)?.unwrap_or(false);
        if problem.is_none() {
            problem = match level.head {
                _ if level_num != i as i32 + 1 => Some(format!("level {} is missing", i + 1)),
                Some(h) if !head_in_room => Some(format!(
                    "the head of level {level_num}, state group {h}, no longer exists in the room"
                )),
                Some(h) if last_compressed.is_none_or(|last| h > last) => Some(format!(
                    "the head of level {level_num}, state group {h}, lies beyond the last compressed group"
                )),
                None if level.length != 0 => Some(format!("level {level_num} has a length but no head")),
                _ if level.length < 0 || level.length > level.max_size => {
                    Some(format!("level {level_num} has length {} of {}", level.length, level.max_size))
                }
                _ => None,
            };
        }
        levels.push(level);
    }
    if levels.is_empty() {
        return Ok(Saved { last_compressed, levels, reset: None });
    }
    let saved_sizes: Vec<i64> = levels.iter().map(|l| i64::from(l.max_size)).collect();
    if problem.is_none() && saved_sizes != sizes {
        problem = Some(format!("the saved levels {saved_sizes:?} differ from the requested {sizes:?}"));
    }
    if problem.is_none() && last_compressed.is_none() {
        problem = Some("levels are saved but no progress".into());
    }
    if let Some(why) = &problem {
        notice!(
            "synapse_compress: room {}: saved levels reset ({why}); the next group starts a new snapshot",
            show_room(room_id)
        );
        levels.clear();
    }
    Ok(Saved { last_compressed, levels, reset: problem })
}

/// Saves the room's levels and last compressed group (in the caller's transaction, the one that
/// wrote the chunk's rows).
pub fn write(
    client: &mut SpiClient<'_>,
    synapse: &Synapse,
    room_id: &str,
    levels: &[SavedLevel],
    last_compressed: i64,
) -> Result<()> {
    let schema = &synapse.schema;
    let nums: Vec<i32> = (1..=levels.len() as i32).collect();
    let sizes: Vec<i32> = levels.iter().map(|l| l.max_size).collect();
    let lengths: Vec<i32> = levels.iter().map(|l| l.length).collect();
    let heads: Vec<Option<i64>> = levels.iter().map(|l| l.head).collect();
    let sql = format!(
        "WITH gone AS (DELETE FROM {schema}.state_compressor_state WHERE room_id = $1 AND level_num > $6) \
         INSERT INTO {schema}.state_compressor_state (room_id, level_num, max_size, current_length, current_head) \
         SELECT $1, n, m, l, h FROM unnest($2::int[], $3::int[], $4::int[], $5::bigint[]) AS u(n, m, l, h) \
         ON CONFLICT (room_id, level_num) DO UPDATE SET max_size = excluded.max_size, \
             current_length = excluded.current_length, current_head = excluded.current_head"
    );
    client.update(
        sql.as_str(),
        None,
        &[
            room_id.into(),
            nums.into(),
            sizes.into(),
            lengths.into(),
            heads.into(),
            (levels.len() as i32).into(),
        ],
    )?;
    let sql = format!(
        "INSERT INTO {schema}.state_compressor_progress (room_id, last_compressed) VALUES ($1, $2) \
         ON CONFLICT (room_id) DO UPDATE SET last_compressed = excluded.last_compressed"
    );
    client.update(sql.as_str(), None, &[room_id.into(), last_compressed.into()])?;
    Ok(())
}

/// Removes a room that no longer exists from the progress tables.
pub fn forget(client: &mut SpiClient<'_>, synapse: &Synapse, room_id: &str) -> Result<()> {
    let schema = &synapse.schema;
    for table in ["state_compressor_state", "state_compressor_progress"] {
        client.update(
            &format!("DELETE FROM {schema}.{table} WHERE room_id = $1"),
            None,
            &[room_id.into()],
        )?;
    }
    Ok(())
}

/// Moves the existing tool's cursor to the lowest group that is past its room's last
/// compressed group, as the existing tool computes it.
pub fn update_total(client: &mut SpiClient<'_>, synapse: &Synapse) -> Result<()> {
    let schema = &synapse.schema;
    let sql = format!(
        "UPDATE {schema}.state_compressor_total_progress SET lowest_uncompressed_group = coalesce(( \
             SELECT g.id FROM {schema}.state_groups g \
             LEFT JOIN {schema}.state_compressor_progress p ON p.room_id = g.room_id \
             WHERE g.id >= (SELECT lowest_uncompressed_group FROM {schema}.state_compressor_total_progress) \
               AND (p.last_compressed IS NULL OR g.id > p.last_compressed) \
             ORDER BY g.id LIMIT 1), (SELECT coalesce(max(id), 0) + 1 FROM {schema}.state_groups))"
    );
    client.update(sql.as_str(), None, &[])?;
    Ok(())
}

/// Removes every room that no longer has state groups (Synapse purged it) from the progress
/// tables; returns how many.
pub fn forget_purged(client: &mut SpiClient<'_>, synapse: &Synapse) -> Result<i64> {
    let schema = &synapse.schema;
    let sql = format!(
        "WITH gone AS (DELETE FROM {schema}.state_compressor_progress p \
             WHERE NOT EXISTS (SELECT FROM {schema}.state_groups g WHERE g.room_id = p.room_id) RETURNING p.room_id), \
         levels AS (DELETE FROM {schema}.state_compressor_state s WHERE s.room_id IN (SELECT room_id FROM gone)) \
         SELECT count(*) FROM gone"
    );
    Ok(client.update(sql.as_str(), Some(1), &[])?.first().get_one::<i64>()?.unwrap_or(0))
}
