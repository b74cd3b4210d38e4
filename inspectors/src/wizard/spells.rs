//! Spells: case-insensitive globs over the first bytes of a direction, as Snort's
//! wizard `spells`.
//!
//! Contract: a [`Spell`] is parsed once from text where `*` matches any run of bytes
//! (empty included) and `**` is a literal `*` (Snort's syntax); every other character
//! stands for itself, ASCII letters without regard to case. A spell is
//! anchored at the start of the direction and is a prefix: `GET *` and `GET ` are the
//! same spell, and whatever follows the last literal is not looked at. Matching never
//! allocates; a `*` scans at most the bytes it is given (the wizard's search depth).

use super::curses::Miss;
use super::WizardError;

/// The longest spell accepted (bytes of literals after parsing).
pub(crate) const MAX_SPELL_LEN: usize = 256;

/// One parsed spell: literal runs (lowercase) separated by `*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Spell {
    /// The run anchored at offset 0 (may be empty when the spell starts with `*`).
    head: Box<[u8]>,
    /// Runs that float: each must follow the previous one, anywhere after it.
    tail: Box<[Box<[u8]>]>,
}

impl Spell {
    /// Parses `pattern`.
    pub(crate) fn parse(pattern: &str) -> Result<Spell, WizardError> {
        let bad = |reason: &'static str| WizardError::BadSpell {
            pattern: pattern.to_owned(),
            reason,
        };
        let mut runs: Vec<Vec<u8>> = vec![Vec::new()];
        let mut total = 0usize;
        let mut chars = pattern.chars().peekable();
        while let Some(c) = chars.next() {
            if !c.is_ascii() {
                return Err(bad("non-ASCII character"));
            }
            if c == '*' {
                if chars.peek() == Some(&'*') {
                    // `**` is a literal star (Snort's escape)
                    chars.next();
                } else {
                    runs.push(Vec::new());
                    continue;
                }
            }
            if let Some(run) = runs.last_mut() {
                run.push((c as u8).to_ascii_lowercase());
            }
            total += 1;
            if total > MAX_SPELL_LEN {
                return Err(bad("longer than 256 bytes"));
            }
        }
        if total == 0 {
            return Err(bad("no literal bytes"));
        }
        let mut it = runs.into_iter();
        let head = it.next().unwrap_or_default().into_boxed_slice();
        let tail = it
            .filter(|r| !r.is_empty())
            .map(Vec::into_boxed_slice)
            .collect::<Vec<_>>()
            .into_boxed_slice();
        Ok(Spell { head, tail })
    }

    /// Does the spell fit the start of `data`?
    pub(crate) fn fit(&self, data: &[u8]) -> Result<(), Miss> {
        for (i, want) in self.head.iter().enumerate() {
            match data.get(i) {
                None => return Err(Miss::More),
                Some(got) if got.to_ascii_lowercase() != *want => return Err(Miss::No),
                Some(_) => {}
            }
        }
        let mut at = self.head.len();
        for run in self.tail.iter() {
            // The leftmost occurrence of each run leaves the most room for the next.
            match find_ci(data.get(at..).unwrap_or_default(), run) {
                Some(pos) => at += pos + run.len(),
                None => return Err(Miss::More),
            }
        }
        Ok(())
    }

    /// Can the spell match data that starts with `b`?
    pub(crate) fn may_start_with(&self, b: u8) -> bool {
        match self.head.first() {
            Some(first) => b.to_ascii_lowercase() == *first,
            None => true,
        }
    }
}

/// The first offset of `needle` (lowercase) in `hay`, ASCII case ignored.
fn find_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| {
        w.iter()
            .zip(needle)
            .all(|(a, b)| a.to_ascii_lowercase() == *b)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spell_is_a_case_insensitive_prefix() {
        let s = Spell::parse("GET *").unwrap();
        assert_eq!(s, Spell::parse("get ").unwrap());
        assert_eq!(s.fit(b"GET / HTTP/1.1\r\n"), Ok(()));
        assert_eq!(s.fit(b"gEt /"), Ok(()));
        assert_eq!(s.fit(b"GE"), Err(Miss::More));
        assert_eq!(s.fit(b"GEX"), Err(Miss::No));
        assert!(s.may_start_with(b'g') && s.may_start_with(b'G'));
        assert!(!s.may_start_with(b'P'));
    }

    #[test]
    fn inner_stars_float_and_wait_for_more() {
        let s = Spell::parse("220*ftp").unwrap();
        assert_eq!(s.fit(b"220 ProFTPD ready"), Ok(()));
        assert_eq!(s.fit(b"220 Welcome"), Err(Miss::More));
        assert_eq!(s.fit(b"221 FTP"), Err(Miss::No));
        let lead = Spell::parse("* OK").unwrap();
        assert!(lead.may_start_with(0));
        assert_eq!(lead.fit(b"HTTP/1.1 200 OK"), Ok(()));
    }

    #[test]
    fn a_double_star_is_a_literal_star() {
        let s = Spell::parse("** OK").unwrap();
        assert_eq!(s.fit(b"* OK [CAPABILITY IMAP4rev1] ready"), Ok(()));
        assert_eq!(s.fit(b"+ OK"), Err(Miss::No));
        assert!(!s.may_start_with(b'+'));
        // a star then a wildcard
        let t = Spell::parse("***x").unwrap();
        assert_eq!(t.fit(b"*abcx"), Ok(()));
        assert_eq!(t.fit(b"abcx"), Err(Miss::No));
    }

    #[test]
    fn malformed_spells_are_refused() {
        for p in ["", "*", "ü"] {
            assert!(
                matches!(Spell::parse(p), Err(WizardError::BadSpell { .. })),
                "{p:?} was accepted"
            );
        }
        assert!(Spell::parse(&"x".repeat(MAX_SPELL_LEN + 1)).is_err());
    }
}
