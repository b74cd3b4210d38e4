//! The frames of decrypted Initial packets and the reassembly of the CRYPTO stream
//! that carries the ClientHello.
//!
//! Contract: [`for_each_crypto`] walks the frames an Initial packet may hold (PADDING,
//! PING, ACK, CRYPTO, CONNECTION_CLOSE; RFC 9000 table 3) and hands over every CRYPTO
//! frame's offset and data; any other frame type, or a frame overrunning the packet,
//! ends the walk ([`FrameError`]). [`CryptoStream`] puts CRYPTO data back in order,
//! whatever order and overlap the frames came in, in one buffer of at most
//! [`MAX_CRYPTO`] bytes (data beyond it is an error) tracking at most
//! [`MAX_RANGES`] disjoint received ranges; [`CryptoStream::first_message`] gives the
//! first handshake message once its bytes from offset 0 are all in.

use super::header::varint;

/// The CRYPTO stream buffer's cap (64 KiB): a ClientHello is far smaller.
pub const MAX_CRYPTO: usize = 64 * 1024;
/// Disjoint ranges tracked before giving up (frames sliced absurdly thin).
pub const MAX_RANGES: usize = 64;

/// Why frames could not be read or reassembled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// A frame runs past the packet, or a frame type Initial packets cannot hold.
    #[error("malformed frame in QUIC Initial packet")]
    Malformed,
    /// CRYPTO data beyond the buffer cap, or too many holes.
    #[error("QUIC CRYPTO stream over the reassembly limits")]
    Limits,
}

/// The CRYPTO frame type of RFC 9000.
pub const CRYPTO: u8 = 0x06;
/// The CRYPTO frame type of Google's Q050, T050 and T051 (same layout).
pub const GOOGLE_CRYPTO: u8 = 0x08;

/// Calls `f(offset, data)` for each CRYPTO frame of a decrypted Initial payload.
pub fn for_each_crypto<F>(p: &[u8], f: F) -> Result<(), FrameError>
where
    F: FnMut(u64, &[u8]) -> Result<(), FrameError>,
{
    for_each_crypto_typed(p, CRYPTO, f)
}

/// [`for_each_crypto`] with CRYPTO frames of type `crypto` ([`CRYPTO`] or
/// [`GOOGLE_CRYPTO`]).
pub fn for_each_crypto_typed<F>(mut p: &[u8], crypto: u8, mut f: F) -> Result<(), FrameError>
where
    F: FnMut(u64, &[u8]) -> Result<(), FrameError>,
{
    let next = |p: &mut &[u8]| -> Result<u64, FrameError> {
        let (v, n) = varint(p).ok_or(FrameError::Malformed)?;
        *p = p.get(n..).unwrap_or_default();
        Ok(v)
    };
    while let Some((&ty, rest)) = p.split_first() {
        p = rest;
        match ty {
            0x00 => {
                // PADDING: skip the whole run.
                let n = p.iter().take_while(|b| **b == 0).count();
                p = p.get(n..).unwrap_or_default();
            }
            0x01 => {}
            0x02 | 0x03 => {
                let _largest = next(&mut p)?;
                let _delay = next(&mut p)?;
                let ranges = next(&mut p)?;
                let _first = next(&mut p)?;
                for _ in 0..ranges {
                    next(&mut p)?;
                    next(&mut p)?;
                    if p.is_empty() {
                        break;
                    }
                }
                if ty == 0x03 {
                    for _ in 0..3 {
                        next(&mut p)?;
                    }
                }
            }
            t if t == crypto => {
                let offset = next(&mut p)?;
                let len = usize::try_from(next(&mut p)?).map_err(|_| FrameError::Malformed)?;
                let data = p.get(..len).ok_or(FrameError::Malformed)?;
                p = p.get(len..).unwrap_or_default();
                f(offset, data)?;
            }
            0x1c => {
                let _code = next(&mut p)?;
                let _frame = next(&mut p)?;
                let len = usize::try_from(next(&mut p)?).map_err(|_| FrameError::Malformed)?;
                p = p.get(len..).ok_or(FrameError::Malformed)?;
            }
            _ => return Err(FrameError::Malformed),
        }
    }
    Ok(())
}

/// The CRYPTO stream of one packet number space, reassembled.
#[derive(Debug, Default)]
pub struct CryptoStream {
    buf: Vec<u8>,
    /// Received ranges, sorted and disjoint (not touching).
    ranges: Vec<(usize, usize)>,
}

