"""Files posted to rooms, end to end on a pool of two nodes over real HTTPS (the lab CA):

- a token over XCCOS (cmd:getfutok / cmd:getfdtok -> rpl:getftok) names the pool's web service;
- Lync's SOAP web service takes a file in chunks and gives it back byte for byte (20 MB, and
  an empty file), through either node;
- tokens are refused in each wrong case (forged, expired, another room's, the wrong direction,
  a second upload), and so are chunks out of order, too large, or a file past the limit: each
  an HTTP 500 with a SOAP fault, as Lync's client expects;
- the category's file switch decides whether an upload token is given;
- a post may link a file of its room only, and only one that exists;
- the plain interface: a whole upload, a resumed one, downloads whole and by range, as a
  sandboxed attachment that no browser runs;
- removing a room removes its files; a moderator can remove one file;
- the compliance service records uploads and downloads with the stored name;
- many downloads at once are served or refused cleanly while chat goes on.
"""
import base64
import hashlib
import http.client
import json
import os
import re
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
import xml.etree.ElementTree as ET

import pytest

from lab import TEST_DEFINES, start_lab, wait_for
from xccos import Q, esc, resp_code

SERVICE = "/PersistentChat/MGCWebService.asmx"
UPLOAD = "/PersistentChat/files/upload"
MS = "http://www.microsoft.com"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SWEEP = 1  # s between the repository's housekeeping runs (file_sweep_interval)


@pytest.fixture(scope="module")
def lab(request):
    return start_lab(request, nodes=2,
                     defines=TEST_DEFINES + " PCHAT_FILE_SWEEP_INTERVAL=%d" % SWEEP)


@pytest.fixture
def recording(lab):
    """The compliance service records on both nodes, to JSON Lines in a folder of its own (the
    export runs only when asked); off again afterwards. The folder's path."""
    out = tempfile.mkdtemp(prefix="pchat-files-compliance-")
    os.chmod(out, 0o777)
    try:
        for n in range(2):
            lab.kamcmd("pchat.compliance.set", "adapter=jsonl", "output_dir=" + out, node=n)
        yield out
    finally:
        for n in range(2):
            lab.kamcmd("pchat.compliance.set", "adapter=none", node=n)
        shutil.rmtree(out, ignore_errors=True)


# ---------------------------------------------------------------- helpers

def https_port(lab, node):
    return int(lab.env["PCHAT_HTTPS_PORTS"].split()[node])


def tls(lab):
    ctx = ssl.create_default_context(cafile=lab.env["PCHAT_TLS_CA"])
    return ctx


