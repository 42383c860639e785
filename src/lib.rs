//! synapse_compress: compresses Synapse's state tables inside PostgreSQL.
//!
//! The algorithm lives in the `compress_core` crate; this crate is the thin PostgreSQL layer:
//! SQL functions ([`api`]), SPI reading ([`load`]) and writing ([`rewrite`], [`retry`], [`script`]),
//! settings ([`settings`]), errors ([`errors`]) and logging ([`logging`]).

use pgrx::prelude::*;

mod api;
mod chunk;
mod compression;
mod errors;
mod history;
mod load;
mod logging;
mod progress;
mod request;
mod retry;
mod rewrite;
mod roomlock;
mod runs;
mod script;
mod settings;
mod tables;
mod worker;

::pgrx::pg_module_magic!(name, version);

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    settings::register();
    logging::install();
    // SAFETY: reading a flag PostgreSQL sets while it loads shared_preload_libraries.
    if unsafe { pgrx::pg_sys::process_shared_preload_libraries_in_progress } {
        worker::register_launcher();
    }
}

extension_sql_file!("../sql/bootstrap.sql", name = "bootstrap", bootstrap);

/// The schema of every SQL object (created by `sql/bootstrap.sql`).
#[pg_schema]
mod synapse_compress {}
extension_sql_file!("../sql/runs.sql", name = "runs", requires = ["bootstrap"]);
extension_sql_file!("../sql/finalize.sql", name = "finalize", finalize);

#[cfg(any(test, feature = "pg_test"))]
mod pg_tests;

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
