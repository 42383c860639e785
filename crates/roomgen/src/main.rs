//! `synapse-roomgen`: generates one Synapse room's state groups (the `roomgen` library) as
//! PostgreSQL COPY text.
//!
//! Three files are written to `--out-dir`:
//! * `state_groups.tsv`        — `id, room_id, event_id`
//! * `state_group_edges.tsv`   — `state_group, prev_state_group`
//! * `state_groups_state.tsv`  — `state_group, room_id, type, state_key, event_id`

use std::fs::File;
use std::io::{self, BufWriter};
use std::path::PathBuf;
use std::time::Instant;

use roomgen::{Config, ConfigError, CopyWriter, Shape, Stats};

const USAGE: &str = "\
usage: synapse-roomgen --room ROOM_ID [--shape chain|busy] [--groups N] [--first-id N]
                       [--snapshot-every N] [--seed N] [--out-dir DIR]

Writes state_groups.tsv, state_group_edges.tsv and state_groups_state.tsv (PostgreSQL COPY
text format) for one generated room into DIR.

  --room ROOM_ID        room id, e.g. '!busy:example.org' (required)
  --shape chain|busy    chain: each group adds one new member; busy: realistic room with
                        forks and key-dropping snapshots (default chain)
  --groups N            number of state groups (default 1000)
  --first-id N          id of the first group; ids are consecutive (default 1)
  --snapshot-every N    store a snapshot when the predecessor's chain length is >= N (default 100)
  --seed N              PRNG seed; output is deterministic for a seed (default 1)
  --out-dir DIR         output directory, created if missing (default .)
";

/// The parsed command line.
#[derive(Clone, Debug)]
struct Args {
    cfg: Config,
    out_dir: PathBuf,
}

fn parse_u64(opt: &str, v: &str) -> Result<u64, String> {
    v.parse::<u64>().map_err(|_| format!("{opt}: expected a non-negative integer, got {v:?}"))
}

