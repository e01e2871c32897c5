//! `ADD` of a local archive, unpacked as Docker unpacks it and never outside its destination.
//!
//! A source that is a tar (plain, or compressed with gzip, bzip2, xz or zstd) is extracted; any
//! other file, a compressed file that is not a tar included, is copied as it is. Member names
//! are cleaned like Go's `filepath.Clean` and kept under the destination (a leading `/` is
//! dropped, a `..` that climbs out is an error); nothing is written through a symbolic link
//! member; hard links resolve to members met earlier or are refused; links whose target climbs
//! out are refused. Limits on members, unpacked size and expansion ratio turn a decompression
//! bomb into an error naming the instruction instead of an exhausted memory.

use std::io::Read;
use std::sync::Arc;

use super::oci::{Node, Tree};

/// Bounds on what one archive may unpack to.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub entries: u64,
    pub total_bytes: u64,
    /// Unpacked bytes per archive byte, checked once the unpacked size passes
    /// [`Limits::ratio_floor`] (small archives may compress well without harm).
    pub ratio: u64,
    pub ratio_floor: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            entries: 1_000_000,
            total_bytes: 8 << 30,
            ratio: 1_000,
            ratio_floor: 64 << 20,
        }
    }
}

/// Why an archive was refused.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("archive member `{member}` climbs out of the destination")]
    Breakout { member: String },
    #[error(
        "archive member `{member}` would be written through the symbolic link member `{link}`"
    )]
    ThroughLink { member: String, link: String },
    #[error(
        "archive member `{member}` is a hard link to `{target}`, which is not an earlier member"
    )]
    HardLink { member: String, target: String },
    #[error(
        "archive member `{member}` is a link whose target `{target}` climbs out of the destination"
    )]
    LinkBreakout { member: String, target: String },
    #[error("archive member `{member}` is {kind}, which an image layer built here cannot hold")]
    Unsupported { member: String, kind: &'static str },
    #[error("the archive has more than {limit} members")]
    TooManyEntries { limit: u64 },
    #[error("the archive unpacks to more than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("the archive expands more than {ratio} times its size ({packed} bytes packed): a decompression bomb?")]
    Bomb { ratio: u64, packed: u64 },
    #[error("the {format} stream is damaged")]
    Damaged {
        format: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("reading the archive")]
    Tar(#[source] std::io::Error),
}

/// How an archive is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Bzip2,
    Xz,
    Zstd,
}

impl Compression {
    /// From the first bytes, as Docker's `DetectCompression` does.
    pub fn detect(data: &[u8]) -> Compression {
        if data.starts_with(&[0x1f, 0x8b, 0x08]) {
            Compression::Gzip
        } else if data.starts_with(b"BZh") {
            Compression::Bzip2
        } else if data.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Compression::Xz
        } else if data.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }

    fn name(self) -> &'static str {
        match self {
            Compression::None => "tar",
            Compression::Gzip => "gzip",
            Compression::Bzip2 => "bzip2",
            Compression::Xz => "xz",
            Compression::Zstd => "zstd",
        }
    }
}

/// A writer that fails once more than `limit` bytes went in.
struct Capped {
    out: Vec<u8>,
    limit: u64,
}

impl std::io::Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.out.len() as u64 + buf.len() as u64 > self.limit {
            return Err(std::io::Error::other(CAP_HIT));
        }
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const CAP_HIT: &str = "werf: archive size limit";

fn cap_hit(e: &std::io::Error) -> bool {
    e.get_ref()
        .is_some_and(|inner| inner.to_string() == CAP_HIT)
}

/// `data` decompressed, within the limits (the ratio checked as it grows).
fn decompress(data: &[u8], format: Compression, limits: &Limits) -> Result<Vec<u8>, Error> {
    let packed = data.len() as u64;
    let ratio_cap = limits
        .ratio
        .saturating_mul(packed.max(1))
        .max(limits.ratio_floor);
    let limit = limits.total_bytes.min(ratio_cap);
    let over = |limit: u64| {
        if limit == limits.total_bytes {
            Error::TooLarge { limit }
        } else {
            Error::Bomb {
                ratio: limits.ratio,
                packed,
            }
        }
    };
    let mut out = Capped {
        out: Vec::new(),
        limit,
    };
    let result = match format {
        Compression::None => return Ok(data.to_vec()),
        Compression::Gzip => std::io::copy(&mut flate2::read::MultiGzDecoder::new(data), &mut out),
        Compression::Bzip2 => std::io::copy(&mut bzip2::read::MultiBzDecoder::new(data), &mut out),
        Compression::Zstd => match ruzstd::decoding::StreamingDecoder::new(data) {
            Ok(mut d) => std::io::copy(&mut d, &mut out),
            Err(e) => Err(std::io::Error::other(e.to_string())),
        },
        Compression::Xz => lzma_rs::xz_decompress(&mut std::io::BufReader::new(data), &mut out)
            .map(|_| 0)
            .map_err(|e| match e {
                lzma_rs::error::Error::IoError(io) => io,
                other => std::io::Error::other(format!("{other:?}")),
            }),
    };
    match result {
        Ok(_) => Ok(out.out),
        Err(e) if cap_hit(&e) => Err(over(limit)),
        Err(source) => Err(Error::Damaged {
            format: format.name(),
            source,
        }),
    }
}

