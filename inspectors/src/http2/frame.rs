//! HTTP/2 frames (RFC 9113 §4.1, §6) as checked views over bytes, in the style of
//! smoltcp's `wire` module.
//!
//! Contract: [`Frame::new_checked`] accepts a buffer only when it holds the 9-byte
//! header and the whole payload the header announces; every accessor after that reads
//! inside the buffer and cannot panic. The payload views ([`Frame::headers`],
//! [`Frame::push_promise`], [`Frame::data`], [`Frame::settings`],
//! [`Frame::error_code`], [`Frame::priority_weight`]) check the frame's own fields
//! (padding, fixed lengths) and return a typed [`FrameError`] when they do not fit.
//! [`FrameHeader`] is the header alone, for a reader that streams a payload it does
//! not keep (DATA).

/// Length of a frame header.
pub const HEADER_LEN: usize = 9;

/// The client connection preface (RFC 9113 §3.4).
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Flag END_STREAM (DATA, HEADERS).
pub const FLAG_END_STREAM: u8 = 0x1;
/// Flag ACK (SETTINGS, PING).
pub const FLAG_ACK: u8 = 0x1;
/// Flag END_HEADERS (HEADERS, PUSH_PROMISE, CONTINUATION).
pub const FLAG_END_HEADERS: u8 = 0x4;
/// Flag PADDED (DATA, HEADERS, PUSH_PROMISE).
pub const FLAG_PADDED: u8 = 0x8;
/// Flag PRIORITY (HEADERS).
pub const FLAG_PRIORITY: u8 = 0x20;

/// SETTINGS_HEADER_TABLE_SIZE.
pub const SETTINGS_HEADER_TABLE_SIZE: u16 = 0x1;

/// Why a frame, or a field of one, could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The buffer ends before the header or the payload the header announces.
    #[error("HTTP/2 frame truncated")]
    Truncated,
    /// The padding length is longer than what it pads.
    #[error("HTTP/2 frame padding exceeds its payload")]
    BadPadding,
    /// A frame of fixed size has another length.
    #[error("HTTP/2 frame has the wrong length for its type")]
    BadLength,
}

/// Frame types (RFC 9113 §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FrameType {
    /// DATA.
    Data,
    /// HEADERS.
    Headers,
    /// PRIORITY.
    Priority,
    /// RST_STREAM.
    RstStream,
    /// SETTINGS.
    Settings,
    /// PUSH_PROMISE.
    PushPromise,
    /// PING.
    Ping,
    /// GOAWAY.
    GoAway,
    /// WINDOW_UPDATE.
    WindowUpdate,
    /// CONTINUATION.
    Continuation,
    /// Any other type (extensions), to be ignored.
    Unknown(u8),
}

impl From<u8> for FrameType {
    fn from(t: u8) -> Self {
        match t {
            0 => FrameType::Data,
            1 => FrameType::Headers,
            2 => FrameType::Priority,
            3 => FrameType::RstStream,
            4 => FrameType::Settings,
            5 => FrameType::PushPromise,
            6 => FrameType::Ping,
            7 => FrameType::GoAway,
            8 => FrameType::WindowUpdate,
            9 => FrameType::Continuation,
            other => FrameType::Unknown(other),
        }
    }
}

/// A frame header, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// Payload length (24 bits).
    pub length: u32,
    /// Type.
    pub kind: FrameType,
    /// Flags.
    pub flags: u8,
    /// Stream identifier (31 bits; 0 for the connection).
    pub stream_id: u32,
}

impl FrameHeader {
    /// Decodes the 9-byte header at the start of `b` (`None` when shorter).
    pub fn parse(b: &[u8]) -> Option<FrameHeader> {
        let h: &[u8; HEADER_LEN] = b.get(..HEADER_LEN)?.try_into().ok()?;
        Some(FrameHeader {
            length: u32::from_be_bytes([0, h[0], h[1], h[2]]),
            kind: FrameType::from(h[3]),
            flags: h[4],
            stream_id: u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & 0x7fff_ffff,
        })
    }

    /// True when flag bit(s) `f` are set.
    pub fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }
}

/// The header-block fragment of a HEADERS frame, with its priority weight when the
/// PRIORITY flag carries one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeadersPayload<'a> {
    /// The HPACK fragment.
    pub fragment: &'a [u8],
    /// Priority weight (the wire value, 0-255).
    pub weight: Option<u8>,
}

