"""The module's HTTPS service over real TLS connections: the lab CA's certificate, routing and
the service's own answers, the security headers, body limits, the header deadline against slow
clients, the per-address connection limit, the access log (token values redacted), the
statistics, and a graceful stop (last: it stops the node)."""
import http.client
import json
import os
import re
import select
import signal
import socket
import ssl
import subprocess
import time

import pytest

from lab import TEST_DEFINES, start_lab, wait_for

WORKERS = 2
HEADER_TIMEOUT = 4
PER_ADDRESS = 4
STOP_TIMEOUT = 8
SECURITY_HEADERS = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer",
                    "cache-control": "no-store",
                    "strict-transport-security": "max-age=31536000"}
HEALTH = {"node": "node1", "service": "pchat", "status": "ok"}


@pytest.fixture(scope="module")
def lab(request):
    return start_lab(request, defines=TEST_DEFINES + (
        " PCHAT_HTTP_WORKERS=%d PCHAT_HTTP_HEADER_TIMEOUT=%d"
        " PCHAT_HTTP_MAX_CONNECTIONS_PER_ADDRESS=%d PCHAT_HTTP_STOP_TIMEOUT=%d"
        % (WORKERS, HEADER_TIMEOUT, PER_ADDRESS, STOP_TIMEOUT)))


def port(lab):
    return lab.https_ports[0]


def tls_context(lab):
    return ssl.create_default_context(cafile=lab.env["PCHAT_TLS_CA"])


