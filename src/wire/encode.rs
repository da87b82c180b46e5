//! Encoding generated output types in the three protocols' document formats: JSON (epoch-second or
//! ISO-8601 timestamps) and CBOR, and values already encoded ([`PreEncoded`]) copied as they are.

use super::shape::{Protocol, Timestamp};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A writer for one of the three protocols' document formats.
pub trait Encoder {
    /// Starts a map (structure) of `len` entries.
    fn begin_map(&mut self, len: usize);
    /// Writes a map key.
    fn key(&mut self, k: &str);
    /// Ends the current map.
    fn end_map(&mut self);
    /// Starts a list of `len` items.
    fn begin_list(&mut self, len: usize);
    /// Ends the current list.
    fn end_list(&mut self);
    /// Writes a string.
    fn str(&mut self, s: &str);
    /// Writes an integer.
    fn int(&mut self, i: i64);
    /// Writes a boolean.
    fn bool(&mut self, b: bool);
    /// Writes a timestamp in the protocol's format.
    fn timestamp(&mut self, t: Timestamp);
    /// Writes a timestamp the model wants as an ISO-8601 string (`timestampFormat: iso8601`) where
    /// the format has strings; CBOR keeps its timestamp tag.
    fn timestamp_iso8601(&mut self, t: Timestamp) {
        self.timestamp(t);
    }
    /// Writes one value that is already encoded in this encoder's format (by this encoder's kind).
    fn raw(&mut self, encoded: &[u8]);
}

/// Types the generated code can encode.
pub trait Encode {
    /// Writes `self` to `e`.
    fn encode<E: Encoder>(&self, e: &mut E);
}

impl Encode for String {
    fn encode<E: Encoder>(&self, e: &mut E) {
        e.str(self);
    }
}

impl Encode for i32 {
    fn encode<E: Encoder>(&self, e: &mut E) {
        e.int(i64::from(*self));
    }
}

impl Encode for i64 {
    fn encode<E: Encoder>(&self, e: &mut E) {
        e.int(*self);
    }
}

impl Encode for bool {
    fn encode<E: Encoder>(&self, e: &mut E) {
        e.bool(*self);
    }
}

impl Encode for Timestamp {
    fn encode<E: Encoder>(&self, e: &mut E) {
        e.timestamp(*self);
    }
}

impl<T: Encode> Encode for Vec<T> {
    fn encode<E: Encoder>(&self, e: &mut E) {
        e.begin_list(self.len());
        for item in self {
            item.encode(e);
        }
        e.end_list();
    }
}

impl<T: Encode> Encode for BTreeMap<String, T> {
    fn encode<E: Encoder>(&self, e: &mut E) {
        e.begin_map(self.len());
        for (k, v) in self {
            e.key(k);
            v.encode(e);
        }
        e.end_map();
    }
}

/// How JSON carries timestamps by default: epoch seconds (both JSON protocols) or ISO-8601 strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonTimestamps {
    /// `1587055860.121`
    EpochSeconds,
    /// `"2025-06-11T10:15:02.114Z"`
    Iso8601,
}

/// Writes JSON directly into a buffer.
pub struct JsonEncoder {
    buf: Vec<u8>,
    timestamps: JsonTimestamps,
    /// Per open container: whether the next item needs a comma before it.
    comma: Vec<bool>,
    after_key: bool,
}

impl JsonEncoder {
    /// A new encoder.
    pub fn new(timestamps: JsonTimestamps) -> Self {
        Self::with_capacity(timestamps, 256)
    }

    /// A new encoder whose buffer starts with room for `bytes`.
    pub fn with_capacity(timestamps: JsonTimestamps, bytes: usize) -> Self {
        JsonEncoder { buf: Vec::with_capacity(bytes), timestamps, comma: Vec::new(), after_key: false }
    }

    /// The encoded bytes.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }

    fn value_start(&mut self) {
        if self.after_key {
            self.after_key = false;
            return;
        }
        if let Some(c) = self.comma.last_mut() {
            if *c {
                self.buf.push(b',');
            }
            *c = true;
        }
    }

    fn write_str(&mut self, s: &str) {
        // serde_json escapes exactly as JSON requires; writing to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.buf, s);
    }
}

