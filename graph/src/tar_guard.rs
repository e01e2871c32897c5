//! A reader in front of every tar parser that caps the headers a parser reads whole.
//!
//! The `tar` crate reads a GNU long name (`L`), long link (`K`) or PAX header (`x`, `g`) into
//! memory whole, whatever size its header claims: a 2.6 MB `.tgz` holding one 2.5 GiB long-name
//! member takes a reader to 2.5 GiB. [`TarGuard`] follows the archive's framing as the bytes go
//! by (headers, GNU sparse extension blocks, data padded to 512 bytes, a PAX `size` override) and
//! fails the read that completes such a header when its size is over the limit, before the parser
//! sees it. Go's `archive/tar` caps the same headers at 1 MiB ([`MAX_HEADER_BYTES`]).

use std::io::{self, Read};

/// The largest long-name, long-link or PAX header accepted, as Go's `archive/tar` caps them.
pub const MAX_HEADER_BYTES: u64 = 1 << 20;

const BLOCK: u64 = 512;

/// Where the reader is in the archive's framing.
#[derive(Debug)]
enum State {
    /// Collecting a 512-byte header.
    Header,
    /// Collecting a 512-byte GNU sparse extension block of a member with `data` bytes.
    SparseExt { data: u64 },
    /// Passing `data` bytes of a member, then `pad` bytes of padding; a PAX header's data is kept.
    Data {
        data: u64,
        pad: u64,
        pax: Option<Vec<u8>>,
    },
}

/// Wraps a tar stream; see the module doc.
#[derive(Debug)]
pub struct TarGuard<R> {
    inner: R,
    limit: u64,
    state: State,
    block: Box<[u8; BLOCK as usize]>,
    filled: usize,
    /// The `size` of the last PAX header, for the next member that is not itself a header.
    pax_size: Option<u64>,
}

impl<R: Read> TarGuard<R> {
    /// A guard with Go's limit, [`MAX_HEADER_BYTES`].
    pub fn new(inner: R) -> Self {
        Self::with_limit(inner, MAX_HEADER_BYTES)
    }

    /// A guard with another header limit.
    pub fn with_limit(inner: R, limit: u64) -> Self {
        TarGuard {
            inner,
            limit,
            state: State::Header,
            block: Box::new([0; BLOCK as usize]),
            filled: 0,
            pax_size: None,
        }
    }

    /// Follows the framing over `bytes`, the next bytes of the stream.
    fn observe(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            match &mut self.state {
                State::Header | State::SparseExt { .. } => {
                    let take = (BLOCK as usize - self.filled).min(bytes.len());
                    self.block[self.filled..self.filled + take].copy_from_slice(&bytes[..take]);
                    self.filled += take;
                    bytes = &bytes[take..];
                    if self.filled == BLOCK as usize {
                        self.filled = 0;
                        self.block_done()?;
                    }
                }
                State::Data { data, pad, pax } => {
                    if *data > 0 {
                        let take = (*data).min(bytes.len() as u64) as usize;
                        if let Some(kept) = pax {
                            kept.extend_from_slice(&bytes[..take]);
                        }
                        *data -= take as u64;
                        bytes = &bytes[take..];
                    } else {
                        let take = (*pad).min(bytes.len() as u64) as usize;
                        *pad -= take as u64;
                        bytes = &bytes[take..];
                    }
                    if *data == 0 && *pad == 0 {
                        if let Some(kept) = pax.take() {
                            self.pax_size = pax_value(&kept, "size");
                        }
                        self.state = State::Header;
                    }
                }
            }
        }
        Ok(())
    }

    /// A complete header or extension block is in `self.block`.
    fn block_done(&mut self) -> io::Result<()> {
        let b = &self.block;
        if let State::SparseExt { data } = self.state {
            // GNU sparse extension blocks chain through their `isextended` byte.
            if b[504] == 0 {
                self.state = data_state(data, false);
            }
            return Ok(());
        }
        if b.iter().all(|&x| x == 0) {
            // End-of-archive marker (or padding a parser skips): nothing follows it.
            return Ok(());
        }
        let kind = b[156];
        let header = matches!(kind, b'L' | b'K' | b'x' | b'g');
        let mut size = parse_size(&b[124..136]).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "a tar header with an invalid size",
            )
        })?;
        if header && size > self.limit {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "a tar {} header of {size} bytes is over the limit of {} bytes",
                    header_name(kind),
                    self.limit
                ),
            ));
        }
        if !header {
            if let Some(pax) = self.pax_size.take() {
                size = pax;
            }
        }
        self.state = if kind == b'S' && b[482] != 0 {
            State::SparseExt { data: size }
        } else {
            data_state(size, kind == b'x')
        };
        Ok(())
    }
}

