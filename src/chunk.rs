//! One chunk of a room's incremental compression, the unit of every unattended run: the next
//! `chunk_size` groups after the room's last compressed group, compressed from the room's saved
//! levels (the existing auto compressor's tables, see [`crate::progress`]), verified and written
//! like a whole-room call, with the levels and progress saved in the same transaction as the
//! rows, and a row in `synapse_compress.chunks` telling what happened.

use compress_core::{Levels, Node, Room, Stats};
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use pgrx::{Array, JsonB};

use crate::compression::{compress_and_verify, refusal, write, written_message};
use crate::errors::{run_or_raise, show_room, Error, Result};
use crate::progress::{self, SavedLevel};
use crate::request::{levels_arg, levels_from};
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
    pub sizes: Vec<i64>,
    pub run_id: Option<i64>,
}

impl ChunkRequest {
    pub fn new(
        room_id: Option<&str>,
        chunk_size: Option<i32>,
        levels: Option<Vec<Option<i32>>>,
        run_id: Option<i64>,
    ) -> Result<Self> {
        let room_id = crate::request::room_id_arg(room_id)?;
        let chunk_size = chunk_size_arg(chunk_size)?;
        let levels = levels_from(levels)?;
        let sizes = levels.levels().iter().map(|l| i64::from(l.max)).collect();
        Ok(ChunkRequest { room_id, chunk_size, sizes, run_id })
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
    let shown = show_room(room_id);
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
    let saved = progress::read(client, synapse, room_id, &req.sizes)?;
    let range =
        load::range(client, schema, room_id, saved.last_compressed, None, Some(i64::from(req.chunk_size)))?;
    let (Some(&first), Some(&last)) = (range.first(), range.last()) else {
        return Ok(ChunkResult::empty(
            room_id,
            Outcome::Done,
            format!(
                "no state group after the last compressed one ({})",
                saved.last_compressed.map_or("none".into(), |g| g.to_string())
            ),
        ));
    };
    let heads: Vec<i64> = saved.levels.iter().filter_map(|l| l.head).collect();
    let mut c = compress_and_verify(client, schema, room_id, &range, &heads, |room| {
        start_levels(&req.sizes, &saved.levels, room)
    })?;
    let mut stats = c.plan.stats.clone();
    let (outcome, message, levels) = match refusal(&stats, 1) {
        None => {
            let written = write(client, synapse, room_id, &mut c)?;
            stats.state_groups_changed = written.written;
            stats.rows_after = written.rows_after;
            let message = written_message(&stats, &written, &c.timings);
            (Outcome::Compressed, message, saved_levels(&c.levels, Some(&c.room)))
        }
        Some(_) if stats.state_groups_changed == 0 => (
            Outcome::Unchanged,
            "the groups are already stored this way".to_owned(),
            saved_levels(&c.levels, Some(&c.room)),
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
    let mut details = c.timings.millis();
    details["levels_reset"] = serde_json::json!(saved.reset);
    details["max_chain_before"] = serde_json::json!(stats.max_chain_before);
    details["max_chain_after"] = serde_json::json!(stats.max_chain_after);
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
type ChunkRow = (String, Option<i64>, Option<i64>, i64, i64, i64, i64, String, bool, String, JsonB);

/// Compresses the next chunk of one room from its saved levels. See the README.
#[allow(clippy::type_complexity)]
#[pg_extern(volatile, parallel_unsafe, schema = "synapse_compress")]
fn compress_room_chunk<'a>(
    room_id: Option<&'a str>,
    chunk_size: default!(Option<i32>, 500),
    levels: default!(Option<Array<'a, i32>>, "'{100,50,25}'"),
    run_id: default!(Option<i64>, "NULL"),
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
        name!(outcome, String),
        name!(applied, bool),
        name!(message, String),
        name!(details, JsonB),
    ),
> {
    let row: ChunkRow = run_or_raise(|| {
        let req = ChunkRequest::new(room_id, chunk_size, levels_arg(levels)?, run_id)?;
        Spi::connect_mut(|client| {
            let synapse = Synapse::inspect(client, true)?;
            let t = std::time::Instant::now();
            let result = run_chunk(client, &synapse, &req)?;
            history::record_chunk(client, req.run_id, &result, t.elapsed())?;
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
                r.outcome.name().to_owned(),
                r.outcome == Outcome::Compressed,
                r.message,
                JsonB(r.details),
            )
        })
    });
    TableIterator::once(row)
}
