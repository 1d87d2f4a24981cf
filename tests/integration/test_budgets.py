"""What one hostile or slow client may cost, in a lab with small budgets: posts are bounded in
bytes as they are sent and kept namespace-well-formed; a client that does not read pays for it
(its session is ended), never the posters of its rooms; sessions per user and per address,
dialog headers, unconfirmed sessions, requests per second, rooms per session and preferences
are bounded; a batch join stays within one reply; a stored post whose hand-over to its sender
fails still reaches everyone. (A node over its own budget: test_overload.py.)"""
import time
import uuid

import pytest

from lab import TEST_DEFINES, start_lab, wait_for
from sip import Dialog, UserAgent
from xccos import NS, Q, ChatClient, post_text, resp_code

LIMITS = {
    "PCHAT_MAX_SESSION_BYTES": 65536,
        "PCHAT_MAX_SESSIONS_PER_USER": 3,
    "PCHAT_MAX_SESSIONS_PER_SOURCE": 40,
    "PCHAT_USER_REQUEST_RATE": 20,
    "PCHAT_USER_REQUEST_BURST": 40,
    "PCHAT_MAX_ROOMS_PER_SESSION": 5,
    "PCHAT_MAX_POST_SIZE": 8000,
    "PCHAT_MAX_PREFERENCES": 3,
    "PCHAT_MAX_PREFERENCE_SIZE": 2048,
    "PCHAT_MAX_DIALOG_SIZE": 2048,
    "PCHAT_FAULT_POST_FANOUT": 4,
    "PCHAT_CATCH_UP_INTERVAL": 1,
}


@pytest.fixture(scope="module")
def lab(request):
    return start_lab(request, defines=TEST_DEFINES + "".join(
        " %s=%d" % kv for kv in LIMITS.items()))


def raw_post(room, inner):
    """A post body with any content inside <grpchat>."""
    return ('<xccos ver="1" envid="%d" xmlns="%s"><grpchat id="grpchat" seqid="1" chanUri="%s" '
            'author="x" ts="2019-10-12T14:26:17Z">%s</grpchat></xccos>'
            % (int(time.time() * 1000) % 1000000, NS, room, inner))


# ---------------------------------------------------------------- posts as they are sent

def test_post_is_bounded_in_bytes_as_sent(lab, clients, room):
    """An attribute of quotes grows six-fold when re-serialised (&quot;): the post is measured as
    it would be sent to every member, so a body well under the INFO limit is refused 413 and
    nothing is stored; the same bytes of plain text go through."""
    a, b = clients("alice"), clients("bob")
    a.join(room)
    b.join(room)
    quotes = "<chat>hi</chat><x a='%s'/>" % ('"' * 6000)   # 6 KB in, 36 KB out
    assert a.post(room, "", raw=raw_post(room, quotes)).status == 413
    plain = "<chat>hi</chat><x a='%s'/>" % ("q" * 2000)
    assert a.post(room, "", raw=raw_post(room, plain)).status == 200
    got = b.wait_posts(1)
    assert len(got) == 1 and len(got[0].info.body) < 8000 + 600
    assert [r[2][:15] for r in lab.stored(room)] == ["<chat>hi</chat>"]


def test_posts_stay_namespace_well_formed(lab, clients, room):
    """Prefixes declared on the envelope are declared again on the stored content; undeclared
    prefixes are refused 400; an envelope outside the XCCOS namespace is refused 400."""
    a, b = clients("alice"), clients("bob")
    a.join(room)
    b.join(room)
    body = ('<xccos ver="1" envid="7" xmlns="%s" xmlns:r="urn:rich"><grpchat id="grpchat" '
            'seqid="1" chanUri="%s" author="x" ts="2019-10-12T14:26:17Z"><chat>rich</chat>'
            '<r:story r:title="t">long</r:story></grpchat></xccos>' % (NS, room))
    assert a.dialog.info(body).status == 200
    got = b.wait_posts(1)
    assert got and got[0].root.find(Q + "grpchat").find("{urn:rich}story").text == "long"
    stored = lab.stored(room)[0][2]
    assert 'xmlns:r="urn:rich"' in stored
    _, msgs = b.backchat(room, 5)     # every later copy parses with namespaces too
    assert msgs[-1].find("{urn:rich}story").get("{urn:rich}title") == "t"
    assert a.post(room, "", raw=raw_post(room, "<chat>x</chat><u:y/>")).status == 400
    foreign = raw_post(room, "<chat>x</chat>").replace(NS, "urn:not-xccos")
    assert a.post(room, "", raw=foreign).status == 400
    assert len(lab.stored(room)) == 1


