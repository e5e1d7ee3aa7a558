//! MQTT over WebSocket on the HTTP port (events-mqtt.md §3.1). rmqtt cannot be handed a stream, so the axum
//! upgrade handler pipes binary frames to the broker's internal loopback listener, sending a PROXY v1 header first
//! so the broker sees the real client address. Sub-protocol `mqtt` is echoed when offered (also accepted without),
//! frames are capped, and a disallowed browser Origin gets 403 before any upgrade.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::{SinkExt, StreamExt};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use crate::http::error::ApiError;
use crate::http::guard::Policy;

/// Read buffer of the broker → client direction.
const READ_BUF: usize = 64 * 1024;

/// What the `/mqtt` route needs.
#[derive(Clone)]
pub struct WsBridge {
    /// The broker's loopback listener (PROXY protocol enabled).
    pub target: SocketAddr,
    /// Frame and message cap.
    pub max_payload: usize,
    pub policy: Arc<Policy>,
    pub cancel: CancellationToken,
}

/// The `/mqtt` route (mounted on the HTTP router).
pub fn router(path: &str, bridge: WsBridge) -> Router {
    Router::new().route(path, get(upgrade)).with_state(bridge)
}

/// PROXY protocol v1 line for `client` connecting to `target` (families must match; loopback stands in).
pub fn proxy_header(client: SocketAddr, target: SocketAddr) -> String {
    match (client.ip(), target.ip()) {
        (IpAddr::V4(c), IpAddr::V4(t)) => format!("PROXY TCP4 {c} {t} {} {}\r\n", client.port(), target.port()),
        (IpAddr::V6(c), IpAddr::V6(t)) => format!("PROXY TCP6 {c} {t} {} {}\r\n", client.port(), target.port()),
        (IpAddr::V6(c), IpAddr::V4(_)) => format!("PROXY TCP6 {c} ::1 {} {}\r\n", client.port(), target.port()),
        (IpAddr::V4(c), IpAddr::V6(_)) => format!("PROXY TCP4 {c} 127.0.0.1 {} {}\r\n", client.port(), target.port()),
    }
}

async fn upgrade(State(b): State<WsBridge>, req: Request) -> Response {
    let origin = req.headers().get(header::ORIGIN).cloned();
    if origin.is_some_and(|o| !o.to_str().is_ok_and(|o| b.policy.origin_allowed(o))) {
        return ApiError::legacy(StatusCode::FORBIDDEN, json!({"error": "Origin not allowed"})).into_response();
    }
    let client =
        req.extensions().get::<ConnectInfo<SocketAddr>>().map_or(SocketAddr::from(([127, 0, 0, 1], 0)), |c| c.0);
    let (mut parts, _) = req.into_parts();
    let ws = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(ws) => ws,
        Err(rejection) => return rejection.into_response(),
    };
    ws.protocols(["mqtt"])
        .max_frame_size(b.max_payload)
        .max_message_size(b.max_payload)
        .max_write_buffer_size(b.max_payload.saturating_mul(4))
        .on_upgrade(move |socket| pipe(socket, client, b))
}

/// Pipes one WebSocket to a fresh broker connection until either side closes or the server stops.
async fn pipe(socket: WebSocket, client: SocketAddr, b: WsBridge) {
    let mut tcp = match TcpStream::connect(b.target).await {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(component = "mqtt", error = %e, "cannot reach the broker for a WebSocket client");
            return;
        }
    };
    let _ = tcp.set_nodelay(true);
    if tcp.write_all(proxy_header(client, b.target).as_bytes()).await.is_err() {
        return;
    }
    let (mut rd, mut wr) = tcp.into_split();
    let (mut ws_tx, mut ws_rx) = socket.split();
    let up = async {
        while let Some(Ok(msg)) = ws_rx.next().await {
            match msg {
                Message::Binary(data) => {
                    if wr.write_all(&data).await.is_err() {
                        break;
                    }
                }
                Message::Close(_) | Message::Text(_) => break, // MQTT travels in binary frames only
                Message::Ping(_) | Message::Pong(_) => {}
            }
        }
        let _ = wr.shutdown().await;
    };
    let down = async {
        let mut buf = vec![0u8; READ_BUF];
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let frame = Message::Binary(bytes::Bytes::copy_from_slice(&buf[..n]));
                    if ws_tx.send(frame).await.is_err() {
                        return;
                    }
                }
            }
        }
        let _ = ws_tx.send(Message::Close(None)).await;
    };
    tokio::select! {
        _ = up => {}
        _ = down => {}
        _ = b.cancel.cancelled() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_lines() {
        let t: SocketAddr = "127.0.0.1:9000".parse().unwrap();
        assert_eq!(proxy_header("10.0.0.2:5555".parse().unwrap(), t), "PROXY TCP4 10.0.0.2 127.0.0.1 5555 9000\r\n");
        assert_eq!(proxy_header("[2001:db8::1]:7".parse().unwrap(), t), "PROXY TCP6 2001:db8::1 ::1 7 9000\r\n");
    }
}
