//! Tests: generate rooms, parse the COPY output back, resolve it the way Synapse does and compare
//! with the generator's intended state.

use super::*;
use crate::copy::push_escaped;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

type Key = (String, String);

/// Undoes COPY text escaping of one field (`\N` is not expected in our output).
fn unescape(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('\\') => out.push('\\'),
                Some('t') => out.push('\t'),
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                other => panic!("unexpected escape \\{other:?} in {field:?}"),
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn parse_lines(data: &[u8], ncols: usize) -> Vec<Vec<String>> {
    let text = std::str::from_utf8(data).expect("utf8");
    assert!(text.is_empty() || text.ends_with('\n'), "output must end with a newline");
    text.lines()
        .map(|line| {
            let cols: Vec<String> = line.split('\t').map(unescape).collect();
            assert_eq!(cols.len(), ncols, "bad line {line:?}");
            assert!(cols.iter().all(|c| c != "\\N"), "unexpected null in {line:?}");
            cols
        })
        .collect()
}

/// Parsed output of one room.
struct Parsed {
    groups: BTreeMap<u64, (String, String)>, // id -> (room, event)
    edges: Vec<(u64, u64)>,
    rows: BTreeMap<u64, Vec<(Key, String)>>, // group -> rows
    room_of_rows: Vec<(u64, String)>,
    nrows: usize,
}

fn parse(groups: &[u8], edges: &[u8], state: &[u8]) -> Parsed {
    let mut p = Parsed {
        groups: BTreeMap::new(),
        edges: Vec::new(),
        rows: BTreeMap::new(),
        room_of_rows: Vec::new(),
        nrows: 0,
    };
    for c in parse_lines(groups, 3) {
        let id: u64 = c[0].parse().unwrap();
        assert!(p.groups.insert(id, (c[1].clone(), c[2].clone())).is_none(), "duplicate group {id}");
    }
    for c in parse_lines(edges, 2) {
        p.edges.push((c[0].parse().unwrap(), c[1].parse().unwrap()));
    }
    for mut c in parse_lines(state, 5) {
        let g: u64 = c[0].parse().unwrap();
        let ev = c.pop().unwrap();
        let sk = c.pop().unwrap();
        let ty = c.pop().unwrap();
        let room = c.pop().unwrap();
        p.room_of_rows.push((g, room));
        p.rows.entry(g).or_default().push(((ty, sk), ev));
        p.nrows += 1;
    }
    p
}

/// Synapse's read path, literally: follow edges from the group to its root, gather all rows of
/// those groups, and per (type, state_key) keep the row of the highest state_group id.
fn resolve_all(p: &Parsed) -> BTreeMap<u64, HashMap<Key, String>> {
    let mut prev: HashMap<u64, Vec<u64>> = HashMap::new();
    for &(g, pr) in &p.edges {
        prev.entry(g).or_default().push(pr);
    }
    let empty = Vec::new();
    let mut out = BTreeMap::new();
    for &g in p.groups.keys() {
        // Recursive CTE (UNION semantics: visit each group once).
        let mut seen = BTreeSet::new();
        let mut todo = vec![g];
        while let Some(x) = todo.pop() {
            if seen.insert(x) {
                todo.extend(prev.get(&x).unwrap_or(&empty).iter().copied());
            }
        }
        let mut best: HashMap<&Key, (u64, &String)> = HashMap::new();
        for &x in &seen {
            for (k, ev) in p.rows.get(&x).unwrap_or(empty_rows()) {
                match best.get(k) {
                    Some(&(bg, _)) if bg >= x => {}
                    _ => {
                        best.insert(k, (x, ev));
                    }
                }
            }
        }
        let st: HashMap<Key, String> = best.into_iter().map(|(k, (_, e))| (k.clone(), e.clone())).collect();
        out.insert(g, st);
    }
    out
}

fn empty_rows() -> &'static Vec<(Key, String)> {
    static EMPTY: Vec<(Key, String)> = Vec::new();
    &EMPTY
}

