//! What unattended runs did, kept after the call: a row per run in `synapse_compress.runs` and a
//! row per chunk in `synapse_compress.chunks` (room, groups, rows before and after, outcome and
//! why, duration, error), pruned after `synapse_compress.history_days`. pg_cron keeps only
//! "CALL", so this is where an admin looks the next morning.

use std::time::Duration;

use pgrx::spi::SpiClient;
use pgrx::JsonB;

use crate::chunk::ChunkResult;
use crate::errors::Result;

/// Records one chunk (in the chunk's own transaction).
pub fn record_chunk(
    client: &mut SpiClient<'_>,
    run_id: Option<i64>,
    r: &ChunkResult,
    took: Duration,
) -> Result<()> {
    client.update(
        "INSERT INTO synapse_compress.chunks (run_id, room_id, first_group, last_group, state_groups, \
             state_groups_changed, rows_before, rows_after, outcome, message, duration_ms, details) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        None,
        &[
            run_id.into(),
            r.room_id.as_str().into(),
            r.first_group.into(),
            r.last_group.into(),
            (r.stats.state_groups as i64).into(),
            (r.stats.state_groups_changed as i64).into(),
            (r.stats.rows_before as i64).into(),
            (r.stats.rows_after as i64).into(),
            r.outcome.name().into(),
            r.message.as_str().into(),
            (took.as_secs_f64() * 1000.0).into(),
            JsonB(r.details.clone()).into(),
        ],
    )?;
    Ok(())
}
