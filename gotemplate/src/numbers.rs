//! Sprig's float functions (`addf`, `add1f`, `subf`, `mulf`, `divf`, `maxf`, `minf`), computed as
//! Sprig computes them: each operand becomes the shortest decimal that reads back as it
//! (shopspring/decimal's `NewFromFloat`), the arithmetic is exact, division rounds half away
//! from zero at 16 places, and the result is read back as a float64. Also `seq`.

use num_bigint::BigInt;

use crate::funcs::{arity, to_f64, FuncError, Funcs};
use crate::value::Value;

/// Digits after the point a quotient keeps (shopspring's `DivisionPrecision`).
const DIVISION_PRECISION: i64 = 16;

/// `mantissa × 10^exponent`.
#[derive(Clone, Debug)]
struct Decimal {
    mantissa: BigInt,
    exponent: i64,
}

impl Decimal {
    fn from_f64(f: f64) -> Result<Decimal, FuncError> {
        if f.is_nan() {
            return Err("Cannot create a Decimal from NaN".into());
        }
        if f.is_infinite() {
            return Err(FuncError::Call(format!(
                "Cannot create a Decimal from {}",
                if f > 0.0 { "+Inf" } else { "-Inf" }
            )));
        }
        // `{:e}` is the shortest round-tripping form: `1.2345e-5`.
        let text = format!("{f:e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let exponent: i64 = exponent.parse().unwrap_or(0);
        let (negative, digits) = match mantissa.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, mantissa),
        };
        let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
        let all = format!("{whole}{frac}");
        let mut m: BigInt = all.parse().unwrap_or_default();
        if negative {
            m = -m;
        }
        Ok(Decimal {
            mantissa: m,
            exponent: exponent - frac.len() as i64,
        })
    }

    fn align(a: &Decimal, b: &Decimal) -> (BigInt, BigInt, i64) {
        let e = a.exponent.min(b.exponent);
        let scale = |d: &Decimal| &d.mantissa * pow10((d.exponent - e) as u32);
        (scale(a), scale(b), e)
    }

    fn add(&self, o: &Decimal) -> Decimal {
        let (a, b, e) = Decimal::align(self, o);
        Decimal {
            mantissa: a + b,
            exponent: e,
        }
    }

    fn sub(&self, o: &Decimal) -> Decimal {
        let (a, b, e) = Decimal::align(self, o);
        Decimal {
            mantissa: a - b,
            exponent: e,
        }
    }

    fn mul(&self, o: &Decimal) -> Decimal {
        Decimal {
            mantissa: &self.mantissa * &o.mantissa,
            exponent: self.exponent + o.exponent,
        }
    }

    fn div(&self, o: &Decimal) -> Result<Decimal, FuncError> {
        if o.mantissa == BigInt::from(0) {
            return Err("decimal division by 0".into());
        }
        // q = m1·10^(e1 − e2 + p) / m2, rounded half away from zero.
        let k = self.exponent - o.exponent + DIVISION_PRECISION;
        let (num, den) = if k >= 0 {
            (&self.mantissa * pow10(k as u32), o.mantissa.clone())
        } else {
            (self.mantissa.clone(), &o.mantissa * pow10((-k) as u32))
        };
        let negative = (num < BigInt::from(0)) != (den < BigInt::from(0));
        let (num, den) = (num.magnitude().clone(), den.magnitude().clone());
        let q = (num * 2u32 + &den) / (den * 2u32);
        let mut q = BigInt::from(q);
        if negative {
            q = -q;
        }
        Ok(Decimal {
            mantissa: q,
            exponent: -DIVISION_PRECISION,
        })
    }

    /// The nearest float64 (Go's `strconv.ParseFloat` of the decimal's text).
    fn to_f64(&self) -> f64 {
        format!("{}e{}", self.mantissa, self.exponent)
            .parse()
            .unwrap_or(0.0)
    }
}

fn pow10(n: u32) -> BigInt {
    BigInt::from(10u32).pow(n)
}

type Op = fn(&Decimal, &Decimal) -> Result<Decimal, FuncError>;

/// Sprig's `execDecimalOp`: `first op b1 op b2 ...`, left to right.
fn fold(first: &Value, rest: &[Value], op: Op) -> Result<Value, FuncError> {
    let mut acc = Decimal::from_f64(to_f64(first))?;
    for x in rest {
        acc = op(&acc, &Decimal::from_f64(to_f64(x))?)?;
    }
    Ok(Value::Float(acc.to_f64()))
}

