//! Response formats: /gzip, /deflate, /brotli, /json, /html, /xml, /robots.txt, /deny,
//! /encoding/utf8, /forms/post, /base64/{value} and /image[/png|jpeg|webp|svg].

use super::shapes::{self, Echo};
use super::{Req, Response};
use base64::engine::{general_purpose, DecodePaddingMode, GeneralPurpose};
use base64::Engine;
use bytes::Bytes;
use flate2::write::{GzEncoder, ZlibEncoder};
use flate2::Compression;
use http::{header, HeaderValue, StatusCode};
use std::io::Write;

fn encoded_echo(req: &Req, encoding: &'static str) -> Response {
    let mut echo = Echo {
        headers: Some(shapes::headers(req)),
        method: Some(req.method.to_string()),
        origin: Some(req.origin()),
        ..Echo::default()
    };
    let plain = match encoding {
        "br" => {
            echo.brotli = Some(true);
            shapes::json_bytes(&echo)
        }
        "gzip" => {
            echo.gzipped = Some(true);
            shapes::json_bytes(&echo)
        }
        _ => {
            echo.deflated = Some(true);
            shapes::json_bytes(&echo)
        }
    };
    // Compressing into a Vec cannot fail; an empty body would only follow a bug.
    let compressed = match encoding {
        "br" => {
            let mut out = Vec::new();
            let params = ::brotli::enc::BrotliEncoderParams::default();
            let _ = ::brotli::BrotliCompress(&mut &plain[..], &mut out, &params);
            out
        }
        "gzip" => {
            let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
            let _ = encoder.write_all(&plain);
            encoder.finish().unwrap_or_default()
        }
        _ => {
            let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
            let _ = encoder.write_all(&plain);
            encoder.finish().unwrap_or_default()
        }
    };
    let mut response = shapes::bytes(StatusCode::OK, "application/json", compressed);
    response
        .headers_mut()
        .insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
    response
}

pub fn gzip(req: &Req) -> Response {
    encoded_echo(req, "gzip")
}

pub fn brotli(req: &Req) -> Response {
    encoded_echo(req, "br")
}

pub fn deflate(req: &Req) -> Response {
    encoded_echo(req, "deflate")
}

pub fn json() -> Response {
    shapes::json(StatusCode::OK, &shapes::slideshow())
}

/// httpbin's templates/moby.html, byte for byte (see assets/README.md).
const MOBY: &[u8] = include_bytes!("../../../assets/moby.html");

pub fn html() -> Response {
    shapes::html(StatusCode::OK, Bytes::from_static(MOBY))
}

const SLIDESHOW_XML: &str = r#"<?xml version='1.0' encoding='us-ascii'?>

<!--  A SAMPLE set of slides  -->

<slideshow 
    title="Sample Slide Show"
    date="Date of publication"
    author="Yours Truly"
    >

    <!-- TITLE SLIDE -->
    <slide type="all">
      <title>Wake up to WonderWidgets!</title>
    </slide>

    <!-- OVERVIEW -->
    <slide type="all">
        <title>Overview</title>
        <item>Why <em>WonderWidgets</em> are great</item>
        <item/>
        <item>Who <em>buys</em> WonderWidgets</item>
    </slide>

</slideshow>"#;

pub fn xml() -> Response {
    shapes::bytes(StatusCode::OK, "application/xml", SLIDESHOW_XML)
}

pub fn robots() -> Response {
    shapes::text(StatusCode::OK, "User-agent: *\nDisallow: /deny\n")
}

const ANGRY: &str = r#"
          .-''''''-.
        .' _      _ '.
       /   O      O   \
      :                :
      |                |
      :       __       :
       \  .-"`  `"-.  /
        '.          .'
          '-......-'
     YOU SHOULDN'T BE HERE
"#;

pub fn deny() -> Response {
    shapes::text(StatusCode::OK, ANGRY)
}

