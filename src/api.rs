//! The SQL functions: `compress_room_state` (compress, verify, rewrite in the calling
//! transaction) and `compress_room_state_sql` (the same change as reviewable statements).

use std::time::Instant;

use compress_core::{compress, verify, Plan, Room, Stats};
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use pgrx::Array;

use crate::errors::{run_or_raise, show_room, Error, Result};
use crate::request::{levels_arg, Request};
use crate::tables::Synapse;
use crate::{load, retry, rewrite, roomlock, script};

/// A compressed and verified room, ready to be written or printed.
struct Compressed {
    room: Room,
    plan: Plan,
    timings: String,
}

fn check_interrupts() {
    check_for_interrupts!();
}

/// Why nothing is written, if so.
fn refusal(req: &Request, stats: &Stats) -> Option<String> {
    let saved = stats.rows_before as i64 - stats.rows_after as i64;
    if stats.state_groups_changed == 0 {
        Some("nothing to change: the groups are already stored this way".into())
    } else if saved <= 0 {
        Some(format!("not written: rows would not shrink ({} -> {})", stats.rows_before, stats.rows_after))
    } else if saved < req.min_saved_rows {
        Some(format!(
            "not written: would save {saved} rows, fewer than min_saved_rows ({})",
            req.min_saved_rows
        ))
    } else {
        None
    }
}

/// Loads, compresses and verifies; `None` when the range holds no group.
fn compress_and_verify(
    client: &SpiClient<'_>,
    schema: &str,
    req: &mut Request,
) -> Result<Option<Compressed>> {
    let started = Instant::now();
    let range = load::range_ids(client, schema, req)?;
    if range.is_empty() {
        if !load::room_exists(client, schema, &req.room_id)? {
            return Err(Error::NoSuchRoom(req.room_id.clone()));
        }
        return Ok(None);
    }
    let room = load::load_room(client, schema, &req.room_id, &range)?;
    let loaded = started.elapsed();
    let shown = show_room(&req.room_id);
    notice!(
        "synapse_compress: room {shown}: loaded {} groups in range and {} before it in {:.2}s",
        range.len(),
        room.len() - range.len(),
        loaded.as_secs_f64()
    );
    let t = Instant::now();
    let plan = compress(&room, &mut req.levels, &mut check_interrupts);
    let compressed = t.elapsed();
    let t = Instant::now();
    verify(&room, &plan, &mut check_interrupts)
        .map_err(|error| Error::Verification { room: req.room_id.clone(), error })?;
    let verified = t.elapsed();
    notice!(
        "synapse_compress: room {shown}: {} of {} groups change, rows {} -> {}; every group verified in {:.2}s",
        plan.stats.state_groups_changed,
        plan.stats.state_groups,
        plan.stats.rows_before,
        plan.stats.rows_after,
        verified.as_secs_f64()
    );
    let timings = format!(
        "load {:.3}s, compress {:.3}s, verify {:.3}s",
        loaded.as_secs_f64(),
        compressed.as_secs_f64(),
        verified.as_secs_f64()
    );
    Ok(Some(Compressed { room, plan, timings }))
}

/// The columns of `compress_room_state`'s result (named in its signature).
type ResultRow = (String, i64, i64, i64, i64, i64, i64, i32, i32, bool, String);

fn result_row(room_id: &str, stats: &Stats, applied: bool, message: String) -> ResultRow {
    (
        room_id.to_owned(),
        stats.state_groups as i64,
        stats.state_groups_changed as i64,
        stats.rows_before as i64,
        stats.rows_after as i64,
        stats.resets_no_suitable_prev as i64,
        stats.resets_no_suitable_prev_size as i64,
        stats.max_chain_before as i32,
        stats.max_chain_after as i32,
        applied,
        message,
    )
}

