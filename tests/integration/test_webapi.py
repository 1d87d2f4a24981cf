"""The room-management JSON API (/api/v1) over real HTTPS, verified against the lab CA: sign-in
(cookie attributes, one answer for wrong passwords and unknown users, logout, forged cookies),
throttling per user and per address, CSRF, the users' room endpoints (create, names and their
case, scope of principals, versions and stale changes, rights, delete, moves between
categories), JSON handling (HTML kept as text, bad bodies and types, size limit, unknown
members), API tokens, the administrators' endpoints with moderation seen by a chat client, the
chat's view of rooms made on the API (search, join, getserverinfo, provisioning) and single
sign-on from a trusted proxy.

One lab serves every test: sign-in failures come from addresses of their own (127.0.0.x), so
the address counters they raise never block the other tests' sign-ins from 127.0.0.1."""
import http.client
import json
import ssl
import time
import uuid
from http.cookies import SimpleCookie
from urllib.parse import quote

import pytest

from lab import TEST_DEFINES, start_lab
from sip import UserAgent
from xccos import Q, resp_code

MAX_FAILURES = 3
BLOCK = 4
SSO_PROXY = "127.0.0.2"
LAB_CATEGORY = "Lab"
BOARD = "5e1f0a3c-7b2d-4c8e-9a61-0d2f4b6c8e03"  # secret; alice's only
REMOVED = "This message was removed by a moderator."


@pytest.fixture(scope="module")
def lab(request):
    return start_lab(request, defines=TEST_DEFINES + (
        " PCHAT_WEB_LOGIN_MAX_FAILURES=%d PCHAT_WEB_LOGIN_BLOCK=%d"
        ' PCHAT_WEB_SSO_HEADER="X-Remote-User" PCHAT_WEB_SSO_PROXIES="%s"'
        % (MAX_FAILURES, BLOCK, SSO_PROXY)))


class Reply:
    def __init__(self, resp):
        self.status = resp.status
        self.headers = {k.lower(): v for k, v in resp.getheaders()}
        self.cookies = resp.msg.get_all("Set-Cookie") or []
        self.body = resp.read()

    @property
    def json(self):
        return json.loads(self.body)

    @property
    def error(self):
        return self.json.get("error")

    def __repr__(self):
        return "%d %s" % (self.status, self.body[:300])


class Api:
    """One caller of the API: the session cookie and CSRF token it was given (sent with every
    request), or an API token; requests come from the address source."""

    def __init__(self, lab, source="127.0.0.1", token=None):
        self.lab, self.source, self.token = lab, source, token
        self.cookie = self.csrf = None

    def request(self, method, path, body=None, headers=None, content_type="application/json",
                csrf=True):
        sent = {}
        if body is not None:
            sent["Content-Type"] = content_type
            if not isinstance(body, (bytes, str)):
                body = json.dumps(body)
        if self.cookie:
            sent["Cookie"] = "pchat_session=" + self.cookie
        if self.csrf and csrf:
            sent["X-CSRF-Token"] = self.csrf
        if self.token:
            sent["Authorization"] = "Bearer " + self.token
        sent.update(headers or {})
        conn = http.client.HTTPSConnection(
            "127.0.0.1", self.lab.https_ports[0], timeout=10, source_address=(self.source, 0),
            context=ssl.create_default_context(cafile=self.lab.env["PCHAT_TLS_CA"]))
        try:
            conn.request(method, "/api/v1" + path, body=body, headers=sent)
            reply = Reply(conn.getresponse())
        finally:
            conn.close()
        for header in reply.cookies:
            morsel = SimpleCookie(header).get("pchat_session")
            if morsel is not None:
                self.cookie = morsel.value or None
        return reply

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def login(self, user, password):
        reply = self.post("/login", {"user": user, "password": password})
        if reply.status == 200:
            self.csrf = reply.json["csrf"]
        return reply


def uri(lab, user):
    return "sip:%s@%s" % (user, lab.env["PCHAT_DOMAIN"])


def signed_in(lab, user):
    api = Api(lab)
    reply = api.login(user, lab.passwords[user])
    assert reply.status == 200, reply
    return api


@pytest.fixture(scope="module")
def alice(lab):
    return signed_in(lab, "alice")


@pytest.fixture(scope="module")
def bob(lab):
    return signed_in(lab, "bob")


@pytest.fixture(scope="module")
def carol(lab):
    return signed_in(lab, "carol")


def unique(label="Web room"):
    return "%s %s" % (label, uuid.uuid4().hex[:8])


