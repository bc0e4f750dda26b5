//! HTTP Digest authentication (RFC 7616, and RFC 2069 without qop) as httpbin's
//! /digest-auth checks it: parsing the client's `Authorization: Digest …` header and the
//! response hash for MD5, SHA-256 and SHA-512 with qop `auth` or `auth-int`.

use md5::Md5;
use sha2::{Digest as _, Sha256, Sha512};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Md5,
    Sha256,
    Sha512,
}

impl Algorithm {
    /// As in the path (`MD5`, `SHA-256`, `SHA-512`), case-insensitively.
    pub fn from_name(name: &str) -> Option<Algorithm> {
        match name.to_ascii_uppercase().as_str() {
            "MD5" => Some(Algorithm::Md5),
            "SHA-256" | "SHA256" => Some(Algorithm::Sha256),
            "SHA-512" | "SHA512" => Some(Algorithm::Sha512),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha512 => "SHA-512",
        }
    }

    /// Lower-case hex of the hash of `data`.
    pub fn hex(self, data: &[u8]) -> String {
        let bytes: Vec<u8> = match self {
            Algorithm::Md5 => Md5::digest(data).to_vec(),
            Algorithm::Sha256 => Sha256::digest(data).to_vec(),
            Algorithm::Sha512 => Sha512::digest(data).to_vec(),
        };
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The parameters of an `Authorization: Digest …` header, by (lower-case) name.
pub fn parse_authorization(header: &str) -> Option<Vec<(String, String)>> {
    let header = header.trim_start();
    let (scheme, rest) = header.split_once(char::is_whitespace)?;
    if !scheme.eq_ignore_ascii_case("digest") {
        return None;
    }
    let mut params = Vec::new();
    let mut chars = rest.char_indices().peekable();
    let bytes = rest;
    loop {
        // Skip separators.
        while let Some((_, c)) = chars.peek() {
            if *c == ',' || c.is_whitespace() {
                chars.next();
            } else {
                break;
            }
        }
        let Some(&(start, _)) = chars.peek() else {
            break;
        };
        let mut end = start;
        while let Some(&(i, c)) = chars.peek() {
            if c == '=' {
                break;
            }
            end = i + c.len_utf8();
            chars.next();
        }
        chars.next()?; // '='
        let name = bytes[start..end].trim().to_ascii_lowercase();
        let value = if chars.peek().map(|(_, c)| *c) == Some('"') {
            chars.next();
            let mut value = String::new();
            loop {
                let (_, c) = chars.next()?; // unterminated quote: malformed
                match c {
                    '"' => break,
                    '\\' => value.push(chars.next()?.1),
                    c => value.push(c),
                }
            }
            value
        } else {
            let mut value = String::new();
            while let Some(&(_, c)) = chars.peek() {
                if c == ',' {
                    break;
                }
                value.push(c);
                chars.next();
            }
            value.trim().to_string()
        };
        if name.is_empty() {
            return None;
        }
        params.push((name, value));
    }
    Some(params)
}

/// What the client sent, by the names RFC 7616 gives them.
pub struct Credentials<'a> {
    pub params: &'a [(String, String)],
}

impl Credentials<'_> {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The `response` a client that knows `password` would send, or `None` when the header
/// lacks a field the computation needs.
pub fn expected_response(
    algorithm: Algorithm,
    creds: &Credentials<'_>,
    password: &str,
    method: &str,
    body: &[u8],
) -> Option<String> {
    let user = creds.get("username")?;
    let realm = creds.get("realm")?;
    let nonce = creds.get("nonce")?;
    let uri = creds.get("uri")?;
    let ha1 = algorithm.hex(format!("{user}:{realm}:{password}").as_bytes());
    let qop = creds.get("qop");
    let ha2 = match qop {
        Some("auth-int") => {
            let body_hash = algorithm.hex(body);
            algorithm.hex(format!("{method}:{uri}:{body_hash}").as_bytes())
        }
        _ => algorithm.hex(format!("{method}:{uri}").as_bytes()),
    };
    match qop {
        Some(qop @ ("auth" | "auth-int")) => {
            let nc = creds.get("nc")?;
            let cnonce = creds.get("cnonce")?;
            Some(algorithm.hex(format!("{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}").as_bytes()))
        }
        Some(_) => None,
        None => Some(algorithm.hex(format!("{ha1}:{nonce}:{ha2}").as_bytes())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_2617_example() {
        // RFC 2617 section 3.5.
        let header = r#"Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41""#;
        let params = parse_authorization(header).unwrap();
        let creds = Credentials { params: &params };
        assert_eq!(creds.get("nc"), Some("00000001"));
        assert_eq!(
            expected_response(Algorithm::Md5, &creds, "Circle Of Life", "GET", b"").as_deref(),
            creds.get("response")
        );
    }

    #[test]
    fn malformed_headers() {
        assert!(parse_authorization("Basic abc").is_none());
        assert!(parse_authorization("Digest a=\"unterminated").is_none());
        assert!(parse_authorization("Digest a=\"x\\").is_none());
        assert_eq!(
            parse_authorization("Digest a=\"q\\\"x\", b=2").unwrap(),
            vec![("a".into(), "q\"x".into()), ("b".into(), "2".into())]
        );
    }
}