impl Encoder for JsonEncoder {
    fn begin_map(&mut self, _len: usize) {
        self.value_start();
        self.buf.push(b'{');
        self.comma.push(false);
    }
    fn key(&mut self, k: &str) {
        if let Some(c) = self.comma.last_mut() {
            if *c {
                self.buf.push(b',');
            }
            *c = true;
        }
        self.write_str(k);
        self.buf.push(b':');
        self.after_key = true;
    }
    fn end_map(&mut self) {
        self.comma.pop();
        self.buf.push(b'}');
    }
    fn begin_list(&mut self, _len: usize) {
        self.value_start();
        self.buf.push(b'[');
        self.comma.push(false);
    }
    fn end_list(&mut self) {
        self.comma.pop();
        self.buf.push(b']');
    }
    fn str(&mut self, s: &str) {
        self.value_start();
        self.write_str(s);
    }
    fn int(&mut self, i: i64) {
        self.value_start();
        let _ = write!(Utf8Sink(&mut self.buf), "{i}");
    }
    fn bool(&mut self, b: bool) {
        self.value_start();
        self.buf.extend_from_slice(if b { b"true" } else { b"false" });
    }
    fn timestamp(&mut self, t: Timestamp) {
        self.value_start();
        match self.timestamps {
            JsonTimestamps::EpochSeconds => {
                let (s, ms) = (t.0.div_euclid(1000), t.0.rem_euclid(1000));
                if ms == 0 {
                    let _ = write!(Utf8Sink(&mut self.buf), "{s}");
                } else {
                    let frac = format!("{ms:03}");
                    let _ = write!(Utf8Sink(&mut self.buf), "{s}.{}", frac.trim_end_matches('0'));
                }
            }
            JsonTimestamps::Iso8601 => {
                let iso = t.to_iso8601();
                self.write_str(&iso);
            }
        }
    }
    fn timestamp_iso8601(&mut self, t: Timestamp) {
        self.value_start();
        let iso = t.to_iso8601();
        self.write_str(&iso);
    }
    fn raw(&mut self, encoded: &[u8]) {
        self.value_start();
        self.buf.extend_from_slice(encoded);
    }
}

struct Utf8Sink<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Utf8Sink<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// Writes CBOR (definite lengths, smallest integer widths, tag 1 + float64 timestamps).
#[derive(Default)]
pub struct CborEncoder {
    buf: Vec<u8>,
}

impl CborEncoder {
    /// A new encoder.
    pub fn new() -> Self {
        Self::with_capacity(256)
    }

    /// A new encoder whose buffer starts with room for `bytes`.
    pub fn with_capacity(bytes: usize) -> Self {
        CborEncoder { buf: Vec::with_capacity(bytes) }
    }

    /// The encoded bytes.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }

    fn head(&mut self, major: u8, n: u64) {
        let m = major << 5;
        if n < 24 {
            self.buf.push(m | n as u8);
        } else if n <= u64::from(u8::MAX) {
            self.buf.extend_from_slice(&[m | 24, n as u8]);
        } else if n <= u64::from(u16::MAX) {
            self.buf.push(m | 25);
            self.buf.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= u64::from(u32::MAX) {
            self.buf.push(m | 26);
            self.buf.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            self.buf.push(m | 27);
            self.buf.extend_from_slice(&n.to_be_bytes());
        }
    }
}

impl Encoder for CborEncoder {
    fn begin_map(&mut self, len: usize) {
        self.head(5, len as u64);
    }
    fn key(&mut self, k: &str) {
        self.str(k);
    }
    fn end_map(&mut self) {}
    fn begin_list(&mut self, len: usize) {
        self.head(4, len as u64);
    }
    fn end_list(&mut self) {}
    fn str(&mut self, s: &str) {
        self.head(3, s.len() as u64);
        self.buf.extend_from_slice(s.as_bytes());
    }
    fn int(&mut self, i: i64) {
        if i >= 0 {
            self.head(0, i as u64);
        } else {
            self.head(1, (-1 - i) as u64);
        }
    }
    fn bool(&mut self, b: bool) {
        self.buf.push(if b { 0xf5 } else { 0xf4 });
    }
    fn timestamp(&mut self, t: Timestamp) {
        self.buf.push(0xc1);
        self.buf.push(0xfb);
        let secs = t.0 as f64 / 1000.0;
        self.buf.extend_from_slice(&secs.to_bits().to_be_bytes());
    }
    fn raw(&mut self, encoded: &[u8]) {
        self.buf.extend_from_slice(encoded);
    }
}

/// Writes an output structure as the children of a query-protocol result element: a member is
/// an element of its name, a list item a `<member>`, a timestamp ISO 8601.
#[derive(Default)]
pub struct XmlEncoder {
    buf: String,
    open: Vec<Open>,
    key: Option<String>,
}

impl XmlEncoder {
    /// The encoded children.
    pub fn finish(self) -> Vec<u8> {
        self.buf.into_bytes()
    }

    /// The tag the next value is written in: the pending member name, or `member` in a list.
    fn tag(&mut self) -> String {
        match self.open.last() {
            Some(Open::List(_)) => "member".to_string(),
            _ => self.key.take().unwrap_or_else(|| "member".to_string()),
        }
    }

