"""A small, real SIP user agent for the tests: UDP, TCP or TLS sockets, transactions with UDP
retransmission, dialogs, and automatic answers to requests the server sends.

It is deliberately strict about what it receives (every message is parsed and Content-Length is
checked) and flexible in what it sends, so tests can also send what a broken or old client sends
(requests without a Via branch, bodies without a Content-Length, garbage).

With a password it answers digest challenges (401/407, MD5, qop=auth) by sending the request again
with credentials; its socket can be bound to another local address (127.0.0.2, to play a trusted
front end).

Over TLS it verifies the server's certificate with the ssl.SSLContext it is given (the lab's:
Lab.tls_context(), which may also present a client certificate).
"""

import hashlib
import queue
import random
import re
import select
import socket
import ssl
import string
import threading
import time

COMPACT = {"i": "call-id", "f": "from", "t": "to", "v": "via", "m": "contact",
           "l": "content-length", "c": "content-type", "k": "supported", "o": "event",
           "x": "session-expires", "e": "content-encoding"}


def token(n=10):
    return "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(n))


class Message:
    """A parsed SIP request or response."""

    def __init__(self, first_line, headers, body):
        self.first_line = first_line
        self.headers = headers  # list of (name, value), names as sent
        self.body = body        # bytes
        parts = first_line.split(" ", 2)
        if first_line.startswith("SIP/2.0"):
            self.is_request = False
            self.status = int(parts[1])
            self.reason = parts[2] if len(parts) > 2 else ""
            self.method = None
        else:
            self.is_request = True
            self.method = parts[0]
            self.uri = parts[1]
            self.status = None

    def all(self, name):
        name = name.lower()
        return [v for n, v in self.headers if COMPACT.get(n.lower(), n.lower()) == name]

    def get(self, name, default=None):
        values = self.all(name)
        return values[0] if values else default

    @property
    def cseq(self):
        num, method = self.get("cseq").split()
        return int(num), method

    @property
    def call_id(self):
        return self.get("call-id")

    def tag(self, header):
        m = re.search(r";\s*tag=([^;>\s]+)", self.get(header, ""))
        return m.group(1) if m else None

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        return "<%s>" % self.first_line


def parse_stream(buf):
    """Splits complete messages off the front of buf. Returns (messages, rest)."""
    out = []
    while True:
        while buf.startswith(b"\r\n"):
            buf = buf[2:]  # keep-alive CRLFs
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return out, buf
        head = buf[:end].decode("utf-8", "replace").split("\r\n")
        headers = []
        for line in head[1:]:
            if line[:1] in (" ", "\t") and headers:
                headers[-1] = (headers[-1][0], headers[-1][1] + " " + line.strip())
            elif ":" in line:
                n, v = line.split(":", 1)
                headers.append((n.strip(), v.strip()))
        msg = Message(head[0], headers, b"")
        length = msg.get("content-length")
        if length is None:
            raise ValueError("message without Content-Length on a stream: %r" % head[0])
        total = end + 4 + int(length)
        if len(buf) < total:
            return out, buf
        msg.body = buf[end + 4:total]
        out.append(msg)
        buf = buf[total:]


def parse_datagram(data):
    msgs, rest = parse_stream(data)
    if len(msgs) != 1 or rest.strip():
        raise ValueError("datagram is not exactly one SIP message")
    return msgs[0]


def md5(text):
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def parse_challenge(value):
    """The parameters of a WWW-Authenticate / Proxy-Authenticate value (keys in lower case),
    with 'scheme'."""
    scheme, _, rest = value.strip().partition(" ")
    params = {k.lower(): v[1:-1] if v.startswith('"') else v
              for k, v in re.findall(r'([\w-]+)\s*=\s*("[^"]*"|[^\s,]+)', rest)}
    params["scheme"] = scheme
    return params


def digest_credentials(challenge, method, uri, user, password, nc=1, cnonce=None):
    """The Authorization value answering a digest challenge (RFC 2617: MD5, qop=auth or none)."""
    realm, nonce = challenge["realm"], challenge["nonce"]
    ha1 = md5("%s:%s:%s" % (user, realm, password))
    ha2 = md5("%s:%s" % (method, uri))
    fields = [("username", '"%s"' % user), ("realm", '"%s"' % realm), ("nonce", '"%s"' % nonce),
              ("uri", '"%s"' % uri), ("algorithm", "MD5")]
    qops = [q.strip() for q in challenge.get("qop", "").split(",") if q.strip()]
    if "auth" in qops:
        cnonce = cnonce or token(16)
        response = md5("%s:%s:%08x:%s:auth:%s" % (ha1, nonce, nc, cnonce, ha2))
        fields += [("qop", "auth"), ("nc", "%08x" % nc), ("cnonce", '"%s"' % cnonce)]
    else:
        response = md5("%s:%s:%s" % (ha1, nonce, ha2))
    fields.append(("response", '"%s"' % response))
    if "opaque" in challenge:
        fields.append(("opaque", '"%s"' % challenge["opaque"]))
    return "Digest " + ", ".join("%s=%s" % f for f in fields)


