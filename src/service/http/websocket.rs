//! /websocket/echo: upgrades an HTTP/1.1 request to a WebSocket and echoes every data
//! frame back, answers pings, and returns the close frame. Frames are capped at
//! `--http-max-body`; a silent peer is dropped after [`IDLE`].

use super::shapes;
use super::{Req, Response, State};
use crate::proto::http::websocket::{
    accept_key, encode_server_frame, parse_client_frame, Frame, CLOSE, PING, PONG,
};
use bytes::BytesMut;
use http::{header, HeaderValue, StatusCode};
use hyper_util::rt::TokioIo;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const IDLE: Duration = Duration::from_secs(300);

fn has_token(req: &Req, name: header::HeaderName, token: &str) -> bool {
    req.headers.get_all(name).iter().any(|v| {
        v.to_str()
            .unwrap_or("")
            .split(',')
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    })
}

pub fn echo(mut req: Req, state: &State) -> Response {
    let key = req
        .header("sec-websocket-key")
        .map(str::to_string)
        .filter(|k| !k.trim().is_empty());
    let version_ok = req.header("sec-websocket-version").map(str::trim) == Some("13");
    let (Some(key), true, true, true, Some(upgrade)) = (
        key,
        version_ok,
        has_token(&req, header::UPGRADE, "websocket"),
        has_token(&req, header::CONNECTION, "upgrade"),
        req.upgrade.take(),
    ) else {
        return shapes::bad_request("not a WebSocket handshake (HTTP/1.1 Upgrade, version 13)");
    };
    let max = state.options.max_body;
    let peer = req.peer;
    tokio::spawn(async move {
        match upgrade.await {
            Ok(upgraded) => {
                if let Err(error) = run(TokioIo::new(upgraded), max).await {
                    tracing::debug!(%peer, %error, "websocket ended");
                }
            }
            Err(error) => tracing::debug!(%peer, %error, "websocket upgrade failed"),
        }
    });
    let mut response = shapes::empty(StatusCode::SWITCHING_PROTOCOLS);
    let headers = response.headers_mut();
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    shapes::set_header(
        &mut response,
        header::SEC_WEBSOCKET_ACCEPT,
        &accept_key(&key),
    );
    response
}

async fn run<S>(mut stream: S, max: u64) -> std::io::Result<()>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut buf = BytesMut::with_capacity(4096);
    loop {
        loop {
            let parsed = parse_client_frame(&buf, max)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
            let Some((frame, used)) = parsed else { break };
            let _ = buf.split_to(used);
            match frame.opcode {
                CLOSE => {
                    stream.write_all(&encode_server_frame(&frame)).await?;
                    return stream.shutdown().await;
                }
                PING => {
                    let pong = Frame {
                        fin: true,
                        opcode: PONG,
                        payload: frame.payload,
                    };
                    stream.write_all(&encode_server_frame(&pong)).await?;
                }
                PONG => {}
                _ => stream.write_all(&encode_server_frame(&frame)).await?,
            }
        }
        let read = tokio::time::timeout(IDLE, stream.read_buf(&mut buf)).await;
        match read {
            Ok(Ok(0)) | Err(_) => return Ok(()),
            Ok(Ok(_)) => {}
            Ok(Err(error)) => return Err(error),
        }
    }
}
