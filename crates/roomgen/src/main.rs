//! `synapse-roomgen`: generates one Synapse room's state groups as PostgreSQL COPY text.
//!
//! Three files are written to `--out-dir`:
//! * `state_groups.tsv`        — `id, room_id, event_id`
//! * `state_group_edges.tsv`   — `state_group, prev_state_group`
//! * `state_groups_state.tsv`  — `state_group, room_id, type, state_key, event_id`
//!
//! The generator follows Synapse's storage rules: each group has one logical predecessor
//! (the group whose state it extends). A group is stored as a full snapshot (every key of its
//! resolved state, no edge) when it has no predecessor, when its predecessor's chain length
//! (counting the predecessor itself back to its snapshot) is at least `--snapshot-every`, or when
//! its state lacks a key of the predecessor (a delta can never remove a key). Otherwise it is
//! stored as a delta: one edge to the predecessor and exactly the keys whose event id differs.
//!
//! The generator keeps only the current state in memory plus one small change record per group;
//! moving to a fork's base replays those records (undo up to the common ancestor, redo down).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

/// "No event": the key is absent from the state.
const NONE: u32 = u32::MAX;

/// Busy rooms grow membership quickly until this many member keys exist.
const BUSY_INITIAL_MEMBERS: usize = 250;
/// Fork probability (per mille) and how far back a fork's base may lie.
const BUSY_FORK_PER_MILLE: u64 = 50;
const BUSY_FORK_MAX_BACK: u64 = 10;
/// Probability (per mille) of a state-resolution outcome that drops a member key.
const BUSY_DROP_PER_MILLE: u64 = 5;

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

// ---------------------------------------------------------------------------------------------
// Configuration and argument parsing
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    Chain,
    Busy,
}

impl Shape {
    fn name(self) -> &'static str {
        match self {
            Shape::Chain => "chain",
            Shape::Busy => "busy",
        }
    }
}

#[derive(Clone, Debug)]
struct Config {
    room: String,
    shape: Shape,
    groups: u64,
    first_id: u64,
    snapshot_every: u64,
    seed: u64,
    out_dir: PathBuf,
}

impl Config {
    fn new(room: &str, shape: Shape, groups: u64) -> Config {
        Config {
            room: room.to_string(),
            shape,
            groups,
            first_id: 1,
            snapshot_every: 100,
            seed: 1,
            out_dir: PathBuf::from("."),
        }
    }
}

fn parse_u64(opt: &str, v: &str) -> Result<u64, String> {
    v.parse::<u64>().map_err(|_| format!("{opt}: expected a non-negative integer, got {v:?}"))
}

/// Returns `Ok(None)` when help was requested.
fn parse_args<I: IntoIterator<Item = String>>(args: I) -> Result<Option<Config>, String> {
    let mut cfg = Config::new("", Shape::Chain, 1000);
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
                cfg.shape = match val.as_str() {
                    "chain" => Shape::Chain,
                    "busy" => Shape::Busy,
                    _ => return Err(format!("--shape: expected chain or busy, got {val:?}")),
                }
            }
            "--groups" => cfg.groups = parse_u64(&opt, &val)?,
            "--first-id" => cfg.first_id = parse_u64(&opt, &val)?,
            "--snapshot-every" => cfg.snapshot_every = parse_u64(&opt, &val)?,
            "--seed" => cfg.seed = parse_u64(&opt, &val)?,
            "--out-dir" => cfg.out_dir = PathBuf::from(val),
            _ => unreachable!(),
        }
    }
    cfg.room = room.ok_or("--room is required")?;
    if cfg.room.is_empty() {
        return Err("--room must not be empty".into());
    }
    if cfg.groups == 0 {
        return Err("--groups must be at least 1".into());
    }
    if cfg.groups >= u32::MAX as u64 / 2 {
        return Err("--groups is too large".into());
    }
    if cfg.snapshot_every == 0 {
        return Err("--snapshot-every must be at least 1".into());
    }
    if cfg.first_id.checked_add(cfg.groups).is_none_or(|end| end > i64::MAX as u64) {
        return Err("--first-id + --groups exceeds bigint".into());
    }
    Ok(Some(cfg))
}

// ---------------------------------------------------------------------------------------------
// PRNG (splitmix64) and event ids
// ---------------------------------------------------------------------------------------------

