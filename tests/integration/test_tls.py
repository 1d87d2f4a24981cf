"""SIP over TLS: the chat service on every node's TLS port (the lab CA's server certificate),
clients over TLS and UDP in one room, TLS client certificates as identity (--auth cert, fail
closed), and hundreds of TLS connections opening and closing under chat load while Kamailio
5.6.3's tls module (OpenSSL 3: kamailio/kamailio#3791) stays up and gives its memory back."""
import os
import re
import socket
import ssl
import struct
import subprocess
import threading
import time
import warnings

import pytest

from lab import start_lab, wait_for
from sip import Dialog, UserAgent
from xccos import Q, ChatClient, post_text, resp_code

DOMAIN = "pchat.test"


def tls_client(lab, user, user_cert=False, server=None, context=None):
    """A logged-out chat client over TLS (to node 1 unless server is given)."""
    return ChatClient(server or lab.sip_tls_server(), user, proto="tls",
                      tls_context=context or lab.tls_context(user_cert))


@pytest.fixture
def made():
    """Chat clients a test made, closed when it ends."""
    clients = []
    yield clients
    for c in clients:
        c.close()


def test_chat_over_tls_with_a_udp_client(lab, made):
    """alice over TLS and bob over UDP join one room and see each other's posts, in order;
    backchat over TLS has them too."""
    room = lab.new_room("tls")
    a = tls_client(lab, "alice")
    made.append(a)
    a.login()
    b = ChatClient(lab.sip_server(), "bob")
    made.append(b)
    b.login()
    assert resp_code(a.join(room)) == 200
    assert resp_code(b.join(room)) == 200
    assert a.wait_notice("ntc:join") is not None
    assert a.post(room, "over tls").status == 200
    assert b.post(room, "over udp").status == 200
    for who in (a, b):
        got = [post_text(e)[1:3] for e in who.wait_posts(2)]
        assert got == [("sip:alice@%s" % DOMAIN, "over tls"), ("sip:bob@%s" % DOMAIN, "over udp")]
    _, msgs = a.backchat(room)
    assert [m.find(Q + "chat").text for m in msgs] == ["over tls", "over udp"]
    # the session is bound to the TLS connection it came on: BYE over it ends it
    assert a.bye().status == 200


def test_a_client_that_does_not_trust_the_server_stops_at_the_handshake(lab):
    """The server presents the lab CA's certificate: a client that trusts other CAs only (the
    system's) refuses the connection."""
    with pytest.raises(ssl.SSLCertVerificationError):
        ChatClient(lab.sip_tls_server(), "alice", proto="tls",
                   tls_context=ssl.create_default_context())


# ---------------------------------------------------------------- client certificates

@pytest.fixture(scope="module")
def cert_lab(request):
    """A lone node with --auth cert: only TLS clients with a certificate of the lab CA get in."""
    return start_lab(request, tag="cert", auth="cert")


def self_signed(tmp_path, user="alice"):
    """A certificate for sip:alice@pchat.test that no CA the lab trusts signed: (cert, key)."""
    cert, key = str(tmp_path / "self.crt"), str(tmp_path / "self.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=%s" % user, "-addext",
                    "subjectAltName=URI:sip:%s@%s" % (user, DOMAIN), "-keyout", key,
                    "-out", cert], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return cert, key


def test_the_lab_certificate_is_alices_identity(cert_lab, made):
    env = cert_lab.env
    assert env["PCHAT_AUTH"] == "cert" and env["PCHAT_TLS_USER"] == "sip:alice@%s" % DOMAIN
    a = tls_client(cert_lab, "alice", user_cert=True)
    made.append(a)
    a.login()
    room = cert_lab.new_room("cert")
    assert resp_code(a.join(room)) == 200
    # the author is who the certificate says, whatever the post claims
    assert a.post(room, "signed by the lab CA", author="sip:ceo@%s" % DOMAIN).status == 200
    assert post_text(a.wait_posts(1)[0])[1] == "sip:alice@%s" % DOMAIN
    assert cert_lab.stored(room) == [["1", "sip:alice@%s" % DOMAIN,
                                      "<chat>signed by the lab CA</chat>"]]
    assert "TLS client certificates of the configured CA" in cert_lab.log()


