//! werf's secret encryption (common-go `pkg/secret`): an AES key given as hex (16, 24 or 32
//! bytes), and values encoded as hex of a 2-byte little-endian format version followed by the
//! payload.
//!
//! - Version 16: the legacy AES-CBC (16-byte IV, PKCS#7 padding); read only.
//! - Version 2: AES-GCM (12-byte nonce, then the ciphertext with its tag). Whole files; and YAML
//!   values of the common-go revisions before version 3.
//! - Version 3: the same AES-GCM, for YAML values only (their plaintext is framed, see
//!   [`super::values`]), so that a whole-file ciphertext is never read as a framed value.
//!
//! What is written is what werf v3 writes (common-go branch 1, pinned by werf's `go.mod` at
//! `v0.0.0-20260831162604-46c3b45163be`, werf PR 7818): files as version 2, values as version 3,
//! the 2-byte version authenticated as GCM's associated data. The revisions differ in what they
//! authenticated: none, the version, or the version and the nonce; reading tries each.

use aes::cipher::{BlockDecryptMut, KeyIvInit};
use aes_gcm::aead::{Aead, KeyInit};

/// AES-GCM: whole files (and YAML values of earlier revisions).
pub const VERSION_GCM: u16 = 2;
/// AES-GCM for a framed YAML value.
pub const VERSION_GCM_YAML: u16 = 3;
/// The legacy format, read only.
pub const VERSION_LEGACY_CBC: u16 = 16;

const NONCE: usize = 12;
const BLOCK: usize = 16;
const TAG: usize = 16;

/// Why a key or a value could not be used. No variant carries plaintext.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the secret key is not hex-encoded: {0}")]
    KeyNotHex(#[source] hex::FromHexError),
    #[error(
        "the secret key is {0} bytes long; AES needs 16, 24 or 32 (32, 48 or 64 hex characters)"
    )]
    KeyLength(usize),
    #[error("`{data}` is not hex-encoded encrypted data")]
    NotHex {
        data: String,
        #[source]
        source: hex::FromHexError,
    },
    #[error("`{data}` is too short to be encrypted data (at least {min} hex characters)")]
    TooShort { data: String, min: usize },
    #[error("unsupported secret format version {0} (this werf reads versions 2, 3 and 16)")]
    Version(u16),
    #[error(
        "authentication failed: the data has been tampered with or the encryption key is wrong"
    )]
    Authentication,
    #[error("the decrypted data is inconsistent (bad padding): the encryption key is wrong or the data is corrupt")]
    Unpad,
    #[error("the encrypted data is not a multiple of the AES block size")]
    BlockSize,
    #[error("no random source for the nonce: {0}")]
    Random(getrandom::Error),
}

#[derive(Clone)]
enum Aes {
    A128([u8; 16]),
    A192([u8; 24]),
    A256([u8; 32]),
}

/// A secret key.
#[derive(Clone)]
pub struct Key(Aes);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

/// What is shown of encrypted data in an error: the data itself is ciphertext, but a long one is
/// cut.
fn shown(data: &str) -> String {
    if data.len() > 80 {
        format!("{}...", data.get(..80).unwrap_or(data))
    } else {
        data.to_string()
    }
}

impl Key {
    /// Reads a key as werf writes it (hex; surrounding whitespace ignored).
    pub fn parse(text: &str) -> Result<Key, Error> {
        let bytes = hex::decode(text.trim()).map_err(Error::KeyNotHex)?;
        let aes = match bytes.len() {
            16 => Aes::A128(bytes.try_into().map_err(|_| Error::KeyLength(16))?),
            24 => Aes::A192(bytes.try_into().map_err(|_| Error::KeyLength(24))?),
            32 => Aes::A256(bytes.try_into().map_err(|_| Error::KeyLength(32))?),
            n => return Err(Error::KeyLength(n)),
        };
        Ok(Key(aes))
    }

