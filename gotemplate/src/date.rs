//! Sprig's `date`/`dateInZone` for Unix seconds: Go's reference-time layouts (`2006-01-02
//! 15:04:05`), UTC only, so rendering never depends on the clock or the machine's zone.

use crate::value::Value;

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

/// Civil date of days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Formats `time` (Unix seconds) with Go `layout` in `zone` (only `UTC` is known offline).
pub fn format(layout: &str, time: &Value, zone: &str) -> Result<String, String> {
    let secs = match time {
        Value::Int(i) => *i,
        other => {
            return Err(format!(
                "only Unix seconds (int) are formatted deterministically, not {}",
                other.kind()
            ))
        }
    };
    if !matches!(zone, "UTC" | "") {
        return Err(format!(
            "unknown time zone {zone}: only `UTC` is available offline"
        ));
    }
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (year, month, day) = civil(days);
    let (hour, min, sec) = (sod / 3600, sod / 60 % 60, sod % 60);
    let weekday = (days + 4).rem_euclid(7) as usize;
    let h12 = if hour % 12 == 0 { 12 } else { hour % 12 };
    let tokens: &[(&str, String)] = &[
        ("January", MONTHS[month as usize - 1].into()),
        ("Monday", DAYS[weekday].into()),
        ("2006", format!("{year:04}")),
        ("-07:00", "+00:00".into()),
        ("-0700", "+0000".into()),
        ("Z07:00", "Z".into()),
        ("Z0700", "Z".into()),
        ("Jan", MONTHS[month as usize - 1][..3].into()),
        ("Mon", DAYS[weekday][..3].into()),
        ("MST", "UTC".into()),
        ("_2", format!("{day:>2}")),
        ("01", format!("{month:02}")),
        ("02", format!("{day:02}")),
        ("03", format!("{h12:02}")),
        ("04", format!("{min:02}")),
        ("05", format!("{sec:02}")),
        ("06", format!("{:02}", year.rem_euclid(100))),
        ("15", format!("{hour:02}")),
        ("PM", if hour >= 12 { "PM" } else { "AM" }.into()),
        ("pm", if hour >= 12 { "pm" } else { "am" }.into()),
        ("1", month.to_string()),
        ("2", day.to_string()),
        ("3", h12.to_string()),
        ("4", min.to_string()),
        ("5", sec.to_string()),
    ];
    let mut out = String::new();
    let mut rest = layout;
    'outer: while !rest.is_empty() {
        for (tok, val) in tokens {
            if let Some(r) = rest.strip_prefix(tok) {
                out.push_str(val);
                rest = r;
                continue 'outer;
            }
        }
        let c = rest.chars().next().expect("rest is not empty");
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    Ok(out)
}
