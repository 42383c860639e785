//! Every error the extension raises, each with its SQLSTATE. Raised errors abort the calling
//! transaction, so nothing the call wrote survives.

use compress_core::{ConfigError, InputError, VerifyError};
use pgrx::prelude::*;
use pgrx::PgSqlErrorCode;

pub enum Error {
    /// A required argument is NULL (22004).
    NullArgument(&'static str),
    /// An argument is out of range (22023).
    Argument(String),
    /// The room has no state groups at all (P0002).
    NoSuchRoom(String),
    /// Synapse is still migrating these tables (55000).
    NotReady(String),
    /// The room's data breaks Synapse's rules (XX001).
    Corrupt { room: String, error: InputError },
    /// The new tree does not reproduce a state: a bug, nothing is written (XX000).
    Verification { room: String, error: VerifyError },
    /// The rows changed under us in a way the locks should have prevented (40001).
    Concurrent(String),
    /// An SPI failure (XX000).
    Spi(pgrx::spi::Error),
}

impl From<pgrx::spi::Error> for Error {
    fn from(e: pgrx::spi::Error) -> Self {
        Error::Spi(e)
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Error::Argument(format!("invalid levels: {e}"))
    }
}

impl Error {
    pub fn raise(self) -> ! {
        use PgSqlErrorCode::*;
        let (code, message) = match self {
            Error::NullArgument(name) => (ERRCODE_NULL_VALUE_NOT_ALLOWED, format!("{name} must not be NULL")),
            Error::Argument(m) => (ERRCODE_INVALID_PARAMETER_VALUE, m),
            Error::NoSuchRoom(room) => (ERRCODE_NO_DATA_FOUND, format!("room {room} has no state groups")),
            Error::NotReady(m) => (ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, m),
            Error::Corrupt { room, error } => (ERRCODE_DATA_CORRUPTED, format!("room {room}: {error}")),
            Error::Verification { room, error } => {
                (ERRCODE_INTERNAL_ERROR, format!("room {room}: {error}; nothing was written"))
            }
            Error::Concurrent(m) => (ERRCODE_T_R_SERIALIZATION_FAILURE, m),
            Error::Spi(e) => (ERRCODE_INTERNAL_ERROR, format!("SPI error: {e}")),
        };
        ereport!(ERROR, code, format!("synapse_compress: {message}"));
    }
}

pub type Result<T> = std::result::Result<T, Error>;
