"""The module loads into Debian's Kamailio, answers its RPCs, and the lab front end answers SIP
over UDP and TCP the way Lync-family clients need."""
import os
import re

import pytest

from lab import TOP, wait_for
from sip import UserAgent


def test_status_over_kamcmd(lab):
    out = lab.kamcmd("pchat.status")
    assert re.search(r"version: \d+\.\d+\.\d+", out)
    assert "domain: pchat.test" in out
    assert "pool_uri: sip:pchat@pchat.test" in out
    mysql, redis = out.split("mysql: {")[1].split("}")[0], out.split("redis: {")[1].split("}")[0]
    assert "state: up" in mysql and "MariaDB" in mysql
    assert "state: up" in redis and re.search(r"server: \d+\.\d+", redis)
    assert re.search(r"sessions: 0", out)


def test_status_over_jsonrpc(lab):
    """What an administration tool sends: POST /RPC, application/json, the bearer token."""
    status, reply = lab.http_rpc("pchat.status")
    assert status == 200, reply
    assert reply["id"] == 1
    assert reply["result"]["mysql"]["state"] == "up"
    assert reply["result"]["redis"]["state"] == "up"


def stored_setting(lab, name):
    return lab.sql("SELECT value FROM pchat_config WHERE name = '%s'" % name)


@pytest.mark.parametrize("what, kw, status", [
    ("no token", {"token": False}, 403),
    ("a wrong token", {"token": "0123456789abcdef0123456789abcdef"}, 403),
    ("a web page's simple request", {"token": False, "content_type": "text/plain"}, 403),
    ("text/plain", {"content_type": "text/plain"}, 415),
    ("form data", {"content_type": "application/x-www-form-urlencoded"}, 415),
    ("an Origin", {"headers": [("Origin", "http://attacker.example")]}, 403),
    ("GET", {"http_method": "GET", "headers": [("Content-Length", "0")]}, 403),
    ("another path", {"path": "/RPC/../admin"}, 403),
])
def test_jsonrpc_refused_without_token_and_json(lab, what, kw, status):
    """A web page in a local browser cannot drive the admin RPCs: without the bearer token and
    Content-Type: application/json (or from a page, or not POST /RPC) no RPC runs."""
    mark = lab.log_mark()
    got, text = lab.http_rpc("pchat.config.set", "participant_update_limit", "151", **kw)
    assert got == status, "%s: %s %s" % (what, got, text)
    assert "result" not in text and "jsonrpc" not in text
    assert stored_setting(lab, "participant_update_limit") == [], what
    assert wait_for(lambda: re.search(r"NOTICE: .*JSON-RPC.* refused", lab.log(since=mark)))


def test_jsonrpc_with_token_runs_the_rpc(lab):
    try:
        lab.jsonrpc("pchat.config.set", "participant_update_limit", "151")
        assert stored_setting(lab, "participant_update_limit") == [["151"]]
    finally:
        lab.kamcmd("pchat.config.unset", "participant_update_limit", check=False)


def test_lab_announces_that_it_trusts_loopback_clients(lab):
    """The lab's default authentication (lab only) says so loudly at start."""
    assert lab.env["PCHAT_AUTH"] == "loopback"
    assert lab.env["PCHAT_TRUSTED_PEER"] == ""
    log = lab.log()
    assert re.search(r"WARNING: .*PCHAT_AUTH_LOOPBACK IS ON: every loopback client is trusted", log)
    assert "NO AUTHENTICATION MODE" not in log


def test_module_statistics_are_registered(lab):
    out = lab.kamcmd("stats.get_statistics", "pchat:")
    assert "pchat:" in out


@pytest.mark.parametrize("proto", ["udp", "tcp"])
def test_options_answered(lab, proto):
    ua = UserAgent("alice", "pchat.test", lab.sip_server(), proto)
    try:
        resp = ua.simple("OPTIONS", "sip:127.0.0.1:%d" % lab.sip_ports[0])
        assert resp is not None and resp.status == 200
    finally:
        ua.close()


@pytest.mark.parametrize("proto", ["udp", "tcp"])
def test_register_answered_as_lync_clients_need(lab, proto):
    ua = UserAgent("bob", "pchat.test", lab.sip_server(), proto)
    try:
        resp = ua.simple("REGISTER", "sip:pchat.test", headers=[("Expires", "3600")])
        assert resp is not None and resp.status == 200, resp
        assert int(resp.get("expires")) > 0
        # on its own header line: sipe does not match it inside a comma list
        assert "msrtc-event-categories" in resp.all("supported")
        assert "vnd-microsoft-provisioning-v2" in resp.get("allow-events").split(",")
        assert resp.get("www-authenticate") is None and resp.get("proxy-authenticate") is None
    finally:
        ua.close()


def test_requests_not_for_the_chat_service_pass_through(lab):
    """pchat_handle() returns -1 for other requests, so the lab's own routing answers them."""
    ua = UserAgent("carol", "pchat.test", lab.sip_server(), "udp")
    try:
        resp = ua.simple("MESSAGE", "sip:bob@pchat.test", body="hi")
        assert resp is not None and resp.status == 404
    finally:
        ua.close()


def test_demo_data_covers_every_privacy_and_type(lab):
    rooms = lab.sql("SELECT privacy, type, disabled FROM pchat_room")
    combos = {(p, t) for p, t, d in rooms if d == "0"}
    assert combos == {(p, t) for p in ("open", "closed", "secret")
                      for t in ("normal", "auditorium")}
    demo_guid = lab.env["PCHAT_DEMO_ROOM"].rsplit("/", 1)[1]
    assert lab.sql("SELECT privacy, disabled FROM pchat_room WHERE guid='%s'" % demo_guid) == \
        [["open", "0"]]


def test_schema_versions_recorded(lab):
    versions = dict(lab.sql("SELECT table_name, table_version FROM version"))
    migrations = sorted(os.listdir(os.path.join(TOP, "db", "mysql")))
    assert versions["pchat_schema"] == str(int(migrations[-1][:3]))
    for table in ("pchat_category", "pchat_room_trigram"):
        assert versions[table] == "1"
    # migration 008 gave every post an id (the lookup of a COMMIT that went unanswered)
    assert versions["pchat_message"] == "2"
    # migration 002 moved last_seq out of it, 007 gave it a version
    assert versions["pchat_room"] == "3"