/// What the generator intended for each group.
struct Intended {
    pred: Option<u64>,
    snapshot: bool,
    state: Vec<u32>,
}

struct Generated {
    stats: Stats,
    model: Model,
    intended: BTreeMap<u64, Intended>,
    groups: Vec<u8>,
    edges: Vec<u8>,
    state: Vec<u8>,
}

fn gen_mem(cfg: &Config, keep_states: bool) -> Generated {
    let mut out = CopyWriter::new(&cfg.room, Vec::new(), Vec::new(), Vec::new());
    let mut intended = BTreeMap::new();
    let (stats, model) = generate_observed(cfg, &mut out, &mut |v: &GroupView<'_>| {
        intended.insert(
            v.id,
            Intended {
                pred: v.pred_id,
                snapshot: v.snapshot,
                state: if keep_states { v.state.to_vec() } else { Vec::new() },
            },
        );
    });
    let (groups, edges, state) = out.finish().unwrap();
    Generated { stats, model, intended, groups, edges, state }
}

fn state_map(model: &Model, st: &[u32]) -> HashMap<Key, String> {
    st.iter()
        .enumerate()
        .filter(|(_, &e)| e != NONE)
        .map(|(slot, &e)| (model.keys[slot].clone(), model.event(e).to_string()))
        .collect()
}

/// Checks everything the brief asks for on one generated room; returns the parsed output.
fn check_room(cfg: &Config) -> (Generated, Parsed) {
    let g = gen_mem(cfg, true);
    let p = parse(&g.groups, &g.edges, &g.state);

    // Groups: consecutive ids from first_id, all in the room.
    let ids: Vec<u64> = p.groups.keys().copied().collect();
    let expect: Vec<u64> = (cfg.first_id..cfg.first_id + cfg.groups).collect();
    assert_eq!(ids, expect);
    assert!(p.groups.values().all(|(room, _)| room == &cfg.room));
    assert!(p.room_of_rows.iter().all(|(_, room)| room == &cfg.room));
    assert_eq!(p.nrows as u64, g.stats.rows);
    assert_eq!(p.edges.len() as u64, g.stats.edges);

    // Edges: prev < group, at most one per group, both ends exist, and the edge goes to the
    // generator's logical predecessor.
    let mut edge_of = HashMap::new();
    for &(grp, prev) in &p.edges {
        assert!(prev < grp, "edge {grp} -> {prev} does not satisfy prev < group");
        assert!(p.groups.contains_key(&grp) && p.groups.contains_key(&prev));
        assert!(edge_of.insert(grp, prev).is_none(), "group {grp} has two edges");
        assert_eq!(g.intended[&grp].pred, Some(prev));
    }

    // No duplicate (group, type, state_key); every row's group exists.
    for (grp, rows) in &p.rows {
        assert!(p.groups.contains_key(grp));
        let mut seen = HashSet::new();
        for (k, _) in rows {
            assert!(seen.insert(k), "duplicate row {grp} {k:?}");
        }
    }

    // Resolution equals the intended state for every group.
    let resolved = resolve_all(&p);
    let intended: BTreeMap<u64, HashMap<Key, String>> =
        g.intended.iter().map(|(&id, i)| (id, state_map(&g.model, &i.state))).collect();
    for (id, want) in &intended {
        assert_eq!(&resolved[id], want, "group {id} resolves differently");
    }

    // Snapshot / delta shape, and Synapse's snapshot rule.
    let mut chain_len: HashMap<u64, u64> = HashMap::new();
    for (&id, i) in &g.intended {
        let rows: HashMap<Key, String> = p.rows.get(&id).cloned().unwrap_or_default().into_iter().collect();
        let want = &intended[&id];
        assert_eq!(i.snapshot, !edge_of.contains_key(&id), "group {id}: snapshot iff no edge");
        if i.snapshot {
            assert_eq!(&rows, want, "snapshot {id} must hold its whole state");
            chain_len.insert(id, 1);
            if let Some(pred) = i.pred {
                let pstate = &intended[&pred];
                let drops_key = pstate.keys().any(|k| !want.contains_key(k));
                assert!(
                    chain_len[&pred] >= cfg.snapshot_every || drops_key,
                    "group {id} is a snapshot without reason"
                );
            }
        } else {
            let pred = i.pred.unwrap();
            let pstate = &intended[&pred];
            assert!(pstate.keys().all(|k| want.contains_key(k)), "delta {id} would need to drop a key");
            let diff: HashMap<Key, String> = want
                .iter()
                .filter(|(k, e)| pstate.get(*k) != Some(*e))
                .map(|(k, e)| (k.clone(), e.clone()))
                .collect();
            assert_eq!(rows, diff, "delta {id} must hold exactly the changed keys");
            assert!(chain_len[&pred] < cfg.snapshot_every, "group {id} should have been a snapshot");
            chain_len.insert(id, chain_len[&pred] + 1);
        }
    }
    assert_eq!(chain_len.values().copied().max().unwrap(), g.stats.max_chain);
    (g, p)
}

