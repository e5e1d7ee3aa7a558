//! One MQTT test client over rumqttc for the four combinations (TCP / WebSocket × 3.1.1 / 5): connects, reports
//! the CONNACK refusal code, subscribes (returning the SUBACK codes), publishes and collects what arrives.

use std::time::Duration;

use rumqttc::Transport;
use rumqttc::v5::mqttbytes::QoS as Q5;
use rumqttc::v5::mqttbytes::v5 as m5;
use tokio::sync::mpsc;

use crate::support::TestApp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Tcp,
    Ws,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    V311,
    V5,
}

pub const ALL: [(Via, Proto); 4] =
    [(Via::Tcp, Proto::V311), (Via::Tcp, Proto::V5), (Via::Ws, Proto::V311), (Via::Ws, Proto::V5)];

/// A received publish.
#[derive(Debug, Clone)]
pub struct Msg {
    pub topic: String,
    pub payload: Vec<u8>,
    pub retain: bool,
}

impl Msg {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.payload).unwrap()
    }
}

/// What the event loop reports.
#[derive(Debug)]
pub enum Ev {
    Publish(Msg),
    /// SUBACK codes as bytes (0/1/2 granted, 0x80 / 0x87 … refused).
    SubAck(Vec<u8>),
    /// v5 PUBACK reason code.
    PubAck(u8),
    /// The connection ended (refused CONNACK code when known).
    Closed(Option<u8>),
}

enum Handle {
    V4(rumqttc::AsyncClient),
    V5(rumqttc::v5::AsyncClient),
}

pub struct Client {
    handle: Handle,
    rx: mpsc::UnboundedReceiver<Ev>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Client {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Optional CONNECT details.
#[derive(Default, Clone)]
pub struct Opts<'a> {
    pub username: Option<&'a str>,
    pub password: Option<&'a str>,
    /// (topic, payload, qos1, retain)
    pub will: Option<(&'a str, &'a [u8], bool, bool)>,
}

fn v4_code(c: &rumqttc::SubscribeReasonCode) -> u8 {
    match c {
        rumqttc::SubscribeReasonCode::Success(q) => *q as u8,
        rumqttc::SubscribeReasonCode::Failure => 0x80,
    }
}

fn v5_code(c: &m5::SubscribeReasonCode) -> u8 {
    match c {
        m5::SubscribeReasonCode::Success(q) => *q as u8,
        m5::SubscribeReasonCode::NotAuthorized => 0x87,
        m5::SubscribeReasonCode::Failure | m5::SubscribeReasonCode::Unspecified => 0x80,
        _ => 0x83,
    }
}

fn puback_code(r: &m5::PubAckReason) -> u8 {
    match r {
        m5::PubAckReason::Success => 0,
        m5::PubAckReason::NoMatchingSubscribers => 0x10,
        m5::PubAckReason::NotAuthorized => 0x87,
        m5::PubAckReason::TopicNameInvalid => 0x90,
        _ => 0x80,
    }
}

fn v4_refusal(c: &rumqttc::ConnectReturnCode) -> u8 {
    match c {
        rumqttc::ConnectReturnCode::Success => 0,
        rumqttc::ConnectReturnCode::RefusedProtocolVersion => 1,
        rumqttc::ConnectReturnCode::BadClientId => 2,
        rumqttc::ConnectReturnCode::ServiceUnavailable => 3,
        rumqttc::ConnectReturnCode::BadUserNamePassword => 4,
        rumqttc::ConnectReturnCode::NotAuthorized => 5,
    }
}

fn v5_refusal(c: &m5::ConnectReturnCode) -> u8 {
    match c {
        m5::ConnectReturnCode::BadUserNamePassword => 0x86,
        m5::ConnectReturnCode::NotAuthorized => 0x87,
        _ => 0x80,
    }
}

fn endpoint(app: &TestApp, via: Via) -> (String, u16) {
    match via {
        Via::Tcp => ("127.0.0.1".to_owned(), app.mqtt_port),
        Via::Ws => (app.ws_url.clone(), 0),
    }
}

impl Client {
    pub async fn connect(app: &TestApp, via: Via, proto: Proto, id: &str, o: Opts<'_>) -> Result<Client, Option<u8>> {
        let (host, port) = endpoint(app, via);
        Self::connect_to(&host, port, via, proto, id, o).await
    }

