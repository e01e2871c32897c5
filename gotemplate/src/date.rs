//! Go's `time` as Sprig uses it: [`Time`] values with their zone, Go's reference-time layouts
//! (`2006-01-02 15:04:05 -0700 MST`) for formatting and parsing, durations (`1h2m3s`), and the
//! zone database (chrono-tz) for `dateInZone`. `Local` is the zone `TZ` names, else the one
//! `/etc/localtime` links to, else UTC, as Go resolves it.

use std::sync::{Arc, OnceLock};

use chrono::{Datelike, NaiveDateTime, Offset, TimeZone, Timelike};
use chrono_tz::{OffsetName, Tz};

/// A zone: UTC, one of the database's, or a fixed offset read from a parsed time.
#[derive(Clone, Debug, PartialEq)]
pub enum Zone {
    Utc,
    Named(Tz),
    Fixed { offset: i32, name: Arc<str> },
}

/// Go's `time.Time`: an instant (Unix seconds and nanoseconds) and the zone it is shown in.
#[derive(Clone, Debug, PartialEq)]
pub struct Time {
    pub secs: i64,
    pub nanos: u32,
    pub zone: Zone,
}

/// The fields of an instant as a zone shows it.
struct Civil {
    dt: NaiveDateTime,
    offset: i32,
    abbrev: String,
}

impl Zone {
    /// The zone by database name (`UTC`, `Local`, `Europe/Berlin`); `None` when unknown.
    pub fn load(name: &str) -> Option<Zone> {
        match name {
            "" | "UTC" => Some(Zone::Utc),
            "Local" => Some(local().clone()),
            other => other.parse::<Tz>().ok().map(Zone::Named),
        }
    }
}

/// Go's `time.Local`.
pub fn local() -> &'static Zone {
    static LOCAL: OnceLock<Zone> = OnceLock::new();
    LOCAL.get_or_init(|| {
        if let Some(tz) = std::env::var_os("TZ") {
            let tz = tz.to_string_lossy().trim_start_matches(':').to_string();
            return tz.parse::<Tz>().map(Zone::Named).unwrap_or(Zone::Utc);
        }
        std::fs::read_link("/etc/localtime")
            .ok()
            .and_then(|p| {
                let p = p.to_string_lossy().to_string();
                p.split_once("zoneinfo/")
                    .and_then(|(_, name)| name.parse::<Tz>().ok())
            })
            .map(Zone::Named)
            .unwrap_or(Zone::Utc)
    })
}

impl Time {
    /// The clock's time in the local zone (`now`).
    pub fn now() -> Time {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Time {
            secs: d.as_secs() as i64,
            nanos: d.subsec_nanos(),
            zone: local().clone(),
        }
    }

    /// Unix seconds shown in the local zone (`time.Unix(s, 0)`).
    pub fn unix(secs: i64) -> Time {
        Time {
            secs,
            nanos: 0,
            zone: local().clone(),
        }
    }

    /// The same instant in `zone`.
    pub fn in_zone(&self, zone: Zone) -> Time {
        Time {
            zone,
            ..self.clone()
        }
    }

    /// The instant moved by `nanos` nanoseconds (`t.Add(d)`).
    pub fn add(&self, nanos: i128) -> Time {
        let total = self.secs as i128 * 1_000_000_000 + self.nanos as i128 + nanos;
        Time {
            secs: total.div_euclid(1_000_000_000) as i64,
            nanos: total.rem_euclid(1_000_000_000) as u32,
            zone: self.zone.clone(),
        }
    }

    /// Nanoseconds from `earlier` to this instant.
    pub fn since(&self, earlier: &Time) -> i128 {
        (self.secs as i128 - earlier.secs as i128) * 1_000_000_000 + self.nanos as i128
            - earlier.nanos as i128
    }

    fn civil(&self) -> Civil {
        let utc = chrono::DateTime::from_timestamp(self.secs, self.nanos)
            .unwrap_or_default()
            .naive_utc();
        let (offset, abbrev) = match &self.zone {
            Zone::Utc => (0, "UTC".to_string()),
            Zone::Fixed { offset, name } => (*offset, name.to_string()),
            Zone::Named(tz) => {
                let o = tz.offset_from_utc_datetime(&utc);
                let seconds = o.fix().local_minus_utc();
                let name = o
                    .abbreviation()
                    .map(str::to_string)
                    .unwrap_or_else(|| offset_name(seconds));
                (seconds, name)
            }
        };
        Civil {
            dt: utc + chrono::Duration::seconds(offset as i64),
            offset,
            abbrev,
        }
    }

