"""A pool of three nodes over one MariaDB and one Redis: posts and notices cross nodes exactly once
and in the room's order, presence is pool-wide, a dead node's users vanish from the others'
lists within the node timeout and find their history on another node, a restarted node does not
bring back its old sessions, a Redis outage loses no post, and the front end spreads clients
over the pool, keeps each session on its node and carries sessions over TLS; a node's sessions
that arrive through the front end never count against the per-address session limit."""
import os
import re
import signal
import threading
import time

import pytest

from lab import TEST_DEFINES, start_lab, wait_for
from xccos import Q, ChatClient, post_from_all, post_text, resp_code

NODE_TIMEOUT = 3  # s, PCHAT_NODE_TIMEOUT below
PER_SOURCE = 4  # PCHAT_MAX_SESSIONS_PER_SOURCE below: sessions per address a node takes


@pytest.fixture(scope="module")
def lab(request):
    return start_lab(request, nodes=3, defines=TEST_DEFINES + (
        " PCHAT_NODE_TIMEOUT=%d PCHAT_GAP_TIMEOUT=500 PCHAT_PRESENCE_SYNC_INTERVAL=5"
        " PCHAT_CATCH_UP_INTERVAL=1 PCHAT_MAX_SESSIONS_PER_SOURCE=%d" % (NODE_TIMEOUT, PER_SOURCE)))


