//! One chunk of a room's incremental compression, the unit of every unattended run: the next
//! `chunk_size` groups after the room's last compressed group, verified and written like a
//! whole-room call, with the progress saved in the same transaction as the rows, and a row in
//! `synapse_compress.chunks` telling what happened.
//!
//! Both methods keep the last compressed group in the existing auto compressor's
//! `state_compressor_progress` (see [`crate::progress`]).
//! * `'levels'` continues from the room's saved levels (`state_compressor_state`) and saves them
//!   again, exactly as the existing tool does.
//! * `'fork_aware'` keeps nothing else between chunks: it loads the `window` groups before the
//!   chunk as context and never moves a group that later groups build on deeper. It saves the
//!   room's levels reset (the sizes of the `levels` argument, empty, no heads), the state the
//!   existing tool saves after a skipped chunk, so a later `'levels'` run or the existing tool
//!   starts its levels afresh after the last compressed group instead of continuing from heads
//!   that the fork-aware tree no longer follows.

use compress_core::{Levels, Node, Room, Stats};
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use pgrx::{Array, JsonB};

use crate::compression::{compress_and_verify, refusal, write, written_message, Compression, Details};
use crate::errors::{run_or_raise, show_room, Error, Result};
use crate::progress::{self, SavedLevel};
use crate::request::{levels_arg, levels_from, method_arg, Method};
use crate::tables::Synapse;
use crate::{history, load, roomlock};

/// The most groups one chunk may hold (memory grows with the chunk).
const MAX_CHUNK_SIZE: i32 = 1_000_000;

/// What became of a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Rows were rewritten.
    Compressed,
    /// The groups are already stored as the levels would store them; progress advanced.
    Unchanged,
    /// Compressing would not save rows: left as is, levels reset, progress advanced.
    Skipped,
    /// No group after the last compressed one: nothing to do in this room.
    Done,
    /// Another compression of the room holds its lock: nothing done.
    Busy,
    /// The room has no state groups any more: dropped from the progress tables.
    Gone,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Compressed => "compressed",
            Outcome::Unchanged => "unchanged",
            Outcome::Skipped => "skipped",
            Outcome::Done => "done",
            Outcome::Busy => "busy",
            Outcome::Gone => "gone",
        }
    }
}

/// A chunk's result, as returned and as recorded in the history.
pub struct ChunkResult {
    pub room_id: String,
    pub first_group: Option<i64>,
    pub last_group: Option<i64>,
    pub stats: Stats,
    pub outcome: Outcome,
    pub message: String,
    pub details: serde_json::Value,
}

impl ChunkResult {
    fn empty(room_id: &str, outcome: Outcome, message: String) -> Self {
        ChunkResult {
            room_id: room_id.to_owned(),
            first_group: None,
            last_group: None,
            stats: Stats::default(),
            outcome,
            message,
            details: serde_json::json!({}),
        }
    }
}

/// The `chunk_size` argument, checked.
pub fn chunk_size_arg(chunk_size: Option<i32>) -> Result<i32> {
    let chunk_size = chunk_size.ok_or(Error::NullArgument("chunk_size"))?;
    if !(1..=MAX_CHUNK_SIZE).contains(&chunk_size) {
        return Err(Error::Argument(format!(
            "chunk_size must be between 1 and {MAX_CHUNK_SIZE}, not {chunk_size}"
        )));
    }
    Ok(chunk_size)
}

pub struct ChunkRequest {
    pub room_id: String,
    pub chunk_size: i32,
    /// The level sizes of the `levels` argument (for `'fork_aware'` always the default: the
    /// sizes of the reset levels it saves).
    pub sizes: Vec<i64>,
    pub method: Method,
    pub run_id: Option<i64>,
}

impl ChunkRequest {
    /// `method` and `max_chain` as the SQL arguments give them (`None` method: NULL, refused).
    pub fn new(
        room_id: Option<&str>,
        chunk_size: Option<i32>,
        levels: Option<Vec<Option<i32>>>,
        run_id: Option<i64>,
        method: Option<&str>,
        max_chain: Option<i32>,
    ) -> Result<Self> {
        let room_id = crate::request::room_id_arg(room_id)?;
        let chunk_size = chunk_size_arg(chunk_size)?;
        let levels = levels_from(levels)?;
        let sizes: Vec<i64> = levels.levels().iter().map(|l| i64::from(l.max)).collect();
        let method = method_arg(method, max_chain, &sizes)?;
        Ok(ChunkRequest { room_id, chunk_size, sizes, method, run_id })
    }
}

/// The levels to start from: the saved ones, or new empty ones.
fn start_levels(sizes: &[i64], saved: &[SavedLevel], room: &Room) -> Result<Levels> {
    if saved.is_empty() {
        return Ok(Levels::new(sizes)?);
    }
    let restored: Vec<(u32, Option<Node>)> =
        saved.iter().map(|l| (l.length.max(0) as u32, l.head.and_then(|h| room.node_of(h)))).collect();
    Ok(Levels::restore(sizes, &restored)?)
}