    /// A new AES-128 key as `werf helm secret generate-secret-key` prints it.
    pub fn generate() -> Result<String, Error> {
        let mut bytes = [0u8; 16];
        getrandom::getrandom(&mut bytes).map_err(Error::Random)?;
        Ok(hex::encode(bytes))
    }

    fn seal(&self, nonce: &[u8; NONCE], data: &[u8], aad: &[u8]) -> Vec<u8> {
        let nonce = aes_gcm::Nonce::from_slice(nonce);
        let data = aes_gcm::aead::Payload { msg: data, aad };
        // Sealing into memory cannot fail for inputs under GCM's 64 GiB limit.
        match &self.0 {
            Aes::A128(k) => aes_gcm::Aes128Gcm::new(k.into()).encrypt(nonce, data),
            Aes::A192(k) => {
                aes_gcm::AesGcm::<aes::Aes192, aes_gcm::aead::consts::U12>::new(k.into())
                    .encrypt(nonce, data)
            }
            Aes::A256(k) => aes_gcm::Aes256Gcm::new(k.into()).encrypt(nonce, data),
        }
        .unwrap_or_default()
    }

    fn open(&self, nonce: &[u8], data: &[u8], aad: &[u8]) -> Result<Vec<u8>, Error> {
        let nonce = aes_gcm::Nonce::from_slice(nonce);
        let data = aes_gcm::aead::Payload { msg: data, aad };
        match &self.0 {
            Aes::A128(k) => aes_gcm::Aes128Gcm::new(k.into()).decrypt(nonce, data),
            Aes::A192(k) => {
                aes_gcm::AesGcm::<aes::Aes192, aes_gcm::aead::consts::U12>::new(k.into())
                    .decrypt(nonce, data)
            }
            Aes::A256(k) => aes_gcm::Aes256Gcm::new(k.into()).decrypt(nonce, data),
        }
        .map_err(|_| Error::Authentication)
    }

    fn cbc_decrypt(&self, iv: &[u8], data: &mut [u8]) -> Result<usize, Error> {
        use aes::cipher::block_padding::Pkcs7;
        let out = match &self.0 {
            Aes::A128(k) => cbc::Decryptor::<aes::Aes128>::new(k.into(), iv.into())
                .decrypt_padded_mut::<Pkcs7>(data)
                .map(|d| d.len()),
            Aes::A192(k) => cbc::Decryptor::<aes::Aes192>::new(k.into(), iv.into())
                .decrypt_padded_mut::<Pkcs7>(data)
                .map(|d| d.len()),
            Aes::A256(k) => cbc::Decryptor::<aes::Aes256>::new(k.into(), iv.into())
                .decrypt_padded_mut::<Pkcs7>(data)
                .map(|d| d.len()),
        };
        out.map_err(|_| Error::Unpad)
    }
}

/// Encrypts a whole file as werf v3 does (version 2, a fresh random nonce, the version
/// authenticated), as hex.
pub fn encrypt(key: &Key, data: &[u8]) -> Result<String, Error> {
    seal_version(key, VERSION_GCM, data)
}

/// Encrypts a framed YAML value as werf v3 does (version 3), as hex.
pub fn encrypt_value(key: &Key, framed: &[u8]) -> Result<String, Error> {
    seal_version(key, VERSION_GCM_YAML, framed)
}

fn seal_version(key: &Key, version: u16, data: &[u8]) -> Result<String, Error> {
    let mut nonce = [0u8; NONCE];
    getrandom::getrandom(&mut nonce).map_err(Error::Random)?;
    let head = version.to_le_bytes();
    let mut out = Vec::with_capacity(2 + NONCE + data.len() + TAG);
    out.extend_from_slice(&head);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&key.seal(&nonce, data, &head));
    Ok(hex::encode(out))
}

