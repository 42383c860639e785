//! Compares the two methods on the benchmark rooms of `roomgen` (the rooms of `scripts/bench.sh`
//! and issue 9's targets): per room, the rows now, the level method `{100,50,25}` (rows and
//! longest chain), and the fork-aware method at `max_chain` 50, 100 and 150, with the time to
//! compress and to verify (exactly, with the chain cap); then the fork-aware method at 100 and
//! 150 on the room as the level method left it (users switching over: its chains exceed 100, so
//! at 100 the method may only keep it, `unmet`). Then what a read of each group walks (Synapse's
//! recursive query: groups on the chain and their rows), now and after each method, and the
//! fork-aware method at 100 under the read budgets `median` and `strict`. Run:
//! `cargo run --release -p compress_core --example methods [-- ROOM...]` where ROOM filters by
//! name (e.g. `busy-5k-1`, `chain-20k`, `chain-50k`; chain-50k only runs when named).

use std::time::{Duration, Instant};

use compress_core::{
    compress, compress_fork_aware, verify, verify_with_cap, verify_with_limits, ForkAwareOptions, GroupGraph,
    Levels, Plan, ReadBudget, Room, RoomBuilder,
};
use roomgen::{Config, RoomSink, Shape};

/// Name, shape, groups, seed, whether it runs without being named.
const ROOMS: [(&str, Shape, u64, u64, bool); 7] = [
    ("busy-5k-1", Shape::Busy, 5_000, 1, true),
    ("busy-5k-2", Shape::Busy, 5_000, 2, true),
    ("busy-5k-3", Shape::Busy, 5_000, 3, true),
    ("busy-20k", Shape::Busy, 20_000, 1, true),
    ("chain-20k", Shape::Chain, 20_000, 1, true),
    ("chain-50k", Shape::Chain, 50_000, 1, false),
    ("busy-50k", Shape::Busy, 50_000, 1, false),
];

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

struct RowSink(RoomBuilder);

impl RoomSink for RowSink {
    fn group(&mut self, _id: i64, _event_id: &str) {}
    fn edge(&mut self, _group: i64, _prev: i64) {}
    fn row(&mut self, group: i64, event_type: &str, state_key: &str, event_id: &str) {
        self.0.add_row(group, event_type, state_key, event_id).expect("valid row");
    }
}

/// The room as `scripts/bench.sh` generates it (first id 1, a snapshot every 100 groups).
fn build(shape: Shape, groups: u64, seed: u64) -> (Room, Duration) {
    let mut cfg = Config::new("!bench:example.org", shape, groups);
    cfg.seed = seed;
    let started = Instant::now();
    let mut graph = GraphSink::default();
    roomgen::generate(&cfg, &mut graph);
    let mut rows =
        RowSink(RoomBuilder::new(GroupGraph::new(graph.groups, &graph.edges).expect("valid graph")));
    roomgen::generate(&cfg, &mut rows);
    (rows.0.finish().expect("valid room"), started.elapsed())
}

/// The room after writing `plan` (every group in range stored as the plan's tree says).
fn rewritten(room: &Room, plan: &Plan) -> Room {
    let groups = (0..room.len() as u32).map(|n| (room.id(n), true)).collect();
    let edges: Vec<(i64, i64)> = (0..room.len() as u32)
        .filter_map(|n| plan.tree.parent(n).map(|p| (room.id(n), room.id(p))))
        .collect();
    let mut b = RoomBuilder::new(GroupGraph::new(groups, &edges).expect("valid graph"));
    let s = room.strings();
    for n in 0..room.len() as u32 {
        for &(k, v) in plan.tree.entries(n) {
            let (t, sk) = s.key_str(k);
            b.add_row(room.id(n), t, sk, s.value_str(v)).expect("valid row");
        }
    }
    b.finish().expect("valid room")
}