class Transport:
    """One socket to the server, read by a background thread; bound to local_host. proto "tls"
    needs tls_context (an ssl.SSLContext); the handshake is done (or has failed with
    ssl.SSLError) when the constructor returns. One TLS connection is not to be read and written
    at once from two threads: the reader and the senders take turns under self.lock, the socket
    non-blocking."""

    def __init__(self, server, proto, local_host="127.0.0.1", tls_context=None):
        self.server = server
        self.proto = proto
        if proto == "udp":
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            self.sock.bind((local_host, 0))
        else:
            self.sock = socket.create_connection(server, timeout=5,
                                                 source_address=(local_host, 0))
            if proto == "tls":
                try:
                    self.sock = tls_context.wrap_socket(self.sock, server_hostname=server[0])
                except OSError:
                    self.sock.close()
                    raise
                self.sock.setblocking(False)
            else:
                self.sock.settimeout(None)
        self.local = self.sock.getsockname()
        self.lock = threading.Lock()
        self.closed = False  # the connection ended, or the test closed it
        self.shut = False    # the test closed it
        self.bad = []  # datagrams that were not one SIP message

    def send(self, data):
        """Sends data; a transport the test closed sends nothing (the reader may still be
        answering a request that came just before)."""
        with self.lock:
            if self.shut:
                return
            if self.proto == "udp":
                self.sock.sendto(data, self.server)
            elif self.proto == "tls":
                self.send_tls(data)
            else:
                self.sock.sendall(data)

    def send_tls(self, data):
        view = memoryview(data)
        while view:
            try:
                view = view[self.sock.send(view):]
            except (ssl.SSLWantWriteError, ssl.SSLWantReadError):
                select.select([self.sock], [self.sock], [], 1.0)

    def recv_tls(self):
        """What the TLS connection has to read (b"" at its end), waiting for it."""
        while not self.closed:
            with self.lock:
                try:
                    return self.sock.recv(65535)
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    pass
            select.select([self.sock], [], [], 0.2)
        return b""

    def reader(self, deliver):
        buf = b""
        while not self.closed:
            try:
                if self.proto == "udp":
                    data, _ = self.sock.recvfrom(65535)
                    self.take_datagram(data, deliver)
                    continue
                data = self.recv_tls() if self.proto == "tls" else self.sock.recv(65535)
            except (OSError, ValueError):  # ValueError: select() on a socket closed meanwhile
                break
            if not data:
                break
            buf += data
            msgs, buf = parse_stream(buf)
            for m in msgs:
                deliver(m)
        self.closed = True

    def take_datagram(self, data, deliver):
        """A keep-alive (CRLF) is skipped; anything else that is not one SIP message is kept in
        self.bad for the test to see, and the reader goes on (it used to die of it, and the
        user agent with it)."""
        if not data.strip():
            return
        try:
            deliver(parse_datagram(data))
        except ValueError:
            self.bad.append(data)

    def close(self):
        with self.lock:
            self.shut = self.closed = True
            try:
                if self.proto != "udp":
                    self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()


