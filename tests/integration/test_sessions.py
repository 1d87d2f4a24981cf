"""Chat sessions at the SIP level: INVITE/ACK/BYE as a UAS, in-dialog INFO through tm,
Session-Expires refreshes, requests without a Via branch, provisioning, and sessions that end
because their client went away."""
import re
import time

import pytest

from lab import wait_for
from sip import Dialog, UserAgent, token
from xccos import ChatClient, resp_code


def wait_sessions(lab, n, timeout=10):
    return wait_for(lambda: lab.stat("sessions") == n, timeout)


@pytest.fixture
def clients(lab):
    made = []

    def make(user, proto="udp", **kw):
        c = ChatClient(lab.sip_server(), user, proto=proto, **kw)
        made.append(c)
        return c
    yield make
    for c in made:
        if c.dialog and c.dialog.remote_tag and not c.ua.transport.closed:
            c.ua.answer = 200
            c.dialog.bye(timeout=2)
        c.close()
    assert wait_sessions(lab, 0), "sessions left behind"


def test_invite_with_a_record_route_that_does_not_parse_is_refused(lab):
    """Every INFO of a session follows the INVITE's route set: one that does not parse is
    refused at the INVITE (it used to get 200 OK, and then no INFO could be sent)."""
    ua = UserAgent("alice", "pchat.test", lab.sip_server(), "udp",
                   extra_headers=[("Record-Route", "<sip:127.0.0.1;lr")])
    try:
        before = lab.stat("sessions")
        assert Dialog(ua, "sip:pchat@pchat.test").invite().status == 400
        assert lab.stat("sessions") == before
    finally:
        ua.close()


@pytest.mark.parametrize("proto", ["udp", "tcp"])
def test_invite_answered_with_dialog_and_contact(lab, clients, proto):
    c = clients("alice", proto)
    resp = c.login()
    assert resp.tag("to"), "200 OK without a To-tag"
    assert resp.get("contact") and "transport=%s" % proto in resp.get("contact")
    assert resp.get("session-expires", "").startswith("600")
    assert resp.get("content-type") == "application/sdp" and b"m=message" in resp.body
    assert wait_sessions(lab, 1)
    rpl = c.command("requri")
    assert resp_code(rpl) == 200
    # the server's INFO comes from the URI the client invited, inside the dialog
    info = rpl.info
    assert "<sip:pchat@pchat.test>" in info.get("from")
    assert info.tag("from") == resp.tag("to")
    assert info.tag("to") == c.dialog.local_tag
    assert info.call_id == c.dialog.call_id
    assert info.get("content-type") == "text/plain"
    assert int(info.get("content-length")) == len(info.body)
    assert c.bye().status == 200
    assert wait_sessions(lab, 0)


def test_every_server_info_increases_cseq(lab, clients):
    c = clients("bob")
    c.login()
    for _ in range(3):
        c.command("requri")
    cseqs = [e.info.cseq[0] for e in c.all]
    assert cseqs == sorted(cseqs) and len(set(cseqs)) == 3


@pytest.mark.parametrize("proto", ["udp", "tcp"])
def test_requests_without_via_branch(lab, clients, proto):
    """pidgin-sipe sends in-dialog requests (INVITE and ACK included) with no Via branch."""
    c = clients("carol", proto, branchless=True)
    c.login()
    assert wait_sessions(lab, 1)
    assert resp_code(c.command("requri")) == 200
    assert c.dialog.send("UPDATE").status == 200
    # the ACK matched the 200: tm stopped retransmitting it
    time.sleep(1.5)
    oks = [m for m in c.ua.received if not m.is_request and m.cseq[1] == "INVITE"]
    assert len(oks) == 1, "200 OK to INVITE retransmitted %d times" % len(oks)
    assert c.bye().status == 200


