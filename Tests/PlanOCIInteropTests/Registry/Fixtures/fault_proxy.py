#!/usr/bin/env python3
"""A logging, fault-injecting HTTP proxy in front of a real registry, for the PlanOCI push tests.

Listens on 127.0.0.1 (a free port, printed as the first line on stdout) and forwards every request
to --upstream HOST:PORT as it came (the Host header too, so the registry's Location URLs point back
at the proxy). Logs each request as "METHOD PATH STATUS" to --log (STATUS is "dropped" for a
connection closed on purpose), and as "START END METHOD PATH STATUS" (monotonic ms) to LOG.timing;
misbehaves on request:

  --fail N:STATUS:METHOD:SUBSTR   answer STATUS (after reading the body; not forwarded) to the first N
                                  METHOD requests whose path contains SUBSTR
  --drop SKIP:N:METHOD:SUBSTR     let SKIP such requests through, then for the next N read half of
                                  the body and close the connection (not forwarded)

Stops by itself after --lifetime seconds (default 600).
"""
import argparse, http.client, os, signal, socket, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Close inherited descriptors (other tests' pipes), and unblock the signals a test runner blocks.
os.closerange(3, 65536)
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})

p = argparse.ArgumentParser()
p.add_argument("--upstream", required=True)
p.add_argument("--log", required=True)
p.add_argument("--fail", action="append", default=[])
p.add_argument("--drop", action="append", default=[])
p.add_argument("--lifetime", type=float, default=600)
a = p.parse_args()

lock = threading.Lock()
fails = []
for f in a.fail:
    n, status, method, sub = f.split(":", 3)
    fails.append([int(n), int(status), method, sub])
drops = []
for d in a.drop:
    skip, n, method, sub = d.split(":", 3)
    drops.append([int(skip), int(n), method, sub])
up_host, _, up_port = a.upstream.rpartition(":")

HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def record(self, status):
        # The log counts requests; LOG.timing says when each came and went (ms), for speed checks.
        now = time.monotonic()
        started = getattr(self, "started", now)
        with lock:
            with open(a.log, "a") as f:
                f.write(f"{self.command} {self.path} {status}\n")
            with open(a.log + ".timing", "a") as f:
                f.write(f"{started * 1000:.1f} {now * 1000:.1f} {self.command} {self.path} {status}\n")

    def read_body(self, limit=None):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return body
                body += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length if limit is None else min(limit, length))

    def handle_any(self):
        self.started = time.monotonic()
        method, path = self.command, self.path
        with lock:
            fail = None
            for f in fails:
                if f[0] > 0 and f[2] == method and f[3] in path:
                    f[0] -= 1
                    fail = f[1]
                    break
            drop = False
            for d in drops:
                if d[2] == method and d[3] in path:
                    if d[0] > 0:
                        d[0] -= 1
                    elif d[1] > 0:
                        d[1] -= 1
                        drop = True
                    break
        if drop:
            length = int(self.headers.get("Content-Length") or 0)
            self.read_body(limit=length // 2)
            self.record("dropped")
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        body = self.read_body()
        if fail is not None:
            self.record(fail)
            payload = b'{"errors":[{"code":"UNKNOWN","message":"injected by the test proxy"}]}'
            self.send_response(fail)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if method != "HEAD":
                self.wfile.write(payload)
            return
        conn = http.client.HTTPConnection(up_host, int(up_port), timeout=120)
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for k, v in self.headers.items():
                if k.lower() not in HOP and k.lower() != "content-length":
                    conn.putheader(k, v)
            if body or method in ("POST", "PUT", "PATCH"):
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            resp = conn.getresponse()
            data = resp.read()
            self.record(resp.status)
            self.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() not in HOP and k.lower() != "content-length":
                    self.send_header(k, v)
            if method == "HEAD":
                if resp.getheader("Content-Length") is not None:
                    self.send_header("Content-Length", resp.getheader("Content-Length"))
            else:
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if method != "HEAD":
                self.wfile.write(data)
        finally:
            conn.close()

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
stopper = threading.Timer(a.lifetime, server.shutdown)
stopper.daemon = True
stopper.start()
print(server.server_address[1], flush=True)
server.serve_forever()
