"""The compliance service end to end on a pool of two nodes (compliance_lease 3 s), proving what
the "Compliance" section of doc/pchat_admin.xml promises:

- with no adapter nothing is recorded: the outbox does not grow, whatever users and
  administrators do;
- with the XML adapter a room's joins, posts, history reads and parts reach a file that
  validates against Lync's schema (tests/compliance/lync-compliance.xsd), in order, with the
  posted text exactly (markup characters, newlines, right-to-left text, emoji), the post numbers,
  stable sender ids and three agreeing forms of every time; moderation goes to the batch's
  -moderation.jsonl; the outbox is empty afterwards;
- the JSON Lines adapter writes every documented field, each outbox event exactly once, and the
  user and room details when asked; one_room_per_file gives each room its own files;
- of the two nodes only the lease holder ever runs the export;
- a stylesheet is applied to the XML; one that does not parse or reads a file fails the run,
  the events stay and chat goes on, and once it is fixed every event is exported exactly once;
- a missing or unusable output folder fails the run the same way, and a fixed one exports
  every event exactly once;
- a worker killed while writing a batch, or after publishing it but before its events are
  deleted, is replaced by the other node once the lease expires, which writes the batch again
  under the same name: every event ends up in the output exactly once;
- a node that starts while an adapter is set records from its first request.
"""
import collections
import datetime
import glob
import json
import os
import queue
import re
import shutil
import subprocess
import tempfile
import threading
import time
import xml.etree.ElementTree as ET

import pytest

from lab import TEST_DEFINES, TOP, start_lab, wait_for
from xccos import Q, resp_code

LEASE = 3  # s, PCHAT_COMPLIANCE_LEASE below
RUN_TIMEOUT = 30  # s for a run to finish: generous, the machine may be shared
XSD = os.path.join(TOP, "tests", "compliance", "lync-compliance.xsd")
EPOCH_TICKS = 621355968000000000  # .NET ticks of 1970-01-01T00:00:00Z
STEM = r"pchat-compliance-\d{8}T\d{6}Z-\d{10}"
JSONL_KEYS = ["id", "type", "time", "since1970", "ticks", "room", "user", "user_id", "internal",
              "message_id", "content", "detail", "room_details"]


@pytest.fixture(scope="module")
def lab(request):
    return start_lab(request, nodes=2, defines=TEST_DEFINES + " PCHAT_COMPLIANCE_LEASE=%d" % LEASE)


# ---------------------------------------------------------------- helpers

def nodes(lab):
    return range(len(lab.sip_ports))


def status(lab, node=0):
    """pchat.compliance.status of a node as a dict of strings."""
    out = lab.kamcmd("pchat.compliance.status", node=node)
    return dict(re.findall(r"^\s*(\w+): ?(.*)$", out, re.M))


def active_node(lab, node=0):
    """The index of the node holding the lease (status says node1, node2...)."""
    name = status(lab, node)["active_node"]
    assert re.fullmatch(r"node\d+", name), "no active compliance worker: %r" % name
    return int(name[len("node"):]) - 1


def configure(lab, everywhere=True, **settings):
    """pchat.compliance.set on one node, or on every node: each applies the setting to its own
    recording at once (the others would follow within config_reload_interval)."""
    args = ["%s=%s" % kv for kv in settings.items()]
    for n in (nodes(lab) if everywhere else [0]):
        out = lab.kamcmd("pchat.compliance.set", *args, node=n, check=False)
        assert out.strip() == "set", "pchat.compliance.set %s: %s" % (args, out)
    if "adapter" in settings:
        want = "no" if settings["adapter"] == "none" else "yes"
        assert wait_for(lambda: all(status(lab, n)["recording"] == want for n in nodes(lab)),
                        timeout=20), "recording is not %s on every node" % want


def run(lab, node=0, timeout=RUN_TIMEOUT):
    """Asks for a run and waits until one finished (last_run changed); its status."""
    before = status(lab, node)["last_run"]
    assert lab.kamcmd("pchat.compliance.run", node=node).strip() == "requested"
    finished = {}

    def done():
        st = status(lab, node)
        if st["last_run"] != before and st["run_requested"] == "0":
            finished.update(st)
            return True
        return False
    assert wait_for(done, timeout=timeout, interval=0.2), "no run finished within %d s" % timeout
    return finished


def outbox_count(lab, where="1"):
    """Events in the outbox (waiting, or in an open batch) that match where."""
    return int(lab.sql("SELECT COUNT(*) FROM pchat_compliance_event WHERE %s" % where)[0][0])


