//! Running a step in its own subtransaction, and retrying a step that can lose a race with
//! Synapse. Whatever way the step ends (success, an error it returns, an error PostgreSQL raises
//! in it, a Rust panic), the subtransaction is released or rolled back and the caller's memory
//! context and resource owner are restored before anything else happens, exactly as PL/pgSQL
//! does around an exception block: the caller's transaction is then as it was before the step,
//! at the same nesting level, so a caller's `BEGIN ... EXCEPTION` block sees a plain error.

use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::errors::{catching, Error, Result};

/// How often a step is tried.
pub const ATTEMPTS: u32 = 3;

/// Runs `step` in an internal subtransaction: kept when it succeeds, rolled back (with every lock
/// it took) when it fails in any way.
pub fn in_subtransaction<T>(step: impl FnOnce() -> Result<T>) -> Result<T> {
    // SAFETY: the sequence PL/pgSQL uses around an exception block. `catching` returns on every
    // exit of `step`, so the subtransaction begun here is always ended here, and the memory
    // context and resource owner of the caller are restored after it.
    unsafe {
        let context = pg_sys::CurrentMemoryContext;
        let owner = pg_sys::CurrentResourceOwner;
        pg_sys::BeginInternalSubTransaction(std::ptr::null());
        pg_sys::MemoryContextSwitchTo(context);
        let result = catching(step);
        match result {
            Ok(_) => pg_sys::ReleaseCurrentSubTransaction(),
            Err(_) => pg_sys::RollbackAndReleaseCurrentSubTransaction(),
        }
        pg_sys::MemoryContextSwitchTo(context);
        pg_sys::CurrentResourceOwner = owner;
        result
    }
}

/// Runs `step` in a subtransaction, up to [`ATTEMPTS`] times while it fails because it lost a
/// race (40001, 40P01, 23505, or [`Error::Concurrent`]).
pub fn with_retries<T>(what: &str, mut step: impl FnMut() -> Result<T>) -> Result<T> {
    let mut attempt = 1;
    loop {
        match in_subtransaction(&mut step) {
            Err(e) if attempt < ATTEMPTS && e.is_retryable() => {
                let why = match &e {
                    Error::Postgres { message, .. } | Error::Concurrent(message) => message.as_str(),
                    _ => "a concurrent change",
                };
                notice!("synapse_compress: {what}: {why}; retrying ({attempt} of {ATTEMPTS} attempts used)");
                attempt += 1;
            }
            result => return result,
        }
    }
}
