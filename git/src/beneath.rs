//! The work tree opened beneath its root: every path is resolved relative to the root's file
//! descriptor with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)` (or, on kernels without it,
//! one `O_NOFOLLOW` component at a time), so no symbolic link is ever followed, inside the tree or
//! out of it. Symlinks read as their target text, as Git stores them; FIFOs, sockets and devices
//! are refused by name instead of being opened (a FIFO would block the read forever).

use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};

/// Errors of reading beneath the root, naming the repository-relative path.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "`{path}` is {kind}: special files (FIFOs, sockets, devices) cannot be part of a build"
    )]
    Special { path: String, kind: &'static str },
    #[error("`{path}` lies beyond the symbolic link `{link}`: werf reads links as links and never follows them")]
    BeyondLink { path: String, link: String },
    #[error("`{path}` is not a valid work-tree path")]
    BadPath { path: String },
    #[error("cannot read `{path}` from the work tree")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a path is, without following it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    File { executable: bool },
    Symlink,
    Dir,
}

/// The content of a file or a link (its target, as bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Content {
    File { executable: bool, data: Vec<u8> },
    Symlink(Vec<u8>),
}

/// The work tree root, held open.
#[derive(Debug)]
pub struct WorkTree {
    root: OwnedFd,
    /// Tells apart the work trees a thread's folder cache may hold a folder of.
    id: u64,
}

thread_local! {
    /// The folder the last [`WorkTree::stat`] on this thread opened (work tree id, path, fd):
    /// a scan visits files folder by folder, so most lookups reuse it instead of resolving the
    /// folder again. Opened without following links, like every other lookup.
    static LAST_FOLDER: std::cell::RefCell<Option<(u64, String, OwnedFd)>> =
        const { std::cell::RefCell::new(None) };
}

fn special_kind(t: FileType) -> Option<&'static str> {
    match t {
        FileType::Fifo => Some("a FIFO"),
        FileType::Socket => Some("a socket"),
        FileType::CharacterDevice => Some("a character device"),
        FileType::BlockDevice => Some("a block device"),
        FileType::Unknown => Some("a file of unknown type"),
        _ => None,
    }
}

impl WorkTree {
    /// Opens the folder `root`.
    pub fn open(root: &Path) -> std::io::Result<Self> {
        let root = rustix::fs::open(
            root,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(WorkTree { root, id })
    }

    /// The folder holding `rel` (opened beneath the root, no link followed) and `rel`'s name.
    /// `Ok(None)` when a parent is missing or not a folder.
    fn parent<'p>(&self, rel: &'p str) -> Result<Option<(OwnedFd, &'p str)>> {
        if rel.is_empty()
            || rel.starts_with('/')
            || rel
                .split('/')
                .any(|c| c.is_empty() || c == "." || c == "..")
            || rel.contains('\0')
        {
            return Err(Error::BadPath {
                path: rel.to_string(),
            });
        }
        let (dir, name) = rel.rsplit_once('/').unwrap_or((".", rel));
        let opened = rustix::fs::openat2(
            &self.root,
            dir,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
        );
        let fd = match opened {
            Ok(fd) => fd,
            Err(rustix::io::Errno::NOSYS) => return self.parent_by_components(rel, dir, name),
            Err(rustix::io::Errno::NOENT | rustix::io::Errno::NOTDIR) => return Ok(None),
            Err(rustix::io::Errno::LOOP | rustix::io::Errno::XDEV) => {
                return Err(self.beyond_link(rel, dir))
            }
            Err(e) => {
                return Err(Error::Io {
                    path: rel.to_string(),
                    source: e.into(),
                })
            }
        };
        Ok(Some((fd, name)))
    }

