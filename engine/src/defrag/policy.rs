//! Overlap policies: which bytes win when fragments of one datagram overlap.
//!
//! Contract: [`walk`] decides, for one arriving fragment, what Suricata 7's
//! `DefragInsertFrag` decides, so a datagram reassembles to the same bytes:
//! - The held fragments are ordered by offset (ties in arrival order). The walk starts
//!   at the last fragment whose offset is below the new one's (or at the first fragment
//!   when there is none, or when no fragment starts at or after the new one), and steps
//!   forward until a fragment makes the policy act. Acting is one of: drop the new
//!   fragment; keep it with leading bytes trimmed (`ltrim`, its stored offset moves
//!   up); trim the leading bytes of a held fragment (its `ltrim`); or drop one held
//!   fragment entirely (`remove`).
//! - Reassembly then copies every held fragment, minus its `ltrim`, in that order, so
//!   where untrimmed bytes still overlap the later-ordered fragment wins.
//! - `bsd-right` has no case of its own in Suricata (it is named but falls through): no
//!   trimming at all, so at every byte the fragment starting furthest right wins, and
//!   among fragments at the same offset the newest.

use std::fmt;
use std::str::FromStr;

use super::store::{Frag, FragSlab, NIL};
use super::DefragError;

/// How overlapping fragments are resolved, named after the stacks whose behaviour they
/// model (Novak, "Target-Based Fragmentation Reassembly"; Suricata's `defrag` policies).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum OverlapPolicy {
    /// The data that arrived first wins.
    First,
    /// The data that arrived last wins.
    Last,
    /// BSD: earlier data wins, except a fragment starting before a held one wins over
    /// it (Suricata's default).
    #[default]
    Bsd,
    /// BSD-right: as Suricata does it, no trimming: the fragment starting furthest right
    /// wins, ties to the newest.
    BsdRight,
    /// Linux: like BSD, but a new fragment at the same offset as a held one wins.
    Linux,
    /// Windows: held data wins, unless the new fragment covers a held one entirely.
    Windows,
    /// Solaris: held data wins, except a new fragment that starts before a held one and
    /// covers it replaces it.
    Solaris,
}

impl OverlapPolicy {
    /// Every policy, in the order of Suricata's list.
    pub const ALL: [OverlapPolicy; 7] = [
        OverlapPolicy::First,
        OverlapPolicy::Last,
        OverlapPolicy::Bsd,
        OverlapPolicy::BsdRight,
        OverlapPolicy::Linux,
        OverlapPolicy::Windows,
        OverlapPolicy::Solaris,
    ];

    /// The configuration name (`"bsd-right"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            OverlapPolicy::First => "first",
            OverlapPolicy::Last => "last",
            OverlapPolicy::Bsd => "bsd",
            OverlapPolicy::BsdRight => "bsd-right",
            OverlapPolicy::Linux => "linux",
            OverlapPolicy::Windows => "windows",
            OverlapPolicy::Solaris => "solaris",
        }
    }
}

impl fmt::Display for OverlapPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for OverlapPolicy {
    type Err = DefragError;

    /// Parses a configuration name, ASCII case-insensitively.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OverlapPolicy::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| DefragError::UnknownPolicy { got: s.to_owned() })
    }
}

/// What the walk decided for the arriving fragment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Walk {
    /// Leading bytes of the new fragment to drop (its data is stored from here).
    pub(super) ltrim: u32,
    /// The new fragment adds nothing: do not store it.
    pub(super) drop: bool,
    /// A held fragment to remove (completely superseded), or NIL.
    pub(super) remove: u32,
}

enum Step {
    /// This held fragment does not make the policy act: look at the next one.
    Next,
    /// Keep the new fragment (with the trim so far); remove this held fragment when
    /// `skip` or when it is now trimmed away entirely.
    Insert { skip: bool },
    /// Drop the new fragment.
    Done,
}

