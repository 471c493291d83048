#!/usr/bin/env python3
"""tests/tools/k8s_replay.py - a local HTTPS stand-in for a Kubernetes API
server, for the kubernetes watcher's tests.  Standard library only; the
certificates come from the openssl command line tool.

  k8s_replay.py serve --dir DIR --scenario FILE [--auth cert|token]
                      [--ready FILE] [--lifetime SECONDS]

On start it creates DIR/ca.pem, server.{pem,key}, client.{pem,key} (a
self-signed CA, a server certificate for 127.0.0.1/localhost, a client
certificate for system:admin), plus other-ca.pem (an unrelated CA), binds
127.0.0.1:0, and writes DIR/kubeconfig (CA, client certificate and key
inline; with --auth token a bearer token instead), DIR/kubeconfig-badca
(trusting other-ca.pem only), then the port to --ready.

The scenario (JSON) is a list of steps, one per request, in order:

  {"steps": [
     {"match": "list", "body": "servicelist.json"},
     {"match": "watch", "rv": "1000", "events": "watch1.jsonl"},
     {"match": "watch", "rv": "1004", "status": 410, "body": "gone.json"}
  ]}

"match" is list (GET /api/v1/services) or watch (?watch=1); "rv" is the
resourceVersion the watch must ask for.  A request that does not match its
step gets HTTP 500 and a MISMATCH line in DIR/requests.log (every request is
logged there).  File names are relative to the scenario's directory.  When
the steps are used up, requests get a watch that stays silent.

An events file is sent line by line, each line as one chunk of a chunked
response (split in two chunks when "#! split" is on).  Lines starting with
"#!" are directives, other lines starting with "#" are comments:

  #! gate NAME      wait (up to 60 s) until DIR/gate.NAME exists
  #! sleep SECONDS
  #! split          from now on send each line as two chunks
  #! partial TEXT   send TEXT without a newline (half an event)
  #! drop           close the connection now, no final chunk (dropped watch)
  #! huge BYTES     send one line of BYTES bytes (a huge event)
  #! end            finish the response properly (watch timeout)

At the end of the file the watch stays open (until the client goes away or
--lifetime passes).  Fixtures are written from the Kubernetes API reference,
not recorded from a live cluster.
"""

import argparse
import base64
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time

TOKEN = "replay-token-0123456789abcdef"


def run(*args):
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_ca(d, name):
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", os.path.join(d, name + ".key"), "-out", os.path.join(d, name + ".pem"), "-days", "2",
        "-subj", "/CN=" + name, "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")


def make_leaf(d, name, subj, ext):
    key, csr, pem = (os.path.join(d, name + s) for s in (".key", ".csr", ".pem"))
    extf = os.path.join(d, name + ".ext")
    with open(extf, "w") as f:
        f.write(ext + "\n")
    run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", key, "-out", csr, "-subj", subj)
    run("openssl", "x509", "-req", "-in", csr, "-CA", os.path.join(d, "ca.pem"),
        "-CAkey", os.path.join(d, "ca.key"), "-CAcreateserial", "-out", pem, "-days", "2",
        "-extfile", extf)


def gencerts(d):
    if os.path.exists(os.path.join(d, "client.pem")):
        return
    make_ca(d, "ca")
    make_ca(d, "other-ca")
    make_leaf(d, "server", "/CN=kube-apiserver",
              "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth")
    make_leaf(d, "client", "/O=system:masters/CN=system:admin", "extendedKeyUsage=clientAuth")


def b64file(path):
    with open(path, "rb") as f:
        return base64.b64encode(f.read()).decode()


def write_kubeconfig(d, port, auth, ca="ca.pem", name="kubeconfig"):
    if auth == "token":
        user = "    token: %s\n" % TOKEN
    else:
        user = ("    client-certificate-data: %s\n    client-key-data: %s\n"
                % (b64file(os.path.join(d, "client.pem")), b64file(os.path.join(d, "client.key"))))
    text = ("apiVersion: v1\n"
            "clusters:\n"
            "- cluster:\n"
            "    certificate-authority-data: %s\n"
            "    server: https://127.0.0.1:%d\n"
            "  name: default\n"
            "contexts:\n"
            "- context:\n"
            "    cluster: default\n"
            "    user: default\n"
            "  name: default\n"
            "current-context: default\n"
            "kind: Config\n"
            "preferences: {}\n"
            "users:\n"
            "- name: default\n"
            "  user:\n%s" % (b64file(os.path.join(d, ca)), port, user))
    tmp = os.path.join(d, name + ".tmp")
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, os.path.join(d, name))


