//! Content-Encoding decoding of response bodies (gzip, deflate, br), each capped: a
//! small compressed body may not grow past `limit` bytes once decoded.

use std::io::Read;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("the {encoding} body is not valid {encoding}: {reason}")]
    Corrupt {
        encoding: &'static str,
        reason: String,
    },
    #[error("the body decodes to more than {limit} bytes")]
    TooLarge { limit: usize },
}

/// Decodes `body` as sent with `Content-Encoding: header` (codings applied in order, so
/// undone last first). Unknown codings leave the body as it is, as requests does.
pub fn decode(header: &str, body: Vec<u8>, limit: usize) -> Result<Vec<u8>, DecodeError> {
    let mut data = body;
    for coding in header.rsplit(',').map(|c| c.trim().to_ascii_lowercase()) {
        data = match coding.as_str() {
            "gzip" | "x-gzip" => {
                read_capped(flate2::read::MultiGzDecoder::new(&data[..]), "gzip", limit)?
            }
            "deflate" => {
                // RFC 9110's deflate is zlib-wrapped; some servers send it raw.
                match read_capped(flate2::read::ZlibDecoder::new(&data[..]), "deflate", limit) {
                    Err(DecodeError::Corrupt { .. }) => read_capped(
                        flate2::read::DeflateDecoder::new(&data[..]),
                        "deflate",
                        limit,
                    )?,
                    other => other?,
                }
            }
            "br" => read_capped(
                brotli::Decompressor::new(&data[..], 64 << 10),
                "brotli",
                limit,
            )?,
            _ => data,
        };
    }
    Ok(data)
}

fn read_capped(
    reader: impl Read,
    encoding: &'static str,
    limit: usize,
) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::new();
    reader
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| DecodeError::Corrupt {
            encoding,
            reason: e.to_string(),
        })?;
    if out.len() > limit {
        return Err(DecodeError::TooLarge { limit });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn codings() {
        let text = b"hello hello hello".to_vec();
        assert_eq!(decode("gzip", gzip(&text), 100).unwrap(), text);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&text).unwrap();
        assert_eq!(decode("deflate", z.finish().unwrap(), 100).unwrap(), text);
        let mut raw =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        raw.write_all(&text).unwrap();
        assert_eq!(decode("deflate", raw.finish().unwrap(), 100).unwrap(), text);
        let mut br = Vec::new();
        brotli::CompressorWriter::new(&mut br, 4096, 5, 22)
            .write_all(&text)
            .unwrap();
        assert_eq!(decode("br", br, 100).unwrap(), text);
        assert_eq!(decode("identity", text.clone(), 100).unwrap(), text);
        assert_eq!(decode("gzip, gzip", gzip(&gzip(&text)), 100).unwrap(), text);
    }

    #[test]
    fn bombs_and_garbage() {
        let zeros = gzip(&vec![0u8; 1 << 20]);
        assert!(zeros.len() < 4096);
        assert_eq!(
            decode("gzip", zeros, 1000),
            Err(DecodeError::TooLarge { limit: 1000 })
        );
        assert!(matches!(
            decode("gzip", b"not gzip".to_vec(), 1000),
            Err(DecodeError::Corrupt { .. })
        ));
    }
}