/// Whether `data` starts with a tar header (ustar magic, or a v7 header whose checksum holds).
fn is_tar(data: &[u8]) -> bool {
    if data.len() < 512 {
        return false;
    }
    let header = &data[..512];
    if &header[257..262] == b"ustar" {
        return true;
    }
    let field = std::str::from_utf8(&header[148..156]).unwrap_or("");
    let Ok(stored) = u32::from_str_radix(field.trim_matches(|c: char| c == '\0' || c == ' '), 8)
    else {
        return false;
    };
    let sum: u32 = header
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                32
            } else {
                *b as u32
            }
        })
        .sum();
    sum == stored && header[0] != 0
}

/// Go's `filepath.Clean` of a member name, made relative; `None` when it climbs out.
fn clean_member(name: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    let absolute = name.starts_with('/');
    for comp in name.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() && !absolute {
                    return None;
                }
            }
            c => parts.push(c),
        }
    }
    Some(parts.join("/"))
}

/// Whether a link at `member` pointing at `target` stays inside the destination (an absolute
/// target is resolved inside the image's root, as Docker checks it).
fn link_stays_inside(member: &str, target: &str) -> bool {
    if target.starts_with('/') {
        return true;
    }
    let joined = match member.rsplit_once('/') {
        Some((dir, _)) => format!("{dir}/{target}"),
        None => target.to_string(),
    };
    clean_member(&joined).is_some()
}

