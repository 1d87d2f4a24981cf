"""Service limits with small values (a lab of its own): Lync's ParticipantUpdateLimit (capped
participant lists, no join/part notices in big rooms), the message size limit counted in
characters, the backchat cap, sessions that miss their Session-Expires refresh, and clients
that leave too many INFOs unanswered."""
import re
import time

import pytest

from lab import TEST_DEFINES, start_lab
from xccos import Q


@pytest.fixture(scope="module")
def lab(request):
    return start_lab(request, defines=TEST_DEFINES + " PCHAT_PARTICIPANT_UPDATE_LIMIT=3 "
                     "PCHAT_MESSAGE_SIZE_LIMIT=50 PCHAT_BACKCHAT_LIMIT=5 PCHAT_SESSION_EXPIRES=10 "
                     "PCHAT_MAX_PENDING=4 PCHAT_MAX_PENDING_UDP=4 PCHAT_MAX_QUEUED=1")


def test_big_rooms_cap_lists_and_stop_notices(lab, clients, room):
    users = [clients("user%d" % i) for i in range(5)]
    for i, c in enumerate(users):
        rpl = c.join(room)
        listed = [u.get("uri") for u in rpl.root.iter(Q + "uib")]
        assert listed[0] == c.uri  # the joining user comes first
        assert len(listed) == min(i + 1, 3)
    # user1 and user2 joined while the room had at most 3 users: user0 heard of them;
    # user3 and user4 made it bigger than the limit: nobody heard of them
    heard = [n.info.text for n in iter(lambda: users[0].wait_notice("ntc:join", 1), None)]
    assert len(heard) == 2 and "user1@" in heard[0] and "user2@" in heard[1]
    users[4].part(room)  # 4 users left: still above the limit, no notice
    assert users[0].wait_notice("ntc:part", 1) is None
    users[3].part(room)  # 3 users left: notices again
    n = users[0].wait_notice("ntc:part")
    assert n is not None and "user3@" in n.info.text


def test_message_size_counts_characters(lab, clients, room):
    c = clients("alice")
    c.join(room)
    assert c.post(room, "\u00e9" * 50).status == 200    # 50 characters, 100 bytes
    assert c.post(room, "a" * 51).status == 413
    rpl = c.command("getserverinfo", '<sib domain="pchat.test" infoType="123"/>')
    sib = rpl.root.find(Q + "rpl/" + Q + "data/" + Q + "sib")
    assert sib.get("messageSizeLimit") == "50" and sib.get("infoType") == "123"
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$", sib.get("serverTime"))
    assert sib.get("rootUri").startswith("ma-cat://pchat.test/")


def test_backchat_is_capped(lab, clients, room):
    c = clients("alice")
    c.join(room)
    for i in range(8):
        c.post(room, "m%d" % i)
    parts, msgs = c.backchat(room, 25)
    assert [m.find(Q + "chat").text for m in msgs] == ["m3", "m4", "m5", "m6", "m7"]


def test_session_missing_its_refresh_is_reaped(lab, clients, room):
    """Session-Expires 10 s here: a session without refreshes is ended after 10 s plus
    min(32, 10 / 3) s, with notices to the room; a refreshed session lives on."""
    a, b = clients("alice"), clients("bob")
    assert a.dialog.invite_response.get("session-expires").startswith("10")
    a.join(room)
    b.join(room)
    started = time.time()
    notice = None
    while notice is None and time.time() - started < 40:
        assert a.dialog.send("UPDATE").status == 200  # alice refreshes, bob does not
        notice = a.wait_notice("ntc:part", timeout=3)
    assert notice is not None and "sip:bob@pchat.test" in notice.info.text
    assert 10 <= time.time() - started < 25
    assert b.dialog.send("UPDATE").status == 481
    assert a.dialog.send("UPDATE").status == 200


def test_client_leaving_too_many_infos_unanswered_is_ended_early(lab, clients, room):
    """max_pending 4 and max_queued 1 here: four INFOs in flight, one waiting, and the sixth
    ends the session at once, long before the unanswered INFOs would time out (fr_timer), so a
    dead client cannot pile up transactions."""
    a, b = clients("alice"), clients("bob")
    a.join(room)
    b.join(room)
    b.ua.answer = None
    started = time.time()
    for i in range(6):
        assert a.post(room, "p%d" % i).status == 200
    notice = a.wait_notice("ntc:part", timeout=5)
    assert notice is not None and "sip:bob@pchat.test" in notice.info.text
    assert time.time() - started < 2.5  # fr_timer is 3 s in the tests
    assert "leaves too many INFOs unanswered" in lab.log()
    b.ua.answer = 200