/// What Synapse's read of each group in range walks (its recursive query follows the edges and
/// reads every row of every group on the way): chain length and rows read, p50/p99/max.
fn reads(room: &Room, plan: Option<&Plan>) -> String {
    let n = room.len();
    let mut chain = vec![0u64; n];
    let mut rows = vec![0u64; n];
    for node in 0..n as u32 {
        let (prev, own) = match plan {
            Some(p) if room.in_range(node) => (p.tree.parent(node), p.tree.entries(node).len() as u64),
            _ => (room.original_prev(node), room.row_count(node) as u64),
        };
        chain[node as usize] = 1 + prev.map_or(0, |p| chain[p as usize]);
        rows[node as usize] = own + prev.map_or(0, |p| rows[p as usize]);
    }
    let pick = |v: &[u64]| {
        let mut v: Vec<u64> = room.range_nodes().map(|n| v[n as usize]).collect();
        v.sort_unstable();
        let at = |q: f64| v[((v.len() - 1) as f64 * q) as usize];
        format!("{}/{}/{}", at(0.5), at(0.99), v[v.len() - 1])
    };
    format!("chain {:<11} rows read {:<17}", pick(&chain), pick(&rows))
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let started = Instant::now();
    let out = f();
    (out, started.elapsed())
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

fn cell(plan: &Plan, compress: Duration, verify: Duration) -> String {
    format!(
        "{:>8} ({:>3}) {:>6}/{:<6}",
        plan.stats.rows_after,
        plan.stats.max_chain_after,
        ms(compress),
        ms(verify)
    )
}

fn main() {
    let filter: Vec<String> = std::env::args().skip(1).collect();
    let mut read_lines = Vec::new();
    let mut budget_lines = Vec::new();
    println!("rows after (longest chain) compress/verify ms; build = generate + load into memory");
    println!(
        "{:<10} {:>9} {:>8} | {:<28} | {:<28} | {:<28} | {:<28} | fork100/levels",
        "room",
        "rows now",
        "build ms",
        "levels {100,50,25}",
        "fork_aware 50",
        "fork_aware 100",
        "fork_aware 150"
    );
    for (name, shape, groups, seed, default) in ROOMS {
        if (filter.is_empty() && !default) || (!filter.is_empty() && !filter.iter().any(|f| f == name)) {
            continue;
        }
        let (room, built) = build(shape, groups, seed);
        let (levels, lc) = timed(|| compress(&room, &mut Levels::new(&[100, 50, 25]).unwrap(), &mut || {}));
        let ((), lv) = timed(|| verify(&room, &levels, &mut || {}).expect("levels verify"));
        let mut line = format!(
            "{name:<10} {:>9} {:>8} | {} |",
            levels.stats.rows_before,
            ms(built),
            cell(&levels, lc, lv)
        );
        let mut fork100 = 0;
        read_lines.push(format!("{name:<10} now       {}", reads(&room, None)));
        read_lines.push(format!("{name:<10} levels    {}", reads(&room, Some(&levels))));
        for cap in [50, 100, 150] {
            let options = ForkAwareOptions { max_chain: cap, ..ForkAwareOptions::default() };
            let (plan, fc) = timed(|| compress_fork_aware(&room, &options, &mut || {}));
            let check = if plan.changed.is_empty() { None } else { Some(cap) };
            let ((), fv) =
                timed(|| verify_with_cap(&room, &plan, check, &mut || {}).expect("fork_aware verifies"));
            assert!(plan.stats.rows_after <= plan.stats.rows_before, "{name}: more rows than now");
            if cap == 100 {
                fork100 = plan.stats.rows_after;
            }
            read_lines.push(format!("{name:<10} fork {cap:<4} {}", reads(&room, Some(&plan))));
            line += &format!(" {} |", cell(&plan, fc, fv));
        }
        line += &format!(" {:>14.3} |", fork100 as f64 / levels.stats.rows_after as f64);
        for budget in [ReadBudget::Median, ReadBudget::Strict] {
            let options = ForkAwareOptions::default().with_read_budget(budget);
            let (plan, fc) = timed(|| compress_fork_aware(&room, &options, &mut || {}));
            let check = if plan.changed.is_empty() { None } else { Some(options.max_chain) };
            let ((), fv) = timed(|| {
                verify_with_limits(&room, &plan, check, budget, &mut || {})
                    .expect("fork_aware verifies its budget")
            });
            let ratio = plan.stats.rows_after as f64 / levels.stats.rows_after as f64;
            budget_lines.push(format!(
                "{name:<10} {:<6} {} {ratio:>6.3} | {}",
                budget.name(),
                cell(&plan, fc, fv),
                reads(&room, Some(&plan))
            ));
        }
        let compressed = rewritten(&room, &levels);
        for cap in [100, 150] {
            let options = ForkAwareOptions { max_chain: cap, ..ForkAwareOptions::default() };
            let plan = compress_fork_aware(&compressed, &options, &mut || {});
            let check = if plan.changed.is_empty() { None } else { Some(cap) };
            verify_with_cap(&compressed, &plan, check, &mut || {}).expect("fork_aware verifies");
            let s = &plan.stats;
            let unmet = if s.chain_cap_unmet { " unmet" } else { "" };
            line += &format!(" {} ({}){unmet}", s.rows_after, s.max_chain_after);
        }
        println!("{line}");
    }
    println!("\nfork_aware 100 with a read budget: rows after (longest chain) compress/verify ms, ÷ levels | reads");
    for line in budget_lines {
        println!("{line}");
    }
    println!("\nreads of every group in range (p50/p99/max): groups walked, rows read by Synapse's query");
    for line in read_lines {
        println!("{line}");
    }
}
