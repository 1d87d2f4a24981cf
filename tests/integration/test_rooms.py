"""The Lync room model end to end: the authorization matrix (privacy x role x command), search
visibility and query types, invitations, preferences, moderation, the administration RPCs, and
changes reaching connected clients without a restart."""
import re
import time
import uuid

import pytest

from sip import UserAgent
from xccos import Q, ChatClient, resp_code


def rpc(lab, *args, ok=True):
    out = lab.kamcmd(*args, check=False)
    if ok:
        assert not out.startswith("error"), "%s: %s" % (args, out)
    return out


def field(out, name):
    m = re.search(r"^\s*%s: (.*)$" % name, out, re.M)
    return m.group(1) if m else None


@pytest.fixture(scope="module")
def matrix(lab):
    """A category allowing pchat.test but denying one user; for each privacy a normal room and
    an auditorium, each with a member, a presenter and a manager (and the denied user as a
    member: denied beats every role)."""
    tag = uuid.uuid4().hex[:6]
    cat = "Matrix " + tag
    rpc(lab, "pchat.category.add", cat, "chat_history=yes")
    rpc(lab, "pchat.category.allowed.add", cat, "pchat.test")
    rooms = {}
    for privacy in ("open", "closed", "secret"):
        for kind in ("normal", "auditorium"):
            name = "%s %s %s" % (privacy, kind, tag)
            out = rpc(lab, "pchat.room.add", name, cat, "privacy=" + privacy, "type=" + kind)
            rooms[(privacy, kind)] = field(out, "uri")
            rpc(lab, "pchat.room.members.add", name, "sip:mem@pchat.test",
                "sip:denied@pchat.test")
            rpc(lab, "pchat.room.presenters.add", name, "sip:pres@pchat.test")
            rpc(lab, "pchat.room.managers.add", name, "sip:mgr@pchat.test")
    # denied after the rooms got their members: a member whom the category then denies
    rpc(lab, "pchat.category.denied.add", cat, "sip:denied@pchat.test")
    return {"tag": tag, "category": cat, "rooms": rooms}


ROLES = {"none": "nobody", "member": "mem", "presenter": "pres", "manager": "mgr",
         "denied": "denied"}
# (see, join and read, post in a normal room, post in an auditorium) per privacy and role
EXPECTED = {
    "open": {"none": "YYYN", "member": "YYYN", "presenter": "YYYY", "manager": "YYYN",
             "denied": "NNNN"},
    "closed": {"none": "YNNN", "member": "YYYN", "presenter": "YYYY", "manager": "YYYN",
               "denied": "NNNN"},
    "secret": {"none": "NNNN", "member": "YYYN", "presenter": "YYYY", "manager": "YYYN",
               "denied": "NNNN"},
}


@pytest.mark.parametrize("role", sorted(ROLES))
def test_authorization_matrix(lab, matrix, role):
    c = ChatClient(lab.sip_server(), ROLES[role])
    try:
        c.login()
        rpl = c.command("chansrch", '<qib qtype="BYNAME" criteria="%s" extended="false"/>'
                        % matrix["tag"])
        seen = {ch.get("uri") for ch in rpl.root.iter(Q + "chanib")}
        for privacy, expect in EXPECTED.items():
            e = expect[role]
            for kind, post_ok in (("normal", e[2]), ("auditorium", e[3])):
                room = matrix["rooms"][(privacy, kind)]
                what = "%s %s as %s" % (privacy, kind, role)
                assert (room in seen) == (e[0] == "Y"), "search: " + what
                joined = resp_code(c.join(room)) == 200
                assert joined == (e[1] == "Y"), "join: " + what
                parts, _ = c.backchat(room, 5)
                assert (resp_code(parts[0]) == 200) == (e[1] == "Y"), "bccontext: " + what
                status = c.post(room, "hello from " + role).status
                assert (status == 200) == (post_ok == "Y"), "post: %s got %s" % (what, status)
                if not joined:
                    assert status == 403
    finally:
        c.close()


