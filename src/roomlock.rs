//! Serialises the compressions of one room: every writing call, and every generated script when
//! it is applied, first takes a transaction-level advisory lock keyed by the room, so that two
//! overlapping runs (two cron jobs, the worker and a manual call, a script and a call) never
//! rewrite the same groups at once. The second waits, then reads what the first committed.
//! Synapse itself does not take this lock and is never slowed by it.

use pgrx::spi::SpiClient;

use crate::errors::Result;
use crate::script::quote_literal;

/// The first key of the advisory lock: it marks the lock as synapse_compress's ("SC").
const LOCK_CLASS: i32 = 0x5343;

/// Waits for (and takes until the end of the transaction) the room's lock.
pub fn lock(client: &mut SpiClient<'_>, room_id: &str) -> Result<()> {
    let sql = format!("SELECT pg_catalog.pg_advisory_xact_lock({LOCK_CLASS}, pg_catalog.hashtext($1))");
    client.update(sql.as_str(), None, &[room_id.into()])?;
    Ok(())
}

/// The same lock as a statement of a generated script.
pub fn lock_statement(room_id: &str) -> String {
    format!(
        "SELECT pg_catalog.pg_advisory_xact_lock({LOCK_CLASS}, pg_catalog.hashtext({}));",
        quote_literal(room_id)
    )
}

/// Takes the room's lock if no other transaction holds it; `false` if one does.
pub fn try_lock(client: &mut SpiClient<'_>, room_id: &str) -> Result<bool> {
    let sql = format!("SELECT pg_catalog.pg_try_advisory_xact_lock({LOCK_CLASS}, pg_catalog.hashtext($1))");
    Ok(client.update(sql.as_str(), Some(1), &[room_id.into()])?.first().get_one::<bool>()?.unwrap_or(false))
}
