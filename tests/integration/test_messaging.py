"""Persistent messaging: joining rooms, posts stored then fanned out to every participant (the
author included), exactly once and in the room's order, backchat, and history that survives
restarts of Kamailio, MariaDB and Redis."""
import os
import re
import signal
import subprocess
import time
import uuid

import pytest

from xccos import NS, Q, ChatClient, post_from_all, post_text, resp_code

ROOMS = {"engineering": "5e1f0a3c-7b2d-4c8e-9a61-0d2f4b6c8e02",
         "disabled": "5e1f0a3c-7b2d-4c8e-9a61-0d2f4b6c8e07"}


def room_uri(guid):
    return "ma-chan://pchat.test/" + guid


def users_in(rpl):
    return [u.get("uri") for u in rpl.root.iter(Q + "uib")]


def test_three_users_chat_with_echo_to_the_author(lab, clients, room):
    a, b, c = clients("alice"), clients("bob", "tcp"), clients("carol")
    assert resp_code(a.join(room)) == 200
    rpl = b.join(room)
    assert resp_code(rpl) == 200
    assert set(users_in(rpl)) == {"sip:alice@pchat.test", "sip:bob@pchat.test"}
    chanib = rpl.root.find(Q + "rpl/" + Q + "data/" + Q + "chanib")
    assert chanib.get("uri") == room and chanib.get("name").startswith("test ")
    assert a.wait_notice("ntc:join") is not None
    c.join(room)
    for who in (a, b):
        n = who.wait_notice("ntc:join")
        assert n is not None and "sip:carol@pchat.test" in n.info.text
    assert a.post(room, "hello from alice").status == 200
    for who in (a, b, c):  # the author gets the server's copy too
        got = who.wait_posts(1)
        assert len(got) == 1
        uri, author, text, ts = post_text(got[0])
        assert (uri, author, text) == (room, "sip:alice@pchat.test", "hello from alice")
        assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$", ts)
    assert [r[1:] for r in lab.stored(room)] == [["sip:alice@pchat.test",
                                                   "<chat>hello from alice</chat>"]]


def test_author_and_time_are_the_servers(lab, clients, room):
    a = clients("alice")
    a.join(room)
    assert a.post(room, "who am i", author="sip:ceo@pchat.test").status == 200
    uri, author, text, ts = post_text(a.wait_posts(1)[0])
    assert author == "sip:alice@pchat.test"
    assert not ts.startswith("2019")  # the client's ts was 2019-10-12
    assert lab.stored(room)[0][1] == "sip:alice@pchat.test"


def test_rich_content_is_kept_as_sent(lab, clients, room):
    a, b = clients("alice"), clients("bob")
    a.join(room)
    b.join(room)
    extra = '<rtf xmlns="urn:example:rtf">{\\rtf1 bold}</rtf>'
    a.post(room, "x < y & z", extra=extra)
    env = b.wait_posts(1)[0]
    assert "<chat>x &lt; y &amp; z</chat>" in env.info.text
    assert '{\\rtf1 bold}</rtf>' in env.info.text
    assert lab.stored(room)[0][2].startswith("<chat>x &lt; y &amp; z</chat><rtf")


def test_exactly_once_and_in_order_with_concurrent_posters(lab, clients, room):
    """Posters on UDP and TCP (so on different SIP workers) post at once; every participant
    receives every post once, all in the same order, and that order is the stored one."""
    posters = [clients(u, p) for u, p in (("alice", "udp"), ("bob", "tcp"), ("carol", "udp"),
                                            ("dave", "tcp"))]
    listener = clients("erin")
    everyone = posters + [listener]
    for c in everyone:
        assert resp_code(c.join(room)) == 200
    per_poster = 20
    post_from_all(posters, room, per_poster)
    total = per_poster * len(posters)
    received = {}
    for c in everyone:
        posts = c.wait_posts(total, timeout=20)
        received[c.user] = [post_text(p)[2] for p in posts]
        assert len(received[c.user]) == total, "%s got %d of %d" % (c.user,
                                                                     len(received[c.user]), total)
        assert c.wait_posts(1, timeout=0.5) == [], "%s got a post twice" % c.user
        assert len(set(received[c.user])) == total
    orders = {tuple(v) for v in received.values()}
    assert len(orders) == 1, "participants saw different orders"
    in_store = [re.sub("</?chat>", "", r[2]) for r in lab.stored(room)]
    assert list(orders.pop()) == in_store
    for c in posters:  # each poster's own posts in the order it sent them
        mine = [t for t in received["erin"] if t.startswith(c.user + " ")]
        assert mine == sorted(mine)


def test_backchat_returns_history_oldest_first(lab, clients, room):
    a = clients("alice")
    a.join(room)
    for i in range(30):
        a.post(room, "message %02d" % i)
    a.wait_posts(30)
    b = clients("bob", "tcp")
    b.join(room)
    parts, msgs = b.backchat(room, 25)
    texts = [m.find(Q + "chat").text for m in msgs]
    assert texts == ["message %02d" % i for i in range(5, 30)]
    for m in msgs:
        assert m.get("id") == "grpchat" and m.get("chanUri") == room
        assert m.get("author") == "sip:alice@pchat.test"
    # asking for more than the limit gives the limit (backchat_limit, 100 by default)
    for i in range(80):
        a.post(room, "more %02d" % i)
    parts, msgs = b.backchat(room, 100000)
    assert len(msgs) == 100


