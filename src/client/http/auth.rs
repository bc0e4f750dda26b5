//! `--auth` for `netkit http`: Basic and Bearer headers, and the answer to a Digest
//! challenge, computed by the same sans-IO digest module the server checks with.

use crate::proto::http::digest::{expected_response, parse_authorization, Algorithm, Credentials};
use base64::Engine;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthType {
    #[default]
    Basic,
    Digest,
    Bearer,
}

impl AuthType {
    pub fn name(self) -> &'static str {
        match self {
            AuthType::Basic => "basic",
            AuthType::Digest => "digest",
            AuthType::Bearer => "bearer",
        }
    }

    pub fn from_name(name: &str) -> Option<AuthType> {
        match name {
            "basic" => Some(AuthType::Basic),
            "digest" => Some(AuthType::Digest),
            "bearer" => Some(AuthType::Bearer),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("--auth for {0} auth must be USER:PASSWORD")]
    NoPassword(&'static str),
    #[error("the server's Digest challenge is malformed: {0}")]
    BadChallenge(String),
    #[error("the server asks for Digest algorithm {0}; netkit answers MD5, SHA-256 and SHA-512")]
    Algorithm(String),
    #[error("the server's Digest challenge offers qop {0:?}; netkit answers auth and auth-int")]
    Qop(String),
}

/// Credentials from `--auth` for one auth type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth {
    pub kind: AuthType,
    /// As given: `user:password`, or the token for bearer.
    pub raw: String,
}

impl Auth {
    pub fn new(kind: AuthType, raw: &str) -> Result<Auth, AuthError> {
        if kind != AuthType::Bearer && !raw.contains(':') {
            return Err(AuthError::NoPassword(kind.name()));
        }
        Ok(Auth {
            kind,
            raw: raw.to_string(),
        })
    }

    fn user_password(&self) -> (&str, &str) {
        self.raw.split_once(':').unwrap_or((&self.raw, ""))
    }

    /// The `Authorization` header to send up front (digest waits for a challenge).
    pub fn preemptive(&self) -> Option<String> {
        match self.kind {
            AuthType::Basic => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(self.raw.as_bytes())
            )),
            AuthType::Bearer => Some(format!("Bearer {}", self.raw)),
            AuthType::Digest => None,
        }
    }

    /// The `Authorization` header answering a `WWW-Authenticate: Digest …` challenge for
    /// `method uri` (request target) with `body`; `cnonce` is the client's random nonce.
    pub fn digest_answer(
        &self,
        challenge: &str,
        method: &str,
        uri: &str,
        body: &[u8],
        cnonce: &str,
    ) -> Result<String, AuthError> {
        let params = parse_authorization(challenge)
            .ok_or_else(|| AuthError::BadChallenge(challenge.to_string()))?;
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let realm = get("realm").ok_or_else(|| AuthError::BadChallenge("no realm".into()))?;
        let nonce = get("nonce").ok_or_else(|| AuthError::BadChallenge("no nonce".into()))?;
        let algorithm_name = get("algorithm").unwrap_or("MD5");
        let algorithm = Algorithm::from_name(algorithm_name)
            .ok_or_else(|| AuthError::Algorithm(algorithm_name.to_string()))?;
        let qop = chosen_qop(get("qop"))?;
        let (user, password) = self.user_password();
        let nc = "00000001";
        let mut fields: Vec<(String, String)> = vec![
            ("username".into(), user.into()),
            ("realm".into(), realm.into()),
            ("nonce".into(), nonce.into()),
            ("uri".into(), uri.into()),
        ];
        if let Some(qop) = qop {
            fields.push(("qop".into(), qop.into()));
            fields.push(("nc".into(), nc.into()));
            fields.push(("cnonce".into(), cnonce.into()));
        }
        let response = expected_response(
            algorithm,
            &Credentials { params: &fields },
            password,
            method,
            body,
        )
        .ok_or_else(|| AuthError::BadChallenge(challenge.to_string()))?;
        let quote = |v: &str| format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""));
        let mut header = format!(
            "Digest username={}, realm={}, nonce={}, uri={}, algorithm={}, response={}",
            quote(user),
            quote(realm),
            quote(nonce),
            quote(uri),
            algorithm.name(),
            quote(&response)
        );
        if let Some(qop) = qop {
            header.push_str(&format!(", qop={qop}, nc={nc}, cnonce={}", quote(cnonce)));
        }
        if let Some(opaque) = get("opaque") {
            header.push_str(&format!(", opaque={}", quote(opaque)));
        }
        Ok(header)
    }
}

/// The qop to answer from the list a server offers: auth, else auth-int.
fn chosen_qop(offered: Option<&str>) -> Result<Option<&'static str>, AuthError> {
    let Some(offered) = offered else {
        return Ok(None);
    };
    let options: Vec<&str> = offered.split(',').map(str::trim).collect();
    if options.contains(&"auth") {
        Ok(Some("auth"))
    } else if options.contains(&"auth-int") {
        Ok(Some("auth-int"))
    } else {
        Err(AuthError::Qop(offered.to_string()))
    }
}

/// Whether the answer to this Digest challenge hashes the request body (qop=auth-int
/// only), so the caller reads a streamed body just when it must.
pub fn digest_hashes_body(challenge: &str) -> bool {
    parse_authorization(challenge).is_some_and(|params| {
        let offered = params
            .iter()
            .find(|(k, _)| k == "qop")
            .map(|(_, v)| v.as_str());
        chosen_qop(offered) == Ok(Some("auth-int"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_and_bearer() {
        let auth = Auth::new(AuthType::Basic, "user:passwd").unwrap();
        assert_eq!(auth.preemptive().unwrap(), "Basic dXNlcjpwYXNzd2Q=");
        let auth = Auth::new(AuthType::Bearer, "tok").unwrap();
        assert_eq!(auth.preemptive().unwrap(), "Bearer tok");
        assert_eq!(
            Auth::new(AuthType::Basic, "user"),
            Err(AuthError::NoPassword("basic"))
        );
    }

    #[test]
    fn only_auth_int_hashes_the_body() {
        let challenge = |qop: &str| format!(r#"Digest realm="r", nonce="n", qop="{qop}""#);
        assert!(digest_hashes_body(&challenge("auth-int")));
        assert!(!digest_hashes_body(&challenge("auth,auth-int")));
        assert!(!digest_hashes_body(&challenge("auth")));
        assert!(!digest_hashes_body(r#"Digest realm="r", nonce="n""#));
    }

    #[test]
    fn rfc_2617_digest() {
        // RFC 2617 section 3.5: the client's answer must carry the RFC's response.
        let auth = Auth::new(AuthType::Digest, "Mufasa:Circle Of Life").unwrap();
        let challenge = r#"Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#;
        let answer = auth
            .digest_answer(challenge, "GET", "/dir/index.html", b"", "0a4f113b")
            .unwrap();
        assert!(
            answer.contains("response=\"6629fae49393a05397450978507c4ef1\""),
            "{answer}"
        );
        assert!(answer.contains("opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""));
        assert!(matches!(
            auth.digest_answer(
                "Digest realm=\"r\", nonce=\"n\", algorithm=MD5-sess",
                "GET",
                "/",
                b"",
                "c"
            ),
            Err(AuthError::Algorithm(_))
        ));
        assert!(matches!(
            auth.digest_answer("Basic realm=\"r\"", "GET", "/", b"", "c"),
            Err(AuthError::BadChallenge(_))
        ));
    }
}