def test_udp_retransmission_runs_a_command_once(lab, clients):
    c = clients("dave")
    c.login()
    hdrs = c.dialog.headers("INFO") + [("Content-Type", "text/plain")]
    body = ('<xccos ver="1" envid="777" xmlns="urn:parlano:xml:ns:xccos"><cmd id="cmd:requri" '
            'seqid="1"><data/></cmd></xccos>')
    data = c.ua.build("INFO", c.dialog.remote_target,
                      [("Via", c.ua.via("z9hG4bK" + token()))] + hdrs, body)
    for _ in range(3):
        c.ua.send_raw(data)
        time.sleep(0.2)
    time.sleep(1)
    replies = [e for e in c.all if e.kind == "rpl"]
    assert len(replies) == 1
    answers = [m for m in c.ua.received if not m.is_request and m.cseq[1] == "INFO"]
    assert len(answers) >= 2 and {m.status for m in answers} == {200}


def test_update_refresh_answered(lab, clients):
    c = clients("erin", "tcp")
    c.login()
    resp = c.dialog.send("UPDATE")
    assert resp.status == 200
    assert resp.get("session-expires", "").startswith("600")


def test_in_dialog_requests_of_unknown_dialogs_get_481(lab):
    ua = UserAgent("frank", "pchat.test", lab.sip_server())
    try:
        d = Dialog(ua, "sip:pchat@pchat.test")
        d.remote_tag = "nosuchtag"
        for method in ("INFO", "UPDATE", "BYE"):
            resp = d.send(method, body="<xccos/>" if method == "INFO" else b"")
            assert resp.status == 481, (method, resp)
        # and outside any dialog (no To-tag) as well
        d.remote_tag = None
        assert d.send("INFO", body="<xccos/>").status == 481
    finally:
        ua.close()


def test_identity_must_be_a_sip_user(lab):
    ua = UserAgent("x", "pchat.test", lab.sip_server())
    try:
        d = Dialog(ua, "sip:pchat@pchat.test")
        ua.uri = "tel:+15551234"  # From is no SIP user: no identity for the session
        assert d.invite().status == 403
    finally:
        ua.close()


def test_bye_ends_the_session_and_parts_its_rooms(lab, clients):
    room = lab.env["PCHAT_DEMO_ROOM"]
    a, b = clients("alice"), clients("bob", "tcp")
    a.login()
    b.login()
    a.join(room)
    b.join(room)
    assert b.bye().status == 200
    notice = a.wait_notice("ntc:part")
    assert notice is not None and "sip:bob@pchat.test" in notice.info.text
    assert wait_sessions(lab, 1)
    # the session is gone: its dialog is unknown now
    assert b.dialog.info('<xccos envid="1"><cmd id="cmd:requri"/></xccos>').status == 481


def test_client_that_stops_answering_is_dropped(lab, clients):
    """A server INFO that is never answered times out (408): the session ends and the other
    participants see the user leave."""
    room = lab.env["PCHAT_DEMO_ROOM"]
    a, b = clients("alice"), clients("bob")
    a.login()
    b.login()
    a.join(room)
    b.join(room)
    b.ua.answer = None  # bob's client hangs
    assert a.post(room, "are you there?").status == 200
    notice = a.wait_notice("ntc:part", timeout=15)
    assert notice is not None and "sip:bob@pchat.test" in notice.info.text
    assert wait_sessions(lab, 1)


@pytest.mark.parametrize("code", [481, 487])
def test_info_answered_481_or_487_ends_the_session(lab, clients, code):
    room = lab.env["PCHAT_DEMO_ROOM"]
    a, b = clients("alice"), clients("bob")
    a.login()
    b.login()
    a.join(room)
    b.join(room)
    b.ua.answer = code
    a.post(room, "stale session")
    notice = a.wait_notice("ntc:part", timeout=10)
    assert notice is not None and "sip:bob@pchat.test" in notice.info.text
    assert wait_sessions(lab, 1)