    fn scalar(&mut self, text: &str) {
        let tag = self.tag();
        self.buf.push_str(&format!("<{tag}>{}</{tag}>", escape(text)));
    }
}

impl Encoder for XmlEncoder {
    fn begin_map(&mut self, _len: usize) {
        if self.open.is_empty() {
            self.open.push(Open::Root);
            return;
        }
        let tag = self.tag();
        self.buf.push_str(&format!("<{tag}>"));
        self.open.push(Open::Element(tag));
    }

    fn key(&mut self, k: &str) {
        self.key = Some(k.to_string());
    }

    fn end_map(&mut self) {
        if let Some(Open::Element(tag) | Open::List(tag)) = self.open.pop() {
            self.buf.push_str(&format!("</{tag}>"));
        }
    }

    fn begin_list(&mut self, _len: usize) {
        let tag = self.tag();
        self.buf.push_str(&format!("<{tag}>"));
        self.open.push(Open::List(tag));
    }

    fn end_list(&mut self) {
        self.end_map();
    }

    fn str(&mut self, s: &str) {
        self.scalar(s);
    }

    fn int(&mut self, i: i64) {
        self.scalar(&i.to_string());
    }

    fn bool(&mut self, b: bool) {
        self.scalar(if b { "true" } else { "false" });
    }

    fn timestamp(&mut self, t: Timestamp) {
        self.scalar(&t.to_iso8601());
    }

    fn raw(&mut self, encoded: &[u8]) {
        let tag = self.tag();
        self.buf.push_str(&format!("<{tag}>{}</{tag}>", String::from_utf8_lossy(encoded)));
    }
}

/// `text` with the five XML special characters escaped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// What an open container closes with.
enum Open {
    /// The output structure itself: its members are the result element's children.
    Root,
    /// A nested element, closed by this tag.
    Element(String),
    /// A list element, closed by this tag; its items are `<member>`s.
    List(String),
}

/// Encodes an operation output in the request's protocol.
pub fn encode_output<T: Encode>(out: &T, protocol: Protocol) -> Vec<u8> {
    encode_output_sized(out, protocol, 256)
}

/// Encodes an operation output in the request's protocol into a buffer that starts with room for
/// `bytes` (outputs assembled from large pre-encoded parts know their size).
pub fn encode_output_sized<T: Encode>(out: &T, protocol: Protocol, bytes: usize) -> Vec<u8> {
    match protocol {
        Protocol::AwsJson11 => {
            let mut e = JsonEncoder::with_capacity(JsonTimestamps::EpochSeconds, bytes);
            out.encode(&mut e);
            e.finish()
        }
        // restJson1 bodies write timestamps as epoch seconds unless the model says otherwise (MSK
        // Connect's shapes say `iso8601`; RAM's keep the default).
        Protocol::RestJson1 => {
            let mut e = JsonEncoder::with_capacity(JsonTimestamps::EpochSeconds, bytes);
            out.encode(&mut e);
            e.finish()
        }
        Protocol::RpcV2Cbor => {
            let mut e = CborEncoder::with_capacity(bytes);
            out.encode(&mut e);
            e.finish()
        }
        // The result's members; the front end wraps them in the response elements.
        Protocol::AwsQuery => {
            let mut e = XmlEncoder::default();
            out.encode(&mut e);
            e.finish()
        }
    }
}

/// A value already encoded, in the format of the encoder it is written to (kept bytes of a
/// summary a response repeats): the generated `…Parts` outputs hold their list items as these.
#[derive(Debug, Clone, Copy)]
pub struct PreEncoded<'a>(pub &'a [u8]);

impl PreEncoded<'_> {
    /// The encoded size.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it is empty (never, for an encoded value).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Encode for PreEncoded<'_> {
    fn encode<E: Encoder>(&self, e: &mut E) {
        e.raw(self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_in_each_format() {
        let t = Timestamp(1_519_777_852_502);
        let mut c = CborEncoder::new();
        c.timestamp(t);
        assert_eq!(hex::encode(c.finish()), "c1fb41d6a57e0f2020c5");
        assert_eq!(Timestamp(1_749_636_902_114).to_iso8601(), "2025-06-11T10:15:02.114Z");
        let mut j = JsonEncoder::new(JsonTimestamps::EpochSeconds);
        j.timestamp(Timestamp(1_587_055_860_120));
        assert_eq!(String::from_utf8(j.finish()).unwrap(), "1587055860.12");
    }

    #[test]
    fn json_commas() {
        let mut j = JsonEncoder::new(JsonTimestamps::EpochSeconds);
        j.begin_map(2);
        j.key("a");
        j.begin_list(2);
        j.int(1);
        j.str("x");
        j.end_list();
        j.key("b");
        j.begin_map(0);
        j.end_map();
        j.end_map();
        assert_eq!(String::from_utf8(j.finish()).unwrap(), r#"{"a":[1,"x"],"b":{}}"#);
    }
}
