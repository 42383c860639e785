//! A room as rows and edges, resolved the naive way Synapse reads it, to check the core against.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use compress_core::{
    compress, compress_fork_aware, verify, verify_with_limits, ForkAwareOptions, GroupGraph, Levels, Plan,
    ReadBudget, ReadRows, Room, RoomBuilder, ABSENT,
};

/// Saved levels in the database's terms: per level, its current length and head group id.
pub type SavedLevels = Vec<(u32, Option<i64>)>;

pub type State = BTreeMap<(String, String), String>;
/// One group: its edge and its `(type, state_key, event_id)` rows.
pub type Group = (Option<i64>, Vec<(String, String, String)>);

/// Synapse's tables for one room: group id -> (edge, rows).
#[derive(Clone, Debug, Default)]
pub struct Tables {
    pub groups: BTreeMap<i64, Group>,
}

impl Tables {
    pub fn add(&mut self, id: i64, prev: Option<i64>, rows: &[(&str, &str, &str)]) {
        let rows = rows.iter().map(|(t, k, e)| (t.to_string(), k.to_string(), e.to_string())).collect();
        self.groups.insert(id, (prev, rows));
    }

    /// Synapse's read: follow edges to the root, the highest group id wins per key.
    pub fn resolve(&self, id: i64) -> State {
        let mut chain = Vec::new();
        let mut at = Some(id);
        while let Some(g) = at {
            chain.push(g);
            at = self.groups[&g].0;
        }
        chain.sort();
        let mut state = State::new();
        for g in chain {
            for (t, k, e) in &self.groups[&g].1 {
                state.insert((t.clone(), k.clone()), e.clone());
            }
        }
        state
    }

    /// The groups with each group's rows sorted (row order depends on the order strings were
    /// interned, i.e. on what was loaded).
    pub fn sorted(&self) -> BTreeMap<i64, Group> {
        let mut groups = self.groups.clone();
        for g in groups.values_mut() {
            g.1.sort();
        }
        groups
    }

    pub fn rows(&self) -> usize {
        self.groups.values().map(|g| g.1.len()).sum()
    }

    /// Loads every group (those with id > `min` in range) the way the extension does.
    pub fn load(&self, min: i64) -> Room {
        let groups = self.groups.keys().map(|&id| (id, id > min)).collect();
        let edges: Vec<(i64, i64)> = self.groups.iter().filter_map(|(&g, v)| v.0.map(|p| (g, p))).collect();
        let mut b = RoomBuilder::new(GroupGraph::new(groups, &edges).expect("valid graph"));
        for (&g, (_, rows)) in &self.groups {
            for (t, k, e) in rows {
                b.add_row(g, t, k, e).expect("valid rows");
            }
        }
        b.finish().expect("valid room")
    }

    /// Loads what a chunk needs, as the SQL layer does: the groups `range` (in range) and, as
    /// context, the groups `extra` (e.g. saved level heads) and every ancestor of both,
    /// following the current edges.
    pub fn load_groups(&self, range: &[i64], extra: &[i64]) -> Room {
        let in_range: BTreeSet<i64> = range.iter().copied().collect();
        let mut loaded = BTreeSet::new();
        let mut todo: Vec<i64> = range.iter().chain(extra).copied().collect();
        while let Some(g) = todo.pop() {
            if loaded.insert(g) {
                todo.extend(self.groups[&g].0);
            }
        }
        let groups = loaded.iter().map(|&id| (id, in_range.contains(&id))).collect();
        let edges: Vec<(i64, i64)> =
            loaded.iter().filter_map(|&g| self.groups[&g].0.map(|p| (g, p))).collect();
        let mut graph = GroupGraph::new(groups, &edges).expect("valid graph");
        // What the SQL layer finds with the index on prev_state_group.
        graph.mark_outside_successors(
            self.groups.iter().filter(|(g, v)| !loaded.contains(g) && v.0.is_some()).filter_map(|(_, v)| v.0),
        );
        let mut b = RoomBuilder::new(graph);
        for &g in &loaded {
            for (t, k, e) in &self.groups[&g].1 {
                b.add_row(g, t, k, e).expect("valid rows");
            }
        }
        b.finish().expect("valid room")
    }

