//! The SQL a rewrite would run, as reviewable text to apply later: one transaction that pins
//! `search_path`, takes the room's lock and the same row locks as a call, then checks that every
//! group it locks still exists and is not queued for deletion and that every group it rewrites
//! still has the edge and rows it was generated from (else it raises 40001 and nothing is
//! changed), and replaces each changed group's edge and rows.
//!
//! Every value from the data is written as a quoted literal whose text holds no control
//! character (they are escaped in an `E'...'` literal), so each statement is one line and no
//! room id, key or event id can end a literal, a comment or a statement.

use compress_core::cursor::StateCursor;
use compress_core::{Node, Plan, Room};
use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::rewrite::{changes, lock_ids, Change};
use crate::roomlock;
use crate::tables::{Synapse, PENDING_DELETION};

/// A string as an SQL literal that survives any text-based transport: `'...'` when it holds no
/// backslash and no control character, else `E'...'` with those escaped.
pub fn quote_literal(s: &str) -> String {
    let plain = !s.chars().any(|c| c == '\\' || c.is_control());
    if plain {
        return format!("'{}'", s.replace('\'', "''"));
    }
    let mut out = String::with_capacity(s.len() + 8);
    out.push_str("E'");
    for c in s.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

fn id_list(ids: impl Iterator<Item = i64>) -> String {
    ids.map(|i| i.to_string()).collect::<Vec<_>>().join(",")
}

/// The canonical text of a group's rows whose md5 the script compares: every distinct row as
/// `len:type len:state_key len:event_id` (byte lengths), sorted bytewise. The SQL side is
/// [`ROWS_DIGEST_SQL`].
fn rows_text(rows: &mut [String]) -> Option<String> {
    if rows.is_empty() {
        return None;
    }
    rows.sort_unstable();
    let mut text = String::new();
    let mut last: Option<&str> = None;
    for row in rows.iter() {
        if last != Some(row.as_str()) {
            text.push_str(row);
        }
        last = Some(row);
    }
    Some(text)
}

fn row_text(t: &str, k: &str, e: &str) -> String {
    format!("{}:{t}{}:{k}{}:{e}", t.len(), k.len(), e.len())
}

/// md5 of the rows of group `c.g`, as the script computes it when applied.
const ROWS_DIGEST_SQL: &str = "(SELECT pg_catalog.md5(pg_catalog.string_agg(d.t, '' ORDER BY d.t)) FROM (\
    SELECT DISTINCT pg_catalog.format('%s:%s%s:%s%s:%s', pg_catalog.octet_length(r.type), r.type, \
    pg_catalog.octet_length(r.state_key), r.state_key, pg_catalog.octet_length(r.event_id), r.event_id) COLLATE \"C\" AS t \
    FROM {schema}.state_groups_state r WHERE r.state_group = c.g) d)";

/// PostgreSQL's own md5 of a text (the same function the script calls).
fn md5(text: &str) -> String {
    // SAFETY: md5_text takes one non-NULL text argument and returns a non-NULL text.
    unsafe { pgrx::direct_function_call::<String>(pg_sys::md5_text, &[text.into_datum()]) }
        .expect("md5 returns a value")
}

/// The md5 of each changed group's current rows (as loaded), `None` for a group without rows.
fn row_digests(room: &Room, all: &[Change]) -> Vec<Option<String>> {
    let strings = room.strings();
    let mut cursor = StateCursor::new(strings.key_count());
    let mut rows: Vec<String> = Vec::new();
    all.iter()
        .map(|c| {
            rows.clear();
            let mut push = |k, v| {
                let (t, sk) = strings.key_str(k);
                rows.push(row_text(t, sk, strings.value_str(v)));
            };
            // A group with an edge was loaded with exactly its rows; a snapshot's rows are its
            // state (in memory it may be stored as a difference from another group).
            if room.original_prev(c.node).is_some() {
                room.forest().entries(c.node).iter().for_each(|&(k, v)| push(k, v));
            } else {
                cursor.move_to(room.forest(), Some(c.node as Node), &mut |_, _| {});
                cursor.state().for_each(|(k, v)| push(k, v));
            }
            rows_text(&mut rows).map(|text| md5(&text))
        })
        .collect()
}

fn sql_array(items: impl Iterator<Item = Option<String>>, element: &str) -> String {
    let body: Vec<String> = items.map(|i| i.unwrap_or_else(|| "NULL".into())).collect();
    format!("'{{{}}}'::{element}[]", body.join(","))
}

/// The check that makes an applied script fail, changing nothing, when the room has changed.
fn check_statement(synapse: &Synapse, lock: &[i64], all: &[Change], digests: Vec<Option<String>>) -> String {
    let schema = &synapse.schema;
    let locked = format!("'{{{}}}'::bigint[]", id_list(lock.iter().copied()));
    let queued = if synapse.pending_deletion {
        format!(
            " UNION ALL SELECT q.state_group, 'is queued for deletion' FROM {schema}.{PENDING_DELETION} q \
             WHERE q.state_group = ANY ({locked})"
        )
    } else {
        String::new()
    };
    let groups = sql_array(all.iter().map(|c| Some(c.id.to_string())), "bigint");
    let prevs = sql_array(all.iter().map(|c| c.old_prev.map(|p| p.to_string())), "bigint");
    let digests = sql_array(digests.into_iter(), "text");
    let digest_sql = ROWS_DIGEST_SQL.replace("{schema}", schema);
    format!(
        "DO $synapse_compress$ DECLARE problems text; BEGIN \
         SELECT pg_catalog.string_agg(pg_catalog.format('state group %s %s', x.g, x.why), '; ' ORDER BY x.g) INTO problems FROM ( \
         SELECT l.g, 'no longer exists' FROM unnest({locked}) AS l(g) \
         WHERE NOT EXISTS (SELECT FROM {schema}.state_groups s WHERE s.id = l.g){queued} \
         UNION ALL SELECT c.g, 'changed since the script was generated' \
         FROM unnest({groups}, {prevs}, {digests}) AS c(g, prev, digest) \
         WHERE (SELECT pg_catalog.array_agg(e.prev_state_group) FROM {schema}.state_group_edges e WHERE e.state_group = c.g) \
         IS DISTINCT FROM (CASE WHEN c.prev IS NULL THEN NULL ELSE ARRAY[c.prev] END) \
         OR {digest_sql} IS DISTINCT FROM c.digest) AS x(g, why); \
         IF problems IS NOT NULL THEN RAISE EXCEPTION USING ERRCODE = '40001', \
         MESSAGE = 'synapse_compress: the room changed since this script was generated: ' || pg_catalog.left(problems, 2000), \
         HINT = 'Nothing was changed. Generate the script again and apply it at once.'; END IF; \
         END $synapse_compress$;"
    )
}

/// The script; with `rehearsal` it ends in ROLLBACK instead of COMMIT (every check and statement
/// runs when it is applied, and nothing stays changed).
pub fn statements(
    synapse: &Synapse,
    room_id: &str,
    room: &Room,
    plan: &Plan,
    rehearsal: bool,
) -> Vec<String> {
    let schema = &synapse.schema;
    let all = changes(room, plan);
    let lock = lock_ids(&all);
    let room_lit = quote_literal(room_id);
    let strings = room.strings();
    let digests = row_digests(room, &all);

    let mut out = vec![
        "BEGIN;".to_owned(),
        "SET LOCAL search_path = pg_catalog, pg_temp;".to_owned(),
        roomlock::lock_statement(room_id),
        format!(
            "SELECT id FROM {schema}.state_groups WHERE id IN ({}) ORDER BY id FOR KEY SHARE;",
            id_list(lock.iter().copied())
        ),
        check_statement(synapse, &lock, &all, digests),
    ];
    for c in &all {
        out.push(format!("DELETE FROM {schema}.state_group_edges WHERE state_group = {};", c.id));
        if let Some(p) = c.new_prev {
            out.push(format!(
                "INSERT INTO {schema}.state_group_edges (state_group, prev_state_group) VALUES ({}, {p});",
                c.id
            ));
        }
        out.push(format!("DELETE FROM {schema}.state_groups_state WHERE state_group = {};", c.id));
        let entries = plan.tree.entries(c.node);
        if !entries.is_empty() {
            let values: Vec<String> = entries
                .iter()
                .map(|&(key, value)| {
                    let (t, k) = strings.key_str(key);
                    format!(
                        "({}, {room_lit}, {}, {}, {})",
                        c.id,
                        quote_literal(t),
                        quote_literal(k),
                        quote_literal(strings.value_str(value))
                    )
                })
                .collect();
            out.push(format!(
                "INSERT INTO {schema}.state_groups_state (state_group, room_id, type, state_key, event_id) VALUES {};",
                values.join(", ")
            ));
        }
    }
    if rehearsal {
        out.push("-- dry run: everything above ran and is rolled back".to_owned());
        out.push("ROLLBACK;".to_owned());
    } else {
        out.push("COMMIT;".to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::quote_literal;

    #[test]
    fn literals_are_quoted_on_one_line() {
        assert_eq!(quote_literal("abc"), "'abc'");
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(quote_literal(r"a\b'"), r"E'a\\b'''");
        assert_eq!(quote_literal("a\nb\r\tc"), r"E'a\nb\r\tc'");
        assert_eq!(quote_literal("x\u{1}$$"), r"E'x\u0001$$'");
        assert!(!quote_literal("!nl\nDROP TABLE state_groups; --:x").contains('\n'));
    }
}