pub fn register(f: &mut Funcs) {
    f.insert("addf", |a| fold(&Value::Float(0.0), a, |x, y| Ok(x.add(y))));
    f.insert("add1f", |a| {
        arity(a, 1)?;
        fold(&a[0], &[Value::Int(1)], |x, y| Ok(x.add(y)))
    });
    f.insert("subf", |a| {
        let (first, rest) = a
            .split_first()
            .ok_or("wrong number of args: want at least 1 got 0")?;
        fold(first, rest, |x, y| Ok(x.sub(y)))
    });
    f.insert("mulf", |a| {
        let (first, rest) = a
            .split_first()
            .ok_or("wrong number of args: want at least 1 got 0")?;
        fold(first, rest, |x, y| Ok(x.mul(y)))
    });
    f.insert("divf", |a| {
        let (first, rest) = a
            .split_first()
            .ok_or("wrong number of args: want at least 1 got 0")?;
        fold(first, rest, |x, y| x.div(y))
    });
    f.insert("maxf", |a| {
        let (first, rest) = a
            .split_first()
            .ok_or("wrong number of args: want at least 1 got 0")?;
        Ok(Value::Float(
            rest.iter().map(to_f64).fold(to_f64(first), go_max),
        ))
    });
    f.insert("minf", |a| {
        let (first, rest) = a
            .split_first()
            .ok_or("wrong number of args: want at least 1 got 0")?;
        Ok(Value::Float(
            rest.iter().map(to_f64).fold(to_f64(first), go_min),
        ))
    });
    f.insert("seq", |a| Ok(Value::Str(seq(a)?)));
}

/// Go's `math.Max`: NaN wins.
fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

/// Sprig's `seq` (GNU seq's arguments: `END`, `START END`, `START STEP END`), space-separated.
fn seq(a: &[Value]) -> Result<String, FuncError> {
    let mut n = Vec::with_capacity(a.len());
    for (index, v) in a.iter().enumerate() {
        match v {
            Value::Int(i) => n.push(*i),
            other => return Err(FuncError::arg_type("int", crate::sprig::go_type(other)).at(index)),
        }
    }
    let (start, end, step) = match n.as_slice() {
        [end] => {
            let step = if *end < 1 { -1 } else { 1 };
            (1, end + step, step)
        }
        [start, end] => {
            let step = if end < start { -1 } else { 1 };
            (*start, end + step, step)
        }
        [start, step, end] => {
            let increment = if end < start {
                if *step > 0 {
                    return Ok(String::new());
                }
                -1
            } else {
                1
            };
            (*start, end + increment, *step)
        }
        _ => return Ok(String::new()),
    };
    let mut out = Vec::new();
    let mut i = start;
    while (step > 0 && i < end) || (step < 0 && i > end) {
        out.push(i.to_string());
        crate::funcs::list_within_limit("seq", out.len() as i64)?;
        match i.checked_add(step) {
            Some(next) => i = next,
            None => break,
        }
    }
    Ok(out.join(" "))
}

#[cfg(test)]
mod tests {
    #[test]
    fn float_math_and_seq_match_helm_4() {
        // Printed by Helm 4 for the same templates.
        let cases = [
            (
                r#"{{ addf 0.1 0.2 }}|{{ subf 1 0.9 }}|{{ mulf 1.1 3 }}|{{ divf 1 3 }}|{{ divf 2 3 }}|{{ add1f 1.5 }}|{{ maxf 1 2.5 "3" }}|{{ minf 1 2.5 }}|{{ addf }}|{{ divf 10 4 }}|{{ divf -2 3 }}|{{ mulf 0.1 0.1 0.1 }}|{{ typeOf (addf 1 2) }}"#,
                "0.3|0.1|3.3|0.3333333333333333|0.6666666666666667|2.5|3|1|0|2.5|-0.6666666666666667|0.001|float64",
            ),
            (
                "{{ seq 5 }}|{{ seq 2 5 }}|{{ seq 5 2 }}|{{ seq 0 2 10 }}|{{ seq 10 -3 0 }}|{{ seq 1 2 3 4 }}|{{ seq }}",
                "1 2 3 4 5|2 3 4 5|5 4 3 2|0 2 4 6 8 10|10 7 4 1||",
            ),
        ];
        for (template, want) in cases {
            assert_eq!(
                crate::render("t", template, &crate::Value::Nil).expect(template),
                want
            );
        }
        let e = crate::render("t", "{{ divf 1 0 }}", &crate::Value::Nil).expect_err("zero");
        assert_eq!(e.message, "error calling divf: decimal division by 0");
    }
}