#[test]
fn chain_small_resolves() {
    let mut cfg = Config::new("!chain:example.org", Shape::Chain, 1000);
    check_room(&cfg);
    cfg.snapshot_every = 7;
    cfg.first_id = 5000;
    let (g, _) = check_room(&cfg);
    // Group i (1-based) holds m.room.create plus @user1..@user{i}.
    let last = &g.intended[&(5000 + 999)];
    assert_eq!(last.state.iter().filter(|&&e| e != NONE).count(), 1001);
}

#[test]
fn chain_20k_row_count() {
    let cfg = Config::new("!chain:example.org", Shape::Chain, 20_000);
    let g = gen_mem(&cfg, false);
    // Snapshots at groups 1, 101, ..., 19901 (200 of them); group i holds i + 1 keys, so the
    // snapshots hold sum_{k=0}^{199} (100k + 2) = 1,990,400 rows, plus 19,800 one-row deltas.
    assert_eq!(g.stats.snapshots, 200);
    assert_eq!(g.stats.edges, 19_800);
    assert_eq!(g.stats.rows, 2_010_200);
    assert_eq!(g.stats.max_chain, 100);
    assert_eq!(g.state.iter().filter(|&&b| b == b'\n').count(), 2_010_200);
    assert_eq!(g.edges.iter().filter(|&&b| b == b'\n').count(), 19_800);
    assert_eq!(g.groups.iter().filter(|&&b| b == b'\n').count(), 20_000);
    // Snapshot groups are exactly those without an edge.
    let snaps: Vec<u64> = g.intended.iter().filter(|(_, i)| i.snapshot).map(|(&id, _)| id).collect();
    assert_eq!(snaps, (0..200).map(|k| 1 + 100 * k).collect::<Vec<u64>>());
}

#[test]
fn busy_resolves() {
    let cfg = Config::new("!busy:example.org", Shape::Busy, 3000);
    let (g, p) = check_room(&cfg);
    assert!(g.stats.forks > 0);
    assert!(g.stats.drops > 0);
    let _ = p;
}

#[test]
fn busy_small_snapshot_interval_and_other_seeds() {
    for seed in [2, 3, 99] {
        let mut cfg = Config::new("!busy2:example.org", Shape::Busy, 1500);
        cfg.seed = seed;
        cfg.snapshot_every = 13;
        cfg.first_id = 1_000_000;
        check_room(&cfg);
    }
    // Tiny rooms (inside the creation sequence) work too.
    for n in 1..=10 {
        check_room(&Config::new("!tiny:example.org", Shape::Busy, n));
        check_room(&Config::new("!tiny:example.org", Shape::Chain, n));
    }
}

