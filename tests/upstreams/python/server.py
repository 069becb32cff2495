#!/usr/bin/env python3
"""jwtgate e2e echo upstream (Python stdlib only).

    python3 tests/upstreams/python/server.py --port 9402

Answers EVERY method and path with 200 and a JSON echo:
    {"service": "python", "method": ..., "path": <raw path incl. query>,
     "headers": {<lowercased name>: <str | [str, ...] if sent more than once>}}
"""

import argparse
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def echo_headers(items):
    out = {}
    for name, value in items:
        name = name.lower()
        if name not in out:
            out[name] = value
        elif isinstance(out[name], list):
            out[name].append(value)
        else:
            out[name] = [out[name], value]
    return out


class EchoHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every response has Content-Length
    server_version = "jwtgate-echo-python"

    def version_string(self):
        return self.server_version

    def _drain_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    return
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    # trailers until the empty line
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return
                self.rfile.read(size + 2)  # chunk + CRLF
        else:
            length = int(self.headers.get("Content-Length") or 0)
            if length > 0:
                self.rfile.read(length)

    def _echo(self):
        self._drain_body()
        body = json.dumps(
            {
                "service": "python",
                "method": self.command,
                "path": self.path,
                "headers": echo_headers(self.headers.items()),
            }
        ).encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def __getattr__(self, name):
        # BaseHTTPRequestHandler dispatches to do_<METHOD>; answer them all.
        if name.startswith("do_"):
            return self._echo
        raise AttributeError(name)

    def log_message(self, format, *args):
        sys.stdout.write("upstream python %s\n" % (format % args))
        sys.stdout.flush()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9402)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()

    ThreadingHTTPServer.daemon_threads = True
    server = ThreadingHTTPServer((args.host, args.port), EchoHandler)
    print("upstream python listening", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
