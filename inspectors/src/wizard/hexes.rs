//! Hexes: byte patterns anchored at the start of a direction, as Snort's wizard `hexes`.
//!
//! Contract: a [`Hex`] is parsed once (at [`super::Wizard::new`]) from text where
//! `|..|` encloses hex byte pairs (spaces between pairs are ignored) and every other
//! character stands for itself, except `?`, which matches any one byte (inside `|..|`
//! write `?` or `??` for a wildcard byte; write `|3f|` for a literal `?`). Matching is
//! case-sensitive and never allocates: a pattern fits the data (`Yes`), cannot fit it
//! whatever follows (`No`), or fits what is there so far (`More`).

use super::curses::Miss;
use super::WizardError;

/// One parsed hex pattern: `None` is a wildcard byte.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Hex {
    bytes: Box<[Option<u8>]>,
}

/// The longest pattern accepted (bytes after parsing).
pub(crate) const MAX_HEX_LEN: usize = 256;

impl Hex {
    /// Parses `pattern`.
    pub(crate) fn parse(pattern: &str) -> Result<Hex, WizardError> {
        let bad = |reason: &'static str| WizardError::BadHex {
            pattern: pattern.to_owned(),
            reason,
        };
        let mut bytes = Vec::new();
        let mut in_hex = false;
        let mut nibble: Option<u8> = None;
        // inside `|..|`, `??` is one wildcard byte: true right after the first `?`
        let mut half_wild = false;
        for c in pattern.chars() {
            if in_hex {
                let was_half = std::mem::replace(&mut half_wild, false);
                match c {
                    '|' => {
                        if nibble.is_some() {
                            return Err(bad("odd number of hex digits"));
                        }
                        in_hex = false;
                    }
                    ' ' => {
                        if nibble.is_some() {
                            return Err(bad("space inside a hex byte"));
                        }
                    }
                    '?' => {
                        if nibble.is_some() {
                            return Err(bad("wildcard inside a hex byte"));
                        }
                        if !was_half {
                            bytes.push(None);
                            half_wild = true;
                        }
                    }
                    _ => {
                        let v = c.to_digit(16).ok_or_else(|| bad("not a hex digit"))? as u8;
                        match nibble.take() {
                            Some(hi) => bytes.push(Some(hi << 4 | v)),
                            None => nibble = Some(v),
                        }
                    }
                }
            } else {
                match c {
                    '|' => in_hex = true,
                    '?' => bytes.push(None),
                    _ if c.is_ascii() => bytes.push(Some(c as u8)),
                    _ => return Err(bad("non-ASCII character outside |..|")),
                }
            }
            if bytes.len() > MAX_HEX_LEN {
                return Err(bad("longer than 256 bytes"));
            }
        }
        if in_hex {
            return Err(bad("unclosed |"));
        }
        if bytes.is_empty() {
            return Err(bad("empty"));
        }
        Ok(Hex {
            bytes: bytes.into_boxed_slice(),
        })
    }

    /// Does the pattern fit the start of `data`?
    pub(crate) fn fit(&self, data: &[u8]) -> Result<(), Miss> {
        for (i, want) in self.bytes.iter().enumerate() {
            let Some(&got) = data.get(i) else {
                return Err(Miss::More);
            };
            if let Some(w) = want {
                if *w != got {
                    return Err(Miss::No);
                }
            }
        }
        Ok(())
    }

    /// Can the pattern match data that starts with `b`?
    pub(crate) fn may_start_with(&self, b: u8) -> bool {
        match self.bytes.first() {
            Some(Some(first)) => *first == b,
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_hex_blocks_parse_to_the_same_bytes() {
        let a = Hex::parse("|16 03|").unwrap();
        let b = Hex::parse("|1603|").unwrap();
        assert_eq!(a, b);
        let c = Hex::parse("PRI|20|*").unwrap();
        assert_eq!(c.fit(b"PRI *"), Ok(()));
        assert_eq!(c.fit(b"PRI"), Err(Miss::More));
        assert_eq!(c.fit(b"PRX *"), Err(Miss::No));
    }

    #[test]
    fn wildcards_match_any_byte() {
        let h = Hex::parse("d2:ip6:??????1:r").unwrap();
        assert_eq!(h.fit(b"d2:ip6:\x01\x02\x03\x04\x05\x061:rd"), Ok(()));
        assert_eq!(h.fit(b"d2:ip6:\x01\x02\x03\x04\x05\x062:r"), Err(Miss::No));
        let w = Hex::parse("|05 ?? 64|").unwrap();
        assert_eq!(w, Hex::parse("|05 ? 64|").unwrap());
        assert_eq!(
            Hex::parse("|05 ? ? 64|").unwrap().fit(&[5, 1, 2, 0x64]),
            Ok(())
        );
        assert_eq!(w.fit(&[5, 0xaa, 0x64]), Ok(()));
        assert_eq!(w.fit(&[5, 0xaa, 0x65]), Err(Miss::No));
        assert!(w.may_start_with(5));
        assert!(!w.may_start_with(6));
        assert!(Hex::parse("?a").unwrap().may_start_with(0xee));
    }

    #[test]
    fn malformed_patterns_are_refused_with_a_reason() {
        for p in ["", "|1|", "|zz|", "|16 03", "|1 6|", "é", "|1?|"] {
            assert!(
                matches!(Hex::parse(p), Err(WizardError::BadHex { .. })),
                "{p:?} was accepted"
            );
        }
        let long = "a".repeat(MAX_HEX_LEN + 1);
        assert!(Hex::parse(&long).is_err());
    }
}
