"""net.site_page: the site's page from one webserver, asked for by the site's name, against a real HTTP server on
loopback (the build's checks, the drill and the autoscaler's readiness probe all read it)."""

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from adt.net import site_page


class Site(BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"<title>{self.headers['Host']}</title>{'x' * 1000}".encode()
        self.send_response(200 if self.headers["Host"] == "www.example.com" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def port():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_port
    server.shutdown()
    server.server_close()


def test_the_page_is_asked_for_by_the_sites_name(port):
    status, page = site_page("127.0.0.1", "www.example.com", timeout=5, port=port)
    assert status == 200 and page.startswith("<title>www.example.com</title>") and len(page) > 1000
    assert site_page("127.0.0.1", "other.example.com", timeout=5, port=port)[0] == 404
    assert len(site_page("127.0.0.1", "www.example.com", timeout=5, limit=40, port=port)[1]) == 40


def test_a_server_that_does_not_speak_http_is_an_oserror():
    listener = socket.create_server(("127.0.0.1", 0))

    def garbage():
        connection, _ = listener.accept()
        connection.recv(1024)
        connection.sendall(b"not http at all\r\n\r\n")
        connection.close()

    threading.Thread(target=garbage, daemon=True).start()
    with pytest.raises(OSError, match="BadStatusLine"):
        site_page("127.0.0.1", "www.example.com", timeout=5, port=listener.getsockname()[1])
    listener.close()


def test_nothing_listening_is_an_oserror():
    with socket.create_server(("127.0.0.1", 0)) as taken:
        free = taken.getsockname()[1]
    with pytest.raises(ConnectionRefusedError):
        site_page("127.0.0.1", "www.example.com", timeout=5, port=free)