    /// [`WorkTree::parent`] for kernels without `openat2`: one component at a time, never
    /// following a link.
    fn parent_by_components<'p>(
        &self,
        rel: &'p str,
        dir: &str,
        name: &'p str,
    ) -> Result<Option<(OwnedFd, &'p str)>> {
        let mut fd = rustix::fs::openat(
            &self.root,
            ".",
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::Io {
            path: rel.to_string(),
            source: e.into(),
        })?;
        if dir == "." {
            return Ok(Some((fd, name)));
        }
        for comp in dir.split('/') {
            let st = match rustix::fs::statat(&fd, comp, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) => st,
                Err(_) => return Ok(None),
            };
            match FileType::from_raw_mode(st.st_mode) {
                FileType::Directory => {}
                FileType::Symlink => return Err(self.beyond_link(rel, dir)),
                _ => return Ok(None),
            }
            fd = rustix::fs::openat(
                &fd,
                comp,
                OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| Error::Io {
                path: rel.to_string(),
                source: e.into(),
            })?;
        }
        Ok(Some((fd, name)))
    }

    /// Names the first link on the way to `rel`.
    fn beyond_link(&self, rel: &str, dir: &str) -> Error {
        let mut so_far = String::new();
        for comp in dir.split('/') {
            if !so_far.is_empty() {
                so_far.push('/');
            }
            so_far.push_str(comp);
            if let Ok(st) =
                rustix::fs::statat(&self.root, so_far.as_str(), AtFlags::SYMLINK_NOFOLLOW)
            {
                if FileType::from_raw_mode(st.st_mode) == FileType::Symlink {
                    break;
                }
            }
        }
        Error::BeyondLink {
            path: rel.to_string(),
            link: so_far,
        }
    }

    /// `lstat` of `rel` relative to the root in one call, letting the kernel resolve the folders
    /// on the way (a link among them is followed): only for comparing with what the index
    /// recorded, never for deciding what a build reads. `None` on any failure.
    pub fn stat_fast(&self, rel: &str) -> Option<rustix::fs::Stat> {
        rustix::fs::statat(&self.root, rel, AtFlags::SYMLINK_NOFOLLOW).ok()
    }

    /// `lstat` of `rel` beneath the root; `Ok(None)` when it (or a parent folder) is missing.
    pub fn stat(&self, rel: &str) -> Result<Option<rustix::fs::Stat>> {
        let (folder, name) = rel.rsplit_once('/').unwrap_or(("", rel));
        LAST_FOLDER.with(|last| {
            let mut last = last.borrow_mut();
            let cached = matches!(&*last, Some((id, f, _)) if *id == self.id && f == folder);
            if !cached {
                let Some((dir, _)) = self.parent(rel)? else {
                    return Ok(None);
                };
                *last = Some((self.id, folder.to_string(), dir));
            }
            let Some((_, _, dir)) = &*last else {
                return Ok(None);
            };
            if cached && (name.is_empty() || name == "." || name == ".." || name.contains('\0')) {
                return Err(Error::BadPath {
                    path: rel.to_string(),
                });
            }
            Self::stat_in(dir, name, rel)
        })
    }

    fn stat_in(dir: &OwnedFd, name: &str, rel: &str) -> Result<Option<rustix::fs::Stat>> {
        match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(st)),
            Err(rustix::io::Errno::NOENT | rustix::io::Errno::NOTDIR) => Ok(None),
            Err(e) => Err(Error::Io {
                path: rel.to_string(),
                source: e.into(),
            }),
        }
    }

    /// What `rel` is; `Ok(None)` when missing. Special files are errors.
    pub fn kind(&self, rel: &str) -> Result<Option<Kind>> {
        let Some(st) = self.stat(rel)? else {
            return Ok(None);
        };
        kind_of(rel, &st).map(Some)
    }

    /// The content of the file or link `rel`; `Ok(None)` when missing or a folder.
    pub fn read(&self, rel: &str) -> Result<Option<Content>> {
        let io = |e: std::io::Error| Error::Io {
            path: rel.to_string(),
            source: e,
        };
        let Some((dir, name)) = self.parent(rel)? else {
            return Ok(None);
        };
        let st = match rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(rustix::io::Errno::NOENT | rustix::io::Errno::NOTDIR) => return Ok(None),
            Err(e) => return Err(io(e.into())),
        };
        match kind_of(rel, &st)? {
            Kind::Dir => Ok(None),
            Kind::Symlink => {
                let target =
                    rustix::fs::readlinkat(&dir, name, Vec::new()).map_err(|e| io(e.into()))?;
                Ok(Some(Content::Symlink(target.into_bytes())))
            }
            Kind::File { .. } => {
                // O_NOFOLLOW: a link swapped in since the stat is not followed; O_NONBLOCK: a
                // FIFO swapped in does not block. The descriptor's own type is checked again.
                let fd = rustix::fs::openat(
                    &dir,
                    name,
                    OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| io(e.into()))?;
                let st = rustix::fs::fstat(&fd).map_err(|e| io(e.into()))?;
                let Kind::File { executable } = kind_of(rel, &st)? else {
                    return Err(io(std::io::Error::other("changed while being read")));
                };
                let mut data = Vec::with_capacity(st.st_size.max(0) as usize);
                std::fs::File::from(fd).read_to_end(&mut data).map_err(io)?;
                Ok(Some(Content::File { executable, data }))
            }
        }
    }

    /// The regular file `rel`, opened for reading (beneath the root, no link followed), with its
    /// size; `Ok(None)` when it is missing or not a regular file.
    pub fn open_file(&self, rel: &str) -> Result<Option<(std::fs::File, u64)>> {
        let io = |e: std::io::Error| Error::Io {
            path: rel.to_string(),
            source: e,
        };
        let Some((dir, name)) = self.parent(rel)? else {
            return Ok(None);
        };
        let fd = match rustix::fs::openat(
            &dir,
            name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::NOENT | rustix::io::Errno::LOOP) => return Ok(None),
            Err(e) => return Err(io(e.into())),
        };
        let st = rustix::fs::fstat(&fd).map_err(|e| io(e.into()))?;
        match kind_of(rel, &st)? {
            Kind::File { .. } => Ok(Some((std::fs::File::from(fd), st.st_size.max(0) as u64))),
            _ => Ok(None),
        }
    }

    /// The names in the folder `rel` (`""` for the root), sorted; no link followed.
    pub fn list(&self, rel: &str) -> Result<Vec<String>> {
        let io = |e: std::io::Error| Error::Io {
            path: rel.to_string(),
            source: e,
        };
        let fd = if rel.is_empty() {
            rustix::fs::openat(
                &self.root,
                ".",
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| io(e.into()))?
        } else {
            let Some((dir, name)) = self.parent(rel)? else {
                return Err(io(std::io::ErrorKind::NotFound.into()));
            };
            rustix::fs::openat(
                &dir,
                name,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| io(e.into()))?
        };
        let dir = rustix::fs::Dir::read_from(fd.as_fd()).map_err(|e| io(e.into()))?;
        let mut names = Vec::new();
        for entry in dir {
            let entry = entry.map_err(|e| io(e.into()))?;
            let bytes = entry.file_name().to_bytes();
            if bytes == b"." || bytes == b".." {
                continue;
            }
            let name = std::str::from_utf8(bytes).map_err(|_| Error::BadPath {
                path: format!("{rel}/{}", String::from_utf8_lossy(bytes)),
            })?;
            names.push(name.to_string());
        }
        names.sort();
        Ok(names)
    }
}

