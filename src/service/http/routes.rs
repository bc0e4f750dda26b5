//! The one route table, as data: every path the HTTP service answers, with the methods it
//! takes, its group, a line of description, a working example, its parameters, the
//! answers it gives and its handler. Requests are dispatched from it, and the landing
//! page (`/`) and the OpenAPI document (`/spec.json`) are generated from it, so the three
//! cannot disagree. OPTIONS is answered by the middleware; any path not here is the
//! recipe's 404.

use super::{
    auth, cache, cookies, dynamic, formats, gobin, inspect, methods, redirect, rest, shapes, site,
    status, websocket,
};
use super::{middleware, Req, Response, State};
use http::{Method, Request};
use hyper::body::Incoming;
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::LazyLock;

/// Which methods a route answers.
#[derive(Debug, Clone, Copy)]
pub enum Methods {
    /// Any method (httpbin's /anything, /status, /delay, …).
    Any,
    /// These; HEAD wherever GET is (hyper sends no body for it); any other gets 405.
    Only(&'static [Method]),
    /// Exactly these, as recipe 5's `PathDispatcher` registers them: any other method,
    /// HEAD included (wsgiref passes it through as is), is the recipe's 404.
    Exactly(&'static [Method]),
}

impl Methods {
    /// The methods the spec and the landing page list.
    pub fn listed(self) -> &'static [Method] {
        const ANY: &[Method] = &[
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ];
        match self {
            Methods::Any => ANY,
            Methods::Only(list) | Methods::Exactly(list) => list,
        }
    }
}

/// Where httpbin's landing page puts an endpoint, plus netkit's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Group {
    HttpMethods,
    Auth,
    StatusCodes,
    RequestInspection,
    ResponseInspection,
    ResponseFormats,
    DynamicData,
    Cookies,
    Images,
    Redirects,
    Anything,
    Netkit,
    Server,
}

impl Group {
    pub const ALL: [Group; 13] = [
        Group::HttpMethods,
        Group::Auth,
        Group::StatusCodes,
        Group::RequestInspection,
        Group::ResponseInspection,
        Group::ResponseFormats,
        Group::DynamicData,
        Group::Cookies,
        Group::Images,
        Group::Redirects,
        Group::Anything,
        Group::Netkit,
        Group::Server,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Group::HttpMethods => "HTTP methods",
            Group::Auth => "Auth",
            Group::StatusCodes => "Status codes",
            Group::RequestInspection => "Request inspection",
            Group::ResponseInspection => "Response inspection",
            Group::ResponseFormats => "Response formats",
            Group::DynamicData => "Dynamic data",
            Group::Cookies => "Cookies",
            Group::Images => "Images",
            Group::Redirects => "Redirects",
            Group::Anything => "Anything",
            Group::Netkit => "netkit's own",
            Group::Server => "This server",
        }
    }
}

/// A parameter's JSON type, as the spec declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    Int,
    Num,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum In {
    Path,
    Query,
}

#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub place: In,
    pub kind: Kind,
    pub about: &'static str,
}

const fn path(name: &'static str, kind: Kind, about: &'static str) -> Param {
    Param {
        name,
        place: In::Path,
        kind,
        about,
    }
}

const fn query(name: &'static str, kind: Kind, about: &'static str) -> Param {
    Param {
        name,
        place: In::Query,
        kind,
        about,
    }
}

/// What a request may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Takes {
    Nothing,
    /// A body echoed back as httpbin reads it (form, multipart, JSON or raw data).
    Echoed,
    /// Any bytes, counted and dropped.
    Raw,
}

