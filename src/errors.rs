//! Every error the extension raises, each with its SQLSTATE, a plain-words message and, where a
//! DBA can act on it, a HINT. Errors raised by PostgreSQL inside a call (a lock timeout, a
//! cancel, a missing privilege, a trigger) are caught only to leave the extension's own
//! subtransaction cleanly and are raised again with their own SQLSTATE, message, detail and
//! hint, without a Rust backtrace. Raised errors abort the calling transaction (or the caller's
//! subtransaction), so nothing the call wrote survives.

use std::panic::AssertUnwindSafe;

use compress_core::{ConfigError, InputError, VerifyError};
use pgrx::pg_sys::panic::{CaughtError, ErrorReport};
use pgrx::prelude::*;
use pgrx::PgSqlErrorCode;

pub enum Error {
    /// A required argument is NULL (22004).
    NullArgument(&'static str),
    /// An argument is out of range (22023).
    Argument(String),
    /// A setting is wrong (22023 or 3F000), with a hint.
    Setting { code: PgSqlErrorCode, message: String, hint: String },
    /// The room has no state groups at all (P0002).
    NoSuchRoom(String),
    /// Synapse is still migrating these tables (55000).
    NotReady(String),
    /// The calling role lacks privileges on Synapse's tables (42501).
    Privileges(String),
    /// The room's data breaks Synapse's rules (XX001).
    Corrupt { room: String, detail: String },
    /// The new tree does not reproduce a state: a bug, nothing is written (XX000).
    Verification { room: String, error: VerifyError },
    /// The rows changed under us in a way the locks should have prevented (40001).
    Concurrent(String),
    /// An error PostgreSQL raised inside the call, raised again unchanged but for the backtrace.
    Postgres { code: PgSqlErrorCode, message: String, detail: Option<String>, hint: Option<String> },
    /// A bug: a Rust panic or an SPI failure (XX000).
    Internal(String),
}

impl From<pgrx::spi::Error> for Error {
    fn from(e: pgrx::spi::Error) -> Self {
        Error::Internal(format!("SPI error: {e}"))
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        match e {
            // the fork-aware method's settings: their messages name them
            ConfigError::MaxChainNotPositive { .. } | ConfigError::WindowOutOfRange { .. } => {
                Error::Argument(e.to_string())
            }
            _ => Error::Argument(format!("invalid levels: {e}")),
        }
    }
}

/// A room id as it appears in messages: room ids come from remote servers and may be long or
/// hold control characters, so long ones are cut and control characters escaped.
pub fn show_room(room: &str) -> String {
    const MAX_CHARS: usize = 200;
    let mut shown: String = room.chars().take(MAX_CHARS).flat_map(char::escape_debug).collect();
    if room.chars().nth(MAX_CHARS).is_some() {
        shown.push_str(&format!("… ({} bytes)", room.len()));
    }
    shown
}

impl Error {
    pub fn corrupt(room: &str, error: InputError) -> Error {
        Error::Corrupt { room: room.to_owned(), detail: error.to_string() }
    }

    /// A `NOT NULL` column that held NULL: only possible in tables that are not Synapse's.
    pub fn null_column(table: &str, column: &str) -> Error {
        Error::Setting {
            code: PgSqlErrorCode::ERRCODE_DATA_CORRUPTED,
            message: format!("{table}.{column} holds NULL, which Synapse's schema forbids"),
            hint: "Check that synapse_compress.synapse_schema names the schema of Synapse's own tables."
                .into(),
        }
    }

    /// Whether running the step again may succeed: it lost a race with a concurrent writer.
    pub fn is_retryable(&self) -> bool {
        use PgSqlErrorCode::*;
        match self {
            Error::Concurrent(_) => true,
            Error::Postgres { code, .. } => matches!(
                code,
                ERRCODE_T_R_SERIALIZATION_FAILURE | ERRCODE_T_R_DEADLOCK_DETECTED | ERRCODE_UNIQUE_VIOLATION
            ),
            _ => false,
        }
    }

    /// The error PostgreSQL or Rust raised inside a call, as an [`Error`].
    pub fn from_caught(caught: CaughtError) -> Error {
        match caught {
            CaughtError::PostgresError(report) | CaughtError::ErrorReport(report) => Error::Postgres {
                code: report.sql_error_code(),
                message: report.message().to_owned(),
                detail: report.detail().map(str::to_owned),
                hint: report.hint().map(str::to_owned),
            },
            CaughtError::RustPanic { ereport, .. } => Error::Internal(ereport.message().to_owned()),
        }
    }

