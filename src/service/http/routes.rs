//! The one route table: every path the HTTP service answers, the methods it takes, and
//! the handler. HEAD is accepted wherever GET is (hyper sends no body for it); OPTIONS is
//! answered by the middleware; any other path is the recipe's 404.

use super::{
    auth, cache, cookies, dynamic, formats, inspect, methods, redirect, rest, shapes, status,
    websocket,
};
use super::{Req, Response, State};
use http::Method;

const GET: &[Method] = &[Method::GET];
const POST: &[Method] = &[Method::POST];
const PUT: &[Method] = &[Method::PUT];
const PATCH: &[Method] = &[Method::PATCH];
const DELETE: &[Method] = &[Method::DELETE];
const GET_POST: &[Method] = &[Method::GET, Method::POST];
const ANY: &[Method] = &[];

fn allowed(method: &Method, methods: &[Method]) -> bool {
    methods.is_empty()
        || methods.contains(method)
        || (*method == Method::HEAD && methods.contains(&Method::GET))
}

pub async fn route(req: Req, state: &State) -> Response {
    let path = req.path().to_string();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    macro_rules! to {
        ($methods:expr, $handler:expr) => {{
            if !allowed(&req.method, $methods) {
                return shapes::method_not_allowed($methods);
            }
            $handler
        }};
    }
    match segments.as_slice() {
        // HTTP methods
        ["get"] => to!(GET, methods::get(&req)),
        ["post"] => to!(POST, methods::with_body(&req).await),
        ["put"] => to!(PUT, methods::with_body(&req).await),
        ["patch"] => to!(PATCH, methods::with_body(&req).await),
        ["delete"] => to!(DELETE, methods::with_body(&req).await),
        ["anything", ..] => to!(ANY, methods::anything(&req).await),
        // request inspection
        ["headers"] => to!(GET, inspect::headers(&req)),
        ["ip"] => to!(GET, inspect::ip(&req)),
        ["user-agent"] => to!(GET, inspect::user_agent(&req)),
        ["uuid"] => to!(GET, inspect::uuid()),
        ["dump", "request"] => to!(ANY, inspect::dump_request(&req)),
        // status codes
        ["status", codes] => to!(ANY, status::status(codes)),
        ["unstable"] => to!(ANY, status::unstable(&req)),
        // redirects
        ["redirect", n] => to!(GET, redirect::redirect(&req, n)),
        ["relative-redirect", n] => to!(GET, redirect::relative(n)),
        ["absolute-redirect", n] => to!(GET, redirect::absolute(&req, n)),
        ["redirect-to"] => to!(ANY, redirect::redirect_to(&req, state)),
        // cookies
        ["cookies"] => to!(GET, cookies::list(&req)),
        ["cookies", "set"] => to!(GET, cookies::set_from_query(&req)),
        ["cookies", "set", name, value] => to!(GET, cookies::set_one(name, value)),
        ["cookies", "delete"] => to!(GET, cookies::delete(&req)),
        // auth
        ["basic-auth", user, password] => to!(GET, auth::basic(&req, user, password, false)),
        ["hidden-basic-auth", user, password] => {
            to!(GET, auth::basic(&req, user, password, true))
        }
        ["bearer"] => to!(GET, auth::bearer(&req)),
        ["digest-auth", qop, user, password] => {
            to!(
                ANY,
                auth::digest(&req, state, qop, user, password, "MD5", "never")
            )
        }
        ["digest-auth", qop, user, password, algorithm] => {
            to!(
                ANY,
                auth::digest(&req, state, qop, user, password, algorithm, "never")
            )
        }
        ["digest-auth", qop, user, password, algorithm, stale_after] => to!(
            ANY,
            auth::digest(&req, state, qop, user, password, algorithm, stale_after)
        ),
        // response formats
        ["gzip"] => to!(GET, formats::gzip(&req)),
        ["deflate"] => to!(GET, formats::deflate(&req)),
        ["brotli"] => to!(GET, formats::brotli(&req)),
        ["json"] => to!(GET, formats::json()),
        ["html"] => to!(GET, formats::html()),
        ["xml"] => to!(GET, formats::xml()),
        ["robots.txt"] => to!(GET, formats::robots()),
        ["deny"] => to!(GET, formats::deny()),
        ["encoding", "utf8"] => to!(GET, formats::utf8()),
        ["forms", "post"] => to!(GET, formats::form_page()),
        ["base64", value] => to!(GET, formats::base64(value)),
        ["image"] => to!(GET, formats::image(&req)),
        ["image", "png"] => to!(GET, formats::png()),
        ["image", "jpeg"] => to!(GET, formats::jpeg()),
        ["image", "webp"] => to!(GET, formats::webp()),
        ["image", "svg"] => to!(GET, formats::svg()),
        // dynamic data
        ["bytes", n] => to!(GET, dynamic::bytes(&req, n, state)),
        ["stream-bytes", n] => to!(GET, dynamic::stream_bytes(&req, n, state)),
        ["stream", n] => to!(GET, dynamic::stream(&req, n)),
        ["range", n] => to!(GET, dynamic::range(&req, n, state)),
        ["drip"] => to!(GET, dynamic::drip(&req, state)),
        ["delay", n] => to!(ANY, dynamic::delay(&req, n, state).await),
        ["sse"] => to!(GET, dynamic::sse(&req, state)),
        ["trailers"] => to!(GET, dynamic::trailers(&req)),
        ["websocket", "echo"] => to!(GET, websocket::echo(req, state)),
        ["links", n] => to!(GET, dynamic::links(n, "0")),
        ["links", n, offset] => to!(GET, dynamic::links(n, offset)),
        // caching
        ["cache"] => to!(GET, cache::cache(&req)),
        ["cache", n] => to!(GET, cache::cache_for(&req, n)),
        ["etag", etag] => to!(GET, cache::etag(&req, etag)),
        ["response-headers"] => to!(GET_POST, cache::response_headers(&req)),
        // recipe 5
        ["hello"] => to!(GET_POST, rest::hello(&req).await),
        ["localtime"] => to!(GET, rest::localtime()),
        _ => shapes::not_found(),
    }
}
