//! `sweep.filter`: a small boolean expression over swept parameters, in the spirit of
//! OMNeT++'s `constraint=`. Keeps only the points a study needs (e.g. `flows.0.rate <=
//! flows.1.rate`) without writing every combination by hand.
//!
//! Grammar: `or := and ("||" and)*`, `and := not ("&&" not)*`, `not := "!" not | cmp`,
//! `cmp := atom (op atom)?` with `op` one of `== != < <= > >=`, `atom := number | "string" |
//! key | true | false | "(" or ")"`. Strings with units (`"10Gbps"`, `"5ms"`, `"64KiB"`) compare
//! by quantity, so `rate >= "10Gbps"` means what it says.

use crate::engine::SimDuration;
use crate::units::{Bytes, Rate};

/// A parsed filter expression (grammar in the module doc).
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A number literal.
    Num(f64),
    /// A string literal (may carry a unit, e.g. `"10Gbps"`).
    Str(String),
    /// `true` or `false`.
    Bool(bool),
    /// A swept parameter's key, e.g. `flows.0.rate`.
    Key(String),
    /// `!e`.
    Not(Box<Expr>),
    /// `a && b`.
    And(Box<Expr>, Box<Expr>),
    /// `a || b`.
    Or(Box<Expr>, Box<Expr>),
    /// `a op b`.
    Cmp(Box<Expr>, CmpOp, Box<Expr>),
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    /// `==`.
    Eq,
    /// `!=`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Num(f64),
    Str(String),
    Ident(String),
    Op(&'static str),
}

fn tokenize(src: &str) -> Result<Vec<Token>, String> {
    let b = src.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i] as char;
        if c.is_whitespace() {
            i += 1;
        } else if c == '"' {
            let end = src[i + 1..]
                .find('"')
                .ok_or_else(|| format!("unclosed string starting at column {}", i + 1))?;
            out.push(Token::Str(src[i + 1..i + 1 + end].to_string()));
            i += end + 2;
        } else if c.is_ascii_digit()
            || (c == '-' && b.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            let start = i;
            i += 1;
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.' || b[i] == b'e') {
                i += 1;
            }
            let v: f64 = src[start..i]
                .parse()
                .map_err(|_| format!("bad number `{}`", &src[start..i]))?;
            out.push(Token::Num(v));
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b"_.-".contains(&b[i])) {
                i += 1;
            }
            out.push(Token::Ident(src[start..i].to_string()));
        } else {
            let two = src.get(i..i + 2).unwrap_or("");
            let op = ["==", "!=", "<=", ">=", "&&", "||"]
                .into_iter()
                .find(|o| *o == two);
            if let Some(op) = op {
                out.push(Token::Op(op));
                i += 2;
            } else if let Some(op) = ["<", ">", "!", "(", ")"]
                .into_iter()
                .find(|o| o.as_bytes()[0] == b[i])
            {
                out.push(Token::Op(op));
                i += 1;
            } else {
                return Err(format!("unexpected `{c}` at column {}", i + 1));
            }
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek_op(&self, op: &str) -> bool {
        matches!(self.tokens.get(self.at), Some(Token::Op(o)) if *o == op)
    }
    fn or(&mut self) -> Result<Expr, String> {
        let mut e = self.and()?;
        while self.peek_op("||") || self.peek_ident("or") {
            self.at += 1;
            e = Expr::Or(Box::new(e), Box::new(self.and()?));
        }
        Ok(e)
    }
    fn and(&mut self) -> Result<Expr, String> {
        let mut e = self.not()?;
        while self.peek_op("&&") || self.peek_ident("and") {
            self.at += 1;
            e = Expr::And(Box::new(e), Box::new(self.not()?));
        }
        Ok(e)
    }
    fn peek_ident(&self, word: &str) -> bool {
        matches!(self.tokens.get(self.at), Some(Token::Ident(w)) if w == word)
    }
    fn not(&mut self) -> Result<Expr, String> {
        if self.peek_op("!") || self.peek_ident("not") {
            self.at += 1;
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.cmp()
    }
    fn cmp(&mut self) -> Result<Expr, String> {
        let left = self.atom()?;
        let op = match self.tokens.get(self.at) {
            Some(Token::Op("==")) => CmpOp::Eq,
            Some(Token::Op("!=")) => CmpOp::Ne,
            Some(Token::Op("<")) => CmpOp::Lt,
            Some(Token::Op("<=")) => CmpOp::Le,
            Some(Token::Op(">")) => CmpOp::Gt,
            Some(Token::Op(">=")) => CmpOp::Ge,
            _ => return Ok(left),
        };
        self.at += 1;
        let right = self.atom()?;
        Ok(Expr::Cmp(Box::new(left), op, Box::new(right)))
    }
    fn atom(&mut self) -> Result<Expr, String> {
        let t = self
            .tokens
            .get(self.at)
            .cloned()
            .ok_or("expression ends too early")?;
        self.at += 1;
        Ok(match t {
            Token::Num(v) => Expr::Num(v),
            Token::Str(s) => Expr::Str(s),
            Token::Ident(w) if w == "true" => Expr::Bool(true),
            Token::Ident(w) if w == "false" => Expr::Bool(false),
            Token::Ident(w) => Expr::Key(w),
            Token::Op("(") => {
                let e = self.or()?;
                if !self.peek_op(")") {
                    return Err("missing `)`".into());
                }
                self.at += 1;
                e
            }
            Token::Op(o) => return Err(format!("unexpected `{o}`")),
        })
    }
}

/// Parses a filter; `keys` are the swept parameters it may name.
pub fn parse(src: &str, keys: &[String]) -> Result<Expr, String> {
    let mut p = Parser {
        tokens: tokenize(src)?,
        at: 0,
    };
    let e = p.or()?;
    if p.at != p.tokens.len() {
        return Err(format!("unexpected text after position {}", p.at));
    }
    check_keys(&e, keys)?;
    Ok(e)
}

/// The parameter keys a filter names (not checked against the sweep).
pub fn referenced_keys(src: &str) -> Result<Vec<String>, String> {
    let mut p = Parser {
        tokens: tokenize(src)?,
        at: 0,
    };
    let e = p.or()?;
    fn walk(e: &Expr, out: &mut Vec<String>) {
        match e {
            Expr::Key(k) => out.push(k.clone()),
            Expr::Not(a) => walk(a, out),
            Expr::And(a, b) | Expr::Or(a, b) | Expr::Cmp(a, _, b) => {
                walk(a, out);
                walk(b, out);
            }
            _ => {}
        }
    }
    let mut keys = Vec::new();
    walk(&e, &mut keys);
    Ok(keys)
}

/// The swept key `k` names, or lies inside (`loss_ab.0.p` inside a swept `loss_ab`).
pub fn swept_prefix<'a>(k: &str, keys: &'a [String]) -> Option<&'a String> {
    keys.iter().find(|s| {
        k == s.as_str() || (k.starts_with(s.as_str()) && k.as_bytes().get(s.len()) == Some(&b'.'))
    })
}