    /// The tables after writing a plan: changed groups get their new edge and delta rows.
    pub fn apply(&self, room: &Room, plan: &Plan) -> Tables {
        let mut out = self.clone();
        out.apply_in_place(room, plan);
        out
    }

    /// Writes a plan: changed groups get their new edge and delta rows.
    pub fn apply_in_place(&mut self, room: &Room, plan: &Plan) {
        let out = self;
        let s = room.strings();
        for &node in &plan.changed {
            let prev = plan.tree.parent(node).map(|p| room.id(p));
            let rows = plan
                .tree
                .entries(node)
                .iter()
                .map(|&(k, v)| {
                    assert_ne!(v, ABSENT);
                    let (t, sk) = s.key_str(k);
                    (t.to_owned(), sk.to_owned(), s.value_str(v).to_owned())
                })
                .collect();
            out.groups.insert(room.id(node), (prev, rows));
        }
    }

    /// The rows Synapse's read of group `id` fetches: every row of every group on its chain.
    pub fn read(&self, id: i64) -> u64 {
        let mut rows = 0;
        let mut at = Some(id);
        while let Some(g) = at {
            rows += self.groups[&g].1.len() as u64;
            at = self.groups[&g].0;
        }
        rows
    }

    /// The percentiles of the reads of `ids` (nearest rank), computed naively.
    pub fn read_percentiles(&self, ids: &[i64]) -> ReadRows {
        let mut reads: Vec<u64> = ids.iter().map(|&id| self.read(id)).collect();
        reads.sort();
        if reads.is_empty() {
            return ReadRows::default();
        }
        let rank = |p: f64| reads[((p * reads.len() as f64).ceil() as usize).max(1) - 1];
        ReadRows { p50: rank(0.5), p99: rank(0.99), max: *reads.last().unwrap() }
    }

    /// The longest chain (counting the group itself) a read of one of `ids` walks.
    pub fn max_chain(&self, ids: impl IntoIterator<Item = i64>) -> u32 {
        let mut memo: BTreeMap<i64, u32> = BTreeMap::new();
        let mut longest = 0;
        for id in ids {
            let mut path = Vec::new();
            let mut at = Some(id);
            let mut base = 0;
            while let Some(g) = at {
                if let Some(&c) = memo.get(&g) {
                    base = c;
                    break;
                }
                path.push(g);
                at = self.groups[&g].0;
            }
            for (i, g) in path.iter().rev().enumerate() {
                memo.insert(*g, base + i as u32 + 1);
            }
            longest = longest.max(memo[&id]);
        }
        longest
    }
}

/// What the SQL layer keeps for a room between chunks of the level method (the existing auto
/// compressor's `state_compressor_state` and `state_compressor_progress`).
#[derive(Clone, Debug, Default)]
pub struct Progress {
    pub levels: Option<SavedLevels>,
    pub last_compressed: Option<i64>,
}

/// Runs `chunks` chunks of at most `chunk_size` groups of the level method on `tables`, as the
/// SQL layer will: each chunk loads the next groups after the last compressed one, the saved
/// level heads and all their ancestors; compresses from the restored levels; verifies; writes;
/// saves the levels and progress. With `check_states`, every group is also resolved naively
/// before and after each chunk. Returns the plans' stats.
pub fn run_level_chunks(
    tables: &mut Tables,
    progress: &mut Progress,
    sizes: &[i64],
    chunk_size: usize,
    chunks: usize,
    check_states: bool,
) -> Vec<compress_core::Stats> {
    let mut out = Vec::new();
    for _ in 0..chunks {
        let after = progress.last_compressed.unwrap_or(i64::MIN);
        let range: Vec<i64> =
            tables.groups.range(after.saturating_add(1)..).map(|g| *g.0).take(chunk_size).collect();
        if range.is_empty() {
            break;
        }
        let heads: Vec<i64> = progress.levels.iter().flatten().filter_map(|l| l.1).collect();
        let room = tables.load_groups(&range, &heads);
        let mut levels = match &progress.levels {
            None => Levels::new(sizes).unwrap(),
            Some(saved) => {
                let saved: Vec<(u32, Option<u32>)> = saved
                    .iter()
                    .map(|&(len, head)| (len, head.map(|h| room.node_of(h).expect("head loaded"))))
                    .collect();
                Levels::restore(sizes, &saved).unwrap()
            }
        };
        let plan = compress(&room, &mut levels, &mut || {});
        verify(&room, &plan, &mut || {}).expect("verification passes");
        let before = check_states.then(|| tables.clone());
        tables.apply_in_place(&room, &plan);
        if let Some(before) = before {
            for &id in before.groups.keys() {
                assert_eq!(tables.resolve(id), before.resolve(id), "state of group {id}");
            }
        }
        let chain: u32 = tables.max_chain(range.iter().copied());
        assert_eq!(plan.stats.max_chain_after, chain, "max chain of the chunk {range:?}");
        progress.levels = Some(levels.levels().iter().map(|l| (l.len, l.head.map(|h| room.id(h)))).collect());
        progress.last_compressed = range.last().copied();
        out.push(plan.stats);
    }
    out
}