# ---------------------------------------------------------------- who pays

def test_a_client_that_does_not_read_is_ended_posters_are_not(lab, clients, room):
    """max_session_bytes 64 KB: a client that stops answering holds INFOs until its budget runs
    out; then it is ended (BYE) and told the room, while the poster's posts all get 200."""
    poster, reader, sleeper = clients("alice"), clients("bob"), clients("carol")
    for c in (poster, reader, sleeper):
        c.join(room)
    sleeper.ua.answer = None
    text = "x" * 7000
    for i in range(12):
        assert poster.post(room, "%02d %s" % (i, text)).status == 200
    assert len(reader.wait_posts(12)) == 12
    notice = poster.wait_notice("ntc:part", timeout=5)
    assert notice is not None and "sip:carol@pchat.test" in notice.info.text
    assert "leaves too many INFOs unanswered" in lab.log()
    assert sleeper.wait_bye() is not None


# ---------------------------------------------------------------- sessions

def test_sessions_per_user_and_per_source(lab, clients):
    """3 sessions per user: the fourth is refused 403 until one ends; 40 per address: the 41st
    session from 127.0.0.1 is refused 403 whoever it is."""
    mine = [clients("dave") for _ in range(3)]
    extra = ChatClient(lab.sip_server(), "dave")
    try:
        assert extra.login(expect=403)
    finally:
        extra.close()
    mine[0].bye()
    mine[0].dialog.remote_tag = None
    again = clients("dave")
    assert again.dialog.invite_response.status == 200
    crowd = [clients("crowd%d" % i) for i in range(40 - lab.stat("sessions"))]
    one_more = ChatClient(lab.sip_server(), "crowd-extra")
    try:
        assert one_more.login(expect=403)
    finally:
        one_more.close()
    assert "max_sessions_per_source" in lab.log() and "max_sessions_per_user" in lab.log()
    del crowd


def test_dialog_headers_are_bounded(lab):
    """What a session keeps of its dialog is bounded (2 KB here): a 3 KB Call-ID gets 513."""
    ua = UserAgent("eve", "pchat.test", lab.sip_server())
    try:
        d = Dialog(ua, "sip:pchat@pchat.test")
        d.call_id = "c" * 3000
        resp = d.invite()
        assert resp is not None and resp.status == 513
        assert "exceed max_dialog_size" in lab.log()
    finally:
        ua.close()


def test_session_never_confirmed_by_ack_is_reaped(lab):
    """A 200 OK never ACKed: after 32 s (RFC 3261's 64*T1) the session is gone."""
    ua = UserAgent("frank", "pchat.test", lab.sip_server(), proto="tcp")
    try:
        d = Dialog(ua, "sip:pchat@pchat.test")
        d.ack = lambda: None   # a client that never ACKs
        assert d.invite().status == 200
        before = lab.stat("sessions")
        assert wait_for(lambda: lab.stat("sessions") == before - 1, timeout=45)
        assert "never confirmed by an ACK" in lab.log()
    finally:
        ua.close()


# ---------------------------------------------------------------- requests

def test_requests_per_user_are_rate_limited(lab, clients):
    """20 requests a second with a burst of 40: a client that floods gets 503 with
    Retry-After for what goes over, and is served again a second later."""
    c = clients("grace")
    body = ('<xccos ver="1" envid="%d" xmlns="%s"><cmd id="cmd:requri" seqid="1"><data/></cmd>'
            '</xccos>')
    codes = [c.dialog.info(body % (i, NS)) for i in range(60)]
    assert all(r is not None for r in codes)
    refused = [r for r in codes if r.status == 503]
    assert 10 <= len(refused) <= 25 and refused[0].get("retry-after")
    time.sleep(1.2)
    assert c.dialog.info(body % (99, NS)).status == 200
    assert lab.stat("throttled") >= len(refused)


