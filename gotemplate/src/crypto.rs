//! Sprig's cryptographic functions, for real (RustCrypto and rcgen, never hand-rolled):
//! `genPrivateKey`, `genCA`, `genSelfSignedCert`, `genSignedCert` and their `*WithKey` forms,
//! `buildCustomCert`, `bcrypt`, `htpasswd`, `derivePassword`, `encryptAES`, `decryptAES`.
//!
//! Keys are written as Go writes them (`RSA PRIVATE KEY` in PKCS#1, `EC PRIVATE KEY` in SEC1,
//! Ed25519 in PKCS#8, `DSA PRIVATE KEY` as OpenSSL's sequence); certificates carry the fields
//! Sprig's templates set (a 128-bit random serial, the common name, IP and DNS names, validity
//! from now, key usages, `IsCA` for authorities). A certificate value is a map with `Cert` and
//! `Key`, the fields of Sprig's `certificate` struct.

use std::collections::BTreeMap;
use std::net::IpAddr;

use base64::Engine as _;
use rand_core::{OsRng, RngCore};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType, SerialNumber,
};

use crate::funcs::{arity, strval, FuncError, Funcs};
use crate::value::Value;

pub fn register(f: &mut Funcs) {
    f.insert("genPrivateKey", |a| {
        arity(a, 1)?;
        Ok(Value::Str(gen_private_key(&strval(&a[0]))))
    });
    f.insert("genCA", |a| {
        arity(a, 2)?;
        let key = PrivateKey::rsa(2048)?;
        certificate_authority(&strval(&a[0]), days(&a[1])?, key)
    });
    f.insert("genCAWithKey", |a| {
        arity(a, 3)?;
        let key = PrivateKey::from_pem(&strval(&a[2]))?;
        certificate_authority(&strval(&a[0]), days(&a[1])?, key)
    });
    f.insert("genSelfSignedCert", |a| {
        arity(a, 4)?;
        let key = PrivateKey::rsa(2048)?;
        self_signed(&a[0], &a[1], &a[2], &a[3], key)
    });
    f.insert("genSelfSignedCertWithKey", |a| {
        arity(a, 5)?;
        let key = PrivateKey::from_pem(&strval(&a[4]))?;
        self_signed(&a[0], &a[1], &a[2], &a[3], key)
    });
    f.insert("genSignedCert", |a| {
        arity(a, 5)?;
        let key = PrivateKey::rsa(2048)?;
        signed(&a[0], &a[1], &a[2], &a[3], &a[4], key)
    });
    f.insert("genSignedCertWithKey", |a| {
        arity(a, 6)?;
        let key = PrivateKey::from_pem(&strval(&a[5]))?;
        signed(&a[0], &a[1], &a[2], &a[3], &a[4], key)
    });
    f.insert("buildCustomCert", |a| {
        arity(a, 2)?;
        build_custom_cert(&strval(&a[0]), &strval(&a[1]))
    });
    f.insert("bcrypt", |a| {
        arity(a, 1)?;
        Ok(Value::Str(bcrypt_hash(&strval(&a[0]))))
    });
    f.insert("htpasswd", |a| {
        arity(a, 2)?;
        let user = strval(&a[0]);
        if user.contains(':') {
            return Ok(Value::Str(format!("invalid username: {user}")));
        }
        Ok(Value::Str(format!(
            "{user}:{}",
            bcrypt_hash(&strval(&a[1]))
        )))
    });
    f.insert("derivePassword", |a| {
        arity(a, 5)?;
        let counter = match &a[0] {
            Value::Int(n) | Value::Int64(n) => *n as u32,
            other => return Err(FuncError::arg_type("uint32", crate::sprig::go_type(other)).at(0)),
        };
        Ok(Value::Str(derive_password(
            counter,
            &strval(&a[1]),
            &strval(&a[2]),
            &strval(&a[3]),
            &strval(&a[4]),
        )))
    });
    f.insert("encryptAES", |a| {
        arity(a, 2)?;
        Ok(Value::Str(encrypt_aes(&strval(&a[0]), &strval(&a[1]))))
    });
    f.insert("decryptAES", |a| {
        arity(a, 2)?;
        decrypt_aes(&strval(&a[0]), &strval(&a[1])).map(Value::Str)
    });
}

