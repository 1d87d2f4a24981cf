"""Hostile and broken input gets the answers of the table in ARCHITECTURE.md ("Bad input"): the
worker survives, nothing stored changes, and the same session keeps working."""
import uuid

import pytest

from xccos import NS, Q, ChatClient, resp_code

BILLION_LAUGHS = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                  '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
                  '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">'
                  '<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>'
                  '<xccos ver="1" envid="1" xmlns="%s"><cmd id="cmd:join" seqid="1"><data>'
                  '<chanid value="&lol4;"/></data></cmd></xccos>' % NS)
XXE = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
       '<xccos ver="1" envid="1" xmlns="%s"><cmd id="cmd:join" seqid="1"><data>'
       '<chanid value="&xxe;"/></data></cmd></xccos>' % NS)


@pytest.fixture(scope="module")
def room(lab):
    return lab.new_room("bad input")


@pytest.fixture(params=["udp", "tcp"])
def client(request, lab, room):
    c = ChatClient(lab.sip_server(), "mallory", proto=request.param)
    c.login()
    assert resp_code(c.join(room)) == 200
    yield c
    c.dialog.bye(timeout=2)
    c.close()


def messages(lab):
    return lab.sql("SELECT COUNT(*), COALESCE(SUM(LENGTH(content)), 0) FROM pchat_message")[0]


def still_works(c, room):
    assert resp_code(c.command("requri")) == 200
    assert c.post(room, "still here").status == 200


@pytest.mark.parametrize("body", [
    "<xccos><cmd id='cmd:join'><data>",                    # not well-formed
    "\x00\x01 binary junk",
    BILLION_LAUGHS,                                          # entity expansion
    XXE,                                                     # external entity
    "<!DOCTYPE xccos><xccos/>",
], ids=["truncated", "binary", "billion-laughs", "xxe", "doctype"])
def test_broken_or_hostile_xml_gets_400(lab, client, room, body):
    before = messages(lab)
    resp = client.dialog.info(body)
    assert resp.status == 400
    assert not client.bad and "root:" not in "".join(e.info.text for e in client.all)
    assert messages(lab) == before
    still_works(client, room)


def test_invalid_utf8_gets_400(lab, client, room):
    body = ('<xccos ver="1" envid="5" xmlns="%s"><grpchat id="grpchat" seqid="1" chanUri="%s">'
            '<chat>bad \xff\xfe bytes</chat></grpchat></xccos>' % (NS, room)).encode("latin-1")
    before = messages(lab)
    assert client.dialog.info(body).status == 400
    assert messages(lab) == before
    still_works(client, room)


def test_unknown_command_gets_a_reply_saying_so(lab, client, room):
    rpl = client.command("makecoffee", "<cup size='big'/>")
    assert rpl.id == "rpl:makecoffee"
    assert resp_code(rpl) == 501
    assert rpl.root.find(Q + "rpl/" + Q + "resp").text == "command not supported"
    still_works(client, room)


def test_unknown_element_gets_400(lab, client, room):
    resp = client.dialog.info('<xccos ver="1" envid="9" xmlns="%s"><rpl id="rpl:join"/></xccos>'
                              % NS)
    assert resp.status == 400
    still_works(client, room)


@pytest.mark.parametrize("name,data", [
    ("join", ""),
    ("join", '<chanid key="0" domain="pchat.test" value="not-a-guid"/>'),
    ("join", '<chanid key="0" domain="elsewhere.example" value="%s"/>' % uuid.uuid4()),
    ("part", '<chanib uri="http://example.com/"/>'),
    ("bccontext", '<chanib uri="ma-chan://pchat.test/%s"/><bcq><last cnt="many"/></bcq>'
     % uuid.uuid4()),
    ("chansrch", '<qib qtype="BYMEMBER" criteria="not a principal"/>'),
    ("getinv", '<inv inviteId="-3"/>'),
    ("getpref", '<pref/>'),
], ids=["join-no-room", "join-bad-guid", "join-other-domain", "part-bad-uri", "bccontext-bad-cnt",
        "chansrch-bad-member", "getinv-bad-id", "getpref-no-label"])
def test_commands_with_bad_arguments_get_a_readable_error(lab, client, room, name, data):
    rpl = client.command(name, data)
    assert resp_code(rpl) == 400
    assert len(rpl.root.find(Q + "rpl/" + Q + "resp").text) > 5
    still_works(client, room)


def test_post_to_a_room_not_joined_gets_403(lab, client, room):
    before = messages(lab)
    assert client.post(lab.env["PCHAT_DEMO_ROOM"], "not joined").status == 403
    assert client.post("ma-chan://pchat.test/%s" % uuid.uuid4(), "no room").status == 403
    assert messages(lab) == before
    still_works(client, room)


def test_post_without_text_or_room_gets_400(lab, client, room):
    before = messages(lab)
    raw = ('<xccos ver="1" envid="3" xmlns="%s"><grpchat id="grpchat" seqid="1" chanUri="%s">'
           '</grpchat></xccos>' % (NS, room))
    assert client.post(room, "", raw=raw).status == 400
    raw = ('<xccos ver="1" envid="4" xmlns="%s"><grpchat id="grpchat" seqid="1">'
           '<chat>where?</chat></grpchat></xccos>' % NS)
    assert client.post(room, "", raw=raw).status == 400
    assert messages(lab) == before
    still_works(client, room)


def test_oversized_post_gets_413(lab, client, room):
    before = messages(lab)
    # more characters than message_size_limit (8000), but a body the server reads whole
    assert client.post(room, "x" * 8001).status == 413
    # a body over max_body_size (24576 bytes) is refused before parsing
    assert client.post(room, "&" * 6000).status == 413
    assert messages(lab) == before
    assert client.post(room, "y" * 8000).status == 200
    still_works(client, room)


def test_kamailio_workers_survive(lab):
    out = lab.kamcmd("core.psx")
    assert out.count("pchat sender") == 2
    assert "state: up" in lab.kamcmd("pchat.status")
