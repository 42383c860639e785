//! The level algorithm of the existing compressor: which earlier group a group should be stored
//! as a delta against. Levels have a maximum length, a current length and a head; the lowest
//! level with room supplies the candidate, lower (full) levels restart at the new group, and when
//! no level has room everything restarts and the group becomes a snapshot.
//!
//! Levels can be saved between runs (each level's length and head, as the existing auto
//! compressor keeps them in `state_compressor_state`) and restored with [`Levels::restore`], so
//! that compressing a room in chunks gives the same tree as one run. A restored head is a group
//! outside the next chunk's range: the caller loads it (and its ancestors) as context.

use crate::error::{ConfigError, MAX_LEVELS, MAX_LEVEL_TOTAL};
use crate::forest::Node;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Level {
    pub max: u32,
    pub len: u32,
    pub head: Option<Node>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Levels {
    levels: Vec<Level>,
}

impl Levels {
    /// Empty levels of the given sizes (lowest level first), after checking them.
    pub fn new(sizes: &[i64]) -> Result<Self, ConfigError> {
        if sizes.is_empty() {
            return Err(ConfigError::NoLevels);
        }
        if sizes.len() > MAX_LEVELS {
            return Err(ConfigError::TooManyLevels { count: sizes.len() });
        }
        if let Some((index, &size)) = sizes.iter().enumerate().find(|(_, &s)| s < 1) {
            return Err(ConfigError::LevelNotPositive { index, size });
        }
        let total: i64 = sizes.iter().sum();
        if total > MAX_LEVEL_TOTAL {
            return Err(ConfigError::TotalTooLarge { total });
        }
        Ok(Levels { levels: sizes.iter().map(|&s| Level { max: s as u32, len: 0, head: None }).collect() })
    }

    /// Levels of the given sizes continuing from a saved state: `saved[i]` is level `i`'s
    /// current length and head (the node of the head group in the room being compressed). A
    /// head must be present exactly when the length is positive, and no length may exceed its
    /// level's size.
    pub fn restore(sizes: &[i64], saved: &[(u32, Option<Node>)]) -> Result<Self, ConfigError> {
        let mut levels = Levels::new(sizes)?;
        if saved.len() != sizes.len() {
            return Err(ConfigError::SavedLevelCount { saved: saved.len(), levels: sizes.len() });
        }
        for (index, (level, &(len, head))) in levels.levels.iter_mut().zip(saved).enumerate() {
            if len > level.max {
                return Err(ConfigError::SavedLevelTooLong { index, len, max: level.max });
            }
            if head.is_some() != (len > 0) {
                return Err(ConfigError::SavedLevelHead { index, len });
            }
            level.len = len;
            level.head = head;
        }
        Ok(levels)
    }

    pub fn levels(&self) -> &[Level] {
        &self.levels
    }

    /// Records `node` as the next group and returns the candidate predecessor the levels give
    /// it (`None`: a snapshot).
    pub fn next_base(&mut self, node: Node) -> Option<Node> {
        for i in 0..self.levels.len() {
            let level = &mut self.levels[i];
            if level.len < level.max {
                let candidate = level.head;
                level.len += 1;
                level.head = Some(node);
                for lower in &mut self.levels[..i] {
                    lower.len = 1;
                    lower.head = Some(node);
                }
                return candidate;
            }
        }
        for level in &mut self.levels {
            level.len = 1;
            level.head = Some(node);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worked_example_levels_3_3() {
        let mut levels = Levels::new(&[3, 3]).unwrap();
        let bases: Vec<Option<Node>> = (0..14).map(|g| levels.next_base(g)).collect();
        let expected = [
            None,
            Some(0),
            Some(1),
            None,
            Some(3),
            Some(4),
            Some(3),
            Some(6),
            Some(7),
            Some(6),
            Some(9),
            Some(10),
            None,
            Some(12),
        ];
        assert_eq!(bases, expected);
    }

    #[test]
    fn bad_levels_are_refused() {
        assert_eq!(Levels::new(&[]), Err(ConfigError::NoLevels));
        assert_eq!(Levels::new(&[3, 0]), Err(ConfigError::LevelNotPositive { index: 1, size: 0 }));
        assert_eq!(Levels::new(&[-5]), Err(ConfigError::LevelNotPositive { index: 0, size: -5 }));
        assert_eq!(Levels::new(&[600, 600]), Err(ConfigError::TotalTooLarge { total: 1200 }));
        assert!(matches!(Levels::new(&[1; 17]), Err(ConfigError::TooManyLevels { count: 17 })));
        assert!(Levels::new(&[100, 50, 25]).is_ok());
    }

    #[test]
    fn restored_levels_continue_where_they_stopped() {
        let mut whole = Levels::new(&[3, 3]).unwrap();
        let mut first: Vec<Option<Node>> = (0..7).map(|g| whole.next_base(g)).collect();
        let saved: Vec<(u32, Option<Node>)> = whole.levels().iter().map(|l| (l.len, l.head)).collect();
        let mut restored = Levels::restore(&[3, 3], &saved).unwrap();
        assert_eq!(restored, whole);
        first.extend((7..14).map(|g| restored.next_base(g)));
        let mut one_run = Levels::new(&[3, 3]).unwrap();
        assert_eq!(first, (0..14).map(|g| one_run.next_base(g)).collect::<Vec<_>>());
        assert_eq!(Levels::restore(&[3, 3], &[(0, None), (0, None)]).unwrap(), Levels::new(&[3, 3]).unwrap());
    }

    #[test]
    fn bad_saved_levels_are_refused() {
        assert_eq!(
            Levels::restore(&[3, 0], &[(0, None), (0, None)]),
            Err(ConfigError::LevelNotPositive { index: 1, size: 0 })
        );
        assert_eq!(
            Levels::restore(&[3, 3], &[(1, Some(4))]),
            Err(ConfigError::SavedLevelCount { saved: 1, levels: 2 })
        );
        assert_eq!(
            Levels::restore(&[3, 3], &[(1, Some(4)), (4, Some(2))]),
            Err(ConfigError::SavedLevelTooLong { index: 1, len: 4, max: 3 })
        );
        assert_eq!(
            Levels::restore(&[3, 3], &[(1, None), (0, None)]),
            Err(ConfigError::SavedLevelHead { index: 0, len: 1 })
        );
        assert_eq!(
            Levels::restore(&[3, 3], &[(1, Some(4)), (0, Some(2))]),
            Err(ConfigError::SavedLevelHead { index: 1, len: 0 })
        );
    }

    #[test]
    fn single_level_restarts_with_snapshot() {
        let mut levels = Levels::new(&[2]).unwrap();
        let bases: Vec<_> = (0..5).map(|g| levels.next_base(g)).collect();
        assert_eq!(bases, vec![None, Some(0), None, Some(2), None]);
    }
}