def test_refusals_are_readable(lab, matrix):
    c = ChatClient(lab.sip_server(), "nobody")
    try:
        c.login()
        rpl = c.join(matrix["rooms"][("closed", "normal")])
        assert resp_code(rpl) == 403
        assert rpl.root.find(Q + "rpl/" + Q + "resp").text == \
            "only members of this room may enter it"
        rpl = c.join(matrix["rooms"][("secret", "normal")])  # does not exist for nobody
        assert resp_code(rpl) == 404
        d = ChatClient(lab.sip_server(), "denied")
        d.login()
        rpl = d.join(matrix["rooms"][("open", "normal")])
        assert rpl.root.find(Q + "rpl/" + Q + "resp").text == \
            "you are not allowed in this room's category"
        d.close()
    finally:
        c.close()


def test_search_kinds_and_visibility(lab, matrix):
    tag = matrix["tag"]
    c = ChatClient(lab.sip_server(), "mem")
    try:
        c.login()
        rpc(lab, "pchat.room.set", "open normal " + tag, "description=Quarterly numbers " + tag)
        found = lambda qtype, crit: [ch.get("name") for ch in c.command(  # noqa: E731
            "chansrch", '<qib qtype="%s" criteria="%s"/>' % (qtype, crit)).root.iter(
                Q + "chanib")]
        assert found("BYDESC", "quarterly NUMBERS " + tag) == ["open normal " + tag]
        assert "secret auditorium " + tag in found("BYMEMBER", "sip:mem@pchat.test")
        assert found("BYMANAGER", "sip:mgr@pchat.test") == sorted(
            "%s %s %s" % (p, k, tag) for p in ("open", "closed", "secret")
            for k in ("auditorium", "normal"))
        # case-insensitive substring (trigram path), a short text, wildcards taken literally
        assert len(found("BYNAME", "SECRET NORMAL " + tag.upper())) == 1
        assert "open normal " + tag in found("BYNAME", "n n")
        assert found("BYNAME", "%" + tag) == []
        rpl = c.command("chansrch", '<qib qtype="BYCOLOUR" criteria="red"/>')
        assert resp_code(rpl) == 501
        # disabled rooms vanish from search
        rpc(lab, "pchat.room.disable", "open normal " + tag)
        assert "open normal " + tag not in found("BYNAME", tag)
        rpc(lab, "pchat.room.enable", "open normal " + tag)
        assert "open normal " + tag in found("BYNAME", tag)
    finally:
        c.close()


def test_room_list_facts_and_associations(lab, matrix):
    tag = matrix["tag"]
    c = ChatClient(lab.sip_server(), "mgr")
    try:
        c.login()
        rpl = c.command("chansrch", '<qib qtype="BYNAME" criteria="closed normal %s"/>' % tag)
        chanib = rpl.root.find(Q + "rpl/" + Q + "data/" + Q + "chanib")
        facts = {e.get("id"): e.text for e in chanib}
        assert facts["urn:parlano:ma:info:visibilty"] == "private"
        assert facts["urn:parlano:ma:prop:logged"] == "true"
        assert facts["urn:parlano:ma:info:ucnt"] == "0"
        managed = c.command("getassociations", '<qib qtype="MANAGER"/>')
        names = [ch.get("name") for ch in managed.root.iter(Q + "chanib")]
        assert len([n for n in names if n.endswith(tag)]) == 6
        member_of = c.command("getassociations", '<qib qtype="MEMBER"/>')
        assert not [ch for ch in member_of.root.iter(Q + "chanib")
                    if ch.get("name").endswith(tag)]
        assert resp_code(c.command("nodespermcreatechild")) == 403
        rpc(lab, "pchat.category.creators.add", matrix["category"], "sip:mgr@pchat.test")
        assert resp_code(c.command("nodespermcreatechild")) == 200
    finally:
        c.close()


