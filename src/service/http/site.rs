//! The landing page (`/`) and the OpenAPI 3.1 document (`/spec.json`), both generated from
//! the route table once, on first use, and served from memory: with an ETag, in the coding
//! the client prefers (br, gzip or deflate, each encoded once).

use super::middleware::{encode, negotiate, Coding};
use super::routes::{Group, In, Kind, Route, Shape, Takes, ROUTES};
use super::shapes;
use super::{Req, Response};
use crate::proto::http::html_escape;
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, StatusCode};
use serde_json::{json, Map, Value};
use std::sync::LazyLock;

/// A document built once, in every coding we send.
struct Static {
    media: &'static str,
    /// The identity ETag's opaque part (an xxh3 of the plain bytes).
    tag: String,
    plain: Bytes,
    br: Option<Bytes>,
    gzip: Option<Bytes>,
    deflate: Option<Bytes>,
}

impl Static {
    fn new(media: &'static str, plain: Vec<u8>) -> Static {
        let tag = format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&plain));
        Static {
            media,
            tag,
            br: encode(Coding::Br, &plain).map(Bytes::from),
            gzip: encode(Coding::Gzip, &plain).map(Bytes::from),
            deflate: encode(Coding::Deflate, &plain).map(Bytes::from),
            plain: Bytes::from(plain),
        }
    }

    /// The representation the request gets; 304 when its If-None-Match names it.
    fn serve(&self, req: &Req) -> Response {
        let coding = req.header(header::ACCEPT_ENCODING).and_then(negotiate);
        let (body, coding) = match coding {
            Some(Coding::Br) => (self.br.as_ref(), coding),
            Some(Coding::Gzip) => (self.gzip.as_ref(), coding),
            Some(Coding::Deflate) => (self.deflate.as_ref(), coding),
            None => (None, None),
        };
        let (body, coding) = match body {
            Some(body) => (body.clone(), coding),
            None => (self.plain.clone(), None),
        };
        // Each coding is its own representation, so its own strong tag (RFC 9110 8.8.3).
        let etag = match coding {
            Some(coding) => format!("\"{}-{}\"", self.tag, coding.token()),
            None => format!("\"{}\"", self.tag),
        };
        let not_modified = req.header(header::IF_NONE_MATCH).is_some_and(|list| {
            list.split(',').map(str::trim).any(|tag| {
                let tag = tag.strip_prefix("W/").unwrap_or(tag);
                tag == "*" || tag == etag
            })
        });
        let mut response = if not_modified {
            shapes::empty(StatusCode::NOT_MODIFIED)
        } else {
            shapes::bytes(StatusCode::OK, self.media, body)
        };
        shapes::set_header(&mut response, header::ETAG, &etag);
        let headers = response.headers_mut();
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        // Cached, but checked with the ETag each time: a new netkit may serve a new page.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        if let (Some(coding), false) = (coding, not_modified) {
            headers.insert(
                header::CONTENT_ENCODING,
                HeaderValue::from_static(coding.token()),
            );
        }
        response
    }
}

static LANDING: LazyLock<Static> =
    LazyLock::new(|| Static::new("text/html; charset=utf-8", landing_html().into_bytes()));

static SPEC: LazyLock<Static> = LazyLock::new(|| {
    let mut text = serde_json::to_vec_pretty(&openapi()).unwrap_or_default();
    text.push(b'\n');
    Static::new("application/json", text)
});

pub fn landing(req: &Req) -> Response {
    LANDING.serve(req)
}

pub fn spec(req: &Req) -> Response {
    SPEC.serve(req)
}

fn method_names(route: &Route) -> Vec<&'static str> {
    route.methods.listed().iter().map(Method::as_str).collect()
}