def create(api, lab, **fields):
    """A room alice (or api's user) creates in Lab; returns the room as the API shows it."""
    body = dict({"name": unique(), "category": LAB_CATEGORY}, **fields)
    reply = api.post("/rooms", body)
    assert reply.status == 201, reply
    return reply.json


def room_now(api, room):
    reply = api.get("/rooms/" + room["guid"])
    assert reply.status == 200, reply
    return reply.json


def rpc_field(out, name):
    return next(line.split(":", 1)[1].strip() for line in out.splitlines()
                if line.strip().startswith(name + ":"))


# ------------------------------------------------------------------ sign-in


def test_sign_in_sets_a_strict_session_cookie(lab):
    api = Api(lab)
    reply = api.login("alice", lab.passwords["alice"])
    assert reply.status == 200, reply
    me = reply.json
    assert (me["user"], me["admin"], me["via"]) == (uri(lab, "alice"), False, "session")
    assert me["room_management_url"] == lab.env["PCHAT_WEB_URL"] and len(me["csrf"]) >= 32
    assert len(reply.cookies) == 1
    value, *attributes = [a.strip() for a in reply.cookies[0].split(";")]
    assert value.startswith("pchat_session=") and len(value) > len("pchat_session=") + 32
    flags = {a.split("=")[0].lower(): a.partition("=")[2] for a in attributes}
    assert {k: v for k, v in flags.items() if k != "max-age"} == \
        {"httponly": "", "secure": "", "samesite": "Strict", "path": "/"}
    assert int(flags["max-age"]) > 0
    assert api.get("/me").json["user"] == uri(lab, "alice")
    # the user as a bare name, user@domain or a SIP URI
    for name in ("alice@" + lab.env["PCHAT_DOMAIN"], uri(lab, "alice")):
        assert Api(lab).login(name, lab.passwords["alice"]).status == 200


def test_wrong_password_unknown_user_and_other_domain_get_one_answer(lab):
    source = "127.0.0.20"  # these failures count against this address only
    answers = [Api(lab, source).login(user, password) for user, password in (
        ("alice", lab.passwords["alice"] + "x"), ("nobody", "secret"),
        ("alice@other.example", lab.passwords["alice"]))]
    assert [a.status for a in answers] == [401] * 3, answers
    assert {a.body for a in answers} == {answers[0].body}
    assert answers[0].json == {"error": "bad_credentials",
                               "message": "wrong user name or password"}
    assert all(not a.cookies for a in answers)


def test_logout_ends_the_session(lab):
    api = signed_in(lab, "bob")
    old_cookie = api.cookie
    reply = api.post("/logout")
    assert reply.status == 204
    assert any(c.startswith("pchat_session=;") for c in reply.cookies), reply.cookies
    api.cookie = old_cookie  # a client that kept it anyway
    gone = api.get("/me")
    assert (gone.status, gone.error) == (401, "unauthenticated")


def test_an_expired_session_is_refused_whatever_it_was(lab):
    """A session past its end (idle or absolute) is over: 401 saying so, the cookie cleared,
    and a change with its CSRF token is refused too."""
    api = signed_in(lab, "bob")
    csrf = api.get("/me").json["csrf"]
    lab.sql("UPDATE pchat_web_session SET expires = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND "
            "WHERE principal = '%s' ORDER BY created DESC LIMIT 1" % uri(lab, "bob"))
    reply = api.get("/me")
    assert (reply.status, reply.error) == (401, "unauthenticated")
    assert "ended" in reply.json["message"]
    assert any(c.startswith("pchat_session=;") for c in reply.cookies), reply.cookies
    reply = api.post("/rooms", {"name": unique(), "category": "Lab"},
                     headers={"X-CSRF-Token": csrf})
    assert (reply.status, reply.error) == (401, "unauthenticated")


def test_no_session_or_a_forged_cookie_is_unauthenticated(lab):
    reply = Api(lab).get("/rooms")
    assert (reply.status, reply.error) == (401, "unauthenticated")
    for forged in ("A" * 43, "garbage", "x" * 300, "' OR 1=1 --"):
        api = Api(lab)
        api.cookie = forged
        reply = api.get("/me")
        assert (reply.status, reply.error) == (401, "unauthenticated"), forged


# ------------------------------------------------------------------ throttling


def assert_throttled(reply):
    assert (reply.status, reply.error) == (429, "throttled"), reply
    assert 1 <= int(reply.headers["retry-after"]) <= BLOCK
    return int(reply.headers["retry-after"])


