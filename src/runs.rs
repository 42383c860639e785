//! The SQL functions behind unattended runs over many rooms (the procedure
//! `compress_largest_rooms` in `sql/runs.sql` and the background worker): which rooms to
//! compress first, the start and end of a run (history, pruning, the existing tool's cursor),
//! and a per-room status report.
//!
//! Room order: the rooms with the most groups not yet compressed (`id > last_compressed`) come
//! first. That takes one scan of `state_groups` (one narrow row per group) joined with the
//! progress table, never a scan of `state_groups_state` (which has no index on `room_id`).

use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use pgrx::Array;

use crate::chunk::chunk_size_arg;
use crate::errors::{run_or_raise, Error, Result};
use crate::request::{levels_arg, levels_from, method_arg};
use crate::tables::Synapse;
use crate::{progress, settings};

/// Rooms in the order a run compresses them, with their groups not yet compressed.
pub fn rooms_in_order(
    client: &SpiClient<'_>,
    synapse: &Synapse,
    max_rooms: Option<i64>,
) -> Result<Vec<(String, i64)>> {
    if let Some(n) = max_rooms.filter(|&n| n < 0) {
        return Err(Error::Argument(format!("max_rooms must be at least 0 (NULL: every room), not {n}")));
    }
    let schema = &synapse.schema;
    let sql = format!(
        "SELECT g.room_id, count(*) AS uncompressed \
         FROM {schema}.state_groups g LEFT JOIN {schema}.state_compressor_progress p ON p.room_id = g.room_id \
         WHERE p.last_compressed IS NULL OR g.id > p.last_compressed \
         GROUP BY g.room_id ORDER BY count(*) DESC, min(g.id) LIMIT $1"
    );
    let mut rooms = Vec::new();
    for row in client.select(&sql, None, &[max_rooms.into()])? {
        rooms.push((row.get::<String>(1)?.unwrap_or_default(), row.get::<i64>(2)?.unwrap_or(0)));
    }
    Ok(rooms)
}

/// The rooms a run compresses, most groups not yet compressed first.
#[pg_extern(volatile, parallel_unsafe, schema = "synapse_compress")]
fn rooms_to_compress(
    max_rooms: default!(Option<i64>, "NULL"),
) -> TableIterator<'static, (name!(room_id, String), name!(uncompressed_groups, i64))> {
    let rooms = run_or_raise(|| {
        Spi::connect_mut(|client| {
            let synapse = Synapse::inspect(client, false)?;
            progress::ensure_tables(client, &synapse)?;
            rooms_in_order(client, &synapse, max_rooms)
        })
    });
    TableIterator::new(rooms)
}

/// Starts a run: checks its arguments (`method` and `max_chain` as the SQL arguments give them),
/// creates the progress tables if missing, prunes the history and records the run. Returns its
/// id.
pub fn start(
    client: &mut SpiClient<'_>,
    source: &str,
    chunk_size: Option<i32>,
    number_of_chunks: Option<i32>,
    levels: Option<Vec<Option<i32>>>,
    method: Option<&str>,
    max_chain: Option<i32>,
) -> Result<i64> {
    let number_of_chunks = number_of_chunks.ok_or(Error::NullArgument("number_of_chunks"))?;
    if number_of_chunks < 1 {
        return Err(Error::Argument(format!("number_of_chunks must be positive, not {number_of_chunks}")));
    }
    let chunk_size = chunk_size_arg(chunk_size)?;
    let sizes: Vec<i32> = levels_from(levels)?.levels().iter().map(|l| l.max as i32).collect();
    let method = method_arg(method, max_chain, &sizes.iter().map(|&s| i64::from(s)).collect::<Vec<_>>())?;
    let cap = method.max_chain().map(|cap| cap.min(i32::MAX as u32) as i32);
    let synapse = Synapse::inspect(client, true)?;
    progress::ensure_tables(client, &synapse)?;
    let purged = progress::forget_purged(client, &synapse)?;
    if purged > 0 {
        notice!(
            "synapse_compress: {purged} room(s) no longer exist and were removed from the progress tables"
        );
    }
    client.update(
        "DELETE FROM synapse_compress.runs WHERE started_at < pg_catalog.now() - pg_catalog.make_interval(days => $1)",
        None,
        &[settings::history_days().into()],
    )?;
    let id = client
        .update(
            "INSERT INTO synapse_compress.runs (source, chunk_size, number_of_chunks, levels, method, max_chain) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING run_id",
            Some(1),
            &[
                source.into(),
                chunk_size.into(),
                number_of_chunks.into(),
                sizes.into(),
                method.name().into(),
                cap.into(),
            ],
        )?
        .first()
        .get_one::<i64>()?;
    id.ok_or_else(|| Error::Internal("no run id".into()))
}

/// Ends a run: its totals from its chunks, and the existing tool's cursor.
pub fn finish(client: &mut SpiClient<'_>, run_id: i64) -> Result<()> {
    let synapse = Synapse::inspect(client, true)?;
    progress::update_total(client, &synapse)?;
    client.update(
        "UPDATE synapse_compress.runs r SET finished_at = pg_catalog.clock_timestamp(), \
             chunks = c.chunks, rows_saved = c.rows_saved, errors = c.errors \
         FROM (SELECT count(*) FILTER (WHERE outcome IN ('compressed', 'unchanged', 'skipped')) AS chunks, \
                      coalesce(sum(rows_before - rows_after), 0) AS rows_saved, \
                      count(*) FILTER (WHERE outcome = 'error') AS errors \
               FROM synapse_compress.chunks WHERE run_id = $1) c \
         WHERE r.run_id = $1",
        None,
        &[run_id.into()],
    )?;
    Ok(())
}

