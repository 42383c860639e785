//! The step every compressing entry point shares: load a range of a room (with its context),
//! compress it with the chosen method (the level method from the given levels, or the
//! fork-aware method under its chain cap), and verify the result exactly, reporting progress as
//! NOTICEs and timing each phase.

use std::time::{Duration, Instant};

use compress_core::{
    compress, compress_fork_aware, verify_with_limits, ForkAwareOptions, Levels, Plan, ReadBudget, ReadRows,
    Room, Stats,
};
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use serde::Serialize;

use crate::errors::{show_room, Error, Result};
use crate::rewrite::Outcome;
use crate::tables::Synapse;
use crate::{load, retry, rewrite};

/// How long each phase took.
#[derive(Debug, Default, Clone, Copy)]
pub struct Timings {
    pub load: Duration,
    pub compress: Duration,
    pub verify: Duration,
    pub write: Duration,
}

impl Timings {
    pub fn summary(&self) -> String {
        let mut out = format!(
            "load {:.3}s, compress {:.3}s, verify {:.3}s",
            self.load.as_secs_f64(),
            self.compress.as_secs_f64(),
            self.verify.as_secs_f64()
        );
        if !self.write.is_zero() {
            out += &format!(", write {:.3}s", self.write.as_secs_f64());
        }
        out
    }
}

/// What a call or chunk reports beyond its result columns, as the `details` jsonb (also kept in
/// `synapse_compress.chunks`).
#[derive(Debug, Default, Serialize)]
pub struct Details {
    pub method: &'static str,
    /// The chain cap applied (fork-aware only).
    pub max_chain: Option<u32>,
    /// The room's chains already exceeded the cap: left as it is.
    pub chain_cap_unmet: bool,
    pub max_chain_before: u32,
    pub max_chain_after: u32,
    /// The read budget applied (fork-aware only: `synapse_compress.read_budget`).
    pub read_budget: Option<&'static str>,
    /// Rows Synapse's reads of the groups in range fetch, before and after.
    pub read_rows_before: ReadRowsJson,
    pub read_rows_after: ReadRowsJson,
    /// Why a chunk's saved levels could not be used and were reset.
    pub levels_reset: Option<String>,
    pub load_ms: f64,
    pub compress_ms: f64,
    pub verify_ms: f64,
    pub write_ms: f64,
}

/// [`ReadRows`] in `details`: percentiles of the rows a read fetches.
#[derive(Debug, Default, Serialize)]
pub struct ReadRowsJson {
    pub p50: u64,
    pub p99: u64,
    pub max: u64,
}

impl From<ReadRows> for ReadRowsJson {
    fn from(r: ReadRows) -> Self {
        ReadRowsJson { p50: r.p50, p99: r.p99, max: r.max }
    }
}