def test_invitations_flow(lab):
    tag = uuid.uuid4().hex[:6]
    rpc(lab, "pchat.category.add", "Invites " + tag, "invitations=yes")
    rpc(lab, "pchat.category.allowed.add", "Invites " + tag, "pchat.test")
    c = ChatClient(lab.sip_server(), "invitee" + tag)
    try:
        c.login()
        first = c.command("getinv", '<inv inviteId="0" domain="pchat.test"/>')
        last = max([int(i.get("inviteId")) for i in first.root.iter(Q + "inv")] + [0])
        uri = field(rpc(lab, "pchat.room.add", "Invited " + tag, "Invites " + tag), "uri")
        out = rpc(lab, "pchat.room.members.add", "Invited " + tag,
                  "sip:invitee%s@pchat.test" % tag)
        assert field(out, "invited") == "1"
        rpl = c.command("getinv", '<inv inviteId="%d" domain="pchat.test"/>' % last)
        invs = list(rpl.root.iter(Q + "inv"))
        assert len(invs) == 1 and int(invs[0].get("inviteId")) > last
        assert invs[0].find(Q + "chanib").get("uri") == uri
        newest = invs[0].get("inviteId")
        rpl = c.command("getinv", '<inv inviteId="%s" domain="pchat.test"/>' % newest)
        assert list(rpl.root.iter(Q + "inv")) == []
        # a room whose own setting is off invites nobody
        rpc(lab, "pchat.room.add", "Quiet " + tag, "Invites " + tag, "invitations=off")
        out = rpc(lab, "pchat.room.members.add", "Quiet " + tag, "sip:other@pchat.test")
        assert field(out, "invited") == "0"
    finally:
        c.close()


def test_preferences_round_trip(lab):
    c = ChatClient(lab.sip_server(), "prefs" + uuid.uuid4().hex[:6])
    try:
        c.login()
        label = "contoso.GroupChannels"
        rpl = c.command("getpref", '<pref label="%s" seqid="0" createdefault="false"/>' % label)
        assert resp_code(rpl) == 404
        rpl = c.command("getpref", '<pref label="%s" createdefault="true"/>' % label)
        assert rpl.root.find(Q + "rpl/" + Q + "data/" + Q + "pref").get("seqid") == "1"
        rpl = c.command("setpref", '<pref label="%s" seqid="1" content="Zm9vYmFy"/>' % label)
        pref = rpl.root.find(Q + "rpl/" + Q + "data/" + Q + "pref")
        assert (pref.get("seqid"), pref.get("content")) == ("2", "Zm9vYmFy")
        rpl = c.command("getpref", '<pref label="%s"/>' % label)
        assert rpl.root.find(Q + "rpl/" + Q + "data/" + Q + "pref").get("content") == "Zm9vYmFy"
    finally:
        c.close()


def test_moderation_replaces_content_in_backchat(lab):
    room = lab.env["PCHAT_DEMO_ROOM"]
    a = ChatClient(lab.sip_server(), "alice")
    try:
        a.login()
        a.join(room)
        word = "secret" + uuid.uuid4().hex[:6]
        for text in ("keep me", "the %s plan" % word, "also keep"):
            assert a.post(room, text).status == 200
        _, before = a.backchat(room, 3)
        out = rpc(lab, "pchat.message.remove", "Lobby", "keyword=" + word,
                  "replacement=Removed: policy")
        assert field(out, "replaced") == "1"
        _, after = a.backchat(room, 3)
        texts = [m.find(Q + "chat").text for m in after]
        assert texts == ["keep me", "Removed: policy", "also keep"]
        assert [(m.get("author"), m.get("ts")) for m in after] == \
            [(m.get("author"), m.get("ts")) for m in before]
        assert lab.sql("SELECT COUNT(*) FROM pchat_message WHERE moderated = 1 AND content = "
                       "'<chat>Removed: policy</chat>'") == [["1"]]
    finally:
        a.close()