/// A response body, as the spec describes it.
#[derive(Debug, Clone, Copy)]
pub enum Shape {
    /// No body (or an empty one) and no Content-Type.
    Empty,
    /// Whatever the status asked for carries (/status, /drip).
    Anything,
    /// JSON of the named schema (see `site::schema`).
    Json(&'static str),
    /// Any other body of this media type.
    Media(&'static str),
}

/// One answer a route gives: a status (`"200"`, `"4XX"`, `"default"`) and its body.
#[derive(Debug, Clone, Copy)]
pub struct Answer {
    pub status: &'static str,
    pub about: &'static str,
    pub shape: Shape,
}

const fn ok(shape: Shape) -> Answer {
    Answer {
        status: "200",
        about: "OK",
        shape,
    }
}

const fn json(schema: &'static str) -> Answer {
    ok(Shape::Json(schema))
}

const BAD: Answer = Answer {
    status: "400",
    about: "a parameter is not what the endpoint takes",
    shape: Shape::Media("text/plain"),
};

const GO_BAD: Answer = Answer {
    status: "400",
    about: "a parameter is not what the endpoint takes",
    shape: Shape::Json("GoError"),
};

const FOUND: Answer = Answer {
    status: "302",
    about: "redirect (see Location)",
    shape: Shape::Media("text/html"),
};

pub type Reply<'a> = Pin<Box<dyn Future<Output = Response> + Send + 'a>>;

/// How a route's handler is called.
#[derive(Clone, Copy)]
pub enum Handler {
    /// After the body is read whole, under `--http-max-body`.
    Whole(Whole),
    /// Reads the body itself as it streams in, not held to `--http-max-body` (/upload).
    Streams(for<'a> fn(Req, Incoming, &'a State) -> Reply<'a>),
}

/// A handler of a request whose body has been read. Path parameters come in the order the
/// path names them.
#[derive(Clone, Copy)]
pub enum Whole {
    Ready(fn(&Req, &State, &[&str]) -> Response),
    Later(for<'a> fn(&'a Req, &'a State, &'a [&'a str]) -> Reply<'a>),
    /// Takes the request over (the WebSocket upgrade).
    Takes(fn(Req, &State) -> Response),
}

const fn ready(handler: fn(&Req, &State, &[&str]) -> Response) -> Handler {
    Handler::Whole(Whole::Ready(handler))
}

const fn later(handler: for<'a> fn(&'a Req, &'a State, &'a [&'a str]) -> Reply<'a>) -> Handler {
    Handler::Whole(Whole::Later(handler))
}

pub struct Route {
    /// OpenAPI path template; a last `{name*}` takes the rest of the path.
    pub path: &'static str,
    pub methods: Methods,
    pub group: Group,
    pub about: &'static str,
    /// A link that works in a browser, or for other methods the curl line to try.
    pub example: &'static str,
    pub params: &'static [Param],
    pub takes: Takes,
    pub answers: &'static [Answer],
    pub handler: Handler,
}

const GET: Methods = Methods::Only(&[Method::GET]);
const GET_POST: Methods = Methods::Only(&[Method::GET, Method::POST]);
const BODY_METHODS: Methods = Methods::Only(&[Method::POST, Method::PUT, Method::PATCH]);

const SEED: Param = query("seed", Kind::Int, "seed for the random generator");

macro_rules! route {
    ($path:expr, $methods:expr, $group:ident, $about:expr, $example:expr,
     [$($param:expr),*], $takes:ident, [$($answer:expr),*], $handler:expr) => {
        Route {
            path: $path,
            methods: $methods,
            group: Group::$group,
            about: $about,
            example: $example,
            params: &[$($param),*],
            takes: Takes::$takes,
            answers: &[$($answer),*],
            handler: $handler,
        }
    };
}

pub static ROUTES: &[Route] = &[
    // HTTP methods
    route!(
        "/get",
        GET,
        HttpMethods,
        "The request's query, headers, origin and URL.",
        "/get?show=me",
        [],
        Nothing,
        [json("Echo")],
        ready(|r, _, _| methods::get(r))
    ),
    route!(
        "/post",
        Methods::Only(&[Method::POST]),
        HttpMethods,
        "The request echoed, body parsed as form, files, JSON or data.",
        "curl -d name=value URL/post",
        [],
        Echoed,
        [json("EchoBody"), BAD],
        later(|r, _, _| Box::pin(methods::with_body(r)))
    ),
    route!(
        "/put",
        Methods::Only(&[Method::PUT]),
        HttpMethods,
        "As /post, for PUT.",
        "curl -X PUT -d name=value URL/put",
        [],
        Echoed,
        [json("EchoBody"), BAD],
        later(|r, _, _| Box::pin(methods::with_body(r)))
    ),
    route!(
        "/patch",
        Methods::Only(&[Method::PATCH]),
        HttpMethods,
        "As /post, for PATCH.",
        "curl -X PATCH -d name=value URL/patch",
        [],
        Echoed,
        [json("EchoBody"), BAD],
        later(|r, _, _| Box::pin(methods::with_body(r)))
    ),
    route!(
        "/delete",
        Methods::Only(&[Method::DELETE]),
        HttpMethods,
        "As /post, for DELETE.",
        "curl -X DELETE URL/delete",
        [],
        Echoed,
        [json("EchoBody"), BAD],
        later(|r, _, _| Box::pin(methods::with_body(r)))
    ),
    route!(
        "/head",
        Methods::Only(&[Method::HEAD]),
        HttpMethods,
        "HEAD only: the headers /get would send (go-httpbin).",
        "curl -I URL/head",
        [],
        Nothing,
        [ok(Shape::Empty)],
        ready(|r, _, _| methods::get(r))
    ),
    route!(
        "/upload",
        BODY_METHODS,
        HttpMethods,
        "Reads any size of body and counts it without keeping it (go-httpbin).",
        "curl -T big.file URL/upload",
        [],
        Raw,
        [json("Upload"), GO_BAD],
        Handler::Streams(|r, body, s| Box::pin(gobin::upload(r, body, s)))
    ),
    route!(
        "/forms/post",
        GET,
        HttpMethods,
        "An HTML form that POSTs to /post.",
        "/forms/post",
        [],
        Nothing,
        [ok(Shape::Media("text/html"))],
        ready(|_, _, _| formats::form_page())
    ),
    // Auth
    route!(
        "/basic-auth/{user}/{passwd}",
        GET,
        Auth,
        "Asks for HTTP Basic credentials user:passwd.",
        "/basic-auth/user/passwd",
        [
            path("user", Kind::Str, "user name"),
            path("passwd", Kind::Str, "password")
        ],
        Nothing,
        [
            json("Authenticated"),
            Answer {
                status: "401",
                about: "no or wrong credentials",
                shape: Shape::Empty
            }
        ],
        ready(|r, _, p| auth::basic(r, p[0], p[1], false))
    ),
    route!(
        "/hidden-basic-auth/{user}/{passwd}",
        GET,
        Auth,
        "As /basic-auth, but 404 instead of a 401 challenge.",
        "/hidden-basic-auth/user/passwd",
        [
            path("user", Kind::Str, "user name"),
            path("passwd", Kind::Str, "password")
        ],
        Nothing,
        [
            json("Authenticated"),
            Answer {
                status: "404",
                about: "no or wrong credentials",
                shape: Shape::Media("text/plain")
            }
        ],
        ready(|r, _, p| auth::basic(r, p[0], p[1], true))
    ),
    route!(
        "/bearer",
        GET,
        Auth,
        "Asks for an Authorization: Bearer token.",
        "/bearer",
        [],
        Nothing,
        [
            json("Authenticated"),
            Answer {
                status: "401",
                about: "no token",
                shape: Shape::Empty
            }
        ],
        ready(|r, _, _| auth::bearer(r))
    ),
    route!(
        "/digest-auth/{qop}/{user}/{passwd}",
        Methods::Any,
        Auth,
        "Asks for HTTP Digest credentials (MD5).",
        "/digest-auth/auth/user/passwd",
        [
            path("qop", Kind::Str, "auth or auth-int"),
            path("user", Kind::Str, "user name"),
            path("passwd", Kind::Str, "password"),
            query(
                "require-cookie",
                Kind::Str,
                "1: the client must send back the challenge's cookie"
            )
        ],
        Echoed,
        [json("Authenticated"), DIGEST_401, DIGEST_403],
        ready(|r, s, p| auth::digest(r, s, p[0], p[1], p[2], "MD5", "never"))
    ),
    route!(
        "/digest-auth/{qop}/{user}/{passwd}/{algorithm}",
        Methods::Any,
        Auth,
        "Digest with MD5, SHA-256 or SHA-512 (anything else is MD5).",
        "/digest-auth/auth/user/passwd/SHA-256",
        [
            path("qop", Kind::Str, "auth or auth-int"),
            path("user", Kind::Str, "user name"),
            path("passwd", Kind::Str, "password"),
            path("algorithm", Kind::Str, "MD5, SHA-256 or SHA-512"),
            query(
                "require-cookie",
                Kind::Str,
                "1: the client must send back the challenge's cookie"
            )
        ],
        Echoed,
        [json("Authenticated"), DIGEST_401, DIGEST_403],
        ready(|r, s, p| auth::digest(r, s, p[0], p[1], p[2], p[3], "never"))
    ),
    route!(
        "/digest-auth/{qop}/{user}/{passwd}/{algorithm}/{stale_after}",
        Methods::Any,
        Auth,
        "Digest whose nonces go stale after stale_after uses.",
        "/digest-auth/auth/user/passwd/MD5/2",
        [
            path("qop", Kind::Str, "auth or auth-int"),
            path("user", Kind::Str, "user name"),
            path("passwd", Kind::Str, "password"),
            path("algorithm", Kind::Str, "MD5, SHA-256 or SHA-512"),
            path("stale_after", Kind::Str, "uses per nonce, or never"),
            query(
                "require-cookie",
                Kind::Str,
                "1: the client must send back the challenge's cookie"
            )
        ],
        Echoed,
        [json("Authenticated"), DIGEST_401, DIGEST_403],
        ready(|r, s, p| auth::digest(r, s, p[0], p[1], p[2], p[3], p[4]))
    ),
    // Status codes
    route!(
        "/status/{codes}",
        Methods::Any,
        StatusCodes,
        "Answers with that status; several (code:weight,…) are drawn at random.",
        "/status/418",
        [path(
            "codes",
            Kind::Str,
            "a status code, or codes with weights: 200:3,500"
        )],
        Nothing,
        [Answer {
            status: "default",
            about: "the status asked for",
            shape: Shape::Anything
        }],
        ready(|_, _, p| status::status(p[0]))
    ),
    route!(
        "/unstable",
        Methods::Any,
        StatusCodes,
        "500 with probability failure_rate (default 0.5), else 200 (go-httpbin).",
        "/unstable?failure_rate=0",
        [query("failure_rate", Kind::Num, "between 0 and 1")],
        Nothing,
        [
            ok(Shape::Media("text/html")),
            BAD,
            Answer {
                status: "500",
                about: "the failure asked for",
                shape: Shape::Media("text/html")
            }
        ],
        ready(|r, _, _| status::unstable(r))
    ),
    // Request inspection
    route!(
        "/headers",
        GET,
        RequestInspection,
        "The request's headers.",
        "/headers",
        [query(
            "show_env",
            Kind::Str,
            "1: also the headers proxies add"
        )],
        Nothing,
        [json("Headers")],
        ready(|r, _, _| inspect::headers(r))
    ),
    route!(
        "/ip",
        GET,
        RequestInspection,
        "The client's address.",
        "/ip",
        [],
        Nothing,
        [json("Origin")],
        ready(|r, _, _| inspect::ip(r))
    ),
    route!(
        "/user-agent",
        GET,
        RequestInspection,
        "The request's User-Agent.",
        "/user-agent",
        [],
        Nothing,
        [json("UserAgent")],
        ready(|r, _, _| inspect::user_agent(r))
    ),
    route!(
        "/dump/request",
        Methods::Any,
        RequestInspection,
        "The request as text, the way it came (go-httpbin).",
        "/dump/request?x=1",
        [],
        Echoed,
        [ok(Shape::Media("text/plain"))],
        ready(|r, _, _| inspect::dump_request(r))
    ),
    // Response inspection
    route!(
        "/cache",
        GET,
        ResponseInspection,
        "304 for a conditional request, else /get with Last-Modified and ETag.",
        "/cache",
        [],
        Nothing,
        [
            json("Echo"),
            Answer {
                status: "304",
                about: "not modified",
                shape: Shape::Empty
            }
        ],
        ready(|r, _, _| cache::cache(r))
    ),
    route!(
        "/cache/{n}",
        GET,
        ResponseInspection,
        "/get with Cache-Control: public, max-age=n.",
        "/cache/60",
        [path("n", Kind::Int, "seconds")],
        Nothing,
        [json("Echo"), BAD],
        ready(|r, _, p| cache::cache_for(r, p[0]))
    ),
    route!(
        "/etag/{etag}",
        GET,
        ResponseInspection,
        "/get with that ETag, honouring If-None-Match and If-Match.",
        "/etag/abc",
        [path("etag", Kind::Str, "the entity tag")],
        Nothing,
        [
            json("Echo"),
            Answer {
                status: "304",
                about: "If-None-Match matched",
                shape: Shape::Empty
            },
            Answer {
                status: "412",
                about: "If-Match did not match",
                shape: Shape::Empty
            }
        ],
        ready(|r, _, p| cache::etag(r, p[0]))
    ),
    route!(
        "/response-headers",
        GET_POST,
        ResponseInspection,
        "Sets the query's pairs as response headers, and shows them.",
        "/response-headers?X-Netkit=yes",
        [],
        Nothing,
        [json("Multi"), BAD],
        ready(|r, _, _| cache::response_headers(r))
    ),
    route!(
        "/trailers",
        GET,
        ResponseInspection,
        "A chunked echo whose query pairs come back as HTTP trailers (go-httpbin).",
        "/trailers?X-Trailer=yes",
        [],
        Nothing,
        [json("Echo"), BAD],
        ready(|r, _, _| dynamic::trailers(r))
    ),
    // Response formats
    route!(
        "/json",
        GET,
        ResponseFormats,
        "A JSON document.",
        "/json",
        [],
        Nothing,
        [json("Any")],
        ready(|_, _, _| formats::json())
    ),
    route!(
        "/html",
        GET,
        ResponseFormats,
        "An HTML page.",
        "/html",
        [],
        Nothing,
        [ok(Shape::Media("text/html"))],
        ready(|_, _, _| formats::html())
    ),
    route!(
        "/xml",
        GET,
        ResponseFormats,
        "An XML document.",
        "/xml",
        [],
        Nothing,
        [ok(Shape::Media("application/xml"))],
        ready(|_, _, _| formats::xml())
    ),
    route!(
        "/encoding/utf8",
        GET,
        ResponseFormats,
        "A page of UTF-8 text.",
        "/encoding/utf8",
        [],
        Nothing,
        [ok(Shape::Media("text/html"))],
        ready(|_, _, _| formats::utf8())
    ),
    route!(
        "/gzip",
        GET,
        ResponseFormats,
        "gzip-encoded JSON.",
        "/gzip",
        [],
        Nothing,
        [json("Encoded")],
        ready(|r, _, _| formats::gzip(r))
    ),
    route!(
        "/deflate",
        GET,
        ResponseFormats,
        "deflate-encoded JSON.",
        "/deflate",
        [],
        Nothing,
        [json("Encoded")],
        ready(|r, _, _| formats::deflate(r))
    ),
    route!(
        "/brotli",
        GET,
        ResponseFormats,
        "brotli-encoded JSON.",
        "/brotli",
        [],
        Nothing,
        [json("Encoded")],
        ready(|r, _, _| formats::brotli(r))
    ),
    route!(
        "/robots.txt",
        GET,
        ResponseFormats,
        "A robots.txt.",
        "/robots.txt",
        [],
        Nothing,
        [ok(Shape::Media("text/plain"))],
        ready(|_, _, _| formats::robots())
    ),
    route!(
        "/deny",
        GET,
        ResponseFormats,
        "What robots.txt denies.",
        "/deny",
        [],
        Nothing,
        [ok(Shape::Media("text/plain"))],
        ready(|_, _, _| formats::deny())
    ),
    // Dynamic data
    route!(
        "/uuid",
        GET,
        DynamicData,
        "A random UUID4.",
        "/uuid",
        [],
        Nothing,
        [json("Uuid")],
        ready(|_, _, _| inspect::uuid())
    ),
    route!(
        "/base64/{value}",
        GET,
        DynamicData,
        "Decodes URL-safe base64.",
        "/base64/SFRUUEJJTiBpcyBhd2Vzb21l",
        [path("value", Kind::Str, "base64url text")],
        Nothing,
        [ok(Shape::Media("text/html"))],
        ready(|_, _, p| formats::base64(p[0]))
    ),
    route!(
        "/base64/encode/{data}",
        GET,
        DynamicData,
        "Encodes data as URL-safe base64 (go-httpbin).",
        "/base64/encode/netkit",
        [path("data", Kind::Str, "text to encode")],
        Nothing,
        [ok(Shape::Media("text/plain")), GO_BAD],
        ready(|_, _, p| gobin::base64_encode(p[0]))
    ),
    route!(
        "/base64/decode/{data}",
        GET,
        DynamicData,
        "Decodes base64, URL-safe or standard (go-httpbin).",
        "/base64/decode/bmV0a2l0",
        [path("data", Kind::Str, "base64 text")],
        Nothing,
        [ok(Shape::Media("text/plain")), GO_BAD],
        ready(|_, _, p| gobin::base64_decode(p[0]))
    ),
    route!(
        "/bytes/{n}",
        GET,
        DynamicData,
        "n random bytes (at most --http-max-bytes).",
        "/bytes/64?seed=1",
        [path("n", Kind::Int, "how many"), SEED],
        Nothing,
        [ok(Shape::Media("application/octet-stream")), BAD],
        ready(|r, s, p| dynamic::bytes(r, p[0], s))
    ),
    route!(
        "/stream-bytes/{n}",
        GET,
        DynamicData,
        "n random bytes, chunked.",
        "/stream-bytes/64?chunk_size=16",
        [
            path("n", Kind::Int, "how many"),
            SEED,
            query("chunk_size", Kind::Int, "bytes per chunk")
        ],
        Nothing,
        [ok(Shape::Media("application/octet-stream")), BAD],
        ready(|r, s, p| dynamic::stream_bytes(r, p[0], s))
    ),
    route!(
        "/stream/{n}",
        GET,
        DynamicData,
        "n lines of JSON (at most 100).",
        "/stream/3",
        [path("n", Kind::Int, "how many lines")],
        Nothing,
        [ok(Shape::Media("application/json")), BAD],
        ready(|r, _, p| dynamic::stream(r, p[0]))
    ),
    route!(
        "/jsonl",
        GET,
        DynamicData,
        "count JSON lines (NDJSON) over duration after delay (go-httpbin).",
        "/jsonl?count=3",
        [
            query("count", Kind::Int, "lines (default 10)"),
            query("duration", Kind::Num, "seconds to spread them over"),
            query("delay", Kind::Num, "seconds before the first")
        ],
        Nothing,
        [ok(Shape::Media("application/x-ndjson")), GO_BAD],
        ready(|r, s, _| gobin::jsonl(r, s))
    ),
    route!(
        "/range/{n}",
        GET,
        DynamicData,
        "n bytes that honour Range requests.",
        "/range/26",
        [
            path("n", Kind::Int, "how many bytes"),
            query("chunk_size", Kind::Int, "bytes per chunk"),
            query("duration", Kind::Num, "seconds to spread them over")
        ],
        Nothing,
        [
            ok(Shape::Media("application/octet-stream")),
            Answer {
                status: "206",
                about: "the range asked for",
                shape: Shape::Media("application/octet-stream")
            },
            BAD,
            Answer {
                status: "404",
                about: "n out of (0, --http-max-bytes], as httpbin answers it",
                shape: Shape::Media("text/plain")
            },
            Answer {
                status: "416",
                about: "range not satisfiable",
                shape: Shape::Media("application/octet-stream")
            }
        ],
        ready(|r, s, p| dynamic::range(r, p[0], s))
    ),
    route!(
        "/drip",
        GET,
        DynamicData,
        "numbytes bytes dripped over duration after delay.",
        "/drip?numbytes=5&duration=1",
        [
            query("numbytes", Kind::Int, "how many bytes"),
            query("duration", Kind::Num, "seconds"),
            query("delay", Kind::Num, "seconds first"),
            query("code", Kind::Int, "the status to answer with")
        ],
        Nothing,
        [Answer {
            status: "default",
            about: "the status asked for",
            shape: Shape::Anything
        }],
        ready(|r, s, _| dynamic::drip(r, s))
    ),
    route!(
        "/delay/{n}",
        Methods::Any,
        DynamicData,
        "The request echoed after n seconds.",
        "/delay/1",
        [path("n", Kind::Num, "seconds (at most --http-max-delay)")],
        Echoed,
        [json("EchoBody"), BAD],
        later(|r, s, p| Box::pin(dynamic::delay(r, p[0], s)))
    ),
    route!(
        "/links/{n}",
        GET,
        DynamicData,
        "A page of n links.",
        "/links/5",
        [path("n", Kind::Int, "how many")],
        Nothing,
        [ok(Shape::Media("text/html")), BAD],
        ready(|_, _, p| dynamic::links(p[0], "0"))
    ),
    route!(
        "/links/{n}/{offset}",
        GET,
        DynamicData,
        "Page offset of n linked pages.",
        "/links/5/2",
        [
            path("n", Kind::Int, "how many"),
            path("offset", Kind::Int, "this page")
        ],
        Nothing,
        [ok(Shape::Media("text/html")), BAD],
        ready(|_, _, p| dynamic::links(p[0], p[1]))
    ),
    // Cookies
    route!(
        "/cookies",
        GET,
        Cookies,
        "The cookies the request sent.",
        "/cookies",
        [],
        Nothing,
        [json("Cookies")],
        ready(|r, _, _| cookies::list(r))
    ),
    route!(
        "/cookies/set",
        GET,
        Cookies,
        "Sets the query's pairs as cookies, then /cookies.",
        "/cookies/set?flavour=oat",
        [],
        Nothing,
        [FOUND, BAD],
        ready(|r, _, _| cookies::set_from_query(r))
    ),
    route!(
        "/cookies/set/{name}/{value}",
        GET,
        Cookies,
        "Sets one cookie, then /cookies.",
        "/cookies/set/flavour/oat",
        [
            path("name", Kind::Str, "cookie name"),
            path("value", Kind::Str, "cookie value")
        ],
        Nothing,
        [FOUND, BAD],
        ready(|_, _, p| cookies::set_one(p[0], p[1]))
    ),
    route!(
        "/cookies/delete",
        GET,
        Cookies,
        "Deletes the cookies the query names.",
        "/cookies/delete?flavour",
        [],
        Nothing,
        [FOUND, BAD],
        ready(|r, _, _| cookies::delete(r))
    ),
    // Images
    route!(
        "/image",
        GET,
        Images,
        "An image in the format Accept asks for.",
        "/image",
        [],
        Nothing,
        [
            ok(Shape::Media("image/png")),
            Answer {
                status: "406",
                about: "no format we have",
                shape: Shape::Media("application/json")
            }
        ],
        ready(|r, _, _| formats::image(r))
    ),
    route!(
        "/image/png",
        GET,
        Images,
        "A PNG image.",
        "/image/png",
        [],
        Nothing,
        [ok(Shape::Media("image/png"))],
        ready(|_, _, _| formats::png())
    ),
    route!(
        "/image/jpeg",
        GET,
        Images,
        "A JPEG image.",
        "/image/jpeg",
        [],
        Nothing,
        [ok(Shape::Media("image/jpeg"))],
        ready(|_, _, _| formats::jpeg())
    ),
    route!(
        "/image/webp",
        GET,
        Images,
        "A WebP image.",
        "/image/webp",
        [],
        Nothing,
        [ok(Shape::Media("image/webp"))],
        ready(|_, _, _| formats::webp())
    ),
    route!(
        "/image/svg",
        GET,
        Images,
        "An SVG image.",
        "/image/svg",
        [],
        Nothing,
        [ok(Shape::Media("image/svg+xml"))],
        ready(|_, _, _| formats::svg())
    ),
    // Redirects
    route!(
        "/redirect/{n}",
        GET,
        Redirects,
        "n redirects, then /get (absolute=true for full URLs).",
        "/redirect/3",
        [
            path("n", Kind::Int, "how many"),
            query("absolute", Kind::Str, "true for absolute Location URLs")
        ],
        Nothing,
        [FOUND, BAD],
        ready(|r, _, p| redirect::redirect(r, p[0]))
    ),
    route!(
        "/relative-redirect/{n}",
        GET,
        Redirects,
        "n relative redirects, then /get.",
        "/relative-redirect/3",
        [path("n", Kind::Int, "how many")],
        Nothing,
        [FOUND, BAD],
        ready(|_, _, p| redirect::relative(p[0]))
    ),
    route!(
        "/absolute-redirect/{n}",
        GET,
        Redirects,
        "n absolute redirects, then /get.",
        "/absolute-redirect/3",
        [path("n", Kind::Int, "how many")],
        Nothing,
        [FOUND, BAD],
        ready(|r, _, p| redirect::absolute(r, p[0]))
    ),
    route!(
        "/redirect-to",
        Methods::Any,
        Redirects,
        "Redirects to url: this host, loopback, or a host --http-allow-redirect names.",
        "/redirect-to?url=/get",
        [
            query("url", Kind::Str, "where to"),
            query("status_code", Kind::Int, "a 3xx status (default 302)")
        ],
        Echoed,
        [
            Answer {
                status: "3XX",
                about: "redirect to url",
                shape: Shape::Media("text/html")
            },
            BAD,
            Answer {
                status: "403",
                about: "a foreign host not allowed",
                shape: Shape::Media("text/plain")
            }
        ],
        ready(|r, s, _| redirect::redirect_to(r, s))
    ),
    // Anything
    route!(
        "/anything",
        Methods::Any,
        Anything,
        "The request echoed, whatever its method.",
        "/anything?x=1",
        [],
        Echoed,
        [json("Anything"), BAD],
        later(|r, _, _| Box::pin(methods::anything(r)))
    ),
    route!(
        "/anything/{anything*}",
        Methods::Any,
        Anything,
        "As /anything, under any path.",
        "/anything/any/path",
        [path("anything", Kind::Str, "any path")],
        Echoed,
        [json("Anything"), BAD],
        later(|r, _, _| Box::pin(methods::anything(r)))
    ),
    // netkit's own
    route!(
        "/hello",
        Methods::Exactly(&[Method::GET]),
        Netkit,
        "Recipe 5: Hello, name (GET only, as the recipe registers it).",
        "/hello?name=Guido",
        [query("name", Kind::Str, "who to greet")],
        Nothing,
        [ok(Shape::Media("text/html")), NOT_FOUND],
        ready(|r, _, _| rest::hello(r))
    ),
    route!(
        "/localtime",
        Methods::Exactly(&[Method::GET]),
        Netkit,
        "Recipe 5: the server's local time as an XML-ish document.",
        "/localtime",
        [],
        Nothing,
        [ok(Shape::Media("application/html")), NOT_FOUND],
        ready(|_, _, _| rest::localtime())
    ),
    route!(
        "/sse",
        GET,
        Netkit,
        "count server-sent events over duration (go-httpbin).",
        "/sse?count=3&duration=1",
        [
            query("count", Kind::Int, "events (default 10)"),
            query("duration", Kind::Num, "seconds"),
            query("delay", Kind::Num, "seconds first")
        ],
        Nothing,
        [ok(Shape::Media("text/event-stream")), BAD],
        ready(|r, s, _| dynamic::sse(r, s))
    ),
    route!(
        "/websocket/echo",
        GET,
        Netkit,
        "WebSocket echo: connect with ws://HOST/websocket/echo (plain GET: 400).",
        "/websocket/echo",
        [],
        Nothing,
        [
            Answer {
                status: "101",
                about: "WebSocket upgrade",
                shape: Shape::Empty
            },
            BAD
        ],
        Handler::Whole(Whole::Takes(websocket::echo))
    ),
    // This server
    route!(
        "/",
        GET,
        Server,
        "This page.",
        "/",
        [],
        Nothing,
        [
            ok(Shape::Media("text/html")),
            Answer {
                status: "304",
                about: "not modified",
                shape: Shape::Empty
            }
        ],
        ready(|r, _, _| site::landing(r))
    ),
    route!(
        "/spec.json",
        GET,
        Server,
        "The OpenAPI 3.1 document of every endpoint.",
        "/spec.json",
        [],
        Nothing,
        [
            ok(Shape::Json("Any")),
            Answer {
                status: "304",
                about: "not modified",
                shape: Shape::Empty
            }
        ],
        ready(|r, _, _| site::spec(r))
    ),
    route!(
        "/hostname",
        GET,
        Server,
        "The server's host name (netkit unless --http-real-hostname).",
        "/hostname",
        [],
        Nothing,
        [json("Hostname")],
        ready(|_, s, _| gobin::hostname(s))
    ),
    route!(
        "/env",
        GET,
        Server,
        "Environment variables with the --http-env-prefix prefix.",
        "/env",
        [],
        Nothing,
        [json("Env")],
        ready(|_, s, _| gobin::env(s))
    ),
    route!(
        "/version",
        GET,
        Server,
        "netkit's name and version.",
        "/version",
        [],
        Nothing,
        [json("Version")],
        ready(|_, _, _| gobin::version())
    ),
];

const DIGEST_401: Answer = Answer {
    status: "401",
    about: "a Digest challenge",
    shape: Shape::Empty,
};

const DIGEST_403: Answer = Answer {
    status: "403",
    about: "require-cookie and the challenge's cookie did not come back",
    shape: Shape::Json("Errors"),
};

const NOT_FOUND: Answer = Answer {
    status: "404",
    about: "any other method (the recipe's dispatcher)",
    shape: Shape::Media("text/plain"),
};

/// One segment of a compiled path.
#[derive(Debug, PartialEq)]
enum Segment {
    Literal(&'static str),
    Param,
    /// `{name*}`: one or more segments, to the end.
    Rest,
}

/// A route with its path split into segments, as [`find`] gives it.
pub struct Compiled {
    pub route: &'static Route,
    segments: Vec<Segment>,
}

/// The routes, compiled and indexed by first path segment (most requests compare one).
static INDEX: LazyLock<HashMap<&'static str, Vec<Compiled>>> = LazyLock::new(|| {
    let mut index: HashMap<&'static str, Vec<Compiled>> = HashMap::new();
    for route in ROUTES {
        let segments: Vec<Segment> = route.path[1..]
            .split('/')
            .map(|s| match s.strip_prefix('{') {
                Some(name) if name.ends_with("*}") => Segment::Rest,
                Some(_) => Segment::Param,
                None => Segment::Literal(s),
            })
            .collect();
        let first = match segments.first() {
            Some(Segment::Literal(first)) => *first,
            _ => "",
        };
        index
            .entry(first)
            .or_default()
            .push(Compiled { route, segments });
    }
    index
});

/// The route for `path`, if any.
pub fn find(path: &str) -> Option<&'static Compiled> {
    let path = path.strip_prefix('/').unwrap_or(path);
    let first = path.split('/').next().unwrap_or("");
    INDEX
        .get(first)?
        .iter()
        .find(|compiled| captures(&compiled.segments, path).is_some())
}

/// The path parameters of `path` (without its leading `/`) if it fits `segments`.
fn captures<'p>(segments: &[Segment], path: &'p str) -> Option<Vec<&'p str>> {
    let mut params = Vec::new();
    let mut rest = path;
    for (i, segment) in segments.iter().enumerate() {
        if *segment == Segment::Rest {
            params.push(rest);
            return Some(params);
        }
        let (this, next) = match rest.split_once('/') {
            Some((this, next)) => (this, Some(next)),
            None => (rest, None),
        };
        match segment {
            Segment::Literal(literal) if *literal != this => return None,
            Segment::Literal(_) => {}
            _ => params.push(this),
        }
        match next {
            Some(next) => rest = next,
            None if i + 1 == segments.len() => return Some(params),
            None => return None,
        }
    }
    None
}

