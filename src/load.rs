//! Reads one room from Synapse's tables through SPI: the groups in range, their edges and those
//! of their predecessors (context), then the state rows streamed from a cursor in batches, in
//! ascending group order, straight into the core's [`RoomBuilder`] without copying strings.

use compress_core::{GroupGraph, InputError, Room, RoomBuilder};
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use pgrx::{pg_sys, PgMemoryContexts};

use crate::errors::{Error, Result};
use crate::request::Request;
use crate::settings::FETCH_ROWS;

/// The groups of the request's range, ascending.
pub fn range_ids(client: &SpiClient<'_>, schema: &str, req: &Request) -> Result<Vec<i64>> {
    let sql = format!(
        "SELECT id FROM {schema}.state_groups \
         WHERE room_id = $1 AND ($2::bigint IS NULL OR id > $2) AND ($3::bigint IS NULL OR id <= $3) \
         ORDER BY id LIMIT $4"
    );
    let limit = req.groups_to_compress.map(i64::from);
    let table = client.select(
        &sql,
        None,
        &[req.room_id.as_str().into(), req.min_state_group.into(), req.max_state_group.into(), limit.into()],
    )?;
    let mut ids = Vec::with_capacity(table.len());
    for row in table {
        ids.push(row.get::<i64>(1)?.expect("id is NOT NULL"));
    }
    Ok(ids)
}

pub fn room_exists(client: &SpiClient<'_>, schema: &str, room_id: &str) -> Result<bool> {
    let sql = format!("SELECT EXISTS (SELECT 1 FROM {schema}.state_groups WHERE room_id = $1)");
    Ok(client.select(&sql, Some(1), &[room_id.into()])?.first().get_one::<bool>()?.unwrap_or(false))
}

/// Loads the groups `range` (ascending ids of the room) with every predecessor they reach.
pub fn load_room(client: &SpiClient<'_>, schema: &str, room_id: &str, range: &[i64]) -> Result<Room> {
    let corrupt = |error| Error::Corrupt { room: room_id.to_owned(), error };
    // Edges of the range and, recursively, of every predecessor (UNION stops at cycles), with
    // the room of each predecessor (NULL when it does not exist).
    let sql = format!(
        "WITH RECURSIVE chain(state_group, prev_state_group) AS ( \
             SELECT e.state_group, e.prev_state_group FROM {schema}.state_group_edges e \
             WHERE e.state_group = ANY($1) \
           UNION \
             SELECT e.state_group, e.prev_state_group FROM {schema}.state_group_edges e \
             JOIN chain c ON e.state_group = c.prev_state_group \
         ) \
         SELECT c.state_group, c.prev_state_group, g.room_id \
         FROM chain c LEFT JOIN {schema}.state_groups g ON g.id = c.prev_state_group"
    );
    let table = client.select(&sql, None, &[range.to_vec().into()])?;
    let mut edges = Vec::with_capacity(table.len());
    let mut groups: Vec<(i64, bool)> = range.iter().map(|&id| (id, true)).collect();
    for row in table {
        let group = row.get::<i64>(1)?.expect("NOT NULL");
        let prev = row.get::<i64>(2)?.expect("NOT NULL");
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
    let graph = GroupGraph::new(groups, &edges).map_err(corrupt)?;
    let ids = graph.ids().to_vec();
    let mut builder = RoomBuilder::new(graph);
    let sql = format!(
        "SELECT state_group, type, state_key, event_id FROM {schema}.state_groups_state \
         WHERE state_group = ANY($1) ORDER BY state_group"
    );
    let mut cursor = client.try_open_cursor(&sql, &[ids.into()])?;
    let mut batch_memory = PgMemoryContexts::new("synapse_compress rows");
    let batch = i64::from(FETCH_ROWS.get());
    loop {
        check_for_interrupts!();
        let count = cursor.fetch(batch as _)?.len();
        if count == 0 {
            break;
        }
        // SAFETY: SPI_tuptable is the table `fetch` just filled, with `count` rows of four
        // NOT NULL columns (bigint, text, text, text); it is freed below, after the last use of
        // the borrowed strings, and detoasted copies live in `batch_memory`, reset per batch.
        let result = unsafe {
            batch_memory.switch_to(|_| {
                let table = pg_sys::SPI_tuptable;
                let desc = (*table).tupdesc;
                let rows = std::slice::from_raw_parts((*table).vals, count);
                for (i, &tuple) in rows.iter().enumerate() {
                    if i.is_multiple_of(1024) {
                        check_for_interrupts!();
                    }
                    let group = int8(tuple, desc, 1);
                    builder.add_row(
                        group,
                        text(tuple, desc, 2),
                        text(tuple, desc, 3),
                        text(tuple, desc, 4),
                    )?;
                }
                pg_sys::SPI_freetuptable(table);
                Ok::<(), InputError>(())
            })
        };
        unsafe { batch_memory.reset() };
        result.map_err(corrupt)?;
    }
    builder.finish().map_err(corrupt)
}

unsafe fn column(tuple: pg_sys::HeapTuple, desc: pg_sys::TupleDesc, col: i32) -> pg_sys::Datum {
    let mut is_null = false;
    let datum = pg_sys::SPI_getbinval(tuple, desc, col, &mut is_null);
    assert!(!is_null, "column {col} is NOT NULL in Synapse's schema");
    datum
}

unsafe fn int8(tuple: pg_sys::HeapTuple, desc: pg_sys::TupleDesc, col: i32) -> i64 {
    column(tuple, desc, col).value() as i64
}

unsafe fn text<'a>(tuple: pg_sys::HeapTuple, desc: pg_sys::TupleDesc, col: i32) -> &'a str {
    <&str as FromDatum>::from_polymorphic_datum(column(tuple, desc, col), false, pg_sys::TEXTOID)
        .expect("not null")
}