/// The archive `data` unpacked (paths relative to the destination), or `Ok(None)` when it is
/// not a tar archive (then `ADD` copies it as it is).
pub fn unpack(data: &[u8], limits: &Limits) -> Result<Option<Tree>, Error> {
    let format = Compression::detect(data);
    let raw = match format {
        Compression::None if !is_tar(data) => return Ok(None),
        Compression::None => std::borrow::Cow::Borrowed(data),
        f => {
            let raw = decompress(data, f, limits)?;
            if !is_tar(&raw) {
                return Ok(None);
            }
            std::borrow::Cow::Owned(raw)
        }
    };
    let mut tree = Tree::new();
    let mut archive = tar::Archive::new(&raw[..]);
    let mut entries: u64 = 0;
    let mut total: u64 = 0;
    for entry in archive.entries().map_err(Error::Tar)? {
        let mut entry = entry.map_err(Error::Tar)?;
        entries += 1;
        if entries > limits.entries {
            return Err(Error::TooManyEntries {
                limit: limits.entries,
            });
        }
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let member = clean_member(&name).ok_or_else(|| Error::Breakout {
            member: name.clone(),
        })?;
        if member.is_empty() {
            continue; // `./` itself
        }
        // No member is written through a link member met before it.
        let mut prefix = member.as_str();
        while let Some((parent, _)) = prefix.rsplit_once('/') {
            if let Some(Node::Symlink { .. }) = tree.get(parent) {
                return Err(Error::ThroughLink {
                    member: name,
                    link: parent.to_string(),
                });
            }
            prefix = parent;
        }
        let header = entry.header();
        let mode = header.mode().unwrap_or(0o644) & 0o7777;
        let node = match header.entry_type() {
            tar::EntryType::Directory => Node::Dir { mode },
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .map(|l| String::from_utf8_lossy(&l).into_owned())
                    .unwrap_or_default();
                if !link_stays_inside(&member, &target) {
                    return Err(Error::LinkBreakout {
                        member: name,
                        target,
                    });
                }
                Node::Symlink { target }
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .map(|l| String::from_utf8_lossy(&l).into_owned())
                    .unwrap_or_default();
                let resolved = clean_member(&target);
                match resolved.as_deref().and_then(|t| tree.get(t)) {
                    Some(n @ Node::File { .. }) => n.clone(),
                    _ => {
                        return Err(Error::HardLink {
                            member: name,
                            target,
                        })
                    }
                }
            }
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                total = total.saturating_add(entry.size());
                if total > limits.total_bytes {
                    return Err(Error::TooLarge {
                        limit: limits.total_bytes,
                    });
                }
                let mut data = Vec::with_capacity(entry.size().min(1 << 20) as usize);
                entry.read_to_end(&mut data).map_err(Error::Tar)?;
                Node::File {
                    mode,
                    data: Arc::from(data),
                }
            }
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader => continue,
            other => {
                return Err(Error::Unsupported {
                    member: name,
                    kind: match other {
                        tar::EntryType::Char => "a character device",
                        tar::EntryType::Block => "a block device",
                        tar::EntryType::Fifo => "a FIFO",
                        _ => "an entry of unknown type",
                    },
                })
            }
        };
        if !matches!(node, Node::Dir { .. }) {
            // A file or link replaces what was below the same path.
            let below = format!("{member}/");
            tree.retain(|k, _| !k.starts_with(&below));
        }
        tree.insert(member, node);
    }
    Ok(Some(tree))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(entries: &[(&str, tar::EntryType, &[u8], &str)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, kind, data, link) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(*kind);
            h.set_mode(0o644);
            h.set_size(data.len() as u64);
            // Raw names: the builder's own path checks would refuse the hostile ones.
            let raw = h.as_old_mut();
            raw.name[..name.len()].copy_from_slice(name.as_bytes());
            raw.linkname[..link.len()].copy_from_slice(link.as_bytes());
            h.set_cksum();
            b.append(&h, *data).expect("append");
        }
        b.into_inner().expect("tar")
    }

    #[test]
    fn members_stay_under_the_destination() {
        let t = tar_of(&[("/etc/passwd", tar::EntryType::Regular, b"x", "")]);
        let tree = unpack(&t, &Limits::default()).expect("ok").expect("tar");
        assert!(tree.contains_key("etc/passwd"));
        let t = tar_of(&[("a/../../etc/passwd", tar::EntryType::Regular, b"x", "")]);
        assert!(matches!(
            unpack(&t, &Limits::default()),
            Err(Error::Breakout { .. })
        ));
        let t = tar_of(&[
            ("l", tar::EntryType::Symlink, b"", "/etc"),
            ("l/passwd", tar::EntryType::Regular, b"x", ""),
        ]);
        assert!(matches!(
            unpack(&t, &Limits::default()),
            Err(Error::ThroughLink { .. })
        ));
        let t = tar_of(&[("l", tar::EntryType::Symlink, b"", "../../etc")]);
        assert!(matches!(
            unpack(&t, &Limits::default()),
            Err(Error::LinkBreakout { .. })
        ));
        let t = tar_of(&[("h", tar::EntryType::Link, b"", "/etc/shadow")]);
        assert!(matches!(
            unpack(&t, &Limits::default()),
            Err(Error::HardLink { .. })
        ));
        let t = tar_of(&[
            ("f", tar::EntryType::Regular, b"data", ""),
            ("h", tar::EntryType::Link, b"", "f"),
        ]);
        let tree = unpack(&t, &Limits::default()).expect("ok").expect("tar");
        assert_eq!(tree.get("h"), tree.get("f"));
    }

    #[test]
    fn compressed_tars_unpack_and_other_files_are_not_archives() {
        use std::io::Write;
        let t = tar_of(&[("f", tar::EntryType::Regular, b"data", "")]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&t).expect("gz");
        let gz = gz.finish().expect("gz");
        assert!(unpack(&gz, &Limits::default()).expect("ok").is_some());
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        bz.write_all(&t).expect("bz");
        let bz = bz.finish().expect("bz");
        assert!(unpack(&bz, &Limits::default()).expect("ok").is_some());
        let mut xz = Vec::new();
        lzma_rs::xz_compress(&mut &t[..], &mut xz).expect("xz");
        assert!(unpack(&xz, &Limits::default()).expect("ok").is_some());
        // A gzip of plain text is copied as it is.
        let mut plain = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        plain.write_all(b"just text").expect("gz");
        let plain = plain.finish().expect("gz");
        assert!(unpack(&plain, &Limits::default()).expect("ok").is_none());
        assert!(unpack(b"not an archive", &Limits::default())
            .expect("ok")
            .is_none());
    }

    #[test]
    fn bombs_and_floods_hit_the_limits() {
        use std::io::Write;
        let zeros = vec![0u8; 4 << 20];
        let t = tar_of(&[("big", tar::EntryType::Regular, &zeros, "")]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&t).expect("gz");
        let gz = gz.finish().expect("gz");
        let limits = Limits {
            ratio: 100,
            ratio_floor: 1 << 20,
            ..Limits::default()
        };
        assert!(matches!(unpack(&gz, &limits), Err(Error::Bomb { .. })));
        let limits = Limits {
            total_bytes: 1 << 20,
            ..Limits::default()
        };
        assert!(matches!(unpack(&t, &limits), Err(Error::TooLarge { .. })));
        let many: Vec<(String, tar::EntryType, &[u8], &str)> = (0..20)
            .map(|i| (format!("f{i}"), tar::EntryType::Regular, &b""[..], ""))
            .collect();
        let many: Vec<(&str, tar::EntryType, &[u8], &str)> = many
            .iter()
            .map(|(n, k, d, l)| (n.as_str(), *k, *d, *l))
            .collect();
        let limits = Limits {
            entries: 10,
            ..Limits::default()
        };
        assert!(matches!(
            unpack(&tar_of(&many), &limits),
            Err(Error::TooManyEntries { limit: 10 })
        ));
    }
}
