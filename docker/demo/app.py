"""The compose demo's application: a small HTTP service and its own client,
so that tcplife-otel (its sidecar) has connections of every kind to show.

Every two seconds it makes, over loopback and to the collector's host:
- a quick request, with a connection opened and closed for it;
- a slow request (the server takes 0.8 s), a longer lifespan;
- a keep-alive connection carrying three requests;
- a connection to a port where nothing listens: refused (an error span);
- a connection to the collector's health port, another container.
Standard library only.
"""
import http.client
import http.server
import socket
import threading
import time


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive

    def do_GET(self):
        if self.path == "/slow":
            time.sleep(0.8)
        body = b"hello from the demo app\n" * (40 if self.path == "/big" else 1)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def request(paths, host="127.0.0.1", port=8080):
    conn = http.client.HTTPConnection(host, port, timeout=5)
    try:
        for path in paths:
            conn.request("GET", path)
            conn.getresponse().read()
    finally:
        conn.close()


def refused():
    try:
        socket.create_connection(("127.0.0.1", 9), timeout=2).close()
    except ConnectionRefusedError:
        pass  # the point: a refused connect is an error span


def attempt(name, fn):
    try:
        fn()
    except OSError as err:
        print(f"demo: {name}: {err}", flush=True)


def main():
    server = http.server.ThreadingHTTPServer(("0.0.0.0", 8080), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print("demo: serving on :8080, calling itself every 2 s", flush=True)
    while True:
        attempt("quick", lambda: request(["/"]))
        attempt("slow", lambda: request(["/slow"]))
        attempt("keep-alive", lambda: request(["/", "/big", "/"]))
        attempt("refused", refused)
        attempt("collector", lambda: request(["/"], host="otel-collector", port=13133))
        time.sleep(2)


if __name__ == "__main__":
    main()
