"""The real client: Debian's pidgin-sipe 1.25, driven headless by build/sipe-driver, logs in to
the lab (REGISTER, provisioning, requri, the chat session), lists rooms, joins, reads backchat,
posts, and receives the posts of another user; also over TLS."""
import json
import os
import queue
import re
import subprocess
import threading
import time
import uuid

import pytest

from lab import TOP

HERE = os.path.dirname(os.path.abspath(__file__))
DRIVER = os.path.join(HERE, "build", "sipe-driver")


@pytest.fixture(scope="module", autouse=True)
def driver_built():
    subprocess.run(["make", "-s", "-C", HERE], check=True)


class Sipe:
    """One pidgin-sipe account in a sipe-driver process."""

    def __init__(self, lab, user, seed=None, tls=False):
        """tls: over TLS to node 1's TLS port, the lab's server certificate accepted beforehand
        as a user accepts it once (libpurple 2.14 takes CAs only from the system's folders);
        else over TCP."""
        port = lab.sip_tls_ports[0] if tls else lab.sip_ports[0]
        args = [DRIVER, "--server", "127.0.0.1:%d" % port,
                "--user", "%s@pchat.test" % user, "--timeout", "30"]
        if tls:
            args += ["--tls-peer", lab.env["PCHAT_TLS_CERT"]]
        if seed is not None:
            args += ["--seed", str(seed)]
        self.user = user
        self.seen = []
        self.events = queue.Queue()
        self.stderr = open(os.path.join(TOP, "build", "test-logs", "sipe-%s.log" % user), "w")
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr, text=True, bufsize=1)
        threading.Thread(target=self.read, daemon=True).start()
        self.expect("ready")

    def read(self):
        for line in self.proc.stdout:
            self.events.put(json.loads(line))
        self.events.put({"event": "exited"})

    def do(self, command):
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def expect(self, event, timeout=30, **match):
        """Waits for an event (others are kept in `seen`); fails on an error event."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                ev = self.events.get(timeout=deadline - time.time())
            except queue.Empty:
                break
            self.seen.append(ev)
            if ev["event"] == "error" and event != "error":
                raise AssertionError("%s: %s" % (self.user, ev))
            if ev["event"] == event and all(ev.get(k) == v for k, v in match.items()):
                return ev
        raise AssertionError("%s: no %s %s within %ss; saw %s" % (self.user, event, match,
                                                                   timeout, self.seen[-10:]))

    def quit(self):
        try:
            self.do("quit")
            self.proc.wait(timeout=15)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
        self.stderr.close()


@pytest.fixture
def sipe(lab):
    os.makedirs(os.path.join(TOP, "build", "test-logs"), exist_ok=True)
    made = []

    def make(user, **kw):
        s = Sipe(lab, user, **kw)
        made.append(s)
        return s
    yield make
    for s in made:
        s.quit()


def test_login_list_join_backchat_post_and_receive(lab, sipe):
    guid = str(uuid.uuid4())
    room_uri = "ma-chan://pchat.test/" + guid
    name = "Interop %s" % guid[:8]
    lab.sql("INSERT INTO pchat_room (guid, name, description, topic, category_id, privacy) "
            "VALUES ('%s', '%s', 'pidgin-sipe room', 'testing sipe', 1, 'open')" % (guid, name))
    lab.sql("INSERT INTO pchat_message (room_id, seq, author, ts, content) SELECT id, 1, "
            "'sip:carol@pchat.test', '2024-05-02 08:00:00', '<chat>from the archive</chat>' "
            "FROM pchat_room WHERE guid = '%s'" % guid)
    lab.sql("INSERT INTO pchat_room_sequence (room_id, last_seq) SELECT id, 1 FROM pchat_room "
            "WHERE guid = '%s'" % guid)

    alice, bob = sipe("alice"), sipe("bob")
    for s in (alice, bob):
        s.do("login")
        s.expect("signed-on")
    bob.do("list")
    bob.expect("list-done")
    rooms = {e["name"]: e for e in bob.seen if e["event"] == "room"}
    assert name in rooms and rooms[name]["uri"] == room_uri
    assert rooms[name]["description"] == "pidgin-sipe room"
    assert "Lobby" in rooms and "Engineering" in rooms
    assert "Board" not in rooms         # secret rooms only for their members (alice)
    assert "Old Projects" not in rooms  # disabled rooms never

    alice.do("join %s" % room_uri)
    alice.expect("joined", uri=room_uri)
    history = alice.expect("message", text="from the archive")
    assert history["who"] == "sip:carol@pchat.test"
    bob.do("join %s" % room_uri)
    bob.expect("joined", uri=room_uri)
    alice.expect("buddy-joined", who="sip:bob@pchat.test")

    alice.do("send %s hello bob, <b>tags</b> & all" % room_uri)
    alice.expect("sent")
    got = bob.expect("message", who="sip:alice@pchat.test")
    assert got["text"] == "hello bob, <b>tags</b> & all"
    # sipe shows its own post only when the server's copy comes back
    alice.expect("message", who="sip:alice@pchat.test", text="hello bob, <b>tags</b> & all")

    bob.do("send %s hi alice" % room_uri)
    alice.expect("message", who="sip:bob@pchat.test", text="hi alice")
    bob.do("leave %s" % room_uri)
    bob.expect("left")
    alice.expect("buddy-left", who="sip:bob@pchat.test")
    stored = lab.sql("SELECT author FROM pchat_message m JOIN pchat_room r ON r.id = m.room_id "
                     "WHERE r.guid = '%s' ORDER BY seq" % guid)
    assert [r[0] for r in stored] == ["sip:carol@pchat.test", "sip:alice@pchat.test",
                                      "sip:bob@pchat.test"]


def test_clients_with_clashing_call_ids_stay_apart(lab, sipe):
    """sipe seeds its random numbers with the clock: two clients started in the same second send
    the same Call-IDs and tags. Each must still get its own session and identity."""
    room_uri = lab.env["PCHAT_DEMO_ROOM"]
    alice, bob = sipe("alice", seed=42), sipe("bob", seed=42)
    for s in (alice, bob):
        s.do("login")
        s.expect("signed-on")
        s.do("join %s" % room_uri)
        s.expect("joined", uri=room_uri)
    bob.do("send %s this is bob" % room_uri)
    ev = alice.expect("message", text="this is bob")
    assert ev["who"] == "sip:bob@pchat.test"
    alice.do("send %s this is alice" % room_uri)
    ev = bob.expect("message", text="this is alice")
    assert ev["who"] == "sip:alice@pchat.test"


def test_chat_over_tls_with_a_tcp_client(lab, sipe):
    """alice's pidgin-sipe connects over TLS (the lab's server certificate accepted beforehand),
    bob's over TCP: both sign on, join, and see each other's posts."""
    room_uri = lab.env["PCHAT_DEMO_ROOM"]
    alice, bob = sipe("alice", tls=True), sipe("bob")
    for s in (alice, bob):
        s.do("login")
        s.expect("signed-on")
        s.do("join %s" % room_uri)
        s.expect("joined", uri=room_uri)
    alice.do("send %s sent over tls" % room_uri)
    assert bob.expect("message", text="sent over tls")["who"] == "sip:alice@pchat.test"
    bob.do("send %s sent over tcp" % room_uri)
    assert alice.expect("message", text="sent over tcp")["who"] == "sip:bob@pchat.test"
    # alice's session runs over a TLS connection of the node
    assert re.search(r"opened_connections:\s*[1-9]", lab.kamcmd("tls.info"))
