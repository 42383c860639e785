//! The `synapse_compress.*` settings (GUCs).

use std::ffi::CString;

use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};

use crate::errors::{Error, Result};

/// Schema holding Synapse's tables.
pub static SYNAPSE_SCHEMA: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(Some(c"public"));

/// Days a run's history is kept.
pub static HISTORY_DAYS: GucSetting<i32> = GucSetting::<i32>::new(30);

pub fn history_days() -> i32 {
    HISTORY_DAYS.get()
}

pub fn register() {
    GucRegistry::define_int_guc(
        c"synapse_compress.history_days",
        c"Days the history of runs and chunks is kept.",
        c"Rows of synapse_compress.runs and synapse_compress.chunks older than this are deleted when a run starts.",
        &HISTORY_DAYS,
        1,
        36500,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"synapse_compress.synapse_schema",
        c"Schema that holds Synapse's state tables.",
        c"Every statement synapse_compress runs is qualified with this schema.",
        &SYNAPSE_SCHEMA,
        GucContext::Suset,
        GucFlags::default(),
    );
}

/// The name of the schema holding Synapse's tables, as set (not quoted); refused when empty.
pub fn synapse_schema_name() -> Result<String> {
    let name = SYNAPSE_SCHEMA.get().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    if name.is_empty() {
        return Err(Error::Setting {
            code: pgrx::PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            message: "synapse_compress.synapse_schema is empty".into(),
            hint: "Set it to the schema of Synapse's tables, e.g. ALTER DATABASE synapse SET synapse_compress.synapse_schema = 'public'.".into(),
        });
    }
    Ok(name)
}