/// A private key of one of the kinds Go's `crypto` packages make.
enum PrivateKey {
    Rsa(Box<rsa::RsaPrivateKey>),
    Ecdsa(p256::SecretKey),
    Ed25519(Box<ed25519_dalek::SigningKey>),
    Dsa(Box<dsa::SigningKey>),
}

impl PrivateKey {
    fn rsa(bits: usize) -> Result<Self, FuncError> {
        rsa::RsaPrivateKey::new(&mut OsRng, bits)
            .map(|k| PrivateKey::Rsa(Box::new(k)))
            .map_err(|e| format!("error generating rsa key: {e}").into())
    }

    /// Sprig's `parsePrivateKeyPEM`: PKCS#8, or PKCS#1 RSA, SEC1 EC and OpenSSL DSA blocks.
    fn from_pem(text: &str) -> Result<Self, FuncError> {
        use p256::pkcs8::DecodePrivateKey as _;
        use rsa::pkcs1::DecodeRsaPrivateKey as _;
        let block = pem_block(text).ok_or("no PEM data in input")?;
        match block.tag() {
            "PRIVATE KEY" => {
                let der = block.contents();
                if let Ok(k) = rsa::RsaPrivateKey::from_pkcs8_der(der) {
                    return Ok(PrivateKey::Rsa(Box::new(k)));
                }
                if let Ok(k) = p256::SecretKey::from_pkcs8_der(der) {
                    return Ok(PrivateKey::Ecdsa(k));
                }
                if let Ok(k) = ed25519_dalek::SigningKey::from_pkcs8_der(der) {
                    return Ok(PrivateKey::Ed25519(Box::new(k)));
                }
                Err("decoding PEM as PKCS#8: unknown or invalid private key".into())
            }
            "RSA PRIVATE KEY" => rsa::RsaPrivateKey::from_pkcs1_der(block.contents())
                .map(|k| PrivateKey::Rsa(Box::new(k)))
                .map_err(|e| format!("decoding PEM as PKCS#1: {e}").into()),
            "EC PRIVATE KEY" => p256::SecretKey::from_sec1_der(block.contents())
                .map(PrivateKey::Ecdsa)
                .map_err(|e| format!("decoding PEM as EC: {e}").into()),
            "DSA PRIVATE KEY" => {
                dsa_from_der(block.contents()).map(|k| PrivateKey::Dsa(Box::new(k)))
            }
            other if other.ends_with(" PRIVATE KEY") => {
                Err(format!("invalid private key type {other}").into())
            }
            other => Err(format!("no private key data in PEM block of type {other}").into()),
        }
    }

    /// The key as Go's `pemBlockForKey` writes it.
    fn to_pem(&self) -> Result<String, FuncError> {
        use p256::pkcs8::EncodePrivateKey as _;
        use rsa::pkcs1::EncodeRsaPrivateKey as _;
        let lf = p256::pkcs8::LineEnding::LF;
        Ok(match self {
            PrivateKey::Rsa(k) => k.to_pkcs1_pem(lf).map_err(|e| e.to_string())?.to_string(),
            PrivateKey::Ecdsa(k) => k.to_sec1_pem(lf).map_err(|e| e.to_string())?.to_string(),
            PrivateKey::Ed25519(k) => k.to_pkcs8_pem(lf).map_err(|e| e.to_string())?.to_string(),
            PrivateKey::Dsa(k) => pem_text("DSA PRIVATE KEY", &dsa_to_der(k)),
        })
    }

