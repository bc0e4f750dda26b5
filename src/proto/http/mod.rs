//! Sans-IO pieces of the HTTP service: the small header and parameter grammars that
//! httpbin's endpoints read (Range, Cookie, Basic credentials, weighted status lists) and
//! the name/value conventions of its JSON replies. Strings in, values out; no sockets.

pub mod digest;
pub mod h2c;
pub mod websocket;

use base64::Engine;

/// A header name as Python httpbin prints it (werkzeug's `str.title()` of the WSGI name):
/// every letter that follows a non-letter is upper case, every other one lower case.
pub fn title_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut after_letter = false;
    for c in name.chars() {
        if c.is_ascii_alphabetic() {
            if after_letter {
                out.push(c.to_ascii_lowercase());
            } else {
                out.push(c.to_ascii_uppercase());
            }
            after_letter = true;
        } else {
            out.push(c);
            after_letter = false;
        }
    }
    out
}

/// One `bytes=` range of a `Range` header, resolved against a body of `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// Inclusive first and last byte.
    Satisfiable { first: u64, last: u64 },
    /// Well-formed but outside the body: 416.
    Unsatisfiable,
}

/// Parses the first range of a `Range: bytes=…` header for a body of `len` bytes.
/// `None` when the header is not a byte range at all (it is then ignored, as RFC 9110
/// allows, and the whole body is sent).
pub fn parse_range(header: &str, len: u64) -> Option<ByteRange> {
    let spec = header.trim().strip_prefix("bytes=")?;
    let first_spec = spec.split(',').next()?.trim();
    let (start, end) = first_spec.split_once('-')?;
    let (start, end) = (start.trim(), end.trim());
    let range = if start.is_empty() {
        // Suffix: the last N bytes.
        let suffix: u64 = end.parse().ok()?;
        if suffix == 0 || len == 0 {
            ByteRange::Unsatisfiable
        } else {
            ByteRange::Satisfiable {
                first: len.saturating_sub(suffix),
                last: len - 1,
            }
        }
    } else {
        let first: u64 = start.parse().ok()?;
        let last = if end.is_empty() {
            len.checked_sub(1)?
        } else {
            let last: u64 = end.parse().ok()?;
            if last < first {
                return None;
            }
            last.min(len.saturating_sub(1))
        };
        if first >= len {
            ByteRange::Unsatisfiable
        } else {
            ByteRange::Satisfiable { first, last }
        }
    };
    Some(range)
}

/// The `name=value` pairs of a `Cookie` header, in order; pairs without `=` are skipped and
/// double quotes around a value removed, as Python's `http.cookies` does.
pub fn parse_cookies(header: &str) -> Vec<(String, String)> {
    header
        .split(';')
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            let name = name.trim();
            if name.is_empty() {
                return None;
            }
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            Some((name.to_string(), value.to_string()))
        })
        .collect()
}

/// Whether `text` may be a cookie name (an RFC 6265 token).
pub fn is_cookie_name(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b))
}

/// Whether `text` may be a cookie value as sent, unquoted (RFC 6265 cookie-octets).
pub fn is_cookie_value(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b',' | b';' | b'\\'))
}

