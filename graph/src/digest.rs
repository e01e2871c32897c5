//! The digest contract's encoding: BLAKE3 over length-prefixed fields, format version first.
//!
//! Every digest in werf-rs is built here, so the rules of DESIGN.md section 3 live in one place:
//! a fixed format string opens the hash, every field is written as `len(label) label len(value)
//! value`, and a tag is the first 56 hex characters of the final stage's digest.

use std::fmt;

/// The format version that opens every digest. Bump it when the encoding or the set of covered
/// inputs changes: every tag changes with it, on purpose.
pub const FORMAT_VERSION: &str = "werf-rs/stage-digest/v1";

/// Length of an image tag in hex characters (the first 56 of the 64-char digest).
pub const TAG_LEN: usize = 56;

/// A 32-byte BLAKE3 digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    /// Lowercase hex of all 32 bytes.
    pub fn hex(&self) -> String {
        hex(&self.0)
    }

    /// The image tag this digest gives: its first 56 hex characters.
    pub fn tag(&self) -> String {
        let mut h = self.hex();
        h.truncate(TAG_LEN);
        h
    }

    /// A short form for humans (12 hex characters).
    pub fn short(&self) -> String {
        let mut h = self.hex();
        h.truncate(12);
        h
    }

    /// Parses 64 hex characters.
    pub fn from_hex(s: &str) -> Option<Self> {
        let bytes = unhex(s)?;
        Some(Digest(bytes.try_into().ok()?))
    }

    /// Digest of raw bytes, for keys that need no field structure.
    pub fn of_bytes(domain: &str, bytes: &[u8]) -> Self {
        let mut b = Builder::new(domain);
        b.field("bytes", bytes);
        b.finish()
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.short())
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.hex())
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Digest::from_hex(&s).ok_or_else(|| serde::de::Error::custom("expected 64 hex characters"))
    }
}

/// Canonical, length-prefixed hashing. `domain` separates kinds of digests (stage, listing, key).
pub struct Builder {
    hasher: blake3::Hasher,
}

impl Builder {
    /// Starts a digest: the format version, then the domain.
    pub fn new(domain: &str) -> Self {
        let mut b = Builder {
            hasher: blake3::Hasher::new(),
        };
        b.raw(FORMAT_VERSION.as_bytes());
        b.raw(domain.as_bytes());
        b
    }

    fn raw(&mut self, bytes: &[u8]) {
        self.hasher.update(&(bytes.len() as u64).to_le_bytes());
        self.hasher.update(bytes);
    }

    /// Adds one labelled field.
    pub fn field(&mut self, label: &str, value: &[u8]) -> &mut Self {
        self.raw(label.as_bytes());
        self.raw(value);
        self
    }

    /// Adds one labelled string field.
    pub fn str(&mut self, label: &str, value: &str) -> &mut Self {
        self.field(label, value.as_bytes())
    }

    /// Adds one labelled digest field.
    pub fn digest(&mut self, label: &str, value: &Digest) -> &mut Self {
        self.field(label, &value.0)
    }

    /// The digest of everything written so far.
    pub fn finish(&self) -> Digest {
        Digest(*self.hasher.finalize().as_bytes())
    }
}

/// Lowercase hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 0xf) as usize] as char);
    }
    s
}

/// Bytes of a hex string, or `None` if it is not hex of even length.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_prefix_separates_fields() {
        let mut a = Builder::new("t");
        a.str("x", "ab").str("y", "c");
        let mut b = Builder::new("t");
        b.str("x", "a").str("y", "bc");
        assert_ne!(a.finish(), b.finish());
    }

    #[test]
    fn tag_is_56_hex() {
        let d = Digest::of_bytes("t", b"hello");
        assert_eq!(d.tag().len(), TAG_LEN);
        assert!(d.hex().starts_with(&d.tag()));
        assert_eq!(Digest::from_hex(&d.hex()), Some(d));
    }
}