#[test]
fn busy_5k_has_forks_and_dropping_snapshots() {
    let cfg = Config::new("!busy:example.org", Shape::Busy, 5000);
    let g = gen_mem(&cfg, true);
    let s = &g.stats;
    // ~5% forks, ~0.5% drops.
    assert!(s.forks > 150 && s.forks < 400, "forks {}", s.forks);
    assert!(s.drops >= 1, "drops {}", s.drops);
    // Several groups share a predecessor.
    let mut children: HashMap<u64, u32> = HashMap::new();
    for i in g.intended.values() {
        if let Some(p) = i.pred {
            *children.entry(p).or_default() += 1;
        }
    }
    assert!(children.values().any(|&c| c >= 2));
    // Key-dropping snapshots: state lacks a key of the predecessor's state.
    let mut dropping = 0;
    for i in g.intended.values() {
        if let Some(p) = i.pred {
            let ps = &g.intended[&p].state;
            if ps
                .iter()
                .enumerate()
                .any(|(slot, &e)| e != NONE && i.state.get(slot).is_none_or(|&x| x == NONE))
            {
                assert!(i.snapshot);
                dropping += 1;
            }
        }
    }
    assert_eq!(dropping, s.drops);
    // Realistic contents: all the room keys and a few hundred members.
    let last = g.intended.values().last().unwrap();
    let st = state_map(&g.model, &last.state);
    for ty in [
        "m.room.create",
        "m.room.power_levels",
        "m.room.join_rules",
        "m.room.name",
        "m.room.topic",
        "m.room.history_visibility",
    ] {
        assert!(st.contains_key(&(ty.to_string(), String::new())), "missing {ty}");
    }
    let members = st.keys().filter(|(t, _)| t == "m.room.member").count();
    assert!((200..1500).contains(&members), "members {members}");
}

#[test]
fn deterministic_for_a_seed() {
    for shape in [Shape::Chain, Shape::Busy] {
        let cfg = Config::new("!det:example.org", shape, 1200);
        let a = gen_mem(&cfg, false);
        let b = gen_mem(&cfg, false);
        assert_eq!((&a.groups, &a.edges, &a.state), (&b.groups, &b.edges, &b.state));
        let mut other = cfg.clone();
        other.seed = 2;
        let c = gen_mem(&other, false);
        assert_ne!(a.state, c.state);
    }
}

#[test]
fn event_ids_unique_and_well_formed() {
    let events = |m: &Model| (0..m.event_count() as u32).map(|e| m.event(e).to_string()).collect::<Vec<_>>();
    let g = gen_mem(&Config::new("!ev:example.org", Shape::Busy, 5000), false);
    assert_eq!(g.model.event_count() as u64, g.stats.events);
    let mut seen = HashSet::new();
    for ev in events(&g.model) {
        assert_eq!(ev.len(), 44);
        assert!(ev.starts_with('$'));
        assert!(ev.bytes().skip(1).all(|b| B64.contains(&b)));
        assert!(seen.insert(ev));
    }
    // Other rooms get other ids.
    let h = gen_mem(&Config::new("!ev2:example.org", Shape::Busy, 50), false);
    assert!(events(&h.model).iter().all(|e| !seen.contains(e)));
}

#[test]
fn escaping_round_trips() {
    let cfg = Config::new("!we\\ird\troom\nid:example.org", Shape::Busy, 300);
    let (_, p) = check_room(&cfg);
    assert_eq!(p.groups.values().next().unwrap().0, cfg.room);
    let mut buf = Vec::new();
    push_escaped(&mut buf, "a\\b\tc\nd\re");
    assert_eq!(buf, b"a\\\\b\\tc\\nd\\re");
}

/// Records every sink call.
#[derive(Default)]
struct Recorder {
    calls: Vec<Call>,
}

#[derive(Debug, PartialEq, Eq)]
enum Call {
    Group(i64, String),
    Edge(i64, i64),
    Row(i64, String, String, String),
}

impl RoomSink for Recorder {
    fn group(&mut self, id: i64, event_id: &str) {
        self.calls.push(Call::Group(id, event_id.to_string()));
    }
    fn edge(&mut self, group: i64, prev: i64) {
        self.calls.push(Call::Edge(group, prev));
    }
    fn row(&mut self, group: i64, event_type: &str, state_key: &str, event_id: &str) {
        self.calls.push(Call::Row(
            group,
            event_type.to_string(),
            state_key.to_string(),
            event_id.to_string(),
        ));
    }
}

