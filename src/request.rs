//! The arguments of a compression call, checked before anything is read: the room, the range,
//! and the method with its settings ([`Method`]).

use compress_core::fork_aware::{DEFAULT_MAX_CHAIN, DEFAULT_WINDOW};
use compress_core::{ForkAwareOptions, Levels};
use pgrx::array::RawArray;
use pgrx::Array;

use crate::errors::{show_room, Error, Result};
use crate::settings;

/// The largest room id accepted: Matrix limits room ids to 255 bytes; this leaves room for
/// unusual servers while refusing the absurd.
const MAX_ROOM_ID_BYTES: usize = 4096;

/// The `levels` argument as a list of sizes, refusing arrays of more than one dimension.
pub fn levels_arg(levels: Option<Array<'_, i32>>) -> Result<Option<Vec<Option<i32>>>> {
    let Some(array) = levels else { return Ok(None) };
    let sizes: Vec<Option<i32>> = array.iter().collect();
    // SAFETY: the array came from PostgreSQL as an argument datum.
    let dims = unsafe { RawArray::from_array(array) }.map_or(0, |raw| raw.dims().len());
    if dims > 1 {
        return Err(Error::Argument(format!(
            "levels must be a one-dimensional array of sizes, like '{{100,50,25}}', not a {dims}-dimensional one"
        )));
    }
    Ok(Some(sizes))
}

/// The `room_id` argument, checked.
pub fn room_id_arg(room_id: Option<&str>) -> Result<String> {
    let room_id = room_id.ok_or(Error::NullArgument("room_id"))?;
    if room_id.len() > MAX_ROOM_ID_BYTES {
        return Err(Error::Argument(format!(
            "room_id is {} bytes long; no room id is longer than {MAX_ROOM_ID_BYTES} ({})",
            room_id.len(),
            show_room(room_id)
        )));
    }
    Ok(room_id.to_owned())
}

/// Empty levels of the sizes of the `levels` argument, checked.
pub fn levels_from(levels: Option<Vec<Option<i32>>>) -> Result<Levels> {
    let levels = levels.ok_or(Error::NullArgument("levels"))?;
    let sizes = levels
        .iter()
        .map(|l| l.map(i64::from).ok_or(Error::Argument("levels must not contain NULL".into())))
        .collect::<Result<Vec<i64>>>()?;
    Ok(Levels::new(&sizes)?)
}

/// The default of every `levels` argument: the existing tool's levels.
pub const DEFAULT_LEVELS: [i64; 3] = [100, 50, 25];

/// How a call compresses: the `method` argument with its settings.
///
/// Each method refuses the other's setting rather than ignoring it: `'levels'` builds the
/// existing tool's tree whatever its chain length, so it takes no `max_chain`; `'fork_aware'`
/// bounds chains with `max_chain` and takes no levels (the `levels` argument must keep its
/// default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// The existing tool's level algorithm with the `levels` argument.
    Levels,
    /// The fork-aware method under a chain cap.
    ForkAware(ForkAwareOptions),
}

impl Method {
    /// The method's name, as the `method` argument spells it.
    pub fn name(&self) -> &'static str {
        match self {
            Method::Levels => "levels",
            Method::ForkAware(_) => "fork_aware",
        }
    }

    /// The chain cap the method applies (`None` for the level method).
    pub fn max_chain(&self) -> Option<u32> {
        match self {
            Method::Levels => None,
            Method::ForkAware(options) => Some(options.max_chain),
        }
    }
}

/// The `method` and `max_chain` arguments, checked against each other and against the level
/// sizes of the `levels` argument (already checked).
pub fn method_arg(method: Option<&str>, max_chain: Option<i32>, sizes: &[i64]) -> Result<Method> {
    let method = method.ok_or(Error::NullArgument("method"))?;
    match method {
        "levels" => {
            if let Some(max_chain) = max_chain {
                return Err(Error::Argument(format!(
                    "max_chain ({max_chain}) applies only to method 'fork_aware': method 'levels' builds the \
                     existing tool's tree whatever its chain length (the sum of the levels bounds it); \
                     leave max_chain NULL"
                )));
            }
            Ok(Method::Levels)
        }
        "fork_aware" => {
            if sizes != DEFAULT_LEVELS {
                return Err(Error::Argument(format!(
                    "levels {sizes:?} apply only to method 'levels': method 'fork_aware' bounds chains \
                     with max_chain instead; leave levels at its default '{{100,50,25}}' or pass \
                     method => 'levels'"
                )));
            }
            let max_chain = max_chain.map_or(i64::from(DEFAULT_MAX_CHAIN), i64::from);
            let options = ForkAwareOptions::new(max_chain, i64::from(DEFAULT_WINDOW))?;
            Ok(Method::ForkAware(options.with_read_budget(settings::read_budget())))
        }
        other => {
            let shown: String = other.chars().take(64).flat_map(char::escape_debug).collect();
            let cut = if other.chars().nth(64).is_some() { "…" } else { "" };
            Err(Error::Argument(format!("method must be 'fork_aware' or 'levels', not '{shown}{cut}'")))
        }
    }
}

pub struct Request {
    pub room_id: String,
    pub levels: Levels,
    pub method: Method,
    pub min_state_group: Option<i64>,
    pub max_state_group: Option<i64>,
    pub groups_to_compress: Option<i32>,
    pub min_saved_rows: i64,
    pub dry_run: bool,
}

impl Request {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        room_id: Option<&str>,
        levels: Option<Vec<Option<i32>>>,
        min_state_group: Option<i64>,
        max_state_group: Option<i64>,
        groups_to_compress: Option<i32>,
        min_saved_rows: Option<i64>,
        dry_run: Option<bool>,
        method: Option<&str>,
        max_chain: Option<i32>,
    ) -> Result<Self> {
        let room_id = room_id_arg(room_id)?;
        let levels = levels_from(levels)?;
        let sizes: Vec<i64> = levels.levels().iter().map(|l| i64::from(l.max)).collect();
        let method = method_arg(method, max_chain, &sizes)?;
        if let (Some(min), Some(max)) = (min_state_group, max_state_group) {
            if min >= max {
                return Err(Error::Argument(format!(
                    "min_state_group ({min}) must be lower than max_state_group ({max})"
                )));
            }
        }
        if let Some(n) = groups_to_compress {
            if n <= 0 {
                return Err(Error::Argument(format!("groups_to_compress must be positive, not {n}")));
            }
        }
        let min_saved_rows = min_saved_rows.ok_or(Error::NullArgument("min_saved_rows"))?;
        if min_saved_rows < 0 {
            return Err(Error::Argument(format!(
                "min_saved_rows must not be negative, not {min_saved_rows}"
            )));
        }
        Ok(Request {
            room_id,
            levels,
            method,
            min_state_group,
            max_state_group,
            groups_to_compress,
            min_saved_rows,
            dry_run: dry_run.ok_or(Error::NullArgument("dry_run"))?,
        })
    }
}
