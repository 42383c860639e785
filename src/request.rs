//! The arguments of a compression call, checked before anything is read.

use compress_core::Levels;
use pgrx::array::RawArray;
use pgrx::Array;

use crate::errors::{show_room, Error, Result};

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

pub struct Request {
    pub room_id: String,
    pub levels: Levels,
    pub min_state_group: Option<i64>,
    pub max_state_group: Option<i64>,
    pub groups_to_compress: Option<i32>,
    pub min_saved_rows: i64,
    pub dry_run: bool,
}

impl Request {
    pub fn new(
        room_id: Option<&str>,
        levels: Option<Vec<Option<i32>>>,
        min_state_group: Option<i64>,
        max_state_group: Option<i64>,
        groups_to_compress: Option<i32>,
        min_saved_rows: Option<i64>,
        dry_run: Option<bool>,
    ) -> Result<Self> {
        let room_id = room_id_arg(room_id)?;
        let levels = levels_from(levels)?;
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
            min_state_group,
            max_state_group,
            groups_to_compress,
            min_saved_rows,
            dry_run: dry_run.ok_or(Error::NullArgument("dry_run"))?,
        })
    }
}