    /// The key as rcgen signs with it (what Go's `x509.CreateCertificate` accepts).
    fn key_pair(&self) -> Result<KeyPair, FuncError> {
        use p256::pkcs8::EncodePrivateKey as _;
        let (der, alg) = match self {
            PrivateKey::Rsa(k) => (
                k.to_pkcs8_der().map_err(|e| e.to_string())?,
                &rcgen::PKCS_RSA_SHA256,
            ),
            PrivateKey::Ecdsa(k) => (
                k.to_pkcs8_der().map_err(|e| e.to_string())?,
                &rcgen::PKCS_ECDSA_P256_SHA256,
            ),
            PrivateKey::Ed25519(k) => (
                k.to_pkcs8_der().map_err(|e| e.to_string())?,
                &rcgen::PKCS_ED25519,
            ),
            PrivateKey::Dsa(_) => {
                return Err("x509: only RSA, ECDSA and Ed25519 keys supported".into())
            }
        };
        let der = rustls_pki_types::PrivatePkcs8KeyDer::from(der.as_bytes().to_vec());
        KeyPair::from_pkcs8_der_and_sign_algo(&der, alg).map_err(|e| e.to_string().into())
    }
}

fn pem_block(text: &str) -> Option<pem::Pem> {
    pem::parse(text.trim_start()).ok()
}

fn pem_text(tag: &str, der: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {tag}-----\n");
    for chunk in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {tag}-----\n"));
    out
}

fn gen_private_key(kind: &str) -> String {
    let key = match kind {
        "" | "rsa" => PrivateKey::rsa(4096),
        "ecdsa" => Ok(PrivateKey::Ecdsa(p256::SecretKey::random(&mut OsRng))),
        "ed25519" => Ok(PrivateKey::Ed25519(Box::new(
            ed25519_dalek::SigningKey::generate(&mut OsRng),
        ))),
        "dsa" => {
            let components = dsa::Components::generate(&mut OsRng, dsa::KeySize::DSA_2048_256);
            Ok(PrivateKey::Dsa(Box::new(dsa::SigningKey::generate(
                &mut OsRng, components,
            ))))
        }
        other => return format!("Unknown type {other}"),
    };
    match key.and_then(|k| k.to_pem()) {
        Ok(text) => text,
        Err(e) => format!("failed to generate private key: {e}"),
    }
}

/// OpenSSL's `DSA PRIVATE KEY`: SEQUENCE { 0, p, q, g, y, x }.
fn dsa_to_der(k: &dsa::SigningKey) -> Vec<u8> {
    let c = k.verifying_key().components();
    let ints = [
        vec![0u8],
        c.p().to_bytes_be(),
        c.q().to_bytes_be(),
        c.g().to_bytes_be(),
        k.verifying_key().y().to_bytes_be(),
        k.x().to_bytes_be(),
    ];
    let mut body = Vec::new();
    for mut i in ints {
        if i.first().is_some_and(|b| b & 0x80 != 0) {
            i.insert(0, 0);
        }
        body.push(0x02);
        der_length(&mut body, i.len());
        body.extend(i);
    }
    let mut out = vec![0x30];
    der_length(&mut out, body.len());
    out.extend(body);
    out
}

fn der_length(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
}

fn dsa_from_der(der: &[u8]) -> Result<dsa::SigningKey, FuncError> {
    let bad = || FuncError::from("decoding PEM as DSA: malformed key");
    let (_, seq) = x509_parser::der_parser::der::parse_der_sequence(der).map_err(|_| bad())?;
    let items = seq.as_sequence().map_err(|_| bad())?;
    let int = |i: usize| -> Result<dsa::BigUint, FuncError> {
        let v = items.get(i).ok_or_else(bad)?;
        let bytes = v.as_slice().map_err(|_| bad())?;
        Ok(dsa::BigUint::from_bytes_be(bytes))
    };
    let components =
        dsa::Components::from_components(int(1)?, int(2)?, int(3)?).map_err(|_| bad())?;
    let verifying = dsa::VerifyingKey::from_components(components, int(4)?).map_err(|_| bad())?;
    dsa::SigningKey::from_components(verifying, int(5)?).map_err(|_| bad())
}