/// httpbin's templates/UTF-8-demo.txt, byte for byte (see assets/README.md).
const UTF8_DEMO: &[u8] = include_bytes!("../../../assets/UTF-8-demo.txt");

pub fn utf8() -> Response {
    shapes::html(StatusCode::OK, Bytes::from_static(UTF8_DEMO))
}

const FORM_PAGE: &str = r#"<!DOCTYPE html>
<html>
  <head>
  </head>
  <body>
  <!-- Example form from HTML5 spec http://www.w3.org/TR/html5/forms.html#writing-a-form's-user-interface -->
  <form method="post" action="/post">
   <p><label>Customer name: <input name="custname"></label></p>
   <p><label>Telephone: <input type=tel name="custtel"></label></p>
   <p><label>E-mail address: <input type=email name="custemail"></label></p>
   <fieldset>
    <legend> Pizza Size </legend>
    <p><label> <input type=radio name=size value="small"> Small </label></p>
    <p><label> <input type=radio name=size value="medium"> Medium </label></p>
    <p><label> <input type=radio name=size value="large"> Large </label></p>
   </fieldset>
   <fieldset>
    <legend> Pizza Toppings </legend>
    <p><label> <input type=checkbox name="topping" value="bacon"> Bacon </label></p>
    <p><label> <input type=checkbox name="topping" value="cheese"> Extra Cheese </label></p>
    <p><label> <input type=checkbox name="topping" value="onion"> Onion </label></p>
    <p><label> <input type=checkbox name="topping" value="mushroom"> Mushroom </label></p>
   </fieldset>
   <p><label>Preferred delivery time: <input type=time min="11:00" max="21:00" step="900" name="delivery"></label></p>
   <p><label>Delivery instructions: <textarea name="comments"></textarea></label></p>
   <p><button>Submit order</button></p>
  </form>
  </body>
</html>"#;

pub fn form_page() -> Response {
    shapes::html(StatusCode::OK, FORM_PAGE)
}

/// Python's `urlsafe_b64decode`: URL-safe alphabet, padding optional here.
const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    general_purpose::GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

pub fn base64(value: &str) -> Response {
    match URL_SAFE_LENIENT.decode(value) {
        Ok(bytes) => shapes::html(StatusCode::OK, bytes),
        Err(_) => shapes::html(
            StatusCode::OK,
            "Incorrect Base64 data try: SFRUUEJJTiBpcyBhd2Vzb21l",
        ),
    }
}

const PNG: &[u8] = include_bytes!("../../../assets/image.png");
const JPEG: &[u8] = include_bytes!("../../../assets/image.jpeg");
const WEBP: &[u8] = include_bytes!("../../../assets/image.webp");
const SVG: &[u8] = include_bytes!("../../../assets/image.svg");

pub fn png() -> Response {
    shapes::bytes(StatusCode::OK, "image/png", Bytes::from_static(PNG))
}

pub fn jpeg() -> Response {
    shapes::bytes(StatusCode::OK, "image/jpeg", Bytes::from_static(JPEG))
}

pub fn webp() -> Response {
    shapes::bytes(StatusCode::OK, "image/webp", Bytes::from_static(WEBP))
}

pub fn svg() -> Response {
    shapes::bytes(StatusCode::OK, "image/svg+xml", Bytes::from_static(SVG))
}

/// /image: the format the Accept header asks for, checked in httpbin's order (a plain
/// substring test, as httpbin does); PNG when there is no Accept; 406 otherwise.
pub fn image(req: &Req) -> Response {
    let Some(accept) = req.header(header::ACCEPT) else {
        return png();
    };
    let accept = accept.to_ascii_lowercase();
    if accept.contains("image/webp") {
        webp()
    } else if accept.contains("image/svg+xml") {
        svg()
    } else if accept.contains("image/jpeg") {
        jpeg()
    } else if accept.contains("image/png") || accept.contains("image/*") {
        png()
    } else {
        super::status::respond(406)
    }
}