def test_a_user_is_blocked_after_too_many_failures(lab):
    """The failures come from different addresses: only carol's own count blocks her."""
    password = lab.passwords["carol"]
    for i in range(MAX_FAILURES):
        assert Api(lab, "127.0.0.%d" % (30 + i)).login("carol", "wrong").status == 401
    fresh = Api(lab, "127.0.0.40")
    wait = assert_throttled(fresh.login("carol", password))
    time.sleep(wait + 0.2)
    assert fresh.login("carol", password).status == 200


def test_an_address_is_blocked_after_too_many_failures(lab):
    source = "127.0.0.41"
    for i in range(MAX_FAILURES):
        assert Api(lab, source).login("unknown%d" % i, "wrong").status == 401
    assert_throttled(Api(lab, source).login("bob", lab.passwords["bob"]))
    # bob himself is not blocked: only the address is
    assert Api(lab, "127.0.0.42").login("bob", lab.passwords["bob"]).status == 200


# ------------------------------------------------------------------ CSRF


def test_changes_need_the_sessions_csrf_token(lab, alice):
    body = {"name": unique("Csrf"), "category": LAB_CATEGORY}
    for token in (None, "x" * 43, alice.csrf[:-1]):
        headers = {"X-CSRF-Token": token} if token else {}
        reply = alice.post("/rooms", body, headers=headers, csrf=False)
        assert (reply.status, reply.error) == (403, "csrf"), reply
    assert alice.get("/rooms/check?name=" + quote(body["name"])).json["available"] is True
    assert alice.get("/rooms", csrf=False).status == 200  # a GET needs none


# ------------------------------------------------------------------ rooms


def test_create_a_room_with_a_member(lab, alice, bob):
    room = create(alice, lab, members=[uri(lab, "bob")])
    assert (room["managers"], room["members"], room["presenters"]) == \
        ([uri(lab, "alice")], [uri(lab, "bob")], [])
    assert (room["version"], room["privacy"], room["category"]["name"]) == (1, "closed", "Lab")
    assert room["uri"] == "ma-chan://%s/%s" % (lab.env["PCHAT_DOMAIN"], room["guid"])
    mine = bob.get("/rooms").json
    assert room["guid"] in [r["guid"] for r in mine["member"]]
    assert room["guid"] not in [r["guid"] for r in mine["managed"]]
    assert room["guid"] in [r["guid"] for r in alice.get("/rooms").json["managed"]]


def test_names_are_unique_whatever_their_case(lab, alice):
    room = create(alice, lab)
    reply = alice.post("/rooms", {"name": room["name"].upper(), "category": LAB_CATEGORY})
    assert (reply.status, reply.error) == (409, "conflict"), reply

    def check(name):
        return alice.get("/rooms/check?name=" + quote(name)).json

    taken = check(room["name"].swapcase())
    assert taken["available"] is False
    assert "guid" not in taken  # taken, but not which room: it may be secret
    assert check(unique())["available"] is True


def test_names_hold_at_most_256_characters(lab, alice):
    long_name = unique("N") + "x" * 246
    assert len(long_name) == 256
    reply = alice.post("/rooms", {"name": long_name + "y", "category": LAB_CATEGORY})
    assert (reply.status, reply.error) == (400, "invalid"), reply
    assert alice.get("/rooms/check?name=" + quote(long_name + "y")).json["available"] is False
    assert create(alice, lab, name=long_name)["name"] == long_name


def test_principals_out_of_scope_are_all_named_and_nothing_is_written(lab, alice, bob):
    room = create(alice, lab, members=[uri(lab, "bob")])
    bad = ["sip:eve@other.example", "sip:mallory@elsewhere.example"]
    reply = alice.put("/rooms/" + room["guid"], {
        "version": room["version"], "description": "changed",
        "members": [bad[0], uri(lab, "carol"), bad[1]]})
    assert (reply.status, reply.error) == (400, "scope"), reply
    assert sorted(p["principal"] for p in reply.json["principals"]) == sorted(bad)
    assert all(p["reason"] for p in reply.json["principals"])
    assert room_now(alice, room) == room
    # the page's "check names" step says the same
    checked = alice.post("/principals/check", {"category": LAB_CATEGORY,
                                               "principals": bad + [uri(lab, "carol")]}).json
    assert checked["checked"] == 3
    assert sorted(p["principal"] for p in checked["refused"]) == sorted(bad)
    # only those who may know the category's scope test names against it: not bob...
    reply = bob.post("/principals/check", {"category": LAB_CATEGORY, "principals": bad})
    assert (reply.status, reply.error) == (403, "forbidden"), reply
    # ...unless he manages a room in it, named with it
    managed = create(alice, lab, managers=[uri(lab, "alice"), uri(lab, "bob")])
    reply = bob.post("/principals/check", {"category": LAB_CATEGORY, "principals": bad,
                                           "room": managed["guid"]})
    assert reply.status == 200 and len(reply.json["refused"]) == 2, reply
    # on creation too: no room
    name = unique()
    reply = alice.post("/rooms", {"name": name, "category": LAB_CATEGORY, "members": bad})
    assert (reply.status, reply.error) == (400, "scope"), reply
    assert len(reply.json["principals"]) == 2
    assert lab.sql("SELECT COUNT(*) FROM pchat_room WHERE name = '%s'" % name) == [["0"]]