/// `daysValid`: Go declares it `int`.
fn days(v: &Value) -> Result<i64, FuncError> {
    match v {
        Value::Int(n) => Ok(*n),
        other => Err(FuncError::arg_type("int", crate::sprig::go_type(other))),
    }
}

/// Sprig's `getBaseCertTemplate`.
fn base_params(
    cn: &Value,
    ips: &Value,
    dns: &Value,
    days: &Value,
) -> Result<CertificateParams, FuncError> {
    let days = self::days(days)?;
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    let cn = strval(cn);
    if !cn.is_empty() {
        // Go's `asn1` writes a PrintableString when the text allows one, UTF8String otherwise.
        let value = match rcgen::string::PrintableString::try_from(cn.as_str()) {
            Ok(p) => rcgen::DnValue::PrintableString(p),
            Err(_) => rcgen::DnValue::Utf8String(cn),
        };
        params.distinguished_name.push(DnType::CommonName, value);
    }
    // Go writes DNS names before IP addresses.
    for name in list(dns) {
        let Value::Str(text) = &name else {
            return Err(format!(
                "error processing alternate dns name: {} is not a string",
                name.to_go_string()
            )
            .into());
        };
        let ia5 = text
            .clone()
            .try_into()
            .map_err(|e: rcgen::Error| e.to_string())?;
        params.subject_alt_names.push(SanType::DnsName(ia5));
    }
    for ip in list(ips) {
        let Value::Str(text) = &ip else {
            return Err(format!("error parsing ip: {} is not a string", ip.to_go_string()).into());
        };
        let addr: IpAddr = text
            .parse()
            .map_err(|_| format!("error parsing ip: {text}"))?;
        params.subject_alt_names.push(SanType::IpAddress(addr));
    }
    let mut serial = [0u8; 16];
    OsRng.fill_bytes(&mut serial);
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now;
    params.not_after = now + time::Duration::days(days);
    params.key_usages = vec![
        KeyUsagePurpose::KeyEncipherment,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    // Go marks a leaf `CA:FALSE` (critical basic constraints) and gives it no subject key
    // identifier; rcgen's `ExplicitNoCa` would add one.
    params.is_ca = IsCa::NoCa;
    let mut constraints =
        rcgen::CustomExtension::from_oid_content(&[2, 5, 29, 19], vec![0x30, 0x00]);
    constraints.set_criticality(true);
    params.custom_extensions.push(constraints);
    Ok(params)
}

fn list(v: &Value) -> Vec<Value> {
    match v {
        Value::List(l) => l.to_vec(),
        _ => Vec::new(),
    }
}

fn certificate(cert: &str, key: &str) -> Value {
    let mut m = BTreeMap::new();
    m.insert("Cert".to_string(), Value::Str(cert.to_string()));
    m.insert("Key".to_string(), Value::Str(key.to_string()));
    Value::map(m)
}

fn certificate_authority(cn: &str, days: i64, key: PrivateKey) -> Result<Value, FuncError> {
    let mut params = base_params(
        &Value::Str(cn.to_string()),
        &Value::Nil,
        &Value::Nil,
        &Value::Int(days),
    )?;
    params.key_usages = vec![
        KeyUsagePurpose::KeyEncipherment,
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
    ];
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.custom_extensions.clear();
    let pair = key.key_pair()?;
    let cert = params.self_signed(&pair).map_err(|e| e.to_string())?;
    Ok(certificate(&cert.pem(), &key.to_pem()?))
}

fn self_signed(
    cn: &Value,
    ips: &Value,
    dns: &Value,
    days: &Value,
    key: PrivateKey,
) -> Result<Value, FuncError> {
    let params = base_params(cn, ips, dns, days)?;
    let pair = key.key_pair()?;
    let cert = params.self_signed(&pair).map_err(|e| e.to_string())?;
    Ok(certificate(&cert.pem(), &key.to_pem()?))
}

fn signed(
    cn: &Value,
    ips: &Value,
    dns: &Value,
    days: &Value,
    ca: &Value,
    key: PrivateKey,
) -> Result<Value, FuncError> {
    let field = |name: &str| match ca {
        Value::Map(m) => m.get(name).map(strval).unwrap_or_default(),
        _ => String::new(),
    };
    let ca_cert = field("Cert");
    let ca_key = PrivateKey::from_pem(&field("Key"))
        .map_err(|e| format!("error parsing ca private key: {e}"))?;
    let issuer = Issuer::from_ca_cert_pem(&ca_cert, ca_key.key_pair()?)
        .map_err(|e| format!("error parsing ca certificate: {e}"))?;
    let mut params = base_params(cn, ips, dns, days)?;
    params.use_authority_key_identifier_extension = true;
    let pair = key.key_pair()?;
    let cert = params
        .signed_by(&pair, &issuer)
        .map_err(|e| e.to_string())?;
    Ok(certificate(&cert.pem(), &key.to_pem()?))
}

fn build_custom_cert(cert64: &str, key64: &str) -> Result<Value, FuncError> {
    let engine = base64::engine::general_purpose::STANDARD;
    let cert = engine
        .decode(cert64)
        .map_err(|_| "unable to decode base64 certificate".to_string())?;
    let key = engine
        .decode(key64)
        .map_err(|_| "unable to decode base64 private key".to_string())?;
    let cert = String::from_utf8_lossy(&cert).into_owned();
    let key = String::from_utf8_lossy(&key).into_owned();
    let block = pem_block(&cert).ok_or("unable to decode certificate")?;
    x509_parser::parse_x509_certificate(block.contents())
        .map_err(|e| format!("error parsing certificate: decodedCert.Bytes: {e}"))?;
    PrivateKey::from_pem(&key).map_err(|e| format!("error parsing private key: {e}"))?;
    Ok(certificate(&cert, &key))
}

/// bcrypt at Go's default cost (10), in the `$2a$` form Go writes.
fn bcrypt_hash(password: &str) -> String {
    match bcrypt::non_truncating_hash_with_result(password, 10) {
        Ok(parts) => parts.format_for_version(bcrypt::Version::TwoA),
        Err(bcrypt::BcryptError::Truncation(_)) => {
            "failed to encrypt string with bcrypt: bcrypt: password length exceeds 72 bytes".into()
        }
        Err(e) => format!("failed to encrypt string with bcrypt: {e}"),
    }
}

const MASTER_PASSWORD_SEED: &str = "com.lyndir.masterpassword";

/// The Master Password templates Sprig uses (`derivePassword`).
fn templates(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "maximum" => &["anoxxxxxxxxxxxxxxxxx", "axxxxxxxxxxxxxxxxxno"],
        "long" => &[
            "CvcvnoCvcvCvcv",
            "CvcvCvcvnoCvcv",
            "CvcvCvcvCvcvno",
            "CvccnoCvcvCvcv",
            "CvccCvcvnoCvcv",
            "CvccCvcvCvcvno",
            "CvcvnoCvccCvcv",
            "CvcvCvccnoCvcv",
            "CvcvCvccCvcvno",
            "CvcvnoCvcvCvcc",
            "CvcvCvcvnoCvcc",
            "CvcvCvcvCvccno",
            "CvccnoCvccCvcv",
            "CvccCvccnoCvcv",
            "CvccCvccCvcvno",
            "CvcvnoCvccCvcc",
            "CvcvCvccnoCvcc",
            "CvcvCvccCvccno",
            "CvccnoCvcvCvcc",
            "CvccCvcvnoCvcc",
            "CvccCvcvCvccno",
        ],
        "medium" => &["CvcnoCvc", "CvcCvcno"],
        "short" => &["Cvcn"],
        "basic" => &["aaanaaan", "aannaaan", "aaannaaa"],
        "pin" => &["nnnn"],
        _ => return None,
    })
}

