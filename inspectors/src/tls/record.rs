//! The TLS record layer of one direction, reassembled from stream chunks of any size,
//! and the handshake messages carried in it.
//!
//! Contract: a [`Framer`] is fed the contiguous bytes of one direction, from the first
//! byte of a TLS record, in chunks of any size (down to one byte). It checks each
//! record header (content type 20 to 24, major version 3, length at most 2^14 + 2048)
//! and reports, through a callback, the start of every ChangeCipherSpec and
//! application_data record and every complete handshake message, whether it came in
//! one record, spread over several records, or shared a record with others.
//! Handshake bytes are buffered only while a message is incomplete, and never more
//! than one message of at most [`MAX_HANDSHAKE`] bytes plus its 4-byte header: a
//! larger message is an error. Messages that sit whole in a chunk are handed over
//! without a copy. Record payloads other than handshake ones are skipped unread, and
//! so are handshake records once the callback said [`Next::Skip`] (their content is
//! encrypted or of no interest). Any error ends the direction: the caller stops.

use std::ops::ControlFlow;

/// Largest handshake message body buffered (64 KiB); a larger one ends inspection.
pub const MAX_HANDSHAKE: usize = 64 * 1024;

/// Largest record payload (TLSCiphertext: 2^14 + 2048).
const MAX_RECORD: usize = (1 << 14) + 2048;

const CT_CHANGE_CIPHER_SPEC: u8 = 20;
const CT_HANDSHAKE: u8 = 22;
const CT_APPLICATION_DATA: u8 = 23;
const CT_HEARTBEAT: u8 = 24;

/// What the record layer saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordEvent<'a> {
    /// A complete handshake message: its type and body.
    Handshake {
        /// Handshake message type (1 ClientHello, 2 ServerHello, 11 Certificate, ...).
        msg_type: u8,
        /// The message body, without its 4-byte header.
        body: &'a [u8],
    },
    /// A ChangeCipherSpec record starts.
    ChangeCipherSpec,
    /// An application_data record starts.
    ApplicationData,
}

/// What the framer does next, as the callback decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Go on.
    Continue,
    /// Stop reading handshake messages in this direction; keep framing records.
    Skip,
}

/// Why a direction could not be framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// A record header that no TLS implementation sends (or SSLv2).
    #[error("invalid TLS record header")]
    BadRecord,
    /// A handshake message longer than [`MAX_HANDSHAKE`].
    #[error("handshake message over {MAX_HANDSHAKE} bytes")]
    TooLarge,
}

/// The record and handshake reassembly state of one direction.
#[derive(Debug, Default)]
pub struct Framer {
    hdr: [u8; 5],
    hdr_len: usize,
    rec_type: u8,
    rec_left: usize,
    /// A partial handshake message (header included).
    hs: Vec<u8>,
    skip_handshake: bool,
    /// The version field of the first record header, valid or not (0 before one).
    first_version: u16,
}

impl Framer {
    /// A framer at the start of a direction.
    pub fn new() -> Self {
        Self::default()
    }

    /// The version field of this direction's first record header, whether or not the
    /// header was valid (0 before one was read): Suricata's version for a side that
    /// sent no hello.
    pub fn first_version(&self) -> u16 {
        self.first_version
    }

