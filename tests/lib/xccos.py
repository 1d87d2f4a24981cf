"""An XCCOS chat client for the tests, on top of the SIP user agent in sip.py: it opens the chat
session, sends commands and posts, and sorts what the server sends (replies, notices, posts).
"""

import itertools
import queue
import random
import threading
import time
import xml.etree.ElementTree as ET

from sip import Dialog, UserAgent

NS = "urn:parlano:xml:ns:xccos"
Q = "{%s}" % NS


def esc(text):
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


class Envelope:
    """One XCCOS body the server sent, parsed."""

    def __init__(self, info):
        self.info = info
        self.root = ET.fromstring(info.body)
        assert self.root.tag == Q + "xccos", info.text
        self.envid = int(self.root.get("envid"))
        first = list(self.root)[0]
        self.kind = first.tag[len(Q):]          # rpl, ntc or grpchat
        self.elements = list(self.root)
        self.id = first.get("id")               # rpl:join, ntc:part, grpchat


class ChatClient:
    """A chat user: its SIP UA and its chat session with the service."""

    def __init__(self, server, user, domain="pchat.test", proto="udp", branchless=False,
                 pool_uri=None, **ua_options):
        """ua_options go to the UserAgent: password, auth_user, local_host, extra_headers,
        tls_context."""
        self.user = user
        self.uri = "sip:%s@%s" % (user, domain)
        self.domain = domain
        self.pool_uri = pool_uri or "sip:pchat@%s" % domain
        self.ua = UserAgent(user, domain, server, proto, branchless=branchless, **ua_options)
        self.dialog = None
        self.envid = itertools.count(random.randint(1, 1 << 31))
        self.replies = queue.Queue()   # rpl envelopes
        self.notices = queue.Queue()   # ntc envelopes
        self.posts = queue.Queue()     # grpchat envelopes
        self.all = []                  # every envelope, in arrival order
        self.bad = []                  # server INFOs that were not valid XCCOS
        self.stop = threading.Event()
        self.sorter = threading.Thread(target=self.sort, daemon=True)
        self.sorter.start()

    def sort(self):
        while not self.stop.is_set():
            req = self.ua.next_request(timeout=0.2)
            if req is None or req.method != "INFO":
                continue
            try:
                env = Envelope(req)
            except Exception:  # noqa: BLE001 - recorded, the test decides
                self.bad.append(req)
                continue
            self.all.append(env)
            {"rpl": self.replies, "ntc": self.notices, "grpchat": self.posts}[env.kind].put(env)

    # ---- session

    def login(self, expect=200):
        self.dialog = Dialog(self.ua, self.pool_uri)
        resp = self.dialog.invite()
        assert resp is not None, "no answer to INVITE"
        assert resp.status == expect, "INVITE answered %s" % resp
        return resp

    def bye(self):
        return self.dialog.bye()

    def close(self):
        """Hangs up (if the session is still up) and closes the socket, as a tidy client does."""
        if self.dialog and self.dialog.remote_tag and not self.ua.transport.closed:
            self.ua.answer = 200
            self.dialog.bye(timeout=2)
            self.dialog.remote_tag = None
        self.stop.set()
        self.ua.close()

    # ---- commands

    def send_command(self, name, data="", envid=None):
        envid = next(self.envid) if envid is None else envid
        body = ('<xccos ver="1" envid="%d" xmlns="%s"><cmd id="cmd:%s" seqid="1"><data>%s</data>'
                '</cmd></xccos>' % (envid, NS, name, data))
        return envid, self.dialog.info(body)

    def command(self, name, data="", timeout=5.0):
        """Sends a command and returns its reply (the rpl envelope that references it)."""
        envid, resp = self.send_command(name, data)
        assert resp is not None and resp.status == 200, "cmd:%s answered %s" % (name, resp)
        return self.reply_to(envid, timeout)

    def reply_to(self, envid, timeout=5.0):
        deadline = time.time() + timeout
        held = []
        try:
            while time.time() < deadline:
                try:
                    env = self.replies.get(timeout=max(0.01, deadline - time.time()))
                except queue.Empty:
                    break
                cid = env.root.find(Q + "rpl/" + Q + "commandid")
                if cid is not None and cid.get("envid") == str(envid):
                    return env
                held.append(env)
            raise AssertionError("no reply to envelope %d within %ss" % (envid, timeout))
        finally:
            for env in held:
                self.replies.put(env)

    def room_guid(self, room_uri):
        return room_uri.rsplit("/", 1)[1]

    def join(self, room_uri, timeout=5.0):
        return self.command("join", '<chanid key="0" domain="%s" value="%s"/>' % (
            self.domain, self.room_guid(room_uri)), timeout)

    def bjoin(self, room_uris, timeout=5.0):
        data = "".join('<chanid key="%d" domain="%s" value="%s"/>' % (
            i, self.domain, self.room_guid(u)) for i, u in enumerate(room_uris))
        return self.command("bjoin", data, timeout)

    def part(self, room_uri):
        return self.command("part", '<chanib uri="%s"/>' % room_uri)

    def backchat(self, room_uri, count=25, timeout=5.0):
        """All rpl:bccontext envelopes of one request (backchat may be split), and the posts."""
        envid, resp = self.send_command(
            "bccontext", '<chanib uri="%s"/><bcq><last cnt="%d"/></bcq>' % (room_uri, count))
        assert resp is not None and resp.status == 200
        first = self.reply_to(envid, timeout)
        parts = [first]
        while True:  # further parts follow at once
            try:
                parts.append(self.reply_to(envid, 0.5))
            except AssertionError:
                break
        msgs = []
        for env in parts:
            chanib = env.root.find(Q + "rpl/" + Q + "data/" + Q + "chanib")
            if chanib is not None:
                msgs += chanib.findall(Q + "msg")
        return parts, msgs

    # ---- posts

    def post(self, room_uri, text, author=None, extra="", raw=None, timeout=5.0):
        """Posts; returns the SIP response to the post's INFO."""
        body = raw or ('<xccos ver="1" envid="%d" xmlns="%s"><grpchat id="grpchat" seqid="1" '
                       'chanUri="%s" author="%s" ts="2019-10-12T14:26:17Z"><chat>%s</chat>%s'
                       '</grpchat></xccos>' % (next(self.envid), NS, room_uri,
                                               author or self.uri, esc(text), extra))
        return self.dialog.info(body, timeout=timeout)

    def wait_posts(self, count, timeout=10.0):
        out = []
        deadline = time.time() + timeout
        while len(out) < count:
            left = deadline - time.time()
            if left <= 0:
                break
            try:
                out.append(self.posts.get(timeout=left))
            except queue.Empty:
                break
        return out

    def wait_bye(self, timeout=5.0):
        """The BYE the server sent to end the session, or None."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            for m in list(self.ua.received):
                if m.is_request and m.method == "BYE" and m.call_id == self.dialog.call_id:
                    self.dialog.remote_tag = None  # the session is over: nothing to hang up
                    return m
            time.sleep(0.05)
        return None

    def wait_notice(self, notice_id, timeout=5.0):
        deadline = time.time() + timeout
        held = []
        try:
            while time.time() < deadline:
                try:
                    env = self.notices.get(timeout=max(0.01, deadline - time.time()))
                except queue.Empty:
                    return None
                if env.id == notice_id:
                    return env
                held.append(env)
            return None
        finally:
            for env in held:
                self.notices.put(env)


def post_text(env):
    """(room uri, author, text, ts) of a grpchat envelope."""
    g = env.root.find(Q + "grpchat")
    return g.get("chanUri"), g.get("author"), g.find(Q + "chat").text or "", g.get("ts")


def resp_code(env):
    return int(env.root.find(Q + "rpl/" + Q + "resp").get("code"))


def post_from_all(clients, room, count):
    """Every client posts count posts ("<user> NN") at the same time, one thread each, each post
    after the answer to the one before; fails unless every post is answered 200."""
    failures = []

    def post_all(c):
        for i in range(count):
            status = c.post(room, "%s %02d" % (c.user, i)).status
            if status != 200:
                failures.append((c.user, i, status))
    threads = [threading.Thread(target=post_all, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == [], "posts not stored: %s" % failures