/// Whether `route` answers `method`; the response to send when it does not.
fn check_method(route: &Route, method: &Method) -> Result<(), Response> {
    match route.methods {
        Methods::Any => Ok(()),
        Methods::Only(list) => {
            if list.contains(method) || (*method == Method::HEAD && list.contains(&Method::GET)) {
                Ok(())
            } else {
                Err(shapes::method_not_allowed(list))
            }
        }
        Methods::Exactly(list) if list.contains(method) => Ok(()),
        Methods::Exactly(_) => Err(shapes::not_found()),
    }
}

/// Answers a request (other than OPTIONS) from the table: the recipe's 404 for a path
/// not in it, 405 (or 404) for a method the route does not take, else its handler's answer.
pub async fn route(
    request: Request<Incoming>,
    peer: SocketAddr,
    scheme: &'static str,
    state: &State,
) -> Response {
    let Some(compiled) = find(request.uri().path()) else {
        return shapes::not_found();
    };
    if let Err(response) = check_method(compiled.route, request.method()) {
        return response;
    }
    let whole = match compiled.route.handler {
        Handler::Streams(handler) => {
            let (req, body) = middleware::unread(request, peer, scheme);
            return handler(req, body, state).await;
        }
        Handler::Whole(whole) => whole,
    };
    let req = match middleware::read(request, peer, scheme, state).await {
        Ok(req) => req,
        Err(response) => return response,
    };
    match whole {
        Whole::Takes(handler) => handler(req, state),
        Whole::Ready(handler) => handler(&req, state, &params(compiled, &req)),
        Whole::Later(handler) => {
            let params = params(compiled, &req);
            handler(&req, state, &params).await
        }
    }
}

