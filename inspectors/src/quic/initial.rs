//! QUIC Initial packet protection (RFC 9001 section 5, RFC 9369 section 3.3): the keys
//! derived from the client's first Destination Connection ID, header protection
//! removal (AES-128-ECB) and payload decryption (AES-128-GCM).
//!
//! Contract: [`InitialKeys::derive`] knows the salts and labels of QUIC v1, v2, the
//! IETF drafts 22 to 34, Facebook's mvfst versions (`faceb001`, draft 22's salt;
//! `faceb002` and `faceb00e`, draft 23's) and Google's Q050, T050 and T051 (and returns
//! `None` for any other version);
//! [`InitialKeys::unprotect`] works in place on one packet copied into a caller's
//! buffer and returns the full packet number and the plaintext range, or
//! [`CryptoError`] (packet too short for a sample, or authentication failed). It
//! reads no byte outside the packet and allocates nothing.

use super::header::version;
use aes::cipher::{BlockCipherEncrypt, KeyInit};
use aes::Aes128;
use aes_gcm::aead::{AeadInOut, Nonce, Tag};
use aes_gcm::Aes128Gcm;
use hkdf::Hkdf;
use sha2::Sha256;
use std::ops::Range;

const SALT_V1: [u8; 20] = [
    0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad,
    0xcc, 0xbb, 0x7f, 0x0a,
];
const SALT_V2: [u8; 20] = [
    0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb,
    0xf9, 0xbd, 0x2e, 0xd9,
];
/// draft-ietf-quic-tls-29 to -32.
const SALT_DRAFT29: [u8; 20] = [
    0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97, 0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0,
    0x43, 0x90, 0xa8, 0x99,
];
/// draft-ietf-quic-tls-22 (and mvfst's `faceb001`, which is based on it).
const SALT_DRAFT22: [u8; 20] = [
    0x7f, 0xbc, 0xdb, 0x0e, 0x7c, 0x66, 0xbb, 0xe9, 0x19, 0x3a, 0x96, 0xcd, 0x21, 0x51, 0x9e, 0xbd,
    0x7a, 0x02, 0x64, 0x4a,
];
/// draft-ietf-quic-tls-23 to -28.
const SALT_DRAFT23: [u8; 20] = [
    0xc3, 0xee, 0xf7, 0x12, 0xc7, 0x2e, 0xbb, 0x5a, 0x11, 0xa7, 0xd2, 0x43, 0x2b, 0xb4, 0x63, 0x65,
    0xbe, 0xf9, 0xf5, 0x02,
];

/// Which endpoint's Initial keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The client's (`client in`).
    Client,
    /// The server's (`server in`).
    Server,
}

/// An Initial packet that could not be unprotected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// Too short for the header-protection sample or the AEAD tag.
    #[error("QUIC packet too short to unprotect")]
    Short,
    /// The AEAD tag did not verify (wrong keys, or not an Initial).
    #[error("QUIC packet failed authentication")]
    Auth,
}

/// Google's Q050.
const SALT_Q050: [u8; 20] = [
    0x50, 0x45, 0x74, 0xef, 0xd0, 0x66, 0xfe, 0x2f, 0x9d, 0x94, 0x5c, 0xfc, 0xdb, 0xd3, 0xa7, 0xf0,
    0xd3, 0xb5, 0x6b, 0x45,
];
/// Google's T050.
const SALT_T050: [u8; 20] = [
    0x7f, 0xf5, 0x79, 0xe5, 0xac, 0xd0, 0x72, 0x91, 0x55, 0x80, 0x30, 0x4c, 0x43, 0xa2, 0x36, 0x7c,
    0x60, 0x48, 0x83, 0x10,
];
/// Google's T051.
const SALT_T051: [u8; 20] = [
    0x7a, 0x4e, 0xde, 0xf4, 0xe7, 0xcc, 0xee, 0x5f, 0xa4, 0x50, 0x6c, 0x19, 0x12, 0x4f, 0xc8, 0xcc,
    0xda, 0x6e, 0x03, 0x3d,
];