    /// Go's `t.String()`: `2006-01-02 15:04:05.999999999 -0700 MST`.
    pub fn go_string(&self) -> String {
        format(self, "2006-01-02 15:04:05.999999999 -0700 MST")
    }

    /// RFC 3339 with nanoseconds, as `encoding/json` writes a time.
    pub fn rfc3339_nano(&self) -> String {
        format(self, "2006-01-02T15:04:05.999999999Z07:00")
    }
}

/// Go names a zone without an abbreviation by its offset (`+03`, `-0930`).
fn offset_name(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let m = seconds.abs() / 60;
    if m % 60 == 0 {
        format!("{sign}{:02}", m / 60)
    } else {
        format!("{sign}{:02}{:02}", m / 60, m % 60)
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// One element of a layout, as Go's `nextStdChunk` splits it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chunk {
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    PM,
    Pm,
    TZ,
    Iso8601TZ,
    Iso8601SecondsTZ,
    Iso8601ShortTZ,
    Iso8601ColonTZ,
    Iso8601ColonSecondsTZ,
    NumTZ,
    NumSecondsTz,
    NumShortTZ,
    NumColonTZ,
    NumColonSecondsTZ,
    /// `.000` or `,000` (digits kept) and `.999` (trailing zeros dropped), with the count.
    FracSecond0(usize),
    FracSecond9(usize),
}

/// Splits `layout` at its first chunk: (literal prefix, chunk, rest).
fn next_chunk(layout: &str) -> (&str, Option<Chunk>, &str) {
    let b = layout.as_bytes();
    let starts = |i: usize, s: &str| layout[i..].starts_with(s);
    for i in 0..b.len() {
        if !layout.is_char_boundary(i) {
            continue;
        }
        let found: Option<(Chunk, usize)> = match b[i] {
            b'J' if starts(i, "Jan") => Some(if starts(i, "January") {
                (Chunk::LongMonth, 7)
            } else {
                (Chunk::Month, 3)
            }),
            b'M' if starts(i, "Mon") => Some(if starts(i, "Monday") {
                (Chunk::LongWeekDay, 6)
            } else {
                (Chunk::WeekDay, 3)
            }),
            b'M' if starts(i, "MST") => Some((Chunk::TZ, 3)),
            b'0' if i + 1 < b.len() && (b'1'..=b'6').contains(&b[i + 1]) => Some(match b[i + 1] {
                b'1' => (Chunk::ZeroMonth, 2),
                b'2' => (Chunk::ZeroDay, 2),
                b'3' => (Chunk::ZeroHour12, 2),
                b'4' => (Chunk::ZeroMinute, 2),
                b'5' => (Chunk::ZeroSecond, 2),
                _ => (Chunk::Year, 2),
            }),
            b'0' if starts(i, "002") => Some((Chunk::ZeroYearDay, 3)),
            b'1' if starts(i, "15") => Some((Chunk::Hour, 2)),
            b'1' => Some((Chunk::NumMonth, 1)),
            b'2' if starts(i, "2006") => Some((Chunk::LongYear, 4)),
            b'2' => Some((Chunk::Day, 1)),
            b'_' if starts(i, "_2") => Some(if starts(i, "_2006") {
                // `_2006` is a literal underscore then the year.
                (Chunk::LongYear, 0)
            } else if starts(i, "__2") {
                (Chunk::UnderYearDay, 3)
            } else {
                (Chunk::UnderDay, 2)
            }),
            b'_' if starts(i, "__2") => Some((Chunk::UnderYearDay, 3)),
            b'3' => Some((Chunk::Hour12, 1)),
            b'4' => Some((Chunk::Minute, 1)),
            b'5' => Some((Chunk::Second, 1)),
            b'P' if starts(i, "PM") => Some((Chunk::PM, 2)),
            b'p' if starts(i, "pm") => Some((Chunk::Pm, 2)),
            b'-' if starts(i, "-070000") => Some((Chunk::NumSecondsTz, 7)),
            b'-' if starts(i, "-07:00:00") => Some((Chunk::NumColonSecondsTZ, 9)),
            b'-' if starts(i, "-0700") => Some((Chunk::NumTZ, 5)),
            b'-' if starts(i, "-07:00") => Some((Chunk::NumColonTZ, 6)),
            b'-' if starts(i, "-07") => Some((Chunk::NumShortTZ, 3)),
            b'Z' if starts(i, "Z070000") => Some((Chunk::Iso8601SecondsTZ, 7)),
            b'Z' if starts(i, "Z07:00:00") => Some((Chunk::Iso8601ColonSecondsTZ, 9)),
            b'Z' if starts(i, "Z0700") => Some((Chunk::Iso8601TZ, 5)),
            b'Z' if starts(i, "Z07:00") => Some((Chunk::Iso8601ColonTZ, 6)),
            b'Z' if starts(i, "Z07") => Some((Chunk::Iso8601ShortTZ, 3)),
            b'.' | b',' if i + 1 < b.len() && (b[i + 1] == b'0' || b[i + 1] == b'9') => {
                let ch = b[i + 1];
                let mut j = i + 1;
                while j < b.len() && b[j] == ch {
                    j += 1;
                }
                // Only when not followed by another digit.
                if j < b.len() && b[j].is_ascii_digit() {
                    None
                } else if ch == b'0' {
                    Some((Chunk::FracSecond0(j - i - 1), j - i))
                } else {
                    Some((Chunk::FracSecond9(j - i - 1), j - i))
                }
            }
            _ => None,
        };
        if let Some((chunk, len)) = found {
            if len == 0 {
                // `_2006`: the underscore is literal.
                return (&layout[..i + 1], Some(Chunk::LongYear), &layout[i + 5..]);
            }
            return (&layout[..i], Some(chunk), &layout[i + len..]);
        }
    }
    (layout, None, "")
}

/// Go's `t.Format(layout)`.
pub fn format(t: &Time, layout: &str) -> String {
    let c = t.civil();
    let dt = c.dt;
    let (year, month, day) = (dt.year(), dt.month() as usize, dt.day());
    let (hour, min, sec) = (dt.hour(), dt.minute(), dt.second());
    let h12 = if hour % 12 == 0 { 12 } else { hour % 12 };
    let weekday = dt.weekday().num_days_from_sunday() as usize;
    let mut out = String::new();
    let mut rest = layout;
    loop {
        let (prefix, chunk, after) = next_chunk(rest);
        out.push_str(prefix);
        let Some(chunk) = chunk else { break };
        rest = after;
        let tz = |colon: bool, seconds: bool, short: bool, z: bool| -> String {
            if z && c.offset == 0 {
                return "Z".into();
            }
            let sign = if c.offset < 0 { '-' } else { '+' };
            let abs = c.offset.abs();
            let (h, m, s) = (abs / 3600, abs / 60 % 60, abs % 60);
            let sep = if colon { ":" } else { "" };
            let mut o = format!("{sign}{h:02}");
            if !short {
                o.push_str(&format!("{sep}{m:02}"));
            }
            if seconds {
                o.push_str(&format!("{sep}{s:02}"));
            }
            o
        };
        let piece = match chunk {
            Chunk::LongMonth => MONTHS[month - 1].to_string(),
            Chunk::Month => MONTHS[month - 1][..3].to_string(),
            Chunk::NumMonth => month.to_string(),
            Chunk::ZeroMonth => format!("{month:02}"),
            Chunk::LongWeekDay => DAYS[weekday].to_string(),
            Chunk::WeekDay => DAYS[weekday][..3].to_string(),
            Chunk::Day => day.to_string(),
            Chunk::UnderDay => format!("{day:>2}"),
            Chunk::ZeroDay => format!("{day:02}"),
            Chunk::UnderYearDay => format!("{:>3}", dt.ordinal()),
            Chunk::ZeroYearDay => format!("{:03}", dt.ordinal()),
            Chunk::Hour => format!("{hour:02}"),
            Chunk::Hour12 => h12.to_string(),
            Chunk::ZeroHour12 => format!("{h12:02}"),
            Chunk::Minute => min.to_string(),
            Chunk::ZeroMinute => format!("{min:02}"),
            Chunk::Second => sec.to_string(),
            Chunk::ZeroSecond => format!("{sec:02}"),
            Chunk::LongYear => format!("{year:04}"),
            Chunk::Year => format!("{:02}", year.rem_euclid(100)),
            Chunk::PM => if hour >= 12 { "PM" } else { "AM" }.to_string(),
            Chunk::Pm => if hour >= 12 { "pm" } else { "am" }.to_string(),
            // A zone without a name prints its offset, `-0700` style (Go's `stdTZ`).
            Chunk::TZ if c.abbrev.is_empty() => tz(false, false, false, false),
            Chunk::TZ => c.abbrev.clone(),
            Chunk::Iso8601TZ => tz(false, false, false, true),
            Chunk::Iso8601SecondsTZ => tz(false, true, false, true),
            Chunk::Iso8601ShortTZ => tz(false, false, true, true),
            Chunk::Iso8601ColonTZ => tz(true, false, false, true),
            Chunk::Iso8601ColonSecondsTZ => tz(true, true, false, true),
            Chunk::NumTZ => tz(false, false, false, false),
            Chunk::NumSecondsTz => tz(false, true, false, false),
            Chunk::NumShortTZ => tz(false, false, true, false),
            Chunk::NumColonTZ => tz(true, false, false, false),
            Chunk::NumColonSecondsTZ => tz(true, true, false, false),
            Chunk::FracSecond0(n) => {
                let digits = format!("{:09}", t.nanos);
                format!(".{}", &digits[..n.min(9)])
            }
            Chunk::FracSecond9(n) => {
                let digits = format!("{:09}", t.nanos);
                let kept = digits[..n.min(9)].trim_end_matches('0');
                if kept.is_empty() {
                    String::new()
                } else {
                    format!(".{kept}")
                }
            }
        };
        out.push_str(&piece);
    }
    out
}

/// Go's `time.ParseInLocation(layout, value, zone)`, with Go's error wording.
pub fn parse(layout: &str, value: &str, zone: &Zone) -> Result<Time, TimeParseError> {
    let fail = |problem: Problem| TimeParseError {
        value: value.to_string(),
        problem,
    };
    let err = |elem: &str, v: &str| {
        fail(Problem::Mismatch {
            layout: layout.to_string(),
            layout_elem: elem.to_string(),
            value_elem: v.to_string(),
        })
    };
    let (mut year, mut month, mut day) = (0i32, 1u32, 1u32);
    let (mut hour, mut min, mut sec, mut nanos) = (0u32, 0u32, 0u32, 0u32);
    let mut pm: Option<bool> = None;
    let mut offset: Option<i32> = None;
    let mut abbrev: Option<String> = None;
    let mut rest_layout = layout;
    let mut v = value;
    fn number(v: &str, min: usize, max: usize) -> Option<(u32, &str)> {
        let n = v
            .bytes()
            .take(max)
            .take_while(|b| b.is_ascii_digit())
            .count();
        if n < min {
            return None;
        }
        Some((v[..n].parse().ok()?, &v[n..]))
    }
    loop {
        let (prefix, chunk, after) = next_chunk(rest_layout);
        let p = prefix.trim_start_matches(' ');
        let trimmed = if prefix.len() != p.len() {
            v.trim_start_matches(' ')
        } else {
            v
        };
        v = trimmed.strip_prefix(p).ok_or_else(|| err(prefix, v))?;
        let Some(chunk) = chunk else {
            if !v.is_empty() {
                return Err(fail(Problem::ExtraText(v.to_string())));
            }
            break;
        };
        let elem = &rest_layout[prefix.len()..rest_layout.len() - after.len()];
        rest_layout = after;
        let name_of = |list: &[&str], short: bool, v: &str| -> Option<(usize, usize)> {
            list.iter().enumerate().find_map(|(i, n)| {
                let n = if short { &n[..3] } else { n };
                (v.len() >= n.len() && v[..n.len()].eq_ignore_ascii_case(n)).then_some((i, n.len()))
            })
        };
        match chunk {
            Chunk::LongYear => {
                let (n, r) = number(v, 4, 4).ok_or_else(|| err(elem, v))?;
                year = n as i32;
                v = r;
            }
            Chunk::Year => {
                let (n, r) = number(v, 2, 2).ok_or_else(|| err(elem, v))?;
                year = if n >= 69 {
                    1900 + n as i32
                } else {
                    2000 + n as i32
                };
                v = r;
            }
            Chunk::LongMonth | Chunk::Month => {
                let (i, len) =
                    name_of(&MONTHS, chunk == Chunk::Month, v).ok_or_else(|| err(elem, v))?;
                month = i as u32 + 1;
                v = &v[len..];
            }
            Chunk::NumMonth | Chunk::ZeroMonth => {
                let min_digits = if chunk == Chunk::ZeroMonth { 2 } else { 1 };
                let (n, r) = number(v, min_digits, 2).ok_or_else(|| err(elem, v))?;
                if !(1..=12).contains(&n) {
                    return Err(fail(Problem::OutOfRange("month")));
                }
                month = n;
                v = r;
            }
            Chunk::LongWeekDay | Chunk::WeekDay => {
                let (_, len) =
                    name_of(&DAYS, chunk == Chunk::WeekDay, v).ok_or_else(|| err(elem, v))?;
                v = &v[len..];
            }
            Chunk::Day | Chunk::UnderDay | Chunk::ZeroDay => {
                if chunk == Chunk::UnderDay {
                    v = v.strip_prefix(' ').unwrap_or(v);
                }
                let min_digits = if chunk == Chunk::ZeroDay { 2 } else { 1 };
                let (n, r) = number(v, min_digits, 2).ok_or_else(|| err(elem, v))?;
                day = n;
                v = r;
            }
            Chunk::UnderYearDay | Chunk::ZeroYearDay => {
                let (_, r) = number(v.trim_start(), 1, 3).ok_or_else(|| err(elem, v))?;
                v = r;
            }
            Chunk::Hour => {
                let (n, r) = number(v, 2, 2).ok_or_else(|| err(elem, v))?;
                if n > 23 {
                    return Err(fail(Problem::OutOfRange("hour")));
                }
                hour = n;
                v = r;
            }
            Chunk::Hour12 | Chunk::ZeroHour12 => {
                let min_digits = if chunk == Chunk::ZeroHour12 { 2 } else { 1 };
                let (n, r) = number(v, min_digits, 2).ok_or_else(|| err(elem, v))?;
                if n > 12 {
                    return Err(fail(Problem::OutOfRange("hour")));
                }
                hour = n;
                v = r;
            }
            Chunk::Minute | Chunk::ZeroMinute => {
                let min_digits = if chunk == Chunk::ZeroMinute { 2 } else { 1 };
                let (n, r) = number(v, min_digits, 2).ok_or_else(|| err(elem, v))?;
                if n > 59 {
                    return Err(fail(Problem::OutOfRange("minute")));
                }
                min = n;
                v = r;
            }
            Chunk::Second | Chunk::ZeroSecond => {
                let min_digits = if chunk == Chunk::ZeroSecond { 2 } else { 1 };
                let (n, r) = number(v, min_digits, 2).ok_or_else(|| err(elem, v))?;
                if n > 59 {
                    return Err(fail(Problem::OutOfRange("second")));
                }
                sec = n;
                v = r;
                // A fraction the layout does not name is accepted after seconds.
                if let Some(frac) = v.strip_prefix(['.', ',']) {
                    if !matches!(
                        next_chunk(rest_layout).1,
                        Some(Chunk::FracSecond0(_) | Chunk::FracSecond9(_))
                    ) && frac.starts_with(|c: char| c.is_ascii_digit())
                    {
                        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
                        nanos = fraction(&frac[..n]);
                        v = &frac[n..];
                    }
                }
            }
            Chunk::FracSecond0(n) => {
                let frac = v.get(1..1 + n).ok_or_else(|| err(elem, v))?;
                if !v.starts_with(['.', ',']) || !frac.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(err(elem, v));
                }
                nanos = fraction(frac);
                v = &v[1 + n..];
            }
            Chunk::FracSecond9(_) => {
                if let Some(frac) = v.strip_prefix(['.', ',']) {
                    let n = frac.bytes().take_while(u8::is_ascii_digit).count();
                    nanos = fraction(&frac[..n]);
                    v = &frac[n..];
                }
            }
            Chunk::PM | Chunk::Pm => {
                let head = v.get(..2).ok_or_else(|| err(elem, v))?;
                pm = Some(match head.to_ascii_uppercase().as_str() {
                    "PM" => true,
                    "AM" => false,
                    _ => return Err(err(elem, v)),
                });
                v = &v[2..];
            }
            Chunk::TZ => {
                if let Some(r) = v.strip_prefix("UTC") {
                    offset = Some(0);
                    abbrev = Some("UTC".into());
                    v = r;
                } else {
                    let n = v.bytes().take_while(|b| b.is_ascii_uppercase()).count();
                    if n < 3 {
                        return Err(err(elem, v));
                    }
                    abbrev = Some(v[..n].to_string());
                    v = &v[n..];
                }
            }
            Chunk::Iso8601TZ
            | Chunk::Iso8601SecondsTZ
            | Chunk::Iso8601ShortTZ
            | Chunk::Iso8601ColonTZ
            | Chunk::Iso8601ColonSecondsTZ
                if v.starts_with('Z') =>
            {
                offset = Some(0);
                abbrev = Some("UTC".into());
                v = &v[1..];
            }
            _ => {
                // Numeric offsets: ±hh, ±hhmm, ±hh:mm, ±hhmmss, ±hh:mm:ss, as the chunk says.
                let (colon, seconds, short) = match chunk {
                    Chunk::NumShortTZ | Chunk::Iso8601ShortTZ => (false, false, true),
                    Chunk::NumColonTZ | Chunk::Iso8601ColonTZ => (true, false, false),
                    Chunk::NumColonSecondsTZ | Chunk::Iso8601ColonSecondsTZ => (true, true, false),
                    Chunk::NumSecondsTz | Chunk::Iso8601SecondsTZ => (false, true, false),
                    _ => (false, false, false),
                };
                let sign = match v.as_bytes().first() {
                    Some(b'+') => 1,
                    Some(b'-') => -1,
                    _ => return Err(err(elem, v)),
                };
                let (h, mut r) = number(&v[1..], 2, 2).ok_or_else(|| err(elem, v))?;
                let mut total = h as i32 * 3600;
                let mut parts = Vec::new();
                if !short {
                    parts.push(60);
                }
                if seconds {
                    parts.push(1);
                }
                for scale in parts {
                    let after_colon = if colon {
                        r.strip_prefix(':').ok_or_else(|| err(elem, v))?
                    } else {
                        r
                    };
                    let (n, r2) = number(after_colon, 2, 2).ok_or_else(|| err(elem, v))?;
                    total += n as i32 * scale;
                    r = r2;
                }
                offset = Some(sign * total);
                v = r;
            }
        }
    }
    if let Some(pm) = pm {
        if pm && hour < 12 {
            hour += 12;
        } else if !pm && hour == 12 {
            hour = 0;
        }
    }
    let date = chrono::NaiveDate::from_ymd_opt(year, month, day)
        .ok_or_else(|| fail(Problem::OutOfRange("day")))?;
    let naive = date
        .and_hms_nano_opt(hour, min, sec, nanos)
        .ok_or_else(|| fail(Problem::OutOfRange("time")))?;
    let local_secs = naive.and_utc().timestamp();
    match (offset, abbrev) {
        (Some(o), name) => {
            let zone = if o == 0 && name.as_deref().is_none_or(|n| n == "UTC") {
                Zone::Utc
            } else {
                Zone::Fixed {
                    offset: o,
                    name: name.unwrap_or_else(|| offset_name(o)).into(),
                }
            };
            Ok(Time {
                secs: local_secs - o as i64,
                nanos,
                zone,
            })
        }
        (None, Some(name)) => {
            // An abbreviation: the zone's own offset when it uses that name, else zero.
            let probe = in_zone_at(zone, naive, nanos);
            if probe.civil().abbrev == name {
                Ok(probe)
            } else {
                Ok(Time {
                    secs: local_secs,
                    nanos,
                    zone: Zone::Fixed {
                        offset: 0,
                        name: name.into(),
                    },
                })
            }
        }
        (None, None) => Ok(in_zone_at(zone, naive, nanos)),
    }
}