/// A checked view of one whole frame at the start of a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// Wraps `buffer` without checking it; use [`Frame::check_len`] before reading.
    pub fn new_unchecked(buffer: T) -> Frame<T> {
        Frame { buffer }
    }

    /// Wraps `buffer` when it holds a whole frame (header and payload).
    pub fn new_checked(buffer: T) -> Result<Frame<T>, FrameError> {
        let f = Frame::new_unchecked(buffer);
        f.check_len()?;
        Ok(f)
    }

    /// Checks that the buffer holds the header and the whole payload.
    pub fn check_len(&self) -> Result<(), FrameError> {
        let b = self.buffer.as_ref();
        let h = FrameHeader::parse(b).ok_or(FrameError::Truncated)?;
        if b.len() - HEADER_LEN < h.length as usize {
            return Err(FrameError::Truncated);
        }
        Ok(())
    }

    /// The decoded header.
    pub fn header(&self) -> FrameHeader {
        // Checked by construction; an unchecked short buffer reads as an empty frame.
        FrameHeader::parse(self.buffer.as_ref()).unwrap_or(FrameHeader {
            length: 0,
            kind: FrameType::Unknown(0xff),
            flags: 0,
            stream_id: 0,
        })
    }

    /// Header plus payload length: where the next frame starts.
    pub fn total_len(&self) -> usize {
        HEADER_LEN + self.header().length as usize
    }

    /// The payload, as the header announces it.
    pub fn payload(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        b.get(HEADER_LEN..self.total_len()).unwrap_or_default()
    }

    /// A HEADERS frame's fragment (padding and priority removed).
    pub fn headers(&self) -> Result<HeadersPayload<'_>, FrameError> {
        let h = self.header();
        let p = unpad(self.payload(), h.has(FLAG_PADDED))?;
        if h.has(FLAG_PRIORITY) {
            let (prio, fragment) = p.split_at_checked(5).ok_or(FrameError::BadLength)?;
            Ok(HeadersPayload {
                fragment,
                weight: prio.get(4).copied(),
            })
        } else {
            Ok(HeadersPayload {
                fragment: p,
                weight: None,
            })
        }
    }

    /// A PUSH_PROMISE frame's promised stream id and fragment.
    pub fn push_promise(&self) -> Result<(u32, &[u8]), FrameError> {
        let h = self.header();
        let p = unpad(self.payload(), h.has(FLAG_PADDED))?;
        let (id, fragment) = p.split_at_checked(4).ok_or(FrameError::BadLength)?;
        let id: [u8; 4] = id.try_into().map_err(|_| FrameError::BadLength)?;
        Ok((u32::from_be_bytes(id) & 0x7fff_ffff, fragment))
    }

    /// A DATA frame's data (padding removed).
    pub fn data(&self) -> Result<&[u8], FrameError> {
        unpad(self.payload(), self.header().has(FLAG_PADDED))
    }

    /// A SETTINGS frame's (identifier, value) pairs.
    pub fn settings(&self) -> Result<impl Iterator<Item = (u16, u32)> + '_, FrameError> {
        let p = self.payload();
        if p.len() % 6 != 0 {
            return Err(FrameError::BadLength);
        }
        Ok(setting_entries(p))
    }

    /// The error code of a RST_STREAM (4-byte payload) or GOAWAY (after the last
    /// stream id) frame.
    pub fn error_code(&self) -> Result<u32, FrameError> {
        let p = self.payload();
        let at = match self.header().kind {
            FrameType::RstStream if p.len() == 4 => 0,
            FrameType::GoAway if p.len() >= 8 => 4,
            _ => return Err(FrameError::BadLength),
        };
        let c: [u8; 4] = p
            .get(at..at + 4)
            .and_then(|c| c.try_into().ok())
            .ok_or(FrameError::BadLength)?;
        Ok(u32::from_be_bytes(c))
    }

    /// A PRIORITY frame's weight.
    pub fn priority_weight(&self) -> Result<u8, FrameError> {
        match self.payload() {
            [_, _, _, _, w] => Ok(*w),
            _ => Err(FrameError::BadLength),
        }
    }
}

/// Removes the padding of a payload whose first byte is the pad length.
fn unpad(p: &[u8], padded: bool) -> Result<&[u8], FrameError> {
    if !padded {
        return Ok(p);
    }
    let (&pad, rest) = p.split_first().ok_or(FrameError::BadPadding)?;
    let keep = rest
        .len()
        .checked_sub(usize::from(pad))
        .ok_or(FrameError::BadPadding)?;
    Ok(&rest[..keep])
}

