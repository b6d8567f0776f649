"""A static Redfish mockup server for tests: GET /redfish/v1/<path> answers
<root>/<path>/index.json (the DMTF mockup-server layout). Optional basic
auth, an optional session service, and fault modes (hang mid-response,
garbage, malformed JSON). Query strings ($expand) are ignored, like a
service that advertises $expand but does not apply it.

    /usr/bin/python3 rfmock.py ROOT PORT [--user U --password P] [--sessions]
                               [--mode ok|hang|garbage|badjson] [--tls CERT KEY]
"""
import argparse
import base64
import json
import os
import secrets
import socket
import socketserver
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer


class Server(socketserver.ThreadingMixIn, HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def get_request(self):
        # headers and body leave in two writes: without TCP_NODELAY every
        # keep-alive answer waits for the client's delayed ACK (40 ms)
        sock, addr = super().get_request()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, addr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("port", type=int)
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--sessions", action="store_true")
    ap.add_argument("--mode", default="ok")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    a = ap.parse_args()
    tokens = set()
    stats = {"get": 0, "post": 0, "expand": 0}
    lock = threading.Lock()

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _send(self, code, body=b"", headers=()):
            self.send_response(code)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            if body:
                self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def _authorised(self):
            if not a.user:
                return True
            if self.headers.get("X-Auth-Token") in tokens:
                return True
            h = self.headers.get("Authorization", "")
            if a.sessions:
                return False
            want = "Basic " + base64.b64encode(f"{a.user}:{a.password}".encode()).decode()
            return h == want

        def do_GET(self):
            path, _, query = self.path.partition("?")
            with lock:
                stats["get"] += 1
                if "expand" in query:
                    stats["expand"] += 1
            if path == "/stats":
                return self._send(200, json.dumps(stats).encode())
            if path.rstrip("/") == "/redfish/v1/SessionService/Sessions/clear":
                tokens.clear()
                return self._send(204)
            if not path.startswith("/redfish/v1"):
                return self._send(404)
            rel = path[len("/redfish/v1"):].strip("/")
            if rel and not self._authorised():
                return self._send(401, b'{"error":{"code":"Base.1.0.Unauthorized"}}')
            f = os.path.join(a.root, rel, "index.json")
            if ".." in rel or not os.path.isfile(f):
                return self._send(404, b'{"error":{"code":"Base.1.0.ResourceMissingAtURI"}}')
            body = open(f, "rb").read()
            if a.mode == "hang" and rel:
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                time.sleep(30)
                return
            if a.mode == "garbage" and rel:
                self.wfile.write(os.urandom(700))
                self.wfile.flush()
                self.close_connection = True
                return
            if a.mode == "badjson" and rel:
                body = body[: len(body) // 2]
            self._send(200, body)

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            data = self.rfile.read(n)
            with lock:
                stats["post"] += 1
            if self.path.rstrip("/") == "/redfish/v1/SessionService/Sessions" and a.sessions:
                try:
                    j = json.loads(data)
                except ValueError:
                    return self._send(400)
                if j.get("UserName") != a.user or j.get("Password") != a.password:
                    return self._send(401)
                t = secrets.token_hex(16)
                tokens.add(t)
                return self._send(201, b'{"Id":"1"}', [("X-Auth-Token", t),
                                  ("Location", "/redfish/v1/SessionService/Sessions/1")])
            self._send(501)

    srv = Server(("127.0.0.1", a.port), H)
    if a.tls:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls[0], a.tls[1])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("READY", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