/// Compresses and verifies, then checks against the naive model: every group resolves the same,
/// the rules hold, and the stats add up. Returns the tables after the rewrite.
pub fn compress_and_check(tables: &Tables, min: i64, sizes: &[i64]) -> (Tables, Plan) {
    let room = tables.load(min);
    let mut levels = Levels::new(sizes).unwrap();
    let plan = compress(&room, &mut levels, &mut || {});
    verify(&room, &plan, &mut || {}).expect("verification passes");
    let after = tables.apply(&room, &plan);
    for (&id, (prev, rows)) in &after.groups {
        assert_eq!(after.resolve(id), tables.resolve(id), "state of group {id}");
        if let Some(p) = prev {
            assert!(*p < id, "edge {id} -> {p} must point to an older group");
            let pk: Vec<_> = after.resolve(*p).into_keys().collect();
            let gk = after.resolve(id);
            assert!(pk.iter().all(|k| gk.contains_key(k)), "keys of {p} must be a subset of {id}'s");
        }
        let mut keys: Vec<_> = rows.iter().map(|r| (&r.0, &r.1)).collect();
        let n = keys.len();
        keys.sort();
        keys.dedup();
        if room.node_of(id).is_some_and(|n| plan.changed.contains(&n)) {
            assert_eq!(keys.len(), n, "group {id} has duplicate keys after the rewrite");
        }
    }
    let in_range = |id: &i64| *id > min;
    let rows_before: usize =
        tables.groups.iter().filter(|(id, _)| in_range(id)).map(|(_, g)| g.1.len()).sum();
    let rows_after: usize = after.groups.iter().filter(|(id, _)| in_range(id)).map(|(_, g)| g.1.len()).sum();
    assert_eq!(plan.stats.rows_before as usize, rows_before);
    assert_eq!(plan.stats.rows_after as usize, rows_after);
    for (id, g) in &tables.groups {
        if !in_range(id) {
            assert_eq!(&after.groups[id].1, &g.1, "group {id} outside the range must not change");
            assert_eq!(after.groups[id].0, g.0);
        }
    }
    (after, plan)
}

/// A chain `first..first+n` where each group adds one member; a snapshot every `every` groups.
pub fn member_chain(n: i64, every: i64) -> Tables {
    let mut t = Tables::default();
    let mut all: Vec<(String, String, String)> = Vec::new();
    for g in 0..n {
        let row = ("m.room.member".to_owned(), format!("@u{g}:x"), format!("$e{g}"));
        all.push(row.clone());
        if g % every == 0 {
            t.groups.insert(g, (None, all.clone()));
        } else {
            t.groups.insert(g, (Some(g - 1), vec![row]));
        }
    }
    t
}

