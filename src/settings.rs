//! The `synapse_compress.*` settings (GUCs).

use std::ffi::CString;

use compress_core::ReadBudget;
use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting, PostgresGucEnum};

use crate::errors::{Error, Result};

/// Schema holding Synapse's tables.
pub static SYNAPSE_SCHEMA: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(Some(c"public"));

/// Whether the background worker compresses the database by itself.
pub static WORKER_ENABLED: GucSetting<bool> = GucSetting::<bool>::new(false);
/// The database the worker compresses.
pub static DATABASE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(Some(c"synapse"));
/// The role the worker runs as (never a superuser).
pub static WORKER_ROLE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
/// Seconds between two worker runs.
pub static NAPTIME: GucSetting<i32> = GucSetting::<i32>::new(3600);
/// Chunks one worker run compresses at most.
pub static WORKER_CHUNKS: GucSetting<i32> = GucSetting::<i32>::new(100);
/// Groups per chunk of a worker run.
pub static WORKER_CHUNK_SIZE: GucSetting<i32> = GucSetting::<i32>::new(500);
/// Seconds after which a worker run starts no new chunk.
pub static WORKER_MAX_RUNTIME: GucSetting<i32> = GucSetting::<i32>::new(600);

pub fn worker_enabled() -> bool {
    WORKER_ENABLED.get()
}

fn string_setting(setting: &GucSetting<Option<CString>>) -> Option<String> {
    setting.get().map(|s| s.to_string_lossy().into_owned()).filter(|s| !s.is_empty())
}

pub fn database() -> String {
    string_setting(&DATABASE).unwrap_or_else(|| "synapse".into())
}

pub fn worker_role() -> Option<String> {
    string_setting(&WORKER_ROLE)
}

pub fn naptime() -> i32 {
    NAPTIME.get()
}

pub fn worker_chunks() -> i32 {
    WORKER_CHUNKS.get()
}

pub fn worker_chunk_size() -> i32 {
    WORKER_CHUNK_SIZE.get()
}

pub fn worker_max_runtime() -> i32 {
    WORKER_MAX_RUNTIME.get()
}

/// Days a run's history is kept.
pub static HISTORY_DAYS: GucSetting<i32> = GucSetting::<i32>::new(30);

pub fn history_days() -> i32 {
    HISTORY_DAYS.get()
}

fn register_worker_settings() {
    GucRegistry::define_bool_guc(
        c"synapse_compress.worker_enabled",
        c"Whether the background worker compresses the database by itself.",
        c"Needs synapse_compress in shared_preload_libraries.",
        &WORKER_ENABLED,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"synapse_compress.database",
        c"The database the background worker compresses.",
        c"Synapse's database, where the extension is installed.",
        &DATABASE,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"synapse_compress.worker_role",
        c"The role the background worker runs as.",
        c"The owner of Synapse's tables; a superuser is refused.",
        &WORKER_ROLE,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"synapse_compress.naptime",
        c"Seconds between two runs of the background worker.",
        c"Each run compresses up to worker_chunks chunks, then the worker exits until the next run.",
        &NAPTIME,
        1,
        7 * 24 * 3600,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"synapse_compress.worker_chunks",
        c"Chunks one run of the background worker compresses at most.",
        c"Each chunk is its own transaction.",
        &WORKER_CHUNKS,
        1,
        i32::MAX,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"synapse_compress.worker_chunk_size",
        c"State groups per chunk of the background worker.",
        c"Memory and the time a chunk holds its locks grow with it.",
        &WORKER_CHUNK_SIZE,
        1,
        1_000_000,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"synapse_compress.worker_max_runtime",
        c"Seconds after which a run of the background worker starts no new chunk.",
        c"A chunk under way is finished.",
        &WORKER_MAX_RUNTIME,
        1,
        i32::MAX,
        GucContext::Sighup,
        GucFlags::default(),
    );
}

/// `synapse_compress.read_budget`: how many rows Synapse's reads may fetch after a rewrite by
/// the fork-aware method.
#[derive(PostgresGucEnum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum ReadBudgetSetting {
    #[name = c"off"]
    Off,
    #[name = c"median"]
    Median,
    #[name = c"strict"]
    Strict,
}

pub static READ_BUDGET: GucSetting<ReadBudgetSetting> =
    GucSetting::<ReadBudgetSetting>::new(ReadBudgetSetting::Off);

pub fn read_budget() -> ReadBudget {
    match READ_BUDGET.get() {
        ReadBudgetSetting::Off => ReadBudget::Off,
        ReadBudgetSetting::Median => ReadBudget::Median,
        ReadBudgetSetting::Strict => ReadBudget::Strict,
    }
}

pub fn register() {
    register_worker_settings();
    GucRegistry::define_enum_guc(
        c"synapse_compress.read_budget",
        c"How many rows Synapse's reads of a group may fetch after the fork-aware method rewrites it.",
        c"off: only max_chain bounds reads; median: no read fetches more rows than now or than the median read of the groups compressed now, so the median, higher percentiles and maximum do not grow; strict: no read fetches more rows than now. Fewer rows are saved on rooms whose members change.",
        &READ_BUDGET,
        GucContext::Userset,
        GucFlags::default(),
    );
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
