//! Decoding a request document (JSON, or CBOR turned into the same tree) into a generated input
//! type while checking the model's constraints: required members, lengths, ranges, enums, patterns.
//! Violations become Coral's `N validation errors detected: …` message.

use super::shape::{ApiError, ErrorShape, Json, Timestamp};
use std::collections::BTreeMap;

/// A compiled model `pattern` (the models use look-ahead, hence fancy-regex).
pub struct Pattern {
    source: &'static str,
    regex: Option<fancy_regex::Regex>,
}

impl Pattern {
    /// Compiles a model pattern. A pattern the engine cannot compile matches everything (logged once).
    pub fn new(source: &'static str) -> Self {
        let regex = match fancy_regex::Regex::new(source) {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::warn!(pattern = source, error = %e, "model pattern not enforced");
                None
            }
        };
        Pattern { source, regex }
    }

    fn matches(&self, s: &str) -> bool {
        let Some(r) = &self.regex else { return true };
        // Clients send the same names again and again, and the look-ahead patterns run on a
        // backtracking engine: strings this thread saw match recently are not matched again.
        if s.len() > MEMO_MAX_LEN {
            return r.is_match(s).unwrap_or(false);
        }
        let seen = ACCEPTED.with(|m| m.borrow().1.iter().any(|(p, v)| std::ptr::eq(*p, self.source) && **v == *s));
        if seen {
            return true;
        }
        let ok = r.is_match(s).unwrap_or(false);
        if ok {
            ACCEPTED.with(|m| {
                let mut m = m.borrow_mut();
                let (next, held) = &mut *m;
                if held.len() < MEMO_ENTRIES {
                    held.push((self.source, s.into()));
                } else {
                    held[*next] = (self.source, s.into());
                    *next = (*next + 1) % MEMO_ENTRIES;
                }
            });
        }
        ok
    }
}

/// The next slot to replace, and (pattern source, matched string) pairs.
type Accepted = (usize, Vec<(&'static str, Box<str>)>);

/// How many matched strings each thread remembers, and the longest one it does.
const MEMO_ENTRIES: usize = 64;
const MEMO_MAX_LEN: usize = 256;

thread_local! {
    /// (the pattern's source, a string it matched), replaced round robin from the index held.
    static ACCEPTED: std::cell::RefCell<Accepted> = const { std::cell::RefCell::new((0, Vec::new())) };
}

/// A length constraint (`min`/`max` of strings, lists and maps).
#[derive(Debug, Clone, Copy)]
pub struct Len {
    /// Smallest allowed length.
    pub min: Option<u64>,
    /// Largest allowed length.
    pub max: Option<u64>,
}

/// Types the generated code decodes from a request document.
pub trait Decode: Sized {
    /// Decodes and validates `v`, recording every violation in `cx`.
    fn decode(v: &Json, cx: &mut DecodeContext) -> Option<Self>;
}

/// Collects what is wrong with a request document while it is decoded.
#[derive(Default)]
pub struct DecodeContext {
    path: Vec<String>,
    violations: Vec<String>,
    malformed: Option<String>,
}

/// The largest number of violations spelled out in one error message.
const MAX_REPORTED_VIOLATIONS: usize = 10;

fn json_kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "BOOLEAN_VALUE",
        Json::Number(_) => "NUMBER_VALUE",
        Json::String(_) => "STRING_VALUE",
        Json::Array(_) => "START_ARRAY",
        Json::Object(_) => "START_OBJECT",
    }
}

fn shown_value(v: &Json) -> String {
    let s = match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    };
    if s.chars().count() > 128 {
        format!("{}...", s.chars().take(128).collect::<String>())
    } else {
        s
    }
}

impl DecodeContext {
    fn at(&self) -> String {
        self.path.join(".")
    }

    fn violation(&mut self, v: Option<&Json>, constraint: String) {
        let value = match v {
            Some(v) => format!("'{}'", shown_value(v)),
            None => "null".to_string(),
        };
        let msg = format!("Value {value} at '{}' failed to satisfy constraint: {constraint}", self.at());
        self.violations.push(msg);
    }