def request(lab, method, path, body=None, headers=None, node=0, timeout=60):
    """(status, headers, body) of one HTTPS request to a node, the lab CA trusted."""
    conn = http.client.HTTPSConnection("127.0.0.1", https_port(lab, node), context=tls(lab),
                                       timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def soap(lab, op, node=0, **children):
    """Calls an operation of Lync's web service: (HTTP status, the result text or the fault)."""
    inner = "".join("<%s>%s</%s>" % (k, esc(str(v)), k) for k, v in children.items())
    body = ('<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="%s"><soap:Body>'
            '<%s xmlns="%s">%s</%s></soap:Body></soap:Envelope>' % (SOAP_NS, op, MS, inner, op))
    status, _, data = request(lab, "POST", SERVICE, body.encode(), {
        "Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"%s/%s"' % (MS, op)},
        node=node)
    root = ET.fromstring(data)
    if status == 200:
        result = root.find("{%s}Body/{%s}%sResponse/{%s}%sResult" % (SOAP_NS, MS, op, MS, op))
        assert result is not None, data
        return status, result.text or ""
    fault = root.find("{%s}Body/{%s}Fault" % (SOAP_NS, SOAP_NS))
    assert fault is not None, data
    return status, fault.find("faultstring").text


def refused(outcome, words):
    """A refusal as Lync's client expects it: HTTP 500 with a SOAP fault saying why."""
    status, text = outcome
    assert status == 500, "expected a SOAP fault, got %s %r" % outcome
    assert words in text, "%r does not say %r" % (text, words)


def token(client, room, name, upload=True):
    """rpl:getftok's token and serveruri, or the reply's code when it was refused."""
    env = client.command("getfutok" if upload else "getfdtok",
                         '<ftdb channelUri="%s" fileUrl="%s"/>' % (room, esc(name)))
    assert env.root.find(Q + "rpl").get("id") == "rpl:getftok"
    if resp_code(env) != 200:
        return resp_code(env), None
    t = env.root.find(Q + "rpl/" + Q + "data/" + Q + "token")
    return t.get("token"), t.get("serveruri")


def guid_of(room):
    return room.rsplit("/", 1)[1]


def upload(lab, client, room, data, name="report.bin", node=0, chunk=None):
    """Posts data through Lync's web service; the stored name."""
    tok, _ = token(client, room, name)
    status, unique = soap(lab, "RequestUniqueFilenameWithExtension", node=node, token=tok,
                          channelId=guid_of(room), extension=name.rsplit(".", 1)[-1])
    assert status == 200, unique
    if chunk is None:
        chunk = int(soap(lab, "GetMaxRequestContentInKB", node=node)[1]) * 1024
    offset = 0
    while True:
        piece = data[offset:offset + chunk]
        status, size = soap(lab, "AppendChunk", node=node, token=tok, channelId=guid_of(room),
                            uniqueFilename=unique, fileChunk=base64.b64encode(piece).decode(),
                            offset=offset, fileLength=len(data))
        assert status == 200, size
        offset += len(piece)
        assert int(size) == offset
        if offset >= len(data):
            return unique


def download(lab, client, room, name, node=0, buffer=None):
    tok, _ = token(client, room, name, upload=False)
    status, size = soap(lab, "GetFileSize", node=node, token=tok, channelId=guid_of(room),
                        reposFileName=name)
    assert status == 200, size
    out = b""
    while len(out) < int(size) or not out and int(size) == 0:
        status, chunk = soap(lab, "DownloadChunk", node=node, token=tok, channelId=guid_of(room),
                             reposFileName=name, offset=len(out),
                             bufferSize=buffer or 1024 * 1024)
        assert status == 200, chunk
        out += base64.b64decode(chunk)
        if int(size) == 0:
            break
    return out


def files_of(lab, room, node=0):
    """pchat.file.list of a room: {stored name: {field: value}}."""
    out = lab.kamcmd("pchat.file.list", room, node=node)
    files = {}
    for block in re.split(r"\n(?=\t?\{)", out):
        fields = dict(re.findall(r"^\s*(\w+): ?(.*)$", block, re.M))
        if "name" in fields:
            files[fields["name"]] = fields
    return files


def repository(lab):
    return lab.env["PCHAT_FILE_ROOT"]


def on_disk(lab, room):
    folder = os.path.join(repository(lab), guid_of(room))
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


# ---------------------------------------------------------------- tokens and the web service

def test_a_token_names_the_pools_web_service(lab, clients, room):
    a = clients("alice")
    tok, uri = token(a, room, "notes.txt")
    assert re.fullmatch(r"[0-9a-f-]{36}", tok)
    assert uri == lab.env["PCHAT_HTTPS_URL"] + SERVICE
    # the token is kept as its hash only
    assert lab.sql("SELECT COUNT(*) FROM pchat_file_token WHERE token_hash = UNHEX(SHA2('%s', "
                   "256))" % tok) == [["1"]]
    assert tok not in json.dumps(lab.sql("SELECT HEX(token_hash), user, requested_name FROM "
                                         "pchat_file_token"))
    assert soap(lab, "GetMaxFileSizeInKB") == (200, "20000")
    assert soap(lab, "GetMaxRequestContentInKB") == (200, "1024")


def test_20_mb_up_through_one_node_and_down_through_the_other(lab, clients, room):
    data = os.urandom(20 * 1000 * 1000)  # 20 MB, within Lync's 20000 KB
    a, b = clients("alice", node=0), clients("bob", node=1)
    name = upload(lab, a, room, data, "big.bin", node=0)
    assert re.fullmatch(r"[0-9a-f-]{36}\.bin", name)
    got = download(lab, b, room, name, node=1)
    assert got == data
    info = files_of(lab, room)[name]
    assert info["state"] == "complete" and int(info["size"]) == len(data)
    assert info["sha256"] == hashlib.sha256(data).hexdigest()
    assert info["original"] == "big.bin" and info["uploader"] == "sip:alice@pchat.test"
    # on disk under the room, complete, nothing else visible
    assert on_disk(lab, room) == [name]
    with open(os.path.join(repository(lab), guid_of(room), name), "rb") as f:
        assert f.read() == data


def test_an_empty_file(lab, clients, room):
    a = clients("alice")
    name = upload(lab, a, room, b"", "empty.txt")
    assert files_of(lab, room)[name]["state"] == "complete"
    assert download(lab, a, room, name) == b""


def test_wrong_tokens_are_refused(lab, clients, room):
    other = lab.new_room("other")
    a = clients("alice")
    tok, _ = token(a, room, "a.txt")
    status, name = soap(lab, "RequestUniqueFilenameWithExtension", token=tok,
                        channelId=guid_of(room), extension="txt")
    assert status == 200
    chunk = base64.b64encode(b"hello").decode()
    # forged, another room's, the wrong direction
    refused(soap(lab, "AppendChunk", token="3f2504e0-4f89-41d3-9a0c-0305e82c3301",
                 channelId=guid_of(room), uniqueFilename=name, fileChunk=chunk, offset=0,
                 fileLength=5), "token")
    refused(soap(lab, "AppendChunk", token="not a token", channelId=guid_of(room),
                 uniqueFilename=name, fileChunk=chunk, offset=0, fileLength=5), "token")
    refused(soap(lab, "AppendChunk", token=tok, channelId=guid_of(other), uniqueFilename=name,
                 fileChunk=chunk, offset=0, fileLength=5), "token")
    refused(soap(lab, "DownloadChunk", token=tok, channelId=guid_of(room), reposFileName=name,
                 offset=0, bufferSize=10), "token")
    # one token, one upload: the name asked for again is the same; another name is refused
    assert soap(lab, "RequestUniqueFilenameWithExtension", token=tok, channelId=guid_of(room),
                extension="pdf") == (200, name)
    refused(soap(lab, "AppendChunk", token=tok, channelId=guid_of(room),
                 uniqueFilename="3f2504e0-4f89-41d3-9a0c-0305e82c3301.txt", fileChunk=chunk,
                 offset=0, fileLength=5), "not for that upload")
    # expired
    lab.sql("UPDATE pchat_file_token SET expires = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND WHERE "
            "token_hash = UNHEX(SHA2('%s', 256))" % tok)
    refused(soap(lab, "AppendChunk", token=tok, channelId=guid_of(room), uniqueFilename=name,
                 fileChunk=chunk, offset=0, fileLength=5), "token")
    # a download token is for a file the room has
    assert token(a, room, "nothing-here.txt", upload=False) == (404, None)
    assert on_disk(lab, room) == []


def test_chunks_out_of_order_or_too_large_are_refused(lab, clients, room):
    a = clients("alice")
    tok, _ = token(a, room, "a.bin")
    _, name = soap(lab, "RequestUniqueFilenameWithExtension", token=tok, channelId=guid_of(room),
                   extension="bin")

    def append(data, offset, length):
        return soap(lab, "AppendChunk", token=tok, channelId=guid_of(room), uniqueFilename=name,
                    fileChunk=base64.b64encode(data).decode(), offset=offset, fileLength=length)
    assert append(b"x" * 10, 0, 30) == (200, "10")
    refused(append(b"y" * 10, 15, 30), "skips")
    refused(append(b"y" * 10, 5, 30), "overlaps")
    refused(append(b"y" * 10, 10, 31), "differs")
    refused(append(b"y" * 25, 10, 30), "past the file's length")
    # a chunk above GetMaxRequestContentInKB, a file above GetMaxFileSizeInKB
    refused(append(b"z" * (1024 * 1024 + 1), 10, 30), "GetMaxRequestContentInKB")
    tok2, _ = token(a, room, "huge.bin")
    _, name2 = soap(lab, "RequestUniqueFilenameWithExtension", token=tok2,
                    channelId=guid_of(room), extension="bin")
    refused(soap(lab, "AppendChunk", token=tok2, channelId=guid_of(room), uniqueFilename=name2,
                 fileChunk="AAAA", offset=0, fileLength=20000 * 1024 + 1), "maximum file size")
    # what was taken is intact, and nothing is visible but the part being uploaded
    assert append(b"y" * 20, 10, 30) == (200, "30")
    assert download(lab, a, room, name) == b"x" * 10 + b"y" * 20
    assert on_disk(lab, room) == [name]
    # a complete file takes no more
    refused(append(b"y", 30, 30), "complete")


def test_malformed_soap_is_a_fault_not_a_crash(lab):
    for body in [b"", b"<notxml", b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY e SYSTEM "
                 b"'file:///etc/passwd'>]><x>&e;</x>", b'<soap:Envelope xmlns:soap="%s">'
                 b'<soap:Body><Nope xmlns="%s"/></soap:Body></soap:Envelope>'
                 % (SOAP_NS.encode(), MS.encode())]:
        status, _, data = request(lab, "POST", SERVICE, body, {"Content-Type": "text/xml"})
        assert status == 500 and b"<soap:Fault>" in data, (body, status, data)
    assert soap(lab, "GetMaxFileSizeInKB")[0] == 200


def filepost_shown(client, name):
    """What a room search says of the room's file posting."""
    env = client.command("chansrch", '<qib qtype="BYNAME" criteria="%s" extended="false"/>'
                         % esc(name))
    entry = env.root.find(Q + "rpl/" + Q + "data/" + Q + "chanib")
    return {p.get("id"): p.text for p in entry.findall(Q + "prop")}[
        "urn:parlano:ma:prop:filepost"]


def test_the_category_switch_decides_uploads(lab, clients, room):
    lab.kamcmd("pchat.category.add", "NoFiles", "file_upload=no")
    lab.kamcmd("pchat.category.allowed.add", "NoFiles", lab.env["PCHAT_DOMAIN"])
    out = lab.kamcmd("pchat.room.add", "No files here", "NoFiles")
    closed = re.search(r"ma-chan://\S+", out).group(0)
    a = clients("alice")
    assert token(a, closed, "a.txt") == (403, None)
    # and listings say so
    assert filepost_shown(a, "No files here") == "false"
    assert filepost_shown(a, "test " + guid_of(room)[:8]) == "true"


# ---------------------------------------------------------------- posts

def test_a_post_links_only_its_rooms_existing_files(lab, clients, room):
    other = lab.new_room("other")
    a = clients("alice")
    a.join(room)
    a.join(other)
    name = upload(lab, a, room, b"the minutes", "minutes.txt")
    link = "ma-filelink://%s/%s/%s" % (lab.env["PCHAT_DOMAIN"], guid_of(room), name)
    assert a.post(room, "minutes: " + link).status == 200
    assert a.post(other, "minutes: " + link).status == 403
    missing = "ma-filelink://%s/%s/%s" % (lab.env["PCHAT_DOMAIN"], guid_of(room),
                                          "3f2504e0-4f89-41d3-9a0c-0305e82c3301.txt")
    assert a.post(room, missing).status == 404
    assert a.post(room, link[:-4] + "/../../etc/passwd").status == 400
    assert [c for _, _, c in lab.stored(room)] == ["<chat>minutes: %s</chat>" % link]


# ---------------------------------------------------------------- the plain interface

def curl(lab, *args, node=0):
    res = subprocess.run(["curl", "-sS", "--cacert", lab.env["PCHAT_TLS_CA"], "-D", "-"]
                         + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         timeout=60)
    head, _, body = res.stdout.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v for k, v in (l.split(": ", 1) for l in lines[1:] if ": " in l)}
    return status, headers, body


def url(lab, path, node=0):
    return "https://127.0.0.1:%d%s" % (https_port(lab, node), path)


def test_plain_upload_and_ranged_download_with_curl(lab, clients, room, tmp_path):
    a = clients("alice")
    data = os.urandom(300000)
    src = tmp_path / "page.html"
    src.write_bytes(data)
    tok, _ = token(a, room, "page.html")
    status, _, body = curl(lab, "-X", "PUT", "--data-binary", "@%s" % src,
                           "-H", "Authorization: Bearer %s" % tok, url(lab, UPLOAD))
    assert status == 200, body
    state = json.loads(body)
    assert state["complete"] and state["size"] == len(data)
    name = state["name"]
    assert state["link"] == "ma-filelink://%s/%s/%s" % (lab.env["PCHAT_DOMAIN"], guid_of(room),
                                                        name)
    dtok, _ = token(a, room, name, upload=False)
    path = "/PersistentChat/files/%s/%s" % (guid_of(room), name)
    status, headers, body = curl(lab, "-r", "1000-1999", url(lab, path + "?token=" + dtok))
    assert status == 206 and body == data[1000:2000]
    assert headers["content-range"] == "bytes 1000-1999/%d" % len(data)
    # an HTML file is an attachment that no browser runs on this origin
    status, headers, body = curl(lab, "-H", "Authorization: Bearer %s" % dtok,
                                 url(lab, path, node=1))
    assert status == 200 and body == data
    assert headers["content-type"] == "application/octet-stream"
    assert headers["content-disposition"].startswith('attachment; filename="page.html"')
    assert headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert headers["x-content-type-options"] == "nosniff"
    # without the token, another file's path, a path trick: refused
    assert curl(lab, url(lab, path))[0] == 403
    assert curl(lab, url(lab, "/PersistentChat/files/%s/%s?token=%s" % (
        guid_of(room), "3f2504e0-4f89-41d3-9a0c-0305e82c3301.txt", dtok)))[0] == 404
    assert curl(lab, "--path-as-is", url(lab, "/PersistentChat/files/../../../etc/passwd?token="
                                          + dtok))[0] in (400, 404)
    assert curl(lab, url(lab, "/PersistentChat/files/%s/%s%%00.txt?token=%s" % (
        guid_of(room), name, dtok)))[0] == 400
    assert curl(lab, "-r", "999999-", url(lab, path + "?token=" + dtok))[0] == 416


def test_an_empty_file_through_the_plain_interface(lab, clients, room):
    a = clients("alice")
    tok, _ = token(a, room, "empty.txt")
    status, _, body = request(lab, "PUT", UPLOAD, b"", {"Authorization": "Bearer " + tok})
    state = json.loads(body)
    assert status == 200 and state["complete"] and state["size"] == 0
    status, _, body = request(lab, "GET", UPLOAD, None, {"Authorization": "Bearer " + tok})
    assert json.loads(body)["complete"]
    # an upload token never downloads
    status, _, _ = request(lab, "GET", "/PersistentChat/files/%s/%s?token=%s" % (
        guid_of(room), state["name"], tok))
    assert status == 403


def test_a_plain_upload_resumes_where_it_stopped(lab, clients, room):
    a = clients("alice")
    data = os.urandom(5000)
    tok, _ = token(a, room, "part.bin")
    hdr = {"Authorization": "Bearer " + tok}
    status, _, body = request(lab, "PUT", UPLOAD + "?offset=0&length=5000", data[:2000], hdr)
    assert status == 200 and json.loads(body)["size"] == 2000
    status, _, body = request(lab, "GET", UPLOAD, None, hdr, node=1)
    state = json.loads(body)
    assert status == 200 and state["size"] == 2000 and not state["complete"]
    # an overlap is refused with where to go on
    status, _, body = request(lab, "PUT", UPLOAD + "?offset=1000&length=5000", data[1000:], hdr)
    assert status == 409 and "overlaps" in json.loads(body)["error"]
    status, _, body = request(lab, "PUT", UPLOAD + "?offset=2000&length=5000", data[2000:], hdr,
                              node=1)
    assert status == 200 and json.loads(body)["complete"]
    assert download(lab, a, room, json.loads(body)["name"]) == data


# ---------------------------------------------------------------- removal

def test_removing_a_room_or_a_file_removes_the_bytes(lab, clients, room):
    a = clients("alice")
    keep = upload(lab, a, room, b"keep", "keep.txt")
    drop = upload(lab, a, room, b"drop", "drop.txt")
    dtok, _ = token(a, room, drop, upload=False)
    assert lab.kamcmd("pchat.file.remove", room, drop).strip() == "removed"
    # no longer served at once, gone from the disk at the next sweep
    refused(soap(lab, "GetFileSize", token=dtok, channelId=guid_of(room), reposFileName=drop),
            "no such file")
    assert wait_for(lambda: on_disk(lab, room) == [keep], timeout=SWEEP + 10)
    assert lab.kamcmd("pchat.file.remove", room, drop, check=False).find("no file") >= 0
    lab.kamcmd("pchat.room.remove", room)
    assert wait_for(lambda: on_disk(lab, room) == [], timeout=SWEEP + 10)
    assert lab.sql("SELECT COUNT(*) FROM pchat_file WHERE room_guid = '%s'" % guid_of(room)) \
        == [["0"]]


def test_removed_bytes_stay_until_the_compliance_service_exported_their_events(lab, clients,
                                                                               room, recording):
    a = clients("alice")
    name = upload(lab, a, room, b"held for the archive", "held.txt")
    assert lab.kamcmd("pchat.file.remove", room, name).strip() == "removed"
    # several sweeps later the bytes are still there: their FILEUPLOAD waits for export
    time.sleep(3 * SWEEP + 1)
    assert on_disk(lab, room) == [name]
    lab.kamcmd("pchat.compliance.run")
    assert wait_for(lambda: on_disk(lab, room) == [], timeout=30), \
        "the bytes stayed after their events were exported"


def test_an_abandoned_upload_is_cleaned_after_its_token_expired(lab, clients, room):
    a = clients("alice")
    tok, _ = token(a, room, "half.bin")
    _, name = soap(lab, "RequestUniqueFilenameWithExtension", token=tok, channelId=guid_of(room),
                   extension="bin")
    assert soap(lab, "AppendChunk", token=tok, channelId=guid_of(room), uniqueFilename=name,
                fileChunk="AAAA", offset=0, fileLength=100)[0] == 200
    assert on_disk(lab, room) == [".%s.part" % name]
    # kept while its token is valid, cleaned once it expired
    time.sleep(2 * SWEEP + 1)
    assert on_disk(lab, room) == [".%s.part" % name]
    lab.sql("UPDATE pchat_file_token SET expires = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND WHERE "
            "token_hash = UNHEX(SHA2('%s', 256))" % tok)
    assert wait_for(lambda: on_disk(lab, room) == [], timeout=SWEEP + 10)


def test_a_full_disk_refuses_the_chunk_and_the_upload_resumes(lab, clients, room):
    """The room's folder on a small file system of its own: the chunk that does not fit is
    refused as the server's fault, nothing partial is visible, chat goes on, and once there is
    room the upload goes on from the bytes the service kept."""
    folder = os.path.join(repository(lab), guid_of(room))
    os.makedirs(folder, exist_ok=True)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", folder],
                      stderr=subprocess.DEVNULL).returncode != 0:
        pytest.skip("mounting a small file system needs CAP_SYS_ADMIN")
    try:
        a = clients("alice")
        a.join(room)
        data = os.urandom(600 * 1024)
        tok, _ = token(a, room, "big.bin")
        _, name = soap(lab, "RequestUniqueFilenameWithExtension", token=tok,
                       channelId=guid_of(room), extension="bin")
        chunk, offset, outcome = 100 * 1024, 0, None
        while offset < len(data):
            outcome = soap(lab, "AppendChunk", token=tok, channelId=guid_of(room),
                           uniqueFilename=name, offset=offset, fileLength=len(data),
                           fileChunk=base64.b64encode(data[offset:offset + chunk]).decode())
            if outcome[0] != 200:
                break
            offset += chunk
        refused(outcome, "the repository is full")
        assert 0 < offset < len(data)
        assert on_disk(lab, room) == [".%s.part" % name]
        assert a.post(room, "the disk is full, the chat is not").status == 200
        assert soap(lab, "GetFileSize", token=tok, channelId=guid_of(room),
                    reposFileName=name) == (200, str(offset))
        subprocess.run(["mount", "-o", "remount,size=2m", folder], check=True)
        while offset < len(data):
            assert soap(lab, "AppendChunk", token=tok, channelId=guid_of(room),
                        uniqueFilename=name, offset=offset, fileLength=len(data),
                        fileChunk=base64.b64encode(data[offset:offset + chunk]).decode())[0] \
                == 200
            offset += chunk
        assert download(lab, a, room, name) == data
    finally:
        subprocess.run(["umount", folder])


