//! The request items of `netkit http`, as httpie reads them: `Header:value`,
//! `name==query`, `field=string`, `field:=json`, `field@file` and `@file` (the whole
//! body). Pure: strings in, a [`RequestSpec`] out; no files are read and nothing is sent
//! here. JSON fields keep the order they were typed in ([`Json`]).

use super::ordered_json::Json;
use indexmap::IndexMap;
use std::path::PathBuf;

/// One parsed item of the command line.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// `Name:value`; `Name:` (no value) removes a header netkit would send by default.
    Header { name: String, value: Option<String> },
    /// `name==value`: appended to the URL's query.
    Query { name: String, value: String },
    /// `name=value`: a JSON string field, or a form field with `--form`.
    Data { name: String, value: String },
    /// `name:=json`: a raw JSON field (not allowed with `--form`).
    Json { name: String, value: Json },
    /// `name@path[;type=mime]`: a file uploaded as multipart/form-data.
    File {
        name: String,
        path: PathBuf,
        mime: Option<String>,
    },
    /// `@path`: the file is the whole body, as httpie's `http POST URL @data.xml`.
    BodyFile { path: PathBuf },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ItemError {
    #[error("{0:?} is not a request item: use Header:value, name==query, field=value, field:=json or field@file")]
    NoSeparator(String),
    #[error("{0:?}: the name before the separator is empty")]
    EmptyName(String),
    #[error("{item:?}: the value after := is not JSON: {reason}")]
    BadJson { item: String, reason: String },
    #[error("{0:?}: not a valid header name")]
    BadHeaderName(String),
    #[error("{0:?}: header values cannot hold line breaks")]
    BadHeaderValue(String),
    #[error("{0:?}: raw JSON fields (:=) cannot be sent with --form")]
    JsonInForm(String),
    #[error("{0:?}: files (@) cannot be sent with a raw body")]
    FileWithRawBody(String),
    #[error("data fields cannot be sent with a raw body (--raw, --body-file or @file)")]
    DataWithRawBody,
    #[error("{0:?}: only one raw body can be sent (--raw, --body-file or one @file)")]
    TwoRawBodies(String),
    #[error("{name:?}: {reason}")]
    Nesting { name: String, reason: String },
}

/// The separators in the order they are tried at one position: longest first, so that
/// `a:=1` is JSON rather than a header `a` with value `=1`, and `a==1` a query.
const SEPARATORS: [&str; 5] = [":=", "==", "=", ":", "@"];

/// Parses one item. The first separator in the text wins, as in httpie, so values may
/// hold any separator: `url=http://x` is a data field, `Referer:http://x` a header.
pub fn parse_item(text: &str) -> Result<Item, ItemError> {
    let (at, separator) = text
        .char_indices()
        .find_map(|(i, _)| {
            SEPARATORS
                .iter()
                .find(|s| text[i..].starts_with(*s))
                .map(|s| (i, *s))
        })
        .ok_or_else(|| ItemError::NoSeparator(text.to_string()))?;
    let name = &text[..at];
    let value = &text[at + separator.len()..];
    if name.is_empty() && separator == "@" && !value.is_empty() {
        return Ok(Item::BodyFile {
            path: PathBuf::from(value),
        });
    }
    if name.is_empty() {
        return Err(ItemError::EmptyName(text.to_string()));
    }
    let (name, value) = (name.to_string(), value.to_string());
    Ok(match separator {
        ":" => {
            if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err(ItemError::BadHeaderName(text.to_string()));
            }
            if value.contains(['\r', '\n']) {
                return Err(ItemError::BadHeaderValue(text.to_string()));
            }
            Item::Header {
                name,
                value: (!value.is_empty()).then_some(value),
            }
        }
        "==" => Item::Query { name, value },
        "=" => Item::Data { name, value },
        ":=" => Item::Json {
            value: Json::parse(&value).map_err(|e| ItemError::BadJson {
                item: text.to_string(),
                reason: e.to_string(),
            })?,
            name,
        },
        _ => {
            // httpie's `field@path;type=mime/type` names the part's content type.
            let (path, mime) = match value.rsplit_once(";type=") {
                Some((path, mime)) if !mime.is_empty() => (path, Some(mime.to_string())),
                _ => (value.as_str(), None),
            };
            Item::File {
                name,
                path: PathBuf::from(path),
                mime,
            }
        }
    })
}