def room_events(lab, room):
    return outbox_count(lab, "room_uri = '%s'" % room)


def room_row(lab, room):
    """(id, name) of a room."""
    rid, name = lab.sql("SELECT id, name FROM pchat_room WHERE guid = '%s'"
                        % room.rsplit("/", 1)[1])[0]
    return int(rid), name


def published(folder, suffix=""):
    """The files a consumer sees (hidden temporary files ignored), sorted by name."""
    return sorted(f for f in os.listdir(folder) if not f.startswith(".") and f.endswith(suffix))


def read_jsonl(folder, names=None):
    events = []
    for name in names or published(folder, ".jsonl"):
        with open(os.path.join(folder, name), encoding="utf-8") as f:
            for line in f:
                events.append(json.loads(line))
    return events


def id_counts(folder):
    return collections.Counter(e["id"] for e in read_jsonl(folder))


def ticks_of_iso(text):
    """.NET ticks of 2026-11-30T23:15:24.8076380Z (seven fractional digits required)."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{7})Z", text)
    assert m, "not an ISO time with seven fractional digits: %r" % text
    d = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S") - datetime.datetime(1, 1, 1)
    return (d.days * 86400 + d.seconds) * 10 ** 7 + int(m.group(2))


def shape(el):
    """An element's attributes and children, recursively, without its name and whitespace."""
    return el.attrib, (el.text or "").strip(), [(c.tag, shape(c)) for c in el]


def check_time_forms(since1970, iso, ticks, what):
    assert since1970 == (ticks - EPOCH_TICKS) // 10000, "%s: since1970 %d, ticks %d" % (
        what, since1970, ticks)
    assert ticks_of_iso(iso) == ticks, "%s: %s is not %d ticks" % (what, iso, ticks)
    assert ticks % 10 == 0, "%s: the server's time has microseconds, not ticks" % what


def post_ok(client, room, text):
    assert client.post(room, text).status == 200, "post %r not stored" % text


def seed(lab, room, count):
    """count CHAT events inserted straight into the outbox (MariaDB's sequence engine); their
    ids."""
    rid, name = room_row(lab, room)
    top = int(lab.sql("SELECT COALESCE(MAX(id), 0) FROM pchat_compliance_event")[0][0])
    lab.sql("INSERT INTO pchat_compliance_event (kind, ts, room_id, room_uri, room_name, "
            "room_logged, user, msg_id, content) SELECT 'CHAT', UTC_TIMESTAMP(6), %d, '%s', '%s', "
            "1, 'sip:alice@pchat.test', seq, CONCAT('seeded ', seq) FROM seq_1_to_%d"
            % (rid, room, name, count))
    ids = [int(r[0]) for r in lab.sql("SELECT id FROM pchat_compliance_event WHERE id > %d AND "
                                      "room_uri = '%s'" % (top, room))]
    assert len(ids) == count
    return set(ids)


def exactly_once(counts, ids):
    missing = [i for i in ids if counts[i] == 0]
    twice = [i for i in ids if counts[i] > 1]
    assert not missing and not twice, "%d events missing (%s...), %d written more than once " \
        "(%s...)" % (len(missing), missing[:5], len(twice), twice[:5])


@pytest.fixture(autouse=True)
def service(lab):
    """A fresh output folder per test; afterwards every node is up again and the service is as
    the test found it: its settings restored, no adapter, and whatever the test left in the
    outbox removed."""
    folder = tempfile.mkdtemp(prefix="pchat-compliance-")
    conf = lab.sql("SELECT adapter, output_dir, run_interval, one_room_per_file, "
                   "add_user_details, add_room_details, xslt, batch_size FROM "
                   "pchat_compliance_config WHERE id = 1")[0]
    top = lab.sql("SELECT COALESCE(MAX(id), 0) FROM pchat_compliance_event")[0][0]
    yield folder
    lab.up()  # a test may have killed a node
    lab.sql("UPDATE pchat_compliance_config SET adapter = '%s', output_dir = '%s', run_interval "
            "= %s, one_room_per_file = %s, add_user_details = %s, add_room_details = %s, xslt = "
            "'%s', batch_size = %s WHERE id = 1" % tuple(conf))
    for n in nodes(lab):  # each node applies the adapter at once
        lab.kamcmd("pchat.compliance.set", "adapter=" + conf[0], node=n)
    lab.sql("DELETE FROM pchat_compliance_event WHERE id > %s; DELETE FROM pchat_compliance_batch"
            % top)
    subprocess.run(["chmod", "-R", "u+rwx", folder], check=False)
    shutil.rmtree(folder, ignore_errors=True)