impl Details {
    pub fn new(method: &'static str, stats: &Stats, timings: &Timings) -> Details {
        let ms = |d: Duration| (d.as_secs_f64() * 1_000_000.0).round() / 1000.0;
        Details {
            method,
            max_chain: stats.max_chain_cap,
            chain_cap_unmet: stats.chain_cap_unmet,
            max_chain_before: stats.max_chain_before,
            max_chain_after: stats.max_chain_after,
            read_budget: stats.read_budget.map(ReadBudget::name),
            read_rows_before: stats.read_rows_before.into(),
            read_rows_after: stats.read_rows_after.into(),
            levels_reset: None,
            load_ms: ms(timings.load),
            compress_ms: ms(timings.compress),
            verify_ms: ms(timings.verify),
            write_ms: ms(timings.write),
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// A compressed and verified range, ready to be written or printed.
pub struct Compressed {
    pub room: Room,
    pub plan: Plan,
    /// The level method's levels as the compression left them (to be saved for the next chunk);
    /// `None` for the fork-aware method, which keeps nothing between runs.
    pub levels: Option<Levels>,
    pub timings: Timings,
}

pub fn check_interrupts() {
    check_for_interrupts!();
}

/// Why a plan is not written, if so.
pub fn refusal(stats: &Stats, min_saved_rows: i64) -> Option<String> {
    let saved = stats.rows_before as i64 - stats.rows_after as i64;
    if stats.chain_cap_unmet {
        Some(format!(
            "the room's chains already exceed max_chain {}; left as it is (no tree within the cap has fewer rows than now)",
            stats.max_chain_cap.unwrap_or_default()
        ))
    } else if stats.state_groups_changed == 0 {
        Some("nothing to change: the groups are already stored this way".into())
    } else if saved <= 0 {
        Some(format!("not written: rows would not shrink ({} -> {})", stats.rows_before, stats.rows_after))
    } else if saved < min_saved_rows {
        Some(format!("not written: would save {saved} rows, fewer than min_saved_rows ({min_saved_rows})"))
    } else {
        None
    }
}

/// Builds the level method's levels once the room is loaded (they may name context groups as
/// heads).
pub type StartLevels<'a> = Box<dyn FnOnce(&Room) -> Result<Levels> + 'a>;

/// How to compress a loaded range.
pub enum Compression<'a> {
    /// The level method, from the levels that the function builds.
    Levels(StartLevels<'a>),
    /// The fork-aware method: the `window` groups before the range are loaded as context, and
    /// groups in range with successors that are not loaded are marked.
    ForkAware(ForkAwareOptions),
}

/// Loads `range` (ascending, not empty) and `context` of the room, compresses the range as
/// `compression` says, and verifies the result exactly (for the fork-aware method, with its
/// chain cap).
pub fn compress_and_verify(
    client: &SpiClient<'_>,
    schema: &str,
    room_id: &str,
    range: &[i64],
    context: &[i64],
    compression: Compression<'_>,
) -> Result<Compressed> {
    let started = Instant::now();
    let mut context = context.to_vec();
    let loaded = match &compression {
        Compression::Levels(_) => load::Loaded::AsIs,
        Compression::ForkAware(options) => {
            context.extend(load::window_before(client, schema, room_id, range[0], options.window)?);
            load::Loaded::MarkOutsideSuccessors
        }
    };
    let room = load::load_room(client, schema, room_id, range, &context, loaded)?;
    let mut timings = Timings { load: started.elapsed(), ..Timings::default() };
    let shown = show_room(room_id);
    notice!(
        "synapse_compress: room {shown}: loaded {} groups in range and {} before it in {:.2}s",
        range.len(),
        room.len() - range.len(),
        timings.load.as_secs_f64()
    );
    let t = Instant::now();
    let (plan, levels, limits) = match compression {
        Compression::Levels(start) => {
            let mut levels = start(&room)?;
            let plan = compress(&room, &mut levels, &mut check_interrupts);
            (plan, Some(levels), None)
        }
        Compression::ForkAware(options) => {
            let plan = compress_fork_aware(&room, &options, &mut check_interrupts);
            (plan, None, Some((options.max_chain, options.read_budget)))
        }
    };
    timings.compress = t.elapsed();
    let t = Instant::now();
    // A plan that changes nothing is not written: its chains are the room's own, which may exceed
    // the cap (the plan then says so, `chain_cap_unmet`). Every plan that changes a group must
    // keep every chain of the range within the cap and every read within the read budget.
    let (cap, budget) = limits.filter(|_| !plan.changed.is_empty()).unzip();
    verify_with_limits(&room, &plan, cap, budget.unwrap_or(ReadBudget::Off), &mut check_interrupts)
        .map_err(|error| Error::Verification { room: room_id.to_owned(), error })?;
    timings.verify = t.elapsed();
    notice!(
        "synapse_compress: room {shown}: {} of {} groups change, rows {} -> {}; every group verified in {:.2}s",
        plan.stats.state_groups_changed,
        plan.stats.state_groups,
        plan.stats.rows_before,
        plan.stats.rows_after,
        timings.verify.as_secs_f64()
    );
    Ok(Compressed { room, plan, levels, timings })
}

/// Writes a compressed range under the locking protocol, retrying lost races.
pub fn write(
    client: &mut SpiClient<'_>,
    synapse: &Synapse,
    room_id: &str,
    c: &mut Compressed,
) -> Result<Outcome> {
    let t = Instant::now();
    let outcome = retry::with_retries(&format!("room {}", show_room(room_id)), || {
        rewrite::apply(client, synapse, room_id, &c.room, &c.plan)
    })?;
    c.timings.write = t.elapsed();
    Ok(outcome)
}

/// What a write did, in words, with its timings.
pub fn written_message(stats: &Stats, outcome: &Outcome, timings: &Timings) -> String {
    let mut msg = format!(
        "rewrote {} groups, saved {} rows ({})",
        outcome.written,
        stats.rows_before as i64 - outcome.rows_after as i64,
        timings.summary()
    );
    if outcome.skipped > 0 {
        msg += &format!(
            "; skipped {} group(s) that changed concurrently or are queued for deletion",
            outcome.skipped
        );
    }
    msg
}
