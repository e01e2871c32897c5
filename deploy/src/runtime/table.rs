//! The status lines of tracking on stderr: event lines (`ready`, `FAILED`, ...) as they happen,
//! and on a terminal a table of what is still progressing, redrawn in place (the previous table
//! is erased when nothing was printed after it).

use std::io::Write;

/// Writes tracking's lines to `out`; `tty` turns the in-place table on.
pub struct StatusLines<W: Write> {
    out: W,
    tty: bool,
    /// Lines of the table last drawn, if it is still the last thing on the screen.
    table_lines: usize,
}

impl<W: Write> StatusLines<W> {
    pub fn new(out: W, tty: bool) -> Self {
        StatusLines {
            out,
            tty,
            table_lines: 0,
        }
    }

    /// Whether the table is drawn (a terminal).
    pub fn tty(&self) -> bool {
        self.tty
    }

    /// An event line; it stays (the table is erased first, then drawn again later below it).
    pub fn line(&mut self, text: &str) {
        self.erase_table();
        let _ = writeln!(self.out, "{text}");
    }

    fn erase_table(&mut self) {
        if self.table_lines > 0 {
            // Up over the table, then clear to the end of the screen.
            let _ = write!(self.out, "\x1b[{}A\x1b[J", self.table_lines);
            self.table_lines = 0;
        }
    }

    /// Draws the table of `rows` (resource, status) in place of the previous one.
    pub fn table(&mut self, rows: &[(String, String)]) {
        if !self.tty {
            return;
        }
        self.erase_table();
        if rows.is_empty() {
            return;
        }
        let _ = writeln!(self.out, "  {:<50} STATUS", "RESOURCE");
        for (id, status) in rows {
            let _ = writeln!(self.out, "  {id:<50} {status}");
        }
        self.table_lines = rows.len() + 1;
        let _ = self.out.flush();
    }

    #[cfg(test)]
    fn into_inner(self) -> W {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_redrawn_in_place_and_event_lines_stay() {
        let mut s = StatusLines::new(Vec::new(), true);
        let rows = |status: &str| vec![("Deployment/a (ns)".to_string(), status.to_string())];
        s.table(&rows("0/1"));
        s.table(&rows("1/1 updated"));
        s.line("  ready     Deployment/a (ns)  1/1");
        s.table(&[]);
        let out = String::from_utf8(s.into_inner()).expect("UTF-8");
        // The second table erased the first (2 lines); the event line erased the second.
        assert_eq!(out.matches("\x1b[2A\x1b[J").count(), 2, "{out:?}");
        assert!(
            out.ends_with("  ready     Deployment/a (ns)  1/1\n"),
            "{out:?}"
        );
        // Not a terminal: no table, no escape sequences.
        let mut plain = StatusLines::new(Vec::new(), false);
        plain.table(&rows("0/1"));
        plain.line("x");
        assert_eq!(String::from_utf8(plain.into_inner()).expect("UTF-8"), "x\n");
    }
}