/// The name Suricata 8 logs for the error `code` of a RST_STREAM frame: its
/// `HTTP2ErrorCode` variant (`"NoError"`, `"RefusedStream"`, ...). A GOAWAY's is the
/// same in capitals ([`goaway_error_name`]).
pub fn error_name(code: u32) -> Option<&'static str> {
    Some(match code {
        0x0 => "NoError",
        0x1 => "ProtocolError",
        0x2 => "InternalError",
        0x3 => "FlowControlError",
        0x4 => "SettingsTimeout",
        0x5 => "StreamClosed",
        0x6 => "FrameSizeError",
        0x7 => "RefusedStream",
        0x8 => "Cancel",
        0x9 => "CompressionError",
        0xa => "ConnectError",
        0xb => "EnhanceYourCalm",
        0xc => "InadequateSecurity",
        0xd => "Http11Required",
        _ => return None,
    })
}

/// The name Suricata 8 logs for the error `code` of a GOAWAY frame (`"NOERROR"`,
/// `"ENHANCEYOURCALM"`, ...).
pub fn goaway_error_name(code: u32) -> Option<&'static str> {
    Some(match code {
        0x0 => "NOERROR",
        0x1 => "PROTOCOLERROR",
        0x2 => "INTERNALERROR",
        0x3 => "FLOWCONTROLERROR",
        0x4 => "SETTINGSTIMEOUT",
        0x5 => "STREAMCLOSED",
        0x6 => "FRAMESIZEERROR",
        0x7 => "REFUSEDSTREAM",
        0x8 => "CANCEL",
        0x9 => "COMPRESSIONERROR",
        0xa => "CONNECTERROR",
        0xb => "ENHANCEYOURCALM",
        0xc => "INADEQUATESECURITY",
        0xd => "HTTP11REQUIRED",
        _ => return None,
    })
}

/// The name Suricata 8 logs for a SETTINGS identifier (`"SETTINGS"` and the name
/// without underscores), or `None` for one it does not know.
pub fn setting_name(id: u16) -> Option<&'static str> {
    Some(match id {
        1 => "SETTINGSHEADERTABLESIZE",
        2 => "SETTINGSENABLEPUSH",
        3 => "SETTINGSMAXCONCURRENTSTREAMS",
        4 => "SETTINGSINITIALWINDOWSIZE",
        5 => "SETTINGSMAXFRAMESIZE",
        6 => "SETTINGSMAXHEADERLISTSIZE",
        8 => "SETTINGSENABLECONNECTPROTOCOL",
        9 => "SETTINGSNORFC7540PRIORITIES",
        _ => return None,
    })
}

/// A SETTINGS payload's entries as Suricata keeps them: whole 6-byte entries, up to
/// the first identifier it does not know (that one and the rest are dropped).
pub fn known_settings(payload: &[u8]) -> Vec<(u16, u32)> {
    setting_entries(payload)
        .take_while(|&(id, _)| setting_name(id).is_some())
        .collect()
}