def test_admin_rpcs_end_to_end(lab):
    tag = uuid.uuid4().hex[:6]
    cat, room = "Admin " + tag, "Admin room " + tag
    out = rpc(lab, "pchat.category.add", cat, "description=for admins", "file_upload=yes")
    assert field(out, "file_upload") == "1" and field(out, "uri").startswith("ma-cat://")
    rpc(lab, "pchat.category.set", cat, "chat_history=no")
    assert field(rpc(lab, "pchat.category.get", cat), "chat_history") == "0"
    assert cat in rpc(lab, "pchat.category.list")
    out = rpc(lab, "pchat.room.add", room, cat, "topic=Hello", "type=auditorium")
    assert field(out, "privacy") == "closed" and field(out, "type") == "auditorium"
    rpc(lab, "pchat.room.set", room, "privacy=secret", "description=hidden")
    got = rpc(lab, "pchat.room.get", room)
    assert field(got, "privacy") == "secret" and field(got, "description") == "hidden"
    # the same room by URI and by GUID
    uri = field(got, "uri")
    assert field(rpc(lab, "pchat.room.get", uri), "name") == room
    assert field(rpc(lab, "pchat.room.get", uri.rsplit("/", 1)[1]), "name") == room
    assert room in rpc(lab, "pchat.room.list", "category=" + cat)
    # JSON-RPC (with the lab's bearer token) works the same
    reply = lab.jsonrpc("pchat.room.get", room)
    assert reply["result"]["name"] == room
    # errors: clear, and nothing half-written
    assert rpc(lab, "pchat.room.add", ok=False).startswith("error: 400")
    assert rpc(lab, "pchat.room.add", room, cat, ok=False).startswith("error: 409")
    assert rpc(lab, "pchat.room.add", "x" * 257, cat, ok=False).startswith("error: 400")
    assert rpc(lab, "pchat.room.add", "Other " + tag, "no such category",
               ok=False).startswith("error: 404")
    assert rpc(lab, "pchat.room.set", room, "privacy=public", ok=False).startswith("error: 400")
    assert rpc(lab, "pchat.room.get", "ma-chan://pchat.test/%s" % uuid.uuid4(),
               ok=False).startswith("error: 404")
    out = rpc(lab, "pchat.room.members.add", room, "sip:ok@pchat.test", "not a principal",
              ok=False)
    assert out.startswith("error: 400") and "not a principal" in out
    assert "sip:ok@pchat.test" not in rpc(lab, "pchat.room.get", room)
    assert rpc(lab, "pchat.room.members.add", room, "sip:eve@evil.test",
               ok=False).startswith("error: 400")
    assert rpc(lab, "pchat.category.remove", cat, ok=False).startswith("error: 409")
    # principals, clear, remove
    rpc(lab, "pchat.category.allowed.add", cat, "pchat.test")
    rpc(lab, "pchat.room.presenters.add", room, "sip:Alice@PCHAT.test")
    assert "sip:alice@pchat.test" in rpc(lab, "pchat.room.get", room)
    rpc(lab, "pchat.room.presenters.remove", room, "sip:alice@pchat.test")
    assert "sip:alice@pchat.test" not in rpc(lab, "pchat.room.get", room)
    room_id = lab.sql("SELECT id FROM pchat_room WHERE name = '%s'" % room)[0][0]
    lab.sql("INSERT INTO pchat_message (room_id, seq, author, ts, content) VALUES "
            "(%s, 1, 'sip:a@pchat.test', '2020-01-01', '<chat>old</chat>'), "
            "(%s, 2, 'sip:a@pchat.test', UTC_TIMESTAMP(), '<chat>new</chat>')"
            % (room_id, room_id))
    assert field(rpc(lab, "pchat.room.clear", room, "before=2021-01-01T00:00:00Z"),
                 "deleted") == "1"
    assert field(rpc(lab, "pchat.room.clear", room), "deleted") == "1"
    rpc(lab, "pchat.room.remove", room)
    assert rpc(lab, "pchat.room.get", room, ok=False).startswith("error: 404")
    rpc(lab, "pchat.category.remove", cat)
    assert cat not in rpc(lab, "pchat.category.list")


