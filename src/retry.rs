//! Retrying a step that can lose a race with Synapse: the step runs in a subtransaction (as a
//! PL/pgSQL exception block does), and a serialization failure (40001) or deadlock (40P01)
//! rolls back only that subtransaction, releasing its locks, before the step runs again.

use std::panic::AssertUnwindSafe;

use pgrx::pg_sys;
use pgrx::pg_sys::panic::CaughtError;
use pgrx::prelude::*;
use pgrx::PgSqlErrorCode;

use crate::errors::{Error, Result};

/// How often a step is tried.
pub const ATTEMPTS: u32 = 3;

enum Attempt<T> {
    Done(Result<T>),
    Retry(String),
}

/// Runs `step` in a subtransaction, up to [`ATTEMPTS`] times while it fails with 40001 or 40P01
/// (raised by PostgreSQL, or [`Error::Concurrent`] returned by the step).
pub fn with_retries<T>(what: &str, mut step: impl FnMut() -> Result<T>) -> Result<T> {
    for attempt in 1..=ATTEMPTS {
        let last = attempt == ATTEMPTS;
        // SAFETY: the same sequence PL/pgSQL uses around an exception block: begin an internal
        // subtransaction, and on the way out release it or roll it back, restoring the memory
        // context and resource owner of the caller.
        let outcome = unsafe {
            let context = pg_sys::CurrentMemoryContext;
            let owner = pg_sys::CurrentResourceOwner;
            pg_sys::BeginInternalSubTransaction(std::ptr::null());
            pg_sys::MemoryContextSwitchTo(context);
            let retryable = move |e: CaughtError| -> Attempt<T> {
                if last {
                    e.rethrow()
                }
                match &e {
                    CaughtError::PostgresError(report) | CaughtError::ErrorReport(report) => {
                        Attempt::Retry(report.message().to_owned())
                    }
                    CaughtError::RustPanic { .. } => e.rethrow(),
                }
            };
            let outcome = PgTryBuilder::new(AssertUnwindSafe(|| match step() {
                Err(Error::Concurrent(m)) if !last => Attempt::Retry(m),
                other => Attempt::Done(other),
            }))
            .catch_when(PgSqlErrorCode::ERRCODE_T_R_SERIALIZATION_FAILURE, retryable)
            .catch_when(PgSqlErrorCode::ERRCODE_T_R_DEADLOCK_DETECTED, retryable)
            .execute();
            match &outcome {
                Attempt::Done(Ok(_)) => pg_sys::ReleaseCurrentSubTransaction(),
                _ => pg_sys::RollbackAndReleaseCurrentSubTransaction(),
            }
            pg_sys::MemoryContextSwitchTo(context);
            pg_sys::CurrentResourceOwner = owner;
            outcome
        };
        match outcome {
            Attempt::Done(result) => return result,
            Attempt::Retry(why) => {
                notice!("synapse_compress: {what}: {why}; retrying ({attempt} of {ATTEMPTS} attempts used)");
            }
        }
    }
    unreachable!("the last attempt returns or rethrows")
}
