//! The level algorithm of the existing compressor: which earlier group a group should be stored
//! as a delta against. Levels have a maximum length, a current length and a head; the lowest
//! level with room supplies the candidate, lower (full) levels restart at the new group, and when
//! no level has room everything restarts and the group becomes a snapshot.

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
    fn single_level_restarts_with_snapshot() {
        let mut levels = Levels::new(&[2]).unwrap();
        let bases: Vec<_> = (0..5).map(|g| levels.next_base(g)).collect();
        assert_eq!(bases, vec![None, Some(0), None, Some(2), None]);
    }
}