/// The user and password of an `Authorization: Basic …` header.
pub fn parse_basic(header: &str) -> Option<(String, String)> {
    let (scheme, token) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(token.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// The token of an `Authorization: Bearer …` header.
pub fn parse_bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// A `/status/` list: `200`, `200,404`, or weighted `200:0.9,500:0.1`.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusChoices(pub Vec<(u16, f64)>);

/// Parses `/status/{codes}`; `None` for anything that is not a list of 100–599 codes with
/// optional non-negative finite weights.
pub fn parse_status_list(text: &str) -> Option<StatusChoices> {
    let mut choices = Vec::new();
    for item in text.split(',') {
        let (code, weight) = match item.split_once(':') {
            Some((code, weight)) => (code, weight.trim().parse::<f64>().ok()?),
            None => (item, 1.0),
        };
        let code: u16 = code.trim().parse().ok()?;
        if !(100..=599).contains(&code) || !weight.is_finite() || weight < 0.0 {
            return None;
        }
        choices.push((code, weight));
    }
    (!choices.is_empty()).then_some(StatusChoices(choices))
}

impl StatusChoices {
    /// The code a uniform `draw` in [0, 1) picks, by weight.
    pub fn pick(&self, draw: f64) -> u16 {
        // An empty list (only constructible by hand, never by the parser) answers 500.
        let Some(&(last, _)) = self.0.last() else {
            return 500;
        };
        let total: f64 = self.0.iter().map(|(_, w)| w).sum();
        if total <= 0.0 {
            return self.0[0].0;
        }
        let mut point = draw * total;
        for (code, weight) in &self.0 {
            if point < *weight {
                return *code;
            }
            point -= weight;
        }
        last
    }
}

/// Text for a JSON reply: UTF-8 as is, anything else as a base64 `data:` URL (httpbin's
/// `json_safe`).
pub fn json_safe(bytes: &[u8], content_type: &str) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_string(),
        Err(_) => format!(
            "data:{content_type};base64,{}",
            base64::engine::general_purpose::STANDARD.encode(bytes)
        ),
    }
}

/// Escapes text for HTML element content, like Python's `html.escape(s, quote=False)`.
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// A small, seedable generator for `/bytes?seed=`: the same seed gives the same bytes.
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let word = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_case_like_python() {
        assert_eq!(title_case("user-agent"), "User-Agent");
        assert_eq!(title_case("x-b3-traceid"), "X-B3-Traceid");
        assert_eq!(title_case("DNT"), "Dnt");
        assert_eq!(title_case("x-a3b"), "X-A3B");
    }

    #[test]
    fn ranges() {
        let sat = |first, last| Some(ByteRange::Satisfiable { first, last });
        assert_eq!(parse_range("bytes=0-9", 100), sat(0, 9));
        assert_eq!(parse_range("bytes=90-", 100), sat(90, 99));
        assert_eq!(parse_range("bytes=-10", 100), sat(90, 99));
        assert_eq!(parse_range("bytes=-1000", 100), sat(0, 99));
        assert_eq!(parse_range("bytes=50-1000", 100), sat(50, 99));
        assert_eq!(
            parse_range("bytes=100-", 100),
            Some(ByteRange::Unsatisfiable)
        );
        assert_eq!(parse_range("bytes=9-1", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
        assert_eq!(parse_range("bytes=x-1", 100), None);
    }

    #[test]
    fn cookies() {
        assert_eq!(
            parse_cookies("a=1; b=\"two\";c; =x; d=e=f"),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "two".into()),
                ("d".into(), "e=f".into())
            ]
        );
        assert!(is_cookie_name("k"));
        assert!(!is_cookie_name("a;b"));
        assert!(!is_cookie_value("a; Path=/"));
    }

    #[test]
    fn basic_and_bearer() {
        assert_eq!(
            parse_basic("Basic dXNlcjpwYXNz"),
            Some(("user".into(), "pass".into()))
        );
        assert_eq!(parse_basic("Basic !!"), None);
        assert_eq!(parse_bearer("Bearer abc"), Some("abc"));
        assert_eq!(parse_bearer("Bearer "), None);
    }

    #[test]
    fn status_lists() {
        let list = parse_status_list("200:0.25,500:0.75").unwrap();
        assert_eq!(list.pick(0.1), 200);
        assert_eq!(list.pick(0.5), 500);
        assert_eq!(parse_status_list("200,x"), None);
        assert_eq!(parse_status_list("99"), None);
        assert_eq!(parse_status_list("200:-1"), None);
        assert_eq!(parse_status_list("200:NaN"), None);
        assert_eq!(parse_status_list("418").unwrap().pick(0.99), 418);
    }

    #[test]
    fn escaping() {
        assert_eq!(html_escape("<script>\"'&"), "&lt;script&gt;\"'&amp;");
        assert_eq!(json_safe(b"hi", "x/y"), "hi");
        assert_eq!(json_safe(&[0xff], "x/y"), "data:x/y;base64,/w==");
    }
}