fn template_characters(c: u8) -> &'static [u8] {
    match c {
        b'V' => b"AEIOU",
        b'C' => b"BCDFGHJKLMNPQRSTVWXYZ",
        b'v' => b"aeiou",
        b'c' => b"bcdfghjklmnpqrstvwxyz",
        b'A' => b"AEIOUBCDFGHJKLMNPQRSTVWXYZ",
        b'a' => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz",
        b'n' => b"0123456789",
        b'o' => b"@&%?,=[]_:-+*$#!'^~;()/.",
        b'x' => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz0123456789!@#$%^&*()",
        _ => b"",
    }
}

/// Master Password v3 (scrypt, then HMAC-SHA-256 picking template characters), as Sprig.
fn derive_password(counter: u32, kind: &str, password: &str, user: &str, site: &str) -> String {
    use hmac::Mac as _;
    let Some(templates) = templates(kind) else {
        return format!("cannot find password template {kind}");
    };
    let mut salt = MASTER_PASSWORD_SEED.as_bytes().to_vec();
    salt.extend((user.len() as u32).to_be_bytes());
    salt.extend(user.as_bytes());
    let mut key = [0u8; 64];
    let params = match scrypt::Params::new(15, 8, 2) {
        Ok(p) => p,
        Err(e) => return format!("failed to derive password: {e}"),
    };
    if let Err(e) = scrypt::scrypt(password.as_bytes(), &salt, &params, &mut key) {
        return format!("failed to derive password: {e}");
    }
    let mut message = MASTER_PASSWORD_SEED.as_bytes().to_vec();
    message.extend((site.len() as u32).to_be_bytes());
    message.extend(site.as_bytes());
    message.extend(counter.to_be_bytes());
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key) else {
        return "failed to derive password: bad key".into();
    };
    mac.update(&message);
    let seed = mac.finalize().into_bytes();
    let template = templates[seed[0] as usize % templates.len()];
    template
        .bytes()
        .enumerate()
        .map(|(i, c)| {
            let chars = template_characters(c);
            chars[seed[i + 1] as usize % chars.len()] as char
        })
        .collect()
}