# ---------------------------------------------------------------- no adapter

def test_no_adapter_records_nothing(lab, clients, room):
    configure(lab, adapter="none")
    before = outbox_count(lab)
    recorded = [lab.stat("compliance_recorded", node=n) for n in nodes(lab)]
    a, b = clients("alice", node=0), clients("bob", node=1)
    assert resp_code(a.join(room)) == 200 and resp_code(b.join(room)) == 200
    post_ok(a, room, "nobody records this")
    post_ok(a, room, "nor this secret")
    _, msgs = b.backchat(room)
    assert len(msgs) == 2
    out = lab.kamcmd("pchat.message.remove", room.rsplit("/", 1)[1], "keyword=secret")
    assert "replaced: 1" in out, out
    b.part(room)
    assert a.bye().status == 200
    a.dialog.remote_tag = None
    assert len(lab.stored(room)) == 2
    # the BYE is answered before the session ends: its PART would come once it has
    assert wait_for(lambda: lab.stat("sessions", node=0) == 0, timeout=10)
    assert outbox_count(lab) == before
    assert [lab.stat("compliance_recorded", node=n) for n in nodes(lab)] == recorded


# ---------------------------------------------------------------- XML end to end

TEXTS = ['a < b & c > d', 'she said "yes" and \'no\'', "first line\nsecond line",
         "שלום עולם — مرحبا بالعالم", "party 🎉 time", "the secret plan <b> & co, to be removed"]