/// The levels as the existing tool saves them.
fn saved_levels(levels: &Levels, room: Option<&Room>) -> Vec<SavedLevel> {
    levels
        .levels()
        .iter()
        .map(|l| SavedLevel {
            max_size: l.max as i32,
            length: l.len as i32,
            head: l.head.and_then(|n| room.map(|r| r.id(n))),
        })
        .collect()
}

/// Compresses the room's next chunk in the calling transaction.
pub fn run_chunk(client: &mut SpiClient<'_>, synapse: &Synapse, req: &ChunkRequest) -> Result<ChunkResult> {
    let schema = &synapse.schema;
    let room_id = req.room_id.as_str();
    progress::ensure_tables(client, synapse)?;
    if !load::room_exists(client, schema, room_id)? {
        progress::forget(client, synapse, room_id)?;
        return Ok(ChunkResult::empty(
            room_id,
            Outcome::Gone,
            "the room has no state groups (any more): removed from the progress tables".into(),
        ));
    }
    if !roomlock::try_lock(client, room_id)? {
        return Ok(ChunkResult::empty(
            room_id,
            Outcome::Busy,
            "another compression of this room is running: left for a later run".into(),
        ));
    }
    match &req.method {
        Method::Levels => levels_chunk(client, synapse, req),
        Method::ForkAware(_) => fork_aware_chunk(client, synapse, req),
    }
}

/// The next chunk's groups after `last_compressed`, or the room's result when there are none.
fn next_range(
    client: &SpiClient<'_>,
    synapse: &Synapse,
    req: &ChunkRequest,
    last_compressed: Option<i64>,
) -> Result<std::result::Result<Vec<i64>, ChunkResult>> {
    let range = load::range(
        client,
        &synapse.schema,
        &req.room_id,
        last_compressed,
        None,
        Some(i64::from(req.chunk_size)),
    )?;
    if range.is_empty() {
        return Ok(Err(ChunkResult::empty(
            &req.room_id,
            Outcome::Done,
            format!(
                "no state group after the last compressed one ({})",
                last_compressed.map_or("none".into(), |g| g.to_string())
            ),
        )));
    }
    Ok(Ok(range))
}

/// A chunk of the level method: from the saved levels, saving them again.
fn levels_chunk(client: &mut SpiClient<'_>, synapse: &Synapse, req: &ChunkRequest) -> Result<ChunkResult> {
    let schema = &synapse.schema;
    let room_id = req.room_id.as_str();
    let shown = show_room(room_id);
    let saved = progress::read(client, synapse, room_id, &req.sizes)?;
    let range = match next_range(client, synapse, req, saved.last_compressed)? {
        Ok(range) => range,
        Err(done) => return Ok(done),
    };
    let (first, last) = (range[0], range[range.len() - 1]);
    let heads: Vec<i64> = saved.levels.iter().filter_map(|l| l.head).collect();
    let start = |room: &Room| start_levels(&req.sizes, &saved.levels, room);
    let mut c =
        compress_and_verify(client, schema, room_id, &range, &heads, Compression::Levels(Box::new(start)))?;
    let mut stats = c.plan.stats.clone();
    let reached = || c.levels.as_ref().expect("the level method returns its levels");
    let (outcome, message, levels) = match refusal(&stats, 1) {
        None => {
            let levels = saved_levels(reached(), Some(&c.room));
            let written = write(client, synapse, room_id, &mut c)?;
            stats.state_groups_changed = written.written;
            stats.rows_after = written.rows_after;
            let message = written_message(&stats, &written, &c.timings);
            (Outcome::Compressed, message, levels)
        }
        Some(_) if stats.state_groups_changed == 0 => (
            Outcome::Unchanged,
            "the groups are already stored this way".to_owned(),
            saved_levels(reached(), Some(&c.room)),
        ),
        Some(_) => {
            let message = format!(
                "groups {first}..{last} were left as they are: compressing them would not save rows \
                 ({} -> {}); the levels start again after them",
                stats.rows_before, stats.rows_after
            );
            notice!("synapse_compress: room {shown}: {message}");
            stats.rows_after = stats.rows_before;
            stats.state_groups_changed = 0;
            (Outcome::Skipped, message, saved_levels(&Levels::new(&req.sizes)?, None))
        }
    };
    progress::write(client, synapse, room_id, &levels, last)?;
    let details =
        Details { levels_reset: saved.reset, ..Details::new("levels", &stats, &c.timings) }.to_json();
    Ok(ChunkResult {
        room_id: room_id.to_owned(),
        first_group: Some(first),
        last_group: Some(last),
        stats,
        outcome,
        message,
        details,
    })
}

