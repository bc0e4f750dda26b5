//! Recipe 5's REST endpoints: /hello and /localtime, with the recipe's exact documents,
//! GET only as the recipe's `PathDispatcher` registers them (the route table answers any
//! other method with its 404). Parameters come from the query string, as
//! `cgi.FieldStorage` gives them for a GET; unlike the recipe, `name` is HTML-escaped (no
//! XSS through a link).

use super::shapes;
use super::{Req, Response};
use crate::proto::http::html_escape;
use http::StatusCode;

/// The recipe's template, as its triple-quoted string holds it.
const HELLO: &str = "                <html>
                <head>
                <title>Hello {name}</title>
                </head>
                <body>
                <h1>Hello {name}!</h1>
                </body>
                </html>";

const LOCALTIME: &str = "                    <html>
                    <time>
                    <year>{year}</year>
                    <month>{month}</month>
                    <day>{day}</day>
                    <hour>{hour}</hour>
                    <minute>{minute}</minute>
                    <second>{second}</second>
                    </time>
                    </html>";

/// Python's `repr` of a str.
fn py_repr(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::from(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// `params.getvalue('name')` as `str.format` prints it: the value, a list's repr when the
/// key repeats, `None` when absent.
fn name_of(pairs: &[(String, String)]) -> String {
    let values: Vec<&str> = pairs
        .iter()
        .filter(|(k, _)| k == "name")
        .map(|(_, v)| v.as_str())
        .collect();
    match values.as_slice() {
        [] => "None".into(),
        [one] => one.to_string(),
        many => format!(
            "[{}]",
            many.iter()
                .map(|v| py_repr(v))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

pub fn hello(req: &Req) -> Response {
    let name = html_escape(&name_of(&req.query_pairs()));
    shapes::bytes(StatusCode::OK, "text/html", HELLO.replace("{name}", &name))
}

pub fn localtime() -> Response {
    let now = jiff::Zoned::now();
    let body = LOCALTIME
        .replace("{year}", &now.year().to_string())
        .replace("{month}", &now.month().to_string())
        .replace("{day}", &now.day().to_string())
        .replace("{hour}", &now.hour().to_string())
        .replace("{minute}", &now.minute().to_string())
        .replace("{second}", &now.second().to_string());
    shapes::bytes(StatusCode::OK, "application/html", body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_like_field_storage() {
        let p = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>()
        };
        assert_eq!(name_of(&p(&[])), "None");
        assert_eq!(name_of(&p(&[("name", "Guido")])), "Guido");
        assert_eq!(
            name_of(&p(&[("name", "a"), ("x", "1"), ("name", "b'c")])),
            "['a', \"b'c\"]"
        );
    }
}