/// Opens a GCM value under each associated data a common-go revision used: the version (what
/// is written now), none (the first version-2 writers), the version and the nonce.
fn open_gcm(key: &Key, bytes: &[u8]) -> Result<Vec<u8>, Error> {
    let (nonce, sealed) = (&bytes[2..2 + NONCE], &bytes[2 + NONCE..]);
    let header = &bytes[..2 + NONCE];
    let mut last = Error::Authentication;
    for aad in [&bytes[..2], &[][..], header] {
        match key.open(nonce, sealed, aad) {
            Ok(plain) => return Ok(plain),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Decrypts hex `data` of either format; returns the plaintext and the format version. Empty
/// data is empty plaintext (as werf reads it), reported as the legacy format.
pub fn decrypt(key: &Key, data: &str) -> Result<(Vec<u8>, u16), Error> {
    let data = data.trim();
    if data.is_empty() {
        return Ok((Vec::new(), VERSION_LEGACY_CBC));
    }
    let bytes = hex::decode(data).map_err(|source| Error::NotHex {
        data: shown(data),
        source,
    })?;
    let too_short = |min: usize| Error::TooShort {
        data: shown(data),
        min: min * 2,
    };
    if bytes.len() < 2 {
        return Err(too_short(2 + 2 * BLOCK));
    }
    let version = u16::from_le_bytes([bytes[0], bytes[1]]);
    match version {
        VERSION_GCM | VERSION_GCM_YAML => {
            if bytes.len() < 2 + NONCE + TAG {
                return Err(too_short(2 + NONCE + TAG));
            }
            Ok((open_gcm(key, &bytes)?, version))
        }
        VERSION_LEGACY_CBC => {
            if bytes.len() < 2 + 2 * BLOCK {
                return Err(too_short(2 + 2 * BLOCK));
            }
            let iv = bytes[2..2 + BLOCK].to_vec();
            let mut body = bytes[2 + BLOCK..].to_vec();
            if body.len() % BLOCK != 0 {
                return Err(Error::BlockSize);
            }
            let n = key.cbc_decrypt(&iv, &mut body)?;
            body.truncate(n);
            Ok((body, version))
        }
        other => Err(Error::Version(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "bc3458408a5687e60b9417adb84e4ad0";

    #[test]
    fn values_round_trip_with_every_key_size() {
        for key in [KEY.to_string(), "ab".repeat(24), "cd".repeat(32)] {
            let key = Key::parse(&key).expect("key");
            for plain in ["", "a", "postgres://user:hunter2@db:5432/app"] {
                let sealed = encrypt(&key, plain.as_bytes()).expect("encrypts");
                assert!(sealed.starts_with("0200"), "{sealed}");
                let (back, version) = decrypt(&key, &sealed).expect("decrypts");
                assert_eq!((back.as_slice(), version), (plain.as_bytes(), VERSION_GCM));
            }
        }
    }

    #[test]
    fn a_wrong_key_tampering_and_bad_data_are_errors_not_garbage() {
        let key = Key::parse(KEY).expect("key");
        let other = Key::parse(&"00".repeat(16)).expect("key");
        let sealed = encrypt(&key, b"value").expect("encrypts");
        assert!(matches!(
            decrypt(&other, &sealed),
            Err(Error::Authentication)
        ));
        let mut bytes = hex::decode(&sealed).expect("hex");
        for i in 2..bytes.len() {
            bytes[i] ^= 1;
            assert!(decrypt(&key, &hex::encode(&bytes)).is_err(), "byte {i}");
            bytes[i] ^= 1;
        }
        assert!(matches!(decrypt(&key, "zz"), Err(Error::NotHex { .. })));
        assert!(matches!(
            decrypt(&key, "0200ab"),
            Err(Error::TooShort { .. })
        ));
        // The version is authenticated: a file relabelled as a value does not open.
        let v3 = format!("0300{}", &sealed[4..]);
        assert!(matches!(decrypt(&key, &v3), Err(Error::Authentication)));
        let v4 = format!("0400{}", &sealed[4..]);
        assert!(matches!(decrypt(&key, &v4), Err(Error::Version(4))));
        assert!(matches!(Key::parse("abc"), Err(Error::KeyNotHex(_))));
        assert!(matches!(Key::parse("abcd"), Err(Error::KeyLength(2))));
        assert_eq!(Key::generate().expect("random").len(), 32);
    }
}
