//! Reads one room from Synapse's tables through SPI: the groups in range, their edges and those
//! of their predecessors in the same room (context), then the state rows in ascending group
//! order, handed by the executor to a DestReceiver that feeds the core's [`RoomBuilder`] without
//! copying tuples. Every row must belong to the room; NULLs and foreign rows are refused.
//!
//! For the fork-aware method a load also takes the `window` groups of the room just before the
//! range as context ([`window_before`]), and marks the groups in range that have a successor it
//! did not load ([`Loaded::MarkOutsideSuccessors`]): a later chunk's groups, groups after a
//! `max_state_group`, or groups Synapse added meanwhile. Those groups never get deeper, since
//! the chains of their unseen successors run through them.
use compress_core::{GroupGraph, InputError, Room, RoomBuilder};
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use pgrx::{pg_sys, PgMemoryContexts};

use crate::errors::{Error, Result};
use crate::request::Request;

/// A value of a `NOT NULL` column of Synapse's tables.
pub fn required<T>(value: Option<T>, table: &str, column: &str) -> Result<T> {
    value.ok_or_else(|| Error::null_column(table, column))
}

/// The groups of the request's range, ascending.
pub fn range_ids(client: &SpiClient<'_>, schema: &str, req: &Request) -> Result<Vec<i64>> {
    let limit = req.groups_to_compress.map(i64::from);
    range(client, schema, &req.room_id, req.min_state_group, req.max_state_group, limit)
}

/// The room's groups with `min < id <= max`, ascending, at most `limit` of them.
pub fn range(
    client: &SpiClient<'_>,
    schema: &str,
    room_id: &str,
    min: Option<i64>,
    max: Option<i64>,
    limit: Option<i64>,
) -> Result<Vec<i64>> {
    let sql = format!(
        "SELECT id FROM {schema}.state_groups \
         WHERE room_id = $1 AND ($2::bigint IS NULL OR id > $2) AND ($3::bigint IS NULL OR id <= $3) \
         ORDER BY id LIMIT $4"
    );
    let table = client.select(&sql, None, &[room_id.into(), min.into(), max.into(), limit.into()])?;
    let mut ids = Vec::with_capacity(table.len());
    for row in table {
        ids.push(required(row.get::<i64>(1)?, "state_groups", "id")?);
    }
    Ok(ids)
}

/// Up to `window` groups of the room just before group `first` (ascending): the fork-aware
/// method's context before a range that does not start at the room's first group.
pub fn window_before(
    client: &SpiClient<'_>,
    schema: &str,
    room_id: &str,
    first: i64,
    window: u32,
) -> Result<Vec<i64>> {
    let sql = format!(
        "SELECT id FROM {schema}.state_groups WHERE room_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
    );
    let table = client.select(&sql, None, &[room_id.into(), first.into(), i64::from(window).into()])?;
    let mut ids = Vec::with_capacity(table.len());
    for row in table {
        ids.push(required(row.get::<i64>(1)?, "state_groups", "id")?);
    }
    ids.reverse();
    Ok(ids)
}

/// Which groups a load tells the core about beyond what it loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loaded {
    /// Nothing (the level method, which never looks at successors).
    AsIs,
    /// The groups in range with a successor that is not loaded
    /// ([`GroupGraph::mark_outside_successors`]).
    MarkOutsideSuccessors,
}

/// The groups in `range` that are the predecessor of a group not in `loaded` (through the index
/// on `prev_state_group`).
fn outside_successors(
    client: &SpiClient<'_>,
    schema: &str,
    range: &[i64],
    loaded: &[i64],
) -> Result<Vec<i64>> {
    let sql = format!(
        "SELECT DISTINCT prev_state_group FROM {schema}.state_group_edges \
         WHERE prev_state_group = ANY($1) AND NOT state_group = ANY($2)"
    );
    let table = client.select(&sql, None, &[range.into(), loaded.into()])?;
    let mut ids = Vec::with_capacity(table.len());
    for row in table {
        ids.push(required(row.get::<i64>(1)?, "state_group_edges", "prev_state_group")?);
    }
    Ok(ids)
}