fn kind_of(rel: &str, st: &rustix::fs::Stat) -> Result<Kind> {
    let t = FileType::from_raw_mode(st.st_mode);
    if let Some(kind) = special_kind(t) {
        return Err(Error::Special {
            path: rel.to_string(),
            kind,
        });
    }
    Ok(match t {
        FileType::Directory => Kind::Dir,
        FileType::Symlink => Kind::Symlink,
        _ => Kind::File {
            executable: st.st_mode & 0o111 != 0,
        },
    })
}

/// A SHA-1 hasher primed with Git's header of a blob of `len` bytes: feed it the content and
/// it gives the blob's id.
pub fn blob_hasher(len: u64) -> sha1::Sha1 {
    use sha1::Digest as _;
    let mut hasher = sha1::Sha1::new();
    hasher.update(format!("blob {len}\0").as_bytes());
    hasher
}

/// The Git blob id of `content` (a link hashes as its target text, as Git does).
pub fn blob_id(content: &Content) -> werf_graph::ObjectId {
    let data = match content {
        Content::File { data, .. } => data,
        Content::Symlink(t) => t,
    };
    let id = gix::objs::compute_hash(gix::hash::Kind::Sha1, gix::objs::Kind::Blob, data)
        .expect("SHA-1 hashing of in-memory data does not fail");
    super::to_graph_id(&id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_read_as_links_and_never_followed() {
        let outside = tempfile::tempdir().expect("tempdir");
        std::fs::write(outside.path().join("secret"), "host file").expect("write");
        let root = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(root.path().join("d")).expect("mkdir");
        std::fs::write(root.path().join("d/f"), "in tree").expect("write");
        std::os::unix::fs::symlink(outside.path(), root.path().join("out")).expect("symlink");
        std::os::unix::fs::symlink("d", root.path().join("in")).expect("symlink");
        let w = WorkTree::open(root.path()).expect("open");

        assert_eq!(
            w.read("d/f").expect("read"),
            Some(Content::File {
                executable: false,
                data: b"in tree".to_vec()
            })
        );
        assert_eq!(
            w.read("out").expect("read"),
            Some(Content::Symlink(
                outside.path().as_os_str().as_encoded_bytes().to_vec()
            ))
        );
        for through in ["out/secret", "in/f"] {
            match w.read(through) {
                Err(Error::BeyondLink { link, .. }) => {
                    assert_eq!(link, through.split('/').next().expect("first"))
                }
                other => panic!("{through}: {other:?}"),
            }
        }
        assert!(matches!(w.read("../x"), Err(Error::BadPath { .. })));
        assert_eq!(w.read("missing/x").expect("read"), None);
        assert_eq!(w.list("").expect("list"), ["d", "in", "out"]);
    }

    #[test]
    fn special_files_are_refused_by_name() {
        let root = tempfile::tempdir().expect("tempdir");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            root.path().join("fifo"),
            FileType::Fifo,
            Mode::from_raw_mode(0o644),
            0,
        )
        .expect("mkfifo");
        let w = WorkTree::open(root.path()).expect("open");
        match w.read("fifo") {
            Err(e @ Error::Special { .. }) => assert_eq!(
                e.to_string(),
                "`fifo` is a FIFO: special files (FIFOs, sockets, devices) cannot be part of a build"
            ),
            other => panic!("{other:?}"),
        }
    }
}