    fn wrong_type(&mut self, v: &Json, expected: &str) {
        if self.malformed.is_none() {
            let at = self.at();
            let at = if at.is_empty() { "the request body".to_string() } else { format!("'{at}'") };
            self.malformed = Some(format!("{} can not be converted to {expected} at {at}", json_kind(v)));
        }
    }

    fn check_len(&mut self, v: &Json, n: usize, len: Len) {
        let n = n as u64;
        if let Some(min) = len.min {
            if n < min {
                self.violation(Some(v), format!("Member must have length greater than or equal to {min}"));
            }
        }
        if let Some(max) = len.max {
            if n > max {
                self.violation(Some(v), format!("Member must have length less than or equal to {max}"));
            }
        }
    }

    /// The object of a structure.
    pub fn structure<'v>(&mut self, v: &'v Json) -> Option<&'v serde_json::Map<String, Json>> {
        match v {
            Json::Object(o) => Some(o),
            other => {
                self.wrong_type(other, "a structure");
                None
            }
        }
    }

    /// Decodes member `name` of `obj` (absent and null are the same); a required member must be there.
    pub fn member<T>(
        &mut self,
        obj: &serde_json::Map<String, Json>,
        name: &str,
        required: bool,
        f: impl FnOnce(&mut Self, &Json) -> Option<T>,
    ) -> Option<T> {
        let mut seg = name.to_string();
        if let Some(first) = seg.get(0..1) {
            let lower = first.to_ascii_lowercase();
            seg.replace_range(0..1, &lower);
        }
        self.path.push(seg);
        let out = match obj.get(name) {
            None | Some(Json::Null) => {
                if required {
                    self.violation(None, "Member must not be null".into());
                }
                None
            }
            Some(v) => f(self, v),
        };
        self.path.pop();
        out
    }

    /// A string with length and pattern constraints.
    pub fn string(&mut self, v: &Json, len: Len, pattern: Option<&Pattern>) -> Option<String> {
        let Json::String(s) = v else {
            self.wrong_type(v, "a String");
            return None;
        };
        self.check_len(v, s.chars().count(), len);
        if let Some(p) = pattern {
            if !p.matches(s) {
                self.violation(Some(v), format!("Member must satisfy regular expression pattern: {}", p.source));
            }
        }
        Some(s.clone())
    }

    /// A string that must be one of the enum's values.
    pub fn enumeration<T>(&mut self, v: &Json, parse: fn(&str) -> Option<T>, values: &[&str]) -> Option<T> {
        let Json::String(s) = v else {
            self.wrong_type(v, "a String");
            return None;
        };
        let parsed = parse(s);
        if parsed.is_none() {
            self.violation(Some(v), format!("Member must satisfy enum value set: [{}]", values.join(", ")));
        }
        parsed
    }

    /// An integer with a range constraint.
    pub fn integer<T: TryFrom<i64>>(&mut self, v: &Json, min: Option<i64>, max: Option<i64>) -> Option<T> {
        let n = match v {
            Json::Number(n) => {
                n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15).map(|f| f as i64))
            }
            _ => None,
        };
        let Some(n) = n else {
            self.wrong_type(v, "an Integer");
            return None;
        };
        if let Some(min) = min {
            if n < min {
                self.violation(Some(v), format!("Member must have value greater than or equal to {min}"));
            }
        }
        if let Some(max) = max {
            if n > max {
                self.violation(Some(v), format!("Member must have value less than or equal to {max}"));
            }
        }
        match T::try_from(n) {
            Ok(t) => Some(t),
            Err(_) => {
                self.violation(Some(v), "Member must fit in its integer type".into());
                None
            }
        }
    }

    /// A boolean.
    pub fn boolean(&mut self, v: &Json) -> Option<bool> {
        match v {
            Json::Bool(b) => Some(*b),
            other => {
                self.wrong_type(other, "a Boolean");
                None
            }
        }
    }

    /// A timestamp: epoch seconds (number) or an RFC 3339 string.
    pub fn timestamp(&mut self, v: &Json) -> Option<Timestamp> {
        let parsed = match v {
            Json::Number(n) => n.as_f64().map(|f| Timestamp((f * 1000.0).round() as i64)),
            Json::String(s) => time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .ok()
                .map(|t| Timestamp((t.unix_timestamp_nanos() / 1_000_000) as i64)),
            _ => None,
        };
        if parsed.is_none() {
            self.wrong_type(v, "a Timestamp");
        }
        parsed
    }

    /// A list whose items are decoded by `item`.
    pub fn list<T>(
        &mut self,
        v: &Json,
        len: Len,
        mut item: impl FnMut(&mut Self, &Json) -> Option<T>,
    ) -> Option<Vec<T>> {
        let Json::Array(items) = v else {
            self.wrong_type(v, "a List");
            return None;
        };
        self.check_len(v, items.len(), len);
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, it) in items.iter().enumerate() {
            self.path.push(format!("{}.member", i + 1));
            match item(self, it) {
                Some(t) => out.push(t),
                None => ok = false,
            }
            self.path.pop();
            if self.malformed.is_some() {
                return None;
            }
        }
        ok.then_some(out)
    }

    /// A map whose keys and values are decoded by `key` and `value`.
    pub fn map<V>(
        &mut self,
        v: &Json,
        len: Len,
        mut key: impl FnMut(&mut Self, &Json) -> Option<String>,
        mut value: impl FnMut(&mut Self, &Json) -> Option<V>,
    ) -> Option<BTreeMap<String, V>> {
        let Json::Object(entries) = v else {
            self.wrong_type(v, "a Map");
            return None;
        };
        self.check_len(v, entries.len(), len);
        let mut out = BTreeMap::new();
        let mut ok = true;
        for (k, val) in entries {
            let kj = Json::String(k.clone());
            self.path.push(k.clone());
            let kk = key(self, &kj);
            let vv = if val.is_null() {
                self.violation(None, "Member must not be null".into());
                None
            } else {
                value(self, val)
            };
            self.path.pop();
            match (kk, vv) {
                (Some(k), Some(v)) => {
                    out.insert(k, v);
                }
                _ => ok = false,
            }
            if self.malformed.is_some() {
                return None;
            }
        }
        ok.then_some(out)
    }
}