impl CryptoStream {
    /// An empty stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the data of one CRYPTO frame.
    pub fn insert(&mut self, offset: u64, data: &[u8]) -> Result<(), FrameError> {
        if data.is_empty() {
            return Ok(());
        }
        let start = usize::try_from(offset).map_err(|_| FrameError::Limits)?;
        let end = start
            .checked_add(data.len())
            .filter(|e| *e <= MAX_CRYPTO)
            .ok_or(FrameError::Limits)?;
        if self.buf.len() < end {
            self.buf.resize(end, 0);
        }
        if let Some(dst) = self.buf.get_mut(start..end) {
            dst.copy_from_slice(data);
        }
        // Merge [start, end) into the ranges.
        let mut s = start;
        let mut e = end;
        self.ranges.retain(|&(a, b)| {
            if b < s || a > e {
                true
            } else {
                s = s.min(a);
                e = e.max(b);
                false
            }
        });
        let at = self.ranges.partition_point(|&(a, _)| a < s);
        self.ranges.insert(at, (s, e));
        if self.ranges.len() > MAX_RANGES {
            return Err(FrameError::Limits);
        }
        Ok(())
    }

    /// Bytes received contiguously from offset 0.
    pub fn contiguous(&self) -> &[u8] {
        match self.ranges.first() {
            Some(&(0, e)) => self.buf.get(..e).unwrap_or_default(),
            _ => &[],
        }
    }

    /// The first handshake message (type and body) once complete.
    pub fn first_message(&self) -> Option<(u8, &[u8])> {
        let c = self.contiguous();
        let (&[ty, a, b, d], rest) = c.split_first_chunk::<4>()?;
        let len = usize::from(a) << 16 | usize::from(b) << 8 | usize::from(d);
        rest.get(..len).map(|body| (ty, body))
    }

    /// True when the first message announces more than the buffer cap allows.
    pub fn first_message_too_large(&self) -> bool {
        match self.contiguous().first_chunk::<4>() {
            Some(&[_, a, b, d]) => {
                (usize::from(a) << 16 | usize::from(b) << 8 | usize::from(d)) + 4 > MAX_CRYPTO
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_order_and_overlapping_frames_reassemble() {
        let mut msg = vec![1u8, 0, 0, 100];
        msg.extend((0..100).map(|i| i as u8));
        let mut s = CryptoStream::new();
        s.insert(60, &msg[60..]).expect("fits");
        assert_eq!(s.first_message(), None);
        s.insert(10, &msg[10..70]).expect("fits");
        assert_eq!(s.first_message(), None);
        s.insert(0, &msg[..12]).expect("fits");
        assert_eq!(s.first_message(), Some((1, &msg[4..])));
        assert_eq!(s.ranges, vec![(0, 104)]);
    }

    #[test]
    fn limits_hold() {
        let mut s = CryptoStream::new();
        assert_eq!(s.insert(MAX_CRYPTO as u64, &[1]), Err(FrameError::Limits));
        assert_eq!(s.insert(u64::MAX, &[1]), Err(FrameError::Limits));
        let mut s = CryptoStream::new();
        let mut r = Ok(());
        for i in 0..=MAX_RANGES as u64 {
            r = s.insert(i * 2 + 1, &[1]);
        }
        assert_eq!(r, Err(FrameError::Limits));
        let mut s = CryptoStream::new();
        s.insert(0, &[1, 0xff, 0xff, 0xff]).expect("fits");
        assert!(s.first_message_too_large());
    }

    #[test]
    fn frames_walk() {
        // PING, ACK (1 range), CRYPTO(5, "abc"), PADDING.
        let p = [1, 2, 5, 0, 1, 0, 1, 1, 6, 5, 3, b'a', b'b', b'c', 0, 0, 0];
        let mut got = Vec::new();
        for_each_crypto(&p, |o, d| {
            got.push((o, d.to_vec()));
            Ok(())
        })
        .expect("walks");
        assert_eq!(got, vec![(5, b"abc".to_vec())]);
        // A STREAM frame cannot be in an Initial packet.
        assert_eq!(
            for_each_crypto(&[0x08, 0, 0], |_, _| Ok(())),
            Err(FrameError::Malformed)
        );
        // A CRYPTO frame longer than the packet.
        assert_eq!(
            for_each_crypto(&[6, 0, 9, 1], |_, _| Ok(())),
            Err(FrameError::Malformed)
        );
    }
}
