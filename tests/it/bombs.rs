//! Test support: hostile archives, shared by the hostile tests and the hostile bench.

use std::io::Write;

/// Writes to `out` a `.tgz` whose one member is a GNU long name claiming `claimed` bytes, of
/// which `present` (`a`s) really follow: a small file a naive tar reader allocates gigabytes for.
pub fn long_name_bomb(out: impl Write, claimed: u64, present: u64) -> std::io::Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::GNULongName);
    h.set_path("././@LongLink")?;
    h.set_size(claimed);
    h.set_mode(0o644);
    h.set_cksum();
    let mut gz = flate2::write::GzEncoder::new(out, flate2::Compression::fast());
    gz.write_all(h.as_bytes())?;
    let chunk = vec![b'a'; 1 << 20];
    let mut left = present;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        gz.write_all(&chunk[..n])?;
        left -= n as u64;
    }
    gz.finish().map(drop)
}
