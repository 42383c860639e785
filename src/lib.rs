//! synapse_compress: compresses Synapse's state tables inside PostgreSQL.
//!
//! The algorithm lives in the `compress_core` crate; this crate is the thin PostgreSQL layer:
//! SQL functions ([`api`]), SPI reading ([`load`]) and writing ([`rewrite`], [`retry`], [`script`]),
//! settings ([`settings`]), errors ([`errors`]) and logging ([`logging`]).

use pgrx::prelude::*;

mod api;
mod errors;
mod load;
mod logging;
mod request;
mod retry;
mod rewrite;
mod script;
mod settings;

::pgrx::pg_module_magic!(name, version);

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    settings::register();
    logging::install();
}

extension_sql!(
    r#"
REVOKE ALL ON FUNCTION @extschema@.compress_room_state(text, integer[], bigint, bigint, integer, bigint, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.compress_room_state_sql(text, integer[], bigint, bigint, integer, bigint, boolean) FROM PUBLIC;
-- The loader's one big index scan gains nothing from JIT, which would load LLVM into the backend
-- (about 50 MB) and spend time compiling; the setting applies inside the functions only.
ALTER FUNCTION @extschema@.compress_room_state(text, integer[], bigint, bigint, integer, bigint, boolean) SET jit = off;
ALTER FUNCTION @extschema@.compress_room_state_sql(text, integer[], bigint, bigint, integer, bigint, boolean) SET jit = off;
"#,
    name = "function_settings",
    finalize
);

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
