//! The errors of the core: bad arguments, corrupt input data, and a failed verification.
//! Every message names the offending state group.

use std::fmt;

/// Invalid compression settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    NoLevels,
    LevelNotPositive {
        index: usize,
        size: i64,
    },
    TooManyLevels {
        count: usize,
    },
    TotalTooLarge {
        total: i64,
    },
    /// Saved levels ([`crate::Levels::restore`]) do not have one entry per level.
    SavedLevelCount {
        saved: usize,
        levels: usize,
    },
    /// A saved level is longer than its size.
    SavedLevelTooLong {
        index: usize,
        len: u32,
        max: u32,
    },
    /// A saved level has a head but no length, or a length but no head.
    SavedLevelHead {
        index: usize,
        len: u32,
    },
    /// The fork-aware method's `max_chain` is below 1 (or beyond any real chain).
    MaxChainNotPositive {
        max_chain: i64,
    },
    /// The fork-aware method's window is outside `1..=MAX_WINDOW`.
    WindowOutOfRange {
        window: i64,
    },
}

/// The most levels accepted.
pub const MAX_LEVELS: usize = 16;
/// The largest accepted sum of level sizes: the longest delta chain the tree may build.
pub const MAX_LEVEL_TOTAL: i64 = 1000;

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::NoLevels => write!(f, "levels must not be empty"),
            ConfigError::LevelNotPositive { index, size } => {
                write!(f, "level {} has size {size}; every level must be at least 1", index + 1)
            }
            ConfigError::TooManyLevels { count } => {
                write!(f, "{count} levels given; at most {MAX_LEVELS} are allowed")
            }
            ConfigError::TotalTooLarge { total } => write!(
                f,
                "the levels add up to {total}; at most {MAX_LEVEL_TOTAL} is allowed (the sum bounds the length of delta chains Synapse must read)"
            ),
            ConfigError::SavedLevelCount { saved, levels } => {
                write!(f, "{saved} saved levels for {levels} levels")
            }
            ConfigError::SavedLevelTooLong { index, len, max } => write!(
                f,
                "saved level {} has length {len}, longer than its size {max}",
                index + 1
            ),
            ConfigError::SavedLevelHead { index, len: 0 } => {
                write!(f, "saved level {} has a head but length 0", index + 1)
            }
            ConfigError::SavedLevelHead { index, len } => {
                write!(f, "saved level {} has length {len} but no head", index + 1)
            }
            ConfigError::MaxChainNotPositive { max_chain } => write!(
                f,
                "max_chain is {max_chain}; it must be at least 1 (Synapse's own bound is 100)"
            ),
            ConfigError::WindowOutOfRange { window } => write!(
                f,
                "the window is {window}; it must be between 1 and {}",
                crate::fork_aware::MAX_WINDOW
            ),
        }
    }
}

/// Data in Synapse's tables that breaks the rules every state group must follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputError {
    /// A group has more than one row in `state_group_edges`.
    TwoEdges { group: i64, prevs: (i64, i64) },
    /// An edge points at a group that does not exist in `state_groups`.
    MissingPredecessor { group: i64, prev: i64 },
    /// An edge points at a group of another room.
    ForeignPredecessor { group: i64, prev: i64, prev_room: String },
    /// Following edges from this group comes back to it.
    Cycle { group: i64 },
    /// An edge whose predecessor id is not lower than the group's.
    PrevNotOlder { group: i64, prev: i64 },
    /// Two rows of one group for the same `(type, state_key)` with different event ids.
    DuplicateKey { group: i64, event_type: String, state_key: String },
    /// Rows arrived for a group that was not loaded, or out of order (a loader bug).
    UnexpectedRow { group: i64 },
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::TwoEdges { group, prevs } => write!(
                f,
                "state group {group} has two edges (to {} and {})",
                prevs.0, prevs.1
            ),
            InputError::MissingPredecessor { group, prev } => {
                write!(f, "state group {group} has an edge to state group {prev}, which does not exist")
            }
            InputError::ForeignPredecessor { group, prev, prev_room } => write!(
                f,
                "state group {group} has an edge to state group {prev} of another room ({prev_room})"
            ),
            InputError::Cycle { group } => {
                write!(f, "the edges of state group {group} form a cycle")
            }
            InputError::PrevNotOlder { group, prev } => write!(
                f,
                "state group {group} has an edge to state group {prev}, whose id is not lower"
            ),
            InputError::DuplicateKey { group, event_type, state_key } => write!(
                f,
                "state group {group} has two rows for ({event_type:?}, {state_key:?}) with different event ids"
            ),
            InputError::UnexpectedRow { group } => {
                write!(f, "rows for state group {group} arrived out of order or unannounced")
            }
        }
    }
}

/// The compressed tree does not give some group exactly its original state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyError {
    pub group: i64,
    pub detail: String,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "verification failed for state group {}: {}", self.group, self.detail)
    }
}

impl std::error::Error for ConfigError {}
impl std::error::Error for InputError {}
impl std::error::Error for VerifyError {}