pub fn room_exists(client: &SpiClient<'_>, schema: &str, room_id: &str) -> Result<bool> {
    let sql = format!("SELECT EXISTS (SELECT 1 FROM {schema}.state_groups WHERE room_id = $1)");
    Ok(client.select(&sql, Some(1), &[room_id.into()])?.first().get_one::<bool>()?.unwrap_or(false))
}

/// Loads the groups `range` (ascending ids of the room) and the groups `context` (read only, e.g.
/// level heads saved by an earlier chunk, the fork-aware method's window) with every predecessor
/// they reach; with [`Loaded::MarkOutsideSuccessors`], marks the groups in range that have a
/// successor not loaded.
pub fn load_room(
    client: &SpiClient<'_>,
    schema: &str,
    room_id: &str,
    range: &[i64],
    context: &[i64],
    loaded: Loaded,
) -> Result<Room> {
    let corrupt = |error| Error::corrupt(room_id, error);
    // Edges of the range and, recursively, of every predecessor in the room (UNION stops at
    // cycles), with the room of each predecessor (NULL when it does not exist). The walk stops
    // at a predecessor of another room, so such a row is exactly the edge that leaves the room.
    let sql = format!(
        "WITH RECURSIVE chain(state_group, prev_state_group, prev_room) AS ( \
             SELECT e.state_group, e.prev_state_group, g.room_id FROM {schema}.state_group_edges e \
             LEFT JOIN {schema}.state_groups g ON g.id = e.prev_state_group \
             WHERE e.state_group = ANY($1) \
           UNION \
             SELECT e.state_group, e.prev_state_group, g.room_id FROM chain c \
             JOIN {schema}.state_group_edges e ON e.state_group = c.prev_state_group AND c.prev_room = $2 \
             LEFT JOIN {schema}.state_groups g ON g.id = e.prev_state_group \
         ) \
         SELECT state_group, prev_state_group, prev_room FROM chain"
    );
    let starts: Vec<i64> = range.iter().chain(context).copied().collect();
    let table = client.select(&sql, None, &[starts.into(), room_id.into()])?;
    let mut edges = Vec::with_capacity(table.len());
    let mut groups: Vec<(i64, bool)> = range.iter().map(|&id| (id, true)).collect();
    groups.extend(context.iter().filter(|id| range.binary_search(id).is_err()).map(|&id| (id, false)));
    for row in table {
        let group = required(row.get::<i64>(1)?, "state_group_edges", "state_group")?;
        let prev = required(row.get::<i64>(2)?, "state_group_edges", "prev_state_group")?;
        match row.get::<String>(3)? {
            None => return Err(corrupt(InputError::MissingPredecessor { group, prev })),
            Some(r) if r != room_id => {
                return Err(corrupt(InputError::ForeignPredecessor { group, prev, prev_room: r }))
            }
            Some(_) => {}
        }
        if range.binary_search(&prev).is_err() {
            groups.push((prev, false));
        }
        edges.push((group, prev));
    }
    let mut graph = GroupGraph::new(groups, &edges).map_err(corrupt)?;
    if loaded == Loaded::MarkOutsideSuccessors {
        let marked = outside_successors(client, schema, range, graph.ids())?;
        graph.mark_outside_successors(marked);
    }
    let ids = graph.ids().to_vec();
    let mut builder = RoomBuilder::new(graph);
    let sql = format!(
        "SELECT state_group, type, state_key, event_id, room_id FROM {schema}.state_groups_state \
         WHERE state_group = ANY($1) ORDER BY state_group"
    );
    let cursor = client.try_open_cursor(sql.as_str(), &[ids.into()])?;
    let name = std::ffi::CString::new(cursor.detach_into_name()).expect("portal names have no NUL");
    let mut sink = RowSink {
        receiver: pg_sys::DestReceiver {
            receiveSlot: Some(receive_row),
            rStartup: Some(startup),
            rShutdown: Some(shutdown),
            rDestroy: Some(shutdown),
            mydest: pg_sys::CommandDest::DestNone,
        },
        builder: &mut builder,
        room_id,
        error: None,
        rows: 0,
        memory: PgMemoryContexts::new("synapse_compress rows"),
    };
    // SAFETY: the portal was just opened by SPI under this name; `sink` outlives the fetch, and
    // its first field is the DestReceiver PostgreSQL calls back with.
    unsafe {
        let portal = pg_sys::GetPortalByName(name.as_ptr());
        pg_sys::PortalRunFetch(
            portal,
            pg_sys::FetchDirection::FETCH_FORWARD,
            std::ffi::c_long::MAX,
            &mut sink.receiver as *mut pg_sys::DestReceiver,
        );
        pg_sys::SPI_cursor_close(portal);
    }
    if let Some(error) = sink.error.take() {
        return Err(error);
    }
    drop(sink);
    builder.finish().map_err(corrupt)
}