def redis_usable_everywhere(lab, timeout=15):
    """Waits until every node uses Redis again: after an outage a node waits
    redis_retry_interval before it tries again, whatever Redis does meanwhile."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if all("redis: up" in lab.kamcmd("pchat.pool", node=n, check=False)
               for n in range(len(lab.sip_ports))):
            return True
        time.sleep(0.2)
    return False


@pytest.fixture(autouse=True)
def whole_pool(lab):
    """Every test starts and leaves with all nodes (and Redis) up and in use."""
    yield
    lab.up()
    assert redis_usable_everywhere(lab)


def users_in(rpl):
    return [u.get("uri") for u in rpl.root.iter(Q + "uib")]


def sessions_of(lab, room, node=0):
    """(user, node) of every session of the room, as pchat.room.participants lists them."""
    out = lab.kamcmd("pchat.room.participants", room.rsplit("/", 1)[1], node=node)
    users = re.findall(r"user: (\S+)", out)
    nodes = re.findall(r"node: (\S+)", out)
    assert "scope: pool" in out, out
    return sorted(zip(users, nodes))


def seq_by_text(lab, room):
    return {re.sub(r"</?chat>", "", content): int(seq) for seq, _, content in lab.stored(room)}


def abandon(client):
    """A client whose node died: its session is gone, so it does not say goodbye."""
    client.dialog.remote_tag = None
    client.close()


def test_posts_cross_nodes_once_and_in_seq_order(lab, clients, room):
    users = [clients("alice", "udp", node=0), clients("bob", "tcp", node=1),
             clients("carol", "udp", node=2)]
    for c in users:
        assert resp_code(c.join(room)) == 200
    per_user = 15
    post_from_all(users, room, per_user)
    seq = seq_by_text(lab, room)
    assert len(seq) == 3 * per_user
    for c in users:
        texts = [post_text(e)[2] for e in c.wait_posts(3 * per_user, timeout=20)]
        assert sorted(texts) == sorted(seq), "%s got %d posts" % (c.user, len(texts))
        assert [seq[t] for t in texts] == sorted(seq.values()), "%s: out of order" % c.user
        assert c.wait_posts(1, timeout=0.5) == [], "%s got a post twice" % c.user
    relayed = [int(re.search(r"relayed: (\d+)", lab.kamcmd("pchat.pool", node=n)).group(1))
               for n in range(3)]
    assert all(r > 0 for r in relayed), relayed


def test_presence_is_pool_wide(lab, clients, room):
    a, b, c = clients("alice", node=0), clients("bob", node=1), clients("carol", "tcp", node=2)
    a.join(room)
    rpl = b.join(room)
    assert set(users_in(rpl)) == {"sip:alice@pchat.test", "sip:bob@pchat.test"}
    notice = a.wait_notice("ntc:join")
    assert notice is not None and "sip:bob@pchat.test" in notice.info.text
    rpl = c.join(room)
    assert set(users_in(rpl)) == {"sip:alice@pchat.test", "sip:bob@pchat.test",
                                  "sip:carol@pchat.test"}
    assert sessions_of(lab, room, node=1) == [("sip:alice@pchat.test", "node1"),
                                              ("sip:bob@pchat.test", "node2"),
                                              ("sip:carol@pchat.test", "node3")]
    # the user count of a search is the pool's
    name = lab.sql("SELECT name FROM pchat_room WHERE guid = '%s'" % room.rsplit("/", 1)[1])[0][0]
    rpl = a.command("chansrch", '<qib qtype="BYNAME" criteria="%s" extended="false"/>' % name)
    counts = [info.text for info in rpl.root.iter(Q + "info")
              if info.get("id") == "urn:parlano:ma:info:ucnt"]
    assert counts == ["3"]
    b.part(room)
    notice = c.wait_notice("ntc:part")
    assert notice is not None and "sip:bob@pchat.test" in notice.info.text
    assert [u for u, _ in sessions_of(lab, room)] == ["sip:alice@pchat.test",
                                                      "sip:carol@pchat.test"]


def test_room_changes_reach_every_node(lab, clients, room):
    a, b = clients("alice", node=0), clients("bob", node=2)
    a.join(room)
    b.join(room)
    lab.kamcmd("pchat.room.disable", room.rsplit("/", 1)[1], node=1)
    for c in (a, b):
        notice = c.wait_notice("ntc:part")
        assert notice is not None and c.uri in notice.info.text
    assert sessions_of(lab, room) == []


@pytest.mark.processes
def test_dead_node_vanishes_and_its_users_find_their_history_elsewhere(lab, clients, room):
    a, b = clients("alice", node=0), clients("bob", node=1)
    a.join(room)
    b.join(room)
    assert b.post(room, "bob before the crash").status == 200
    assert len(a.wait_posts(1)) == 1
    lab.kill_node(1)
    killed = time.time()
    abandon(b)
    notice = a.wait_notice("ntc:part", timeout=NODE_TIMEOUT + 5)
    gone_after = time.time() - killed
    assert notice is not None and "sip:bob@pchat.test" in notice.info.text
    assert gone_after < NODE_TIMEOUT + 3, "bob vanished only after %.1f s" % gone_after
    assert sessions_of(lab, room) == [("sip:alice@pchat.test", "node1")]
    assert "node: node2" not in lab.kamcmd("pchat.pool")
    # bob logs in again, on another node, and reads what was said
    b2 = clients("bob", node=2)
    assert resp_code(b2.join(room)) == 200
    _, msgs = b2.backchat(room)
    assert [m.find(Q + "chat").text for m in msgs] == ["bob before the crash"]
    assert b2.post(room, "bob is back").status == 200
    assert [post_text(e)[2] for e in a.wait_posts(1)] == ["bob is back"]


@pytest.mark.processes
def test_restarted_node_does_not_bring_back_old_sessions(lab, clients, room):
    a, b = clients("alice", node=0), clients("bob", node=2)
    a.join(room)
    b.join(room)
    lab.kill_node(2)
    abandon(b)
    lab.up()  # back at once, before its heartbeat expires: its start cleans up
    notice = a.wait_notice("ntc:part", timeout=5)
    assert notice is not None and "sip:bob@pchat.test" in notice.info.text
    assert sessions_of(lab, room) == [("sip:alice@pchat.test", "node1")]
    assert "is gone" not in lab.log(0)  # nobody had to clean up after it
    # the node logs the clean-up after its notices went out
    assert wait_for(lambda: "1 stale ones removed" in lab.log(2), timeout=5)


@pytest.mark.processes
def test_redis_outage_during_posting_loses_nothing(lab, clients, room):
    a, b, c = clients("alice", node=0), clients("bob", node=1), clients("carol", "tcp", node=2)
    for u in (a, b, c):
        u.join(room)
    redis_pid = int(open(os.path.join(lab.dir, "redis", "redis.pid")).read())
    count = 30

    def poster():
        for i in range(count):
            assert a.post(room, "post %02d" % i).status == 200
            time.sleep(0.1)

    t = threading.Thread(target=poster)
    t.start()
    time.sleep(1)
    os.kill(redis_pid, signal.SIGKILL)
    time.sleep(1)
    lab.up()  # Redis is back, empty: the nodes publish their presence again
    t.join()
    seq = seq_by_text(lab, room)
    assert len(seq) == count
    for u in (a, b, c):
        texts = [post_text(e)[2] for e in u.wait_posts(count, timeout=25)]
        assert [seq[x] for x in texts] == sorted(seq.values()), "%s got %s" % (u.user, texts)
        assert u.wait_posts(1, timeout=0.5) == []
    # cross-node delivery works again through Redis, without waiting for a gap to be filled
    assert redis_usable_everywhere(lab)
    expected = [("sip:alice@pchat.test", "node1"), ("sip:bob@pchat.test", "node2"),
                ("sip:carol@pchat.test", "node3")]
    deadline = time.time() + 5   # each node publishes its presence again at its next tick
    while sessions_of(lab, room) != expected and time.time() < deadline:
        time.sleep(0.2)
    assert sessions_of(lab, room) == expected
    started = time.time()
    assert b.post(room, "after the outage").status == 200
    assert [post_text(e)[2] for e in a.wait_posts(1, timeout=2)] == ["after the outage"]
    assert time.time() - started < 0.5
    port = lab.env["PCHAT_REDIS_PORT"]
    for node in range(3):
        assert lab.log(node).count("Redis 127.0.0.1:%s is unreachable" % port) == 1


@pytest.mark.processes
def test_front_end_spreads_sessions_and_keeps_each_on_its_node(lab, room):
    front = ("127.0.0.1", int(lab.env["PCHAT_FRONTEND_PORT"]))
    names = ["dave", "erin", "frank", "grace", "heidi", "ivan"]
    users = []
    try:
        for i, name in enumerate(names):
            c = ChatClient(front, name, proto="tcp" if i % 2 else "udp")
            users.append(c)
            c.login()
            assert resp_code(c.join(room)) == 200
        placed = sessions_of(lab, room)
        assert len(placed) == len(names)
        assert len({node for _, node in placed}) >= 2, placed
        for c in users:  # INFOs of each session reach the node that holds it
            assert c.post(room, "hello from %s" % c.user).status == 200
        for c in users:
            assert len(c.wait_posts(len(names), timeout=10)) == len(names)
        # a node dies: its users log in again through the front end and land on a live node
        victim_uri, victim_node = placed[0]
        victim = int(victim_node[len("node"):]) - 1
        alive = (victim + 1) % 3
        lab.kill_node(victim)
        for c in [c for c in users if (c.uri, victim_node) in placed]:
            abandon(c)
            users.remove(c)
        again = ChatClient(front, victim_uri.split(":")[1].split("@")[0])
        users.append(again)
        again.login()
        assert resp_code(again.join(room)) == 200
        _, msgs = again.backchat(room)
        assert len(msgs) == len(names)
        assert any(node != victim_node for uri, node in sessions_of(lab, room, node=alive)
                   if uri == again.uri)
    finally:
        for c in users:
            c.close()


def test_front_end_logins_are_not_counted_per_address(lab, room):
    """Every session of a pool reaches its node from the front end's address: the nodes trust
    it, so max_sessions_per_source (4 here) never refuses what it relays - a dead node's users
    logging in again all at once - while clients that come straight to a node are counted
    (test_budgets)."""
    marks = [lab.log_mark(node) for node in range(3)]
    users = []
    try:
        for i in range(5 * PER_SOURCE):
            c = ChatClient(lab.frontend, "crowd%d" % i)
            users.append(c)
            c.login()
            assert resp_code(c.join(room)) == 200
        per_node = {}
        for _, node in sessions_of(lab, room):
            per_node[node] = per_node.get(node, 0) + 1
        assert max(per_node.values()) > PER_SOURCE, per_node
        for node in range(3):
            assert "max_sessions_per_source" not in lab.log(node, since=marks[node])
    finally:
        for c in users:
            c.close()


def test_chat_over_tls_through_the_front_end(lab, room):
    """Clients of the Lync family come over TLS to the pool's address: the front end's TLS port
    (the lab CA's certificate) carries their sessions to the nodes and the nodes' requests back."""
    front = ("127.0.0.1", int(lab.env["PCHAT_FRONTEND_TLS_PORT"]))
    a = ChatClient(front, "alice", proto="tls", tls_context=lab.tls_context())
    b = ChatClient(front, "bob", proto="tls", tls_context=lab.tls_context())
    try:
        for c in (a, b):
            c.login()
            assert resp_code(c.join(room)) == 200
        assert [u for u, _ in sessions_of(lab, room)] == sorted([a.uri, b.uri])
        assert a.post(room, "first over tls").status == 200
        assert b.post(room, "second over tls").status == 200
        for c in (a, b):
            assert [post_text(e)[1:3] for e in c.wait_posts(2, timeout=10)] == [
                (a.uri, "first over tls"), (b.uri, "second over tls")]
        assert a.bye().status == 200
    finally:
        a.close()
        b.close()


def redis_cli(lab, *args):
    import subprocess
    return subprocess.run(["redis-cli", "-p", lab.env["PCHAT_REDIS_PORT"]] + list(args),
                          stdout=subprocess.PIPE, text=True, check=True).stdout


def test_relay_refused_by_redis_still_reaches_the_other_nodes(lab, clients, room):
    """Redis answers OOM while a post is relayed: the post is stored and the refusal counts as
    a Redis outage; the node that missed the relay catches the room up from the store."""
    a, b = clients("alice", node=0), clients("bob", node=1)
    a.join(room)
    b.join(room)
    redis_cli(lab, "CONFIG", "SET", "maxmemory-policy", "noeviction")
    redis_cli(lab, "CONFIG", "SET", "maxmemory", "1")
    try:
        assert a.post(room, "while Redis refuses writes").status == 200
        assert [post_text(e)[2] for e in a.wait_posts(1)] == ["while Redis refuses writes"]
    finally:
        redis_cli(lab, "CONFIG", "SET", "maxmemory", "0")
    got = b.wait_posts(1, timeout=8)
    assert [post_text(e)[2] for e in got] == ["while Redis refuses writes"]
    assert "it cannot serve (OOM" in lab.log(0)


def test_ethical_walls_and_policy_reach_every_node(lab, clients, room):
    """A category's new denial, made on one node, puts a user out on another; a policy rule
    made on one node ends the user's session on another."""
    import uuid
    tag = uuid.uuid4().hex[:6]
    cat = "Pool walls " + tag
    lab.kamcmd("pchat.category.add", cat)
    lab.kamcmd("pchat.category.allowed.add", cat, "pchat.test")
    out = lab.kamcmd("pchat.room.add", "Pool walled " + tag, cat, "privacy=open")
    uri = re.search(r"uri: (\S+)", out).group(1)
    a, b = clients("alice", node=0), clients("wb" + tag, node=1)
    a.join(uri)
    b.join(uri)
    lab.kamcmd("pchat.category.denied.add", cat, b.uri, node=2)
    assert b.wait_notice("ntc:part", timeout=3) is not None
    assert b.post(uri, "over the wall").status == 403
    c = clients("pc" + tag, node=1)
    lab.kamcmd("pchat.policy.set", c.uri, "no", node=0)
    try:
        assert c.wait_bye() is not None
    finally:
        lab.kamcmd("pchat.policy.unset", c.uri, node=0)


@pytest.mark.processes
def test_rights_changes_say_when_the_pool_was_not_told(lab):
    """With Redis down the other nodes cannot be told of an ethical wall or a policy rule: the
    command answers that the change is stored but not applied, instead of success."""
    import uuid
    tag = uuid.uuid4().hex[:6]
    cat = "Pool unwalled " + tag
    lab.kamcmd("pchat.category.add", cat)
    redis_pid = int(open(os.path.join(lab.dir, "redis", "redis.pid")).read())
    os.kill(redis_pid, signal.SIGKILL)
    user = "sip:nw%s@pchat.test" % tag
    for args in (("pchat.category.denied.add", cat, user), ("pchat.policy.set", user, "no"),
                 ("pchat.policy.unset", user)):
        out = lab.kamcmd(*args, check=False)
        assert out.startswith("error: 500") and "stored, but" in out, (args, out)
    assert user in lab.kamcmd("pchat.category.get", cat)