/// The value of `k` at a point with these swept assignments: a swept parameter, or a part
/// of one's value (a table key or list index after it, e.g. `...loss_ab.0.p`).
pub fn lookup(assignments: &[(String, toml::Value)], k: &str) -> Option<toml::Value> {
    assignments.iter().find_map(|(name, v)| {
        if name == k {
            return Some(v.clone());
        }
        let rest = k.strip_prefix(name.as_str())?.strip_prefix('.')?;
        let mut cur = v;
        for seg in rest.split('.') {
            cur = match cur {
                toml::Value::Table(t) => t.get(seg)?,
                toml::Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(cur.clone())
    })
}

fn check_keys(e: &Expr, keys: &[String]) -> Result<(), String> {
    match e {
        Expr::Key(k) if swept_prefix(k, keys).is_none() => Err(format!(
            "`{k}` is not a swept parameter (swept: {})",
            keys.join(", ")
        )),
        Expr::Not(a) => check_keys(a, keys),
        Expr::And(a, b) | Expr::Or(a, b) | Expr::Cmp(a, _, b) => {
            check_keys(a, keys)?;
            check_keys(b, keys)
        }
        _ => Ok(()),
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Value {
    Num(f64),
    Str(String),
    Bool(bool),
}

/// A unit-carrying string as (dimension, value in base units).
fn quantity(s: &str) -> Option<(&'static str, f64)> {
    if let Ok(r) = Rate::parse(s) {
        return Some(("rate", r.bps() as f64));
    }
    if let Ok(d) = SimDuration::parse(s) {
        return Some(("duration", d.as_ps() as f64));
    }
    Bytes::parse(s).ok().map(|b| ("size", b.0 as f64))
}

fn eval_value(e: &Expr, lookup: &dyn Fn(&str) -> Option<toml::Value>) -> Result<Value, String> {
    Ok(match e {
        Expr::Num(v) => Value::Num(*v),
        Expr::Str(s) => Value::Str(s.clone()),
        Expr::Bool(b) => Value::Bool(*b),
        Expr::Key(k) => match lookup(k) {
            Some(toml::Value::Integer(i)) => Value::Num(i as f64),
            Some(toml::Value::Float(f)) => Value::Num(f),
            Some(toml::Value::Boolean(b)) => Value::Bool(b),
            Some(toml::Value::String(s)) => Value::Str(s),
            Some(other) => return Err(format!("`{k}` = {other} cannot be compared")),
            None => return Err(format!("`{k}` has no value at this point")),
        },
        _ => Value::Bool(eval(e, lookup)?),
    })
}

/// Evaluates a filter at one point; `lookup` gives a swept parameter's value there.
pub fn eval(e: &Expr, lookup: &dyn Fn(&str) -> Option<toml::Value>) -> Result<bool, String> {
    match e {
        Expr::Not(a) => Ok(!eval(a, lookup)?),
        Expr::And(a, b) => Ok(eval(a, lookup)? && eval(b, lookup)?),
        Expr::Or(a, b) => Ok(eval(a, lookup)? || eval(b, lookup)?),
        Expr::Cmp(a, op, b) => {
            let (l, r) = (eval_value(a, lookup)?, eval_value(b, lookup)?);
            let ord = match (&l, &r) {
                (Value::Num(x), Value::Num(y)) => x.partial_cmp(y),
                (Value::Str(x), Value::Str(y)) => match (quantity(x), quantity(y)) {
                    (Some((dx, x)), Some((dy, y))) if dx == dy => x.partial_cmp(&y),
                    _ => Some(x.cmp(y)),
                },
                (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
                _ => return Err(format!("cannot compare {l:?} with {r:?}")),
            };
            let ord = ord.ok_or("comparison with NaN")?;
            use std::cmp::Ordering::*;
            Ok(match op {
                CmpOp::Eq => ord == Equal,
                CmpOp::Ne => ord != Equal,
                CmpOp::Lt => ord == Less,
                CmpOp::Le => ord != Greater,
                CmpOp::Gt => ord == Greater,
                CmpOp::Ge => ord != Less,
            })
        }
        other => match eval_value(other, lookup)? {
            Value::Bool(b) => Ok(b),
            v => Err(format!("{v:?} is not true or false")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(src: &str, vals: &[(&str, toml::Value)]) -> Result<bool, String> {
        let keys: Vec<String> = vals.iter().map(|(k, _)| k.to_string()).collect();
        let e = parse(src, &keys)?;
        eval(&e, &|k| {
            vals.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn compares_numbers_quantities_and_logic() {
        let v = [
            ("a", toml::Value::Integer(3)),
            ("flows.0.rate", toml::Value::String("10Gbps".into())),
            ("b", toml::Value::Float(0.5)),
        ];
        assert_eq!(run("a >= 3 && b < 1", &v), Ok(true));
        assert_eq!(run("a > 3 || !(b == 0.5)", &v), Ok(false));
        assert_eq!(run("flows.0.rate > \"9Gbps\"", &v), Ok(true));
        // By quantity, not text: "10Gbps" < "9Gbps" as strings.
        assert_eq!(run("flows.0.rate < \"900Mbps\"", &v), Ok(false));
        assert_eq!(run("not a == 3 or b == 0.5", &v), Ok(true));
        assert_eq!(run("a == -1", &v), Ok(false));
    }

    #[test]
    fn rejects_unknown_keys_and_bad_syntax() {
        let v = [("a", toml::Value::Integer(3))];
        assert!(run("c > 1", &v)
            .unwrap_err()
            .contains("not a swept parameter"));
        assert!(run("a > ", &v).is_err());
        assert!(run("(a > 1", &v).is_err());
        assert!(run("a > 1 1", &v).is_err());
        assert!(run("a > \"x", &v).is_err());
        assert!(run("a", &v).is_err()); // a number is not a condition
    }
}
