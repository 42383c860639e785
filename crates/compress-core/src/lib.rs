//! The pure compression algorithm for Synapse state groups, with no PostgreSQL dependency.
//!
//! A room's state groups are loaded into a [`room::Room`] (an in-memory forest of deltas over
//! interned strings) and compressed by one of two methods, both returning a [`Plan`] (the new
//! tree, the groups to rewrite, [`Stats`]):
//! * the level method of the existing external tool ([`compress::compress`]), identical trees,
//!   resumable from saved levels ([`Levels::restore`]) for chunked runs;
//! * the fork-aware method ([`fork_aware::compress_fork_aware`]): the cheapest base per group
//!   along the room's forks, under a cap on chain length, never more rows than now.
//!
//! Plans are verified exactly against the original states ([`verify::verify`], with a chain cap
//! [`verify::verify_with_cap`], and a read budget [`verify::verify_with_limits`]; what Synapse's
//! reads fetch is in [`reads`]). States are never resolved from scratch: [`cursor::StateCursor`]
//! walks a forest applying and undoing deltas, two cursors compare states incrementally
//! ([`cursor::StatePair`], [`meter::DeltaMeter`]). [`plan`] holds what both methods share.

pub mod compress;
pub mod cursor;
pub mod error;
pub mod forest;
pub mod fork_aware;
pub mod intern;
pub mod levels;
pub mod meter;
pub mod plan;
pub mod reads;
pub mod room;
pub mod verify;

pub use compress::compress;
pub use error::{ConfigError, InputError, VerifyError};
pub use forest::{Forest, Node};
pub use fork_aware::{compress_fork_aware, ForkAwareOptions};
pub use intern::{KeyId, StringTable, ValueId, ABSENT};
pub use levels::Levels;
pub use plan::{real_prev, Plan, ReadRows, Stats};
pub use reads::ReadBudget;
pub use room::{GroupGraph, Room, RoomBuilder};
pub use verify::{verify, verify_with_cap, verify_with_limits};

/// Something that is called regularly from every long loop, so that the caller can abort
/// (PostgreSQL's interrupt check raises an error that unwinds through the core).
pub trait Interrupts {
    fn check(&mut self);
}

impl<F: FnMut()> Interrupts for F {
    fn check(&mut self) {
        self()
    }
}

/// How many loop iterations pass between two interrupt checks.
pub(crate) const CHECK_EVERY: usize = 256;
