"""External MQTT peer check: paho-mqtt 2.2 against a running mcp-coordinator, over TCP and WebSocket (/mqtt on the
HTTP port), MQTT 3.1.1 and 5. Checks: subscribing to the own org is granted, another org's filters are refused,
publishing a coordinator-owned topic is refused
(v5 PUBACK 0x87, 3.1.1 disconnect), retained messages are delivered to late subscribers, and a will is published when a client vanishes.

Usage: python paho_check.py --http-port N --mqtt-port M
Prints one line per check and a closing "N passed, M failed" line; exits 1 on any failure."""

import argparse
import queue
import sys
import time
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

TIMEOUT = 10.0


class Peer:
    """One paho client whose callbacks feed queues."""

    def __init__(self, transport, protocol, port, username=None, will=None):
        self.subacks = queue.Queue()
        self.messages = queue.Queue()
        self.connack = queue.Queue()
        self.pubacks = queue.Queue()
        self.disconnects = queue.Queue()
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id="paho-" + uuid.uuid4().hex[:10],
            protocol=protocol,
            transport=transport,
        )
        if transport == "websockets":
            self.client.ws_set_options(path="/mqtt")
        if username:
            self.client.username_pw_set(username, "")
        if will:
            self.client.will_set(*will)
        self.client.on_connect = lambda c, u, f, rc, p: self.connack.put(rc.value)
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self.subacks.put([r.value for r in rcs])
        self.client.on_message = lambda c, u, m: self.messages.put((m.topic, m.payload, m.retain))
        self.client.on_publish = lambda c, u, mid, rc, p: self.pubacks.put(rc.value)
        self.client.on_disconnect = lambda c, u, f, rc, p: self.disconnects.put(rc.value)
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()
        rc = self.connack.get(timeout=TIMEOUT)
        if rc != 0:
            raise RuntimeError(f"CONNACK refused: {rc:#x}")

    def subscribe(self, topic_filter):
        self.client.subscribe(topic_filter, qos=1)
        return self.subacks.get(timeout=TIMEOUT)[0]

    def expect(self, topic):
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            t, payload, retain = self.messages.get(timeout=max(0.01, deadline - time.monotonic()))
            if t == topic:
                return payload, retain
        raise TimeoutError(topic)

    def vanish(self):
        """Drops the connection without DISCONNECT, so the broker publishes the will."""
        self.client.loop_stop()
        self.client.socket().close()

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


def run_checks(http_port, mqtt_port):
    results = []
    combos = [
        ("tcp", mqtt_port, mqtt.MQTTv311, "3.1.1"),
        ("tcp", mqtt_port, mqtt.MQTTv5, "5"),
        ("websockets", http_port, mqtt.MQTTv311, "3.1.1"),
        ("websockets", http_port, mqtt.MQTTv5, "5"),
    ]
    for transport, port, protocol, label in combos:
        name = f"{transport} v{label}"
        refused = 0x87 if protocol == mqtt.MQTTv5 else 0x80

        def check(what, fn):
            try:
                fn()
                results.append((f"{name}: {what}", None))
            except Exception as e:  # noqa: BLE001 - every failure is reported, not raised
                results.append((f"{name}: {what}", repr(e)))

        def own_org():
            p = Peer(transport, protocol, port)
            rc = p.subscribe("coordinator/default/#")
            p.close()
            assert rc in (0, 1), f"SUBACK {rc:#x}"

        def other_org():
            p = Peer(transport, protocol, port)
            codes = [p.subscribe(f) for f in ("coordinator/other/#", "#", "coordinator/+/x")]
            p.close()
            assert codes == [refused] * 3, f"SUBACK {codes}"

        def retained():
            topic = f"coordinator/default/notes/{uuid.uuid4().hex[:8]}"
            pub = Peer(transport, protocol, port)
            pub.client.publish(topic, b'{"state":"green"}', qos=1, retain=True).wait_for_publish(TIMEOUT)
            pub.close()
            sub = Peer(transport, protocol, port)
            sub.subscribe(topic)
            payload, retain = sub.expect(topic)
            sub.close()
            assert payload == b'{"state":"green"}' and retain, (payload, retain)

        def will():
            agent = "paho-" + uuid.uuid4().hex[:8]
            topic = f"coordinator/default/agents/{agent}/status"
            watcher = Peer(transport, protocol, port)
            watcher.subscribe(topic)
            body = b'{"status":"offline","reason":"lwt_unexpected"}'
            p = Peer(transport, protocol, port, username=agent, will=(topic, body, 1, False))
            p.vanish()
            payload, _ = watcher.expect(topic)
            watcher.close()
            assert payload == body, payload

        def reserved():
            p = Peer(transport, protocol, port, username="paho-agent")
            p.client.publish("coordinator/default/consultations/new", b"{}", qos=1)
            if protocol == mqtt.MQTTv5:
                rc = p.pubacks.get(timeout=TIMEOUT)
                p.close()
                assert rc == 0x87, f"PUBACK {rc:#x}"
            else:
                p.disconnects.get(timeout=TIMEOUT)  # 3.1.1 has no refusal code: the broker disconnects
                p.client.loop_stop()

        check("subscribe own org granted", own_org)
        check("reserved topic refused", reserved)
        check("other org refused", other_org)
        check("retained delivered", retained)
        check("will published", will)
    return results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--http-port", type=int, required=True)
    ap.add_argument("--mqtt-port", type=int, required=True)
    args = ap.parse_args()
    results = run_checks(args.http_port, args.mqtt_port)
    failed = 0
    for name, err in results:
        print(("ok   " if err is None else "FAIL ") + name + ("" if err is None else f": {err}"))
        failed += err is not None
    print(f"paho: {len(results) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
