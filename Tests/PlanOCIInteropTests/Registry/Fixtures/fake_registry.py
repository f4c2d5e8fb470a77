#!/usr/bin/env python3
"""A tiny registry (OCI distribution API, read side; manifest PUTs accepted) for the PlanOCI tests.

Serves the images of an OCI image layout directory on 127.0.0.1 (a free port,
printed as the first line on stdout), logs every request as "METHOD PATH STATUS"
to --log, and misbehaves on request:

  --lie DIGEST               serve other bytes (same length) for that blob
  --fail N:STATUS:SUBSTR     answer STATUS to the first N requests whose path contains SUBSTR
  --drop N:SUBSTR            close the connection mid-body on the first N such requests
  --trickle SECONDS:SUBSTR    send the body of such requests one byte every SECONDS
  --endless SUBSTR           answer 500 to such requests with a body that never ends
  --bearer USER:PASS         require a Bearer token from /token (basic USER:PASS; "-" = anonymous); a token
                             asked with a push scope may push, one asked for pull only may not
  --identity-token TOKEN     with --bearer: tokens come only from an OAuth2 POST /token with
                             grant_type=refresh_token and refresh_token=TOKEN (a GET /token is refused)

Stops by itself after --lifetime seconds (default 300).
"""
import argparse, base64, hashlib, json, os, signal, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

# Close whatever descriptors were inherited (pipes of other tests' children started at the same
# moment), so that nobody waits for this long-lived server to close their pipe.
os.closerange(3, 65536)

# A parent that blocks signals in its threads (the Swift test runner does) passes that mask on:
# unblock SIGTERM so that stopping the server works.
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})

p = argparse.ArgumentParser()
p.add_argument("--layout", required=True)
p.add_argument("--repo", required=True)
p.add_argument("--log", required=True)
p.add_argument("--lie", action="append", default=[])
p.add_argument("--fail", action="append", default=[])
p.add_argument("--drop", action="append", default=[])
p.add_argument("--trickle", action="append", default=[])
p.add_argument("--endless", action="append", default=[])
p.add_argument("--bearer")
p.add_argument("--identity-token")
p.add_argument("--lifetime", type=float, default=300)
a = p.parse_args()

lock = threading.Lock()
fails = []
for f in a.fail:
    n, status, sub = f.split(":", 2)
    fails.append([int(n), int(status), sub])
drops = []
for d in a.drop:
    n, sub = d.split(":", 1)
    drops.append([int(n), sub])
trickles = []
for t in a.trickle:
    seconds, sub = t.split(":", 1)
    trickles.append([float(seconds), sub])
TOKEN = "fake-token-" + hashlib.sha256(os.urandom(16)).hexdigest()[:16]
PUSH_TOKEN = TOKEN + "-push"

def blob_path(digest):
    alg, _, hexpart = digest.partition(":")
    if alg != "sha256" or len(hexpart) != 64 or any(c not in "0123456789abcdef" for c in hexpart):
        return None
    return os.path.join(a.layout, "blobs", alg, hexpart)

def media_type(data):
    try:
        doc = json.loads(data)
    except Exception:
        return "application/octet-stream"
    if "mediaType" in doc:
        return doc["mediaType"]
    return "application/vnd.oci.image.index.v1+json" if "manifests" in doc else "application/vnd.oci.image.manifest.v1+json"