/// Runs up to `chunks` chunks of at most `chunk_size` groups of the fork-aware method, as the SQL
/// layer will: each chunk loads the next groups after the last compressed one, the `window`
/// groups just before them and all their ancestors; compresses; verifies exactly and with the
/// cap (when it changes something); writes; saves the progress (`last_compressed`, nothing
/// else). With `check_states`, every group is also resolved naively before and after each
/// chunk, and the chains of the whole room are checked against the cap. Returns the stats.
pub fn run_fork_chunks(
    tables: &mut Tables,
    last_compressed: &mut Option<i64>,
    options: &ForkAwareOptions,
    chunk_size: usize,
    chunks: usize,
    check_states: bool,
) -> Vec<compress_core::Stats> {
    let mut out = Vec::new();
    for _ in 0..chunks {
        let after = last_compressed.unwrap_or(i64::MIN);
        let range: Vec<i64> =
            tables.groups.range(after.saturating_add(1)..).map(|g| *g.0).take(chunk_size).collect();
        if range.is_empty() {
            break;
        }
        let window: Vec<i64> =
            tables.groups.range(..range[0]).rev().take(options.window as usize).map(|g| *g.0).collect();
        let room = tables.load_groups(&range, &window);
        let plan = compress_fork_aware(&room, options, &mut || {});
        verify(&room, &plan, &mut || {}).expect("verification passes");
        if !plan.changed.is_empty() {
            verify_with_limits(&room, &plan, Some(options.max_chain), options.read_budget, &mut || {})
                .expect("the cap and the read budget hold");
        }
        assert!(plan.stats.rows_after <= plan.stats.rows_before, "{:?}", plan.stats);
        let before = (check_states || options.read_budget != ReadBudget::Off).then(|| tables.clone());
        let chain_before = tables.max_chain(range.iter().copied());
        tables.apply_in_place(&room, &plan);
        let chain_after = tables.max_chain(range.iter().copied());
        assert_eq!(plan.stats.max_chain_after, chain_after, "max chain of the chunk {range:?}");
        assert_eq!(plan.stats.max_chain_before, chain_before, "max chain of the chunk {range:?} before");
        if chain_before <= options.max_chain {
            assert!(
                chain_after <= options.max_chain,
                "chunk {range:?}: chains {chain_before} -> {chain_after}"
            );
        }
        if let Some(before) = before {
            for &id in before.groups.keys() {
                if check_states {
                    assert_eq!(tables.resolve(id), before.resolve(id), "state of group {id}");
                }
                check_read_budget(&before, tables, &range, id, options.read_budget);
            }
            let (b, a) = (before.read_percentiles(&range), tables.read_percentiles(&range));
            assert_eq!((plan.stats.read_rows_before, plan.stats.read_rows_after), (b, a), "chunk {range:?}");
        }
        *last_compressed = range.last().copied();
        out.push(plan.stats);
    }
    out
}

/// Checks, naively, that the read of group `id` after a rewrite of `range` keeps `budget`:
/// groups outside the range never fetch more rows than before (their chains run through groups
/// in range that keep their reads, or through none); under `Strict` no group does; under
/// `Median` no group in range fetches more than its read before or the median read of the
/// range before, whichever is more.
pub fn check_read_budget(before: &Tables, after: &Tables, range: &[i64], id: i64, budget: ReadBudget) {
    if budget == ReadBudget::Off {
        return;
    }
    let (b, a) = (before.read(id), after.read(id));
    let limit = if budget == ReadBudget::Median && range.contains(&id) {
        b.max(before.read_percentiles(range).p50)
    } else {
        b
    };
    assert!(a <= limit, "group {id}: a read fetches {a} rows after, {b} before, limit {limit} ({budget:?})");
}

