"""A pool over a 3-node MariaDB Galera cluster (scripts/lab up --db galera): the nodes write
through one server at a time, move to the next when it dies, lose no acknowledged post and store
none twice while it does (posts whose COMMIT went unanswered are looked up by their id before the
author is answered), keep every room's numbering gap-free and relay every post once, go back to the first server once it
is in the cluster again, and Kamailio's own database modules (auth_db through db_cluster) follow."""
import os
import re
import threading
import time

import pytest

from lab import TEST_DEFINES, start_lab, wait_for
from xccos import ChatClient, post_text, resp_code

POSTERS = ("alice", "bob", "carol")


@pytest.fixture(scope="module")
def lab(request):
    """Two nodes over Galera, digest at the front end (auth_db reads the subscriber table
    through db_cluster); failback after 2 s instead of 30."""
    return start_lab(request, nodes=2, db="galera", auth="digest",
                     defines=TEST_DEFINES + " PCHAT_DB_FAILBACK_INTERVAL=2")


@pytest.fixture(autouse=True)
def whole_cluster(lab):
    """Every test starts and leaves with the three servers in the cluster."""
    yield
    lab.up()


def client(lab, user, node=None):
    """A logged-in client through the front end (or straight to a node), by digest."""
    server = lab.frontend if node is None else lab.sip_server(node)
    c = ChatClient(server, user, password=lab.passwords[user])
    c.login()
    return c


def writer_port(lab, node=0):
    return re.search(r"mysql: \{.*?port: (\d+)", lab.kamcmd("pchat.status", node=node),
                     re.S).group(1)


def galera_ports(lab):
    return lab.env["PCHAT_GALERA_PORTS"].split()


def test_the_lab_runs_a_three_node_cluster(lab):
    assert lab.env["PCHAT_DB_MODE"] == "galera"
    assert len(galera_ports(lab)) == 3 and len(lab.env["PCHAT_GALERA_SOCKETS"].split()) == 3
    assert galera_ports(lab)[0] == lab.env["PCHAT_MYSQL_PORT"]
    status = lab.run("status").stdout
    assert status.count("synced, cluster of 3") == 3, status
    out = lab.kamcmd("pchat.status")
    assert "servers: 3" in out and writer_port(lab) == galera_ports(lab)[0]
    # what one server stores, the others have
    room = lab.new_room("galera")
    guid = room.rsplit("/", 1)[1]
    for server in (1, 2):
        assert wait_for(lambda: lab.sql("SELECT COUNT(*) FROM pchat_room WHERE guid = '%s'"
                                        % guid, server=server) == [["1"]], timeout=5)


def post_until_acknowledged(c, room, text, outcome, deadline):
    """Posts text until it is acknowledged, retrying after 503 as a client does. outcome[text]:
    'ok', or 'unknown' when no answer came (then it is not sent again: it may be stored)."""
    while time.time() < deadline:
        resp = c.post(room, text, timeout=25)
        if resp is None:
            outcome[text] = "unknown"
            return
        if resp.status == 200:
            outcome[text] = "ok"
            return
        assert resp.status == 503 and resp.get("retry-after"), resp
        time.sleep(0.2)
    outcome[text] = "refused"


def test_the_writer_killed_under_posting_loses_and_doubles_nothing(lab):
    """kill -9 of the server every node writes through, while three users post in one room
    through the front end: every acknowledged post is stored once, the numbers stay 1..n,
    every member receives every post once and in order, and the nodes write through the
    second server; back in the cluster, the first one is the writer again."""
    room = lab.new_room("failover")
    users = [client(lab, u) for u in POSTERS]
    try:
        for c in users:
            assert resp_code(c.join(room)) == 200
        outcome = {}
        deadline = time.time() + 60

        def poster(c):
            for i in range(40):
                post_until_acknowledged(c, room, "%s %d" % (c.user, i), outcome, deadline)

        threads = [threading.Thread(target=poster, args=(c,)) for c in users]
        for t in threads:
            t.start()
        assert wait_for(lambda: len(outcome) >= 30, timeout=30)
        lab.kill_mysql(server=0)
        for t in threads:
            t.join()
        acked = {t for t, o in outcome.items() if o == "ok"}
        assert len(acked) >= 100 and "refused" not in outcome.values(), outcome
        rows = lab.stored(room, server=1)
        texts = [r[2] for r in rows]
        assert sorted(texts) == sorted(set(texts)), "a post is stored twice"
        assert [int(r[0]) for r in rows] == list(range(1, len(rows) + 1))
        stored = {t[len("<chat>"):-len("</chat>")] for t in texts}
        assert acked <= stored
        assert stored <= set(outcome), "a post nobody sent"
        # every member receives every post once, in the room's order (sessions over UDP have
        # one INFO in flight at a time: the front end's UDP workers cannot swap two)
        for c in users:
            got = [post_text(e)[2] for e in c.wait_posts(len(rows), timeout=30)]
            assert got == [t[len("<chat>"):-len("</chat>")] for t in texts]
        # the first server that answered after the kill (the second, or the third while the
        # second still waited for the cluster to reform)
        assert all(writer_port(lab, n) in galera_ports(lab)[1:] for n in (0, 1))
        assert "now writes through 127.0.0.1:" in lab.log(0) + lab.log(1)
    finally:
        for c in users:
            c.close()
    lab.up()  # the first server joins again (incremental state transfer)
    assert wait_for(lambda: all(writer_port(lab, n) == galera_ports(lab)[0] for n in (0, 1)),
                    timeout=20)
    c = client(lab, "alice")
    try:
        assert resp_code(c.join(room)) == 200
        assert c.post(room, "back on the first").status == 200
        assert lab.stored(room)[-1][2] == "<chat>back on the first</chat>"
    finally:
        c.close()


def test_digest_logins_go_on_while_the_first_server_is_down(lab):
    """auth_db reads the subscriber table through db_cluster: with the first server dead a user
    still signs in at the front end and chats."""
    lab.kill_mysql(server=0)
    room = lab.new_room("down", server=1)
    c = client(lab, "bob")
    try:
        assert resp_code(c.join(room)) == 200
        assert c.post(room, "signed in without the first server").status == 200
    finally:
        c.close()