impl<R: Read> Read for TarGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.observe(&buf[..n])?;
        Ok(n)
    }
}

fn header_name(kind: u8) -> &'static str {
    match kind {
        b'L' => "GNU long-name",
        b'K' => "GNU long-link",
        b'x' => "PAX",
        _ => "PAX global",
    }
}

/// The state after a header whose member has `size` bytes (kept when `pax`).
fn data_state(size: u64, pax: bool) -> State {
    if size == 0 {
        return State::Header;
    }
    State::Data {
        data: size,
        pad: padding(size),
        pax: pax.then(Vec::new),
    }
}

fn padding(size: u64) -> u64 {
    (BLOCK - size % BLOCK) % BLOCK
}

/// A header's size field: octal text, or GNU's base-256 (high bit set).
fn parse_size(field: &[u8]) -> Option<u64> {
    if field[0] & 0x80 != 0 {
        if field[0] & 0x40 != 0 {
            return None; // negative
        }
        let mut v: u64 = u64::from(field[0] & 0x3f);
        for &b in &field[1..] {
            v = v.checked_mul(256)?.checked_add(u64::from(b))?;
        }
        return Some(v);
    }
    let text = std::str::from_utf8(field).ok()?;
    let text = text.trim_matches(|c: char| c == '\0' || c == ' ');
    if text.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(text, 8).ok()
}