/// Checks a plan against the naive model (every group resolves the same after writing it, edges
/// older, subset rule, one row per key, row counts) and returns the tables after writing it.
pub fn check_plan_naively(tables: &Tables, room: &Room, plan: &Plan) -> Tables {
    let after = tables.apply(room, plan);
    for (&id, (prev, rows)) in &after.groups {
        assert_eq!(after.resolve(id), tables.resolve(id), "state of group {id}");
        if let Some(p) = prev {
            assert!(*p < id, "edge {id} -> {p} must point to an older group");
            let gk = after.resolve(id);
            assert!(
                after.resolve(*p).keys().all(|k| gk.contains_key(k)),
                "keys of {p} must be a subset of {id}'s"
            );
        }
        if room.node_of(id).is_some_and(|n| plan.changed.contains(&n)) {
            let mut keys: Vec<_> = rows.iter().map(|r| (&r.0, &r.1)).collect();
            let n = keys.len();
            keys.sort();
            keys.dedup();
            assert_eq!(keys.len(), n, "group {id} has duplicate keys after the rewrite");
        }
    }
    let in_range: Vec<i64> = room.range_nodes().map(|n| room.id(n)).collect();
    let rows = |t: &Tables| in_range.iter().map(|id| t.groups[id].1.len()).sum::<usize>() as u64;
    assert_eq!(plan.stats.rows_before, rows(tables));
    assert_eq!(plan.stats.rows_after, rows(&after));
    assert_eq!(plan.stats.max_chain_before, tables.max_chain(in_range.iter().copied()));
    assert_eq!(plan.stats.max_chain_after, after.max_chain(in_range.iter().copied()));
    assert_eq!(plan.stats.read_rows_before, tables.read_percentiles(&in_range));
    assert_eq!(plan.stats.read_rows_after, after.read_percentiles(&in_range));
    for (id, g) in &tables.groups {
        if room.node_of(*id).is_none_or(|n| !room.in_range(n)) {
            assert_eq!(&after.groups[id], g, "group {id} outside the range must not change");
        }
    }
    after
}

/// Compresses the groups with id > `min` with the fork-aware method and checks everything the
/// method promises: exact verification with the cap, the naive model, never more rows than now,
/// chains within the cap unless the plan changes nothing and says the cap is unmet.
pub fn fork_and_check(tables: &Tables, min: i64, options: &ForkAwareOptions) -> (Tables, Plan) {
    let room = tables.load(min);
    let plan = compress_fork_aware(&room, options, &mut || {});
    verify(&room, &plan, &mut || {}).expect("verification passes");
    let after = check_plan_naively(tables, &room, &plan);
    let s = &plan.stats;
    assert!(s.rows_after <= s.rows_before, "more rows than now: {s:?}");
    assert_eq!(s.max_chain_cap, Some(options.max_chain));
    if s.chain_cap_unmet {
        assert!(plan.changed.is_empty(), "{s:?}");
        assert!(s.max_chain_before > options.max_chain, "{s:?}");
        assert_eq!(after.groups, tables.groups);
    } else {
        verify_with_limits(&room, &plan, Some(options.max_chain), options.read_budget, &mut || {})
            .expect("the cap and the read budget hold");
        assert!(s.max_chain_after <= options.max_chain, "{s:?}");
    }
    assert_eq!(s.read_budget, Some(options.read_budget));
    let in_range: Vec<i64> = room.range_nodes().map(|n| room.id(n)).collect();
    for &id in tables.groups.keys() {
        check_read_budget(tables, &after, &in_range, id, options.read_budget);
    }
    if options.read_budget != ReadBudget::Off {
        // Under either budget no percentile from the median up grows.
        let (b, a) = (s.read_rows_before, s.read_rows_after);
        assert!(a.p50 <= b.p50 && a.p99 <= b.p99 && a.max <= b.max, "{b:?} -> {a:?}");
    }
    (after, plan)
}