/// The salt and the label prefix of a version's Initial keys.
fn params(v: u32) -> Option<(&'static [u8; 20], &'static str)> {
    Some(match v {
        version::V1 | 0xff00_0021..=0xff00_0022 => (&SALT_V1, "quic"),
        version::V2 => (&SALT_V2, "quicv2"),
        0xff00_001d..=0xff00_0020 => (&SALT_DRAFT29, "quic"),
        0xff00_0017..=0xff00_001c | 0xface_b002 | 0xface_b00e => (&SALT_DRAFT23, "quic"),
        0xff00_0016 | 0xface_b001 => (&SALT_DRAFT22, "quic"),
        0x5130_3530 => (&SALT_Q050, "quic"),
        0x5430_3530 => (&SALT_T050, "quic"),
        0x5430_3531 => (&SALT_T051, "quic"),
        _ => return None,
    })
}

/// HKDF-Expand-Label (RFC 8446 section 7.1) with an empty context.
fn expand_label(hk: &Hkdf<Sha256>, label: &[&str], out: &mut [u8]) {
    let label_len: usize = 6 + label.iter().map(|l| l.len()).sum::<usize>();
    let len = (out.len() as u16).to_be_bytes();
    let mut info: [&[u8]; 6] = [&len, &[label_len as u8], b"tls13 ", b"", b"", &[0]];
    for (slot, part) in info[3..5].iter_mut().zip(label) {
        *slot = part.as_bytes();
    }
    // Output lengths here are 12 to 32 bytes, far under HKDF's 255 * 32 limit.
    let _ = hk.expand_multi_info(&info, out);
}

/// The Initial secret of `side` for a version and client DCID (RFC 9001 5.2).
pub fn initial_secret(v: u32, dcid: &[u8], side: Side) -> Option<[u8; 32]> {
    let (salt, _) = params(v)?;
    let hk = Hkdf::<Sha256>::new(Some(salt), dcid);
    let mut secret = [0u8; 32];
    let label = match side {
        Side::Client => "client in",
        Side::Server => "server in",
    };
    expand_label(&hk, &[label], &mut secret);
    Some(secret)
}

/// Key, IV and header-protection key from a secret (RFC 9001 5.1; v2 labels).
pub fn key_iv_hp(v: u32, secret: &[u8; 32]) -> Option<([u8; 16], [u8; 12], [u8; 16])> {
    let (_, prefix) = params(v)?;
    let hk = Hkdf::<Sha256>::from_prk(secret).ok()?;
    let (mut key, mut iv, mut hp) = ([0u8; 16], [0u8; 12], [0u8; 16]);
    expand_label(&hk, &[prefix, " key"], &mut key);
    expand_label(&hk, &[prefix, " iv"], &mut iv);
    expand_label(&hk, &[prefix, " hp"], &mut hp);
    Some((key, iv, hp))
}

/// Initial packet protection keys of one side.
pub struct InitialKeys {
    aead: Aes128Gcm,
    iv: [u8; 12],
    hp: Aes128,
}

impl std::fmt::Debug for InitialKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InitialKeys")
    }
}

impl InitialKeys {
    /// The Initial keys of `side` for version `v` and the client's first DCID; `None`
    /// for a version without known Initial salt.
    pub fn derive(v: u32, dcid: &[u8], side: Side) -> Option<Self> {
        let secret = initial_secret(v, dcid, side)?;
        let (key, iv, hp) = key_iv_hp(v, &secret)?;
        Some(InitialKeys {
            aead: Aes128Gcm::new(&key.into()),
            iv,
            hp: Aes128::new(&hp.into()),
        })
    }

    /// The header-protection mask for a 16-byte sample.
    fn mask(&self, sample: &[u8; 16]) -> [u8; 16] {
        let mut block = (*sample).into();
        self.hp.encrypt_block(&mut block);
        block.into()
    }