/// The instant whose wall clock in `zone` reads `naive`.
fn in_zone_at(zone: &Zone, naive: NaiveDateTime, nanos: u32) -> Time {
    let local_secs = naive.and_utc().timestamp();
    let secs = match zone {
        Zone::Utc => local_secs,
        Zone::Fixed { offset, .. } => local_secs - *offset as i64,
        Zone::Named(tz) => tz
            .from_local_datetime(&naive)
            .earliest()
            .map(|d| d.timestamp())
            .unwrap_or(local_secs),
    };
    Time {
        secs,
        nanos,
        zone: zone.clone(),
    }
}

fn fraction(digits: &str) -> u32 {
    let mut padded = digits.chars().take(9).collect::<String>();
    while padded.len() < 9 {
        padded.push('0');
    }
    padded.parse().unwrap_or(0)
}

/// Go's `time.Duration.String()` of `nanos` nanoseconds.
pub fn duration_string(nanos: i128) -> String {
    if nanos == 0 {
        return "0s".into();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let u = nanos.unsigned_abs();
    if u < 1_000_000_000 {
        // Below a second: the largest unit that keeps a digit before the point.
        let (unit, div) = if u < 1_000 {
            ("ns", 1)
        } else if u < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{sign}{}{unit}", decimal(u, div));
    }
    let secs_total = u / 1_000_000_000;
    let frac = u % 1_000_000_000;
    let (h, m, s) = (secs_total / 3600, secs_total / 60 % 60, secs_total % 60);
    let mut out = String::from(sign);
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&decimal(s * 1_000_000_000 + frac, 1_000_000_000));
    out.push('s');
    out
}