class Replay:
    def __init__(self, args):
        self.dir = args.dir
        with open(args.scenario) as f:
            self.steps = json.load(f)["steps"]
        self.base = os.path.dirname(os.path.abspath(args.scenario))
        self.auth = args.auth
        self.lock = threading.Lock()
        self.next = 0
        self.deadline = time.time() + args.lifetime

    def log(self, line):
        with self.lock:
            with open(os.path.join(self.dir, "requests.log"), "a") as f:
                f.write(line + "\n")

    def take_step(self):
        with self.lock:
            if self.next >= len(self.steps):
                return None, self.next
            s = self.steps[self.next]
            self.next += 1
            return s, self.next - 1

    def fixture(self, name):
        with open(os.path.join(self.base, name), "rb") as f:
            return f.read()

    # ------------------------------------------------------------ one connection

    def handle(self, conn):
        conn.settimeout(30)
        head = b""
        while b"\r\n\r\n" not in head:
            b = conn.recv(4096)
            if not b:
                return
            head += b
            if len(head) > 65536:
                return
        lines = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        method, target, _ = (lines[0].split(" ") + ["", "", ""])[:3]
        hdrs = {}
        for l in lines[1:]:
            k, _, v = l.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        path, _, query = target.partition("?")
        params = dict(p.partition("=")[::2] for p in query.split("&") if p)
        kind = "watch" if params.get("watch") in ("1", "true") else "list"
        self.log("%s %s" % (method, target))
        if self.auth == "token" and hdrs.get("authorization") != "Bearer " + TOKEN:
            self.log("UNAUTHORIZED %s" % target)
            return self.reply(conn, 401, b'{"kind":"Status","code":401}')
        if method != "GET" or path != "/api/v1/services":
            self.log("MISMATCH unexpected request %s %s" % (method, target))
            return self.reply(conn, 404, b'{"kind":"Status","code":404}')
        step, idx = self.take_step()
        if step is None:
            if kind == "list":
                self.log("MISMATCH list after the last step")
                return self.reply(conn, 500, b'{}')
            return self.stream(conn, [])
        want_rv = step.get("rv")
        if step["match"] != kind or (want_rv is not None and params.get("resourceVersion") != want_rv):
            self.log("MISMATCH step %d wants %s rv=%s, got %s" % (idx, step["match"], want_rv, target))
            return self.reply(conn, 500, b'{"kind":"Status","code":500}')
        if kind == "watch" and params.get("allowWatchBookmarks") != "true":
            self.log("MISMATCH watch without allowWatchBookmarks=true")
        self.log("STEP %d" % idx)
        if "events" in step:
            text = self.fixture(step["events"]).decode()
            return self.stream(conn, text.split("\n"))
        return self.reply(conn, step.get("status", 200), self.fixture(step["body"]))

    def reply(self, conn, status, body):
        reason = {200: "OK", 401: "Unauthorized", 404: "Not Found", 410: "Gone", 500: "Internal Server Error"}
        conn.sendall(b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                     % (status, reason.get(status, "X").encode(), len(body)) + body)
        self.close(conn)

    def close(self, conn):
        try:
            conn.unwrap()
        except (OSError, ssl.SSLError, ValueError):
            pass
        conn.close()

    def chunk(self, conn, data):
        conn.sendall(b"%x\r\n" % len(data) + data + b"\r\n")

    def stream(self, conn, lines):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        split = False
        for line in lines:
            if line.startswith("#!"):
                words = line[2:].strip().split(" ", 1)
                op, arg = words[0], (words[1] if len(words) > 1 else "")
                if op == "gate":
                    gate = os.path.join(self.dir, "gate." + arg)
                    end = time.time() + 60
                    while not os.path.exists(gate) and time.time() < end:
                        time.sleep(0.05)
                elif op == "sleep":
                    time.sleep(float(arg))
                elif op == "split":
                    split = True
                elif op == "partial":
                    self.chunk(conn, arg.encode())
                elif op == "drop":
                    conn.shutdown(socket.SHUT_RDWR)
                    conn.close()
                    return
                elif op == "huge":
                    n = int(arg)
                    data = b'{"type":"ADDED","object":{"pad":"' + b"x" * n + b'"}}\n'
                    for i in range(0, len(data), 1 << 16):
                        self.chunk(conn, data[i:i + (1 << 16)])
                elif op == "end":
                    conn.sendall(b"0\r\n\r\n")
                    self.close(conn)
                    return
                continue
            if not line or line.startswith("#"):
                continue
            data = line.encode() + b"\n"
            if split and len(data) > 2:
                self.chunk(conn, data[:len(data) // 2])
                time.sleep(0.01)
                self.chunk(conn, data[len(data) // 2:])
            else:
                self.chunk(conn, data)
        # Stay open and silent until the client leaves or our time is up.
        conn.settimeout(0.5)
        while time.time() < self.deadline:
            try:
                if not conn.recv(1024):
                    break
            except socket.timeout:
                continue
            except (OSError, ssl.SSLError):
                break
        self.close(conn)


def serve(args):
    os.makedirs(args.dir, exist_ok=True)
    gencerts(args.dir)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(args.dir, "server.pem"), os.path.join(args.dir, "server.key"))
    if args.auth == "cert":
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(os.path.join(args.dir, "ca.pem"))
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", args.port))
    ls.listen(16)
    ls.settimeout(0.5)
    port = ls.getsockname()[1]
    write_kubeconfig(args.dir, port, args.auth)
    write_kubeconfig(args.dir, port, args.auth, ca="other-ca.pem", name="kubeconfig-badca")
    r = Replay(args)
    if args.ready:
        with open(args.ready + ".tmp", "w") as f:
            f.write("%d\n" % port)
        os.rename(args.ready + ".tmp", args.ready)

    def one(raw):
        try:
            conn = ctx.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError) as e:
            r.log("TLS handshake failed: %s" % e)
            raw.close()
            return
        try:
            r.handle(conn)
        except (OSError, ssl.SSLError) as e:
            r.log("connection ended: %s" % e)
            try:
                conn.close()
            except OSError:
                pass

    while time.time() < r.deadline:
        try:
            raw, _ = ls.accept()
        except socket.timeout:
            continue
        raw.settimeout(10)
        threading.Thread(target=one, args=(raw,), daemon=True).start()
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--dir", required=True)
    s.add_argument("--scenario", required=True)
    s.add_argument("--auth", choices=("cert", "token"), default="cert")
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--ready")
    s.add_argument("--lifetime", type=float, default=300)
    args = ap.parse_args()
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
