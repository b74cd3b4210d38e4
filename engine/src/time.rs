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
        let mut out = [0u8; Self::EVE_LEN];
        // Records and events come in time order: the date is kept per thread for the
        // last day formatted.
        LAST_DAY.with(|c| {
            let mut clock = c.get();
            clock.write(self, &mut out);
            c.set(clock);
        });
        out
    }
}

/// Length of `2016-03-01`, the date part of the EVE text.
const DATE_LEN: usize = 10;

/// Writes EVE times, keeping the text of the last second it wrote (date and time of
/// day) and of the last day: times come mostly in order, and records written together
/// often share their second. A new second costs a few multiplications, a new day a
/// calendar computation.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EveClock {
    /// Seconds since the epoch of `text` (`u64::MAX`: none yet; no time reaches it).
    sec: u64,
    /// Days since the epoch of `text`'s date.
    day: u32,
    /// `YYYY-MM-DDTHH:MM:SS` of `sec`.
    text: [u8; SEC_LEN],
}

/// Length of `2016-03-01T11:02:03`, the text of a second.
const SEC_LEN: usize = 19;

impl EveClock {
    /// A clock that knows no second yet.
    pub(crate) const fn new() -> Self {
        EveClock {
            sec: u64::MAX,
            day: u32::MAX,
            text: [0; SEC_LEN],
        }
    }

    /// Writes `t` as EVE does (see [`Timestamp::to_eve_bytes`]) into `out`; returns its
    /// whole seconds.
    #[inline]
    pub(crate) fn write(&mut self, t: Timestamp, out: &mut [u8; Timestamp::EVE_LEN]) -> u64 {
        let secs = t.0 / NANOS_PER_SEC;
        let micros = ((t.0 - secs * NANOS_PER_SEC) / 1_000) as u32;
        if secs != self.sec {
            self.new_second(secs);
        }
        // Microseconds: eight digits, of which the first two are zero.
        let us = (digits8(micros) | ASCII_ZEROS) >> 16;
        out[..SEC_LEN].copy_from_slice(&self.text);
        out[19] = b'.';
        out[20..26].copy_from_slice(&us.to_le_bytes()[..6]);
        out[26..].copy_from_slice(b"+0000");
        secs
    }

    /// Makes `secs` the second the clock knows.
    #[inline]
    fn new_second(&mut self, secs: u64) {
        // No time reaches 2^32 days.
        let days = secs / 86_400;
        let rem = secs - days * 86_400;
        if days as u32 != self.day {
            self.text[..DATE_LEN].copy_from_slice(&date_text(days));
            self.text[DATE_LEN] = b'T';
            self.day = days as u32;
        }
        // `HH:MM:SS`: hours, minutes and seconds in 24-bit lanes, each split into
        // tens and units by a multiplication (103 / 2^10 is 1/10 for values below
        // 179), the separators from the template.
        let h = rem / 3_600;
        let m = (rem - h * 3_600) / 60;
        let s = rem - h * 3_600 - m * 60;
        let x = h | m << 24 | s << 48;
        let tens = ((x * 103) >> 10) & 0x000f_0000_0f00_000f;
        let hms = tens | (x - tens * 10) << 8 | 0x3030_3a30_303a_3030;
        self.text[DATE_LEN + 1..].copy_from_slice(&hms.to_le_bytes());
        self.sec = secs;
    }
}

/// `'0'` in every byte.
pub(crate) const ASCII_ZEROS: u64 = 0x3030_3030_3030_3030;

/// The eight decimal digits of `x < 10^8` (leading zeros included) as values 0-9, one
/// per byte, the most significant in the lowest byte (so the little-endian bytes read
/// in order; or with [`ASCII_ZEROS`] to make them text). Eight digits at once, with
/// SIMD-within-a-register arithmetic: the number is split into halves, quarters and
/// single digits by multiplications by reciprocals, each lane of the `u64` holding one
/// part (for EVE times here, and for numbers in `record::line`).
#[inline(always)]
pub(crate) fn digits8(x: u32) -> u64 {
    debug_assert!(x < 100_000_000);
    let x = u64::from(x);
    // [x / 10^4, x % 10^4] in 32-bit lanes.
    let hi = x / 10_000;
    let v = hi | ((x - hi * 10_000) << 32);
    // Each lane (< 10^4) into [lane / 100, lane % 100] in 16-bit lanes: 10486 / 2^20
    // is 1/100 closely enough for every value below 43,699.
    let h = ((v * 10_486) >> 20) & 0x0000_007f_0000_007f;
    let v = h | ((v - h * 100) << 16);
    // Each lane (< 100) into [lane / 10, lane % 10] in bytes: 103 / 2^10 is 1/10
    // closely enough for every value below 179.
    let t = ((v * 103) >> 10) & 0x000f_000f_000f_000f;
    t | ((v - t * 10) << 8)
}

/// `YYYY-MM-DD` of a count of days since the epoch.
#[cold]
fn date_text(days: u64) -> [u8; DATE_LEN] {
    let (y, mo, d) = civil_from_days(days as i64);
    let y = y.clamp(0, 9999) as usize;
    let mut out = *b"0000-00-00";
    put2(&mut out, 0, y / 100);
    put2(&mut out, 2, y % 100);
    put2(&mut out, 5, mo as usize);
    put2(&mut out, 8, d as usize);
    out
}

thread_local! {
    /// The clock of [`Timestamp::to_eve_bytes`] on this thread.
    static LAST_DAY: Cell<EveClock> = const { Cell::new(EveClock::new()) };
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
fn put2(out: &mut [u8; DATE_LEN], at: usize, v: usize) {
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

    /// The text of `t` the long way: civil date, then each field divided out.
    fn reference(t: Timestamp) -> String {
        let secs = t.secs();
        let (y, m, d) = civil_from_days((secs / 86_400) as i64);
        let rem = secs % 86_400;
        format!(
            "{:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:06}+0000",
            y.clamp(0, 9999),
            rem / 3_600,
            rem % 3_600 / 60,
            rem % 60,
            t.subsec_micros()
        )
    }

    proptest::proptest! {
        /// Any run of times, in order or not, on the same day or not, is written as the
        /// reference writes each.
        #[test]
        fn the_clock_writes_any_time_as_the_reference(
            start in proptest::prelude::any::<u64>(),
            steps in proptest::collection::vec(-200_000_000_000_000i64..200_000_000_000_000, 0..12),
            near in proptest::prelude::any::<bool>(),
        ) {
            let mut clock = EveClock::new();
            let mut t = start;
            for step in std::iter::once(0).chain(steps) {
                let step = if near { step >> 20 } else { step };
                t = t.saturating_add_signed(step);
                let mut out = [0u8; Timestamp::EVE_LEN];
                let secs = clock.write(Timestamp(t), &mut out);
                proptest::prop_assert_eq!(secs, Timestamp(t).secs());
                proptest::prop_assert_eq!(std::str::from_utf8(&out).unwrap(), reference(Timestamp(t)));
            }
        }
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