def test_bjoin_joins_what_it_can_and_reports_the_rest(lab, clients, room):
    a, b = clients("alice"), clients("bob")
    a.join(room)
    missing = str(uuid.uuid4())
    rpl = b.bjoin([room, lab.env["PCHAT_DEMO_ROOM"], room_uri(missing),
                   room_uri(ROOMS["disabled"])])
    assert resp_code(rpl) == 200
    joined = [c.get("uri") for c in rpl.root.iter(Q + "chanib")]
    assert joined == [room, lab.env["PCHAT_DEMO_ROOM"]]
    failed = sorted(f.get("value") for f in rpl.root.iter(Q + "fib"))
    assert failed == sorted([missing, ROOMS["disabled"]])
    assert all(f.get("key") == "OPERATION_FAILED" for f in rpl.root.iter(Q + "fib"))
    n = a.wait_notice("ntc:bjoin")
    assert n is not None and "sip:bob@pchat.test" in n.info.text
    # every chanib references users listed once at data level
    ids = {u.get("id"): u.get("uri") for u in rpl.root.iter(Q + "uib")}
    for chanib in rpl.root.iter(Q + "chanib"):
        for aib in chanib.iter(Q + "aib"):
            assert all(i in ids for i in aib.get("value").split(","))
    assert b.post(lab.env["PCHAT_DEMO_ROOM"], "joined by batch").status == 200


def test_join_failures_are_explained(lab, clients):
    a = clients("alice")
    rpl = a.join(room_uri(str(uuid.uuid4())))
    assert resp_code(rpl) == 404
    assert rpl.root.find(Q + "rpl/" + Q + "resp").text == "no such room"
    rpl = a.join(room_uri(ROOMS["disabled"]))
    assert resp_code(rpl) == 403
    assert "disabled" in rpl.root.find(Q + "rpl/" + Q + "resp").text


def test_part_stops_delivery_and_notifies(lab, clients, room):
    a, b = clients("alice"), clients("bob")
    a.join(room)
    b.join(room)
    rpl = b.part(room)
    assert resp_code(rpl) == 200
    assert rpl.root.find(Q + "rpl/" + Q + "data/" + Q + "chanib").get("uri") == room
    assert a.wait_notice("ntc:part") is not None
    a.post(room, "after bob left")
    assert len(a.wait_posts(1)) == 1
    assert b.wait_posts(1, timeout=1) == []
    assert b.post(room, "not joined any more").status == 403


def test_two_sessions_of_one_user_are_one_participant(lab, clients, room):
    a, b, b2 = clients("alice"), clients("bob"), clients("bob", "tcp")
    a.join(room)
    b.join(room)
    assert a.wait_notice("ntc:join") is not None
    b2.join(room)
    assert a.wait_notice("ntc:join", timeout=1) is None  # bob was there already
    assert users_in(a.join(room)).count("sip:bob@pchat.test") == 1
    b.post(room, "to both of my sessions")
    assert len(b.wait_posts(1)) == 1 and len(b2.wait_posts(1)) == 1
    b.part(room)
    assert a.wait_notice("ntc:part", timeout=1) is None  # bob is still there
    b2.part(room)
    assert a.wait_notice("ntc:part") is not None


def node_restart(lab):
    pgid = int(lab.env["PCHAT_NODE_PGIDS"].split()[0])
    os.killpg(pgid, signal.SIGTERM)
    deadline = time.time() + 15
    while time.time() < deadline and subprocess.run(["pgrep", "-g", str(pgid)],
                                                     stdout=subprocess.PIPE).returncode == 0:
        time.sleep(0.1)
    lab.up()


@pytest.mark.processes
def test_history_survives_a_kamailio_restart(lab, room):
    a = ChatClient(lab.sip_server(), "alice")
    a.login()
    a.join(room)
    a.post(room, "before the restart")
    a.wait_posts(1)
    a.close()
    node_restart(lab)
    b = ChatClient(lab.sip_server(), "bob", proto="tcp")
    try:
        b.login()
        b.join(room)
        parts, msgs = b.backchat(room)
        assert [m.find(Q + "chat").text for m in msgs] == ["before the restart"]
    finally:
        b.close()


def test_a_slow_client_gets_every_post_in_order(lab, clients, room):
    """A client that answers INFOs more slowly than they come (20 ms each, here) falls more than
    max_pending (32) INFOs behind: the rest wait for it instead of ending its session."""
    a, b = clients("alice"), clients("bob", "tcp")
    a.join(room)
    b.join(room)

    def slow(msg):
        time.sleep(0.02)
        return 200
    b.ua.answer = slow
    count = 80
    for i in range(count):
        assert a.post(room, "burst %02d" % i).status == 200
    texts = [post_text(e)[2] for e in b.wait_posts(count, timeout=15)]
    assert texts == ["burst %02d" % i for i in range(count)]
    b.ua.answer = 200
    assert b.post(room, "still here").status == 200
    assert "leaves too many INFOs unanswered" not in lab.log()