def test_tls_without_a_client_certificate_is_refused(cert_lab, made):
    mark = cert_lab.log_mark()
    c = tls_client(cert_lab, "alice")
    made.append(c)
    c.login(expect=403)
    assert re.search(r"INVITE from 127\.0\.0\.1:\d+ \(tls\) refused with 403: "
                     r"no acceptable TLS client certificate", cert_lab.log(since=mark))


def test_udp_and_tcp_are_refused_in_cert_mode(cert_lab, made):
    for proto in ("udp", "tcp"):
        c = ChatClient(cert_lab.sip_server(), "alice", proto=proto)
        made.append(c)
        c.login(expect=403)


def test_alices_certificate_does_not_make_bob(cert_lab, made):
    mark = cert_lab.log_mark()
    c = ChatClient(cert_lab.sip_tls_server(), "bob", proto="tls",
                   tls_context=cert_lab.tls_context(user_cert=True))
    made.append(c)
    c.login(expect=403)
    assert "client certificate of 'alice' used for From sip:bob@%s" % DOMAIN in \
        cert_lab.log(since=mark)


def test_a_self_signed_certificate_is_refused_in_the_handshake(cert_lab, tmp_path):
    """Its URI names alice, but the lab CA did not sign it: the TLS handshake fails (TLS 1.3:
    the client learns it at its first read), no request gets an answer, no session is made."""
    cert, key = self_signed(tmp_path)
    ctx = cert_lab.tls_context()
    ctx.load_cert_chain(cert, key)
    sessions = cert_lab.stat("sessions")
    try:
        ua = UserAgent("alice", DOMAIN, cert_lab.sip_tls_server(), "tls", tls_context=ctx)
    except ssl.SSLError:
        pass  # refused during the handshake (TLS 1.2)
    else:
        try:
            try:
                resp = Dialog(ua, "sip:pchat@%s" % DOMAIN).invite(timeout=3)
            except OSError:  # the server's alert arrived first: the connection is gone
                resp = None
            assert resp is None
            assert wait_for(lambda: ua.transport.closed, 5)
        finally:
            ua.close()
    assert cert_lab.stat("sessions") == sessions
    assert re.search(r"certificate verify failed|tls_accept|SSL", cert_lab.log())


# ---------------------------------------------------------------- stress

STRESS_SESSIONS = 300
STRESS_THREADS = 6
# What Kamailio 5.6.3's tls module with OpenSSL 3 logs under TLS connection churn, known and not
# ours to fix (kamailio-cfg/pchat-tls.cfg, "KNOWN PROBLEM"): OpenSSL's per-thread state shared by
# the workers, freed twice (kamailio/kamailio#3791, #3695), and a connection reset read as an
# "IO error (0)". The allocator (TLSF) notices the second free and ignores it.
KNOWN_TLS_BUGS = re.compile(r"freeing already freed pointer .*called from tls: tls_init\.c: "
                            r"ser_free|tls_h_read_f\(\): IO error")


def tls_memory(lab):
    """The node's shared memory in use (bytes) and its open TLS connections."""
    shm = lab.kamcmd("core.shmmem")
    used = int(re.search(r"real_used:\s*(\d+)", shm).group(1))
    tls = lab.kamcmd("tls.info")
    opened = int(re.search(r"opened_connections:\s*(\d+)", tls).group(1))
    return used, opened


@pytest.mark.skipif(os.environ.get("PCHAT_TLS_STRESS") != "1",
                    reason="PCHAT_TLS_STRESS=1 runs it: Kamailio 5.6.3's tls module with OpenSSL 3 "
                    "fails it now and then (kamailio/kamailio#3791, kamailio-cfg/pchat-tls.cfg)")