def test_category_move_drops_disallowed_principals(lab):
    tag = uuid.uuid4().hex[:6]
    rpc(lab, "pchat.category.add", "Wide " + tag)
    rpc(lab, "pchat.category.allowed.add", "Wide " + tag, "pchat.test", "partner.test")
    rpc(lab, "pchat.category.add", "Narrow " + tag)
    rpc(lab, "pchat.category.allowed.add", "Narrow " + tag, "pchat.test")
    rpc(lab, "pchat.category.denied.add", "Narrow " + tag, "sip:mole@pchat.test")
    room = "Moving " + tag
    rpc(lab, "pchat.room.add", room, "Wide " + tag)
    rpc(lab, "pchat.room.members.add", room, "sip:alice@pchat.test", "sip:guest@partner.test",
        "sip:mole@pchat.test", "partner.test")
    rpc(lab, "pchat.room.managers.add", room, "sip:boss@partner.test")
    out = rpc(lab, "pchat.room.set", room, "category=Narrow " + tag)
    assert field(out, "dropped") == "4"
    got = rpc(lab, "pchat.room.get", room)
    assert field(got, "category") == "Narrow " + tag
    assert "sip:alice@pchat.test" in got
    for gone in ("partner.test", "sip:mole@pchat.test", "sip:boss@partner.test"):
        assert gone not in got


def test_changes_reach_connected_clients(lab):
    """Disabling a room puts everyone out at once; a presenter's right to post in an
    auditorium follows the administrator's change without a rejoin."""
    tag = uuid.uuid4().hex[:6]
    room = "Live " + tag
    uri = field(rpc(lab, "pchat.room.add", room, "Lab", "privacy=open", "type=auditorium"), "uri")
    rpc(lab, "pchat.room.presenters.add", room, "sip:alice@pchat.test")
    a, b = ChatClient(lab.sip_server(), "alice"), ChatClient(lab.sip_server(), "bob", proto="tcp")
    try:
        for c in (a, b):
            c.login()
            assert resp_code(c.join(uri)) == 200
        assert a.post(uri, "from the stage").status == 200
        assert b.post(uri, "from the floor").status == 403
        rpc(lab, "pchat.room.presenters.add", room, "sip:bob@pchat.test")
        deadline = time.time() + 5
        while b.post(uri, "now I may").status != 200:
            assert time.time() < deadline, "bob's new right did not arrive"
            time.sleep(0.2)
        rpc(lab, "pchat.room.presenters.remove", room, "sip:alice@pchat.test")
        deadline = time.time() + 5
        while a.post(uri, "still?").status != 403:
            assert time.time() < deadline
            time.sleep(0.2)
        rpc(lab, "pchat.room.disable", room)
        for c in (a, b):
            n = c.wait_notice("ntc:part", timeout=5)
            assert n is not None and c.uri in n.info.text, c.user
        assert a.post(uri, "gone").status == 403
        assert resp_code(a.join(uri)) == 403
    finally:
        a.close()
        b.close()


def test_settings_apply_without_restart(lab):
    room = lab.env["PCHAT_DEMO_ROOM"]
    c = ChatClient(lab.sip_server(), "carol")
    try:
        c.login()
        c.join(room)
        rpc(lab, "pchat.config.set", "message_size_limit", "20")
        assert c.post(room, "x" * 21).status == 413
        sib = c.command("getserverinfo").root.find(Q + "rpl/" + Q + "data/" + Q + "sib")
        assert sib.get("messageSizeLimit") == "20"
        assert rpc(lab, "pchat.config.set", "message_size_limit", "0",
                   ok=False).startswith("error: 400")
        assert rpc(lab, "pchat.config.set", "colour", "1", ok=False).startswith("error: 400")
        # a value stored by another node (straight in the table) arrives within the interval
        lab.sql("UPDATE pchat_config SET value = '30' WHERE name = 'message_size_limit'")
        deadline = time.time() + 10
        while c.post(room, "y" * 25).status != 200:
            assert time.time() < deadline, "the stored setting did not arrive"
            time.sleep(0.5)
        rpc(lab, "pchat.config.unset", "message_size_limit")
        assert field(rpc(lab, "pchat.config.get", "message_size_limit"), "value") == "8000"
    finally:
        c.close()