/// What the request body is made of.
#[derive(Debug, Clone, PartialEq)]
pub enum BodySpec {
    None,
    /// The data and raw JSON fields in command-line order: an object, or an array when
    /// the names start with `[` (httpie's top-level arrays).
    Json(Json),
    /// `application/x-www-form-urlencoded` fields.
    Form(Vec<(String, String)>),
    /// `multipart/form-data`: the fields, then the files.
    Multipart {
        fields: Vec<(String, String)>,
        files: Vec<FilePart>,
    },
    /// `--raw TEXT`, or `--body-file PATH` and `@PATH` (streamed by the runner).
    Raw(RawBody),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawBody {
    Text(String),
    File(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePart {
    pub name: String,
    pub path: PathBuf,
    pub mime: Option<String>,
}

/// Everything the items say about a request.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestSpec {
    pub method: String,
    /// Header items in order; `None` removes a default header.
    pub headers: Vec<(String, Option<String>)>,
    pub query: Vec<(String, String)>,
    pub body: BodySpec,
}

/// Builds the request from the parsed items. The method defaults to GET, or POST when
/// there is something to send, as in httpie.
pub fn build(
    method: Option<&str>,
    items: &[Item],
    form: bool,
    mut raw: Option<RawBody>,
) -> Result<RequestSpec, ItemError> {
    let mut headers = Vec::new();
    let mut query = Vec::new();
    let mut fields: Vec<(String, Json)> = Vec::new();
    let mut files = Vec::new();
    for item in items {
        match item {
            Item::Header { name, value } => headers.push((name.clone(), value.clone())),
            Item::Query { name, value } => query.push((name.clone(), value.clone())),
            Item::Data { name, value } => fields.push((name.clone(), Json::String(value.clone()))),
            Item::Json { name, value } => {
                if form || !files.is_empty() {
                    return Err(ItemError::JsonInForm(format!("{name}:={value}")));
                }
                fields.push((name.clone(), value.clone()))
            }
            Item::File { name, path, mime } => {
                if raw.is_some() {
                    return Err(ItemError::FileWithRawBody(format!(
                        "{name}@{}",
                        path.display()
                    )));
                }
                if let Some((json, _)) = fields.iter().find(|(_, v)| !v.is_string()) {
                    return Err(ItemError::JsonInForm(json.clone()));
                }
                files.push(FilePart {
                    name: name.clone(),
                    path: path.clone(),
                    mime: mime.clone(),
                })
            }
            Item::BodyFile { path } => {
                let item = format!("@{}", path.display());
                if raw.is_some() {
                    return Err(ItemError::TwoRawBodies(item));
                }
                if !files.is_empty() {
                    return Err(ItemError::FileWithRawBody(item));
                }
                raw = Some(RawBody::File(path.clone()));
            }
        }
    }
    let body = if let Some(raw) = raw {
        if !fields.is_empty() {
            return Err(ItemError::DataWithRawBody);
        }
        BodySpec::Raw(raw)
    } else if !files.is_empty() {
        BodySpec::Multipart {
            fields: string_fields(fields),
            files,
        }
    } else if fields.is_empty() {
        BodySpec::None
    } else if form {
        BodySpec::Form(string_fields(fields))
    } else {
        BodySpec::Json(nest(fields)?)
    };
    let method = match method {
        Some(m) => m.to_ascii_uppercase(),
        None if body == BodySpec::None => "GET".to_string(),
        None => "POST".to_string(),
    };
    Ok(RequestSpec {
        method,
        headers,
        query,
        body,
    })
}

/// One step of a nested field name (httpie's `a[b][]`, `a[0]`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
    Append,
}

/// The steps of a field name: `a` → `[a]`; `a[b][]` → `[a, b, append]`; `[0][x]` (no
/// first key: a top-level array) → `[0, x]`. A name that is not well bracketed is a
/// plain key, as it is written.
fn steps(name: &str) -> Vec<Step> {
    let plain = || vec![Step::Key(name.to_string())];
    let Some(open) = name.find('[') else {
        return plain();
    };
    let mut out = Vec::new();
    if open > 0 {
        out.push(Step::Key(name[..open].to_string()));
    }
    let mut rest = &name[open..];
    while !rest.is_empty() {
        let Some(inner) = rest.strip_prefix('[') else {
            return plain();
        };
        let Some(close) = inner.find(']') else {
            return plain();
        };
        let key = &inner[..close];
        out.push(if key.is_empty() {
            Step::Append
        } else if key.bytes().all(|b| b.is_ascii_digit()) {
            match key.parse() {
                Ok(index) => Step::Index(index),
                Err(_) => return plain(),
            }
        } else {
            Step::Key(key.to_string())
        });
        rest = &inner[close + 1..];
    }
    out
}

/// Largest array index a nested name may use: `a[1000000000]` would fill memory with
/// nulls before it.
const MAX_INDEX: usize = 10_000;

/// Builds the JSON body from the fields, nesting bracketed names as httpie does:
/// `a[b]=1 a[c][]=2` → `{"a":{"b":"1","c":["2"]}}`. Keys keep the order they first
/// appear in; a repeated name keeps its place and takes the last value.
fn nest(fields: Vec<(String, Json)>) -> Result<Json, ItemError> {
    let mut root: Option<Json> = None;
    for (name, value) in fields {
        let steps = steps(&name);
        let fresh = match steps.first() {
            Some(Step::Key(_)) => Json::Object(IndexMap::new()),
            _ => Json::Array(Vec::new()),
        };
        let root = root.get_or_insert(fresh);
        insert(root, &steps, value).map_err(|reason| ItemError::Nesting {
            name: name.clone(),
            reason,
        })?;
    }
    Ok(root.unwrap_or_else(|| Json::Object(IndexMap::new())))
}

fn kind(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

/// Puts `value` at `steps` under `target`, making the objects and arrays on the way.
fn insert(target: &mut Json, steps: &[Step], value: Json) -> Result<(), String> {
    let Some((step, rest)) = steps.split_first() else {
        *target = value;
        return Ok(());
    };
    // A place made on the way (null) becomes what the step needs.
    if *target == Json::Null {
        *target = match step {
            Step::Key(_) => Json::Object(IndexMap::new()),
            _ => Json::Array(Vec::new()),
        };
    }
    match (step, target) {
        (Step::Key(key), Json::Object(map)) => {
            let slot = map.entry(key.clone()).or_insert(Json::Null);
            if rest.is_empty() {
                *slot = value;
                Ok(())
            } else {
                insert(slot, rest, value)
            }
        }
        (Step::Append, Json::Array(items)) => {
            items.push(Json::Null);
            let last = items.len() - 1;
            insert(&mut items[last], rest, value)
        }
        (Step::Index(index), Json::Array(items)) => {
            if *index > MAX_INDEX {
                return Err(format!("index {index} is over {MAX_INDEX}"));
            }
            if items.len() <= *index {
                items.resize(index + 1, Json::Null);
            }
            insert(&mut items[*index], rest, value)
        }
        (Step::Key(key), other) => Err(format!(
            "cannot set key {key:?}: the place is {} already",
            kind(other)
        )),
        (_, other) => Err(format!(
            "cannot use it as an array: the place is {} already",
            kind(other)
        )),
    }
}

fn string_fields(fields: Vec<(String, Json)>) -> Vec<(String, String)> {
    fields
        .into_iter()
        .map(|(name, value)| match value {
            Json::String(s) => (name, s),
            other => (name, other.to_string()),
        })
        .collect()
}

/// Splits `[METHOD] URL [ITEM...]`. The first word is a method when it is all letters
/// and either a standard method or followed by something that is not an item (httpie
/// takes any all-letter word; this way `netkit http localhost a==1` works too).
pub fn split_positionals(words: &[String]) -> Option<(Option<String>, String, Vec<String>)> {
    const KNOWN: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
    ];
    let (first, rest) = words.split_first()?;
    let letters =
        !first.is_empty() && first.len() <= 20 && first.bytes().all(|b| b.is_ascii_alphabetic());
    let is_method = match rest.first() {
        Some(second) if letters => {
            KNOWN.contains(&first.to_ascii_uppercase().as_str()) || parse_item(second).is_err()
        }
        _ => false,
    };
    if is_method {
        let (url, items) = rest.split_first()?;
        Some((Some(first.clone()), url.clone(), items.to_vec()))
    } else {
        Some((None, first.clone(), rest.to_vec()))
    }
}

/// The URL as httpie completes it: `:8080/get` → `http://localhost:8080/get`,
/// `localhost:8080/x` or `example.org` → `http://…`; `https://` is kept.
pub fn complete_url(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    // Any scheme given is kept (and one other than http(s) refused by the caller).
    if lower.starts_with("http://") || lower.starts_with("https://") || text.contains("://") {
        return text.to_string();
    }
    if let Some(rest) = text.strip_prefix(':') {
        // `:` alone, `:/path`, `:8080`, `:8080/path`.
        return if rest.is_empty() || rest.starts_with('/') {
            format!("http://localhost{rest}")
        } else {
            format!("http://localhost{text}")
        };
    }
    format!("http://{text}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(text: &str) -> Item {
        parse_item(text).unwrap()
    }

    #[test]
    fn separators() {
        assert_eq!(
            item("X-A:1"),
            Item::Header {
                name: "X-A".into(),
                value: Some("1".into())
            }
        );
        assert_eq!(
            item("Accept:"),
            Item::Header {
                name: "Accept".into(),
                value: None
            }
        );
        assert_eq!(
            item("a==1"),
            Item::Query {
                name: "a".into(),
                value: "1".into()
            }
        );
        assert_eq!(
            item("name=x"),
            Item::Data {
                name: "name".into(),
                value: "x".into()
            }
        );
        assert_eq!(
            item("list:=[1,2]"),
            Item::Json {
                name: "list".into(),
                value: Json::parse("[1,2]").unwrap()
            }
        );
        assert_eq!(
            item("f@/tmp/a.txt;type=text/plain"),
            Item::File {
                name: "f".into(),
                path: "/tmp/a.txt".into(),
                mime: Some("text/plain".into())
            }
        );
        // The first separator wins, so values can hold the others.
        assert_eq!(
            item("url=http://x/?a==b"),
            Item::Data {
                name: "url".into(),
                value: "http://x/?a==b".into()
            }
        );
        assert_eq!(
            item("Referer:http://x/a=b"),
            Item::Header {
                name: "Referer".into(),
                value: Some("http://x/a=b".into())
            }
        );
        assert_eq!(
            item("q==a=b"),
            Item::Query {
                name: "q".into(),
                value: "a=b".into()
            }
        );
        assert_eq!(
            item("e="),
            Item::Data {
                name: "e".into(),
                value: "".into()
            }
        );
    }

    #[test]
    fn bad_items() {
        assert!(matches!(
            parse_item("plain"),
            Err(ItemError::NoSeparator(_))
        ));
        assert!(matches!(parse_item("=x"), Err(ItemError::EmptyName(_))));
        assert!(matches!(parse_item("n:={"), Err(ItemError::BadJson { .. })));
        assert!(matches!(
            parse_item("Bad Name:x"),
            Err(ItemError::BadHeaderName(_))
        ));
    }

    #[test]
    fn bodies_and_methods() {
        let items: Vec<Item> = ["name=x", "n:=3", "a==1", "X:y"]
            .iter()
            .map(|t| item(t))
            .collect();
        let spec = build(None, &items, false, None).unwrap();
        assert_eq!(spec.method, "POST");
        let BodySpec::Json(object) = &spec.body else {
            panic!("{:?}", spec.body)
        };
        assert_eq!(object.to_bytes(), br#"{"name":"x","n":3}"#);
        assert_eq!(spec.query, vec![("a".to_string(), "1".to_string())]);
        assert_eq!(spec.headers, vec![("X".to_string(), Some("y".to_string()))]);

        let spec = build(Some("put"), &[item("a=1")], true, None).unwrap();
        assert_eq!(spec.method, "PUT");
        assert_eq!(spec.body, BodySpec::Form(vec![("a".into(), "1".into())]));

        let spec = build(None, &[item("a==1")], false, None).unwrap();
        assert_eq!((spec.method.as_str(), &spec.body), ("GET", &BodySpec::None));

        let spec = build(None, &[item("a=1"), item("f@x.bin")], false, None).unwrap();
        assert!(matches!(spec.body, BodySpec::Multipart { .. }));

        assert!(matches!(
            build(None, &[item("n:=1")], true, None),
            Err(ItemError::JsonInForm(_))
        ));
        assert!(matches!(
            build(None, &[item("a=1")], false, Some(RawBody::Text("x".into()))),
            Err(ItemError::DataWithRawBody)
        ));
        let spec = build(None, &[], false, Some(RawBody::Text("x".into()))).unwrap();
        assert_eq!(spec.method, "POST");
    }

    #[test]
    fn json_fields_keep_the_typed_order() {
        let items: Vec<Item> = ["z=1", "a:=2", "m:={\"y\":1,\"b\":[2]}", "z=again"]
            .iter()
            .map(|t| item(t))
            .collect();
        let BodySpec::Json(object) = build(None, &items, false, None).unwrap().body else {
            panic!("not JSON")
        };
        // A repeated name keeps its first place and its last value, as in httpie.
        assert_eq!(
            object.to_bytes(),
            br#"{"z":"again","a":2,"m":{"y":1,"b":[2]}}"#
        );
    }

    fn nested(texts: &[&str]) -> Result<String, ItemError> {
        let items: Vec<Item> = texts.iter().map(|t| item(t)).collect();
        match build(None, &items, false, None)?.body {
            BodySpec::Json(json) => Ok(String::from_utf8(json.to_bytes()).unwrap()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn nested_names_build_objects_and_arrays_in_order() {
        assert_eq!(
            nested(&["z[y]=1", "a:=0", "z[b][]:=2", "z[b][]=3", "z[y]=4"]).unwrap(),
            r#"{"z":{"y":"4","b":[2,"3"]},"a":0}"#
        );
        assert_eq!(
            nested(&["l[2]=c", "l[0][k]=a"]).unwrap(),
            r#"{"l":[{"k":"a"},null,"c"]}"#
        );
        // No first key: a top-level array.
        assert_eq!(
            nested(&["[]:=1", "[]=two", "[3][t]=x"]).unwrap(),
            r#"[1,"two",null,{"t":"x"}]"#
        );
        // Not well bracketed: a plain key.
        assert_eq!(
            nested(&["a[b=1", "c]d=2", "e[f]g=3"]).unwrap(),
            r#"{"a[b":"1","c]d":"2","e[f]g":"3"}"#
        );
        // Clashes are errors, not silent overwrites.
        for clash in [
            &["a=1", "a[b]=2"][..],
            &["a[]=1", "a[b]=2"],
            &["a[b]=1", "a[]=2"],
            &["x=1", "[]=2"],
            &["a[100000]=1"],
        ] {
            assert!(
                matches!(nested(clash), Err(ItemError::Nesting { .. })),
                "{clash:?}"
            );
        }
        // Forms keep names as they are.
        let spec = build(None, &[item("a[b]=1")], true, None).unwrap();
        assert_eq!(spec.body, BodySpec::Form(vec![("a[b]".into(), "1".into())]));
    }

    #[test]
    fn a_file_as_the_whole_body() {
        assert_eq!(
            item("@data.xml"),
            Item::BodyFile {
                path: "data.xml".into()
            }
        );
        assert!(matches!(parse_item("@"), Err(ItemError::EmptyName(_))));
        let spec = build(None, &[item("@big"), item("X:1")], false, None).unwrap();
        assert_eq!(spec.method, "POST");
        assert_eq!(spec.body, BodySpec::Raw(RawBody::File("big".into())));
        assert!(matches!(
            build(None, &[item("@a"), item("@b")], false, None),
            Err(ItemError::TwoRawBodies(_))
        ));
        assert!(matches!(
            build(None, &[item("@a"), item("n=1")], false, None),
            Err(ItemError::DataWithRawBody)
        ));
        assert!(matches!(
            build(None, &[item("f@a"), item("@b")], false, None),
            Err(ItemError::FileWithRawBody(_))
        ));
        let text = Some(RawBody::Text("x".into()));
        assert!(matches!(
            build(None, &[item("@b")], false, text),
            Err(ItemError::TwoRawBodies(_))
        ));
    }

    #[test]
    fn urls_and_methods() {
        assert_eq!(complete_url(":8080/get"), "http://localhost:8080/get");
        assert_eq!(complete_url(":/x"), "http://localhost/x");
        assert_eq!(complete_url(":"), "http://localhost");
        assert_eq!(
            complete_url("localhost:8080/get"),
            "http://localhost:8080/get"
        );
        assert_eq!(complete_url("HTTPS://h/"), "HTTPS://h/");
        assert_eq!(complete_url("ftp://h/"), "ftp://h/");
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let split = |w: &[&str]| split_positionals(&words(w)).unwrap();
        assert_eq!(split(&["localhost"]), (None, "localhost".into(), vec![]));
        assert_eq!(
            split(&["GET", "localhost:8080/x"]),
            (Some("GET".into()), "localhost:8080/x".into(), vec![])
        );
        assert_eq!(
            split(&["localhost", "a==1"]),
            (None, "localhost".into(), words(&["a==1"]))
        );
        assert_eq!(
            split(&["propfind", ":8080/x", "a==1"]),
            (Some("propfind".into()), ":8080/x".into(), words(&["a==1"]))
        );
        assert_eq!(
            split(&[":8080/post", "a=1"]),
            (None, ":8080/post".into(), words(&["a=1"]))
        );
        assert!(split_positionals(&[]).is_none());
    }
}