/// Decodes and validates an operation input. Wrong JSON types → `malformed`; constraint violations →
/// `validation` with Coral's `N validation errors detected: …` message.
pub fn decode_input<T: Decode>(
    v: &Json,
    validation: &'static ErrorShape,
    malformed: &'static ErrorShape,
) -> Result<T, ApiError> {
    let mut cx = DecodeContext::default();
    let out = T::decode(v, &mut cx);
    if let Some(m) = cx.malformed {
        return Err(ApiError::new(malformed, m));
    }
    if !cx.violations.is_empty() {
        let n = cx.violations.len();
        let mut msg = format!("{n} validation error{} detected: ", if n == 1 { "" } else { "s" });
        msg.push_str(&cx.violations.iter().take(MAX_REPORTED_VIOLATIONS).cloned().collect::<Vec<_>>().join("; "));
        return Err(ApiError::new(validation, msg));
    }
    out.ok_or_else(|| ApiError::new(validation, "1 validation error detected: the request could not be decoded"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembered_matches_stay_per_pattern() {
        let a = Pattern::new("^(?=.{1,8}$)a+$");
        let b = Pattern::new("^(?=.{1,8}$)b+$");
        assert!(a.matches("aaa"));
        assert!(!b.matches("aaa"), "a match of one pattern is not one of another");
        assert!(a.matches("aaa"));
        assert!(!a.matches("aaaaaaaaaaaa"));
        for n in 1..=8 {
            let s = "b".repeat(n);
            assert!(b.matches(&s));
            assert!(!a.matches(&s));
        }
        for i in 0..200 {
            assert!(!a.matches(&format!("x{i}")));
        }
        assert!(a.matches("a") && b.matches("bb"));
    }
}