/// Returns `Ok(None)` when help was requested.
fn parse_args<I: IntoIterator<Item = String>>(args: I) -> Result<Option<Args>, String> {
    let mut cfg = Config::new("", Shape::Chain, 1000);
    let mut out_dir = PathBuf::from(".");
    let mut room = None;
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        if arg == "-h" || arg == "--help" {
            return Ok(None);
        }
        let (opt, inline) = match arg.split_once('=') {
            Some((o, v)) if o.starts_with("--") => (o.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        if !matches!(
            opt.as_str(),
            "--room" | "--shape" | "--groups" | "--first-id" | "--snapshot-every" | "--seed" | "--out-dir"
        ) {
            return Err(format!("unknown argument {arg:?}"));
        }
        let val = match inline {
            Some(v) => v,
            None => it.next().ok_or_else(|| format!("{opt} needs a value"))?,
        };
        match opt.as_str() {
            "--room" => room = Some(val),
            "--shape" => {
                cfg.shape = Shape::from_name(&val)
                    .ok_or_else(|| format!("--shape: expected chain or busy, got {val:?}"))?
            }
            "--groups" => cfg.groups = parse_u64(&opt, &val)?,
            "--first-id" => cfg.first_id = parse_u64(&opt, &val)?,
            "--snapshot-every" => cfg.snapshot_every = parse_u64(&opt, &val)?,
            "--seed" => cfg.seed = parse_u64(&opt, &val)?,
            "--out-dir" => out_dir = PathBuf::from(val),
            _ => unreachable!(),
        }
    }
    cfg.room = room.ok_or("--room is required")?;
    cfg.validate().map_err(|e| {
        match e {
            ConfigError::EmptyRoom => "--room must not be empty",
            ConfigError::NoGroups => "--groups must be at least 1",
            ConfigError::TooManyGroups => "--groups is too large",
            ConfigError::NoSnapshotInterval => "--snapshot-every must be at least 1",
            ConfigError::IdsExceedBigint => "--first-id + --groups exceeds bigint",
        }
        .to_string()
    })?;
    Ok(Some(Args { cfg, out_dir }))
}

fn run(args: &Args) -> io::Result<Stats> {
    std::fs::create_dir_all(&args.out_dir)?;
    let open = |name: &str| -> io::Result<BufWriter<File>> {
        Ok(BufWriter::with_capacity(1 << 20, File::create(args.out_dir.join(name))?))
    };
    let mut out = CopyWriter::new(
        &args.cfg.room,
        open("state_groups.tsv")?,
        open("state_group_edges.tsv")?,
        open("state_groups_state.tsv")?,
    );
    let stats = roomgen::generate(&args.cfg, &mut out);
    out.finish()?;
    Ok(stats)
}

fn main() {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            print!("{USAGE}");
            return;
        }
        Err(e) => {
            eprintln!("synapse-roomgen: {e}\n\n{USAGE}");
            std::process::exit(2);
        }
    };
    let t0 = Instant::now();
    let cfg = &args.cfg;
    match run(&args) {
        Ok(s) => eprintln!(
            "synapse-roomgen: room {} shape {}: groups {} (ids {}..{}), edges {}, rows {}, \
             snapshots {}, forks {}, drops {}, keys {}, max chain {}, {:.2}s -> {}",
            cfg.room,
            cfg.shape.name(),
            s.groups,
            cfg.first_id,
            cfg.first_id + s.groups - 1,
            s.edges,
            s.rows,
            s.snapshots,
            s.forks,
            s.drops,
            s.keys,
            s.max_chain,
            t0.elapsed().as_secs_f64(),
            args.out_dir.display()
        ),
        Err(e) => {
            eprintln!("synapse-roomgen: {e}");
            std::process::exit(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argument_parsing() {
        let args = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        let a = parse_args(args(
            "--room !r:x --shape busy --groups 5 --first-id 10 --snapshot-every 3 --seed 9 --out-dir /tmp/x",
        ))
        .unwrap()
        .unwrap();
        let c = &a.cfg;
        assert_eq!(
            (c.room.as_str(), c.shape, c.groups, c.first_id, c.snapshot_every, c.seed),
            ("!r:x", Shape::Busy, 5, 10, 3, 9)
        );
        assert_eq!(a.out_dir, PathBuf::from("/tmp/x"));
        let a = parse_args(args("--room=!r:x --groups=7")).unwrap().unwrap();
        let c = &a.cfg;
        assert_eq!((c.shape, c.groups, c.first_id, c.snapshot_every, c.seed), (Shape::Chain, 7, 1, 100, 1));
        assert_eq!(a.out_dir, PathBuf::from("."));
        assert!(parse_args(args("--help")).unwrap().is_none());
        assert!(parse_args(args("--groups 5")).is_err());
        assert!(parse_args(args("--room r --shape star")).is_err());
        assert_eq!(parse_args(args("--room r --groups 0")).unwrap_err(), "--groups must be at least 1");
        assert!(parse_args(args("--room r --groups 2147483647")).is_err());
        assert!(parse_args(args("--room r --snapshot-every 0")).is_err());
        assert!(parse_args(args("--room r --first-id 9223372036854775800 --groups 10")).is_err());
        assert!(parse_args(args("--room= --groups 1")).is_err());
        assert!(parse_args(args("--room r --bogus 1")).is_err());
        assert!(parse_args(args("--room r --groups")).is_err());
        assert!(parse_args(args("--room r --groups x")).is_err());
    }

    /// The files hold exactly what the library's `CopyWriter` produces in memory.
    #[test]
    fn files_match_memory() {
        let dir = std::env::temp_dir().join(format!("roomgen-test-{}", std::process::id()));
        let mut cfg = Config::new("!files:example.org", Shape::Busy, 2000);
        cfg.seed = 7;
        let stats = run(&Args { cfg: cfg.clone(), out_dir: dir.clone() }).unwrap();
        let read = |n: &str| std::fs::read(dir.join(n)).unwrap();
        let mut mem = CopyWriter::new(&cfg.room, Vec::new(), Vec::new(), Vec::new());
        let mem_stats = roomgen::generate(&cfg, &mut mem);
        let (groups, edges, state) = mem.finish().unwrap();
        assert_eq!(stats, mem_stats);
        assert_eq!(read("state_groups.tsv"), groups);
        assert_eq!(read("state_group_edges.tsv"), edges);
        assert_eq!(read("state_groups_state.tsv"), state);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