# ---------------------------------------------------------------- compliance

def test_uploads_and_downloads_are_recorded(lab, clients, room, recording):
    out = recording
    a = clients("alice")
    name = upload(lab, a, room, b"for the record", "record.txt")
    # one download in five chunks, one in one: one event per token
    assert download(lab, a, room, name, buffer=3) == b"for the record"
    dtok, _ = token(a, room, name, upload=False)
    path = "/PersistentChat/files/%s/%s?token=%s" % (guid_of(room), name, dtok)
    assert request(lab, "HEAD", path)[0] == 200  # no download: not recorded
    assert request(lab, "GET", path)[2] == b"for the record"
    events = [dict(zip(("type", "user", "content", "detail"), r)) for r in lab.sql(
        "SELECT kind, user, content, detail FROM pchat_compliance_event WHERE room_uri = "
        "'%s' ORDER BY id" % room)]
    files = [e for e in events if e["type"] in ("FILEUPLOAD", "FILEDOWNLOAD")]
    # one upload, one download per token
    assert [e["type"] for e in files] == ["FILEUPLOAD", "FILEDOWNLOAD", "FILEDOWNLOAD"]
    assert all(e["content"] == name and e["user"] == "sip:alice@pchat.test" for e in files)
    detail = json.loads(files[0]["detail"])
    assert detail == {"original": "record.txt", "size": 14,
                      "sha256": hashlib.sha256(b"for the record").hexdigest()}
    # and they reach the export
    lab.kamcmd("pchat.compliance.run")
    assert wait_for(lambda: any(f.endswith(".jsonl") for f in os.listdir(out)), timeout=30)
    exported = []
    for f in os.listdir(out):
        if f.endswith(".jsonl"):
            with open(os.path.join(out, f)) as fh:
                exported += [json.loads(line) for line in fh]
    assert [e["type"] for e in exported if e["content"] == name] == [
        "FILEUPLOAD", "FILEDOWNLOAD", "FILEDOWNLOAD"]


# ---------------------------------------------------------------- load

def test_many_downloads_at_once_are_served_or_refused_cleanly(lab, clients, room):
    a = clients("alice")
    a.join(room)
    data = os.urandom(256 * 1024)
    name = upload(lab, a, room, data, "popular.bin")
    dtok, _ = token(a, room, name, upload=False)
    path = "/PersistentChat/files/%s/%s?token=%s" % (guid_of(room), name, dtok)
    outcomes = []

    def fetch():
        try:
            status, _, body = request(lab, "GET", path, timeout=60)
            outcomes.append("ok" if status == 200 and body == data else "status %d" % status)
        except (OSError, http.client.HTTPException) as e:
            outcomes.append("refused: %s" % type(e).__name__)
    threads = [threading.Thread(target=fetch) for _ in range(1000)]
    for t in threads:
        t.start()
    # chat goes on meanwhile
    assert a.post(room, "still here").status == 200
    for t in threads:
        t.join(120)
    bad = [o for o in outcomes if o != "ok" and not o.startswith("refused")
           and o != "status 503"]
    assert len(outcomes) == 1000 and not bad, bad[:5]
    assert outcomes.count("ok") >= 32
    # the service is still there
    assert request(lab, "GET", path)[0] == 200
