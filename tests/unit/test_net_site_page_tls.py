"""net.site_page and the autoscaler's probes over HTTPS: to the address's port 443, naming the site in SNI and Host, a
certificate not verified (a liveness probe by address), against a real TLS server on loopback."""

import http.server
import random
import ssl
import threading

import pytest

from adt.net import site_page
from adt.scaling.cycle import serves, web_answers
from tests.services.testca import TestCA


class Site(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"<title>{self.headers['Host']}</title>".encode()
        self.send_response(200 if self.path == "/" else 204)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def serve_tls(tmp_path, ip="127.0.0.1", port=0):
    """A TLS server whose certificate names another site (a probe must not care) and that records SNI."""
    pair = TestCA().issue(["www.elsewhere.example"])
    (tmp_path / "c.pem").write_bytes(pair.fullchain)
    (tmp_path / "k.pem").write_bytes(pair.privkey)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")
    names = []
    context.sni_callback = lambda sock, name, ctx: names.append(name)
    server = http.server.ThreadingHTTPServer((ip, port), Site)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, names


@pytest.fixture
def tls_site(tmp_path):
    server, names = serve_tls(tmp_path)
    yield server.server_port, names
    server.shutdown()
    server.server_close()


def test_the_page_over_https_names_the_site_in_sni_and_host(tls_site):
    port, names = tls_site
    status, page = site_page("127.0.0.1", "www.example.com", timeout=5, port=port, tls=True)
    assert (status, page) == (200, "<title>www.example.com</title>") and names == ["www.example.com"]


def test_plain_http_to_a_tls_port_is_an_oserror_and_tls_to_a_plain_one_too(tls_site):
    port, _ = tls_site
    with pytest.raises(OSError):
        site_page("127.0.0.1", "www.example.com", timeout=5, port=port)
    plain = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Site)
    threading.Thread(target=plain.serve_forever, daemon=True).start()
    try:
        with pytest.raises(ssl.SSLError):
            site_page("127.0.0.1", "www.example.com", timeout=5, port=plain.server_port, tls=True)
    finally:
        plain.shutdown()
        plain.server_close()


def test_the_autoscalers_probes_go_to_443_with_tls(tmp_path):
    """A webserver serving HTTPS only (on its own loopback address): the probes find it with tls, not without."""
    ip = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"
    server, names = serve_tls(tmp_path, ip, 443)
    try:
        assert web_answers(ip, 2, "www.example.com", tls=True) and serves(ip, "www.example.com", 2, tls=True)
        assert names == ["www.example.com", "www.example.com"]
        assert not web_answers(ip, 2, "www.example.com") and not serves(ip, "www.example.com", 2)
    finally:
        server.shutdown()
        server.server_close()
