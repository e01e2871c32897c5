//! Sprig's random functions, from the operating system's generator: `randAlphaNum`,
//! `randAlpha`, `randNumeric`, `randAscii` (uniform over their alphabets, as goutils draws
//! them), `randBytes` (base64), `randInt`, `shuffle` and `uuidv4`.

use base64::Engine as _;
use rand_core::{OsRng, RngCore};

use crate::funcs::{arity, strval, to_i64, FuncError, Funcs};
use crate::value::Value;

const ALPHA: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const NUMERIC: &[u8] = b"0123456789";
const ALPHANUMERIC: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

pub fn register(f: &mut Funcs) {
    f.insert("randAlphaNum", |a| {
        random_string(a, "randAlphaNum", ALPHANUMERIC)
    });
    f.insert("randAlpha", |a| random_string(a, "randAlpha", ALPHA));
    f.insert("randNumeric", |a| random_string(a, "randNumeric", NUMERIC));
    f.insert("randAscii", |a| {
        let printable: Vec<u8> = (32u8..127).collect();
        random_string(a, "randAscii", &printable)
    });
    f.insert("randBytes", |a| {
        arity(a, 1)?;
        let n = count(&a[0], "randBytes")?;
        let mut bytes = vec![0u8; n];
        OsRng.fill_bytes(&mut bytes);
        Ok(Value::Str(
            base64::engine::general_purpose::STANDARD.encode(bytes),
        ))
    });
    f.insert("randInt", |a| {
        arity(a, 2)?;
        let (min, max) = (to_i64(&a[0]), to_i64(&a[1]));
        let span = max.wrapping_sub(min);
        if span <= 0 {
            return Err("invalid argument to Intn".into());
        }
        Ok(Value::Int(min + below(span as u64) as i64))
    });
    f.insert("shuffle", |a| {
        arity(a, 1)?;
        let mut chars: Vec<char> = strval(&a[0]).chars().collect();
        for i in (1..chars.len()).rev() {
            let j = below(i as u64 + 1) as usize;
            chars.swap(i, j);
        }
        Ok(Value::Str(chars.into_iter().collect()))
    });
    f.insert("uuidv4", |a| {
        arity(a, 0)?;
        Ok(Value::Str(uuid_v4()))
    });
}

/// A uniform draw from `0..n` (rejection sampling, no modulo bias).
fn below(n: u64) -> u64 {
    let zone = u64::MAX - u64::MAX % n;
    loop {
        let x = OsRng.next_u64();
        if x < zone {
            return x % n;
        }
    }
}

/// A count argument: negative is Sprig's empty result, huge is refused like `repeat`.
fn count(v: &Value, name: &str) -> Result<usize, FuncError> {
    let n = to_i64(v).max(0);
    crate::funcs::text_within_limit(name, 1, n)
}

fn random_string(a: &[Value], name: &str, alphabet: &[u8]) -> Result<Value, FuncError> {
    arity(a, 1)?;
    let n = count(&a[0], name)?;
    Ok(Value::Str(
        (0..n)
            .map(|_| alphabet[below(alphabet.len() as u64) as usize] as char)
            .collect(),
    ))
}

/// A random (version 4, RFC 4122 variant) UUID in its canonical lower-case form.
pub fn uuid_v4() -> String {
    let mut b = [0u8; 16];
    OsRng.fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(text: &str) -> String {
        crate::render("t", text, &Value::Nil).expect(text)
    }

    #[test]
    fn random_strings_have_their_length_and_alphabet() {
        for (f, alphabet) in [
            ("randAlphaNum", ALPHANUMERIC),
            ("randAlpha", ALPHA),
            ("randNumeric", NUMERIC),
        ] {
            let out = render(&format!("{{{{ {f} 64 }}}}"));
            assert_eq!(out.len(), 64, "{f}: {out}");
            assert!(out.bytes().all(|c| alphabet.contains(&c)), "{f}: {out}");
        }
        let ascii = render("{{ randAscii 200 }}");
        assert_eq!(ascii.len(), 200);
        assert!(ascii.bytes().all(|c| (32..127).contains(&c)), "{ascii}");
        assert_eq!(render("{{ randAlphaNum -1 }}"), "");
        let bytes = render("{{ randBytes 24 }}");
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(&bytes)
                .expect("base64")
                .len(),
            24
        );
        let n: i64 = render("{{ randInt 5 7 }}").parse().expect("int");
        assert!((5..7).contains(&n), "{n}");
        let e = crate::render("t", "{{ randInt 7 7 }}", &Value::Nil).expect_err("empty range");
        assert_eq!(e.message, "error calling randInt: invalid argument to Intn");
        let mut shuffled: Vec<char> = render(r#"{{ shuffle "hello" }}"#).chars().collect();
        shuffled.sort();
        assert_eq!(shuffled, ['e', 'h', 'l', 'l', 'o']);
        let id = render("{{ uuidv4 }}");
        let parts: Vec<&str> = id.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12],
            "{id}"
        );
        assert!(
            parts[2].starts_with('4') && "89ab".contains(&parts[3][..1]),
            "{id}"
        );
        assert_ne!(id, render("{{ uuidv4 }}"));
    }
}