class UserAgent:
    """A SIP user agent for one user. Requests the server sends (INFO, BYE, ...) are answered by
    `answer` (a status code, or a function message -> code or None for no answer) and kept in
    `requests`; every received message is also kept in `received`.

    password: answer digest challenges as auth_user (default: user). local_host: the local address
    of the socket. tls_context: the ssl.SSLContext of proto "tls". extra_headers: (name, value) pairs added to every request it sends (a test
    playing a front end asserts an identity this way)."""

    def __init__(self, user, domain, server, proto="udp", branchless=False, password=None,
                 auth_user=None, local_host="127.0.0.1", extra_headers=(), tls_context=None):
        self.user, self.domain, self.server, self.proto = user, domain, server, proto
        self.uri = "sip:%s@%s" % (user, domain)
        self.branchless = branchless
        self.password = password
        self.auth_user = auth_user or user
        self.extra_headers = list(extra_headers)
        self.challenges = []  # the 401/407 responses answered
        self.transport = Transport(server, proto, local_host, tls_context)
        self.tag = token()
        self.answer = 200
        self.requests = queue.Queue()
        self.received = []
        self.pending = {}  # (call-id, cseq, method) -> queue of responses
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.transport.reader, args=(self.deliver,),
                                       daemon=True)
        self.thread.start()

    @property
    def contact(self):
        host, port = self.transport.local
        return "<sip:%s@%s:%d;transport=%s>" % (self.user, host, port, self.proto)

    def via(self, branch=None):
        host, port = self.transport.local
        via = "SIP/2.0/%s %s:%d" % (self.proto.upper(), host, port)
        if branch:
            via += ";branch=" + branch
        return via

    # ---- sending

    def build(self, method, uri, headers, body=b"", content_length=True):
        if isinstance(body, str):
            body = body.encode("utf-8")
        lines = ["%s %s SIP/2.0" % (method, uri)] + ["%s: %s" % h for h in headers]
        if content_length:
            lines.append("Content-Length: %d" % len(body))
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body

    def send_raw(self, data):
        self.transport.send(data)

    def request(self, method, uri, headers, body=b"", timeout=5.0, content_length=True,
                final=True, authenticate=True):
        """Sends a request (headers must include Call-ID and CSeq) and returns its final
        response (or the first response when final=False); None on timeout. A digest challenge
        is answered once when the UA has a password: the request goes again with the next CSeq
        and credentials, and the answer to that is returned."""
        resp = self._request(method, uri, headers, body, timeout, content_length, final)
        if (authenticate and self.password is not None and resp is not None
                and resp.status in (401, 407) and method not in ("ACK", "CANCEL")):
            self.challenges.append(resp)
            if method == "INVITE":
                self.ack_failure(uri, headers, resp)
            kind = "WWW-Authenticate" if resp.status == 401 else "Proxy-Authenticate"
            cred = "Authorization" if resp.status == 401 else "Proxy-Authorization"
            challenge = parse_challenge(resp.get(kind, ""))
            num = int(dict((n.lower(), v) for n, v in headers)["cseq"].split()[0]) + 1
            again = [(n, v) for n, v in headers
                     if n.lower() not in ("via", "cseq", "authorization", "proxy-authorization")]
            again += [("CSeq", "%d %s" % (num, method)),
                      (cred, digest_credentials(challenge, method, uri, self.auth_user,
                                                self.password))]
            resp = self._request(method, uri, again, body, timeout, content_length, final)
        return resp

    def ack_failure(self, uri, headers, resp):
        """The ACK of a failed INVITE: same branch and CSeq number, the answer's To."""
        h = dict((n.lower(), v) for n, v in headers)
        hdrs = [("Via", resp.get("via")), ("Max-Forwards", "70"), ("From", h["from"]),
                ("To", resp.get("to")), ("Call-ID", h["call-id"]),
                ("CSeq", "%s ACK" % h["cseq"].split()[0])]
        hdrs += [(n, v) for n, v in headers if n.lower() == "route"]
        self.send_raw(self.build("ACK", uri, hdrs))

    def _request(self, method, uri, headers, body, timeout, content_length, final):
        h = dict((n.lower(), v) for n, v in headers)
        key = (h["call-id"], int(h["cseq"].split()[0]), h["cseq"].split()[1])
        if not any(n.lower() == "via" for n, _ in headers):
            branch = None if self.branchless else "z9hG4bK" + token(12)
            headers = [("Via", self.via(branch))] + list(headers)
        headers = list(headers) + self.extra_headers
        data = self.build(method, uri, headers, body, content_length)
        q = queue.Queue()
        with self.lock:
            self.pending[key] = q
        try:
            self.send_raw(data)
            deadline = time.time() + timeout
            interval = 0.5
            next_retr = time.time() + interval
            while True:
                now = time.time()
                if now >= deadline:
                    return None
                try:
                    resp = q.get(timeout=max(0.01, min(deadline, next_retr) - now))
                except queue.Empty:
                    if self.proto == "udp" and method != "ACK" and time.time() >= next_retr:
                        self.send_raw(data)
                        interval = min(interval * 2, 4.0)
                        next_retr = time.time() + interval
                    continue
                if resp.status >= 200 or not final:
                    return resp
        finally:
            with self.lock:
                self.pending.pop(key, None)

    def respond(self, req, status, reason=None, headers=(), body=b""):
        reasons = {200: "OK", 481: "Call/Transaction Does Not Exist", 487: "Request Terminated",
                   500: "Server Internal Error"}
        lines = ["SIP/2.0 %d %s" % (status, reason or reasons.get(status, "Whatever"))]
        for name in ("via", "from", "to", "call-id", "cseq"):
            for v in req.all(name):
                if name == "to" and status > 100 and not req.tag("to"):
                    v += ";tag=" + self.tag
                lines.append("%s: %s" % (name.title().replace("Id", "ID"), v))
        lines += ["%s: %s" % h for h in headers]
        if isinstance(body, str):
            body = body.encode("utf-8")
        lines.append("Content-Length: %d" % len(body))
        self.send_raw(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body)

    # ---- receiving

    def deliver(self, msg):
        self.received.append(msg)
        if msg.is_request:
            if msg.method != "ACK":
                code = self.answer(msg) if callable(self.answer) else self.answer
                if code:
                    self.respond(msg, code)
            self.requests.put(msg)
            return
        try:
            key = (msg.call_id, msg.cseq[0], msg.cseq[1])
        except (TypeError, ValueError, AttributeError):
            return
        with self.lock:
            q = self.pending.get(key)
        if q:
            q.put(msg)

    def next_request(self, timeout=5.0, method=None):
        """The next request the server sent (optionally of one method), or None."""
        deadline = time.time() + timeout
        while True:
            left = deadline - time.time()
            if left <= 0:
                return None
            try:
                msg = self.requests.get(timeout=left)
            except queue.Empty:
                return None
            if method is None or msg.method == method:
                return msg

    def close(self):
        self.transport.close()

    # ---- out-of-dialog helpers

    def simple(self, method, uri=None, headers=(), body=b"", timeout=5.0):
        uri = uri or "sip:%s:%d" % self.server
        hdrs = [("Max-Forwards", "70"), ("From", "<%s>;tag=%s" % (self.uri, token())),
                ("To", "<%s>" % (self.uri if method == "REGISTER" else uri)),
                ("Call-ID", token(16)), ("CSeq", "1 %s" % method), ("Contact", self.contact)]
        return self.request(method, uri, hdrs + list(headers), body, timeout)

    def provisioning(self):
        """The in-band provisioning SUBSCRIBE a Lync-family client sends to itself (Expires 0):
        its answer, which carries the persistentChatConfiguration document."""
        return self.simple("SUBSCRIBE", self.uri, headers=[
            ("Event", "vnd-microsoft-provisioning-v2"), ("Expires", "0"),
            ("Accept", "application/vnd-microsoft-roaming-provisioning-v2+xml")])