def test_xml_end_to_end(lab, clients, room, service):
    # set on one node only: the other follows within config_reload_interval
    configure(lab, everywhere=False, adapter="xml", output_dir=service)
    _, name = room_row(lab, room)
    stats = [lab.stat("compliance_exported", node=n) for n in nodes(lab)]
    recorded = [lab.stat("compliance_recorded", node=n) for n in nodes(lab)]
    a, b = clients("alice", node=0), clients("bob", node=1)
    assert resp_code(a.join(room)) == 200
    assert resp_code(b.join(room)) == 200
    for text in TEXTS:
        post_ok(a, room, text)
    seqs = [int(s) for s, _, _ in lab.stored(room)]
    assert len(seqs) == len(TEXTS)
    _, msgs = b.backchat(room)
    assert [m.find(Q + "chat").text for m in msgs] == TEXTS  # bob read seqs[0] to seqs[-1]
    out = lab.kamcmd("pchat.message.remove", room.rsplit("/", 1)[1], "keyword=secret plan",
                     "replacement=Removed by policy")
    assert "replaced: 1" in out, out
    b.part(room)
    assert a.bye().status == 200
    a.dialog.remote_tag = None
    expected = 2 + len(TEXTS) + 1 + 1 + 2  # joins, posts, backchat, replace, parts
    assert wait_for(lambda: room_events(lab, room) == expected, timeout=10), \
        "%d events recorded, not %d" % (room_events(lab, room), expected)
    total = outbox_count(lab)
    # the chat's events, counted where they were written (the moderation came by RPC)
    assert sum(lab.stat("compliance_recorded", node=n) - recorded[n]
               for n in nodes(lab)) == expected - 1

    st = run(lab)
    assert st["last_error"] == "", st
    assert st["waiting"] == "0" and st["open_batches"] == "0", st
    files = published(service)
    assert len(files) == 2 and re.fullmatch(STEM + r"\.xml", files[1]), files
    stem = files[1][:-len(".xml")]
    assert files[0] == stem + "-moderation.jsonl"
    path = os.path.join(service, files[1])

    res = subprocess.run(["xmllint", "--noout", "--schema", XSD, path], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    assert res.returncode == 0, res.stdout
    convs = [c for c in ET.parse(path).getroot().findall("Conversation")
             if c.find("Channel").get("uri") == room]
    assert len(convs) == 1
    conv = convs[0]
    assert conv.find("Channel").attrib == {"uri": room, "name": name, "islogged": "true"}
    messages = conv.findall("Messages/Message")
    kinds = [(m.get("type"), m.find("Sender").get("uri")) for m in messages]
    alice, bob = "alice@pchat.test", "bob@pchat.test"
    assert kinds == [("JOIN", alice), ("JOIN", bob)] + [("CHAT", alice)] * len(TEXTS) + [
        ("BACKCHAT", bob), ("PART", bob), ("PART", alice)]
    chats = messages[2:2 + len(TEXTS)]
    assert [m.get("content") for m in chats] == TEXTS  # as posted, not as moderated
    assert [int(m.get("id")) for m in chats] == seqs
    backchat = messages[2 + len(TEXTS)]
    assert backchat.get("content") == "%d-%d" % (seqs[0], seqs[-1])
    assert all(m.get("id") == "0" for m in messages if m.get("type") != "CHAT")
    assert all(m.get("content") == "" for m in messages if m.get("type") in ("JOIN", "PART"))
    # FirstMessage is a copy of the first Message
    assert shape(conv.find("FirstMessage")) == shape(messages[0])
    # senders: no sip:, one stable id per user
    ids = collections.defaultdict(set)
    for m in messages:
        ids[m.find("Sender").get("uri")].add(m.find("Sender").get("id"))
    assert all(len(v) == 1 for v in ids.values()), ids
    assert ids[alice] != ids[bob]
    # times: three agreeing forms, in order, start and end those of the first and last message
    times = []
    for el in conv.iter():
        if el.get("since1970") is not None:
            ticks = int(el.get("long"))
            check_time_forms(int(el.get("since1970")), el.get("string"), ticks, el.tag)
    for m in messages:
        times.append(int(m.find("DateTimeUTC").get("long")))
    assert times == sorted(times)
    assert int(conv.find("StartTimeUTC").get("long")) == times[0]
    assert int(conv.find("EndTimeUTC").get("long")) == times[-1]

    # the moderation beside it
    [replace] = read_jsonl(service, [stem + "-moderation.jsonl"])
    assert replace["type"] == "REPLACE" and replace["message_id"] == seqs[-1]
    assert replace["content"] == "Removed by policy"
    assert replace["room"] == {"uri": room, "name": name, "logged": True}
    assert replace["detail"]["previous"] == TEXTS[-1]  # the text, as the CHAT event had it
    assert replace["detail"]["previous_xml"].startswith("<chat>")  # the post as stored
    assert replace["detail"]["author"] == "sip:alice@pchat.test"

    assert room_events(lab, room) == 0 and outbox_count(lab) == 0
    active = active_node(lab)
    grown = [lab.stat("compliance_exported", node=n) - stats[n] for n in nodes(lab)]
    assert grown[active] == total and sum(grown) == total, grown
    assert lab.sql("SELECT COUNT(*) FROM pchat_compliance_batch") == [["0"]]


# ---------------------------------------------------------------- JSON Lines

def test_jsonl_fields_and_details(lab, clients, room, service):
    configure(lab, adapter="jsonl", output_dir=service, add_user_details="yes",
              add_room_details="yes")
    _, name = room_row(lab, room)
    a, b = clients("alice", node=0), clients("bob", node=1)
    assert resp_code(a.join(room)) == 200 and resp_code(b.join(room)) == 200
    post_ok(a, room, "hello\tjson \"world\" \\ é 😀")
    post_ok(b, room, "to be replaced")
    b.backchat(room, count=1)
    lab.kamcmd("pchat.message.remove", room.rsplit("/", 1)[1], "user=sip:bob@pchat.test")
    b.part(room)
    a.part(room)
    assert wait_for(lambda: room_events(lab, room) == 8, timeout=10)
    ids = {int(r[0]) for r in lab.sql("SELECT id FROM pchat_compliance_event WHERE room_uri = "
                                      "'%s'" % room)}
    seqs = [int(s) for s, _, _ in lab.stored(room)]

    st = run(lab, node=1)
    assert st["last_error"] == "" and st["waiting"] == "0", st
    files = published(service)
    assert len(files) == 1 and re.fullmatch(STEM + r"\.jsonl", files[0]), files
    with open(os.path.join(service, files[0]), encoding="utf-8") as f:
        lines = f.read().split("\n")
    assert lines[-1] == "" and all(lines[:-1]), "one object per line"
    events = [json.loads(line) for line in lines[:-1]]
    mine = [e for e in events if e["room"]["uri"] == room]
    exactly_once(collections.Counter(e["id"] for e in events), ids)
    assert len(mine) == len(ids)
    assert [(e["type"], e["user"]) for e in mine] == [
        ("JOIN", "sip:alice@pchat.test"), ("JOIN", "sip:bob@pchat.test"),
        ("CHAT", "sip:alice@pchat.test"), ("CHAT", "sip:bob@pchat.test"),
        ("BACKCHAT", "sip:bob@pchat.test"), ("REPLACE", ""),
        ("PART", "sip:bob@pchat.test"), ("PART", "sip:alice@pchat.test")]
    for e in mine:
        present = [k for k in JSONL_KEYS if k in e]
        assert list(e) == present, "keys out of order: %s" % list(e)
        assert {"id", "type", "time", "since1970", "ticks", "room", "user", "user_id",
                "message_id", "content"} <= set(e), e
        assert e["room"] == {"uri": room, "name": name, "logged": True}
        assert set(e["room_details"]) == {"description", "category", "privacy"}
        assert e["room_details"]["privacy"] == "open"
        check_time_forms(e["since1970"], e["time"], e["ticks"], e["type"])
        if e["user"]:
            assert e["internal"] is True and e["user_id"] > 0, e
        else:
            assert "internal" not in e and e["user_id"] == 0, e
    join_a, join_b, chat_a, chat_b, backchat, replace, part_b, part_a = mine
    assert chat_a["content"] == "hello\tjson \"world\" \\ é 😀" and chat_a["message_id"] == seqs[0]
    assert chat_b["content"] == "to be replaced" and chat_b["message_id"] == seqs[1]
    assert chat_a["user_id"] == join_a["user_id"] == part_a["user_id"] != join_b["user_id"]
    assert backchat["content"] == "%d-%d" % (seqs[1], seqs[1])
    assert backchat["detail"]["requested"] == 1
    assert replace["message_id"] == seqs[1] and replace["detail"]["previous"] == "to be replaced"
    assert part_b["detail"] == {"cause": "part"} and part_a["detail"] == {"cause": "part"}
    assert all("detail" not in e for e in (join_a, join_b, chat_a, chat_b))
    assert [e["ticks"] for e in mine] == sorted(e["ticks"] for e in mine)


def test_one_room_per_file(lab, clients, service):
    configure(lab, adapter="xml", output_dir=service, one_room_per_file="yes")
    rooms = [lab.new_room("per-file") for _ in range(2)]
    a = clients("alice", node=0)
    for i, room in enumerate(rooms):
        assert resp_code(a.join(room)) == 200
        post_ok(a, room, "in room %d" % i)
    lab.kamcmd("pchat.message.remove", rooms[1].rsplit("/", 1)[1], "keyword=room")
    st = run(lab)
    assert st["last_error"] == "" and st["waiting"] == "0", st
    files = published(service)
    ids = [room_row(lab, r)[0] for r in rooms]
    stem = files[0].split("-room")[0]
    assert re.fullmatch(STEM, stem)
    assert files == sorted(["%s-room%d.xml" % (stem, ids[0]), "%s-room%d.xml" % (stem, ids[1]),
                            "%s-room%d-moderation.jsonl" % (stem, ids[1])])
    for room, rid in zip(rooms, ids):
        path = os.path.join(service, "%s-room%d.xml" % (stem, rid))
        convs = ET.parse(path).getroot().findall("Conversation")
        assert [c.find("Channel").get("uri") for c in convs] == [room]
        assert [m.get("type") for m in convs[0].findall("Messages/Message")] == ["JOIN", "CHAT"]


# ---------------------------------------------------------------- one worker

def test_only_the_lease_holder_runs(lab, clients, room, service):
    configure(lab, adapter="jsonl", output_dir=service)
    actives = {status(lab, n)["active_node"] for n in nodes(lab)}
    assert len(actives) == 1 and re.fullmatch(r"node\d", actives.pop())
    active = active_node(lab)
    other = 1 - active
    stats = [lab.stat("compliance_exported", node=n) for n in nodes(lab)]
    marks = [lab.log_mark(n) for n in nodes(lab)]
    a = clients("alice", node=other)
    assert resp_code(a.join(room)) == 200
    for i in range(4):
        post_ok(a, room, "run %d" % i)
        st = run(lab, node=i % 2)  # asked for on either node
        assert st["last_error"] == "" and st["waiting"] == "0", st
        assert status(lab, other)["active_node"] == "node%d" % (active + 1)
    assert len(published(service)) == 4
    exported = [lab.stat("compliance_exported", node=n) - stats[n] for n in nodes(lab)]
    assert exported[other] == 0 and exported[active] == 5, exported  # the join, four posts
    assert len(re.findall(r"compliance: run \(asked for\)", lab.log(active, marks[active]))) == 4
    assert "compliance: run" not in lab.log(other, marks[other])


# ---------------------------------------------------------------- XSLT

GOOD_XSLT = """<?xml version="1.0"?>
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
  <xsl:output method="text" encoding="utf-8"/>
  <xsl:template match="/">
    <xsl:for-each select="Conversations/Conversation/Messages/Message">
      <xsl:value-of select="@type"/>|<xsl:value-of select="@content"/>
      <xsl:text>&#10;</xsl:text>
    </xsl:for-each>
  </xsl:template>
</xsl:stylesheet>
"""
BROKEN_XSLT = GOOD_XSLT.replace("</xsl:stylesheet>", "")
READING_XSLT = GOOD_XSLT.replace('select="@content"', "select=\"document('/etc/hostname')\"")


def write_file(folder, name, text):
    path = os.path.join(folder, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def failed_run(lab, room, events, why):
    """A run that must fail: its error, with the room's events still waiting."""
    failures = [lab.stat("compliance_runs_failed", node=n) for n in nodes(lab)]
    st = run(lab)
    assert why in st["last_error"], st
    assert int(st["waiting"]) >= events and st["open_batches"] == "1", st
    assert room_events(lab, room) == events
    grown = [lab.stat("compliance_runs_failed", node=n) - failures[n] for n in nodes(lab)]
    assert grown[active_node(lab)] == 1 and sum(grown) == 1, grown
    return st


def test_xslt_applied_and_a_failing_one_loses_nothing(lab, clients, room, service):
    styles = tempfile.mkdtemp(prefix="pchat-xslt-")
    try:
        out = os.path.join(service, "out")
        os.mkdir(out)
        good = write_file(styles, "good.xsl", GOOD_XSLT)
        configure(lab, adapter="xml", output_dir=out, xslt=good)
        a = clients("alice", node=0)
        assert resp_code(a.join(room)) == 200
        post_ok(a, room, "one & two")
        post_ok(a, room, "three")
        st = run(lab)
        assert st["last_error"] == "", st
        [name] = published(out)
        assert re.fullmatch(STEM + r"\.xml", name)
        with open(os.path.join(out, name), encoding="utf-8") as f:
            assert f.read() == "JOIN|\nCHAT|one & two\nCHAT|three\n"

        # a stylesheet that does not parse: the run fails, nothing is lost, chat goes on
        broken = write_file(styles, "broken.xsl", BROKEN_XSLT)
        configure(lab, xslt=broken)
        post_ok(a, room, "four")
        failed_run(lab, room, 1, "stylesheet %s" % broken)
        post_ok(a, room, "five")  # answered while the export fails
        assert published(out) == [name]
        # one that reads a file: refused, the batch is kept again (with the new setting)
        reading = write_file(styles, "reading.xsl", READING_XSLT)
        configure(lab, xslt=reading)
        failed_run(lab, room, 2, "stylesheet %s" % reading)
        assert published(out) == [name]
        assert not [f for f in os.listdir(out) if f.startswith(".")], "temporary files left"
        # fixed: everything once
        configure(lab, xslt=good)
        st = run(lab)
        assert st["last_error"] == "" and st["waiting"] == "0" and st["open_batches"] == "0", st
        lines = []
        for f in published(out):
            with open(os.path.join(out, f), encoding="utf-8") as fh:
                lines += fh.read().splitlines()
        assert collections.Counter(lines) == collections.Counter(
            ["JOIN|", "CHAT|one & two", "CHAT|three", "CHAT|four", "CHAT|five"])
        assert room_events(lab, room) == 0
    finally:
        shutil.rmtree(styles, ignore_errors=True)


# ---------------------------------------------------------------- output folder

def test_missing_or_unusable_output_folder_loses_nothing(lab, clients, room, service):
    missing = os.path.join(service, "not-yet")
    configure(lab, adapter="jsonl", output_dir=missing)
    a = clients("alice", node=0)
    assert resp_code(a.join(room)) == 200
    post_ok(a, room, "while the folder is missing")
    ids = {int(r[0]) for r in lab.sql("SELECT id FROM pchat_compliance_event WHERE room_uri = "
                                      "'%s'" % room)}
    assert len(ids) == 2
    failed_run(lab, room, 2, "cannot create %s/" % missing)
    post_ok(a, room, "still chatting")
    os.mkdir(missing)
    st = run(lab)
    assert st["last_error"] == "" and st["waiting"] == "0", st
    counts = id_counts(missing)
    exactly_once(counts, ids)
    assert sum(counts.values()) == 3  # and the post made meanwhile, in a second batch
    assert room_events(lab, room) == 0

    # a path that is a file, not a folder: root cannot write there either
    blocker = write_file(service, "a-file", "")
    configure(lab, output_dir=blocker)
    post_ok(a, room, "while the folder is a file")
    failed_run(lab, room, 1, "cannot create %s/" % blocker)
    # the administrator points it elsewhere: the batch that failed follows
    fixed = os.path.join(service, "fixed")
    os.mkdir(fixed)
    configure(lab, output_dir=fixed)
    st = run(lab)
    assert st["last_error"] == "" and st["waiting"] == "0", st
    assert [e["content"] for e in read_jsonl(fixed)] == ["while the folder is a file"]
    assert room_events(lab, room) == 0


@pytest.mark.skipif(os.geteuid() == 0, reason="the lab's Kamailio runs as root here, and root "
                    "writes into a folder whatever its mode")
def test_read_only_output_folder_loses_nothing(lab, clients, room, service):
    out = os.path.join(service, "ro")
    os.mkdir(out, 0o500)
    configure(lab, adapter="jsonl", output_dir=out)
    a = clients("alice", node=0)
    assert resp_code(a.join(room)) == 200
    failed_run(lab, room, 1, "cannot create %s/" % out)
    post_ok(a, room, "still chatting")
    os.chmod(out, 0o700)
    st = run(lab)
    assert st["last_error"] == "" and st["waiting"] == "0", st
    assert sorted(e["type"] for e in read_jsonl(out)) == ["CHAT", "JOIN"]


# ---------------------------------------------------------------- crashes

BACKLOG = 60000


def backlog(lab, room, folder):
    """BACKLOG events waiting, in one batch when taken; the active node's index."""
    configure(lab, adapter="jsonl", output_dir=folder, batch_size=100000)
    ids = seed(lab, room, BACKLOG)
    return ids, active_node(lab)


class SqlSession:
    """A mariadb client kept open as the lab's root, so a transaction outlives one query."""

    def __init__(self, lab):
        self.proc = subprocess.Popen(
            lab.sql_argv() + ["--unbuffered"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines = queue.Queue()
        threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def query(self, sql, timeout=10):
        """The lines the statements printed, up to a marker that follows them."""
        self.proc.stdin.write(sql + " SELECT 'done: pchat-test';\n")
        self.proc.stdin.flush()
        out = []
        while True:
            line = self.lines.get(timeout=timeout)
            if line == "done: pchat-test":
                return out
            out.append(line)

    def close(self):
        self.proc.stdin.write("ROLLBACK;\n")
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def finish_waits(lab):
    """A transaction waits for a lock in its DELETE of a batch: the worker's finish."""
    return lab.sql("SELECT COUNT(*) FROM information_schema.INNODB_TRX WHERE trx_state = "
                   "'LOCK WAIT' AND trx_query LIKE 'DELETE FROM pchat_compliance_batch%'"
                   ) != [["0"]]


def open_batch(lab):
    rows = lab.sql("SELECT id, name FROM pchat_compliance_batch ORDER BY id")
    return (int(rows[0][0]), rows[0][1]) if rows else None


def taken_over(lab, survivor, mark, ids, folder, timeout=RUN_TIMEOUT):
    """After the kill: the survivor holds the lease and finished the batch left open; every
    event is in the output exactly once."""
    def finished():
        st = status(lab, survivor)
        return (st["active_node"] == "node%d" % (survivor + 1) and st["open_batches"] == "0"
                and st["waiting"] == "0")
    assert wait_for(finished, timeout=timeout, interval=0.25), \
        "node%d did not take over and finish within %d s: %s" % (
            survivor + 1, timeout, status(lab, survivor))
    # the log line follows the commit that status shows, after the run's rest between batches
    assert wait_for(lambda: "run (taking over a batch left open)" in lab.log(survivor, mark),
                    timeout=RUN_TIMEOUT), "the survivor did not say it took over"
    exactly_once(id_counts(folder), ids)
    assert sum(id_counts(folder).values()) == len(ids)
    assert outbox_count(lab) == 0


def writing_started(folder):
    """Waits (polling every 2 ms) until a run writes a hidden temporary file; their names."""
    tmp = []

    def started():
        tmp[:] = glob.glob(os.path.join(folder, ".pchat-compliance-*.tmp"))
        return tmp
    assert wait_for(started, timeout=RUN_TIMEOUT, interval=0.002), \
        "no temporary file appeared within %d s" % RUN_TIMEOUT
    return tmp


def test_worker_killed_while_writing(lab, room, service):
    ids, active = backlog(lab, room, service)
    survivor = 1 - active
    mark = lab.log_mark(survivor)
    assert lab.kamcmd("pchat.compliance.run", node=survivor).strip() == "requested"
    tmp = writing_started(service)
    lab.kill_node(active)
    # the point hit: writing had begun, nothing was published, the batch is still open
    assert published(service) == [], \
        "the batch was published before the kill: make BACKLOG bigger"
    batch = open_batch(lab)
    assert batch is not None and batch[1] in os.path.basename(tmp[0])
    assert outbox_count(lab, "batch_id = %d" % batch[0]) == BACKLOG
    taken_over(lab, survivor, mark, ids, service)
    assert published(service) == [batch[1] + ".jsonl"]  # the same name


def test_database_killed_during_a_run_loses_nothing(lab, room, service):
    """MariaDB dies while the worker writes a batch: the run fails, nothing is deleted, and once
    the database is back the next run writes the batch under its name, every event once."""
    ids, active = backlog(lab, room, service)
    mark = lab.log_mark(active)
    assert lab.kamcmd("pchat.compliance.run", node=active).strip() == "requested"
    writing_started(service)
    batch = open_batch(lab)
    assert batch is not None
    lab.kill_mysql()
    assert wait_for(lambda: "compliance: run (asked for) failed" in lab.log(active, mark),
                    timeout=RUN_TIMEOUT), "the run did not fail with the database gone"
    assert published(service) == [], "the batch was published before the kill: make BACKLOG " \
        "bigger"
    lab.up()  # MariaDB back (crash recovery); the batch and its events are still there
    assert open_batch(lab) == batch
    assert outbox_count(lab, "batch_id = %d" % batch[0]) == BACKLOG

    def exported():
        # the nodes wait db_retry_interval before they try the database again
        lab.kamcmd("pchat.compliance.run", node=active, check=False)
        st = status(lab, active)
        return st.get("waiting") == "0" and st.get("open_batches") == "0"
    assert wait_for(exported, timeout=60, interval=1), "the batch was not written after the " \
        "database came back: %s" % status(lab, active)
    exactly_once(id_counts(service), ids)
    assert published(service) == [batch[1] + ".jsonl"]


def test_worker_killed_after_publishing_before_deleting(lab, room, service):
    ids, active = backlog(lab, room, service)
    survivor = 1 - active
    mark = lab.log_mark(survivor)
    assert lab.kamcmd("pchat.compliance.run", node=active).strip() == "requested"
    writing_started(service)
    batch = open_batch(lab)
    assert batch is not None
    final = os.path.join(service, batch[1] + ".jsonl")
    assert not os.path.exists(final), "the batch was published before the lock: make BACKLOG " \
        "bigger"
    # hold the batch's row: the worker's finish deletes it, so it waits after publishing
    holder = SqlSession(lab)
    try:
        assert holder.query("BEGIN; SELECT id FROM pchat_compliance_batch WHERE id = %d FOR "
                            "UPDATE;" % batch[0]) == [str(batch[0])], "the batch row is not locked"
        assert not os.path.exists(final), "the batch was published before the lock"
        assert wait_for(lambda: os.path.exists(final), timeout=RUN_TIMEOUT, interval=0.01), \
            "the batch was not published within %d s" % RUN_TIMEOUT
        assert wait_for(lambda: finish_waits(lab), timeout=10), \
            "the worker's finish does not wait for the batch's row"
        assert open_batch(lab) == batch
        assert outbox_count(lab, "batch_id = %d" % batch[0]) == BACKLOG
        lab.kill_node(active)
        # the worker is gone before the lock goes
        assert wait_for(lambda: lab.node_gone(active), timeout=10)
        # the point hit: published, but neither the batch nor its events are gone
        assert os.path.exists(final)
        assert open_batch(lab) == batch
        assert outbox_count(lab, "batch_id = %d" % batch[0]) == BACKLOG
    finally:
        holder.close()  # rolls back: the dead worker's transaction goes on, then rolls back
    taken_over(lab, survivor, mark, ids, service)
    assert published(service) == [batch[1] + ".jsonl"]  # written again, replacing itself


# ---------------------------------------------------------------- a node's start

def test_a_started_node_records_at_once(lab, clients, room, service):
    configure(lab, adapter="jsonl", output_dir=service)
    lab.kill_node(1)
    lab.up()
    assert status(lab, 1)["recording"] == "yes"
    b = clients("bob", node=1)
    assert resp_code(b.join(room)) == 200
    post_ok(b, room, "first words after the start")
    assert wait_for(lambda: room_events(lab, room) == 2, timeout=5)
    st = run(lab)
    assert st["last_error"] == "" and st["waiting"] == "0", st
    assert [(e["type"], e["content"]) for e in read_jsonl(service)] == [
        ("JOIN", ""), ("CHAT", "first words after the start")]