/// The splitmix64 finaliser: a bijection on u64.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(mix64(seed ^ 0x005E_ED0F_5EED_0F00))
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix64(self.0)
    }
    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
    fn per_mille(&mut self, p: u64) -> bool {
        self.below(1000) < p
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01B3);
    }
    h
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const EVENT_LEN: usize = 44;

/// `$` + 43 base64url characters. The first 11 characters encode a bijection of the event
/// number (for a fixed room and seed), so ids are unique within a room; the rest depend on the
/// room and seed too, so different rooms practically never share ids.
fn make_event_id(number: u64, room_key: u64) -> [u8; EVENT_LEN] {
    let mut out = [0u8; EVENT_LEN];
    out[0] = b'$';
    let mut v = mix64(number.wrapping_add(room_key));
    for i in 0..11 {
        out[1 + i] = B64[(v & 63) as usize];
        v >>= 6;
    }
    let mut h = mix64(number ^ room_key.rotate_left(17)) ^ room_key;
    let mut pos = 12;
    while pos < EVENT_LEN {
        h = mix64(h.wrapping_add(0x9E37_79B9_7F4A_7C15));
        let mut w = h;
        for _ in 0..10 {
            if pos == EVENT_LEN {
                break;
            }
            out[pos] = B64[(w & 63) as usize];
            w >>= 6;
            pos += 1;
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// COPY text output
// ---------------------------------------------------------------------------------------------

/// Appends `s` escaped for PostgreSQL's COPY text format.
fn push_escaped(buf: &mut Vec<u8>, s: &str) {
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

fn push_u64(buf: &mut Vec<u8>, mut v: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    buf.extend_from_slice(&tmp[i..]);
}

struct CopyWriter<W: Write> {
    groups: W,
    edges: W,
    state: W,
    room_col: Vec<u8>,
    prefix: Vec<u8>,
    line: Vec<u8>,
}

impl<W: Write> CopyWriter<W> {
    fn new(room: &str, groups: W, edges: W, state: W) -> CopyWriter<W> {
        let mut room_col = Vec::new();
        push_escaped(&mut room_col, room);
        CopyWriter { groups, edges, state, room_col, prefix: Vec::new(), line: Vec::with_capacity(256) }
    }

    fn group(&mut self, id: u64, event: &[u8]) -> io::Result<()> {
        self.line.clear();
        push_u64(&mut self.line, id);
        self.line.push(b'\t');
        self.line.extend_from_slice(&self.room_col);
        self.line.push(b'\t');
        self.line.extend_from_slice(event);
        self.line.push(b'\n');
        self.groups.write_all(&self.line)
    }

    fn edge(&mut self, id: u64, prev: u64) -> io::Result<()> {
        self.line.clear();
        push_u64(&mut self.line, id);
        self.line.push(b'\t');
        push_u64(&mut self.line, prev);
        self.line.push(b'\n');
        self.edges.write_all(&self.line)
    }

    /// Sets the group whose rows follow.
    fn start_rows(&mut self, id: u64) {
        self.prefix.clear();
        push_u64(&mut self.prefix, id);
        self.prefix.push(b'\t');
        self.prefix.extend_from_slice(&self.room_col);
        self.prefix.push(b'\t');
    }

    /// `key_col` is the escaped `type<TAB>state_key`.
    fn row(&mut self, key_col: &[u8], event: &[u8]) -> io::Result<()> {
        self.line.clear();
        self.line.extend_from_slice(&self.prefix);
        self.line.extend_from_slice(key_col);
        self.line.push(b'\t');
        self.line.extend_from_slice(event);
        self.line.push(b'\n');
        self.state.write_all(&self.line)
    }

    fn finish(mut self) -> io::Result<(W, W, W)> {
        self.groups.flush()?;
        self.edges.flush()?;
        self.state.flush()?;
        Ok((self.groups, self.edges, self.state))
    }
}

// ---------------------------------------------------------------------------------------------
// The room model
// ---------------------------------------------------------------------------------------------

/// Interned state keys and events of one room.
struct Model {
    /// Raw `(type, state_key)` per key slot.
    keys: Vec<(String, String)>,
    /// Escaped `type<TAB>state_key` per key slot, ready for output.
    key_cols: Vec<Vec<u8>>,
    /// Member key slots (for picking existing members).
    member_slots: Vec<u32>,
    events: Vec<[u8; EVENT_LEN]>,
    room_key: u64,
    next_user: u64,
}

impl Model {
    fn new(room: &str, seed: u64) -> Model {
        Model {
            keys: Vec::new(),
            key_cols: Vec::new(),
            member_slots: Vec::new(),
            events: Vec::new(),
            room_key: fnv1a(room.as_bytes()) ^ mix64(seed.wrapping_add(0xA5A5)),
            next_user: 1,
        }
    }

    fn add_key(&mut self, ty: &str, state_key: &str) -> u32 {
        let slot = self.keys.len() as u32;
        let mut col = Vec::with_capacity(ty.len() + state_key.len() + 1);
        push_escaped(&mut col, ty);
        col.push(b'\t');
        push_escaped(&mut col, state_key);
        self.keys.push((ty.to_string(), state_key.to_string()));
        self.key_cols.push(col);
        if ty == "m.room.member" {
            self.member_slots.push(slot);
        }
        slot
    }

    fn new_member(&mut self) -> u32 {
        let n = self.next_user;
        self.next_user += 1;
        self.add_key("m.room.member", &format!("@user{n}:example.org"))
    }

    fn new_event(&mut self) -> u32 {
        let n = self.events.len() as u64;
        self.events.push(make_event_id(n, self.room_key));
        n as u32
    }

    fn event(&self, e: u32) -> &[u8] {
        &self.events[e as usize]
    }
}

/// One state change of a group relative to its logical predecessor.
#[derive(Clone, Copy, Debug)]
struct Change {
    slot: u32,
    old: u32,
    new: u32,
}

#[derive(Clone, Copy, Debug)]
struct GroupInfo {
    /// Ordinal of the logical predecessor (NONE for the root).
    pred: u32,
    /// Hops from the root along logical predecessors.
    depth: u32,
    /// Chain length as Synapse counts it: 1 for a snapshot, predecessor's + 1 for a delta.
    chain_len: u32,
    /// The change relative to the predecessor (unused for the root).
    change: Change,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Stats {
    groups: u64,
    edges: u64,
    rows: u64,
    snapshots: u64,
    forks: u64,
    drops: u64,
    keys: u64,
    events: u64,
    max_chain: u64,
}

/// What the observer sees after each group (the generator's intended state).
#[cfg_attr(not(test), allow(dead_code))]
struct GroupView<'a> {
    id: u64,
    /// Logical predecessor's id (also for snapshots); None for the root.
    pred_id: Option<u64>,
    snapshot: bool,
    /// Event per key slot, NONE when absent.
    state: &'a [u32],
}

/// Slots of the non-member keys of a busy room.
struct BusySlots {
    power_levels: u32,
    name: u32,
    topic: u32,
    creator: u32,
}

/// Busy rooms start with this linear creation sequence (one event per group).
const BUSY_SETUP: usize = 7;

struct Generator<'o, W: Write> {
    cfg: Config,
    model: Model,
    rng: Rng,
    infos: Vec<GroupInfo>,
    /// State of group `cur_ord` (event per slot).
    cur: Vec<u32>,
    cur_ord: u32,
    out: CopyWriter<W>,
    stats: Stats,
    observer: &'o mut dyn FnMut(&GroupView<'_>),
    busy: Option<BusySlots>,
}

impl<W: Write> Generator<'_, W> {
    fn id_of(&self, ord: u32) -> u64 {
        self.cfg.first_id + ord as u64
    }

    fn add_key(&mut self, ty: &str, state_key: &str) -> u32 {
        self.cur.push(NONE);
        self.model.add_key(ty, state_key)
    }

    fn new_member(&mut self) -> u32 {
        self.cur.push(NONE);
        self.model.new_member()
    }

    /// Makes `cur` the state of group `target` by undoing changes up to the common ancestor
    /// with the current group and redoing those down to `target`.
    fn reposition(&mut self, target: u32) {
        let (mut a, mut b) = (self.cur_ord, target);
        let mut redo = Vec::new();
        while self.infos[a as usize].depth > self.infos[b as usize].depth {
            let c = self.infos[a as usize].change;
            self.cur[c.slot as usize] = c.old;
            a = self.infos[a as usize].pred;
        }
        while self.infos[b as usize].depth > self.infos[a as usize].depth {
            redo.push(b);
            b = self.infos[b as usize].pred;
        }
        while a != b {
            let c = self.infos[a as usize].change;
            self.cur[c.slot as usize] = c.old;
            a = self.infos[a as usize].pred;
            redo.push(b);
            b = self.infos[b as usize].pred;
        }
        for &g in redo.iter().rev() {
            let c = self.infos[g as usize].change;
            self.cur[c.slot as usize] = c.new;
        }
        self.cur_ord = target;
    }

    fn write_snapshot(&mut self, id: u64) -> io::Result<()> {
        self.out.start_rows(id);
        for (slot, &e) in self.cur.iter().enumerate() {
            if e != NONE {
                self.out.row(&self.model.key_cols[slot], &self.model.events[e as usize])?;
                self.stats.rows += 1;
            }
        }
        self.stats.snapshots += 1;
        Ok(())
    }

    fn emit_root(&mut self) -> io::Result<()> {
        let id = self.id_of(0);
        let create = self.add_key("m.room.create", "");
        let ev = self.model.new_event();
        self.cur[create as usize] = ev;
        let mut group_event = ev;
        match self.cfg.shape {
            Shape::Chain => {
                let m = self.new_member();
                let ev = self.model.new_event();
                self.cur[m as usize] = ev;
                group_event = ev;
            }
            Shape::Busy => {
                // Pre-create the setup keys so their slots are fixed; they enter the state
                // one per group during the creation sequence.
                let creator = self.new_member();
                let power_levels = self.add_key("m.room.power_levels", "");
                self.add_key("m.room.join_rules", "");
                self.add_key("m.room.history_visibility", "");
                let name = self.add_key("m.room.name", "");
                let topic = self.add_key("m.room.topic", "");
                self.busy = Some(BusySlots { power_levels, name, topic, creator });
            }
        }
        self.out.group(id, self.model.event(group_event))?;
        self.write_snapshot(id)?;
        self.infos.push(GroupInfo {
            pred: NONE,
            depth: 0,
            chain_len: 1,
            change: Change { slot: 0, old: NONE, new: NONE },
        });
        self.cur_ord = 0;
        self.stats.groups += 1;
        self.stats.max_chain = 1;
        (self.observer)(&GroupView { id, pred_id: None, snapshot: true, state: &self.cur });
        Ok(())
    }

    /// Chooses the predecessor ordinal for group `ord` (> 0).
    fn choose_pred(&mut self, ord: u32) -> u32 {
        let latest = ord - 1;
        if self.cfg.shape == Shape::Busy && (ord as usize) > BUSY_SETUP {
            // Forks never reach back into the creation sequence.
            let max_back = (BUSY_FORK_MAX_BACK).min((latest as u64) - (BUSY_SETUP as u64 - 1));
            if max_back > 0 && self.rng.per_mille(BUSY_FORK_PER_MILLE) {
                let back = 1 + self.rng.below(max_back);
                return latest - back as u32;
            }
        }
        latest
    }

    /// Picks the change for a busy group whose predecessor state is `cur`.
    /// Returns (slot, new event or NONE for a drop).
    fn busy_change(&mut self, ord: u32) -> (u32, u32) {
        let slots = self.busy.as_ref().expect("busy slots");
        let (creator, power_levels, name, topic) =
            (slots.creator, slots.power_levels, slots.name, slots.topic);
        if (ord as usize) < BUSY_SETUP {
            // Creation sequence: creator join, power levels, join rules, history visibility,
            // name, topic (slots 1..=6 in this order).
            let slot = ord;
            return (slot, self.model.new_event());
        }
        if self.rng.per_mille(BUSY_DROP_PER_MILLE) {
            let members = self.model.member_slots.len() as u64;
            for _ in 0..32 {
                let s = self.model.member_slots[self.rng.below(members) as usize];
                if s != creator && self.cur[s as usize] != NONE {
                    return (s, NONE);
                }
            }
        }
        let join_pm = if self.model.member_slots.len() < BUSY_INITIAL_MEMBERS { 700 } else { 80 };
        let slot = if self.rng.per_mille(join_pm) {
            self.new_member()
        } else {
            let r = self.rng.below(100);
            if r < 80 {
                // 35: leave / re-join, 45: display-name change: both a new member event for an
                // existing member key (if the key is absent on this branch it comes back).
                let members = self.model.member_slots.len() as u64;
                self.model.member_slots[self.rng.below(members) as usize]
            } else if r < 88 {
                topic
            } else if r < 92 {
                name
            } else {
                power_levels
            }
        };
        (slot, self.model.new_event())
    }

    fn emit_group(&mut self, ord: u32) -> io::Result<()> {
        let id = self.id_of(ord);
        let pred = self.choose_pred(ord);
        if pred != self.cur_ord {
            self.reposition(pred);
        }
        if pred != ord - 1 {
            self.stats.forks += 1;
        }
        let (slot, new) = match self.cfg.shape {
            Shape::Chain => {
                let s = self.new_member();
                (s, self.model.new_event())
            }
            Shape::Busy => self.busy_change(ord),
        };
        let dropped = new == NONE;
        let change = Change { slot, old: self.cur[slot as usize], new };
        self.cur[slot as usize] = new;
        let pinfo = self.infos[pred as usize];
        let snapshot = dropped || pinfo.chain_len as u64 >= self.cfg.snapshot_every;
        let chain_len = if snapshot { 1 } else { pinfo.chain_len + 1 };

        // state_groups.event_id: the event that produced the state; for a state-resolution
        // outcome a fresh event that is not itself in the state.
        let group_event = if dropped { self.model.new_event() } else { new };
        self.out.group(id, self.model.event(group_event))?;
        if snapshot {
            self.write_snapshot(id)?;
        } else {
            let pid = self.id_of(pred);
            self.out.edge(id, pid)?;
            self.stats.edges += 1;
            self.out.start_rows(id);
            self.out.row(&self.model.key_cols[slot as usize], &self.model.events[new as usize])?;
            self.stats.rows += 1;
        }
        if dropped {
            self.stats.drops += 1;
        }
        self.infos.push(GroupInfo { pred, depth: pinfo.depth + 1, chain_len, change });
        self.cur_ord = ord;
        self.stats.groups += 1;
        self.stats.max_chain = self.stats.max_chain.max(chain_len as u64);
        let pred_id = Some(self.id_of(pred));
        (self.observer)(&GroupView { id, pred_id, snapshot, state: &self.cur });
        Ok(())
    }
}

/// Generates the room described by `cfg` into `out`, calling `observer` after every group.
fn generate<W: Write>(
    cfg: &Config,
    out: CopyWriter<W>,
    observer: &mut dyn FnMut(&GroupView<'_>),
) -> io::Result<(Stats, Model, (W, W, W))> {
    let mut g = Generator {
        cfg: cfg.clone(),
        model: Model::new(&cfg.room, cfg.seed),
        rng: Rng::new(cfg.seed),
        infos: Vec::with_capacity(cfg.groups as usize),
        cur: Vec::new(),
        cur_ord: 0,
        out,
        stats: Stats::default(),
        observer,
        busy: None,
    };
    g.emit_root()?;
    for ord in 1..cfg.groups as u32 {
        g.emit_group(ord)?;
    }
    g.stats.keys = g.model.keys.len() as u64;
    g.stats.events = g.model.events.len() as u64;
    let writers = g.out.finish()?;
    Ok((g.stats, g.model, writers))
}

fn run(cfg: &Config) -> io::Result<Stats> {
    std::fs::create_dir_all(&cfg.out_dir)?;
    let open = |name: &str| -> io::Result<BufWriter<File>> {
        Ok(BufWriter::with_capacity(1 << 20, File::create(cfg.out_dir.join(name))?))
    };
    let out = CopyWriter::new(
        &cfg.room,
        open("state_groups.tsv")?,
        open("state_group_edges.tsv")?,
        open("state_groups_state.tsv")?,
    );
    let (stats, _model, _w) = generate(cfg, out, &mut |_| {})?;
    Ok(stats)
}

fn main() {
    let cfg = match parse_args(std::env::args().skip(1)) {
        Ok(Some(cfg)) => cfg,
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
    match run(&cfg) {
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
            cfg.out_dir.display()
        ),
        Err(e) => {
            eprintln!("synapse-roomgen: {e}");
            std::process::exit(1);
        }
    }
}

#[cfg(test)]
mod tests;
