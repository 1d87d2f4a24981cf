"""Routing in Lua (KEMI): a node of scripts/lab up --routing lua routes through
kamailio-cfg/pchat.lua and the module's KEMI exports (KSR.pchat.pchat_handle(),
KSR.pchat.pchat_provision()). A short tour of the chat service, JSON-RPC over HTTP and digest
authentication; `make test-kemi` runs the core chat suites through Lua as well."""
import time

import pytest

from lab import start_lab, wait_for
from sip import UserAgent
from xccos import ChatClient, post_text, resp_code

@pytest.fixture(scope="module")
def lab(request):
    """One node routing through Lua, loopback authentication."""
    return start_lab(request, routing="lua")


def test_the_node_says_it_routes_through_lua(lab):
    assert lab.env["PCHAT_ROUTING"] == "lua"
    log = lab.log()
    assert "pchat: routing through Lua (KEMI), script " in log
    assert "kamailio-cfg/pchat.lua" in log
    assert "PCHAT_AUTH_LOOPBACK IS ON" in log


def test_session_provisioning_join_post_backchat_bye(lab, clients, room):
    ua = UserAgent("alice", "pchat.test", lab.sip_server(), "tcp")
    try:
        resp = ua.provisioning()
        assert resp.status == 200
        assert ('<property name="DefaultPersistentChatPoolUri">%s</property>'
                % lab.env["PCHAT_POOL_URI"]) in resp.text
    finally:
        ua.close()
    a, b = clients("alice"), clients("bob", "tcp")
    assert wait_for(lambda: lab.stat("sessions") == 2)
    assert resp_code(a.join(room)) == 200
    assert resp_code(b.join(room)) == 200
    assert a.post(room, "hello through Lua").status == 200
    for who in (a, b):
        got = who.wait_posts(1)
        assert [post_text(p)[1:3] for p in got] == [("sip:alice@pchat.test", "hello through Lua")]
    _, msgs = b.backchat(room)
    assert [m.get("author") for m in msgs] == ["sip:alice@pchat.test"]
    assert a.bye().status == 200
    assert b.bye().status == 200
    assert wait_for(lambda: lab.stat("sessions") == 0)


def test_requests_not_for_the_chat_service(lab):
    ua = UserAgent("carol", "pchat.test", lab.sip_server(), "udp")
    try:
        # the script's own log line (through KEMI, not a cfg xlog) shows it routed the request
        assert ua.simple("OPTIONS", headers=[("Expires", "soon")]).status == 400
        assert wait_for(lambda: "sr_kemi_core_warn(): malformed request OPTIONS from 127.0.0.1:"
                        in lab.log())
        reg = ua.simple("REGISTER", "sip:pchat.test")
        assert reg.status == 200
        assert reg.get("supported") == "msrtc-event-categories"
        assert reg.get("allow-events") == "vnd-microsoft-provisioning-v2"
        assert ua.simple("OPTIONS").status == 200
        assert ua.simple("MESSAGE", "sip:bob@pchat.test").status == 404
    finally:
        ua.close()


def test_json_rpc_over_http_needs_the_token(lab):
    status, reply = lab.http_rpc("pchat.status")
    assert status == 200 and "result" in reply
    assert lab.http_rpc("pchat.status", token=False)[0] == 403
    assert lab.http_rpc("pchat.status", token="x" * 32)[0] == 403
    assert lab.http_rpc("pchat.status", content_type="text/plain")[0] == 415
    assert lab.http_rpc("pchat.status", headers=[("Origin", "http://example.com")])[0] == 403


class TestDigestThroughLua:
    """One node, --auth digest, routing through Lua: KEMI's auth_check() challenges a REGISTER
    with 401 and other requests with 407 (the native routing: 401 for all)."""

    @pytest.fixture(scope="class")
    def lab(self, request):
        return start_lab(request, tag="digest", auth="digest", routing="lua")

    def test_right_password_chats_as_the_authenticated_user(self, lab):
        c = ChatClient(lab.sip_server(), "bob", password=lab.passwords["bob"])
        try:
            c.login()
            assert [r.status for r in c.ua.challenges] == [407]  # Proxy-Authorization
            room = lab.new_room()
            assert resp_code(c.join(room)) == 200
            text = "digest through Lua %s" % time.time()
            assert c.post(room, text).status == 200
            assert post_text(c.wait_posts(1)[0])[1:3] == ("sip:bob@pchat.test", text)
            assert c.bye().status == 200
        finally:
            c.close()

    def test_wrong_password_and_another_users_credentials_are_refused(self, lab):
        c = ChatClient(lab.sip_server(), "alice", password="not-the-password")
        try:
            assert c.login(expect=407).status == 407
        finally:
            c.close()
        assert "sr_kemi_core_notice(): pchat: INVITE from 127.0.0.1:" in lab.log()
        assert "digest authentication of 'alice' failed (auth_db code -2)" in lab.log()
        c = ChatClient(lab.sip_server(), "alice", password=lab.passwords["bob"], auth_user="bob")
        try:
            c.login(expect=403)
        finally:
            c.close()
        assert "refused with 403: authenticated as bob, which is not the From" in lab.log()