def test_chat_history_switch_hides_but_keeps_posts(lab):
    tag = uuid.uuid4().hex[:6]
    rpc(lab, "pchat.category.add", "Unlogged " + tag, "chat_history=no")
    rpc(lab, "pchat.category.allowed.add", "Unlogged " + tag, "pchat.test")
    uri = field(rpc(lab, "pchat.room.add", "Unlogged " + tag, "Unlogged " + tag,
                    "privacy=open"), "uri")
    c = ChatClient(lab.sip_server(), "alice")
    try:
        c.login()
        c.join(uri)
        assert c.post(uri, "ephemeral").status == 200
        assert len(c.wait_posts(1)) == 1  # live delivery works
        parts, msgs = c.backchat(uri)
        assert resp_code(parts[0]) == 200 and msgs == []
        assert lab.sql("SELECT COUNT(*) FROM pchat_message m JOIN pchat_room r ON r.id = "
                       "m.room_id WHERE r.name = 'Unlogged %s'" % tag) == [["1"]]
    finally:
        c.close()


# ---------------------------------------------------------------- ethical walls, live

def wall(lab, *users, invitations="no"):
    """A fresh category allowing just these users, and an open room in it."""
    tag = uuid.uuid4().hex[:6]
    cat = "Walls " + tag
    rpc(lab, "pchat.category.add", cat, "invitations=" + invitations)
    rpc(lab, "pchat.category.allowed.add", cat, *["sip:%s@pchat.test" % u for u in users])
    uri = field(rpc(lab, "pchat.room.add", "Walled " + tag, cat, "privacy=open"), "uri")
    return cat, uri


def test_ethical_walls_hold_live(lab):
    """Denying a user in a category, or no longer allowing one, puts them out of every room of
    the category at once: told with ntc:part, unable to post, and the others are told."""
    tag = uuid.uuid4().hex[:6]
    users = ["wa" + tag, "wb" + tag]
    cat, uri = wall(lab, *users)
    a, b = (ChatClient(lab.sip_server(), u) for u in users)
    try:
        for c in (a, b):
            c.login()
            assert resp_code(c.join(uri)) == 200
        rpc(lab, "pchat.category.denied.add", cat, b.uri)
        out = b.wait_notice("ntc:part", timeout=3)
        assert out is not None and uri in out.info.text
        assert b.post(uri, "over the wall").status == 403
        told = a.wait_notice("ntc:part", timeout=3)
        assert told is not None and b.uri in told.info.text
        rpc(lab, "pchat.category.allowed.remove", cat, a.uri)
        assert a.wait_notice("ntc:part", timeout=3) is not None
        assert a.post(uri, "still here?").status == 403
    finally:
        a.close()
        b.close()


def test_each_session_gets_its_own_users_verdict(lab):
    """Sessions alice, bob, alice in a closed room: alice removed from its members loses both
    her sessions, bob keeps his (a verdict never passes from one user to another)."""
    tag = uuid.uuid4().hex[:6]
    name = "Verdicts " + tag
    uri = field(rpc(lab, "pchat.room.add", name, "Lab", "privacy=closed"), "uri")
    alice_u, bob_u = "va" + tag, "vb" + tag
    rpc(lab, "pchat.room.members.add", name, "sip:%s@pchat.test" % alice_u,
        "sip:%s@pchat.test" % bob_u)
    alice1, bob, alice2 = (ChatClient(lab.sip_server(), u) for u in (alice_u, bob_u, alice_u))
    try:
        for c in (alice1, bob, alice2):
            c.login()
            assert resp_code(c.join(uri)) == 200
        rpc(lab, "pchat.room.members.remove", name, alice1.uri)
        for c in (alice1, alice2):
            assert c.wait_notice("ntc:part", timeout=3) is not None, c
            assert c.post(uri, "out?").status == 403
        assert bob.post(uri, "still in").status == 200
    finally:
        for c in (alice1, bob, alice2):
            c.close()