fn run_compress(mut req: Request) -> Result<ResultRow> {
    Spi::connect_mut(|client| {
        let synapse = Synapse::inspect(client, !req.dry_run)?;
        if !req.dry_run {
            roomlock::lock(client, &req.room_id)?;
        }
        let Some(c) = compress_and_verify(client, &synapse.schema, &mut req)? else {
            return Ok(result_row(
                &req.room_id,
                &Stats::default(),
                false,
                "no state groups in the given range".into(),
            ));
        };
        let mut stats = c.plan.stats.clone();
        if let Some(why) = refusal(&req, &stats) {
            return Ok(result_row(&req.room_id, &stats, false, why));
        }
        if req.dry_run {
            let saved = stats.rows_before - stats.rows_after;
            let msg = format!("dry run: would save {saved} rows; verified, nothing written ({})", c.timings);
            return Ok(result_row(&req.room_id, &stats, false, msg));
        }
        let t = Instant::now();
        let outcome = retry::with_retries(&format!("room {}", show_room(&req.room_id)), || {
            rewrite::apply(client, &synapse, &req.room_id, &c.room, &c.plan)
        })?;
        stats.state_groups_changed = outcome.written;
        stats.rows_after = outcome.rows_after;
        let mut msg = format!(
            "rewrote {} groups, saved {} rows ({}, write {:.3}s)",
            outcome.written,
            stats.rows_before - stats.rows_after,
            c.timings,
            t.elapsed().as_secs_f64()
        );
        if outcome.skipped > 0 {
            msg += &format!(
                "; skipped {} group(s) that changed concurrently or are queued for deletion",
                outcome.skipped
            );
        }
        log::info!("room {}: {msg}", show_room(&req.room_id));
        Ok(result_row(&req.room_id, &stats, outcome.written > 0, msg))
    })
}

fn run_script(mut req: Request) -> Result<Vec<String>> {
    Spi::connect(|client| {
        let synapse = Synapse::inspect(client, false)?;
        let Some(c) = compress_and_verify(client, &synapse.schema, &mut req)? else {
            return Ok(vec!["-- no state groups in the given range".to_owned()]);
        };
        let s = &c.plan.stats;
        let header = format!(
            "-- synapse_compress: room {}: {} of {} groups change, rows {} -> {}, verified",
            script::quote_literal(&req.room_id),
            s.state_groups_changed,
            s.state_groups,
            s.rows_before,
            s.rows_after
        );
        if let Some(why) = refusal(&req, s) {
            return Ok(vec![header, format!("-- {why}")]);
        }
        let mut out = vec![header];
        out.extend(script::statements(&synapse, &req.room_id, &c.room, &c.plan));
        Ok(out)
    })
}

/// Compresses the state groups of one room in the calling transaction. See the README.
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
#[pg_extern(volatile, parallel_unsafe, schema = "synapse_compress")]
fn compress_room_state<'a>(
    room_id: Option<&'a str>,
    levels: default!(Option<Array<'a, i32>>, "'{100,50,25}'"),
    min_state_group: default!(Option<i64>, "NULL"),
    max_state_group: default!(Option<i64>, "NULL"),
    groups_to_compress: default!(Option<i32>, "NULL"),
    min_saved_rows: default!(Option<i64>, 0),
    dry_run: default!(Option<bool>, false),
) -> TableIterator<
    'static,
    (
        name!(room_id, String),
        name!(state_groups, i64),
        name!(state_groups_changed, i64),
        name!(rows_before, i64),
        name!(rows_after, i64),
        name!(resets_no_suitable_prev, i64),
        name!(resets_no_suitable_prev_size, i64),
        name!(max_chain_before, i32),
        name!(max_chain_after, i32),
        name!(applied, bool),
        name!(message, String),
    ),
> {
    let row = run_or_raise(|| {
        let levels = levels_arg(levels)?;
        Request::new(
            room_id,
            levels,
            min_state_group,
            max_state_group,
            groups_to_compress,
            min_saved_rows,
            dry_run,
        )
        .and_then(run_compress)
    });
    TableIterator::once(row)
}

/// The statements that `compress_room_state` with the same arguments would run.
#[allow(clippy::too_many_arguments)]
#[pg_extern(volatile, parallel_unsafe, schema = "synapse_compress")]
fn compress_room_state_sql<'a>(
    room_id: Option<&'a str>,
    levels: default!(Option<Array<'a, i32>>, "'{100,50,25}'"),
    min_state_group: default!(Option<i64>, "NULL"),
    max_state_group: default!(Option<i64>, "NULL"),
    groups_to_compress: default!(Option<i32>, "NULL"),
    min_saved_rows: default!(Option<i64>, 0),
    dry_run: default!(Option<bool>, false),
) -> SetOfIterator<'static, String> {
    let lines = run_or_raise(|| {
        let levels = levels_arg(levels)?;
        Request::new(
            room_id,
            levels,
            min_state_group,
            max_state_group,
            groups_to_compress,
            min_saved_rows,
            dry_run,
        )
        .and_then(run_script)
    });
    SetOfIterator::new(lines)
}
