"""GET /metrics on the HTTPS service: the node's statistics in Prometheus' text format, for a
bearer token only (the lab gives its RPC token), never on the SIP port."""
import http.client
import re
import ssl

import pytest

from lab import start_lab


@pytest.fixture(scope="module")
def lab(request):
    return start_lab(request)


def get(lab, path, token=None):
    ctx = ssl.create_default_context(cafile=lab.env["PCHAT_TLS_CA"])
    conn = http.client.HTTPSConnection("127.0.0.1", int(lab.env["PCHAT_HTTPS_PORTS"].split()[0]),
                                       context=ctx, timeout=30)
    try:
        conn.request("GET", path, headers={"Authorization": "Bearer " + token} if token else {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read().decode()
    finally:
        conn.close()


def test_metrics_need_the_token(lab):
    assert get(lab, "/metrics")[0] == 401
    assert get(lab, "/metrics", "x" * 32)[0] == 401
    assert get(lab, "/metrics", lab.env["PCHAT_RPC_TOKEN"][:-1])[0] == 401


def test_metrics_are_the_nodes_statistics(lab, clients, room):
    a = clients("alice")
    a.join(room)
    assert a.post(room, "counted").status == 200
    status, headers, body = get(lab, "/metrics", lab.env["PCHAT_RPC_TOKEN"])
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    metrics = dict(re.findall(r"^(kamailio_\w+) (\d+)$", body, re.M))
    # the module's and Kamailio's own, as kamcmd shows them
    assert int(metrics["kamailio_pchat_posts"]) >= 1
    assert int(metrics["kamailio_pchat_sessions"]) == lab.stat("sessions") == 1
    assert "kamailio_shmem_free_size" in metrics and "kamailio_core_rcv_requests" in metrics
    # every sample has its HELP and TYPE lines, names in Prometheus' alphabet
    for name in metrics:
        assert re.search(r"^# TYPE %s untyped$" % name, body, re.M)
        assert re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", name)


def test_metrics_are_not_on_the_sip_port(lab):
    try:
        status, _ = lab.http_rpc("pchat.status", path="/metrics", http_method="GET")
    except http.client.HTTPException:
        return  # closed without an answer
    assert status != 200