/// The password as an AES-256 key: its bytes, zero-padded or cut to 32.
fn aes_key(password: &str) -> [u8; 32] {
    let mut key = [0u8; 32];
    let bytes = password.as_bytes();
    let n = bytes.len().min(32);
    key[..n].copy_from_slice(&bytes[..n]);
    key
}

/// AES-256-CBC with PKCS#7 padding and a random IV before the ciphertext, base64 (Sprig's).
fn encrypt_aes(password: &str, plaintext: &str) -> String {
    use aes::cipher::{BlockEncryptMut, KeyIvInit};
    if plaintext.is_empty() {
        return String::new();
    }
    let mut iv = [0u8; 16];
    OsRng.fill_bytes(&mut iv);
    let enc = cbc::Encryptor::<aes::Aes256>::new(&aes_key(password).into(), &iv.into());
    let n = plaintext.len();
    let mut buf = plaintext.as_bytes().to_vec();
    buf.resize(n + 16 - n % 16, 0);
    let Ok(ciphertext) = enc.encrypt_padded_mut::<aes::cipher::block_padding::Pkcs7>(&mut buf, n)
    else {
        return String::new();
    };
    let mut out = iv.to_vec();
    out.extend_from_slice(ciphertext);
    base64::engine::general_purpose::STANDARD.encode(out)
}