/// The last value of `key` in PAX records (`LEN KEY=VALUE\n`).
fn pax_value(records: &[u8], key: &str) -> Option<u64> {
    let mut found = None;
    let mut rest = records;
    while !rest.is_empty() {
        let space = rest.iter().position(|&b| b == b' ')?;
        let len: usize = std::str::from_utf8(&rest[..space]).ok()?.parse().ok()?;
        if len <= space || len > rest.len() {
            return found;
        }
        let record = &rest[space + 1..len];
        let record = record.strip_suffix(b"\n").unwrap_or(record);
        if let Some(value) = record.strip_prefix(format!("{key}=").as_bytes()) {
            found = std::str::from_utf8(value).ok()?.parse().ok();
        }
        rest = &rest[len..];
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tar stream: `(kind, name, claimed size, data)` members, then the end marker.
    fn archive(members: &[(u8, &str, u64, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (kind, name, size, data) in members {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::new(*kind));
            h.set_path(name).expect("name");
            h.set_size(*size);
            h.set_mode(0o644);
            h.set_cksum();
            out.extend_from_slice(h.as_bytes());
            out.extend_from_slice(data);
            out.resize(out.len() + padding(data.len() as u64) as usize, 0);
        }
        out.extend_from_slice(&[0; 1024]);
        out
    }

    fn names(data: &[u8], limit: u64) -> Result<Vec<String>, String> {
        let mut a = tar::Archive::new(TarGuard::with_limit(data, limit));
        let mut out = Vec::new();
        for e in a.entries().map_err(|e| e.to_string())? {
            let mut e = e.map_err(|e| e.to_string())?;
            out.push(e.path().map_err(|e| e.to_string())?.display().to_string());
            std::io::copy(&mut e, &mut std::io::sink()).map_err(|e| e.to_string())?;
        }
        Ok(out)
    }

    #[test]
    fn long_names_within_the_limit_are_read_and_over_it_refused() {
        let long = format!("{}/file", "d".repeat(300));
        let mut name = long.clone().into_bytes();
        name.push(0);
        let data = archive(&[
            (b'L', "././@LongLink", name.len() as u64, &name),
            (b'0', "short", 5, b"hello"),
            (b'0', "next", 3, b"abc"),
        ]);
        assert_eq!(
            names(&data, 1 << 20).expect("read"),
            vec![long, "next".to_string()]
        );
        let err = names(&data, 100).expect_err("over the limit");
        assert!(
            err.contains("GNU long-name header of 306 bytes is over the limit of 100"),
            "{err}"
        );
    }

    #[test]
    fn a_huge_claimed_header_fails_before_any_of_it_is_read() {
        // 2.5 GiB claimed, 4 KiB present: the parser never gets to allocate.
        let body = vec![b'a'; 4096];
        for kind in [b'L', b'K', b'x', b'g'] {
            let data = archive(&[(kind, "h", 5 << 29, &body)]);
            let err = names(&data, MAX_HEADER_BYTES).expect_err("refused");
            assert!(
                err.contains("2684354560 bytes is over the limit of 1048576"),
                "{err}"
            );
        }
    }

    #[test]
    fn a_pax_size_moves_the_framing_as_it_moves_the_parser() {
        // The header says 0 bytes, PAX says 700: the data is 700 bytes, then `after`.
        let record = b"12 size=700\n";
        let body = vec![b'z'; 700];
        let data = archive(&[
            (b'x', "pax", record.len() as u64, record),
            (b'0', "big", 0, &body),
            (b'L', "././@LongLink", 20, b"after-a-longer-name\0"),
            (b'0', "x", 0, b""),
        ]);
        assert_eq!(
            names(&data, 1 << 20).expect("read"),
            vec!["big", "after-a-longer-name"]
        );
        // The PAX header passes a limit of 15 and the long name, found where it really is
        // (after the 700 bytes PAX gave `big`), does not.
        let err = names(&data, 15).expect_err("the long name is checked where it really is");
        assert!(err.contains("GNU long-name header of 20 bytes"), "{err}");
    }

    #[test]
    fn sizes_are_read_in_octal_and_base_256() {
        assert_eq!(parse_size(b"00000001750\0"), Some(1000));
        let mut b256 = [0u8; 12];
        b256[0] = 0x80;
        b256[11] = 0x10;
        b256[10] = 0x01;
        assert_eq!(parse_size(&b256), Some(0x110));
        assert_eq!(parse_size(b"zzz\0\0\0\0\0\0\0\0\0"), None);
    }

    #[test]
    fn fuzz_tar_streams_through_the_guard() {
        let record = b"12 size=700\n";
        let body = vec![b'z'; 700];
        let pax = archive(&[
            (b'x', "pax", record.len() as u64, record),
            (b'0', "big", 0, &body),
        ]);
        let long = archive(&[
            (b'L', "././@LongLink", 6, b"after\0"),
            (b'0', "x", 3, b"abc"),
            (b'5', "dir", 0, b""),
        ]);
        let plain = archive(&[(b'0', "a", 5, b"hello"), (b'2', "link", 0, b"")]);
        werf_fuzz::run("tar", &[&pax, &long, &plain], |input| {
            let mut a = tar::Archive::new(TarGuard::with_limit(input, 4096));
            let Ok(entries) = a.entries() else { return };
            for e in entries.take(10_000) {
                let Ok(mut e) = e else { return };
                let _ = e.path();
                let _ = e.link_name();
                // Never more than the stream holds: a claimed size is not an allocation.
                let mut sink = std::io::sink();
                if std::io::copy(&mut e, &mut sink).is_err() {
                    return;
                }
            }
        });
    }
}