    /// The SQLSTATE the error is raised with.
    fn code(&self) -> PgSqlErrorCode {
        use PgSqlErrorCode::*;
        match self {
            Error::NullArgument(_) => ERRCODE_NULL_VALUE_NOT_ALLOWED,
            Error::Argument(_) => ERRCODE_INVALID_PARAMETER_VALUE,
            Error::Setting { code, .. } | Error::Postgres { code, .. } => *code,
            Error::NoSuchRoom(_) => ERRCODE_NO_DATA_FOUND,
            Error::NotReady(_) => ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            Error::Privileges(_) => ERRCODE_INSUFFICIENT_PRIVILEGE,
            Error::Corrupt { .. } => ERRCODE_DATA_CORRUPTED,
            Error::Verification { .. } | Error::Internal(_) => ERRCODE_INTERNAL_ERROR,
            Error::Concurrent(_) => ERRCODE_T_R_SERIALIZATION_FAILURE,
        }
    }

    fn report(self) -> ErrorReport {
        use PgSqlErrorCode::*;
        const F: &str = "synapse_compress";
        let code = self.code();
        let ours = |message: String| ErrorReport::new(code, format!("synapse_compress: {message}"), F);
        match self {
            Error::NullArgument(name) => ours(format!("{name} must not be NULL")),
            Error::Argument(m) => ours(m),
            Error::Setting { message, hint, .. } => ours(message).set_hint(hint),
            Error::NoSuchRoom(room) => ours(format!("room {} has no state groups", show_room(&room))),
            Error::NotReady(m) => {
                ours(m).set_hint("Let Synapse run until its background updates are done, then try again.")
            }
            Error::Privileges(m) => ours(m).set_hint(
                "Run it as the owner of Synapse's tables, or grant the privileges the README lists.",
            ),
            Error::Corrupt { room, detail } => ours(format!("room {}: {detail}", show_room(&room))).set_hint(
                "Nothing was changed. Synapse's rules for state groups are broken here; repair the rows by hand or leave the room uncompressed.",
            ),
            Error::Verification { room, error } => {
                ours(format!("room {}: {error}; nothing was written", show_room(&room)))
            }
            Error::Concurrent(m) => {
                ours(m).set_hint("Synapse or another compression changed the room meanwhile; run it again.")
            }
            Error::Postgres { code, message, detail, hint } => {
                let mut report = ErrorReport::new(code, message, F);
                if let Some(d) = detail {
                    report = report.set_detail(d);
                }
                let hint = hint.or_else(|| match code {
                    ERRCODE_LOCK_NOT_AVAILABLE => Some(
                        "Synapse (or another compression) held a lock on the room's state groups; nothing was changed, run it again later.".into(),
                    ),
                    ERRCODE_T_R_SERIALIZATION_FAILURE | ERRCODE_T_R_DEADLOCK_DETECTED | ERRCODE_UNIQUE_VIOLATION => {
                        Some("The room changed concurrently; nothing was changed, run it again.".into())
                    }
                    _ => None,
                });
                match hint {
                    Some(h) => report.set_hint(h),
                    None => report,
                }
            }
            Error::Internal(m) => ours(format!("internal error: {m}")),
        }
    }

    /// The SQLSTATE (five characters) and message this error is raised with.
    pub fn sqlstate_and_message(self) -> (String, String) {
        let code = self.code() as i32;
        let report = self.report();
        let sqlstate = (0..5).map(|i| (((code >> (6 * i)) & 0x3F) as u8 + b'0') as char).collect();
        (sqlstate, report.message().to_owned())
    }

    pub fn raise(self) -> ! {
        self.report().report(PgLogLevel::ERROR);
        unreachable!("an ERROR does not return")
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// Runs `body` and turns whatever it raises (PostgreSQL errors, Rust panics) into an
/// [`Error`], so that every error leaves a call the same clean way.
pub fn catching<T>(body: impl FnOnce() -> Result<T>) -> Result<T> {
    PgTryBuilder::new(AssertUnwindSafe(body)).catch_others(|caught| Err(Error::from_caught(caught))).execute()
}

/// The body of a SQL function: its result, or its error raised as a PostgreSQL ERROR.
pub fn run_or_raise<T>(body: impl FnOnce() -> Result<T>) -> T {
    catching(body).unwrap_or_else(|e| e.raise())
}
