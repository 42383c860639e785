//! The SQL a rewrite would run, as reviewable text: one transaction that takes the same locks,
//! bumps new predecessors queued for deletion, and replaces each changed group's edge and rows.

use compress_core::{Plan, Room};

use crate::rewrite::{changes, lock_ids, new_prevs};

/// A string as an SQL literal (as PostgreSQL's quote_literal does).
pub fn quote_literal(s: &str) -> String {
    let body = s.replace('\'', "''");
    if s.contains('\\') {
        format!("E'{}'", body.replace('\\', "\\\\"))
    } else {
        format!("'{body}'")
    }
}

fn id_list(ids: impl Iterator<Item = i64>) -> String {
    ids.map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
}

pub fn statements(schema: &str, room_id: &str, room: &Room, plan: &Plan, pending_table: bool) -> Vec<String> {
    let all = changes(room, plan);
    let lock = lock_ids(&all);
    let new_prevs = new_prevs(&all);
    let room_lit = quote_literal(room_id);
    let strings = room.strings();

    let mut out = vec![
        "BEGIN;".to_owned(),
        format!(
            "SELECT id FROM {schema}.state_groups WHERE id IN ({}) ORDER BY id FOR KEY SHARE;",
            id_list(lock.into_iter())
        ),
    ];
    if pending_table && !new_prevs.is_empty() {
        out.push(format!(
            "UPDATE {schema}.state_groups_pending_deletion SET sequence_number = DEFAULT, \
             insertion_ts = (extract(epoch FROM clock_timestamp()) * 1000)::bigint WHERE state_group IN ({});",
            id_list(new_prevs.into_iter())
        ));
    }
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
    out.push("COMMIT;".to_owned());
    out
}

#[cfg(test)]
mod tests {
    use super::quote_literal;

    #[test]
    fn literals_are_quoted_like_postgres() {
        assert_eq!(quote_literal("abc"), "'abc'");
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(quote_literal(r"a\b'"), r"E'a\\b'''");
    }
}