/// A chunk of the fork-aware method: the window before it as context, nothing saved but the
/// progress (and the room's levels, reset).
fn fork_aware_chunk(
    client: &mut SpiClient<'_>,
    synapse: &Synapse,
    req: &ChunkRequest,
) -> Result<ChunkResult> {
    let Method::ForkAware(options) = &req.method else { unreachable!("a fork-aware request") };
    let room_id = req.room_id.as_str();
    let last_compressed = progress::last_compressed(client, synapse, room_id)?;
    let range = match next_range(client, synapse, req, last_compressed)? {
        Ok(range) => range,
        Err(done) => return Ok(done),
    };
    let (first, last) = (range[0], range[range.len() - 1]);
    let compression = Compression::ForkAware(options.clone());
    let mut c = compress_and_verify(client, &synapse.schema, room_id, &range, &[], compression)?;
    let mut stats = c.plan.stats.clone();
    let (outcome, message) = match refusal(&stats, 1) {
        None => {
            let written = write(client, synapse, room_id, &mut c)?;
            stats.state_groups_changed = written.written;
            stats.rows_after = written.rows_after;
            (Outcome::Compressed, written_message(&stats, &written, &c.timings))
        }
        Some(why) if stats.chain_cap_unmet => {
            let message = format!("groups {first}..{last}: {why}");
            notice!("synapse_compress: room {}: {message}", show_room(room_id));
            (Outcome::Skipped, message)
        }
        Some(_) if stats.state_groups_changed == 0 => {
            (Outcome::Unchanged, "the groups are already stored this way".to_owned())
        }
        Some(_) => {
            // never expected: the method keeps the original tree rather than add rows
            let message = format!(
                "groups {first}..{last} were left as they are: compressing them would not save rows ({} -> {})",
                stats.rows_before, stats.rows_after
            );
            notice!("synapse_compress: room {}: {message}", show_room(room_id));
            (Outcome::Skipped, message)
        }
    };
    if outcome != Outcome::Compressed {
        stats.rows_after = stats.rows_before;
        stats.state_groups_changed = 0;
    }
    // the room's saved levels, reset: the existing tool and the level method start afresh
    let reset = saved_levels(&Levels::new(&req.sizes)?, None);
    progress::write(client, synapse, room_id, &reset, last)?;
    let details = Details::new("fork_aware", &stats, &c.timings).to_json();
    Ok(ChunkResult {
        room_id: room_id.to_owned(),
        first_group: Some(first),
        last_group: Some(last),
        stats,
        outcome,
        message,
        details,
    })
}

/// The columns of `compress_room_chunk`'s result (named in its signature).
type ChunkRow =
    (String, Option<i64>, Option<i64>, i64, i64, i64, i64, Option<i32>, String, bool, String, JsonB);

/// Compresses the next chunk of one room from its saved levels. See the README.
#[allow(clippy::type_complexity)]
#[pg_extern(volatile, parallel_unsafe, schema = "synapse_compress")]
fn compress_room_chunk<'a>(
    room_id: Option<&'a str>,
    chunk_size: default!(Option<i32>, 500),
    levels: default!(Option<Array<'a, i32>>, "'{100,50,25}'"),
    run_id: default!(Option<i64>, "NULL"),
    method: default!(Option<&'a str>, "'fork_aware'"),
    max_chain: default!(Option<i32>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(room_id, String),
        name!(first_group, Option<i64>),
        name!(last_group, Option<i64>),
        name!(state_groups, i64),
        name!(state_groups_changed, i64),
        name!(rows_before, i64),
        name!(rows_after, i64),
        name!(max_chain, Option<i32>),
        name!(outcome, String),
        name!(applied, bool),
        name!(message, String),
        name!(details, JsonB),
    ),
> {
    let row: ChunkRow = run_or_raise(|| {
        let req = ChunkRequest::new(room_id, chunk_size, levels_arg(levels)?, run_id, method, max_chain)?;
        let cap = req.method.max_chain().map(|cap| cap.min(i32::MAX as u32) as i32);
        Spi::connect_mut(|client| {
            let synapse = Synapse::inspect(client, true)?;
            let t = std::time::Instant::now();
            let result = run_chunk(client, &synapse, &req)?;
            // a room with nothing left to do is not worth a history row (one per room and run)
            if result.outcome != Outcome::Done {
                history::record_chunk(client, req.run_id, &result, t.elapsed())?;
            }
            Ok(result)
        })
        .map(|r| {
            (
                r.room_id,
                r.first_group,
                r.last_group,
                r.stats.state_groups as i64,
                r.stats.state_groups_changed as i64,
                r.stats.rows_before as i64,
                r.stats.rows_after as i64,
                cap,
                r.outcome.name().to_owned(),
                r.outcome == Outcome::Compressed,
                r.message,
                JsonB(r.details),
            )
        })
    });
    TableIterator::once(row)
}
