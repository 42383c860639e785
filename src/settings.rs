//! The `synapse_compress.*` settings (GUCs).

use std::ffi::CString;

use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};

/// Schema holding Synapse's tables.
pub static SYNAPSE_SCHEMA: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(Some(c"public"));

pub fn register() {
    GucRegistry::define_string_guc(
        c"synapse_compress.synapse_schema",
        c"Schema that holds Synapse's state tables.",
        c"Every statement synapse_compress runs is qualified with this schema.",
        &SYNAPSE_SCHEMA,
        GucContext::Suset,
        GucFlags::default(),
    );
}

/// The Synapse schema, quoted as an identifier for use in statements.
pub fn synapse_schema() -> String {
    let name =
        SYNAPSE_SCHEMA.get().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "public".into());
    quote_ident(&name)
}

pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
