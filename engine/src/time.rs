//! Packet time.
//!
//! Time is an input: every timestamp the engine sees comes from a packet (or an event),
//! never from the wall clock. A [`Timestamp`] is nanoseconds since the Unix epoch, which
//! covers pcap's microsecond and nanosecond resolutions and pcapng's arbitrary ones
//! without loss, and fits in a `u64` until the year 2554.

use std::cell::Cell;
use std::fmt;

/// A point in packet time: nanoseconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(u64);

/// Nanoseconds in one second.
pub const NANOS_PER_SEC: u64 = 1_000_000_000;

impl Timestamp {
    /// The epoch itself.
    pub const ZERO: Timestamp = Timestamp(0);

    /// A timestamp from nanoseconds since the epoch.
    pub const fn from_nanos(nanos: u64) -> Self {
        Timestamp(nanos)
    }

    /// A timestamp from whole seconds and a sub-second part in microseconds (pcap).
    pub const fn from_secs_micros(secs: u64, micros: u32) -> Self {
        Timestamp(
            secs.saturating_mul(NANOS_PER_SEC)
                .saturating_add(micros as u64 * 1_000),
        )
    }

    /// A timestamp from whole seconds and a sub-second part in nanoseconds.
    pub const fn from_secs_nanos(secs: u64, nanos: u32) -> Self {
        Timestamp(
            secs.saturating_mul(NANOS_PER_SEC)
                .saturating_add(nanos as u64),
        )
    }

    /// Nanoseconds since the epoch.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Whole seconds since the epoch (truncated).
    pub const fn secs(self) -> u64 {
        self.0 / NANOS_PER_SEC
    }

    /// The sub-second part in microseconds (truncated).
    pub const fn subsec_micros(self) -> u32 {
        ((self.0 % NANOS_PER_SEC) / 1_000) as u32
    }

    /// This timestamp plus `secs` seconds, saturating.
    pub const fn add_secs(self, secs: u32) -> Self {
        Timestamp(self.0.saturating_add(secs as u64 * NANOS_PER_SEC))
    }

    /// The later of two timestamps.
    pub fn max(self, other: Timestamp) -> Timestamp {
        if other.0 > self.0 {
            other
        } else {
            self
        }
    }
}

/// Civil date (year, month, day) of a count of days since 1970-01-01, proleptic
/// Gregorian calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

impl Timestamp {
    /// Length of [`Timestamp::to_eve_bytes`]'s text.
    pub const EVE_LEN: usize = 31;

    /// The EVE text of this time, `2016-03-01T11:02:03.123456+0000` (UTC, microseconds),
    /// without going through `core::fmt` (record writing is on the packet path's heels).
    pub fn to_eve_bytes(self) -> [u8; Self::EVE_LEN] {
        let secs = self.secs();
        let days = secs / 86_400;
        let rem = secs % 86_400;
        let mut out = *b"0000-00-00T00:00:00.000000+0000";
        // Records and events come in time order: the date is kept per thread for the
        // last day formatted; the rest is two-digit table lookups.
        let (cached, date) = LAST_DAY.with(Cell::get);
        if cached == days && days != u64::MAX {
            out[..DATE_LEN].copy_from_slice(&date);
        } else {
            let (y, mo, d) = civil_from_days(days as i64);
            let y = y.clamp(0, 9999) as usize;
            put2(&mut out, 0, y / 100);
            put2(&mut out, 2, y % 100);
            put2(&mut out, 5, mo as usize);
            put2(&mut out, 8, d as usize);
            let mut date = [0u8; DATE_LEN];
            date.copy_from_slice(&out[..DATE_LEN]);
            LAST_DAY.with(|c| c.set((days, date)));
        }
        put2(&mut out, 11, (rem / 3_600) as usize);
        put2(&mut out, 14, ((rem % 3_600) / 60) as usize);
        put2(&mut out, 17, (rem % 60) as usize);
        let us = self.subsec_micros() as usize;
        put2(&mut out, 20, us / 10_000);
        put2(&mut out, 22, us / 100 % 100);
        put2(&mut out, 24, us % 100);
        out
    }
}

/// Length of `2016-03-01`, the date part of the EVE text.
const DATE_LEN: usize = 10;

thread_local! {
    /// The last day formatted on this thread and its text (`u64::MAX`: none yet).
    static LAST_DAY: Cell<(u64, [u8; DATE_LEN])> = const { Cell::new((u64::MAX, [0; DATE_LEN])) };
}

/// `00` to `99`.
const DIGIT_PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Writes `v % 100` as two digits at `out[at..at + 2]`.
#[inline(always)]
fn put2(out: &mut [u8; Timestamp::EVE_LEN], at: usize, v: usize) {
    let i = (v % 100) * 2;
    out[at..at + 2].copy_from_slice(&DIGIT_PAIRS[i..i + 2]);
}

/// Formats as EVE does: `2016-03-01T11:02:03.123456+0000` (UTC, microseconds).
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.to_eve_bytes();
        f.write_str(std::str::from_utf8(&b).map_err(|_| fmt::Error)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_eve() {
        assert_eq!(
            Timestamp::ZERO.to_string(),
            "1970-01-01T00:00:00.000000+0000"
        );
        // 2016-02-29 (a leap day) 23:59:59.999999
        let t = Timestamp::from_secs_micros(1_456_790_399, 999_999);
        assert_eq!(t.to_string(), "2016-02-29T23:59:59.999999+0000");
        let t = Timestamp::from_secs_nanos(1_700_000_000, 123_456_789);
        assert_eq!(t.to_string(), "2023-11-14T22:13:20.123456+0000");
        let t = Timestamp::from_secs_micros(951_782_400, 0);
        assert_eq!(t.to_string(), "2000-02-29T00:00:00.000000+0000");
    }

    #[test]
    fn the_cached_day_never_leaks_into_another() {
        let a = Timestamp::from_secs_micros(1_456_790_399, 1);
        let b = Timestamp::from_secs_micros(1_456_790_400, 2);
        for _ in 0..2 {
            assert_eq!(a.to_string(), "2016-02-29T23:59:59.000001+0000");
            assert_eq!(
                Timestamp::from_secs_micros(1_456_790_399, 999_999).to_string(),
                "2016-02-29T23:59:59.999999+0000"
            );
            assert_eq!(b.to_string(), "2016-03-01T00:00:00.000002+0000");
        }
        // The cache's "nothing yet" mark is not a second it can claim to know.
        let far = Timestamp::from_secs_micros(u64::MAX, 0);
        let fresh = std::thread::spawn(move || far.to_eve_bytes())
            .join()
            .unwrap();
        assert_eq!(far.to_eve_bytes(), fresh);
        assert_eq!(
            Timestamp::ZERO.to_string(),
            "1970-01-01T00:00:00.000000+0000"
        );
    }

    #[test]
    fn arithmetic_saturates() {
        let t = Timestamp::from_nanos(u64::MAX - 5);
        assert_eq!(t.add_secs(10), Timestamp::from_nanos(u64::MAX));
        assert_eq!(Timestamp::from_secs_micros(3, 250_000).secs(), 3);
        assert_eq!(
            Timestamp::from_secs_micros(3, 250_000).subsec_micros(),
            250_000
        );
    }
}