def resolve_tag(tag):
    with open(os.path.join(a.layout, "index.json")) as f:
        index = json.load(f)
    for m in index.get("manifests", []):
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag:
            return m["digest"]
    return None

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def record(self, status):
        with lock, open(a.log, "a") as f:
            f.write(f"{self.command} {self.path} {status}\n")

    def read_request_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def reply(self, status, body=b"", headers=None, send_body=True):
        self.record(status)
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def do_HEAD(self):
        self.handle_request(send_body=False)

    def do_GET(self):
        self.handle_request(send_body=True)

    def do_PUT(self):
        self.handle_request(send_body=True)

    def do_POST(self):
        if not (a.identity_token and self.path.startswith("/token")):
            self.read_request_body()
            return self.reply(405, b'{"errors":[{"code":"UNSUPPORTED"}]}', {}, True)
        form = parse_qs(self.read_request_body().decode())
        if form.get("grant_type") != ["refresh_token"] or form.get("refresh_token") != [a.identity_token]:
            return self.reply(401, b'{"error":"invalid_grant"}', {}, True)
        scopes = " ".join(form.get("scope", [])).split()
        token = PUSH_TOKEN if any("push" in s.rpartition(":")[2].split(",") for s in scopes) else TOKEN
        return self.reply(200, json.dumps({"access_token": token, "refresh_token": a.identity_token}).encode(),
                          {"Content-Type": "application/json"}, True)

    def handle_request(self, send_body):
        path = self.path
        if path.startswith("/token"):
            if a.identity_token:
                return self.reply(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"use the OAuth2 POST"}]}', {}, send_body)
            if a.bearer and a.bearer != "-":
                want = "Basic " + base64.b64encode(a.bearer.encode()).decode()
                if self.headers.get("Authorization") != want:
                    return self.reply(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}', {}, send_body)
            scopes = parse_qs(urlsplit(path).query).get("scope", [])
            token = PUSH_TOKEN if any("push" in s.rpartition(":")[2].split(",") for s in scopes) else TOKEN
            return self.reply(200, json.dumps({"token": token}).encode(), {"Content-Type": "application/json"}, send_body)
        reading = self.command in ("GET", "HEAD")
        allowed = {"Bearer " + TOKEN, "Bearer " + PUSH_TOKEN} if reading else {"Bearer " + PUSH_TOKEN}
        if a.bearer and self.headers.get("Authorization") not in allowed:
            port = self.server.server_address[1]
            challenge = (f'Bearer realm="http://127.0.0.1:{port}/token",service="fake",'
                         f'scope="repository:{a.repo}:{"pull" if reading else "pull,push"}"')
            self.read_request_body()
            return self.reply(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', {"WWW-Authenticate": challenge}, send_body)
        if self.command == "PUT":
            body = self.read_request_body()
            prefix = f"/v2/{a.repo}/manifests/"
            if not path.startswith(prefix):
                return self.reply(405, b'{"errors":[{"code":"UNSUPPORTED"}]}', {}, send_body)
            digest = "sha256:" + hashlib.sha256(body).hexdigest()
            return self.reply(201, b"", {"Docker-Content-Digest": digest, "Location": f"/v2/{a.repo}/manifests/{digest}"}, send_body)
        with lock:
            for f in fails:
                if f[0] > 0 and f[2] in path:
                    f[0] -= 1
                    status = f[1]
                    break
            else:
                status = None
        if send_body and any(sub in path for sub in a.endless):
            self.record("endless")
            self.send_response(500)
            self.send_header("Connection", "close")
            self.end_headers()
            chunk = b"x" * 65536
            try:
                while True:
                    self.wfile.write(chunk)
                    # Endless, but not as fast as the CPU allows: flat out, this loop (and the client draining
                    # it) took both cores of a loaded test machine and the test ran past its time limit.
                    time.sleep(0.005)
            except OSError:
                pass
            self.close_connection = True
            return
        if status is not None:
            return self.reply(status, b'{"errors":[{"code":"TOOMANYREQUESTS"}]}', {"Retry-After": "0"} if status == 429 else {}, send_body)
        if path == "/v2/" or path == "/v2":
            return self.reply(200, b"{}", {"Content-Type": "application/json"}, send_body)
        prefix = f"/v2/{a.repo}/"
        if not path.startswith(prefix):
            return self.reply(404, b'{"errors":[{"code":"NAME_UNKNOWN"}]}', {}, send_body)
        kind, _, ref = path[len(prefix):].partition("/")
        if kind == "manifests":
            digest = ref if ref.startswith("sha256:") else resolve_tag(ref)
        elif kind == "blobs":
            digest = ref
        else:
            digest = None
        fp = blob_path(digest) if digest else None
        if not fp or not os.path.exists(fp):
            return self.reply(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}', {}, send_body)
        with open(fp, "rb") as f:
            data = f.read()
        headers = {"Docker-Content-Digest": digest}
        headers["Content-Type"] = media_type(data) if kind == "manifests" else "application/octet-stream"
        if kind == "blobs" and digest in a.lie:
            data = bytes(b ^ 0x5A for b in data)  # same length, other bytes
        with lock:
            drop = False
            for d in drops:
                if d[0] > 0 and d[1] in path:
                    d[0] -= 1
                    drop = True
                    break
        if drop and send_body:
            self.record("dropped")
            self.send_response(200)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        trickle = next((t[0] for t in trickles if t[1] in path), None)
        if trickle is not None and send_body:
            self.record("trickled")
            self.send_response(200)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            try:
                for i in range(len(data)):
                    self.wfile.write(data[i:i + 1])
                    self.wfile.flush()
                    time.sleep(trickle)
            except OSError:
                pass
            self.close_connection = True
            return
        self.reply(200, data, headers, send_body)

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
stopper = threading.Timer(a.lifetime, server.shutdown)
stopper.daemon = True
stopper.start()
print(server.server_address[1], flush=True)
server.serve_forever()