/// Receives the rows of the state query straight from the executor, without SPI's copy of
/// every tuple, and feeds them to the builder.
#[repr(C)]
struct RowSink<'b> {
    /// Must stay the first field: PostgreSQL passes a pointer to it back to the callbacks.
    receiver: pg_sys::DestReceiver,
    builder: &'b mut RoomBuilder,
    room_id: &'b str,
    /// The first problem found; the fetch stops at it.
    error: Option<Error>,
    rows: usize,
    /// Holds values that had to be detoasted; reset every few thousand rows.
    memory: PgMemoryContexts,
}

#[pg_guard]
unsafe extern "C-unwind" fn receive_row(
    slot: *mut pg_sys::TupleTableSlot,
    receiver: *mut pg_sys::DestReceiver,
) -> bool {
    let sink = &mut *(receiver as *mut RowSink);
    if sink.rows.is_multiple_of(4096) {
        check_for_interrupts!();
        sink.memory.reset();
    }
    sink.rows += 1;
    const COLUMNS: [&str; 5] = ["state_group", "type", "state_key", "event_id", "room_id"];
    if ((*slot).tts_nvalid as usize) < COLUMNS.len() {
        pg_sys::slot_getsomeattrs_int(slot, COLUMNS.len() as i32);
    }
    let values = std::slice::from_raw_parts((*slot).tts_values, COLUMNS.len());
    let nulls = std::slice::from_raw_parts((*slot).tts_isnull, COLUMNS.len());
    if let Some(i) = nulls.iter().position(|&n| n) {
        sink.error = Some(Error::null_column("state_groups_state", COLUMNS[i]));
        return false;
    }
    let group = values[0].value() as i64;
    let (builder, room_id) = (&mut *sink.builder, sink.room_id);
    let added = sink.memory.switch_to(|_| {
        let row_room = text(values[4]);
        if row_room != room_id {
            return Err(Error::Corrupt {
                room: room_id.to_owned(),
                detail: format!(
                    "state group {group} has a row in state_groups_state whose room_id is {}",
                    crate::errors::show_room(row_room)
                ),
            });
        }
        builder
            .add_row(group, text(values[1]), text(values[2]), text(values[3]))
            .map_err(|e| Error::corrupt(room_id, e))
    });
    match added {
        Ok(()) => true,
        Err(e) => {
            sink.error = Some(e);
            false
        }
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn startup(
    _receiver: *mut pg_sys::DestReceiver,
    _operation: i32,
    _desc: pg_sys::TupleDesc,
) {
}

#[pg_guard]
unsafe extern "C-unwind" fn shutdown(_receiver: *mut pg_sys::DestReceiver) {}

unsafe fn text<'a>(datum: pg_sys::Datum) -> &'a str {
    <&str as FromDatum>::from_polymorphic_datum(datum, false, pg_sys::TEXTOID).expect("not null")
}
