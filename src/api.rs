//! The SQL functions: `compress_room_state` (compress, verify, rewrite in the calling
//! transaction) and `compress_room_state_sql` (the same change as reviewable statements).

use compress_core::{ReadBudget, Stats};
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use pgrx::{Array, JsonB};

use crate::compression::{
    compress_and_verify, refusal, write, written_message, Compressed, Compression, Details, Timings,
};
use crate::errors::{run_or_raise, show_room, Error, Result};
use crate::request::{levels_arg, Method, Request};
use crate::tables::Synapse;
use crate::{load, roomlock, script};

/// The groups of the request's range, or the reason there are none.
fn request_range(client: &SpiClient<'_>, schema: &str, req: &Request) -> Result<Option<Vec<i64>>> {
    let range = load::range_ids(client, schema, req)?;
    if !range.is_empty() {
        return Ok(Some(range));
    }
    if !load::room_exists(client, schema, &req.room_id)? {
        return Err(Error::NoSuchRoom(req.room_id.clone()));
    }
    Ok(None)
}

fn compress_request(client: &SpiClient<'_>, schema: &str, req: &Request) -> Result<Option<Compressed>> {
    let Some(range) = request_range(client, schema, req)? else { return Ok(None) };
    let compression = match &req.method {
        Method::Levels => {
            let levels = req.levels.clone();
            Compression::Levels(Box::new(move |_| Ok(levels)))
        }
        Method::ForkAware(options) => Compression::ForkAware(options.clone()),
    };
    compress_and_verify(client, schema, &req.room_id, &range, &[], compression).map(Some)
}

/// The columns of `compress_room_state`'s result (named in its signature).
type ResultRow = (String, i64, i64, i64, i64, i64, i64, i32, i32, Option<i32>, bool, String, JsonB);

fn result_row(
    room_id: &str,
    stats: &Stats,
    method: &Method,
    applied: bool,
    message: String,
    timings: &Timings,
) -> ResultRow {
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
        method.max_chain().map(|cap| cap.min(i32::MAX as u32) as i32),
        applied,
        message,
        JsonB(Details::new(method.name(), stats, timings).to_json()),
    )
}

fn run_compress(req: Request) -> Result<ResultRow> {
    Spi::connect_mut(|client| {
        let synapse = Synapse::inspect(client, !req.dry_run)?;
        if !req.dry_run {
            roomlock::lock(client, &req.room_id)?;
        }
        let Some(mut c) = compress_request(client, &synapse.schema, &req)? else {
            return Ok(result_row(
                &req.room_id,
                &Stats::default(),
                &req.method,
                false,
                "no state groups in the given range".into(),
                &Timings::default(),
            ));
        };
        let mut stats = c.plan.stats.clone();
        if let Some(why) = refusal(&stats, req.min_saved_rows) {
            return Ok(result_row(&req.room_id, &stats, &req.method, false, why, &c.timings));
        }
        if req.dry_run {
            let saved = stats.rows_before - stats.rows_after;
            let msg = format!(
                "dry run: would save {saved} rows; verified, nothing written ({})",
                c.timings.summary()
            );
            return Ok(result_row(&req.room_id, &stats, &req.method, false, msg, &c.timings));
        }
        let outcome = write(client, &synapse, &req.room_id, &mut c)?;
        stats.state_groups_changed = outcome.written;
        stats.rows_after = outcome.rows_after;
        let msg = written_message(&stats, &outcome, &c.timings);
        log::info!("room {}: {msg}", show_room(&req.room_id));
        Ok(result_row(&req.room_id, &stats, &req.method, outcome.written > 0, msg, &c.timings))
    })
}

fn run_script(req: Request) -> Result<Vec<String>> {
    Spi::connect(|client| {
        let synapse = Synapse::inspect(client, false)?;
        let Some(c) = compress_request(client, &synapse.schema, &req)? else {
            return Ok(vec!["-- no state groups in the given range".to_owned()]);
        };
        let s = &c.plan.stats;
        let mut cap = req.method.max_chain().map_or(String::new(), |cap| format!(" max_chain {cap},"));
        if let Some(budget) = s.read_budget.filter(|&b| b != ReadBudget::Off) {
            cap += &format!(" read_budget {},", budget.name());
        }
        let header = format!(
            "-- synapse_compress: room {}: method {},{cap} {} of {} groups change, rows {} -> {}, verified",
            script::quote_literal(&req.room_id),
            req.method.name(),
            s.state_groups_changed,
            s.state_groups,
            s.rows_before,
            s.rows_after
        );
        if let Some(why) = refusal(s, req.min_saved_rows) {
            return Ok(vec![header, format!("-- {why}")]);
        }
        let mut out = vec![header];
        out.extend(script::statements(&synapse, &req.room_id, &c.room, &c.plan, req.dry_run));
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
    method: default!(Option<&'a str>, "'fork_aware'"),
    max_chain: default!(Option<i32>, "NULL"),
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
        name!(max_chain, Option<i32>),
        name!(applied, bool),
        name!(message, String),
        name!(details, JsonB),
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
            method,
            max_chain,
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
    method: default!(Option<&'a str>, "'fork_aware'"),
    max_chain: default!(Option<i32>, "NULL"),
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
            method,
            max_chain,
        )
        .and_then(run_script)
    });
    SetOfIterator::new(lines)
}