/// Runs the policy for a new fragment of `len` bytes at `offset` against the datagram
/// whose first held fragment is `head`, trimming held fragments as the policy says.
pub(super) fn walk(
    policy: OverlapPolicy,
    frags: &mut FragSlab,
    head: u32,
    offset: u32,
    len: u32,
) -> Walk {
    // Offsets and lengths are at most 65535 (checked by the caller); the sums below are
    // done in u64 so no input can overflow them.
    let o = u64::from(offset);
    let e = o + u64::from(len);
    let mut lt: u64 = 0;

    // Where Suricata's walk begins (RB_NFIND of offset - 1, then one step back).
    let mut last_lt = NIL;
    let mut first_ge = NIL;
    let mut c = head;
    while c != NIL {
        let f = frags.get(c);
        if f.offset >= offset {
            first_ge = c;
            break;
        }
        last_lt = c;
        c = f.next;
    }
    let (mut prev, mut next) = if first_ge == NIL || last_lt == NIL {
        (
            head,
            if head == NIL {
                NIL
            } else {
                frags.get(head).next
            },
        )
    } else {
        (last_lt, first_ge)
    };

    let mut remove = NIL;
    while prev != NIL {
        let p: Frag = *frags.get(prev);
        let po = u64::from(p.offset);
        let pt = u64::from(p.ltrim);
        let pe = po + u64::from(p.len);
        let step = match policy {
            OverlapPolicy::Bsd => {
                if o < pe {
                    if po <= o {
                        // The held fragment starts first: its bytes win.
                        if pe > e {
                            Step::Done
                        } else {
                            lt = pe - o;
                            trim_next(frags, next, e);
                            Step::Insert { skip: false }
                        }
                    } else {
                        // The new fragment starts first: it wins over the start of the
                        // held one.
                        if e > po + pt {
                            let t = e - po;
                            if t > pt {
                                frags.get_mut(prev).ltrim = clamp(t);
                            }
                        }
                        trim_next(frags, next, e);
                        Step::Insert { skip: false }
                    }
                } else {
                    Step::Next
                }
            }
            OverlapPolicy::Linux => {
                if po + pt < o + lt && pe > o + lt {
                    lt += pe - o;
                }
                if o + lt < po + pt && e > po + pt {
                    frags.get_mut(prev).ltrim = clamp(pt + (e - (po + pt)));
                    Step::Insert { skip: false }
                } else if o + lt <= po + pt && e >= pe {
                    Step::Insert { skip: true }
                } else {
                    Step::Next
                }
            }
            OverlapPolicy::Windows => {
                if o + lt >= po + lt && e <= pe {
                    Step::Done
                } else if o + lt < po + lt && e > pe {
                    Step::Insert { skip: true }
                } else if (o + lt > po + pt && o + lt < pe) || (o + lt == po + lt && e > pe) {
                    lt += pe - o;
                    Step::Insert { skip: false }
                } else {
                    Step::Next
                }
            }
            OverlapPolicy::Solaris => {
                if o < pe {
                    if o >= po {
                        lt = pe - o;
                    }
                    Step::Insert {
                        skip: o < po && e >= pe,
                    }
                } else {
                    Step::Next
                }
            }
            OverlapPolicy::First => {
                if o >= po && e <= pe {
                    Step::Done
                } else if o < po {
                    Step::Insert { skip: false }
                } else if o < pe {
                    lt = pe - o;
                    Step::Insert { skip: false }
                } else {
                    Step::Next
                }
            }
            OverlapPolicy::Last => {
                if o <= po {
                    if e > po {
                        frags.get_mut(prev).ltrim = clamp(e - po);
                    }
                    Step::Insert { skip: false }
                } else {
                    Step::Next
                }
            }
            OverlapPolicy::BsdRight => Step::Next,
        };
        match step {
            Step::Next => {
                prev = next;
                if next != NIL {
                    next = frags.get(next).next;
                }
            }
            Step::Insert { skip } => {
                let p = frags.get(prev);
                if skip || p.ltrim >= p.len {
                    remove = prev;
                }
                break;
            }
            Step::Done => {
                return Walk {
                    ltrim: clamp(lt),
                    drop: true,
                    remove: NIL,
                }
            }
        }
    }
    Walk {
        ltrim: clamp(lt),
        drop: lt >= u64::from(len),
        remove,
    }
}

/// BSD: the fragment after the one acted on loses the bytes the new one covers.
fn trim_next(frags: &mut FragSlab, next: u32, e: u64) {
    if next != NIL {
        let n = frags.get_mut(next);
        if e > u64::from(n.offset) {
            n.ltrim = clamp(e - u64::from(n.offset));
        }
    }
}

fn clamp(v: u64) -> u32 {
    v.min(u64::from(u32::MAX)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in OverlapPolicy::ALL {
            assert_eq!(p.name().parse::<OverlapPolicy>(), Ok(p));
            assert_eq!(p.to_string(), p.name());
        }
        assert_eq!("BSD-Right".parse(), Ok(OverlapPolicy::BsdRight));
        assert_eq!(OverlapPolicy::default(), OverlapPolicy::Bsd);
        assert_eq!(
            "macos".parse::<OverlapPolicy>(),
            Err(DefragError::UnknownPolicy {
                got: "macos".into()
            })
        );
    }
}