@pytest.mark.processes
def test_redis_outage_does_not_stop_local_chat(lab, clients, room):
    a, b = clients("alice"), clients("bob")
    a.join(room)
    b.join(room)
    redis_pid = int(open(os.path.join(lab.dir, "redis", "redis.pid")).read())
    os.kill(redis_pid, signal.SIGKILL)
    try:
        for i in range(3):
            assert a.post(room, "redis is down %d" % i).status == 200
        assert len(b.wait_posts(3)) == 3
        c = clients("carol")  # joins work too
        assert resp_code(c.join(room)) == 200
    finally:
        lab.up()  # Redis comes back
    # the outage is logged once for the node, not once per request or process
    assert lab.log().count("Redis 127.0.0.1:%s is unreachable" % lab.env["PCHAT_REDIS_PORT"]) == 1


@pytest.mark.processes
def test_mariadb_outage_refuses_posts_with_503_and_loses_nothing(lab, clients, room):
    a = clients("alice")
    a.join(room)
    assert a.post(room, "stored before").status == 200
    lab.kill_mysql()
    time.sleep(0.5)
    try:
        resp = a.post(room, "while the database is down")
        assert resp.status == 503 and resp.get("retry-after")
        rpl = a.command("bccontext", '<chanib uri="%s"/><bcq><last cnt="5"/></bcq>' % room)
        assert resp_code(rpl) == 503
    finally:
        lab.up()
    time.sleep(6)  # db_retry_interval: the module tries again
    assert a.post(room, "stored after").status == 200
    texts = [r[2] for r in lab.stored(room)]
    assert texts == ["<chat>stored before</chat>", "<chat>stored after</chat>"]


def redis_room(lab, room):
    room_id = lab.sql("SELECT id FROM pchat_room WHERE guid = '%s'" % room.rsplit("/", 1)[1])[0][0]
    out = subprocess.run(["redis-cli", "-p", lab.env["PCHAT_REDIS_PORT"], "--no-raw", "HGETALL",
                          "pchat:room:%s:sessions" % room_id], stdout=subprocess.PIPE, text=True,
                         check=True).stdout
    return [line.split(") ", 1)[1].strip('"') for line in out.splitlines() if ") " in line]


def test_presence_is_mirrored_to_redis(lab, clients, room):
    a, b = clients("alice"), clients("bob", "tcp")
    a.join(room)
    b.join(room)
    entries = redis_room(lab, room)
    assert sorted(entries[1::2]) == ["sip:alice@pchat.test", "sip:bob@pchat.test"]
    assert all(field.startswith("node1:") for field in entries[0::2])
    b.part(room)
    assert redis_room(lab, room)[1::2] == ["sip:alice@pchat.test"]
    a.bye()  # answered first, the session ends right after
    deadline = time.time() + 5
    while redis_room(lab, room) and time.time() < deadline:
        time.sleep(0.05)
    assert redis_room(lab, room) == []


def test_a_post_repeated_after_its_transaction_ended_is_stored_once(lab, clients, room):
    """A client over UDP repeats a request whose answer it lost for up to 32 s, tm forgets the
    transaction wt_timer (1 s in the test lab) after the answer: the repeat is answered as the
    first time and not carried out again."""
    a, b = clients("alice"), clients("bob")
    a.join(room)
    b.join(room)
    d = a.dialog
    body = ('<xccos ver="1" envid="77" xmlns="%s"><grpchat id="grpchat" seqid="1" chanUri="%s" '
            'author="%s" ts="2019-10-12T14:26:17Z"><chat>only once</chat></grpchat></xccos>'
            % (NS, room, a.uri))
    headers = ([("Via", a.ua.via("z9hG4bK" + uuid.uuid4().hex[:12]))] + d.headers("INFO")
               + [("Content-Type", "text/plain")])
    assert a.ua.request("INFO", d.remote_target, headers, body).status == 200
    assert len(b.wait_posts(1)) == 1
    time.sleep(2.5)  # the transaction is gone (TM_WT_TIMER=1000)
    again = a.ua.request("INFO", d.remote_target, headers, body)
    assert again is not None and again.status == 200
    assert a.post(room, "next").status == 200  # the session goes on
    assert [post_text(p)[2] for p in b.wait_posts(2, timeout=3)] == ["next"]
    assert [r[2] for r in lab.stored(room)] == ["<chat>only once</chat>", "<chat>next</chat>"]
    # a CSeq far below what the session has carried out is out of order (RFC 3261 12.2.2)
    old = [(n, v) for n, v in d.headers("INFO") if n != "CSeq"] + [("CSeq", "1 INFO")]
    d.cseq += 100
    assert a.post(room, "after a jump").status == 200
    resp = a.ua.request("INFO", d.remote_target, old + [("Content-Type", "text/plain")], body)
    assert resp is not None and resp.status == 500
    assert [r[2] for r in lab.stored(room)][-1] == "<chat>after a jump</chat>"