/// Records a chunk that failed with an error, and reports it in the server log.
pub fn record_error(
    client: &mut SpiClient<'_>,
    run_id: Option<i64>,
    room_id: &str,
    sqlstate: &str,
    message: &str,
) -> Result<()> {
    log::warn!("room {}: chunk failed ({sqlstate}): {message}", crate::errors::show_room(room_id));
    client.update(
        "INSERT INTO synapse_compress.chunks (run_id, room_id, outcome, sqlstate, message) \
         VALUES ($1, $2, 'error', $3, $4)",
        None,
        &[run_id.into(), room_id.into(), sqlstate.into(), message.into()],
    )?;
    Ok(())
}

/// Starts a run of `compress_largest_rooms` (used by the procedure).
#[pg_extern(volatile, parallel_unsafe, schema = "synapse_compress")]
fn start_run<'a>(
    source: Option<&'a str>,
    chunk_size: Option<i32>,
    number_of_chunks: Option<i32>,
    levels: Option<Array<'a, i32>>,
    method: Option<&'a str>,
    max_chain: Option<i32>,
) -> i64 {
    run_or_raise(|| {
        let levels = levels_arg(levels)?;
        let source = source.unwrap_or("procedure");
        Spi::connect_mut(|client| {
            start(client, source, chunk_size, number_of_chunks, levels, method, max_chain)
        })
    })
}

/// Ends a run of `compress_largest_rooms` (used by the procedure).
#[pg_extern(volatile, parallel_unsafe, schema = "synapse_compress")]
fn finish_run(run_id: i64) {
    run_or_raise(|| Spi::connect_mut(|client| finish(client, run_id)))
}

/// Records a failed chunk of a run (used by the procedure).
#[pg_extern(volatile, parallel_unsafe, schema = "synapse_compress")]
fn record_chunk_error(run_id: Option<i64>, room_id: &str, sqlstate: &str, message: &str) {
    run_or_raise(|| Spi::connect_mut(|client| record_error(client, run_id, room_id, sqlstate, message)))
}

/// Per room: groups, rows, what is not yet compressed and what compressing it may save.
#[allow(clippy::type_complexity)]
#[pg_extern(volatile, parallel_unsafe, schema = "synapse_compress")]
fn room_status(
    room_id: default!(Option<&str>, "NULL"),
    max_rooms: default!(Option<i64>, 20),
) -> TableIterator<
    'static,
    (
        name!(room_id, String),
        name!(state_groups, i64),
        name!(rows, i64),
        name!(uncompressed_groups, i64),
        name!(last_compressed, Option<i64>),
        name!(estimated_saving, i64),
    ),
> {
    let rows = run_or_raise(|| {
        Spi::connect_mut(|client| {
            let synapse = Synapse::inspect(client, false)?;
            progress::ensure_tables(client, &synapse)?;
            let rooms: Vec<String> = match room_id {
                Some(r) => vec![r.to_owned()],
                None => rooms_in_order(client, &synapse, max_rooms)?.into_iter().map(|r| r.0).collect(),
            };
            let schema = &synapse.schema;
            // Rows through the room's groups (index on state_groups.room_id, then on
            // state_groups_state.state_group); a snapshot not yet compressed is expected to
            // shrink to a small delta, hence its rows less one.
            let sql = format!(
                "WITH g AS ( \
                     SELECT g.id, g.id > coalesce(p.last_compressed, -1) AS uncompressed, \
                            NOT EXISTS (SELECT FROM {schema}.state_group_edges e WHERE e.state_group = g.id) AS snapshot, \
                            p.last_compressed \
                     FROM {schema}.state_groups g \
                     LEFT JOIN {schema}.state_compressor_progress p ON p.room_id = g.room_id \
                     WHERE g.room_id = $1), \
                 r AS (SELECT s.state_group, count(*) AS n FROM {schema}.state_groups_state s \
                       WHERE s.state_group IN (SELECT id FROM g) GROUP BY s.state_group) \
                 SELECT count(*), coalesce(sum(r.n), 0)::bigint, count(*) FILTER (WHERE g.uncompressed), \
                        max(g.last_compressed), \
                        coalesce(sum(r.n - 1) FILTER (WHERE g.uncompressed AND g.snapshot AND r.n > 1), 0)::bigint \
                 FROM g LEFT JOIN r ON r.state_group = g.id"
            );
            let mut out = Vec::new();
            for room in rooms {
                let row = client.select(&sql, Some(1), &[room.as_str().into()])?;
                let row = row.first();
                out.push((
                    room,
                    row.get::<i64>(1)?.unwrap_or(0),
                    row.get::<i64>(2)?.unwrap_or(0),
                    row.get::<i64>(3)?.unwrap_or(0),
                    row.get::<i64>(4)?,
                    row.get::<i64>(5)?.unwrap_or(0),
                ));
            }
            Ok(out)
        })
    });
    TableIterator::new(rows)
}