class Dialog:
    """The UAC side of one INVITE dialog."""

    def __init__(self, ua, target_uri):
        self.ua = ua
        self.target_uri = target_uri
        self.call_id = token(20) + "@test"
        self.local_tag = token()
        self.remote_tag = None
        self.remote_target = target_uri
        self.route = []
        self.cseq = 0
        self.invite_response = None

    def headers(self, method, cseq=None):
        if cseq is None:
            self.cseq += 1
            cseq = self.cseq
        to = "<%s>" % self.target_uri
        if self.remote_tag:
            to += ";tag=" + self.remote_tag
        hdrs = [("Max-Forwards", "70"), ("From", "<%s>;tag=%s" % (self.ua.uri, self.local_tag)),
                ("To", to), ("Call-ID", self.call_id), ("CSeq", "%d %s" % (cseq, method))]
        hdrs += [("Route", r) for r in self.route]
        return hdrs

    def invite(self, sdp=True, extra=(), timeout=5.0):
        body = ""
        hdrs = self.headers("INVITE") + [("Contact", self.ua.contact), ("Supported", "ms-sender")]
        if sdp:
            host = self.ua.transport.local[0]
            body = ("v=0\r\no=- 0 0 IN IP4 %s\r\ns=session\r\nc=IN IP4 %s\r\nt=0 0\r\n"
                    "m=message %d sip null\r\na=accept-types:text/plain\r\n"
                    % (host, host, self.ua.transport.local[1]))
            hdrs.append(("Content-Type", "application/sdp"))
        resp = self.ua.request("INVITE", self.target_uri, hdrs + list(extra), body, timeout)
        self.invite_response = resp
        if resp is not None:
            self.cseq = max(self.cseq, resp.cseq[0])  # a challenge took a CSeq of its own
        if resp is not None and 200 <= resp.status < 300:
            self.remote_tag = resp.tag("to")
            contact = resp.get("contact")
            m = re.search(r"<([^>]+)>", contact or "")
            self.remote_target = m.group(1) if m else (contact or self.target_uri)
            self.route = list(reversed(resp.all("record-route")))
            self.ack()
        return resp

    def ack(self):
        hdrs = self.headers("ACK", cseq=self.invite_response.cseq[0])
        branch = None if self.ua.branchless else "z9hG4bK" + token(12)
        data = self.ua.build("ACK", self.remote_target,
                             [("Via", self.ua.via(branch))] + hdrs + self.ua.extra_headers)
        self.ua.send_raw(data)

    def send(self, method, body=b"", content_type="text/plain", extra=(), timeout=5.0,
             content_length=True):
        hdrs = self.headers(method) + list(extra)
        if body:
            hdrs.append(("Content-Type", content_type))
        return self.ua.request(method, self.remote_target, hdrs, body, timeout,
                               content_length=content_length)

    def info(self, body, **kw):
        return self.send("INFO", body, **kw)

    def bye(self, timeout=5.0):
        return self.send("BYE", timeout=timeout)