    /// Removes header protection and decrypts `packet` (one whole long-header packet,
    /// modified in place) whose packet number starts at `pn_offset`. `largest` is the
    /// largest packet number seen so far in this space (for the full number). Returns
    /// the packet number and the range of `packet` holding the plaintext frames.
    pub fn unprotect(
        &self,
        packet: &mut [u8],
        pn_offset: usize,
        largest: Option<u64>,
    ) -> Result<(u64, Range<usize>), CryptoError> {
        let sample: [u8; 16] = *packet
            .get(pn_offset + 4..pn_offset + 20)
            .and_then(|s| s.first_chunk::<16>())
            .ok_or(CryptoError::Short)?;
        let mask = self.mask(&sample);
        let first = packet.first_mut().ok_or(CryptoError::Short)?;
        *first ^= mask[0] & 0x0f;
        let pn_len = usize::from(*first & 0x03) + 1;
        let pn_bytes = packet
            .get_mut(pn_offset..pn_offset + pn_len)
            .ok_or(CryptoError::Short)?;
        let mut truncated = 0u64;
        for (b, m) in pn_bytes.iter_mut().zip(&mask[1..]) {
            *b ^= m;
            truncated = truncated << 8 | u64::from(*b);
        }
        let pn = decode_pn(largest, truncated, pn_len * 8);
        let payload_start = pn_offset + pn_len;
        let tag_start = packet
            .len()
            .checked_sub(16)
            .filter(|t| *t >= payload_start)
            .ok_or(CryptoError::Short)?;
        let mut nonce = self.iv;
        for (n, p) in nonce[4..].iter_mut().zip(pn.to_be_bytes()) {
            *n ^= p;
        }
        let (head, rest) = packet.split_at_mut(payload_start);
        let (body, tag) = rest.split_at_mut(tag_start - payload_start);
        let tag = Tag::<Aes128Gcm>::try_from(&*tag).map_err(|_| CryptoError::Short)?;
        self.aead
            .decrypt_inout_detached(&Nonce::<Aes128Gcm>::from(nonce), head, body.into(), &tag)
            .map_err(|_| CryptoError::Auth)?;
        Ok((pn, payload_start..tag_start))
    }

    /// Protects a packet as a sender does (used to build test traffic): `header` is
    /// the unprotected header ending with the packet number (its length in the low
    /// two bits of the first byte), `pn` the full packet number, `payload` the
    /// frames. `None` when the header is shorter than its packet number or the packet
    /// too short for the header-protection sample.
    pub fn seal(&self, header: &[u8], pn: u64, payload: &[u8]) -> Option<Vec<u8>> {
        let pn_len = usize::from(header.first()? & 0x03) + 1;
        let pn_offset = header.len().checked_sub(pn_len)?;
        let mut nonce = self.iv;
        for (n, p) in nonce[4..].iter_mut().zip(pn.to_be_bytes()) {
            *n ^= p;
        }
        let mut out = Vec::with_capacity(header.len() + payload.len() + 16);
        out.extend_from_slice(header);
        out.extend_from_slice(payload);
        let (head, body) = out.split_at_mut(header.len());
        let tag = self
            .aead
            .encrypt_inout_detached(&Nonce::<Aes128Gcm>::from(nonce), head, body.into())
            .ok()?;
        out.extend_from_slice(&tag);
        let sample: [u8; 16] = *out.get(pn_offset + 4..)?.first_chunk::<16>()?;
        let mask = self.mask(&sample);
        if let Some(first) = out.first_mut() {
            *first ^= mask[0] & 0x0f;
        }
        for (b, m) in out
            .get_mut(pn_offset..pn_offset + pn_len)?
            .iter_mut()
            .zip(&mask[1..])
        {
            *b ^= m;
        }
        Some(out)
    }
}

/// The full packet number from its truncated form (RFC 9000 appendix A.3).
pub fn decode_pn(largest: Option<u64>, truncated: u64, bits: usize) -> u64 {
    let expected = largest.map_or(0, |l| l.saturating_add(1));
    let win = 1u64 << bits;
    let hwin = win / 2;
    let mask = win - 1;
    let candidate = (expected & !mask) | truncated;
    if candidate.saturating_add(hwin) <= expected && candidate < (1u64 << 62) - win {
        candidate + win
    } else if candidate > expected.saturating_add(hwin) && candidate >= win {
        candidate - win
    } else {
        candidate
    }
}