/// `n / div` with the fraction's trailing zeros dropped.
fn decimal(n: u128, div: u128) -> String {
    let whole = n / div;
    let frac = n % div;
    if frac == 0 {
        return whole.to_string();
    }
    let width = div.to_string().len() - 1;
    let digits = format!("{frac:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// Go's `time.ParseError`: the value that did not match its layout, and how.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("parsing time {value:?}{problem}")]
pub struct TimeParseError {
    pub value: String,
    pub problem: Problem,
}

/// What part of a value did not match its layout, worded as Go words it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Problem {
    #[error(" as {layout:?}: cannot parse {value_elem:?} as {layout_elem:?}")]
    Mismatch {
        layout: String,
        layout_elem: String,
        value_elem: String,
    },
    #[error(": extra text: {0:?}")]
    ExtraText(String),
    #[error(": {0} out of range")]
    OutOfRange(&'static str),
}

/// Go's `time.ParseDuration` errors, worded as Go words them.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DurationError {
    #[error("time: invalid duration {}", crate::value::go_quote(.0))]
    Invalid(String),
    #[error("time: missing unit in duration {}", crate::value::go_quote(.0))]
    MissingUnit(String),
    #[error(
        "time: unknown unit {} in duration {}",
        crate::value::go_quote(unit),
        crate::value::go_quote(duration)
    )]
    UnknownUnit { unit: String, duration: String },
}