def test_many_tls_connections_open_and_close_under_chat_load(lab):
    """STRESS_SESSIONS TLS connections, each INVITE, join, post, BYE, some then reset without a
    TLS close_notify, and half-open handshakes in between, while two UDP clients keep posting: the
    node stays up, logs nothing CRITICAL but the tls module's known double frees (counted in a
    warning), every post is stored once, and its shared memory and TLS connections come back.
    With Debian 12's Kamailio 5.6.3 and OpenSSL 3 one run in two or three fails: a handshake
    with "bad signature" or an unexpected EOF from the server, the tls module's shared-state
    corruption (kamailio/kamailio#3791, #3635); hence it runs only with PCHAT_TLS_STRESS=1."""
    room = lab.new_room("stress")
    posters = [ChatClient(lab.sip_server(), u) for u in ("bob", "carol")]
    for p in posters:
        p.login()
        p.join(room)
    warm = tls_client(lab, "alice")  # the first TLS session sets up what stays (caches)
    warm.login()
    warm.close()
    time.sleep(2)
    mem_before, conns_before = tls_memory(lab)
    mark = lab.log_mark()
    stop = threading.Event()
    background = []

    def post_loop(p):
        n = 0
        while not stop.is_set():
            resp = p.post(room, "load %s %d" % (p.user, n))
            if resp is not None and resp.status == 200:
                background.append(p.user)
            n += 1
            time.sleep(0.02)

    counter = iter(range(STRESS_SESSIONS))
    lock = threading.Lock()
    failures = []

    def session_loop():
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            try:
                if i % 10 == 9:  # a client that gives up in the middle of the handshake
                    s = socket.create_connection(lab.sip_tls_server(), timeout=5)
                    s.sendall(b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00")
                    s.close()
                    continue
                c = tls_client(lab, "tls%03d" % i)  # the limit of sessions per user is 16
                c.login()
                assert resp_code(c.join(room)) == 200
                assert c.post(room, "stress %d" % i).status == 200
                if i % 3 == 0:  # BYE, then gone without close_notify: the server sees a reset
                    assert c.bye().status == 200
                    c.stop.set()
                    c.ua.transport.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                                   struct.pack("ii", 1, 0))
                    c.ua.close()
                else:
                    c.close()
            except Exception as e:  # noqa: BLE001 - collected, asserted below
                failures.append((i, repr(e)))

    threads = [threading.Thread(target=post_loop, args=(p,)) for p in posters]
    threads += [threading.Thread(target=session_loop) for _ in range(STRESS_THREADS)]
    started = time.time()
    for t in threads:
        t.start()
    for t in threads[len(posters):]:
        t.join(300)
    stop.set()
    for t in threads[:len(posters)]:
        t.join(30)
    took = time.time() - started
    assert posters[0].post(room, "after the stress").status == 200
    for p in posters:
        p.close()
    assert failures == [], failures[:5]
    bad = [line for line in lab.log(since=mark).splitlines()
           if re.search(r"CRITICAL|BUG:|exited by a signal", line)]
    known = [line for line in bad if KNOWN_TLS_BUGS.search(line)]
    assert [line for line in bad if line not in known] == []
    if known:
        warnings.warn("the tls module of Kamailio 5.6.3 with OpenSSL 3 logged %d double frees "
                      "or read errors (kamailio/kamailio#3791, see kamailio-cfg/pchat-tls.cfg); "
                      "the node stayed up" % len(known))
    assert lab.kamcmd("pchat.status")
    stored = [r[2] for r in lab.stored(room)]
    tls_posts = [t for t in stored if t.startswith("<chat>stress ")]
    assert len(tls_posts) == len(set(tls_posts)) == STRESS_SESSIONS - STRESS_SESSIONS // 10
    assert len(background) > 0
    # every TLS connection is closed and the memory of the sessions and connections is back
    assert wait_for(lambda: tls_memory(lab)[1] <= conns_before, 30), tls_memory(lab)
    assert wait_for(lambda: lab.stat("sessions") == 0, 30), lab.stat("sessions")
    assert wait_for(lambda: tls_memory(lab)[0] <= mem_before + (2 << 20), 30), \
        (tls_memory(lab), mem_before)
    print("%d TLS sessions (and %d aborted handshakes) with %d background posts in %.1f s; "
          "shm %d -> %d bytes" % (STRESS_SESSIONS - STRESS_SESSIONS // 10, STRESS_SESSIONS // 10,
                                  len(background), took, mem_before, tls_memory(lab)[0]))