    /// Feeds the next bytes. The callback returns [`ControlFlow::Break`] to stop at
    /// once (nothing more is read).
    pub fn feed<F>(&mut self, mut data: &[u8], f: &mut F) -> Result<ControlFlow<()>, FrameError>
    where
        F: FnMut(RecordEvent<'_>) -> ControlFlow<(), Next>,
    {
        while !data.is_empty() {
            if self.rec_left == 0 && self.hdr_len < 5 {
                let take = (5 - self.hdr_len).min(data.len());
                let (head, rest) = data.split_at(take);
                self.hdr[self.hdr_len..self.hdr_len + take].copy_from_slice(head);
                self.hdr_len += take;
                data = rest;
                if self.hdr_len < 5 {
                    break;
                }
                let [ty, major, minor, l0, l1] = self.hdr;
                let len = usize::from(u16::from_be_bytes([l0, l1]));
                // Kept before the header is judged, as Suricata keeps it: a side that
                // is not speaking TLS gets the version its first bytes spell.
                if self.first_version == 0 {
                    self.first_version = u16::from_be_bytes([major, minor]);
                }
                if !(CT_CHANGE_CIPHER_SPEC..=CT_HEARTBEAT).contains(&ty)
                    || major != 3
                    || len > MAX_RECORD
                {
                    return Err(FrameError::BadRecord);
                }
                self.rec_type = ty;
                self.rec_left = len;
                self.hdr_len = 0;
                let ev = match ty {
                    CT_CHANGE_CIPHER_SPEC => Some(RecordEvent::ChangeCipherSpec),
                    CT_APPLICATION_DATA => Some(RecordEvent::ApplicationData),
                    _ => None,
                };
                if let Some(ev) = ev {
                    if self.apply(f(ev)).is_break() {
                        return Ok(ControlFlow::Break(()));
                    }
                }
                continue;
            }
            let take = self.rec_left.min(data.len());
            let (payload, rest) = data.split_at(take);
            data = rest;
            self.rec_left -= take;
            if self.rec_type == CT_HANDSHAKE
                && !self.skip_handshake
                && self.handshake(payload, f)?.is_break()
            {
                return Ok(ControlFlow::Break(()));
            }
        }
        Ok(ControlFlow::Continue(()))
    }

    fn apply(&mut self, r: ControlFlow<(), Next>) -> ControlFlow<()> {
        match r {
            ControlFlow::Break(()) => ControlFlow::Break(()),
            ControlFlow::Continue(Next::Continue) => ControlFlow::Continue(()),
            ControlFlow::Continue(Next::Skip) => {
                self.skip_handshake = true;
                self.hs = Vec::new();
                ControlFlow::Continue(())
            }
        }
    }

    /// Handshake record payload bytes, in order.
    fn handshake<F>(&mut self, mut p: &[u8], f: &mut F) -> Result<ControlFlow<()>, FrameError>
    where
        F: FnMut(RecordEvent<'_>) -> ControlFlow<(), Next>,
    {
        while !p.is_empty() && !self.skip_handshake {
            if self.hs.is_empty() {
                // Whole messages straight from the chunk.
                if let Some((&[ty, a, b, c], rest)) = p.split_first_chunk::<4>() {
                    let len = msg_len(a, b, c)?;
                    if let Some(body) = rest.get(..len) {
                        p = rest.get(len..).unwrap_or_default();
                        let r = f(RecordEvent::Handshake { msg_type: ty, body });
                        if self.apply(r).is_break() {
                            return Ok(ControlFlow::Break(()));
                        }
                        continue;
                    }
                }
            }
            // Buffer the partial message: its header first, then exactly its body.
            let need = match self.hs.first_chunk::<4>() {
                None => 4 - self.hs.len(),
                Some(&[_, a, b, c]) => 4 + msg_len(a, b, c)? - self.hs.len(),
            };
            let take = need.min(p.len());
            let (head, rest) = p.split_at(take);
            self.hs.extend_from_slice(head);
            p = rest;
            if let Some(&[ty, a, b, c]) = self.hs.first_chunk::<4>() {
                let len = msg_len(a, b, c)?;
                if self.hs.len() == 4 + len {
                    let body = self.hs.get(4..).unwrap_or_default();
                    let r = f(RecordEvent::Handshake { msg_type: ty, body });
                    self.hs.clear();
                    if self.apply(r).is_break() {
                        return Ok(ControlFlow::Break(()));
                    }
                }
            }
        }
        Ok(ControlFlow::Continue(()))
    }
}

fn msg_len(a: u8, b: u8, c: u8) -> Result<usize, FrameError> {
    let len = usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c);
    if len > MAX_HANDSHAKE {
        return Err(FrameError::TooLarge);
    }
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(ty: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![ty, 3, 3];
        v.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        v.extend_from_slice(payload);
        v
    }

    fn msg(ty: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![ty];
        v.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        v.extend_from_slice(body);
        v
    }

    /// Feeds `stream` in pieces of `step` bytes and collects what the framer reports.
    fn collect(stream: &[u8], step: usize) -> (Vec<(u8, Vec<u8>)>, Vec<&'static str>) {
        let mut f = Framer::new();
        let mut msgs = Vec::new();
        let mut others = Vec::new();
        for piece in stream.chunks(step) {
            let r = f.feed(piece, &mut |ev| {
                match ev {
                    RecordEvent::Handshake { msg_type, body } => {
                        msgs.push((msg_type, body.to_vec()))
                    }
                    RecordEvent::ChangeCipherSpec => others.push("ccs"),
                    RecordEvent::ApplicationData => others.push("app"),
                }
                ControlFlow::Continue(Next::Continue)
            });
            assert_eq!(r, Ok(ControlFlow::Continue(())));
        }
        (msgs, others)
    }

    #[test]
    fn messages_spanning_and_sharing_records_come_out_whole_at_any_split() {
        let m1 = msg(2, &[7u8; 300]);
        let m2 = msg(11, &[9u8; 5000]);
        let m3 = msg(14, &[]);
        // m1 and the start of m2 share a record; m2 spans three records; m3 shares the
        // last one.
        let all: Vec<u8> = [m1.clone(), m2.clone(), m3.clone()].concat();
        let mut stream = Vec::new();
        stream.extend(record(22, &all[..400]));
        stream.extend(record(22, &all[400..2000]));
        stream.extend(record(22, &all[2000..]));
        stream.extend(record(20, &[1]));
        stream.extend(record(23, &[0xaa; 40]));
        for step in [1, 2, 3, 5, 7, 64, 1000, stream.len()] {
            let (msgs, others) = collect(&stream, step);
            assert_eq!(
                msgs,
                vec![(2, vec![7u8; 300]), (11, vec![9u8; 5000]), (14, vec![])],
                "step {step}"
            );
            assert_eq!(others, vec!["ccs", "app"], "step {step}");
        }
    }

    #[test]
    fn bad_headers_and_oversized_messages_are_errors() {
        let mut f = Framer::new();
        let mut cb = |_: RecordEvent<'_>| ControlFlow::Continue(Next::Continue);
        assert_eq!(
            f.feed(b"GET / HTTP/1.1\r\n", &mut cb),
            Err(FrameError::BadRecord)
        );
        let mut f = Framer::new();
        // SSLv2-style record.
        assert_eq!(
            f.feed(&[0x80, 0x2e, 1, 3, 1], &mut cb),
            Err(FrameError::BadRecord)
        );
        let mut f = Framer::new();
        // Record too long.
        assert_eq!(
            f.feed(&[22, 3, 1, 0x48, 1], &mut cb),
            Err(FrameError::BadRecord)
        );
        let mut f = Framer::new();
        // A handshake message announcing 16 MiB.
        let mut s = record(22, &[11, 0xff, 0xff, 0xff]);
        s.truncate(9);
        assert_eq!(f.feed(&s, &mut cb), Err(FrameError::TooLarge));
    }

    #[test]
    fn skip_stops_reading_handshake_and_break_stops_everything() {
        let mut stream = record(22, &msg(1, b"hello"));
        stream.extend(record(22, &msg(16, b"encrypted-looking")));
        stream.extend(record(23, b"data"));
        let mut f = Framer::new();
        let mut seen = Vec::new();
        let r = f.feed(&stream, &mut |ev| {
            seen.push(format!("{ev:?}"));
            match ev {
                RecordEvent::Handshake { .. } => ControlFlow::Continue(Next::Skip),
                _ => ControlFlow::Break(()),
            }
        });
        assert_eq!(r, Ok(ControlFlow::Break(())));
        assert_eq!(seen.len(), 2, "{seen:?}");
        assert!(seen[0].contains("msg_type: 1"));
        assert_eq!(seen[1], "ApplicationData");
    }
}