def test_edits_are_based_on_a_version(lab, alice):
    room = create(alice, lab)
    path = "/rooms/" + room["guid"]
    reply = alice.put(path, {"version": 1, "description": "first"})
    assert reply.status == 200, reply
    assert (reply.json["version"], reply.json["description"]) == (2, "first")
    stale = alice.put(path, {"version": 1, "description": "second"})
    assert (stale.status, stale.error) == (409, "stale"), stale
    assert (stale.json["room"]["version"], stale.json["room"]["description"]) == (2, "first")
    # a change through the RPC commands is a version too
    lab.kamcmd("pchat.room.set", room["guid"], "description=by rpc")
    stale = alice.put(path, {"version": 2, "description": "third"})
    assert (stale.status, stale.error) == (409, "stale"), stale
    assert stale.json["room"]["description"] == "by rpc"
    assert stale.json["room"]["version"] == 3
    assert rpc_field(lab.kamcmd("pchat.room.get", room["guid"]), "description") == "by rpc"


def test_others_may_not_change_see_or_delete(lab, alice, bob):
    room = create(alice, lab, members=[uri(lab, "bob")], privacy="secret")
    path = "/rooms/" + room["guid"]
    reply = bob.put(path, {"version": 1, "name": unique("Taken over")})
    assert (reply.status, reply.error) == (403, "forbidden"), reply
    reply = bob.delete(path + "?version=1")
    assert (reply.status, reply.error) == (403, "forbidden"), reply
    assert room_now(alice, room) == room
    # a secret room without a role in it does not exist for him
    reply = bob.get("/rooms/" + BOARD)
    assert (reply.status, reply.error) == (404, "not_found"), reply
    assert bob.put("/rooms/" + BOARD, {"version": 1, "description": "x"}).status == 404


def test_delete_with_the_right_version(lab, alice):
    room = create(alice, lab)
    path = "/rooms/" + room["guid"]
    stale = alice.delete(path + "?version=7")
    assert (stale.status, stale.error) == (409, "stale"), stale
    reply = alice.delete(path + "?version=1")
    assert reply.status == 204 and reply.body == b""
    assert alice.get(path).status == 404
    assert lab.sql("SELECT COUNT(*) FROM pchat_room WHERE guid = '%s'" % room["guid"]) == [["0"]]


def test_moving_needs_the_creator_right_in_the_target(lab, alice, bob, carol):
    reply = carol.post("/admin/categories", {
        "name": unique("Cat"), "allowed": [lab.env["PCHAT_DOMAIN"]],
        "creators": [uri(lab, "carol")]})
    assert reply.status == 201, reply
    other = reply.json
    room = create(alice, lab, managers=[uri(lab, "alice"), uri(lab, "bob")])
    for api in (alice, bob):  # a creator in Lab only, a manager only
        reply = api.put("/rooms/" + room["guid"], {"version": 1, "category": other["name"]})
        assert (reply.status, reply.error) == (403, "forbidden"), reply
    assert room_now(alice, room) == room
    # carol, the administrator, moves it
    reply = carol.put("/rooms/" + room["guid"], {"version": 1, "category": other["guid"]})
    assert reply.status == 200, reply
    assert (reply.json["category"]["name"], reply.json["version"]) == (other["name"], 2)


# ------------------------------------------------------------------ JSON


