#!/usr/bin/python3
"""A gRPC backend that never answers and ignores deadlines, for tests of the proxy's own
deadline enforcement. It prints "listening on 127.0.0.1:PORT", then one line per event:
"request <stream> grpc-timeout=<value>", "data <stream> <hex bytes>" and
"reset <stream> <error code>". Plain HTTP/2
(h2c) on loopback; it exits after 60 s (tests kill it sooner)."""
import selectors
import socket
import sys
import time

import h2.config
import h2.connection
import h2.events


def main():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    print("listening on 127.0.0.1:%d" % listener.getsockname()[1], flush=True)
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ)
    conns = {}
    end = time.time() + 60
    while time.time() < end:
        for key, _ in sel.select(timeout=0.5):
            if key.fileobj is listener:
                sock, _ = listener.accept()
                conn = h2.connection.H2Connection(
                    h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
                conn.initiate_connection()
                sock.sendall(conn.data_to_send())
                conns[sock] = conn
                sel.register(sock, selectors.EVENT_READ)
                continue
            sock = key.fileobj
            conn = conns[sock]
            data = sock.recv(65536)
            if not data:
                sel.unregister(sock)
                del conns[sock]
                sock.close()
                continue
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.RequestReceived):
                    timeout = dict(event.headers).get("grpc-timeout", "none")
                    print("request %d grpc-timeout=%s" % (event.stream_id, timeout), flush=True)
                elif isinstance(event, h2.events.StreamReset):
                    print("reset %d %d" % (event.stream_id, event.error_code), flush=True)
                elif isinstance(event, h2.events.DataReceived):
                    print("data %d %s" % (event.stream_id, event.data.hex()), flush=True)
                    conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            sock.sendall(conn.data_to_send())


if __name__ == "__main__":
    sys.exit(main())
