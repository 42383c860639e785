//! Micro-benchmark of the pure algorithm, without PostgreSQL: the time to build a room in memory
//! (graph validation, string interning, delta forest), to compress it with the default levels
//! `100,50,25` and with the fork-aware method (`max_chain` 100), and to verify the results
//! exactly (the fork-aware one with its cap). Loading from the database is excluded; the
//! SQL-level benchmark is `scripts/bench.sh`.
//!
//! The rooms are exactly those of `scripts/bench.sh` (same generator, `roomgen`, same room ids,
//! shapes, group counts, first id 1, snapshot interval 100 and seed 1), so that both benchmarks
//! measure the same rows:
//! * `chain-20k`: `!chain20k:bench.example.org`, chain, 20,000 groups (2,010,200 rows).
//! * `chain-50k`: `!chain50k:bench.example.org`, chain, 50,000 groups (12,525,500 rows).
//! * `busy-20k`: `!busy:bench.example.org`, busy, 20,000 groups (the script's `busy`).
//!
//! The room is never held as rows: the generator runs once before timing to collect the groups
//! and edges (the graph must be complete before the first row), and `build` runs it again,
//! feeding each row straight into [`RoomBuilder`] (the generator is deterministic). `build`
//! therefore includes the generator's own time to produce the rows; `generate` times that alone
//! (the same pass into a sink that only looks at the rows), so the core's share is about
//! `build - generate`.
//!
//! Run: `cargo bench -p compress_core` (about two minutes on 2 cores). Filter: e.g.
//! `cargo bench -p compress_core --bench compress -- chain-20k`.

use std::hint::black_box;
use std::time::Duration;

use compress_core::{
    compress, compress_fork_aware, verify, verify_with_cap, ForkAwareOptions, GroupGraph, Levels, Plan, Room,
    RoomBuilder,
};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use roomgen::{Config, RoomSink, Shape};

const LEVELS: [i64; 3] = [100, 50, 25];

/// The rooms of `scripts/bench.sh` (`room_spec`): name, room id, shape, groups.
const ROOMS: [(&str, &str, Shape, u64); 3] = [
    ("chain-20k", "!chain20k:bench.example.org", Shape::Chain, 20_000),
    ("chain-50k", "!chain50k:bench.example.org", Shape::Chain, 50_000),
    ("busy-20k", "!busy:bench.example.org", Shape::Busy, 20_000),
];

/// A room's configuration and its graph (the rows are generated again on each build).
struct Input {
    name: &'static str,
    cfg: Config,
    /// `(id, in range)` of every group.
    groups: Vec<(i64, bool)>,
    /// `(state_group, prev_state_group)`.
    edges: Vec<(i64, i64)>,
    stats: roomgen::Stats,
}

/// First pass: collects the groups and edges, ignores the rows.
#[derive(Default)]
struct GraphSink {
    groups: Vec<(i64, bool)>,
    edges: Vec<(i64, i64)>,
}

impl RoomSink for GraphSink {
    fn group(&mut self, id: i64, _event_id: &str) {
        self.groups.push((id, true));
    }
    fn edge(&mut self, group: i64, prev: i64) {
        self.edges.push((group, prev));
    }
    fn row(&mut self, _group: i64, _event_type: &str, _state_key: &str, _event_id: &str) {}
}

/// Second pass: feeds the rows (grouped by group, groups ascending) into the builder.
struct RowSink(RoomBuilder);

impl RoomSink for RowSink {
    fn group(&mut self, _id: i64, _event_id: &str) {}
    fn edge(&mut self, _group: i64, _prev: i64) {}
    fn row(&mut self, group: i64, event_type: &str, state_key: &str, event_id: &str) {
        self.0.add_row(group, event_type, state_key, event_id).expect("valid row");
    }
}

/// The generator's own cost: every call is observed, nothing is kept.
struct NullSink;

impl RoomSink for NullSink {
    fn group(&mut self, id: i64, event_id: &str) {
        black_box((id, event_id));
    }
    fn edge(&mut self, group: i64, prev: i64) {
        black_box((group, prev));
    }
    fn row(&mut self, group: i64, event_type: &str, state_key: &str, event_id: &str) {
        black_box((group, event_type, state_key, event_id));
    }
}