/// The order `RoomSink` promises: per group in ascending consecutive ids, `group`, at most one
/// `edge` to an older group, then its rows (at least one); and the calls carry exactly what the
/// COPY files hold.
#[test]
fn sink_calls_follow_the_documented_order() {
    for (shape, first_id, snapshot_every) in
        [(Shape::Chain, 1, 100), (Shape::Busy, 1, 100), (Shape::Busy, 40, 9)]
    {
        let mut cfg = Config::new("!sink:example.org", shape, 1500);
        cfg.first_id = first_id;
        cfg.snapshot_every = snapshot_every;
        let mut rec = Recorder::default();
        let stats = generate(&cfg, &mut rec);
        let g = gen_mem(&cfg, false);
        assert_eq!(stats, g.stats);

        let mut expect_id = first_id as i64;
        let mut i = 0;
        let calls = &rec.calls;
        while i < calls.len() {
            let Call::Group(id, _) = &calls[i] else {
                panic!("call {i}: expected a group, got {:?}", calls[i])
            };
            assert_eq!(*id, expect_id);
            i += 1;
            if let Some(Call::Edge(grp, prev)) = calls.get(i) {
                assert_eq!(*grp, *id);
                assert!(*prev < *id && *prev >= first_id as i64);
                i += 1;
            }
            let rows_from = i;
            while let Some(Call::Row(grp, ..)) = calls.get(i) {
                assert_eq!(*grp, *id);
                i += 1;
            }
            assert!(i > rows_from, "group {id} has no rows");
            expect_id += 1;
        }
        assert_eq!(expect_id, (first_id + cfg.groups) as i64);

        // Same content as the COPY output.
        let p = parse(&g.groups, &g.edges, &g.state);
        let mut groups = Vec::new();
        let mut edges = Vec::new();
        let mut rows = 0;
        for c in calls {
            match c {
                Call::Group(id, ev) => groups.push((*id as u64, ev.clone())),
                Call::Edge(grp, prev) => edges.push((*grp as u64, *prev as u64)),
                Call::Row(grp, ty, sk, ev) => {
                    assert!(p.rows[&(*grp as u64)].contains(&((ty.clone(), sk.clone()), ev.clone())));
                    rows += 1;
                }
            }
        }
        assert_eq!(groups, p.groups.iter().map(|(&id, (_, ev))| (id, ev.clone())).collect::<Vec<_>>());
        assert_eq!(edges, p.edges);
        assert_eq!(rows, p.nrows);
    }
}

#[test]
fn invalid_configs_are_refused() {
    let ok = Config::new("!r:x", Shape::Chain, 10);
    assert_eq!(ok.validate(), Ok(()));
    let with = |f: &dyn Fn(&mut Config)| {
        let mut c = ok.clone();
        f(&mut c);
        c.validate()
    };
    assert_eq!(with(&|c| c.room.clear()), Err(ConfigError::EmptyRoom));
    assert_eq!(with(&|c| c.groups = 0), Err(ConfigError::NoGroups));
    assert_eq!(with(&|c| c.groups = u32::MAX as u64 / 2), Err(ConfigError::TooManyGroups));
    assert_eq!(with(&|c| c.snapshot_every = 0), Err(ConfigError::NoSnapshotInterval));
    assert_eq!(with(&|c| c.first_id = i64::MAX as u64 - 5), Err(ConfigError::IdsExceedBigint));
    assert_eq!(with(&|c| c.first_id = i64::MAX as u64 - 10), Ok(()));
    assert_eq!(Shape::from_name("busy"), Some(Shape::Busy));
    assert_eq!(Shape::from_name(Shape::Chain.name()), Some(Shape::Chain));
    assert_eq!(Shape::from_name("star"), None);
}

#[test]
#[should_panic(expected = "invalid configuration")]
fn generate_panics_on_an_invalid_config() {
    generate(&Config::new("!r:x", Shape::Chain, 0), &mut Recorder::default());
}