/// Go's `time.ParseDuration`: `300ms`, `-1.5h`, `2h45m`.
pub fn parse_duration(s: &str) -> Result<i128, DurationError> {
    let invalid = || DurationError::Invalid(s.to_string());
    let (negative, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: f64 = 0.0;
    let mut whole_total: i128 = 0;
    while !rest.is_empty() {
        let n = rest
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        if n == 0 {
            return Err(invalid());
        }
        let number = &rest[..n];
        rest = &rest[n..];
        let u = rest
            .bytes()
            .take_while(|b| !(b.is_ascii_digit() || *b == b'.'))
            .count();
        let unit = &rest[..u];
        rest = &rest[u..];
        let scale: i128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(DurationError::MissingUnit(s.to_string())),
            other => {
                return Err(DurationError::UnknownUnit {
                    unit: other.to_string(),
                    duration: s.to_string(),
                })
            }
        };
        if let Some((w, f)) = number.split_once('.') {
            let w: i128 = if w.is_empty() {
                0
            } else {
                w.parse().map_err(|_| invalid())?
            };
            let f_val: f64 = if f.is_empty() {
                0.0
            } else {
                format!("0.{f}").parse().map_err(|_| invalid())?
            };
            whole_total += w * scale;
            total += f_val * scale as f64;
        } else {
            let w: i128 = number.parse().map_err(|_| invalid())?;
            whole_total += w * scale;
        }
        if whole_total > i64::MAX as i128 {
            return Err(invalid());
        }
    }
    let nanos = whole_total + total as i128;
    Ok(if negative { -nanos } else { nanos })
}