/// The existing tool's level algorithm, written naively from its description (resolving states
/// from the tables for every candidate), for groups with id > `min` with levels restored from
/// `saved` (head ids). Returns each group's new edge and rows (sorted).
pub fn reference_levels(
    tables: &Tables,
    min: i64,
    sizes: &[i64],
    saved: Option<&SavedLevels>,
) -> BTreeMap<i64, Group> {
    struct Level {
        max: u32,
        len: u32,
        head: Option<i64>,
    }
    let mut levels: Vec<Level> = sizes.iter().map(|&m| Level { max: m as u32, len: 0, head: None }).collect();
    if let Some(saved) = saved {
        for (l, &(len, head)) in levels.iter_mut().zip(saved) {
            l.len = len;
            l.head = head;
        }
    }
    // The new tree: context groups as they are, groups in range as they are written.
    let mut new = tables.clone();
    for (&id, _) in tables.groups.range(min.saturating_add(1)..) {
        let mut candidate = None;
        let mut placed = false;
        for i in 0..levels.len() {
            if levels[i].len < levels[i].max {
                candidate = levels[i].head;
                levels[i].len += 1;
                levels[i].head = Some(id);
                for lower in &mut levels[..i] {
                    lower.len = 1;
                    lower.head = Some(id);
                }
                placed = true;
                break;
            }
        }
        if !placed {
            for l in &mut levels {
                l.len = 1;
                l.head = Some(id);
            }
        }
        let state = tables.resolve(id);
        let mut base = candidate;
        while let Some(b) = base {
            if new.resolve(b).keys().all(|k| state.contains_key(k)) {
                break;
            }
            base = new.groups[&b].0;
        }
        let base_state = base.map(|b| new.resolve(b)).unwrap_or_default();
        let rows: Vec<(String, String, String)> = state
            .iter()
            .filter(|(k, v)| base_state.get(*k) != Some(*v))
            .map(|((t, k), v)| (t.clone(), k.clone(), v.clone()))
            .collect();
        new.groups.insert(id, (base, rows));
    }
    new.sorted()
}

/// Adds groups the way Synapse stores them: a new group's state is its predecessor's state with
/// some keys set and some removed; it is stored as a delta on the predecessor, unless the
/// predecessor's chain is `max_hops` or longer or a key was removed (then a full snapshot).
pub fn synapse_add(
    tables: &mut Tables,
    id: i64,
    pred: Option<i64>,
    set: &[(String, String, String)],
    remove: &[(String, String)],
    max_hops: u32,
) {
    let mut state = pred.map(|p| tables.resolve(p)).unwrap_or_default();
    for (t, k) in remove {
        state.remove(&(t.clone(), k.clone()));
    }
    let mut delta = Vec::new();
    for (t, k, e) in set {
        if state.insert((t.clone(), k.clone()), e.clone()).as_ref() != Some(e) {
            delta.push((t.clone(), k.clone(), e.clone()));
        }
    }
    let snapshot = match pred {
        None => true,
        Some(p) => !remove.is_empty() || tables.max_chain([p]) >= max_hops,
    };
    let group = if snapshot {
        (None, state.into_iter().map(|((t, k), e)| (t, k, e)).collect())
    } else {
        (pred, delta)
    };
    tables.groups.insert(id, group);
}

/// A small deterministic generator (splitmix64).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Appends `count` groups to a busy-like room, Synapse-style: each builds on the latest group or
/// (5%) a fork up to 10 groups back; joins, leaves/renames of existing members, topic changes,
/// and (1%) a state-resolution outcome that drops a member.
pub fn grow_busy_room(tables: &mut Tables, rng: &mut Rng, count: usize, max_hops: u32) {
    for _ in 0..count {
        let ids: Vec<i64> = tables.groups.keys().copied().collect();
        let id = ids.last().map_or(1, |l| l + 1);
        let pred = match ids.len() {
            0 => None,
            n if n > 10 && rng.below(100) < 5 => Some(ids[n - 1 - rng.below(10) as usize]),
            n => Some(ids[n - 1]),
        };
        let members: Vec<(String, String)> = pred
            .map(|p| tables.resolve(p).into_keys().filter(|(t, _)| t == "m.room.member").collect())
            .unwrap_or_default();
        let event = format!("$e{id}");
        let roll = rng.below(100);
        let (set, remove) = if pred.is_none() {
            (vec![("m.room.create".to_owned(), String::new(), event)], vec![])
        } else if roll < 1 && members.len() > 3 {
            (vec![], vec![members[rng.below(members.len() as u64) as usize].clone()])
        } else if roll < 40 || members.is_empty() {
            (vec![("m.room.member".to_owned(), format!("@u{id}:x"), event)], vec![])
        } else if roll < 90 {
            let (t, k) = members[rng.below(members.len() as u64) as usize].clone();
            (vec![(t, k, event)], vec![])
        } else {
            (vec![("m.room.topic".to_owned(), String::new(), event)], vec![])
        };
        synapse_add(tables, id, pred, &set, &remove, max_hops);
    }
}
