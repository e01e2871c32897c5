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
        serialize_fixed(&self.0, s)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_fixed(d).map(Digest)
    }
}

/// A fixed-size id (a digest, a Git object id) as hex in a human-readable format (JSON, YAML)
/// and as raw bytes in a binary one (the plan memo's MessagePack).
pub(crate) fn serialize_fixed<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    if s.is_human_readable() {
        s.serialize_str(&hex(bytes))
    } else {
        s.serialize_bytes(bytes)
    }
}

/// What [`serialize_fixed`] wrote, in either form (serde's buffering of a tagged enum may hand
/// bytes to a reader that asked for a string).
pub(crate) fn deserialize_fixed<'de, D, const N: usize>(d: D) -> Result<[u8; N], D::Error>
where
    D: serde::Deserializer<'de>,
{
    use serde::de::{Error, Unexpected};
    struct Fixed<const N: usize>;
    impl<const N: usize> serde::de::Visitor<'_> for Fixed<N> {
        type Value = [u8; N];

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{} hex characters or {N} bytes", 2 * N)
        }

        fn visit_str<E: Error>(self, v: &str) -> Result<[u8; N], E> {
            unhex(v)
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| E::invalid_value(Unexpected::Str(v), &self))
        }

        fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<[u8; N], E> {
            v.try_into()
                .map_err(|_| E::invalid_value(Unexpected::Bytes(v), &self))
        }
    }
    if d.is_human_readable() {
        d.deserialize_str(Fixed)
    } else {
        d.deserialize_bytes(Fixed)
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

    /// As a tagged enum carries it (serde buffers the fields before it knows the variant).
    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    #[serde(tag = "kind")]
    enum Tagged {
        One { digest: Digest },
    }

    #[test]
    fn a_digest_is_hex_in_json_and_bytes_in_messagepack() {
        let d = Digest::of_bytes("t", b"hello");
        let json = serde_json::to_string(&d).expect("json");
        assert_eq!(json, format!("\"{}\"", d.hex()));
        assert_eq!(serde_json::from_str::<Digest>(&json).expect("back"), d);

        let packed = rmp_serde::to_vec(&d).expect("msgpack");
        // `bin 8`: a marker, the length, the 32 bytes.
        assert_eq!(packed.len(), 2 + 32);
        assert_eq!(&packed[2..], &d.0[..]);
        assert_eq!(rmp_serde::from_slice::<Digest>(&packed).expect("back"), d);

        let tagged = Tagged::One { digest: d };
        let packed = rmp_serde::to_vec(&tagged).expect("msgpack");
        assert_eq!(
            rmp_serde::from_slice::<Tagged>(&packed).expect("back"),
            tagged
        );
        // Hex handed to the binary reader reads too (the other form, as a tagged enum's
        // buffering may hand it).
        let hex = rmp_serde::to_vec(&d.hex()).expect("msgpack");
        assert_eq!(rmp_serde::from_slice::<Digest>(&hex).expect("hex"), d);
    }

    #[test]
    fn a_digest_of_the_wrong_length_is_refused_by_name() {
        let e = serde_json::from_str::<Digest>("\"abcd\"").expect_err("short hex");
        assert!(
            e.to_string().contains("64 hex characters or 32 bytes"),
            "{e}"
        );
        let short = crate::plan::memo::Blob(std::borrow::Cow::Borrowed(&[1; 31]));
        let short = rmp_serde::to_vec(&short).expect("msgpack");
        let e = rmp_serde::from_slice::<Digest>(&short).expect_err("31 bytes");
        assert!(
            e.to_string().contains("64 hex characters or 32 bytes"),
            "{e}"
        );
    }
}
