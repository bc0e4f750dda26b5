//! Response formats: /gzip, /deflate, /brotli, /json, /html, /xml, /robots.txt, /deny,
//! /encoding/utf8, /forms/post and /base64/{value}.

use super::shapes::{self, Echo};
use super::{Req, Response};
use base64::engine::{general_purpose, DecodePaddingMode, GeneralPurpose};
use base64::Engine;
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

const MOBY: &str = r#"<!DOCTYPE html>
<html>
  <head>
  </head>
  <body>
      <h1>Herman Melville - Moby-Dick</h1>

      <div>
        <p>
          Availing himself of the mild, summer-cool weather that now reigned in these latitudes, and in preparation for the peculiarly active pursuits shortly to be anticipated, Perth, the begrimed, blistered old blacksmith, had not removed his portable forge to the hold again, after concluding his contributory work for Ahab's leg, but still retained it on deck, fast lashed to ringbolts by the foremast; being now almost incessantly invoked by the headsmen, and harpooneers, and bowsmen to do some little job for them; altering, or repairing, or new shaping their various weapons and boat furniture.
        </p>
      </div>
  </body>
</html>"#;

pub fn html() -> Response {
    shapes::html(StatusCode::OK, MOBY)
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

const UTF8_DEMO: &str = "<h1>Unicode Demo</h1>\n\n<p>Taken from <a\nhref=\"http://www.cl.cam.ac.uk/~mgk25/ucs/examples/UTF-8-demo.txt\">http://www.cl.cam.ac.uk/~mgk25/ucs/examples/UTF-8-demo.txt</a></p>\n\n<pre>\nMathematics and sciences:\n\n  ∮ E⋅da = Q,  n → ∞, ∑ f(i) = ∏ g(i), ∀x∈ℝ: ⌈x⌉ = −⌊−x⌋, α ∧ ¬β = ¬(¬α ∨ β)\n\nGreek: Σὲ γνωρίζω ἀπὸ τὴν κόψη\nRussian: Зарегистрируйтесь сейчас\nThai: ๏ แผ่นดินฮั่นเสื่อมโทรมแสนสังเวช\nJapanese: いろはにほへとちりぬるを\n</pre>\n";

pub fn utf8() -> Response {
    shapes::html(StatusCode::OK, UTF8_DEMO)
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

/// /image/svg: a small SVG image (the raster formats need image assets: not served).
pub fn svg() -> Response {
    const SVG: &str = r##"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100" viewBox="0 0 100 100">
  <title>netkit</title>
  <circle cx="50" cy="50" r="40" fill="#2f6fbf"/>
  <text x="50" y="57" font-family="sans-serif" font-size="20" text-anchor="middle" fill="#fff">httpbin</text>
</svg>
"##;
    shapes::bytes(StatusCode::OK, "image/svg+xml", SVG)
}