def test_html_in_names_is_text(lab, alice):
    name = '<b onmouseover="x()">%s</b><script>alert(1)</script>' % uuid.uuid4().hex[:8]
    description = "<img src=x onerror=alert('d')> & \"quoted\""
    reply = alice.post("/rooms", {"name": name, "category": LAB_CATEGORY,
                                  "description": description})
    assert reply.status == 201, reply
    assert reply.headers["content-type"] == "application/json; charset=utf-8"
    assert b"<" not in reply.body and b">" not in reply.body
    assert b"\\u003c" in reply.body
    assert (reply.json["name"], reply.json["description"]) == (name, description)
    listed = [r for r in alice.get("/rooms").json["managed"] if r["guid"] == reply.json["guid"]]
    assert [(r["name"], r["description"]) for r in listed] == [(name, description)]


@pytest.mark.parametrize("body, content_type, status, error", [
    ("{not json", "application/json", 400, "invalid"),
    ('["a list"]', "application/json", 400, "invalid"),
    ('{"name": "x"}', "text/plain", 415, "unsupported_media_type"),
    ('{"name": "x"}', "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
], ids=["not-json", "not-an-object", "text", "form"])
def test_bodies_that_are_refused(lab, alice, body, content_type, status, error):
    before = lab.sql("SELECT COUNT(*) FROM pchat_room")
    reply = alice.post("/rooms", body, content_type=content_type)
    assert (reply.status, reply.error) == (status, error), reply
    assert lab.sql("SELECT COUNT(*) FROM pchat_room") == before


def header_lines(lab, method, path, headers, source="127.0.0.1"):
    """The reply to a request of exactly these header lines (a name may come twice), without
    sending any body."""
    conn = http.client.HTTPSConnection(
        "127.0.0.1", lab.https_ports[0], timeout=10, source_address=(source, 0),
        context=ssl.create_default_context(cafile=lab.env["PCHAT_TLS_CA"]))
    try:
        conn.putrequest(method, "/api/v1" + path)
        for name, value in headers:
            conn.putheader(name, value)
        conn.endheaders()
        return Reply(conn.getresponse())
    finally:
        conn.close()


def test_a_body_over_64k_is_refused_before_it_is_read(lab, alice):
    """Its Content-Length is enough: 413 comes before the body is sent (a client sending it
    anyway could have the answer cut by the connection's reset)."""
    reply = header_lines(lab, "POST", "/rooms", [
        ("Content-Type", "application/json"), ("Content-Length", "66000"),
        ("Cookie", "pchat_session=" + alice.cookie), ("X-CSRF-Token", alice.csrf)])
    assert (reply.status, reply.json) == (413, {"error": "body too large"})


def test_unknown_members_are_named(lab, alice):
    reply = alice.post("/rooms", {"name": unique(), "category": LAB_CATEGORY, "colour": "red"})
    assert (reply.status, reply.error, reply.json["field"]) == (400, "invalid", "colour")
    room = create(alice, lab)
    reply = alice.put("/rooms/" + room["guid"], {"version": 1, "managers": [uri(lab, "bob")],
                                                 "members": "bob"})
    assert (reply.status, reply.error, reply.json["field"]) == (400, "invalid", "members")
    assert room_now(alice, room) == room


# ------------------------------------------------------------------ API tokens


def test_api_tokens(lab):
    issued = lab.jsonrpc("pchat.web.token.issue", uri(lab, "alice"), "test", 1)["result"]
    api = Api(lab, token=issued["token"])
    assert api.get("/me").json["via"] == "token"
    assert api.get("/rooms").status == 200
    reply = api.post("/rooms", {"name": unique("Token"), "category": LAB_CATEGORY})
    assert reply.status == 201, reply  # no CSRF token with an API token
    assert reply.json["managers"] == [uri(lab, "alice")]
    assert lab.jsonrpc("pchat.web.token.revoke", issued["id"])["result"] == "revoked"
    reply = api.get("/rooms")
    assert (reply.status, reply.error) == (401, "unauthenticated")
    wrong = Api(lab, token=issued["token"][:-2] + "xx").get("/rooms")
    assert (wrong.status, wrong.error) == (401, "unauthenticated")


# ------------------------------------------------------------------ administration


def test_admin_categories_for_administrators_only(lab, bob, carol):
    reply = carol.get("/admin/categories")
    assert reply.status == 200, reply
    cat = next(c for c in reply.json["categories"] if c["name"] == LAB_CATEGORY)
    assert cat["allowed"] == [lab.env["PCHAT_DOMAIN"]]
    assert cat["creators"] == [uri(lab, "alice")] and cat["denied"] == []
    assert carol.get("/me").json["admin"] is True
    # the three lists whatever order the database keeps the roles in
    lists = {"allowed": [lab.env["PCHAT_DOMAIN"]], "denied": [uri(lab, "bob")],
             "creators": [uri(lab, "alice"), uri(lab, "carol")]}
    reply = carol.post("/admin/categories", dict(name=unique("Walled"), **lists))
    assert reply.status == 201, reply
    assert {k: reply.json[k] for k in lists} == lists
    listed = next(c for c in carol.get("/admin/categories").json["categories"]
                  if c["guid"] == reply.json["guid"])
    assert {k: listed[k] for k in lists} == lists
    for path in ("/admin/categories", "/admin/rooms", "/admin/settings"):
        reply = bob.get(path)
        assert (reply.status, reply.error) == (403, "forbidden"), path


def test_moderation_replaces_a_message_in_backchat(lab, clients, carol):
    room = lab.new_room()
    a = clients("alice")
    assert resp_code(a.join(room)) == 200
    word = "plan" + uuid.uuid4().hex[:6]
    for text in ("before", "the %s is <secret>" % word, "after"):
        assert a.post(room, text).status == 200
    found = carol.get("/admin/messages?room=%s&keyword=%s" % (quote(room), word))
    assert found.status == 200, found
    assert [(m["author"], m["moderated"]) for m in found.json["messages"]] == \
        [(uri(lab, "alice"), False)]
    assert word in found.json["messages"][0]["text"]
    reply = carol.post("/admin/messages/replace", {"room": room, "keyword": word})
    assert (reply.status, reply.json) == (200, {"replaced": 1}), reply
    _, msgs = clients("bob").backchat(room, 5)
    assert [m.find(Q + "chat").text for m in msgs] == ["before", REMOVED, "after"]


# ------------------------------------------------------------------ the chat's view


def test_a_room_made_on_the_api_is_found_and_joined_in_the_chat(lab, alice, clients):
    room = create(alice, lab, members=[uri(lab, "bob")])
    b = clients("bob")
    rpl = b.command("chansrch", '<qib qtype="BYNAME" criteria="%s" extended="false"/>'
                    % room["name"])
    assert room["uri"] in {ch.get("uri") for ch in rpl.root.iter(Q + "chanib")}
    assert resp_code(b.join(room["uri"])) == 200
    assert b.post(room["uri"], "hello from the web's room").status == 200


def test_clients_learn_the_pages_address(lab, clients):
    sib = clients("bob").command("getserverinfo").root.find(
        Q + "rpl/" + Q + "data/" + Q + "sib")
    assert sib.get("roomManagementUrl") == lab.env["PCHAT_WEB_URL"]
    ua = UserAgent("bob", lab.env["PCHAT_DOMAIN"], lab.sip_server(), "tcp")
    try:
        resp = ua.provisioning()
    finally:
        ua.close()
    assert resp.status == 200
    assert ('<property name="PersistentChatWebManagerUriInt">%s</property>'
            % lab.env["PCHAT_WEB_URL"]) in resp.text


# ------------------------------------------------------------------ single sign-on


def test_single_sign_on_from_the_trusted_proxy_only(lab):
    proxy = Api(lab, source=SSO_PROXY)
    reply = proxy.get("/me", headers={"X-Remote-User": "bob"})
    assert reply.status == 200, reply
    assert (reply.json["user"], reply.json["via"]) == (uri(lab, "bob"), "sso")
    assert any(c.startswith("pchat_session=") and "HttpOnly" in c for c in reply.cookies)
    assert proxy.cookie
    # the session it made serves on its own, with its CSRF token
    browser = Api(lab)
    browser.cookie, browser.csrf = proxy.cookie, reply.json["csrf"]
    assert browser.get("/me").json["user"] == uri(lab, "bob")
    # the header may name the user as user@domain too
    reply = Api(lab, source=SSO_PROXY).get(
        "/me", headers={"X-Remote-User": "carol@" + lab.env["PCHAT_DOMAIN"]})
    assert (reply.status, reply.json.get("user")) == (200, uri(lab, "carol")), reply
    # a proxy that adds its header to the client's instead of replacing it is not believed
    reply = header_lines(lab, "GET", "/me", [("X-Remote-User", "carol"), ("X-Remote-User", "bob")],
                         source=SSO_PROXY)
    assert (reply.status, reply.error) == (401, "unauthenticated")
    # anyone else's header is ignored
    reply = Api(lab).get("/me", headers={"X-Remote-User": "bob"})
    assert (reply.status, reply.error) == (401, "unauthenticated")
    reply = Api(lab).get("/me", headers={"X-Remote-User": "carol"})
    assert reply.status == 401