/// The whole 6-byte (identifier, value) entries of a SETTINGS payload.
fn setting_entries(p: &[u8]) -> impl Iterator<Item = (u16, u32)> + '_ {
    p.chunks_exact(6).map(|e| {
        (
            u16::from_be_bytes([e[0], e[1]]),
            u32::from_be_bytes([e[2], e[3], e[4], e[5]]),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame: header for `kind`, `flags`, `stream` and `payload`.
    pub(crate) fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let n = payload.len() as u32;
        let mut f = n.to_be_bytes()[1..].to_vec();
        f.push(kind);
        f.push(flags);
        f.extend_from_slice(&stream.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn a_good_frame_reads_back_its_fields() {
        let f = frame(1, FLAG_END_HEADERS | FLAG_END_STREAM, 3, b"\x82\x86");
        let v = Frame::new_checked(&f[..]).unwrap();
        let h = v.header();
        assert_eq!(h.kind, FrameType::Headers);
        assert_eq!(h.stream_id, 3);
        assert!(h.has(FLAG_END_HEADERS) && h.has(FLAG_END_STREAM));
        assert_eq!(v.total_len(), 11);
        assert_eq!(v.headers().unwrap().fragment, b"\x82\x86");
        // The reserved bit of the stream id is ignored.
        let mut r = f.clone();
        r[5] |= 0x80;
        assert_eq!(Frame::new_checked(&r[..]).unwrap().header().stream_id, 3);
    }

    #[test]
    fn truncated_frames_are_refused_not_read() {
        let f = frame(0, 0, 1, b"hello");
        for cut in 0..f.len() {
            assert_eq!(
                Frame::new_checked(&f[..cut]).unwrap_err(),
                FrameError::Truncated,
                "{cut}"
            );
        }
        // Trailing bytes belong to the next frame.
        let mut two = f.clone();
        two.extend_from_slice(&frame(6, 0, 0, &[0; 8]));
        let v = Frame::new_checked(&two[..]).unwrap();
        assert_eq!(v.payload(), b"hello");
        assert_eq!(v.total_len(), f.len());
        // An unchecked short buffer reads as empty rather than panicking.
        let u = Frame::new_unchecked(&f[..4]);
        assert!(u.payload().is_empty());
    }

    #[test]
    fn oversize_and_bad_fields_are_typed_errors() {
        // The largest length a header can announce, with nothing behind it.
        let big = [0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 1];
        assert_eq!(FrameHeader::parse(&big).unwrap().length, 0x00ff_ffff);
        assert_eq!(
            Frame::new_checked(&big[..]).unwrap_err(),
            FrameError::Truncated
        );
        // Padding longer than the payload.
        let f = frame(0, FLAG_PADDED, 1, &[9, b'a']);
        let v = Frame::new_checked(&f[..]).unwrap();
        assert_eq!(v.data().unwrap_err(), FrameError::BadPadding);
        let f = frame(0, FLAG_PADDED, 1, &[]);
        assert_eq!(
            Frame::new_checked(&f[..]).unwrap().data().unwrap_err(),
            FrameError::BadPadding
        );
        // Padding and priority removed from HEADERS.
        let f = frame(
            1,
            FLAG_PADDED | FLAG_PRIORITY,
            1,
            &[2, 0, 0, 0, 0, 15, 0x82, 0, 0],
        );
        let hp = Frame::new_checked(&f[..]).unwrap();
        let hp = hp.headers().unwrap();
        assert_eq!(hp.fragment, &[0x82]);
        assert_eq!(hp.weight, Some(15));
        // SETTINGS of a length that is not a multiple of 6.
        let f = frame(4, 0, 0, &[0, 1, 0, 0, 0x10]);
        assert!(Frame::new_checked(&f[..]).unwrap().settings().is_err());
        let f = frame(4, 0, 0, &[0, 1, 0, 0, 0x10, 0, 0, 3, 0, 0, 0, 100]);
        let s: Vec<_> = Frame::new_checked(&f[..])
            .unwrap()
            .settings()
            .unwrap()
            .collect();
        assert_eq!(s, vec![(1, 4096), (3, 100)]);
        // RST_STREAM must be 4 bytes; GOAWAY carries its code after the stream id.
        let f = frame(3, 0, 1, &[0, 0, 0, 8]);
        assert_eq!(Frame::new_checked(&f[..]).unwrap().error_code(), Ok(8));
        let f = frame(3, 0, 1, &[0, 0, 8]);
        assert!(Frame::new_checked(&f[..]).unwrap().error_code().is_err());
        let f = frame(7, 0, 0, &[0, 0, 0, 5, 0, 0, 0, 2]);
        assert_eq!(Frame::new_checked(&f[..]).unwrap().error_code(), Ok(2));
        assert_eq!(error_name(2), Some("InternalError"));
        assert_eq!(goaway_error_name(2), Some("INTERNALERROR"));
        assert_eq!(error_name(0x42), None);
        assert_eq!(goaway_error_name(0x42), None);
        // Settings Suricata knows, up to the first it does not; whole entries only.
        assert_eq!(setting_name(9), Some("SETTINGSNORFC7540PRIORITIES"));
        let p = [0, 3, 0, 0, 0, 9, 0, 7, 0, 0, 0, 1, 0, 4, 0, 0, 0, 2];
        assert_eq!(known_settings(&p), vec![(3, 9)]);
        assert_eq!(known_settings(&p[..10]), vec![(3, 9)]);
        // PUSH_PROMISE too short for its promised id.
        let f = frame(5, 0, 1, &[0, 0, 2]);
        assert!(Frame::new_checked(&f[..]).unwrap().push_promise().is_err());
        let f = frame(5, 0, 1, &[0x80, 0, 0, 2, 0x82]);
        assert_eq!(
            Frame::new_checked(&f[..]).unwrap().push_promise(),
            Ok((2, &[0x82][..]))
        );
    }
}
