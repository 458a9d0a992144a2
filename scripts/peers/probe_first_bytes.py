#!/usr/bin/env python3
"""Sends one opening flight to a listener and reports what comes back first:
for writing clear client errors when a client speaks TLS to a plaintext port
or Kafka to a TLS port.

    probe_first_bytes.py HOST:PORT tls|kafka|metadata [TIMEOUT_S]

    tls       a TLS ClientHello (made by Python's ssl module, SNI localhost)
    kafka     an ApiVersions v0 request (what a plaintext client sends first)
    metadata  a Metadata v1 request (what a client that skips ApiVersions and
              SASL sends first)

Prints one line: `sent=N received=HEX(first 64 bytes) total=N end=eof|reset|timeout
after_ms=N`, plus a decoding of a TLS record header if the answer starts with
one. Exit 0 whatever the broker did (the answer is the output).
"""
import socket
import ssl
import struct
import sys
import time


def client_hello():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def kafka_request(api_key, version, body=b""):
    client_id = b"probe"
    header = struct.pack(">hhih", api_key, version, 1, len(client_id)) + client_id
    payload = header + body
    return struct.pack(">i", len(payload)) + payload


def describe_tls(data):
    if len(data) < 5 or data[0] not in (20, 21, 22, 23):
        return ""
    kinds = {20: "change_cipher_spec", 21: "alert", 22: "handshake", 23: "application_data"}
    s = f" tls_record={kinds[data[0]]} version={data[1]:#04x}{data[2]:02x} length={int.from_bytes(data[3:5], 'big')}"
    if data[0] == 21 and len(data) >= 7:
        s += f" alert_level={data[5]} alert_description={data[6]}"
    return s


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    host, _, port = sys.argv[1].rpartition(":")
    what = sys.argv[2]
    timeout = float(sys.argv[3]) if len(sys.argv) == 4 else 5.0
    if what == "tls":
        flight = client_hello()
    elif what == "kafka":
        flight = kafka_request(18, 0)
    elif what == "metadata":
        # Metadata v1: topics = null (all topics).
        flight = kafka_request(3, 1, struct.pack(">i", -1))
    else:
        sys.exit(f"unknown flight {what!r}")
    s = socket.create_connection((host, int(port)), timeout=timeout)
    t0 = time.monotonic()
    s.sendall(flight)
    got = b""
    end = "timeout"
    deadline = t0 + timeout
    while time.monotonic() < deadline:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            end = "reset"
            break
        if not chunk:
            end = "eof"
            break
        got += chunk
    ms = int((time.monotonic() - t0) * 1000)
    s.close()
    print(f"sent={len(flight)} received={got[:64].hex()} total={len(got)} end={end} after_ms={ms}"
          + describe_tls(got))


if __name__ == "__main__":
    main()
