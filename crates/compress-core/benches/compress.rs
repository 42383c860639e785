//! Micro-benchmark of the pure algorithm, without PostgreSQL: the time to build a room in memory
//! (graph validation, string interning, delta forest), to compress it with the default levels
//! `100,50,25`, and to verify the result exactly. Loading from the database is excluded; the
//! SQL-level benchmark is `scripts/bench.sh`.
//!
//! Rooms (generated in memory once, before timing; row strings are pre-made so that only the
//! core's work is timed):
//! * `chain-20k`: like `synapse-roomgen --shape chain --groups 20000`: group 1 holds
//!   `m.room.create` and the first member, every later group adds one member, a snapshot when the
//!   predecessor's chain is 100 long (2,010,200 rows).
//! * `chain-50k`: the same with 50,000 groups (about 12.5 million rows).
//! * `busy-20k`: a busy-like room (20,000 groups) following the rules of roomgen's busy shape:
//!   forks up to 10 groups back, joins, leaves, renames, topic/name/power-level changes, and
//!   state-resolution outcomes that drop a member (always a snapshot).
//!
//! Run: `cargo bench -p compress_core` (about two minutes on 2 cores). Filter: e.g.
//! `cargo bench -p compress_core --bench compress -- chain-20k`.

use std::time::Duration;

use compress_core::{compress, verify, GroupGraph, Levels, Plan, Room, RoomBuilder};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

const LEVELS: [i64; 3] = [100, 50, 25];
const SNAPSHOT_EVERY: u32 = 100;
const NONE: u32 = u32::MAX;

/// A room as Synapse's three tables would hold it, with strings made up front.
struct Input {
    name: &'static str,
    /// `(id, in range)` of every group.
    groups: Vec<(i64, bool)>,
    /// `(state_group, prev_state_group)`.
    edges: Vec<(i64, i64)>,
    /// `(type, state_key)` per key slot.
    keys: Vec<(String, String)>,
    events: Vec<String>,
    /// `(state_group, key slot, event)` in ascending group order.
    rows: Vec<(i64, u32, u32)>,
}

impl Input {
    fn new(name: &'static str) -> Self {
        Input {
            name,
            groups: Vec::new(),
            edges: Vec::new(),
            keys: Vec::new(),
            events: Vec::new(),
            rows: Vec::new(),
        }
    }

    fn key(&mut self, event_type: &str, state_key: &str) -> u32 {
        self.keys.push((event_type.to_owned(), state_key.to_owned()));
        (self.keys.len() - 1) as u32
    }

    /// A 44-character event id, as Synapse's (`$` + 43 url-safe base64 characters).
    fn event(&mut self) -> u32 {
        let n = self.events.len() as u64;
        let mut id = String::with_capacity(44);
        id.push('$');
        let mut h = mix64(n ^ 0x5EED);
        for i in 0..43 {
            if i % 10 == 0 {
                h = mix64(h.wrapping_add(n));
            }
            id.push(B64[(h & 63) as usize] as char);
            h >>= 6;
        }
        self.events.push(id);
        (self.events.len() - 1) as u32
    }

    /// Adds a group: a snapshot of `state` (every present slot) or a delta of `change`.
    fn group(&mut self, id: i64, prev: Option<i64>, state: &[u32], change: (u32, u32)) {
        self.groups.push((id, true));
        match prev {
            Some(p) => {
                self.edges.push((id, p));
                self.rows.push((id, change.0, change.1));
            }
            None => {
                for (slot, &e) in state.iter().enumerate() {
                    if e != NONE {
                        self.rows.push((id, slot as u32, e));
                    }
                }
            }
        }
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix64(self.0)
    }
    fn below(&mut self, n: u64) -> u64 {
        ((self.next() as u128 * n as u128) >> 64) as u64
    }
    fn per_mille(&mut self, p: u64) -> bool {
        self.below(1000) < p
    }
}

/// roomgen's chain shape: ids 1..=n, each group adds a member.
fn chain(name: &'static str, n: u32) -> Input {
    let mut input = Input::new(name);
    let mut state = Vec::new();
    input.key("m.room.create", "");
    state.push(input.event());
    let mut chain_len = 0u32;
    for ord in 0..n {
        let member = input.key("m.room.member", &format!("@user{}:example.org", ord + 1));
        debug_assert_eq!(member as usize, state.len());
        let ev = input.event();
        state.push(ev);
        let id = i64::from(ord) + 1;
        let prev = if ord == 0 || chain_len >= SNAPSHOT_EVERY { None } else { Some(id - 1) };
        chain_len = if prev.is_some() { chain_len + 1 } else { 1 };
        input.group(id, prev, &state, (member, ev));
    }
    input
}

