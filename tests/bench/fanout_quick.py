#!/usr/bin/python3
"""A quick fan-out measurement against a running lab: N chat sessions over UDP join one room, one
of them posts, and every session answers every INFO. Prints deliveries per second and the
delivery latency (post sent -> copy received). One process, one epoll loop, no threads. With
--spread the sessions are spread over every node of the lab (the poster is on the first), and
the latency is shown separately for sessions on the poster's node and on the others.

    tests/bench/fanout_quick.py --env build/lab/lab.env --sessions 1000 --posts 20

This is the small load script of the sessions issue; the full benchmark suite (C generator,
anchors, plots) lives beside it once built.
"""
import argparse
import os
import random
import re
import select
import socket
import statistics
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from lab import read_env  # noqa: E402

NS = "urn:parlano:xml:ns:xccos"


def tag():
    return "%08x" % random.getrandbits(32)


class Session:
    def __init__(self, idx, server, domain, pool, node=0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.server, self.domain, self.pool = server, domain, pool
        self.node = node  # index of the lab node it is connected to
        self.user = "sip:load%05d@%s" % (idx, domain)
        self.call_id = uuid.uuid4().hex
        self.ltag, self.rtag = tag(), None
        self.target = pool
        self.cseq = 1
        self.state = "inviting"
        self.last_sent = 0.0  # for retransmitting a lost INVITE or join
        self.received = []  # (seq text, time)
        self.seen_cseq = set()  # of server INFOs: a UDP retransmission is answered, not counted

    def send(self, method, body="", cseq=None, branch=True, ctype="text/plain"):
        cseq = cseq or self.cseq
        to = "<%s>" % self.pool + (";tag=" + self.rtag if self.rtag else "")
        via = "SIP/2.0/UDP 127.0.0.1:%d" % self.port + (";branch=z9hG4bK" + tag() + tag()
                                                          if branch else "")
        lines = ["%s %s SIP/2.0" % (method, self.target), "Via: " + via, "Max-Forwards: 70",
                 "From: <%s>;tag=%s" % (self.user, self.ltag), "To: " + to,
                 "Call-ID: " + self.call_id, "CSeq: %d %s" % (cseq, method),
                 "Contact: <sip:load@127.0.0.1:%d>" % self.port]
        if body:
            lines.append("Content-Type: " + ctype)
        lines.append("Content-Length: %d" % len(body.encode()))
        self.sock.sendto(("\r\n".join(lines) + "\r\n\r\n" + body).encode(), self.server)

    def info(self, body):
        self.cseq += 1
        self.send("INFO", body)

    def answer(self, req):
        """200 for our dialog; 481 for an old dialog that reached a reused port (as a real
        client would, which ends that stale session on the server). True when ours."""
        head, _, body = req.partition("\r\n\r\n")
        ours = header(req, "Call-ID") == self.call_id
        hdrs = [l for l in head.split("\r\n")[1:] if l.split(":")[0].lower() in
                ("via", "from", "to", "call-id", "cseq", "v", "f", "t", "i")]
        out = ("SIP/2.0 %s\r\n" % ("200 OK" if ours else "481 No Such Dialog") +
               "\r\n".join(hdrs) + "\r\nContent-Length: 0\r\n\r\n")
        self.sock.sendto(out.encode(), self.server)
        return ours


def header(msg, name):
    m = re.search(r"^%s:\s*(.*)$" % name, msg, re.M | re.I)
    return m.group(1).strip() if m else ""


def percentiles(values):
    """(median, p99) of a list, None when empty."""
    if not values:
        return None
    values = sorted(values)
    return statistics.median(values), values[max(0, int(len(values) * 0.99) - 1)]


def run(args):
    """Runs the measurement; returns (exit code, figures)."""
    env = read_env(args.env)
    mark = getattr(args, "mark", None) or (lambda phase: None)  # a caller's hook per phase
    servers = [(env["PCHAT_SIP_HOST"], int(p)) for p in env["PCHAT_SIP_PORTS"].split()]
    if not args.spread:
        servers = servers[:1]
    room = env["PCHAT_DEMO_ROOM"]
    guid = room.rsplit("/", 1)[1]
    sessions = [Session(i, servers[i % len(servers)], env["PCHAT_DOMAIN"],
                        env["PCHAT_POOL_URI"], i % len(servers))
                for i in range(args.sessions)]
    by_fd = {s.sock.fileno(): s for s in sessions}
    ep = select.epoll()
    for s in sessions:
        ep.register(s.sock.fileno(), select.EPOLLIN)
    post_sent = {}
    done_login = 0
    join_body = ('<xccos ver="1" envid="%d" xmlns="' + NS + '"><cmd id="cmd:join" seqid="1">'
                 '<data><chanid key="0" domain="%s" value="%s"/></data></cmd></xccos>')

    t0 = time.time()
    to_invite = list(sessions)
    deadline = time.time() + 60 + args.sessions / 20
    phase = "login"
    posted = 0
    next_post = 0.0
    expected = args.sessions * args.posts
    got = retransmissions = 0
    answers = {}  # status -> count of answers to our INFOs
    while time.time() < deadline:
        # logins go out in small batches, so the server's socket buffer never overflows
        for s in to_invite[:50]:
            s.send("INVITE", cseq=1)
            s.last_sent = time.time()
        del to_invite[:50]
        if phase == "login" and not to_invite:
            retransmit_logins(sessions, join_body, env, guid)
        for s, data in received(ep, by_fd, 0.005):
            first = data.split("\r\n", 1)[0]
            if first.startswith("SIP/2.0 ") and "INFO" in header(data, "CSeq"):
                status = first.split()[1]
                answers[status] = answers.get(status, 0) + 1
            elif first.startswith("SIP/2.0 200") and "INVITE" in header(data, "CSeq"):
                if s.state == "inviting":
                    s.rtag = re.search(r"tag=([^;>\s]+)", header(data, "To")).group(1)
                    s.target = re.search(r"<([^>]+)>", header(data, "Contact")).group(1)
                    s.send("ACK", cseq=1)
                    s.state = "joining"
                    s.join = join_body % (random.getrandbits(31), env["PCHAT_DOMAIN"], guid)
                    s.info(s.join)
                    s.last_sent = time.time()
            elif first.startswith("INFO "):
                if not s.answer(data):
                    continue
                cseq = header(data, "CSeq")
                if cseq in s.seen_cseq:
                    retransmissions += 1
                    continue
                s.seen_cseq.add(cseq)
                body = data.partition("\r\n\r\n")[2]
                if "rpl:join" in body and s.state == "joining":
                    s.state = "joined"
                    done_login += 1
                elif "<grpchat" in body:
                    m = re.search(r"<chat>(post \d+)</chat>", body)
                    if m:
                        s.received.append((m.group(1), time.time()))
                        got += 1
        now = time.time()
        if phase == "login" and done_login == args.sessions:
            phase = "posting"
            print("%d sessions logged in and joined in %.1f s" % (args.sessions, now - t0))
            pump(ep, by_fd, 0.5)  # notices of the last joins settle
            mark("posting")
        elif phase == "posting" and posted < args.posts and now >= next_post:
            body = ('<xccos ver="1" envid="%d" xmlns="%s"><grpchat id="grpchat" seqid="1" '
                    'chanUri="%s"><chat>post %d</chat></grpchat></xccos>'
                    % (random.getrandbits(31), NS, room, posted))
            sessions[0].info(body)
            post_sent["post %d" % posted] = now
            posted += 1
            next_post = now + args.interval
        if phase == "posting" and got >= expected:
            break
    end = time.time()
    mark("done")
    if os.environ.get("FANOUT_DEBUG"):
        counts = [len(s.received) for s in sessions]
        print("per session min %d max %d; session0 %d; posts missing at session 1: %s" % (
            min(counts), max(counts), counts[0],
            sorted(set(post_sent) - {p for p, _ in sessions[1].received})))
    if phase != "posting":
        print("only %d of %d sessions joined" % (done_login, args.sessions))
        return 1, {}
    first_post = min(post_sent.values())
    lat = [(t - post_sent[p]) * 1000 for s in sessions for p, t in s.received]
    dup = sum(len(s.received) - len({p for p, _ in s.received}) for s in sessions)
    figures = {"deliveries": got, "expected": expected, "duplicates": dup,
               "rate": got / (end - first_post), "latency": percentiles(lat),
               "local": percentiles([(t - post_sent[p]) * 1000 for s in sessions if s.node == 0
                                     for p, t in s.received]),
               "remote": percentiles([(t - post_sent[p]) * 1000 for s in sessions if s.node
                                      for p, t in s.received])}
    print("room of %d sessions on %d node(s), %d posts: %d/%d deliveries (%d duplicates, %d "
          "retransmissions absorbed) in %.2f s -> %.0f deliveries/s" % (
              args.sessions, len(servers), args.posts, got, expected, dup, retransmissions,
              end - first_post, figures["rate"]))
    for name in ("latency", "local", "remote"):
        if figures[name]:
            print("%s delivery latency ms: median %.1f, p99 %.1f" % (
                {"latency": "all", "local": "poster's node", "remote": "other nodes"}[name],
                *figures[name]))
    if set(answers) != {"200"}:
        print("answers to the clients' INFOs: %s" % answers)
    hang_up(sessions, ep, by_fd)
    return (0 if got == expected and dup == 0 else 1), figures


def hang_up(sessions, ep, by_fd):
    """BYE for every session, in batches, again until answered: a session left behind would
    receive the next run's posts on a closed port."""
    for s in sessions:
        s.cseq += 1
        s.bye_done = False
    for attempt in range(5):
        left = [s for s in sessions if not s.bye_done]
        if not left:
            return
        for i, s in enumerate(left):
            s.send("BYE", cseq=s.cseq)
            if i % 50 == 49:
                pump(ep, by_fd, 0.01)
        pump(ep, by_fd, 1.0)


def mark_bye(s, data):
    if data.startswith("SIP/2.0 ") and "BYE" in header(data, "CSeq"):
        s.bye_done = True


def retransmit_logins(sessions, join_body, env, guid):
    """UDP loses datagrams under load: an unanswered INVITE or join goes out again (same CSeq,
    so the server's transaction layer absorbs a duplicate)."""
    now = time.time()
    for s in sessions:
        if now - s.last_sent < 1.0:
            continue
        if s.state == "inviting":
            s.send("INVITE", cseq=1)
            s.last_sent = now
        elif s.state == "joining":
            s.send("INFO", s.join)
            s.last_sent = now


def received(ep, by_fd, timeout):
    """(session, message) for every datagram waiting now or within timeout."""
    for fd, _ in ep.poll(timeout):
        s = by_fd[fd]
        while True:
            try:
                yield s, s.sock.recv(65535).decode("utf-8", "replace")
            except BlockingIOError:
                break


def pump(ep, by_fd, seconds):
    """Answers whatever arrives for a while (INFOs get their 200)."""
    end = time.time() + seconds
    while time.time() < end:
        for s, data in received(ep, by_fd, 0.01):
            if data.startswith("INFO ") or data.startswith("BYE "):
                s.answer(data)
            mark_bye(s, data)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--env", default=os.path.join(os.path.dirname(__file__), "..", "..",
                                                 "build", "lab", "lab.env"))
    p.add_argument("--sessions", type=int, default=100)
    p.add_argument("--posts", type=int, default=20)
    p.add_argument("--interval", type=float, default=0.05, help="seconds between posts")
    p.add_argument("--spread", action="store_true", help="spread the sessions over every node")
    sys.exit(run(p.parse_args())[0])
