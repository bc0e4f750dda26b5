//! HMAC challenge/response: recipe 9's client authentication, and the primitive under
//! `multiprocessing.connection`'s authkey handshake (which names its digests the way
//! `hashlib` does, hence [`Digest::name`]).
//!
//! Sans-IO: the services send [`new_challenge`]'s bytes and feed the peer's answer to
//! [`verify`]; clients answer with [`respond`].

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use std::fmt;
use std::str::FromStr;

/// Length of the challenge recipe 9's `server_authenticate` sends (`os.urandom(32)`).
pub const RECIPE_CHALLENGE_LEN: usize = 32;

/// A hash function for HMAC, named as Python's `hashlib` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Digest {
    Md5,
    Sha1,
    Sha256,
    Sha384,
    Sha512,
    Sha3_256,
    Sha3_384,
}

impl Digest {
    pub const ALL: [Digest; 7] = [
        Digest::Md5,
        Digest::Sha1,
        Digest::Sha256,
        Digest::Sha384,
        Digest::Sha512,
        Digest::Sha3_256,
        Digest::Sha3_384,
    ];

    /// The `hashlib` name, as it appears in multiprocessing's `{name}` prefixes.
    pub fn name(self) -> &'static str {
        match self {
            Digest::Md5 => "md5",
            Digest::Sha1 => "sha1",
            Digest::Sha256 => "sha256",
            Digest::Sha384 => "sha384",
            Digest::Sha512 => "sha512",
            Digest::Sha3_256 => "sha3_256",
            Digest::Sha3_384 => "sha3_384",
        }
    }

    /// Bytes in one MAC.
    pub fn output_len(self) -> usize {
        match self {
            Digest::Md5 => 16,
            Digest::Sha1 => 20,
            Digest::Sha256 | Digest::Sha3_256 => 32,
            Digest::Sha384 | Digest::Sha3_384 => 48,
            Digest::Sha512 => 64,
        }
    }

    /// HMAC of `message` under `key`.
    pub fn mac(self, key: &[u8], message: &[u8]) -> Vec<u8> {
        match self {
            Digest::Md5 => mac_with::<Hmac<md5::Md5>>(key, message),
            Digest::Sha1 => mac_with::<Hmac<sha1::Sha1>>(key, message),
            Digest::Sha256 => mac_with::<Hmac<sha2::Sha256>>(key, message),
            Digest::Sha384 => mac_with::<Hmac<sha2::Sha384>>(key, message),
            Digest::Sha512 => mac_with::<Hmac<sha2::Sha512>>(key, message),
            Digest::Sha3_256 => mac_with::<Hmac<sha3::Sha3_256>>(key, message),
            Digest::Sha3_384 => mac_with::<Hmac<sha3::Sha3_384>>(key, message),
        }
    }
}

fn mac_with<M: Mac + KeyInit>(key: &[u8], message: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length, so this constructor cannot fail.
    let mut mac = <M as KeyInit>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The digest name is not one netkit knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown digest {0:?} (expected one of md5, sha1, sha256, sha384, sha512, sha3_256, sha3_384)"
)]
pub struct UnknownDigest(pub String);

impl FromStr for Digest {
    type Err = UnknownDigest;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.to_ascii_lowercase();
        Digest::ALL
            .into_iter()
            .find(|d| d.name() == wanted)
            .ok_or_else(|| UnknownDigest(s.to_string()))
    }
}

/// `len` bytes from the operating system's CSPRNG, like `os.urandom(len)`.
pub fn new_challenge(len: usize) -> Vec<u8> {
    let mut message = vec![0u8; len];
    // getrandom fails only when the OS has no entropy source at all; nothing can run then.
    getrandom::fill(&mut message).expect("the OS random source is unavailable");
    message
}

/// The answer a client sends to `challenge`: the raw HMAC digest, as recipe 9's
/// `client_authenticate` computes it.
pub fn respond(digest: Digest, key: &[u8], challenge: &[u8]) -> Vec<u8> {
    digest.mac(key, challenge)
}

/// Whether `answer` is the right HMAC of `challenge`, compared in constant time.
pub fn verify(digest: Digest, key: &[u8], challenge: &[u8], answer: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    let expected = digest.mac(key, challenge);
    // ct_eq is false for unequal lengths without looking at the contents.
    expected.ct_eq(answer).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    // RFC 2104 / RFC 4231 test vectors.
    #[test]
    fn known_answers() {
        assert_eq!(
            hex(&Digest::Md5.mac(b"Jefe", b"what do ya want for nothing?")),
            "750c783e6ab0b503eaa86e310a5db738"
        );
        assert_eq!(
            hex(&Digest::Sha256.mac(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex(&Digest::Sha1.mac(b"Jefe", b"what do ya want for nothing?")),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
    }

    #[test]
    fn output_lengths_match_macs() {
        for d in Digest::ALL {
            assert_eq!(d.mac(b"k", b"m").len(), d.output_len(), "{d}");
        }
    }

    #[test]
    fn verify_accepts_only_the_right_answer() {
        let challenge = new_challenge(RECIPE_CHALLENGE_LEN);
        assert_eq!(challenge.len(), 32);
        let good = respond(Digest::Md5, b"peekaboo", &challenge);
        assert!(verify(Digest::Md5, b"peekaboo", &challenge, &good));
        assert!(!verify(Digest::Md5, b"peekabo0", &challenge, &good));
        assert!(!verify(Digest::Md5, b"peekaboo", &challenge, &good[..15]));
        assert!(!verify(Digest::Sha256, b"peekaboo", &challenge, &good));
        let mut flipped = good.clone();
        flipped[7] ^= 1;
        assert!(!verify(Digest::Md5, b"peekaboo", &challenge, &flipped));
    }

    #[test]
    fn names_parse_back() {
        for d in Digest::ALL {
            assert_eq!(d.name().parse::<Digest>(), Ok(d));
        }
        assert_eq!("SHA256".parse::<Digest>(), Ok(Digest::Sha256));
        assert!("whirlpool".parse::<Digest>().is_err());
    }
}