/// A room following roomgen's busy rules (not byte-identical to its output).
fn busy(name: &'static str, n: u32, seed: u64) -> Input {
    const BACK: usize = 10;
    let mut input = Input::new(name);
    let mut rng = Rng(mix64(seed));
    let mut members: Vec<u32> = Vec::new();
    let mut next_user = 1u64;
    // The last BACK + 1 states, by ordinal modulo BACK + 1, and every group's chain length.
    let mut recent: Vec<Vec<u32>> = vec![Vec::new(); BACK + 1];
    let mut chain_len: Vec<u32> = Vec::with_capacity(n as usize);

    let create = input.key("m.room.create", "");
    let creator = input.key("m.room.member", "@creator:example.org");
    members.push(creator);
    let power_levels = input.key("m.room.power_levels", "");
    input.key("m.room.join_rules", "");
    input.key("m.room.history_visibility", "");
    let name_key = input.key("m.room.name", "");
    let topic = input.key("m.room.topic", "");
    let mut root = vec![NONE; input.keys.len()];
    root[create as usize] = input.event();
    input.group(1, None, &root, (0, 0));
    recent[0] = root;
    chain_len.push(1);

    for ord in 1..n as usize {
        // Forks reach back up to 10 groups, never into the creation sequence (ordinals 0..=6).
        let latest = ord - 1;
        let mut pred = latest;
        if ord > 7 && rng.per_mille(50) {
            let max_back = BACK.min(latest - 6) as u64;
            pred = latest - 1 - rng.below(max_back) as usize;
        }
        let mut state = recent[pred % (BACK + 1)].clone();
        let (slot, event) = if ord < 7 {
            (ord as u32, input.event())
        } else {
            let mut change = None;
            if rng.per_mille(5) {
                for _ in 0..32 {
                    let s = members[rng.below(members.len() as u64) as usize];
                    if s != creator && state.get(s as usize).is_some_and(|&e| e != NONE) {
                        change = Some((s, NONE));
                        break;
                    }
                }
            }
            change.unwrap_or_else(|| {
                let join = if members.len() < 250 { 700 } else { 80 };
                let slot = if rng.per_mille(join) {
                    let s = input.key("m.room.member", &format!("@user{next_user}:example.org"));
                    next_user += 1;
                    members.push(s);
                    s
                } else {
                    match rng.below(100) {
                        0..=79 => members[rng.below(members.len() as u64) as usize],
                        80..=87 => topic,
                        88..=91 => name_key,
                        _ => power_levels,
                    }
                };
                (slot, input.event())
            })
        };
        state.resize(input.keys.len(), NONE);
        state[slot as usize] = event;
        let snapshot = event == NONE || chain_len[pred] >= SNAPSHOT_EVERY;
        let id = ord as i64 + 1;
        let prev = if snapshot { None } else { Some(pred as i64 + 1) };
        chain_len.push(if snapshot { 1 } else { chain_len[pred] + 1 });
        input.group(id, prev, &state, (slot, event));
        recent[ord % (BACK + 1)] = state;
    }
    input
}

/// What the extension's loader does with the rows it reads: graph, interning, forest.
fn build(input: &Input) -> Room {
    let graph = GroupGraph::new(input.groups.clone(), &input.edges).expect("valid graph");
    let mut b = RoomBuilder::new(graph);
    for &(group, key, event) in &input.rows {
        let (t, k) = &input.keys[key as usize];
        b.add_row(group, t, k, &input.events[event as usize]).expect("valid row");
    }
    b.finish().expect("valid room")
}

fn compress_default(room: &Room) -> Plan {
    compress(room, &mut Levels::new(&LEVELS).unwrap(), &mut || {})
}

fn benches(c: &mut Criterion) {
    let inputs = [chain("chain-20k", 20_000), chain("chain-50k", 50_000), busy("busy-20k", 20_000, 1)];
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    for input in &inputs {
        if !filter.is_empty()
            && !filter.iter().any(|f| input.name.contains(f.as_str()) || f.contains(input.name))
        {
            // Criterion filters benchmark ids itself; skip the (costly) setup of unselected rooms.
            continue;
        }
        let room = build(input);
        let plan = compress_default(&room);
        verify(&room, &plan, &mut || {}).expect("verification passes");
        let s = &plan.stats;
        eprintln!(
            "{}: {} groups, {} keys, {} events; rows {} -> {}, {} groups changed, max chain {} -> {}, \
             forced resets {}",
            input.name,
            s.state_groups,
            input.keys.len(),
            input.events.len(),
            s.rows_before,
            s.rows_after,
            s.state_groups_changed,
            s.max_chain_before,
            s.max_chain_after,
            s.resets_no_suitable_prev
        );

        let mut g = c.benchmark_group(input.name);
        g.sample_size(10).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));
        g.bench_function(BenchmarkId::from_parameter("build"), |b| b.iter_with_large_drop(|| build(input)));
        g.bench_function(BenchmarkId::from_parameter("compress"), |b| {
            b.iter_with_large_drop(|| compress_default(&room))
        });
        g.bench_function(BenchmarkId::from_parameter("verify"), |b| {
            b.iter(|| verify(&room, &plan, &mut || {}).expect("verification passes"))
        });
        g.finish();
    }
}

criterion_group!(compress_benches, benches);
criterion_main!(compress_benches);