fn decrypt_aes(password: &str, crypt64: &str) -> Result<String, FuncError> {
    use aes::cipher::{BlockDecryptMut, KeyIvInit};
    if crypt64.is_empty() {
        return Ok(String::new());
    }
    let crypt = base64::engine::general_purpose::STANDARD
        .decode(crypt64)
        .map_err(|e| format!("illegal base64 data: {e}"))?;
    if crypt.len() < 16 || (crypt.len() - 16) % 16 != 0 {
        return Err("crypto/cipher: input not full blocks".into());
    }
    let (iv, body) = crypt.split_at(16);
    let iv: [u8; 16] = iv.try_into().map_err(|_| "bad iv".to_string())?;
    let dec = cbc::Decryptor::<aes::Aes256>::new(&aes_key(password).into(), &iv.into());
    let mut plain = body.to_vec();
    dec.decrypt_padded_mut::<aes::cipher::block_padding::NoPadding>(&mut plain)
        .map_err(|e| e.to_string())?;
    // Go trims as many bytes as the last one says, without checking them.
    let pad = plain.last().copied().unwrap_or(0) as usize;
    if pad > plain.len() {
        return Err(FuncError::Call(format!(
            "runtime error: slice bounds out of range [:{}]",
            plain.len() as i64 - pad as i64
        )));
    }
    plain.truncate(plain.len() - pad);
    Ok(String::from_utf8_lossy(&plain).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(text: &str) -> String {
        crate::render("t", text, &Value::Nil).expect(text)
    }

    #[test]
    fn deterministic_ones_match_helm_4() {
        // Printed by Helm 4 for the same templates.
        assert_eq!(
            render(
                r#"{{ derivePassword 1 "long" "password" "user" "example.com" }}|{{ derivePassword 1 "maximum" "password" "user" "example.com" }}|{{ derivePassword 2 "pin" "p" "u" "s" }}|{{ derivePassword 1 "nope" "p" "u" "s" }}"#
            ),
            "ZedaFaxcZaso9*|pf4zS1LjCg&LjhsZ7T2~|8889|cannot find password template nope"
        );
        assert_eq!(
            render(
                r#"{{ decryptAES "secretkey" "Xm58nYVdtGp+KwRUW04o01x1M87tErO52dzG4r675sw=" }}"#
            ),
            "hello world"
        );
        assert_eq!(
            render(r#"{{ htpasswd "a:b" "p" }}|{{ encryptAES "k" "" }}"#),
            "invalid username: a:b|"
        );
    }

    #[test]
    fn random_ones_have_the_right_shape() {
        let out =
            render(r#"{{ $e := encryptAES "k" "hello" }}{{ len $e }} {{ decryptAES "k" $e }}"#);
        assert_eq!(out, "44 hello");
        let hash = render(r#"{{ htpasswd "u" "p" }}"#);
        let (user, h) = hash.split_once(':').expect("user:hash");
        assert_eq!(user, "u");
        assert!(h.starts_with("$2a$10$"), "{h}");
        assert!(bcrypt::verify("p", h).expect("verifies"), "{h}");
        for kind in ["ecdsa", "ed25519"] {
            let key = render(&format!(r#"{{{{ genPrivateKey "{kind}" }}}}"#));
            PrivateKey::from_pem(&key).expect(kind);
        }
        assert_eq!(render(r#"{{ genPrivateKey "x" }}"#), "Unknown type x");
    }

    #[test]
    fn certificates_chain_to_their_authority() {
        let out = render(
            r#"{{ $ca := genCA "ca" 30 }}{{ $c := genSignedCert "svc" (list "10.0.0.1") (list "svc.local") 10 $ca }}{{ $ca.Cert }}|{{ $c.Cert }}|{{ $c.Key }}"#,
        );
        let parts: Vec<&str> = out.split('|').collect();
        let der = |pem_text: &str| pem::parse(pem_text).expect("pem").into_contents();
        let (ca_der, cert_der) = (der(parts[0]), der(parts[1]));
        let (_, ca) = x509_parser::parse_x509_certificate(&ca_der).expect("ca parses");
        let (_, cert) = x509_parser::parse_x509_certificate(&cert_der).expect("cert parses");
        assert!(ca.is_ca());
        assert_eq!(cert.issuer(), ca.subject());
        cert.verify_signature(Some(ca.public_key()))
            .expect("signed by the CA");
        let sans = cert
            .subject_alternative_name()
            .expect("ext")
            .expect("present")
            .value
            .general_names
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>();
        assert_eq!(sans, ["DNSName(svc.local)", "IPAddress(0a:00:00:01)"]);
        assert!(parts[2].starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        let validity = cert.validity().time_to_expiration().expect("valid now");
        assert!(validity.whole_days() >= 9, "{validity:?}");
    }
}