def test_provisioning_subscribe_returns_the_pool_uri(lab):
    ua = UserAgent("alice", "pchat.test", lab.sip_server(), "tcp")
    try:
        resp = ua.simple("SUBSCRIBE", "sip:alice@pchat.test", headers=[
            ("Event", "vnd-microsoft-provisioning-v2"), ("Expires", "0"),
            ("Accept", "application/vnd-microsoft-roaming-provisioning-v2+xml"),
            ("Content-Type", "application/vnd-microsoft-roaming-provisioningv2+xml")],
            body='<provisioningGroupList xmlns="http://schemas.microsoft.com/2006/09/sip/'
                 'provisioninggroupslist"><provisioningGroup name="persistentChatConfiguration"/>'
                 '</provisioningGroupList>')
        assert resp.status == 200
        assert resp.get("expires") == "0"
        assert resp.get("content-type") == \
            "application/vnd-microsoft-roaming-provisioning-v2+xml"
        assert 'provisionGroup name="persistentChatConfiguration"' in resp.text
        assert '<property name="EnablePersistentChat">true</property>' in resp.text
        assert ('<property name="DefaultPersistentChatPoolUri">%s</property>'
                % lab.env["PCHAT_POOL_URI"]) in resp.text
        # other SUBSCRIBEs are not the module's business
        other = ua.simple("SUBSCRIBE", "sip:bob@pchat.test", headers=[("Event", "presence")])
        assert other.status == 404
    finally:
        ua.close()


def hijacker_requests(victim, proto):
    """The victim's dialog (Call-ID and both tags) replayed from another socket: (the BYE's
    answer, the INFO's answer)."""
    thief = UserAgent("mallory", "pchat.test", victim.ua.server, proto)
    try:
        d = Dialog(thief, victim.dialog.target_uri)
        d.call_id, d.local_tag = victim.dialog.call_id, victim.dialog.local_tag
        d.remote_tag, d.remote_target = victim.dialog.remote_tag, victim.dialog.remote_target
        d.cseq = 1000
        body = ('<xccos ver="1" envid="9" xmlns="urn:parlano:xml:ns:xccos"><cmd id="cmd:requri" '
                'seqid="1"><data/></cmd></xccos>')
        return d.info(body), d.bye()
    finally:
        thief.close()


@pytest.mark.parametrize("proto", ["udp", "tcp"])
def test_a_session_answers_only_its_own_client(lab, clients, proto):
    """Knowing a session's Call-ID and tags is not enough: its requests must come from where its
    client is connected (the UDP address and port, the TCP connection); from elsewhere they get
    481 and the session goes on."""
    victim = clients("alice", proto)
    victim.login()
    mark = lab.log_mark()
    info, bye = hijacker_requests(victim, proto)
    assert info is not None and info.status == 481
    assert bye is not None and bye.status == 481
    assert wait_for(lambda: "connected elsewhere" in lab.log(since=mark))
    assert resp_code(victim.command("requri")) == 200
    assert wait_sessions(lab, 1)


def test_session_tags_are_random_128_bit(lab, clients):
    """The server's To-tag finds the session; it is 128 random bits, not tm's predictable tag."""
    tags = set()
    for user in ("alice", "bob", "carol"):
        c = clients(user)
        tag = c.login().tag("to")
        assert re.fullmatch(r"[0-9a-f]{32}", tag), tag
        tags.add(tag)
    assert len(tags) == 3


def test_a_policy_the_database_refuses_to_read_is_a_server_error(lab, clients):
    """The database answers but fails the policy query: INVITE, provisioning and pchat.policy.get
    answer 500, not 503 with Retry-After (which says the database is unreachable)."""
    lab.sql("RENAME TABLE pchat_policy TO pchat_policy_away")
    ua = UserAgent("alice", "pchat.test", lab.sip_server(), "tcp")
    try:
        assert clients("alice").login(expect=500).get("retry-after") is None
        resp = ua.simple("SUBSCRIBE", "sip:alice@pchat.test", headers=[
            ("Event", "vnd-microsoft-provisioning-v2"), ("Expires", "0")])
        assert resp.status == 500 and resp.get("retry-after") is None
        out = lab.kamcmd("pchat.policy.get", "sip:alice@pchat.test", check=False)
        assert out.startswith("error: 500"), out
    finally:
        ua.close()
        lab.sql("RENAME TABLE pchat_policy_away TO pchat_policy")
    clients("alice").login()
