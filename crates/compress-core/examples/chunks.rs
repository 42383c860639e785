//! Chunked runs against one run, on the benchmark rooms: the rows a room ends with when it is
//! compressed in 500-group chunks (each chunk loading what the SQL layer loads: the range, the
//! window before it and their ancestors; resuming from the saved state), for both methods.
//! `cargo run --release -p compress_core --example chunks [-- ROOM...]`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use common::{run_fork_chunks, run_level_chunks, Progress, Tables};
use compress_core::ForkAwareOptions;
use roomgen::{Config, RoomSink, Shape};

struct TableSink(Tables);

impl RoomSink for TableSink {
    fn group(&mut self, id: i64, _event_id: &str) {
        self.0.groups.insert(id, (None, Vec::new()));
    }
    fn edge(&mut self, group: i64, prev: i64) {
        self.0.groups.get_mut(&group).unwrap().0 = Some(prev);
    }
    fn row(&mut self, group: i64, event_type: &str, state_key: &str, event_id: &str) {
        self.0.groups.get_mut(&group).unwrap().1.push((event_type.into(), state_key.into(), event_id.into()));
    }
}

fn main() {
    let filter: Vec<String> = std::env::args().skip(1).collect();
    let rooms = [
        ("busy-5k-1", Shape::Busy, 5_000, 1),
        ("busy-20k", Shape::Busy, 20_000, 1),
        ("chain-20k", Shape::Chain, 20_000, 1),
    ];
    for (name, shape, groups, seed) in rooms {
        if !filter.is_empty() && !filter.iter().any(|f| f == name) {
            continue;
        }
        let mut cfg = Config::new("!bench:example.org", shape, groups);
        cfg.seed = seed;
        let mut sink = TableSink(Tables::default());
        roomgen::generate(&cfg, &mut sink);
        let tables = sink.0;
        let before = tables.rows();
        for cap in [100, 150] {
            let options = ForkAwareOptions { max_chain: cap, ..ForkAwareOptions::default() };
            let mut one = tables.clone();
            let started = Instant::now();
            run_fork_chunks(&mut one, &mut None, &options, usize::MAX, 1, false);
            let t_one = started.elapsed();
            let mut line = format!(
                "{name} fork_aware max_chain {cap}: rows {before} -> one run {} ({:.2}s); in chunks of",
                one.rows(),
                t_one.as_secs_f64()
            );
            for size in [100, 500, 2000] {
                let mut chunked = tables.clone();
                let started = Instant::now();
                let stats = run_fork_chunks(&mut chunked, &mut None, &options, size, usize::MAX, false);
                line += &format!(
                    " {size}: {} ({} chunks, {:+.2}%, {:.2}s, max chain {});",
                    chunked.rows(),
                    stats.len(),
                    100.0 * (chunked.rows() as f64 / one.rows() as f64 - 1.0),
                    started.elapsed().as_secs_f64(),
                    chunked.max_chain(chunked.groups.keys().copied()),
                );
            }
            println!("{line}");
        }
        let mut one = tables.clone();
        run_level_chunks(&mut one, &mut Progress::default(), &[100, 50, 25], usize::MAX, 1, false);
        let mut chunked = tables.clone();
        run_level_chunks(&mut chunked, &mut Progress::default(), &[100, 50, 25], 500, usize::MAX, false);
        println!("{name} levels: one run {}, chunks of 500 {}", one.rows(), chunked.rows());
    }
}