fn params<'r>(compiled: &Compiled, req: &'r Req) -> Vec<&'r str> {
    let path = req.uri.path();
    let path = path.strip_prefix('/').unwrap_or(path);
    captures(&compiled.segments, path).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_find_their_routes() {
        let path_of = |p: &str| find(p).map(|c| c.route.path);
        assert_eq!(path_of("/get"), Some("/get"));
        assert_eq!(path_of("/"), Some("/"));
        assert_eq!(path_of("/status/418"), Some("/status/{codes}"));
        assert_eq!(path_of("/status/418/x"), None);
        assert_eq!(path_of("/status"), None);
        assert_eq!(path_of("/anything"), Some("/anything"));
        assert_eq!(path_of("/anything/"), Some("/anything/{anything*}"));
        assert_eq!(path_of("/anything/a/b"), Some("/anything/{anything*}"));
        assert_eq!(path_of("/base64/abc"), Some("/base64/{value}"));
        assert_eq!(path_of("/base64/encode/abc"), Some("/base64/encode/{data}"));
        assert_eq!(
            path_of("/digest-auth/auth/u/p/MD5/3"),
            Some("/digest-auth/{qop}/{user}/{passwd}/{algorithm}/{stale_after}")
        );
        assert_eq!(path_of("/nope"), None);
        assert_eq!(path_of("/get/"), None);
    }

    #[test]
    fn captures_come_in_path_order() {
        let segments = [Segment::Literal("links"), Segment::Param, Segment::Param];
        assert_eq!(captures(&segments, "links/5/2"), Some(vec!["5", "2"]));
        assert_eq!(captures(&segments, "links/5"), None);
        let rest = [Segment::Literal("anything"), Segment::Rest];
        assert_eq!(captures(&rest, "anything/a/b"), Some(vec!["a/b"]));
        assert_eq!(captures(&rest, "anything"), None);
    }

    #[test]
    fn every_route_is_unique_and_its_path_params_are_declared() {
        let mut seen = std::collections::HashSet::new();
        for route in ROUTES {
            assert!(seen.insert(route.path), "{} twice", route.path);
            let named: Vec<&str> = route
                .path
                .split('/')
                .filter_map(|s| s.strip_prefix('{'))
                .map(|s| s.trim_end_matches('}').trim_end_matches('*'))
                .collect();
            let declared: Vec<&str> = route
                .params
                .iter()
                .filter(|p| p.place == In::Path)
                .map(|p| p.name)
                .collect();
            assert_eq!(named, declared, "{}", route.path);
            assert!(!route.about.is_empty() && !route.example.is_empty());
            // Examples go into href attributes as they are.
            assert!(
                !route.example.contains(['"', '<', '>']),
                "{}",
                route.example
            );
        }
    }
}
