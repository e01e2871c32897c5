//! Sprig's date functions over [`crate::date`]: `now`, `date`, `dateInZone` (and the
//! `date_in_zone` spelling), `htmlDate`, `htmlDateInZone`, `dateModify`, `mustDateModify`,
//! `toDate`, `mustToDate`, `unixEpoch`, `ago`, `duration`, `durationRound`, each with the
//! argument types Sprig's own type switches accept.

use std::sync::Arc;

use crate::date::{self, Time, Zone};
use crate::funcs::{arity, strval, FuncError, Funcs};
use crate::value::Value;

const SECOND: i128 = 1_000_000_000;

pub fn register(f: &mut Funcs) {
    f.insert("now", |a| {
        arity(a, 0)?;
        Ok(time(Time::now()))
    });
    f.insert("date", |a| {
        arity(a, 2)?;
        Ok(Value::Str(in_zone(&strval(&a[0]), &a[1], "Local")))
    });
    f.insert("dateInZone", |a| {
        arity(a, 3)?;
        Ok(Value::Str(in_zone(&strval(&a[0]), &a[1], &strval(&a[2]))))
    });
    f.alias("date_in_zone", "dateInZone");
    f.insert("htmlDate", |a| {
        arity(a, 1)?;
        Ok(Value::Str(in_zone("2006-01-02", &a[0], "Local")))
    });
    f.insert("htmlDateInZone", |a| {
        arity(a, 2)?;
        Ok(Value::Str(in_zone("2006-01-02", &a[0], &strval(&a[1]))))
    });
    f.insert("dateModify", |a| {
        arity(a, 2)?;
        let t = time_arg(&a[1]).map_err(|e| e.at(1))?;
        Ok(match date::parse_duration(&strval(&a[0])) {
            Ok(d) => time(t.add(d)),
            Err(_) => time(t.clone()),
        })
    });
    f.alias("date_modify", "dateModify");
    f.insert("mustDateModify", |a| {
        arity(a, 2)?;
        let t = time_arg(&a[1]).map_err(|e| e.at(1))?;
        Ok(time(t.add(date::parse_duration(&strval(&a[0]))?)))
    });
    f.alias("must_date_modify", "mustDateModify");
    f.insert("toDate", |a| {
        arity(a, 2)?;
        Ok(time(
            date::parse(&strval(&a[0]), &strval(&a[1]), date::local()).unwrap_or_else(|_| zero()),
        ))
    });
    f.insert("mustToDate", |a| {
        arity(a, 2)?;
        Ok(time(date::parse(
            &strval(&a[0]),
            &strval(&a[1]),
            date::local(),
        )?))
    });
    f.insert("unixEpoch", |a| {
        arity(a, 1)?;
        Ok(Value::Str(
            time_arg(&a[0]).map_err(|e| e.at(0))?.secs.to_string(),
        ))
    });
    f.insert("ago", |a| {
        arity(a, 1)?;
        let t = instant(&a[0]);
        let d = date::round_duration(Time::now().since(&t), SECOND);
        Ok(Value::Str(date::duration_string(d)))
    });
    f.insert("duration", |a| {
        arity(a, 1)?;
        // Sprig's switch: a numeric string or an int64 counts seconds; anything else is 0.
        let seconds: i64 = match &a[0] {
            Value::Str(s) => s.parse().unwrap_or(0),
            Value::Int64(n) => *n,
            _ => 0,
        };
        Ok(Value::Str(date::duration_string(seconds as i128 * SECOND)))
    });
    f.insert("durationRound", |a| {
        arity(a, 1)?;
        let d: i128 = match &a[0] {
            Value::Str(s) => date::parse_duration(s).unwrap_or(0),
            Value::Int64(n) => *n as i128,
            Value::Time(t) => Time::now().since(t),
            _ => 0,
        };
        Ok(Value::Str(round_coarsely(d)))
    });
}

fn time(t: Time) -> Value {
    Value::Time(Arc::new(t))
}

/// Go's zero time, what `toDate` gives for text it cannot parse.
fn zero() -> Time {
    Time {
        secs: -62_135_596_800,
        nanos: 0,
        zone: Zone::Utc,
    }
}

/// A parameter Go declares as `time.Time`.
fn time_arg(v: &Value) -> Result<&Time, FuncError> {
    match v {
        Value::Time(t) => Ok(t),
        other => Err(FuncError::arg_type(
            "time.Time",
            crate::sprig::go_type(other),
        )),
    }
}