/// Go's `d.Round(m)`: halfway values away from zero.
pub fn round_duration(d: i128, m: i128) -> i128 {
    if m <= 0 {
        return d;
    }
    let r = d % m;
    if d < 0 {
        let r = -r;
        if r + r < m {
            d + r
        } else {
            d + r - m
        }
    } else if r + r < m {
        d - r
    } else {
        d + m - r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64, nanos: u32, zone: &str) -> Time {
        Time {
            secs,
            nanos,
            zone: Zone::load(zone).expect("zone"),
        }
    }

    #[test]
    fn formats_go_layouts_in_zones() {
        let t = at(1_700_000_000, 123_450_000, "UTC");
        assert_eq!(
            format(&t, "2006-01-02T15:04:05Z07:00"),
            "2023-11-14T22:13:20Z"
        );
        assert_eq!(t.go_string(), "2023-11-14 22:13:20.12345 +0000 UTC");
        assert_eq!(
            format(&t, "Mon Jan _2 3:04PM .000 __2 002"),
            "Tue Nov 14 10:13PM .123 318 318"
        );
        let berlin = t.in_zone(Zone::load("Europe/Berlin").expect("zone"));
        assert_eq!(
            format(&berlin, "2006-01-02 15:04 MST -07:00"),
            "2023-11-14 23:13 CET +01:00"
        );
        let summer = at(1_690_000_000, 0, "America/New_York");
        assert_eq!(format(&summer, "15:04 MST Z0700"), "00:26 EDT -0400");
    }

    #[test]
    fn parses_what_it_formats() {
        let t = parse(
            "2006-01-02 15:04:05 -0700",
            "2024-02-29 13:45:00 +0130",
            &Zone::Utc,
        )
        .expect("parses");
        assert_eq!(t.secs, 1_709_208_900);
        assert_eq!(format(&t, "15:04 -07:00"), "13:45 +01:30");
        let t = parse(
            "2006-01-02",
            "2024-02-29",
            &Zone::load("Europe/Berlin").expect("zone"),
        )
        .expect("parses");
        assert_eq!(format(&t, "2006-01-02 15:04 MST"), "2024-02-29 00:00 CET");
        let e = parse("2006-01-02", "2024-13-01", &Zone::Utc).expect_err("month");
        assert_eq!(e.problem, Problem::OutOfRange("month"));
        assert_eq!(
            e.to_string(),
            "parsing time \"2024-13-01\": month out of range"
        );
        let e = parse("2006-01-02", "nope", &Zone::Utc).expect_err("garbage");
        assert_eq!(
            e.to_string(),
            "parsing time \"nope\" as \"2006-01-02\": cannot parse \"nope\" as \"2006\""
        );
    }

    #[test]
    fn durations_print_and_parse_as_go_does() {
        for (nanos, text) in [
            (0, "0s"),
            (1, "1ns"),
            (1_500, "1.5µs"),
            (2_000_000, "2ms"),
            (1_500_000_000, "1.5s"),
            (3_723_000_000_000, "1h2m3s"),
            (-60_000_000_000, "-1m0s"),
            (7_200_000_000_000, "2h0m0s"),
        ] {
            assert_eq!(duration_string(nanos), text);
        }
        assert_eq!(parse_duration("1h30m").expect("parses"), 5_400_000_000_000);
        assert_eq!(parse_duration("-1.5h").expect("parses"), -5_400_000_000_000);
        assert_eq!(parse_duration("300ms").expect("parses"), 300_000_000);
        assert_eq!(
            parse_duration("1x").expect_err("unit"),
            DurationError::UnknownUnit {
                unit: "x".into(),
                duration: "1x".into()
            }
        );
        assert_eq!(
            parse_duration("1x").expect_err("unit").to_string(),
            "time: unknown unit \"x\" in duration \"1x\""
        );
        assert_eq!(
            parse_duration("1").expect_err("no unit").to_string(),
            "time: missing unit in duration \"1\""
        );
        assert_eq!(
            parse_duration("").expect_err("empty").to_string(),
            "time: invalid duration \"\""
        );
        assert_eq!(
            round_duration(5_400_000_000_000, 3_600_000_000_000),
            7_200_000_000_000
        );
    }
}
