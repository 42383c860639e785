//! `roomgen`: generates one Synapse room's state groups, deterministically for a seed.
//!
//! The generator is the one source of the rooms used by the demo, the tests, the database
//! benchmark (`scripts/bench.sh`, through the `synapse-roomgen` binary and its COPY files) and
//! the micro-benchmark of the pure algorithm (`crates/compress-core/benches`). It hands the room
//! to a [`RoomSink`]: [`CopyWriter`] writes PostgreSQL COPY text, other sinks can build the room
//! in memory.
//!
//! The generator follows Synapse's storage rules: each group has one logical predecessor
//! (the group whose state it extends). A group is stored as a full snapshot (every key of its
//! resolved state, no edge) when it has no predecessor, when its predecessor's chain length
//! (counting the predecessor itself back to its snapshot) is at least `snapshot_every`, or when
//! its state lacks a key of the predecessor (a delta can never remove a key). Otherwise it is
//! stored as a delta: one edge to the predecessor and exactly the keys whose event id differs.
//!
//! The generator keeps only the current state in memory plus one small change record per group;
//! moving to a fork's base replays those records (undo up to the common ancestor, redo down).

use std::fmt;

mod copy;

pub use copy::CopyWriter;

/// "No event": the key is absent from the state.
const NONE: u32 = u32::MAX;

/// Busy rooms grow membership quickly until this many member keys exist.
const BUSY_INITIAL_MEMBERS: usize = 250;
/// Fork probability (per mille) and how far back a fork's base may lie.
const BUSY_FORK_PER_MILLE: u64 = 50;
const BUSY_FORK_MAX_BACK: u64 = 10;
/// Probability (per mille) of a state-resolution outcome that drops a member key.
const BUSY_DROP_PER_MILLE: u64 = 5;

// ---------------------------------------------------------------------------------------------
// Public interface
// ---------------------------------------------------------------------------------------------

/// The shape of a generated room.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Group 1 holds `m.room.create` and the first member; every later group adds one member.
    Chain,
    /// A realistic room: a creation sequence, then joins, leaves, renames, topic / name /
    /// power-level changes, forks up to 10 groups back and state-resolution outcomes that drop
    /// a member key (always stored as snapshots).
    Busy,
}

impl Shape {
    /// `"chain"` or `"busy"`.
    pub fn name(self) -> &'static str {
        match self {
            Shape::Chain => "chain",
            Shape::Busy => "busy",
        }
    }

    /// The shape called `name` ([`Shape::name`]'s inverse).
    pub fn from_name(name: &str) -> Option<Shape> {
        match name {
            "chain" => Some(Shape::Chain),
            "busy" => Some(Shape::Busy),
            _ => None,
        }
    }
}

/// What to generate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Room id, e.g. `!busy:example.org`; it also seeds the event ids.
    pub room: String,
    pub shape: Shape,
    /// Number of state groups (at least 1).
    pub groups: u64,
    /// Id of the first group; ids are consecutive.
    pub first_id: u64,
    /// A group is stored as a snapshot when its predecessor's chain length is at least this.
    pub snapshot_every: u64,
    /// PRNG seed: the room is a function of the whole configuration.
    pub seed: u64,
}

impl Config {
    /// `groups` groups of `shape` with the binary's defaults: first id 1, a snapshot every 100,
    /// seed 1.
    pub fn new(room: &str, shape: Shape, groups: u64) -> Config {
        Config { room: room.to_string(), shape, groups, first_id: 1, snapshot_every: 100, seed: 1 }
    }

    /// Checks the limits [`generate`] relies on.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.room.is_empty() {
            return Err(ConfigError::EmptyRoom);
        }
        if self.groups == 0 {
            return Err(ConfigError::NoGroups);
        }
        if self.groups >= u32::MAX as u64 / 2 {
            return Err(ConfigError::TooManyGroups);
        }
        if self.snapshot_every == 0 {
            return Err(ConfigError::NoSnapshotInterval);
        }
        if self.first_id.checked_add(self.groups).is_none_or(|end| end > i64::MAX as u64) {
            return Err(ConfigError::IdsExceedBigint);
        }
        Ok(())
    }
}

/// Why a [`Config`] cannot be generated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    EmptyRoom,
    NoGroups,
    TooManyGroups,
    NoSnapshotInterval,
    IdsExceedBigint,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConfigError::EmptyRoom => "the room id must not be empty",
            ConfigError::NoGroups => "the number of groups must be at least 1",
            ConfigError::TooManyGroups => "the number of groups is too large",
            ConfigError::NoSnapshotInterval => "the snapshot interval must be at least 1",
            ConfigError::IdsExceedBigint => "the first id plus the number of groups exceeds bigint",
        })
    }
}

impl std::error::Error for ConfigError {}

/// Counts of what was generated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub groups: u64,
    pub edges: u64,
    /// `state_groups_state` rows.
    pub rows: u64,
    pub snapshots: u64,
    /// Groups whose predecessor is not the group generated just before them.
    pub forks: u64,
    /// State-resolution outcomes that dropped a member key.
    pub drops: u64,
    /// Distinct `(type, state_key)` keys.
    pub keys: u64,
    /// Distinct event ids (including the events of key-dropping groups, not in any state).
    pub events: u64,
    /// Longest chain as Synapse counts it (a snapshot is 1).
    pub max_chain: u64,
}