    /// Connects to any broker (`host` is a `ws://` URL for WebSocket); waits for the CONNACK.
    pub async fn connect_to(
        host: &str,
        port: u16,
        via: Via,
        proto: Proto,
        id: &str,
        o: Opts<'_>,
    ) -> Result<Client, Option<u8>> {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let (handle, task) = match proto {
            Proto::V311 => {
                let mut opts = rumqttc::MqttOptions::new(id, host, port);
                opts.set_keep_alive(Duration::from_secs(30)).set_max_packet_size(1 << 20, 1 << 20);
                if via == Via::Ws {
                    opts.set_transport(Transport::Ws);
                }
                if let Some(u) = o.username {
                    opts.set_credentials(u, o.password.unwrap_or(""));
                }
                if let Some((t, p, q, r)) = o.will {
                    let qos = if q { rumqttc::QoS::AtLeastOnce } else { rumqttc::QoS::AtMostOnce };
                    opts.set_last_will(rumqttc::LastWill::new(t, p.to_vec(), qos, r));
                }
                let (client, mut el) = rumqttc::AsyncClient::new(opts, 1000);
                let task = tokio::spawn(async move {
                    loop {
                        let ev = match el.poll().await {
                            Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) => Ev::Publish(Msg {
                                topic: p.topic.clone(),
                                payload: p.payload.to_vec(),
                                retain: p.retain,
                            }),
                            Ok(rumqttc::Event::Incoming(rumqttc::Packet::SubAck(s))) => {
                                Ev::SubAck(s.return_codes.iter().map(v4_code).collect())
                            }
                            Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_))) => Ev::PubAck(0),
                            Ok(_) => continue,
                            Err(rumqttc::ConnectionError::ConnectionRefused(c)) => Ev::Closed(Some(v4_refusal(&c))),
                            Err(_) => Ev::Closed(None),
                        };
                        let closed = matches!(ev, Ev::Closed(_));
                        if tx.send(ev).is_err() || closed {
                            return;
                        }
                    }
                });
                (Handle::V4(client), task)
            }
            Proto::V5 => {
                let mut opts = rumqttc::v5::MqttOptions::new(id, host, port);
                opts.set_keep_alive(Duration::from_secs(30)).set_max_packet_size(Some(1 << 20));
                if via == Via::Ws {
                    opts.set_transport(Transport::Ws);
                }
                if let Some(u) = o.username {
                    opts.set_credentials(u, o.password.unwrap_or(""));
                }
                if let Some((t, p, q, r)) = o.will {
                    let qos = if q { Q5::AtLeastOnce } else { Q5::AtMostOnce };
                    opts.set_last_will(m5::LastWill::new(t, p.to_vec(), qos, r, None));
                }
                let (client, mut el) = rumqttc::v5::AsyncClient::new(opts, 1000);
                let task = tokio::spawn(async move {
                    loop {
                        let ev = match el.poll().await {
                            Ok(rumqttc::v5::Event::Incoming(m5::Packet::Publish(p))) => Ev::Publish(Msg {
                                topic: String::from_utf8_lossy(&p.topic).into_owned(),
                                payload: p.payload.to_vec(),
                                retain: p.retain,
                            }),
                            Ok(rumqttc::v5::Event::Incoming(m5::Packet::SubAck(s))) => {
                                Ev::SubAck(s.return_codes.iter().map(v5_code).collect())
                            }
                            Ok(rumqttc::v5::Event::Incoming(m5::Packet::PubAck(a))) => {
                                Ev::PubAck(puback_code(&a.reason))
                            }
                            Ok(rumqttc::v5::Event::Incoming(m5::Packet::ConnAck(_))) => Ev::PubAck(0),
                            Ok(_) => continue,
                            Err(rumqttc::v5::ConnectionError::ConnectionRefused(c)) => Ev::Closed(Some(v5_refusal(&c))),
                            Err(_) => Ev::Closed(None),
                        };
                        let closed = matches!(ev, Ev::Closed(_));
                        if tx.send(ev).is_err() || closed {
                            return;
                        }
                    }
                });
                (Handle::V5(client), task)
            }
        };
        // The first event is the CONNACK (reported as PubAck(0)) or the refusal.
        match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
            Ok(Some(Ev::PubAck(0))) => Ok(Client { handle, rx, task }),
            Ok(Some(Ev::Closed(code))) => Err(code),
            other => panic!("unexpected first MQTT event: {other:?}"),
        }
    }

    /// Subscribes (QoS 1 asked) and returns the SUBACK codes.
    pub async fn subscribe(&mut self, filter: &str) -> u8 {
        match &self.handle {
            Handle::V4(c) => c.subscribe(filter, rumqttc::QoS::AtLeastOnce).await.unwrap(),
            Handle::V5(c) => c.subscribe(filter, Q5::AtLeastOnce).await.unwrap(),
        }
        loop {
            match self.next().await {
                Some(Ev::SubAck(codes)) => return codes[0],
                Some(Ev::Publish(_)) => continue, // retained messages may race the SUBACK
                other => panic!("expected a SUBACK, got {other:?}"),
            }
        }
    }

    pub async fn publish(&self, topic: &str, payload: &[u8], qos1: bool, retain: bool) {
        match &self.handle {
            Handle::V4(c) => {
                let q = if qos1 { rumqttc::QoS::AtLeastOnce } else { rumqttc::QoS::AtMostOnce };
                c.publish(topic, q, retain, payload.to_vec()).await.unwrap()
            }
            Handle::V5(c) => {
                let q = if qos1 { Q5::AtLeastOnce } else { Q5::AtMostOnce };
                c.publish(topic, q, retain, payload.to_vec()).await.unwrap()
            }
        }
    }

    /// Ends the connection without DISCONNECT (the will fires): the event loop and its socket are dropped.
    pub fn abort(self) {
        self.task.abort();
    }

    /// The next event within 10 s.
    pub async fn next(&mut self) -> Option<Ev> {
        self.next_within(Duration::from_secs(10)).await
    }

    /// The next event within `d`.
    pub async fn next_within(&mut self, d: Duration) -> Option<Ev> {
        tokio::time::timeout(d, self.rx.recv()).await.ok().flatten()
    }

    /// The next publish on `topic` within 10 s (other publishes are skipped).
    pub async fn expect(&mut self, topic: &str) -> Msg {
        loop {
            match self.next().await {
                Some(Ev::Publish(m)) if m.topic == topic => return m,
                Some(Ev::Publish(_)) | Some(Ev::PubAck(_)) | Some(Ev::SubAck(_)) => continue,
                other => panic!("waiting for {topic}, got {other:?}"),
            }
        }
    }
}