/// Sprig's date argument: a time, or Unix seconds as an integer; anything else means now.
fn instant(v: &Value) -> Time {
    match v {
        Value::Time(t) => (**t).clone(),
        Value::Int(s) | Value::Int64(s) => Time::unix(*s),
        _ => Time::now(),
    }
}

/// `dateInZone`: an unknown zone falls back to UTC, as Sprig does.
fn in_zone(layout: &str, v: &Value, zone: &str) -> String {
    let zone = Zone::load(zone).unwrap_or(Zone::Utc);
    date::format(&instant(v).in_zone(zone), layout)
}

/// `durationRound`: the largest whole unit (`2h`, `3d`, `1y`); the sign is dropped, as Sprig
/// drops it.
fn round_coarsely(d: i128) -> String {
    let u = d.unsigned_abs();
    let hour = 3_600 * SECOND as u128;
    let units: [(u128, &str); 6] = [
        (hour * 24 * 365, "y"),
        (hour * 24 * 30, "mo"),
        (hour * 24, "d"),
        (hour, "h"),
        (60 * SECOND as u128, "m"),
        (SECOND as u128, "s"),
    ];
    for (size, name) in units {
        if u > size {
            return format!("{}{name}", u / size);
        }
    }
    "0s".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(text: &str) -> String {
        crate::render("t", text, &Value::Nil).expect(text)
    }

    #[test]
    fn dates_format_parse_and_move_as_sprig_does() {
        // Expected texts are what Helm 4 printed for the same template (TZ unset, UTC machine).
        let cases = [
            (
                r#"{{ toDate "2006-01-02" "2024-02-29" }}"#,
                "2024-02-29 00:00:00 +0000 UTC",
            ),
            (
                r#"{{ toDate "2006-01-02" "x" }}"#,
                "0001-01-01 00:00:00 +0000 UTC",
            ),
            (
                r#"{{ toDate "2006-01-02" "2024-02-29" | unixEpoch }}"#,
                "1709164800",
            ),
            (
                r#"{{ dateModify "-1h" (toDate "2006-01-02" "2024-02-29") }}"#,
                "2024-02-28 23:00:00 +0000 UTC",
            ),
            (
                r#"{{ dateModify "bad" (toDate "2006-01-02" "2024-02-29") }}"#,
                "2024-02-29 00:00:00 +0000 UTC",
            ),
            (r#"{{ date "2006" 0 }}"#, "1970"),
            (r#"{{ date "2006-01-02" "x" | len }}"#, "10"),
            (
                r#"{{ dateInZone "2006-01-02 15:04 MST" (toDate "2006-01-02" "2024-02-29") "Asia/Tokyo" }}"#,
                "2024-02-29 09:00 JST",
            ),
            (r#"{{ dateInZone "15:04 MST" 0 "Nope/Zone" }}"#, "00:00 UTC"),
            (r#"{{ htmlDate 86400 }}"#, "1970-01-02"),
            (r#"{{ typeOf now }}"#, "time.Time"),
            (
                r#"{{ toDate "2006-01-02" "2024-02-29" | toYaml }}"#,
                "\"2024-02-29T00:00:00Z\"",
            ),
            (
                r#"{{ duration 95 }}|{{ duration "95" }}|{{ duration (int64 95) }}|{{ duration 95.5 }}"#,
                "0s|1m35s|1m35s|0s",
            ),
            (
                r#"{{ durationRound "2h10m" }}|{{ durationRound 95 }}|{{ durationRound (int64 3600000000001) }}"#,
                "2h|0s|1h",
            ),
            (
                r#"{{ ago (toDate "2006-01-02" "2024-02-29") | len | lt 3 }}"#,
                "true",
            ),
        ];
        for (template, want) in cases {
            assert_eq!(render(template), want, "{template}");
        }
        let e = crate::render("t", r#"{{ mustToDate "2006" "x" }}"#, &Value::Nil)
            .expect_err("bad date");
        assert_eq!(
            e.message,
            r#"error calling mustToDate: parsing time "x" as "2006": cannot parse "x" as "2006""#
        );
        let e = crate::render("t", r#"{{ unixEpoch "x" }}"#, &Value::Nil).expect_err("not a time");
        assert_eq!(
            e.message,
            "wrong type for value; expected time.Time; got string"
        );
    }
}
