"""A node under more work than it can deliver, in a lab whose deliveries may hold 400 KB of
shared memory: the fan-out queues never block a SIP worker, the node refuses new posts and
sessions with 503 and Retry-After before anything stored could be dropped, keeps answering
commands, and recovers; every post it acknowledged reaches the members that read, in order."""
import os
import re
import signal
import threading

import pytest

from lab import TEST_DEFINES, start_lab, wait_for
from xccos import ChatClient, post_text, resp_code


@pytest.fixture(scope="module")
def lab(request):
    return start_lab(request, defines=TEST_DEFINES + " PCHAT_MAX_NODE_BYTES=400000")


def test_node_over_its_budget_refuses_new_posts_and_sessions_then_recovers(lab, clients,
                                                                          room):
    """Ten clients that stop answering make the node's deliveries hold more and more; new posts and new sessions then get 503 with Retry-After (nothing is stored for them),
    and once the sleepers are gone the node takes posts again."""
    poster = clients("alice")
    poster.join(room)
    sleepers = [clients("sleeper%d" % i) for i in range(10)]
    for s in sleepers:
        s.join(room)
        s.ua.answer = None
    refused = None
    for i in range(40):
        resp = poster.post(room, "%02d %s" % (i, "y" * 7000))
        if resp.status == 503:
            refused = resp
            break
        assert resp.status == 200
    assert refused is not None and refused.get("retry-after")
    stored = len(lab.stored(room))
    late = ChatClient(lab.sip_server(), "latecomer")
    try:
        assert late.login(expect=503).get("retry-after")
    finally:
        late.close()
    assert "over max_node_bytes" in lab.log()
    for s in sleepers:   # their sessions end (over their own budget, or their INFOs time out)
        s.ua.answer = 200
    assert wait_for(lambda: lab.stat("queued_bytes") < 400000, timeout=15)
    assert wait_for(lambda: poster.post(room, "again").status == 200, timeout=10)
    assert len(lab.stored(room)) == stored + 1


def process_pids(lab, description):
    out = lab.kamcmd("core.psx")
    return [int(pid) for pid, dsc in re.findall(r"PID: (\d+)\s+DSC: ([^\n]+)", out)
            if dsc.startswith(description)]


def test_stalled_senders_make_posts_wait_with_503_not_block(lab, clients, room):
    """Both senders stop (SIGSTOP) while a room keeps getting posts: the queues never block a
    SIP worker - posts are stored and answered 200 until the queued work reaches
    max_node_bytes, then refused 503 with Retry-After (nothing stored is dropped), and the node
    still answers commands. Once the senders go on, every stored post reaches the member, in
    order."""
    a, b = clients("alice"), clients("bob")
    a.join(room)
    b.join(room)
    senders = process_pids(lab, "pchat sender")
    assert len(senders) == 2
    for pid in senders:
        os.kill(pid, signal.SIGSTOP)
    try:
        statuses = []
        for i in range(120):
            resp = a.post(room, "%03d %s" % (i, "w" * 7000), timeout=5)
            statuses.append(resp.status if resp else None)
            if statuses[-1] == 503:
                assert resp.get("retry-after")
                break
        assert statuses[-1] == 503 and set(statuses[:-1]) == {200}
        assert resp_code(b.command("requri")) == 200
    finally:
        for pid in senders:
            os.kill(pid, signal.SIGCONT)
    stored = [re.sub(r"</?chat>", "", r[2])[:3] for r in lab.stored(room)]
    assert len(stored) == len(statuses) - 1
    got = [post_text(e)[2][:3] for e in b.wait_posts(len(stored), timeout=30)]
    assert got == stored


def test_node_keeps_answering_under_a_flood_of_posts(lab, clients, room):
    """Four posters flood a room with a client that does not read: the node never blocks -
    every post is answered 200 or 503 (refused before it is stored), commands are still
    answered, and every stored post reaches the reading member in order."""
    posters = [clients("poster%d" % i) for i in range(4)]
    reader, sleeper = clients("reader"), clients("sleeperx")
    for c in posters + [reader, sleeper]:
        c.join(room)
    sleeper.ua.answer = None
    answers = []

    def flood(c):
        for i in range(40):
            resp = c.post(room, "%s %02d %s" % (c.user, i, "z" * 3000), timeout=10)
            answers.append(resp.status if resp else None)
    threads = [threading.Thread(target=flood, args=(c,)) for c in posters]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert None not in answers and set(answers) <= {200, 503}
    assert resp_code(reader.command("requri")) == 200
    stored = [re.sub(r"</?chat>", "", r[2]) for r in lab.stored(room)]
    assert answers.count(200) == len(stored)
    got = [post_text(e)[2] for e in reader.wait_posts(len(stored), timeout=30)]
    assert got == stored
