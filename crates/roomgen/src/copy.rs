//! PostgreSQL COPY text output of a generated room.

use std::io::{self, Write};

use crate::RoomSink;

/// Appends `s` escaped for PostgreSQL's COPY text format.
pub(crate) fn push_escaped(buf: &mut Vec<u8>, s: &str) {
    if !s.bytes().any(|b| matches!(b, b'\\' | b'\t' | b'\n' | b'\r')) {
        buf.extend_from_slice(s.as_bytes());
        return;
    }
    for &b in s.as_bytes() {
        match b {
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            _ => buf.push(b),
        }
    }
}

/// Appends the decimal digits of `v`.
fn push_int(buf: &mut Vec<u8>, v: i64) {
    let (mut u, negative) = (v.unsigned_abs(), v < 0);
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (u % 10) as u8;
        u /= 10;
        if u == 0 {
            break;
        }
    }
    if negative {
        buf.push(b'-');
    }
    buf.extend_from_slice(&tmp[i..]);
}

/// A [`RoomSink`] writing Synapse's three tables as PostgreSQL COPY text:
/// * `groups`: `state_groups` (`id, room_id, event_id`)
/// * `edges`: `state_group_edges` (`state_group, prev_state_group`)
/// * `state`: `state_groups_state` (`state_group, room_id, type, state_key, event_id`)
///
/// The first write error stops all output; [`CopyWriter::finish`] returns it.
pub struct CopyWriter<W: Write> {
    groups: W,
    edges: W,
    state: W,
    /// The escaped room id.
    room_col: Vec<u8>,
    /// `state_group<TAB>room_id<TAB>` of `prefix_group`.
    prefix: Vec<u8>,
    prefix_group: Option<i64>,
    line: Vec<u8>,
    error: Option<io::Error>,
}

impl<W: Write> CopyWriter<W> {
    /// Writes the rows of room `room` to the three writers.
    pub fn new(room: &str, groups: W, edges: W, state: W) -> CopyWriter<W> {
        let mut room_col = Vec::new();
        push_escaped(&mut room_col, room);
        CopyWriter {
            groups,
            edges,
            state,
            room_col,
            prefix: Vec::new(),
            prefix_group: None,
            line: Vec::with_capacity(256),
            error: None,
        }
    }

    /// Flushes the writers and returns them, or the first write error.
    pub fn finish(mut self) -> io::Result<(W, W, W)> {
        if let Some(e) = self.error {
            return Err(e);
        }
        self.groups.flush()?;
        self.edges.flush()?;
        self.state.flush()?;
        Ok((self.groups, self.edges, self.state))
    }

    fn write_line(error: &mut Option<io::Error>, out: &mut W, line: &[u8]) {
        if error.is_none() {
            if let Err(e) = out.write_all(line) {
                *error = Some(e);
            }
        }
    }
}

impl<W: Write> RoomSink for CopyWriter<W> {
    fn group(&mut self, id: i64, event_id: &str) {
        self.line.clear();
        push_int(&mut self.line, id);
        self.line.push(b'\t');
        self.line.extend_from_slice(&self.room_col);
        self.line.push(b'\t');
        push_escaped(&mut self.line, event_id);
        self.line.push(b'\n');
        Self::write_line(&mut self.error, &mut self.groups, &self.line);
    }

    fn edge(&mut self, group: i64, prev: i64) {
        self.line.clear();
        push_int(&mut self.line, group);
        self.line.push(b'\t');
        push_int(&mut self.line, prev);
        self.line.push(b'\n');
        Self::write_line(&mut self.error, &mut self.edges, &self.line);
    }

    fn row(&mut self, group: i64, event_type: &str, state_key: &str, event_id: &str) {
        if self.prefix_group != Some(group) {
            self.prefix.clear();
            push_int(&mut self.prefix, group);
            self.prefix.push(b'\t');
            self.prefix.extend_from_slice(&self.room_col);
            self.prefix.push(b'\t');
            self.prefix_group = Some(group);
        }
        self.line.clear();
        self.line.extend_from_slice(&self.prefix);
        push_escaped(&mut self.line, event_type);
        self.line.push(b'\t');
        push_escaped(&mut self.line, state_key);
        self.line.push(b'\t');
        push_escaped(&mut self.line, event_id);
        self.line.push(b'\n');
        Self::write_line(&mut self.error, &mut self.state, &self.line);
    }
}