def test_rooms_per_session_and_batch_join_stay_bounded(lab, clients):
    """5 rooms per session: the sixth join is refused with a readable text; a batch join of
    rooms with big names fits in one reply: what does not fit is reported failed."""
    c = clients("heidi")
    rooms = [lab.new_room("cap") for _ in range(6)]
    for r in rooms[:5]:
        assert resp_code(c.join(r)) == 200
    rpl = c.join(rooms[5])
    assert resp_code(rpl) == 403 and "too many rooms" in rpl.root.find(
        Q + "rpl/" + Q + "resp").text
    assert resp_code(c.part(rooms[0])) == 200
    assert resp_code(c.join(rooms[5])) == 200


def test_batch_join_reply_fits_one_info(lab, clients):
    """Rooms whose name, description and topic take 13 KB each as sent: a batch of 6 cannot be
    answered in one 60 KB reply; the reply stays below it, every room is either joined (chanib)
    or failed (fib), and those not joined are not joined."""
    big = '"' * 1000
    rooms = []
    for _ in range(6):
        guid = str(uuid.uuid4())
        lab.sql("INSERT INTO pchat_room (guid, name, description, topic, category_id, privacy) "
                "VALUES ('%s', '%s', REPEAT('\"', 1000), REPEAT('\"', 1000), 1, 'open')"
                % (guid, "big " + guid[:8] + big[:200]))
        rooms.append("ma-chan://pchat.test/" + guid)
    c = ChatClient(lab.sip_server(), "ivan")
    try:
        c.login()
        rpl = c.bjoin(rooms)
        assert len(rpl.info.body) <= 60000
        joined = [ch.get("uri") for ch in rpl.root.iter(Q + "chanib")]
        failed = ["ma-chan://pchat.test/" + f.get("value") for f in rpl.root.iter(Q + "fib")]
        assert sorted(joined + failed) == sorted(rooms) and failed and joined
        assert c.post(failed[0], "not joined").status == 403
        assert c.post(joined[0], "joined").status == 200
    finally:
        c.close()


def test_preferences_are_bounded(lab, clients):
    """3 bundles a user, 2 KB each as sent: a fourth label and a big bundle are refused."""
    c = clients("judy")

    def setpref(label, content):
        return c.command("setpref", '<pref label="%s" seqid="0" createdefault="false" '
                         'content="%s"/>' % (label, content))
    for i in range(3):
        assert resp_code(setpref("l%d" % i, "c")) == 200
    assert resp_code(setpref("l0", "changed")) == 200      # an existing label may change
    rpl = setpref("l3", "c")
    assert resp_code(rpl) == 403
    assert resp_code(setpref("l1", "&quot;" * 400)) == 413  # 400 quotes are 2.4 KB as sent


# ---------------------------------------------------------------- stored means delivered

def test_post_whose_hand_over_fails_is_recovered_from_the_store(lab, clients, room):
    """Every fourth post's hand-over to its sender fails here (fault injection): the sender
    catches the room up from the store, so every member still gets every post, in order."""
    a, b = clients("alice"), clients("bob")
    a.join(room)
    b.join(room)
    mark = lab.log_mark()
    for i in range(9):
        assert a.post(room, "p%d" % i).status == 200
    got = [post_text(e)[2] for e in b.wait_posts(9, timeout=10)]
    assert got == ["p%d" % i for i in range(9)]
    assert "catches its rooms up" in lab.log(since=mark)


def test_settings_that_size_replies_are_capped(lab):
    """participant_update_limit and backchat_limit size what one command builds: at most 1000."""
    out = lab.kamcmd("pchat.config.set", "participant_update_limit", "100000", check=False)
    assert "1 to 1000" in out
    out = lab.kamcmd("pchat.config.set", "backchat_limit", "5000", check=False)
    assert "1 to 1000" in out
