"""The browser suite's machinery against a one-node lab: headless Debian Chromium reaches the
module's HTTPS service over TLS verified by the lab CA (and refuses a name the certificate does
not cover), sees the service's JSON and security headers, and takes screenshots; a file uploaded
to a room is, in the browser, a download that runs no script, and the file service's CSP alone
would stop the script too; the driver's page steps work and report errors."""
import json
import os
import re
import subprocess

import pytest

from browser import BrowserError
from xccos import Q, esc, resp_code

SECURITY_HEADERS = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer",
                    "cache-control": "no-store",
                    "strict-transport-security": "max-age=31536000"}
HEALTH = {"node": "node1", "service": "pchat", "status": "ok"}
UPLOAD = "/PersistentChat/files/upload"
# The title tells what ran: "inert" when the page rendered without its script, "pwned" when the
# script ran, "" when the browser never rendered the file.
HOSTILE_HTML = (b"<!DOCTYPE html><html><head><title>inert</title></head><body>"
                b"<script>document.title='pwned'</script><p>an attachment</p></body></html>")
FILE_CSP = "default-src 'none'; sandbox"


def ca_subject(lab):
    out = subprocess.run(["openssl", "x509", "-noout", "-subject", "-nameopt", "multiline",
                          "-in", lab.env["PCHAT_TLS_CA"]], stdout=subprocess.PIPE, text=True,
                         check=True).stdout
    return re.search(r"commonName\s*=\s*(.+)", out).group(1).strip()


def test_health_over_tls_verified_by_the_lab_ca(lab, browser):
    got = browser.goto(lab.env["PCHAT_HTTPS_URL"] + "/health")
    assert "response" in got, got
    resp = got["response"]
    assert resp["status"] == 200
    assert resp["headers"]["content-type"] == "application/json"
    for name, value in SECURITY_HEADERS.items():
        assert resp["headers"].get(name) == value, (name, resp["headers"])
    assert json.loads(resp["body"]) == HEALTH
    # what the browser shows is the same JSON
    assert json.loads(browser.text("body")) == HEALTH
    # the connection Chromium made: TLS, the lab's server certificate, issued by the lab CA
    assert resp["tls"]["protocol"] in ("TLS 1.3", "TLS 1.2"), resp["tls"]
    assert resp["tls"]["subjectName"] in ("127.0.0.1", "localhost"), resp["tls"]
    assert resp["tls"]["issuer"] == ca_subject(lab), resp["tls"]
    shot = browser.screenshot("health")
    with open(shot, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert os.path.getsize(shot) > 1000


def test_a_name_the_certificate_does_not_cover_is_refused(lab, browser):
    # Chromium sends every *.localhost name to loopback itself: the same server, a name its
    # certificate does not carry. Errors are not ignored, so the page never loads.
    port = lab.https_ports[0]
    with pytest.raises(BrowserError, match="ERR_CERT_COMMON_NAME_INVALID"):
        browser.goto("https://pchat.localhost:%d/health" % port)


def download_token(client, room, name):
    env = client.command("getfdtok", '<ftdb channelUri="%s" fileUrl="%s"/>' % (room, esc(name)))
    assert resp_code(env) == 200, env
    return env.root.find(Q + "rpl/" + Q + "data/" + Q + "token").get("token")


def uploaded_page(lab, client, room, tmp_path):
    """Uploads HOSTILE_HTML to the room through the plain interface; its download URL."""
    env = client.command("getfutok", '<ftdb channelUri="%s" fileUrl="page.html"/>' % room)
    assert resp_code(env) == 200, env
    tok = env.root.find(Q + "rpl/" + Q + "data/" + Q + "token").get("token")
    src = tmp_path / "page.html"
    src.write_bytes(HOSTILE_HTML)
    out = subprocess.run(["curl", "-sS", "--fail-with-body", "--cacert", lab.env["PCHAT_TLS_CA"],
                          "-X", "PUT", "--data-binary", "@%s" % src, "-H",
                          "Authorization: Bearer %s" % tok, lab.env["PCHAT_HTTPS_URL"] + UPLOAD],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=30)
    assert out.returncode == 0, out.stdout
    state = json.loads(out.stdout)
    assert state["complete"], state
    return "%s/PersistentChat/files/%s/%s?token=%s" % (
        lab.env["PCHAT_HTTPS_URL"], room.rsplit("/", 1)[1], state["name"],
        download_token(client, room, state["name"]))


def test_an_uploaded_html_file_is_a_download_that_runs_no_script(lab, browser, clients, room,
                                                                   tmp_path):
    url = uploaded_page(lab, clients("alice"), room, tmp_path)
    got = browser.goto(url)
    assert "download" in got, "the browser rendered the file: %r" % got
    assert got["download"]["failure"] is None
    assert got["download"]["filename"] == "page.html"
    with open(got["download"]["path"], "rb") as f:
        assert f.read() == HOSTILE_HTML
    # the page stayed the blank one it was, and nothing of the file ran in it
    assert browser.title() == ""


def test_rendered_anyway_the_files_csp_stops_the_script(lab, browser, clients, room, tmp_path):
    """As if a proxy on the way had dropped Content-Disposition and made the file text/html: the
    service's CSP still keeps the script from running. Without the CSP too, it runs: the check
    can tell."""
    url = uploaded_page(lab, clients("alice"), room, tmp_path)
    inline = {"content-type": "text/html", "content-disposition": None}
    got = browser.goto(url, rewrite=inline)
    assert got["response"]["headers"]["content-security-policy"] == FILE_CSP
    assert got["title"] == "inert"
    assert browser.text("p") == "an attachment"
    browser.screenshot("inline-with-csp")
    got = browser.goto(url, rewrite=dict(inline, **{"content-security-policy": None}))
    assert got["title"] == "pwned"


def test_page_steps_and_their_errors(browser):
    browser.goto("data:text/html,<input id=who><button onclick=\"out.textContent='hello, '+"
                 "who.value\">greet</button><p id=out></p><p>second</p>")
    browser.fill("#who", "alice")
    browser.click("text=greet")
    assert browser.text("#out") == "hello, alice"
    # a step the page cannot do is the browser's word, and the driver goes on
    with pytest.raises(BrowserError, match="strict mode violation"):
        browser.text("p")
    with pytest.raises(BrowserError, match="unknown command"):
        browser.call("nothing")
    assert browser.text("#out") == "hello, alice"