fn input(name: &'static str, room: &str, shape: Shape, groups: u64) -> Input {
    let mut cfg = Config::new(room, shape, groups);
    // scripts/bench.sh: `load_room DB ROOM SHAPE GROUPS 1 SEED` with seed 1 and roomgen's default
    // snapshot interval.
    cfg.first_id = 1;
    cfg.seed = 1;
    cfg.snapshot_every = 100;
    let mut graph = GraphSink::default();
    let stats = roomgen::generate(&cfg, &mut graph);
    Input { name, cfg, groups: graph.groups, edges: graph.edges, stats }
}

/// What the extension's loader does with the rows it reads: graph, interning, forest.
fn build(input: &Input) -> Room {
    let graph = GroupGraph::new(input.groups.clone(), &input.edges).expect("valid graph");
    let mut rows = RowSink(RoomBuilder::new(graph));
    roomgen::generate(&input.cfg, &mut rows);
    rows.0.finish().expect("valid room")
}

fn compress_default(room: &Room) -> Plan {
    compress(room, &mut Levels::new(&LEVELS).unwrap(), &mut || {})
}

fn compress_fork_aware_default(room: &Room) -> Plan {
    compress_fork_aware(room, &ForkAwareOptions::default(), &mut || {})
}

fn benches(c: &mut Criterion) {
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    for (name, room_id, shape, groups) in ROOMS {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str()) || f.contains(name)) {
            // Criterion filters benchmark ids itself; skip the (costly) setup of unselected rooms.
            continue;
        }
        let input = input(name, room_id, shape, groups);
        let room = build(&input);
        let plan = compress_default(&room);
        verify(&room, &plan, &mut || {}).expect("verification passes");
        let (g, s) = (&input.stats, &plan.stats);
        assert_eq!((s.state_groups, s.rows_before), (g.groups, g.rows), "{name}: room as generated");
        eprintln!(
            "{} ({}, roomgen {} seed {}): {} groups, {} snapshots, {} forks, {} drops, {} keys, {} events; \
             rows {} -> {}, {} groups changed, max chain {} -> {}, forced resets {}",
            input.name,
            input.cfg.room,
            input.cfg.shape.name(),
            input.cfg.seed,
            g.groups,
            g.snapshots,
            g.forks,
            g.drops,
            g.keys,
            g.events,
            s.rows_before,
            s.rows_after,
            s.state_groups_changed,
            s.max_chain_before,
            s.max_chain_after,
            s.resets_no_suitable_prev
        );

        let mut grp = c.benchmark_group(input.name);
        grp.sample_size(10).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));
        grp.bench_function(BenchmarkId::from_parameter("generate"), |b| {
            b.iter(|| roomgen::generate(&input.cfg, &mut NullSink))
        });
        grp.bench_function(BenchmarkId::from_parameter("build"), |b| {
            b.iter_with_large_drop(|| build(&input))
        });
        grp.bench_function(BenchmarkId::from_parameter("compress"), |b| {
            b.iter_with_large_drop(|| compress_default(&room))
        });
        grp.bench_function(BenchmarkId::from_parameter("verify"), |b| {
            b.iter(|| verify(&room, &plan, &mut || {}).expect("verification passes"))
        });
        let fork = compress_fork_aware_default(&room);
        let cap = Some(ForkAwareOptions::default().max_chain).filter(|_| !fork.changed.is_empty());
        verify_with_cap(&room, &fork, cap, &mut || {}).expect("verification passes");
        eprintln!(
            "{}: fork_aware rows {} -> {}, max chain {}",
            input.name, fork.stats.rows_before, fork.stats.rows_after, fork.stats.max_chain_after
        );
        grp.bench_function(BenchmarkId::from_parameter("fork_aware"), |b| {
            b.iter_with_large_drop(|| compress_fork_aware_default(&room))
        });
        grp.bench_function(BenchmarkId::from_parameter("verify_fork_aware"), |b| {
            b.iter(|| verify_with_cap(&room, &fork, cap, &mut || {}).expect("verification passes"))
        });
        grp.finish();
    }
}

criterion_group!(compress_benches, benches);
criterion_main!(compress_benches);