# ---------------------------------------------------------------- invitations

def invitations(client, after=0):
    rpl = client.command("getinv", '<inv inviteId="%d" domain="pchat.test"/>' % after)
    return list(rpl.root.iter(Q + "inv"))


def test_invitations_reveal_only_rooms_the_user_may_find(lab):
    """A new secret room invites nobody of its category; a new open room invites its allowed
    users, from the chat service (inviter filled); once the category denies a user, the
    invitation no longer shows the room."""
    tag = uuid.uuid4().hex[:6]
    user = "inv" + tag
    cat, open_uri = wall(lab, user, invitations="yes")
    rpc(lab, "pchat.room.add", "Hidden " + tag, cat, "privacy=secret")
    c = ChatClient(lab.sip_server(), user)
    try:
        c.login()
        invs = invitations(c)
        rooms = [i.find(Q + "chanib").get("uri") for i in invs]
        assert rooms == [open_uri]
        assert invs[0].get("inviter") == "sip:pchat@pchat.test"
        rpc(lab, "pchat.category.denied.add", cat, c.uri)
        assert invitations(c) == []
    finally:
        c.close()


# ---------------------------------------------------------------- Persistent Chat policy

def provisioning(lab, user):
    """EnablePersistentChat in the provisioning document the user gets (or the status)."""
    ua = UserAgent(user, "pchat.test", lab.sip_server(), "tcp")
    try:
        resp = ua.simple("SUBSCRIBE", "sip:%s@pchat.test" % user, headers=[
            ("Event", "vnd-microsoft-provisioning-v2"), ("Expires", "0")])
        if resp.status != 200:
            return resp.status
        return re.search(r'EnablePersistentChat">(\w+)<', resp.text).group(1)
    finally:
        ua.close()


def test_policy_enables_users_most_specific_rule_first(lab):
    """Rules for everyone, a domain and a user; the most specific wins. A user the policy does
    not enable gets 403 and false in provisioning, and a session they hold ends with a BYE."""
    tag = uuid.uuid4().hex[:6]
    kept, cut = "kept" + tag, "cut" + tag
    assert provisioning(lab, cut) == "true"
    c = ChatClient(lab.sip_server(), cut)
    try:
        c.login()
        rpc(lab, "pchat.policy.set", "sip:%s@pchat.test" % cut, "no")
        assert c.wait_bye() is not None
        assert "not enabled for its user by policy" in lab.log()
    finally:
        c.close()
    assert ChatClient(lab.sip_server(), cut).login(expect=403)
    assert provisioning(lab, cut) == "false"
    assert "Persistent Chat is not enabled for the user" in lab.log()
    # a domain rule, with a user rule above it
    rpc(lab, "pchat.policy.set", "pchat.test", "no")
    rpc(lab, "pchat.policy.set", "sip:%s@pchat.test" % kept, "yes")
    try:
        assert provisioning(lab, kept) == "true" and provisioning(lab, "other" + tag) == "false"
        assert field(rpc(lab, "pchat.policy.get", "sip:other%s@pchat.test" % tag),
                     "enabled") == "0"
        listed = rpc(lab, "pchat.policy.list")
        assert "scope: pchat.test" in listed and "scope: sip:%s@pchat.test" % kept in listed
    finally:
        rpc(lab, "pchat.policy.unset", "pchat.test")
        rpc(lab, "pchat.policy.unset", "sip:%s@pchat.test" % kept)
        rpc(lab, "pchat.policy.unset", "sip:%s@pchat.test" % cut)
    assert provisioning(lab, "other" + tag) == "true" and provisioning(lab, cut) == "true"
