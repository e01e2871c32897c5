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
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::layer::{place, Node, Spool, Tree};

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

/// Counts the packed bytes read from the source.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Which limit an unpacked stream hit (carried inside an `io::Error`).
#[derive(Debug)]
struct Hit(&'static str);

impl std::fmt::Display for Hit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Hit {}

/// The unpacked stream, failing past the size limit or the expansion ratio.
struct Bounded<R> {
    inner: R,
    unpacked: u64,
    packed: Arc<AtomicU64>,
    limits: Limits,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.unpacked += n as u64;
        if self.unpacked > self.limits.total_bytes {
            return Err(std::io::Error::other(Hit("size")));
        }
        let packed = self.packed.load(Ordering::Relaxed).max(1);
        if self.unpacked > self.limits.ratio_floor
            && self.unpacked > self.limits.ratio.saturating_mul(packed)
        {
            return Err(std::io::Error::other(Hit("ratio")));
        }
        Ok(n)
    }
}

fn hit(e: &std::io::Error) -> Option<&'static str> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<Hit>())
        .map(|h| h.0)
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

/// The archive read from `source` unpacked (paths relative to the destination; file contents in
/// `spool`), or `Ok(None)` when it is not a tar archive (then `ADD` copies it as it is). Streams:
/// neither the archive nor what it unpacks to is held in memory.
pub fn unpack(
    source: Box<dyn Read + Send + '_>,
    spool: &Arc<Spool>,
    limits: &Limits,
) -> Result<Option<Tree>, Error> {
    let packed = Arc::new(AtomicU64::new(0));
    let mut source = std::io::BufReader::with_capacity(
        1 << 20,
        Counting {
            inner: source,
            count: packed.clone(),
        },
    );
    let format = Compression::detect(std::io::BufRead::fill_buf(&mut source).map_err(Error::Tar)?);
    let fail = |e: std::io::Error, packed: &AtomicU64| match hit(&e) {
        Some("size") => Error::TooLarge {
            limit: limits.total_bytes,
        },
        Some(_) => Error::Bomb {
            ratio: limits.ratio,
            packed: packed.load(Ordering::Relaxed),
        },
        None if format == Compression::None => Error::Tar(e),
        None => Error::Damaged {
            format: format.name(),
            source: e,
        },
    };
    std::thread::scope(|scope| {
        let decoded: Box<dyn Read + Send + '_> = match format {
            Compression::None => Box::new(source),
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(source)),
            Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(source)),
            Compression::Zstd => Box::new(
                ruzstd::decoding::StreamingDecoder::new(source)
                    .map_err(|e| fail(std::io::Error::other(e.to_string()), &packed))?,
            ),
            Compression::Xz => {
                // lzma-rs decodes into a writer: it runs beside us, into a pipe.
                let (reader, mut writer) = std::io::pipe().map_err(Error::Tar)?;
                let mut source = source;
                scope.spawn(move || {
                    let _ = lzma_rs::xz_decompress(&mut source, &mut writer);
                });
                Box::new(reader)
            }
        };
        let mut bounded = Bounded {
            inner: decoded,
            unpacked: 0,
            packed: packed.clone(),
            limits: *limits,
        };
        let mut head = Vec::with_capacity(512);
        (&mut bounded)
            .take(512)
            .read_to_end(&mut head)
            .map_err(|e| fail(e, &packed))?;
        if !is_tar(&head) {
            return Ok(None);
        }
        let stream = std::io::Cursor::new(head).chain(bounded);
        extract(stream, spool, limits).map_err(|e| match e {
            Error::Tar(io) => fail(io, &packed),
            other => other,
        })
    })
}

/// Reads the tar stream into a tree, checking every member.
fn extract(stream: impl Read, spool: &Arc<Spool>, limits: &Limits) -> Result<Option<Tree>, Error> {
    let mut tree = Tree::new();
    let mut archive = tar::Archive::new(werf_graph::tar_guard::TarGuard::new(stream));
    let mut entries: u64 = 0;
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
                let data = spool.append(&mut entry).map_err(Error::Tar)?;
                Node::File { mode, data }
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
        place(&mut tree, member, node);
    }
    Ok(Some(tree))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(data: &[u8], limits: &Limits) -> Result<Option<Tree>, Error> {
        let spool = Spool::new().expect("spool");
        unpack(Box::new(data), &spool, limits)
    }

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
        let tree = run(&t, &Limits::default()).expect("ok").expect("tar");
        assert!(tree.contains_key("etc/passwd"));
        let t = tar_of(&[("a/../../etc/passwd", tar::EntryType::Regular, b"x", "")]);
        assert!(matches!(
            run(&t, &Limits::default()),
            Err(Error::Breakout { .. })
        ));
        let t = tar_of(&[
            ("l", tar::EntryType::Symlink, b"", "/etc"),
            ("l/passwd", tar::EntryType::Regular, b"x", ""),
        ]);
        assert!(matches!(
            run(&t, &Limits::default()),
            Err(Error::ThroughLink { .. })
        ));
        let t = tar_of(&[("l", tar::EntryType::Symlink, b"", "../../etc")]);
        assert!(matches!(
            run(&t, &Limits::default()),
            Err(Error::LinkBreakout { .. })
        ));
        let t = tar_of(&[("h", tar::EntryType::Link, b"", "/etc/shadow")]);
        assert!(matches!(
            run(&t, &Limits::default()),
            Err(Error::HardLink { .. })
        ));
        let t = tar_of(&[
            ("f", tar::EntryType::Regular, b"data", ""),
            ("h", tar::EntryType::Link, b"", "f"),
        ]);
        let tree = run(&t, &Limits::default()).expect("ok").expect("tar");
        assert_eq!(tree.get("h"), tree.get("f"));
        assert!(matches!(tree.get("f"), Some(Node::File { .. })));
    }

    #[test]
    fn compressed_tars_unpack_and_other_files_are_not_archives() {
        use std::io::Write;
        let t = tar_of(&[("f", tar::EntryType::Regular, b"data", "")]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&t).expect("gz");
        let gz = gz.finish().expect("gz");
        assert!(run(&gz, &Limits::default()).expect("ok").is_some());
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        bz.write_all(&t).expect("bz");
        let bz = bz.finish().expect("bz");
        assert!(run(&bz, &Limits::default()).expect("ok").is_some());
        let mut xz = Vec::new();
        lzma_rs::xz_compress(&mut &t[..], &mut xz).expect("xz");
        assert!(run(&xz, &Limits::default()).expect("ok").is_some());
        // A gzip of plain text is copied as it is.
        let mut plain = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        plain.write_all(b"just text").expect("gz");
        let plain = plain.finish().expect("gz");
        assert!(run(&plain, &Limits::default()).expect("ok").is_none());
        assert!(run(b"not an archive", &Limits::default())
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
        assert!(matches!(run(&gz, &limits), Err(Error::Bomb { .. })));
        let limits = Limits {
            total_bytes: 1 << 20,
            ..Limits::default()
        };
        assert!(matches!(run(&t, &limits), Err(Error::TooLarge { .. })));
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
            run(&tar_of(&many), &limits),
            Err(Error::TooManyEntries { limit: 10 })
        ));
    }
}