def request(lab, method, path, host="127.0.0.1", body=None, headers=None):
    """(status, headers with lower-case names, body) of one request on a fresh connection."""
    conn = http.client.HTTPSConnection(host, port(lab), context=tls_context(lab), timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def tls_socket(lab, source="127.0.0.1", timeout=10):
    raw = socket.socket()
    raw.settimeout(timeout)
    raw.bind((source, 0))
    raw.connect(("127.0.0.1", port(lab)))
    return tls_context(lab).wrap_socket(raw, server_hostname="127.0.0.1")


def read_response(sock, head=False):
    """(status, headers, body) read from a socket; the body as long as Content-Length says
    (none for a HEAD)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, "the connection ended before the head of the answer: %r" % data
        data += chunk
    head_text, _, body = data.partition(b"\r\n\r\n")
    lines = head_text.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in lines[1:])}
    length = 0 if head else int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(4096)
        assert chunk, "the connection ended inside the body"
        body += chunk
    return int(lines[0].split()[1]), headers, body


def rest_until_closed(sock, timeout=10):
    """Whatever still comes until the peer closes the connection."""
    sock.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                return data
            data += chunk
    except (ConnectionResetError, ssl.SSLError):
        return data


def closes_after(sock, started, limit, drip=None):
    """Seconds from started until the peer closes sock (None: still open after limit seconds),
    sending drip every 0.3 s meanwhile; an answer fails the test."""
    while time.time() - started < limit:
        readable, _, _ = select.select([sock], [], [], 0.3)
        if readable:
            try:
                data = sock.recv(4096)
            except (ConnectionResetError, ssl.SSLError, OSError):
                return time.time() - started
            assert not data, "the server answered a request it should not have: %r" % data
            return time.time() - started
        if drip:
            try:
                sock.sendall(drip)
            except OSError:
                return time.time() - started
    return None


def access_lines(lab, since):
    return [line for line in lab.log(since=since).splitlines() if "http access:" in line]


def test_health_over_tls_verified_by_the_lab_ca(lab):
    for host in ("127.0.0.1", "localhost"):
        status, headers, body = request(lab, "GET", "/health", host=host)
        assert status == 200
        assert headers["content-type"] == "application/json"
        assert json.loads(body) == HEALTH
    out = subprocess.run(["curl", "-sS", "--max-time", "10", "--cacert", lab.env["PCHAT_TLS_CA"],
                          "%s/health" % lab.env["PCHAT_HTTPS_URL"]], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    assert out.returncode == 0 and json.loads(out.stdout) == HEALTH, out.stdout
    # the certificate is the lab's, for those names only
    with pytest.raises(ssl.SSLCertVerificationError):
        tls_context(lab).wrap_socket(socket.create_connection(("127.0.0.1", port(lab))),
                                     server_hostname="example.com")
    with pytest.raises(ssl.SSLCertVerificationError):
        ssl.create_default_context().wrap_socket(
            socket.create_connection(("127.0.0.1", port(lab))), server_hostname="localhost")


def test_plain_http_to_the_tls_port_gets_no_http_answer(lab):
    with socket.create_connection(("127.0.0.1", port(lab)), timeout=10) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        data = rest_until_closed(s)
    assert b"HTTP/" not in data and b"pchat" not in data, data


def test_unknown_path_is_404_in_json(lab):
    status, headers, body = request(lab, "GET", "/nothing/here?x=1")
    assert (status, json.loads(body)) == (404, {"error": "not found"})
    assert headers["content-type"] == "application/json"
    out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time",
                          "10", "--cacert", lab.env["PCHAT_TLS_CA"],
                          "%s/healthz" % lab.env["PCHAT_HTTPS_URL"]],
                         stdout=subprocess.PIPE, text=True)
    assert out.stdout == "404"


def test_other_method_is_405_with_allow(lab):
    for method in ("POST", "DELETE", "OPTIONS"):
        status, headers, body = request(lab, method, "/health")
        assert (status, json.loads(body)) == (405, {"error": "method not allowed"})
        assert headers["allow"] == "GET, HEAD"


def test_head_has_the_length_of_get_and_no_body(lab):
    _, _, get_body = request(lab, "GET", "/health")
    with tls_socket(lab) as s:
        s.sendall(b"HEAD /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        status, headers, body = read_response(s, head=True)
        assert status == 200
        assert int(headers["content-length"]) == len(get_body)
        assert body + rest_until_closed(s) == b""


def test_every_answer_has_the_security_headers(lab):
    answers = [request(lab, "GET", "/health"), request(lab, "HEAD", "/health"),
               request(lab, "GET", "/nope"), request(lab, "POST", "/health", body=b"x"),
               request(lab, "GET", "/health", body=b"too much")]
    assert [a[0] for a in answers] == [200, 200, 404, 405, 413]
    for _, headers, _ in answers:
        assert {k: headers.get(k) for k in SECURITY_HEADERS} == SECURITY_HEADERS


def test_bodies_over_the_limit_are_refused_with_413(lab):
    refused = lab.stat("http_refused")
    # a Content-Length above the limit (0 for /health): answered before any of the body is sent
    with tls_socket(lab) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n")
        status, headers, body = read_response(s)
        assert (status, json.loads(body)) == (413, {"error": "body too large"})
        assert headers["connection"] == "close"
    # a chunked body: answered as soon as it grows past the limit, the connection closed after
    with tls_socket(lab) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"5\r\nhello\r\n")
        status, headers, body = read_response(s)
        assert (status, json.loads(body)) == (413, {"error": "body too large"})
        assert headers["connection"] == "close"
        assert {k: headers.get(k) for k in SECURITY_HEADERS} == SECURITY_HEADERS
        assert rest_until_closed(s) == b""
    assert wait_for(lambda: lab.stat("http_refused") == refused + 2, 5)


def test_slow_heads_are_cut_at_the_header_deadline(lab):
    """A client that drips its request head, and one that never sends a request, are cut off
    about http_header_timeout after they connected, without an answer."""
    timeouts = lab.stat("http_timeouts")
    mark = lab.log_mark()
    started = time.time()
    drip = tls_socket(lab)
    silent = socket.create_connection(("127.0.0.1", port(lab)), timeout=10)
    try:
        drip.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        drip_closed = closes_after(drip, started, HEADER_TIMEOUT + 6, drip=b"X-Slow: 1\r\n")
        silent_closed = closes_after(silent, started, HEADER_TIMEOUT + 6)
        drip_port, silent_port = drip.getsockname()[1], silent.getsockname()[1]
    finally:
        drip.close()
        silent.close()
    assert drip_closed is not None and HEADER_TIMEOUT - 0.5 <= drip_closed <= HEADER_TIMEOUT + 4
    assert silent_closed is not None and silent_closed <= HEADER_TIMEOUT + 4
    assert wait_for(lambda: lab.stat("http_timeouts") == timeouts + 2, 5)
    lines = access_lines(lab, mark)
    assert any("peer=127.0.0.1:%d " % drip_port in line and 'path="/health"' in line
               and "status=- " in line and "end=header-deadline" in line for line in lines), lines
    assert any("peer=127.0.0.1:%d " % silent_port in line and "end=header-deadline" in line
               and "no request within %d s" % HEADER_TIMEOUT in line for line in lines), lines


def test_connections_over_the_per_address_limit_are_refused(lab):
    """Each worker holds at most http_max_connections_per_address connections of one address,
    so of many, between that and that times the workers stay; the rest are closed at once
    (long before the header deadline closes the others). The address is served again once
    they are gone."""
    opened = PER_ADDRESS * WORKERS + 4
    source = "127.0.0.9"  # an address of its own: the other tests' connections do not count
    socks, started = [], time.time()
    for _ in range(opened):
        s = socket.socket()
        s.bind((source, 0))
        s.connect(("127.0.0.1", port(lab)))
        socks.append(s)
    closed_at = {}

    def note_closes():
        readable, _, _ = select.select([s for s in socks if s not in closed_at], [], [], 0.1)
        for s in readable:
            try:
                s.recv(1)
            except OSError:
                pass
            closed_at[s] = time.time() - started

    try:
        # every close seen until a second before the header deadline is a refusal
        while time.time() - started < HEADER_TIMEOUT - 1:
            note_closes()
        kept = opened - len(closed_at)
        assert PER_ADDRESS <= kept <= PER_ADDRESS * WORKERS, closed_at
    finally:
        for s in socks:
            s.close()

    def served():
        try:
            with tls_socket(lab, source=source) as s:
                s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                return read_response(s)[0] == 200
        except (OSError, AssertionError):
            return False
    assert wait_for(served, 10)


def test_access_log_shows_requests_but_never_a_token(lab):
    mark = lab.log_mark()
    request(lab, "GET", "/health?token=SECRET123&x=1",
            headers={"Authorization": "Bearer SECRET789"})
    request(lab, "GET", "/nope?%54OKEN=SECRET456")
    wanted = ['path="/health" query="token=[redacted]&x=1" status=200',
              'path="/nope" query="%54OKEN=[redacted]" status=404']
    assert wait_for(lambda: all(any(w in line for line in access_lines(lab, mark))
                                for w in wanted), 5), access_lines(lab, mark)
    line = next(line for line in access_lines(lab, mark) if wanted[0] in line)
    assert re.search(r"peer=127\.0\.0\.1:\d+ method=GET .* in=\d+ out=48 ms=\d+ end=ok", line), \
        line
    assert "SECRET" not in lab.log(since=mark)


def test_request_counter_counts_every_request(lab):
    before = lab.stat("http_requests")
    for path in ("/health", "/nope", "/health?x=1"):
        request(lab, "GET", path)
    assert wait_for(lambda: lab.stat("http_requests") == before + 3, 5)


def test_a_stop_refuses_new_work_and_lets_requests_finish(lab):
    """SIGTERM to the node: new connections are refused at once, a connection waiting for its
    next request is closed, a request whose head completes during the stop gets 503, and the
    workers are gone within http_stop_timeout. It stops the node: it runs last."""
    pgid = int(lab.env["PCHAT_NODE_PGIDS"].split()[0])
    idle = tls_socket(lab)
    idle.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert read_response(idle)[0] == 200
    before = lab.stat("http_requests")
    half = tls_socket(lab)
    half.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    assert wait_for(lambda: lab.stat("http_requests") == before + 1, 3)  # its request line is in
    mark = lab.log_mark()
    started = time.time()
    os.killpg(pgid, signal.SIGTERM)
    try:
        assert wait_for(lambda: lab.log(since=mark).count("stopping;") == WORKERS, 3), \
            lab.log(since=mark)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port(lab)), timeout=5)
        assert rest_until_closed(idle, timeout=STOP_TIMEOUT - 3) == b""
        assert time.time() - started < STOP_TIMEOUT - 2  # closed at once, not at the end
        half.sendall(b"\r\n")
        status, headers, body = read_response(half)
        assert (status, json.loads(body)) == (503, {"error": "stopping"})
        assert headers["connection"] == "close"
        assert wait_for(lambda: subprocess.run(["pgrep", "-g", str(pgid)],
                                               stdout=subprocess.PIPE).returncode != 0,
                        STOP_TIMEOUT + 10)
    finally:
        idle.close()
        half.close()
    log = lab.log(since=mark)
    assert log.count("stopped") >= WORKERS, log
    assert any('status=503' in line and 'note="stopping"' in line
               for line in access_lines(lab, mark)), log
