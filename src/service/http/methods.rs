//! /get, /post, /put, /patch, /delete and /anything: the request echoed back, body and
//! all, read the way httpbin (werkzeug) reads it.

use super::shapes::{self, multi, Echo, ParsedBody};
use super::{Req, Response};
use crate::proto::http::json_safe;
use http::header;
use http::StatusCode;

pub fn get(req: &Req) -> Response {
    shapes::json(StatusCode::OK, &Echo::get(req))
}

pub async fn with_body(req: &Req) -> Response {
    match parse_body(req).await {
        Ok(body) => shapes::json(StatusCode::OK, &Echo::with_body(req, body)),
        Err(response) => response,
    }
}

pub async fn anything(req: &Req) -> Response {
    match parse_body(req).await {
        Ok(body) => shapes::json(
            StatusCode::OK,
            &Echo {
                method: Some(req.method.to_string()),
                ..Echo::with_body(req, body)
            },
        ),
        Err(response) => response,
    }
}

/// The media type of the request, lower case, without parameters.
fn media_type(req: &Req) -> String {
    req.header(header::CONTENT_TYPE)
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// A body as werkzeug gives it to httpbin: urlencoded and multipart bodies fill `form`
/// and `files` (and leave `data` empty); anything else is `data`, and `json` whenever the
/// data parses as JSON, whatever the content type says.
pub async fn parse_body(req: &Req) -> Result<ParsedBody, Response> {
    let mut parsed = ParsedBody::default();
    match media_type(req).as_str() {
        "application/x-www-form-urlencoded" => {
            parsed.form = multi(
                form_urlencoded::parse(&req.body).map(|(k, v)| (k.into_owned(), v.into_owned())),
            );
        }
        "multipart/form-data" => {
            let (form, files) = parse_multipart(req).await?;
            parsed.form = multi(form);
            parsed.files = multi(files);
        }
        _ => {
            parsed.data = json_safe(&req.body, "application/octet-stream");
            parsed.json = serde_json::from_slice(&req.body).ok();
        }
    }
    Ok(parsed)
}

type Pairs = Vec<(String, String)>;

/// Fields and files of a multipart/form-data body (already read, under the body cap).
pub async fn parse_multipart(req: &Req) -> Result<(Pairs, Pairs), Response> {
    let content_type = req.header(header::CONTENT_TYPE).unwrap_or("");
    let boundary = multer::parse_boundary(content_type)
        .map_err(|e| shapes::bad_request(format!("multipart: {e}")))?;
    let body = req.body.clone();
    let stream = futures_util::stream::once(async move { Ok::<_, std::convert::Infallible>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let (mut form, mut files) = (Vec::new(), Vec::new());
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => return Err(shapes::bad_request(format!("multipart: {e}"))),
        };
        let name = field.name().unwrap_or("").to_string();
        let is_file = field.file_name().is_some();
        let content_type = field
            .content_type()
            .map(|m| m.to_string())
            .unwrap_or_else(|| "application/octet-stream".into());
        let data = field
            .bytes()
            .await
            .map_err(|e| shapes::bad_request(format!("multipart: {e}")))?;
        if is_file {
            files.push((name, json_safe(&data, &content_type)));
        } else {
            form.push((name, String::from_utf8_lossy(&data).into_owned()));
        }
    }
    Ok((form, files))
}