/// Receives a generated room, in the order of Synapse's tables.
///
/// For each group, in ascending id order (consecutive ids from [`Config::first_id`]): first
/// [`group`](RoomSink::group), then for a delta one [`edge`](RoomSink::edge) to an older group,
/// then the group's state rows (every key of a snapshot; the changed key of a delta). Nothing of
/// a group comes after anything of a later group.
pub trait RoomSink {
    /// A `state_groups` row (`id`, the room, `event_id`).
    fn group(&mut self, id: i64, event_id: &str);
    /// A `state_group_edges` row; `prev < group`.
    fn edge(&mut self, group: i64, prev: i64);
    /// A `state_groups_state` row (`group`, the room, `event_type`, `state_key`, `event_id`).
    fn row(&mut self, group: i64, event_type: &str, state_key: &str, event_id: &str);
}

/// Generates the room described by `cfg` into `sink` and returns its counts.
///
/// Panics if `cfg` is not valid ([`Config::validate`]).
pub fn generate(cfg: &Config, sink: &mut impl RoomSink) -> Stats {
    generate_observed(cfg, sink, &mut |_| {}).0
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
// The room model
// ---------------------------------------------------------------------------------------------

/// Interned state keys and events of one room.
struct Model {
    /// `(type, state_key)` per key slot.
    keys: Vec<(String, String)>,
    /// Member key slots (for picking existing members).
    member_slots: Vec<u32>,
    /// Every event id, `EVENT_LEN` ASCII bytes each, by event number.
    events: String,
    room_key: u64,
    next_user: u64,
}

impl Model {
    fn new(room: &str, seed: u64) -> Model {
        Model {
            keys: Vec::new(),
            member_slots: Vec::new(),
            events: String::new(),
            room_key: fnv1a(room.as_bytes()) ^ mix64(seed.wrapping_add(0xA5A5)),
            next_user: 1,
        }
    }

    fn add_key(&mut self, ty: &str, state_key: &str) -> u32 {
        let slot = self.keys.len() as u32;
        self.keys.push((ty.to_string(), state_key.to_string()));
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

    fn event_count(&self) -> usize {
        self.events.len() / EVENT_LEN
    }

    fn new_event(&mut self) -> u32 {
        let n = self.event_count() as u64;
        let id = make_event_id(n, self.room_key);
        self.events.push_str(std::str::from_utf8(&id).expect("event ids are ASCII"));
        n as u32
    }

    fn event(&self, e: u32) -> &str {
        let at = e as usize * EVENT_LEN;
        &self.events[at..at + EVENT_LEN]
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

struct Generator<'a, S: RoomSink> {
    cfg: &'a Config,
    model: Model,
    rng: Rng,
    infos: Vec<GroupInfo>,
    /// State of group `cur_ord` (event per slot).
    cur: Vec<u32>,
    cur_ord: u32,
    out: &'a mut S,
    stats: Stats,
    observer: &'a mut dyn FnMut(&GroupView<'_>),
    busy: Option<BusySlots>,
}

impl<S: RoomSink> Generator<'_, S> {
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

    fn write_snapshot(&mut self, id: u64) {
        for (slot, &e) in self.cur.iter().enumerate() {
            if e != NONE {
                let (ty, state_key) = &self.model.keys[slot];
                self.out.row(id as i64, ty, state_key, self.model.event(e));
                self.stats.rows += 1;
            }
        }
        self.stats.snapshots += 1;
    }

    fn emit_root(&mut self) {
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
        self.out.group(id as i64, self.model.event(group_event));
        self.write_snapshot(id);
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

    fn emit_group(&mut self, ord: u32) {
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
        self.out.group(id as i64, self.model.event(group_event));
        if snapshot {
            self.write_snapshot(id);
        } else {
            let pid = self.id_of(pred);
            self.out.edge(id as i64, pid as i64);
            self.stats.edges += 1;
            let (ty, state_key) = &self.model.keys[slot as usize];
            self.out.row(id as i64, ty, state_key, self.model.event(new));
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
    }
}

/// [`generate`], calling `observer` after every group; also returns the room's keys and events.
fn generate_observed<S: RoomSink>(
    cfg: &Config,
    sink: &mut S,
    observer: &mut dyn FnMut(&GroupView<'_>),
) -> (Stats, Model) {
    if let Err(e) = cfg.validate() {
        panic!("roomgen: invalid configuration: {e}");
    }
    let mut g = Generator {
        cfg,
        model: Model::new(&cfg.room, cfg.seed),
        rng: Rng::new(cfg.seed),
        infos: Vec::with_capacity(cfg.groups as usize),
        cur: Vec::new(),
        cur_ord: 0,
        out: sink,
        stats: Stats::default(),
        observer,
        busy: None,
    };
    g.emit_root();
    for ord in 1..cfg.groups as u32 {
        g.emit_group(ord);
    }
    g.stats.keys = g.model.keys.len() as u64;
    g.stats.events = g.model.event_count() as u64;
    (g.stats, g.model)
}

#[cfg(test)]
mod tests;