const STYLE: &str = r#"
:root{--fg:#1d2327;--muted:#5a6670;--bg:#fafbfc;--card:#fff;--line:#e3e7ea;--accent:#0b6bcb;
--get:#1f7a3f;--post:#9a5b00;--put:#6b3fa0;--patch:#00707a;--delete:#b42318;--head:#44505a}
@media (prefers-color-scheme:dark){:root{--fg:#e6e9eb;--muted:#9aa5ae;--bg:#15191c;--card:#1c2226;
--line:#2c343a;--accent:#6cb4ff;--get:#5ccf86;--post:#f0b35a;--put:#c49bf5;--patch:#5cd0d9;
--delete:#ff8a80;--head:#b0bac2}}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header,main,footer{max-width:62rem;margin:0 auto;padding:0 1rem}
header{padding-top:2rem}
h1{font-size:1.8rem;margin:0 0 .25rem}
h2{font-size:1.15rem;margin:2rem 0 .5rem;padding-bottom:.25rem;border-bottom:1px solid var(--line)}
p.lead{color:var(--muted);margin:.25rem 0 1rem}
nav{display:flex;flex-wrap:wrap;gap:.4rem;margin:1rem 0}
nav a{font-size:.85rem;padding:.15rem .6rem;border:1px solid var(--line);border-radius:1rem;background:var(--card)}
a{color:var(--accent);text-decoration:none}
a:hover,a:focus{text-decoration:underline}
.links a{font-weight:600;margin-right:1rem}
ul{list-style:none;margin:0;padding:0}
li{display:grid;grid-template-columns:minmax(0,17rem) minmax(0,1fr);gap:.2rem 1rem;padding:.55rem .75rem;
background:var(--card);border:1px solid var(--line);border-radius:.4rem;margin:.35rem 0}
.route{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9rem;overflow-wrap:anywhere}
.about{color:var(--fg)}
.try{grid-column:2;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.85rem;overflow-wrap:anywhere;color:var(--muted)}
.m{display:inline-block;font-size:.7rem;font-weight:700;letter-spacing:.03em;padding:0 .3rem;border-radius:.2rem;margin-right:.25rem;border:1px solid currentColor}
.GET{color:var(--get)}.POST{color:var(--post)}.PUT{color:var(--put)}.PATCH{color:var(--patch)}.DELETE{color:var(--delete)}.HEAD{color:var(--head)}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
footer{color:var(--muted);font-size:.85rem;padding:2rem 1rem}
@media (max-width:40rem){li{grid-template-columns:1fr}.try{grid-column:1}h1{font-size:1.5rem}}
"#;

/// The landing page: every route of the table under its group, with a working example.
fn landing_html() -> String {
    let mut out = String::with_capacity(32 * 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str("<title>netkit httpbin</title>\n");
    out.push_str("<link rel=\"icon\" href=\"data:,\">\n");
    out.push_str(&format!("<style>{STYLE}</style>\n</head>\n<body>\n"));
    out.push_str("<header>\n<h1>netkit httpbin</h1>\n");
    out.push_str(&format!(
        "<p class=\"lead\">An HTTP request and response service: every endpoint of \
         httpbin and go-httpbin, and the Python Cookbook's recipe 5. netkit {}.</p>\n",
        env!("CARGO_PKG_VERSION")
    ));
    out.push_str(
        "<p class=\"links\"><a href=\"/forms/post\">Try a form</a>\
         <a href=\"/spec.json\">OpenAPI spec</a></p>\n<nav>",
    );
    for group in Group::ALL {
        out.push_str(&format!(
            "<a href=\"#{}\">{}</a>",
            anchor(group),
            html_escape(group.title())
        ));
    }
    out.push_str("</nav>\n</header>\n<main>\n");
    for group in Group::ALL {
        out.push_str(&format!(
            "<section id=\"{}\">\n<h2>{}</h2>\n<ul>\n",
            anchor(group),
            html_escape(group.title())
        ));
        for route in ROUTES.iter().filter(|r| r.group == group) {
            out.push_str("<li><div class=\"route\">");
            for method in method_names(route) {
                out.push_str(&format!("<span class=\"m {method}\">{method}</span>"));
            }
            out.push_str(&format!(
                "{}</div><div class=\"about\">{}</div><div class=\"try\">",
                html_escape(route.path),
                html_escape(route.about)
            ));
            if route.example.starts_with('/') {
                let link = html_escape(route.example);
                out.push_str(&format!("<a href=\"{link}\">{link}</a>"));
            } else {
                out.push_str(&format!("<code>{}</code>", html_escape(route.example)));
            }
            out.push_str("</div></li>\n");
        }
        out.push_str("</ul>\n</section>\n");
    }
    out.push_str(
        "</main>\n<footer>In the curl lines, URL is this server's address. Every path \
         answers OPTIONS (CORS preflight) too.</footer>\n</body>\n</html>\n",
    );
    out
}

fn anchor(group: Group) -> String {
    group
        .title()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == ' ')
        .collect::<String>()
        .to_ascii_lowercase()
        .replace(' ', "-")
}

/// The OpenAPI 3.1 document of the route table.
fn openapi() -> Value {
    let mut paths = Map::new();
    for route in ROUTES {
        let path = route.path.replace("*}", "}");
        let mut item = Map::new();
        for method in route.methods.listed() {
            item.insert(
                method.as_str().to_ascii_lowercase(),
                operation(route, method),
            );
        }
        paths.insert(path, Value::Object(item));
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "netkit httpbin",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "httpbin and go-httpbin's endpoints, and the Python Cookbook's recipe 5, as netkit serves them. Generated from the route table that dispatches requests."
        },
        "tags": Group::ALL.iter().map(|g| json!({"name": g.title()})).collect::<Vec<_>>(),
        "paths": paths,
        "components": {"schemas": schemas()},
    })
}

fn operation(route: &Route, method: &Method) -> Value {
    let mut op = Map::new();
    op.insert("tags".into(), json!([route.group.title()]));
    op.insert("summary".into(), json!(route.about));
    op.insert(
        "operationId".into(),
        json!(format!(
            "{}{}",
            method.as_str().to_ascii_lowercase(),
            route
                .path
                .replace(|c: char| !c.is_ascii_alphanumeric(), "_")
                .trim_end_matches('_')
        )),
    );
    let params: Vec<Value> = route
        .params
        .iter()
        .map(|p| {
            let mut schema = match p.kind {
                Kind::Str => json!({"type": "string"}),
                Kind::Int => json!({"type": "integer"}),
                Kind::Num => json!({"type": "number"}),
            };
            if p.place == In::Path && p.kind == Kind::Str {
                schema["minLength"] = json!(1);
            }
            json!({
                "name": p.name,
                "in": if p.place == In::Path { "path" } else { "query" },
                "required": p.place == In::Path,
                "description": p.about,
                "schema": schema,
            })
        })
        .collect();
    if !params.is_empty() {
        op.insert("parameters".into(), Value::Array(params));
    }
    let sends_body = *method != Method::GET && *method != Method::HEAD;
    match route.takes {
        Takes::Echoed if sends_body => {
            op.insert(
                "requestBody".into(),
                json!({"required": false, "content": {
                    "application/json": {"schema": {}},
                    "application/x-www-form-urlencoded": {"schema": {"type": "object", "additionalProperties": {"type": "string"}}},
                    "text/plain": {"schema": {"type": "string"}}
                }}),
            );
        }
        Takes::Raw => {
            op.insert(
                "requestBody".into(),
                json!({"required": false, "content": {
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
                }}),
            );
        }
        _ => {}
    }
    let mut responses = Map::new();
    for answer in route.answers {
        let mut response = Map::new();
        response.insert("description".into(), json!(answer.about));
        match answer.shape {
            Shape::Empty | Shape::Anything => {}
            Shape::Json(schema) => {
                response.insert(
                    "content".into(),
                    json!({"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}),
                );
            }
            // Streams of JSON documents (/stream, /jsonl) and of events (/sse) have no one
            // schema for the whole body: only their media type is declared.
            Shape::Media(media) if media.contains("json") || media == "text/event-stream" => {
                response.insert("content".into(), json!({ media: {} }));
            }
            Shape::Media(media) => {
                let schema = if media.starts_with("text/") {
                    json!({"type": "string"})
                } else {
                    json!({"type": "string", "format": "binary"})
                };
                response.insert("content".into(), json!({ media: {"schema": schema} }));
            }
        }
        responses.insert(answer.status.into(), Value::Object(response));
    }
    op.insert("responses".into(), Value::Object(responses));
    Value::Object(op)
}

/// The JSON shapes the routes answer with, by name (`Shape::Json`).
fn schemas() -> Value {
    let string = json!({"type": "string"});
    let multi = json!({"type": "object", "additionalProperties":
        {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}});
    let string_map = json!({"type": "object", "additionalProperties": {"type": "string"}});
    let lists = json!({"type": "object", "additionalProperties":
        {"type": "array", "items": {"type": "string"}}});
    let echo_fields = json!({
        "args": multi, "headers": string_map, "origin": string, "url": string,
    });
    let mut body_fields = echo_fields.clone();
    for (name, schema) in [
        ("data", string.clone()),
        ("files", multi.clone()),
        ("form", multi.clone()),
        ("json", json!({})),
    ] {
        body_fields[name] = schema;
    }
    let mut anything_fields = body_fields.clone();
    anything_fields["method"] = string.clone();
    let object = |properties: &Value, required: &[&str]| json!({"type": "object", "properties": properties, "required": required});
    json!({
        "Any": {},
        "Echo": object(&echo_fields, &["args", "headers", "origin", "url"]),
        "EchoBody": object(&body_fields, &["args", "data", "files", "form", "headers", "origin", "url"]),
        "Anything": object(&anything_fields, &["args", "data", "files", "form", "headers", "method", "origin", "url"]),
        "Headers": object(&json!({"headers": string_map}), &["headers"]),
        "Origin": object(&json!({"origin": string}), &["origin"]),
        "UserAgent": object(&json!({"user-agent": {"type": ["string", "null"]}}), &["user-agent"]),
        "Uuid": object(&json!({"uuid": {"type": "string", "format": "uuid"}}), &["uuid"]),
        "Cookies": object(&json!({"cookies": string_map}), &["cookies"]),
        "Multi": multi,
        "Authenticated": object(&json!({"authenticated": {"type": "boolean"}, "user": string, "token": string}), &["authenticated"]),
        "Encoded": object(&json!({"headers": string_map, "method": string, "origin": string,
            "gzipped": {"type": "boolean"}, "deflated": {"type": "boolean"}, "brotli": {"type": "boolean"}}),
            &["headers", "method", "origin"]),
        "Upload": object(&json!({"args": lists, "headers": lists, "method": string, "origin": string,
            "url": string, "bytes_received": {"type": "integer", "minimum": 0}}),
            &["args", "headers", "method", "origin", "url", "bytes_received"]),
        "Hostname": object(&json!({"hostname": string}), &["hostname"]),
        "Env": object(&json!({"env": string_map}), &["env"]),
        "Version": object(&json!({"service": string, "version": string}), &["service", "version"]),
        "Errors": object(&json!({"errors": {"type": "array", "items": string}}), &["errors"]),
        "GoError": object(&json!({"status_code": {"type": "integer"}, "error": string, "detail": string}),
            &["status_code", "error"]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_on_the_page_and_in_the_spec() {
        let page = landing_html();
        let spec = openapi();
        for route in ROUTES {
            assert!(page.contains(&*html_escape(route.path)), "{}", route.path);
            let path = route.path.replace("*}", "}");
            for method in route.methods.listed() {
                let op = &spec["paths"][&path][method.as_str().to_ascii_lowercase()];
                assert!(op.is_object(), "{} {path}", method);
            }
        }
        for (_, item) in spec["paths"].as_object().unwrap() {
            for (_, op) in item.as_object().unwrap() {
                for (_, answer) in op["responses"].as_object().unwrap() {
                    if let Some(schema) = answer.pointer("/content/application~1json/schema/$ref") {
                        let name = schema.as_str().unwrap().rsplit('/').next().unwrap();
                        assert!(spec["components"]["schemas"].get(name).is_some(), "{name}");
                    }
                }
            }
        }
    }

    #[test]
    fn page_has_no_outside_resources() {
        let page = landing_html();
        assert!(!page.contains("http://") && !page.contains("https://"));
        assert!(!page.contains("<script"));
    }
}
