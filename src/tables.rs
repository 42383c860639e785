//! Synapse's tables in the configured schema, checked before anything is read: the schema and
//! the three state tables exist, which optional tables exist (older Synapse lacks the deletion
//! queue), Synapse has finished its background updates of these tables, and the calling role
//! holds every privilege the call needs, so that a missing grant fails at once and not after a
//! long load.

use pgrx::spi::{quote_identifier, SpiClient};
use pgrx::PgSqlErrorCode;

use crate::errors::{Error, Result};
use crate::settings;

/// Background updates of Synapse that must finish before compressing is safe or useful.
const BLOCKING_UPDATES: [&str; 5] = [
    "state_group_state_deduplication",
    "state_group_state_type_index",
    "state_groups_room_id_idx",
    "state_group_edges_unique_idx",
    "mark_unreferenced_state_groups_for_deletion_bg_update",
];

/// The state tables every call reads.
const REQUIRED_TABLES: [&str; 3] = ["state_groups", "state_group_edges", "state_groups_state"];

/// Added in Synapse schema 89: older databases have no deletion queue.
pub const PENDING_DELETION: &str = "state_groups_pending_deletion";

/// Synapse's table of pending background updates (optional).
const BACKGROUND_UPDATES: &str = "background_updates";

/// The privileges a call needs: `(table, privilege, needed to write only)`; those on a table
/// that does not exist are not needed. Row locks (`FOR KEY SHARE`) need UPDATE on some column
/// of `state_groups`.
const PRIVILEGES: [(&str, &str, bool); 11] = [
    ("state_groups", "SELECT", false),
    (BACKGROUND_UPDATES, "SELECT", false),
    (PENDING_DELETION, "SELECT", false),
    ("state_group_edges", "SELECT", false),
    ("state_groups_state", "SELECT", false),
    ("state_groups", "UPDATE", true),
    ("state_group_edges", "INSERT", true),
    ("state_group_edges", "DELETE", true),
    ("state_groups_state", "INSERT", true),
    ("state_groups_state", "DELETE", true),
    (PENDING_DELETION, "UPDATE", true),
];

/// What the configured schema holds.
pub struct Synapse {
    /// The schema, quoted for use in statements.
    pub schema: String,
    /// Whether `state_groups_pending_deletion` exists.
    pub pending_deletion: bool,
}

impl Synapse {
    /// Checks the schema, its tables, Synapse's background updates and the caller's privileges
    /// (`write`: also those needed to rewrite).
    pub fn inspect(client: &SpiClient<'_>, write: bool) -> Result<Synapse> {
        let name = settings::synapse_schema_name()?;
        // One round trip: whether the schema exists, and which of Synapse's tables it holds.
        let tables: Vec<&str> =
            REQUIRED_TABLES.iter().chain(&[PENDING_DELETION, BACKGROUND_UPDATES]).copied().collect();
        let (schema_exists, present_tables) = client
            .select(
                "SELECT pg_catalog.to_regnamespace(pg_catalog.quote_ident($1)) IS NOT NULL, \
                        ARRAY(SELECT t FROM unnest($2::text[]) AS t \
                              WHERE pg_catalog.to_regclass(pg_catalog.format('%I.%I', $1::text, t)) IS NOT NULL)",
                Some(1),
                &[name.as_str().into(), tables.into()],
            )?
            .first()
            .get_two::<bool, Vec<String>>()?;
        let schema_exists = schema_exists.unwrap_or(false);
        let present_tables = present_tables.unwrap_or_default();
        let exists = |table: &str| present_tables.iter().any(|t| t == table);
        if !schema_exists {
            return Err(Error::Setting {
                code: PgSqlErrorCode::ERRCODE_INVALID_SCHEMA_NAME,
                message: format!(
                    "schema {} (synapse_compress.synapse_schema) does not exist",
                    quote_identifier(&name)
                ),
                hint: "Set synapse_compress.synapse_schema to the schema of Synapse's tables.".into(),
            });
        }
        for table in REQUIRED_TABLES {
            if !exists(table) {
                return Err(Error::Setting {
                    code: PgSqlErrorCode::ERRCODE_UNDEFINED_TABLE,
                    message: format!("schema {} has no table {table}", quote_identifier(&name)),
                    hint: "Set synapse_compress.synapse_schema to the schema of Synapse's tables.".into(),
                });
            }
        }
        let synapse = Synapse { schema: quote_identifier(&name), pending_deletion: exists(PENDING_DELETION) };
        let background_updates = exists(BACKGROUND_UPDATES);
        let present = |table: &str| match table {
            PENDING_DELETION => synapse.pending_deletion,
            BACKGROUND_UPDATES => background_updates,
            _ => true,
        };
        synapse.check_privileges(client, &name, write, present)?;
        if background_updates {
            synapse.check_background_updates(client)?;
        }
        Ok(synapse)
    }

    fn check_privileges(
        &self,
        client: &SpiClient<'_>,
        name: &str,
        write: bool,
        present: impl Fn(&str) -> bool,
    ) -> Result<()> {
        let (tables, privileges): (Vec<&str>, Vec<&str>) = PRIVILEGES
            .iter()
            .filter(|(table, _, for_write)| (write || !for_write) && present(table))
            .map(|(table, privilege, _)| (*table, *privilege))
            .unzip();
        let missing = client
            .select(
                "SELECT pg_catalog.string_agg(pg_catalog.format('%s on %I.%I', p, $1::text, t), ', ') \
                 FROM unnest($2::text[], $3::text[]) AS u(t, p) \
                 WHERE NOT CASE p WHEN 'UPDATE' \
                     THEN pg_catalog.has_any_column_privilege(pg_catalog.format('%I.%I', $1::text, t), p) \
                     ELSE pg_catalog.has_table_privilege(pg_catalog.format('%I.%I', $1::text, t), p) END",
                Some(1),
                &[name.into(), tables.into(), privileges.into()],
            )?
            .first()
            .get_one::<String>()?;
        match missing {
            Some(missing) => Err(Error::Privileges(format!("the current role lacks {missing}"))),
            None => Ok(()),
        }
    }

    fn check_background_updates(&self, client: &SpiClient<'_>) -> Result<()> {
        let sql = format!(
            "SELECT pg_catalog.string_agg(update_name, ', ') FROM {}.{BACKGROUND_UPDATES} WHERE update_name = ANY($1)",
            self.schema
        );
        let names: Vec<&str> = BLOCKING_UPDATES.to_vec();
        if let Some(running) =
            client.select(sql.as_str(), Some(1), &[names.into()])?.first().get_one::<String>()?
        {
            return Err(Error::NotReady(format!(
                "Synapse has not finished its background updates of the state tables ({running})"
            )));
        }
        Ok(())
    }
}
