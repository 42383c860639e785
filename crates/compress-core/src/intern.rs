//! String interning: every `type`, `state_key` and `event_id` is stored once and handled as a
//! small integer; a state key is the pair `(type, state_key)` interned as one [`KeyId`].

use std::rc::Rc;

use rustc_hash::FxHashMap as HashMap;

/// A state key: one interned `(type, state_key)` pair.
pub type KeyId = u32;
/// A state value: one interned `event_id`.
pub type ValueId = u32;
/// The value of a key that is not in a state (also a tombstone in an in-memory delta).
pub const ABSENT: ValueId = u32::MAX;

/// Strings stored once, each with a dense id in order of first appearance.
#[derive(Default)]
pub struct Interner {
    ids: HashMap<Rc<str>, u32>,
    strings: Vec<Rc<str>>,
}

impl Interner {
    pub fn intern(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = u32::try_from(self.strings.len()).expect("more than 2^32 distinct strings");
        let shared: Rc<str> = Rc::from(s);
        self.strings.push(shared.clone());
        self.ids.insert(shared, id);
        id
    }

    pub fn get(&self, id: u32) -> &str {
        &self.strings[id as usize]
    }

    pub fn len(&self) -> usize {
        self.strings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.strings.is_empty()
    }
}

/// All strings of one room: state keys as `(type, state_key)` pairs and event ids.
#[derive(Default)]
pub struct StringTable {
    types: Interner,
    state_keys: Interner,
    events: Interner,
    keys: HashMap<(u32, u32), KeyId>,
    key_parts: Vec<(u32, u32)>,
}

impl StringTable {
    pub fn key(&mut self, event_type: &str, state_key: &str) -> KeyId {
        let parts = (self.types.intern(event_type), self.state_keys.intern(state_key));
        let next = self.key_parts.len() as KeyId;
        let id = *self.keys.entry(parts).or_insert(next);
        if id == next {
            self.key_parts.push(parts);
        }
        id
    }

    pub fn value(&mut self, event_id: &str) -> ValueId {
        let id = self.events.intern(event_id);
        assert!(id != ABSENT, "too many distinct event ids");
        id
    }

    /// `(type, state_key)` of a key.
    pub fn key_str(&self, key: KeyId) -> (&str, &str) {
        let (t, s) = self.key_parts[key as usize];
        (self.types.get(t), self.state_keys.get(s))
    }

    pub fn value_str(&self, value: ValueId) -> &str {
        self.events.get(value)
    }

    pub fn key_count(&self) -> usize {
        self.key_parts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_string_same_id_and_round_trip() {
        let mut t = StringTable::default();
        let a = t.key("m.room.member", "@a:x");
        let b = t.key("m.room.member", "@b:x");
        let a2 = t.key("m.room.member", "@a:x");
        let c = t.key("m.room.name", "@a:x");
        assert_eq!(a, a2);
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(t.key_str(b), ("m.room.member", "@b:x"));
        assert_eq!(t.key_count(), 3);
        let v = t.value("$e1");
        assert_eq!(t.value("$e1"), v);
        assert_eq!(t.value_str(v), "$e1");
    }
}
