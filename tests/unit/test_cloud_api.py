"""The local cloud host's HTTP API: its checks (pure), its answers before it acts, and its client's calls,
retries and errors against a real HTTP server on loopback."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from adt import cloud
from adt.build.cloudapi import (
    MAX_BODY,
    CloudApi,
    NewServer,
    Refused,
    authorized,
    check_client,
    check_identifier,
    check_name,
    check_new_server,
    check_pattern,
    check_settings,
    route,
    user_data,
)
from adt.cloud.api import ApiDriver, settings_text
from adt.cloud.base import Server, UserData
from adt.cloud.local import LocalDriver
from adt.errors import AdtError

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB9yq2l1cmVkS2V5Rm9yVGVzdHNPbmx5MDEyMzQ1Njc4OQ adt@build"
SETTINGS = "SERVERUSER:Xabc123X\nS3SECRETKEY:s3cr3t:with:colons\nWEBSITEURL:www.example.com\n"


def body(**changes):
    base = {"name": "ws-local-t-1-Xabc-k2p9", "size": "local", "settings": SETTINGS, "ssh_port": 2222,
            "authorized_key": KEY}  # fmt: skip
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def refused(status, match, call, *args):
    with pytest.raises(Refused, match=match) as caught:
        call(*args)
    assert caught.value.status == status
    return caught.value


# -- names, filters, identifiers ----------------------------------------------------------------------
@pytest.mark.parametrize("name", ["ws-local-t-1-Xabc-k2p9", "ws-local-t-0-Xab1-init-1", "ws-a", "ws-" + "a" * 57])
def test_webserver_names_pass(name):
    assert check_name(name) == name


@pytest.mark.parametrize(
    "name, role",
    [("db-local-t-Xabc", "database"), ("NO-1-as-local-t-Xabc", "autoscaler"), ("ws-local-as-x", "autoscaler"),
     ("NO-1-rp-local-t", "reverseproxy"), ("NO-1-auth-local-t", "authenticator")],
)  # fmt: skip
def test_other_roles_are_forbidden_and_named(name, role):
    article = "an" if role in ("autoscaler", "authenticator") else "a"
    refused(403, f"names {article} {role} machine: this API makes and removes webservers only", check_name, name)


@pytest.mark.parametrize("name", ["ws-", "ws-../../etc", "ws-a/b", "ws-a_b", "ws-" + "a" * 58, "web-1", "ws-a\n"])
def test_bad_names_are_refused(name):
    refused(400, "is not a webserver name", check_name, name)


@pytest.mark.parametrize("name", ["", None, 7])
def test_a_name_must_be_a_string(name):
    refused(400, "name must be a non-empty string", check_name, name)


def test_name_filters():
    assert check_pattern("") == "" and check_pattern("ws-local-t-1") == "ws-local-t-1"
    refused(400, "name filter 'a b' may hold only letters, digits and '-'", check_pattern, "a b")
    refused(400, "64 at most", check_pattern, "a" * 65)


def test_build_identifiers():
    assert check_identifier("t") == "t" and check_identifier("prod-1") == "prod-1"
    for bad in ("../x", "Prod", "-a", "a" * 13, ""):
        refused(400, "is not one", check_identifier, bad)


# -- settings ---------------------------------------------------------------------------------------------
def test_settings_give_their_server_user():
    assert check_settings(SETTINGS) == "Xabc123X"
    assert check_settings("SERVERUSER:first\nSERVERUSER:second") == "first"  # the first line, as value() reads


@pytest.mark.parametrize(
    "text, match",
    [
        ("SERVERUSER:x\nno colon here\n", "settings line 2 is not KEY:value"),
        ("SERVERUSER:x\nlower:case\n", "settings line 2 is not KEY:value"),
        ("SERVERUSER:x\n:empty key\n", "settings line 2 is not KEY:value"),
        ("SERVERUSER:x\nKEY:a\x00b\n", r"settings line 2 \(KEY\) holds a control character"),
        ("SERVERUSER:x\r\n", r"settings line 1 \(SERVERUSER\) holds a control character"),
        ("WEBSITEURL:www.example.com\n", "settings have no SERVERUSER line"),
        ("SERVERUSER:../../etc\n", "SERVERUSER '../../etc' is not a user name"),
        ("SERVERUSER:a/b\n", "SERVERUSER 'a/b' is not a user name"),
        ("SERVERUSER:\n", "SERVERUSER '' is not a user name"),
        ("SERVERUSER:.hidden\n", "SERVERUSER '.hidden' is not a user name"),
        ("SERVERUSER:" + "a" * 33 + "\n", "is not a user name"),
        ("SERVERUSER:x\n" + "K:v\n" * 500, "settings have 501 lines, more than 500"),
        ("SERVERUSER:x\nK:" + "v" * 49152 + "\n", "settings are larger than 49152 bytes"),
        (["SERVERUSER:x"], "settings must be a string of KEY:value lines"),
    ],
)
def test_bad_settings_are_refused_naming_the_problem(text, match):
    refused(400, match, check_settings, text)


# -- the create body ----------------------------------------------------------------------------------
def test_a_whole_create_body_is_checked():
    assert check_new_server(body(image="img-0123456789ab")) == NewServer(
        "ws-local-t-1-Xabc-k2p9", "local", SETTINGS, "Xabc123X", 2222, KEY, "img-0123456789ab"
    )
    assert check_new_server(body()).image is None


@pytest.mark.parametrize(
    "changes, status, match",
    [
        ({"command": ["sh"]}, 400, "unknown field 'command'"),
        ({"user_data": {}}, 400, "unknown field 'user_data'"),
        ({"settings": None}, 400, "missing field 'settings'"),
        ({"name": "db-local-t-Xabc"}, 403, "names a database machine"),
        ({"name": "ws-../x"}, 400, "is not a webserver name"),
        ({"size": "s-1vcpu 1gb"}, 400, "size must be 1 to 64 letters"),
        ({"ssh_port": 0}, 400, "ssh_port '0' is not a port number"),
        ({"ssh_port": 65536}, 400, "ssh_port '65536' is not a port number"),
        ({"ssh_port": "22"}, 400, "ssh_port '22' is not a port number"),
        ({"ssh_port": True}, 400, "ssh_port 'True' is not a port number"),
        ({"authorized_key": KEY + "\n" + KEY}, 400, "authorized_key is not one OpenSSH public key line"),
        ({"authorized_key": 'command="sh" ' + KEY}, 400, "authorized_key is not one OpenSSH public key line"),
        ({"authorized_key": "ssh-dss AAAAB3NzaC1kc3MAAACBAP"}, 400, "authorized_key is not one OpenSSH public key"),
        ({"image": "../../etc"}, 400, "image '../../etc' is not an image id"),
        ({"settings": "SERVERUSER:../x\n"}, 400, "SERVERUSER '../x' is not a user name"),
    ],
)
def test_a_bad_create_body_is_refused_naming_the_field(changes, status, match):
    refused(status, match, check_new_server, body(**changes))


def test_a_body_must_be_an_object():
    refused(400, "the body must be a JSON object", check_new_server, [body()])


def test_the_server_writes_the_user_data_a_build_gives_a_webserver():
    data = user_data(check_new_server(body()), "/venv/bin/adt")
    assert data.files == {
        "/home/homedir.dat": ("/home/Xabc123X\n", 0o644),
        "/home/Xabc123X/runtime/webserver_configuration_settings.dat": (SETTINGS, 0o600),
    }
    assert list(data.command) == ["/venv/bin/adt", "machine", "bootstrap", "--role", "webserver"]
    assert data.environment == {}


# -- who may call, and what ---------------------------------------------------------------------------------
def test_the_token_is_a_bearer_token():
    assert authorized("Bearer tok", "tok") and authorized("Bearer tok ", "tok")
    for header in (None, "", "Bearer", "Bearer tok2", "bearer tok", "Basic tok", "tok"):
        assert not authorized(header, "tok"), header
    assert not authorized("Bearer ", "")  # no token: nobody is


def test_only_the_gateway_and_autoscalers_are_clients():
    check_client("10.0.0.1", "10.0.0.1", [])
    check_client("10.0.0.7", "10.0.0.1", ["10.0.0.7"])
    refused(403, "10.0.0.8 is neither the build machine nor an autoscaler of this VPC",
            check_client, "10.0.0.8", "10.0.0.1", ["10.0.0.7"])  # fmt: skip


def test_routes():
    assert route("GET", "/v1/servers") == ("list", "")
    assert route("POST", "/v1/servers") == ("create", "")
    assert route("GET", "/v1/snapshots") == ("snapshots", "")
    assert route("DELETE", "/v1/servers/ws-a") == ("destroy", "ws-a")
    assert route("POST", "/v1/firewalls/prod") == ("firewall", "prod")
    refused(405, "PUT is not allowed on /v1/servers", route, "PUT", "/v1/servers")
    refused(405, "GET is not allowed on servers/<name>", route, "GET", "/v1/servers/ws-a")
    refused(405, "DELETE is not allowed on firewalls/<name>", route, "DELETE", "/v1/firewalls/prod")
    for path in ("/", "/v2/servers", "/v1/servers/", "/v1/servers/a/b", "/v1/images"):
        refused(404, "no such endpoint", route, "GET", path)


class Listing:
    """A driver that only lists (the answers below refuse before anything else is asked of it)."""

    gateway = "10.0.0.1"

    def __init__(self, servers):
        self.servers = servers
        self.called = []

    def list_servers(self, pattern=""):
        return [s for s in self.servers if pattern in s.name]

    def __getattr__(self, name):  # anything else would act: recorded, and the test says it must not happen
        self.called.append(name)
        raise AssertionError(f"{name} was called")


AUTOSCALER = Server("NO-1-as-local-t-Xabc", "x", "autoscaler", "10.0.0.5", "10.0.0.5", "running")
STOPPED = Server("NO-2-as-local-t-Xabc", "x", "autoscaler", "10.0.0.6", "10.0.0.6", "stopped")
WEBSERVER = Server("ws-local-t-1-Xabc-k2p9", "x", "webserver", "10.0.0.9", "10.0.0.9", "running")


def never(size):
    raise AssertionError("the body was read")


@pytest.mark.parametrize(
    "client, header, length, target, status, match",
    [
        ("10.0.0.5", "Bearer tok", MAX_BODY + 1, "/v1/servers", 413, "the body is larger than 65536 bytes"),
        ("10.0.0.5", "Bearer nope", 10, "/v1/servers", 401, "no valid token"),
        ("10.0.0.5", None, 10, "/v1/servers", 401, "no valid token"),
        ("10.0.0.9", "Bearer tok", 10, "/v1/servers", 403, "10.0.0.9 is neither the build machine nor an autoscaler"),
        ("10.0.0.6", "Bearer tok", 10, "/v1/servers", 403, "10.0.0.6 is neither"),  # a stopped autoscaler
        ("10.0.0.5", "Bearer tok", 10, "/v1/nothing", 404, "no such endpoint"),
        ("10.0.0.5", "Bearer tok", 10, "/v1/servers?name=a%20b", 400, "name filter 'a b'"),
    ],
)
def test_refused_before_the_body_is_read_or_anything_done(client, header, length, target, status, match):
    driver = Listing([AUTOSCALER, STOPPED, WEBSERVER])
    got = CloudApi(driver, "tok").answer("POST", target, client, header, length, never)
    assert got[0] == status and match in got[1]["error"]
    assert driver.called == []


def test_a_create_with_a_bad_body_acts_on_nothing():
    driver = Listing([AUTOSCALER])
    for data, match in ((b"{not json", "the body is not JSON"), (json.dumps(body(name="db-x")).encode(), "database")):
        status, payload = CloudApi(driver, "tok").answer(
            "POST", "/v1/servers", "10.0.0.5", "Bearer tok", len(data), lambda n, d=data: d[:n]
        )
        assert status in (400, 403) and match in payload["error"]
    assert driver.called == []


def test_a_destroy_of_an_unknown_or_other_machine_is_refused():
    driver = Listing([AUTOSCALER, WEBSERVER])
    api = CloudApi(driver, "tok")
    assert api.answer("DELETE", "/v1/servers/ws-gone", "10.0.0.1", "Bearer tok", 0, never) == (
        404, {"error": "no machine named ws-gone"})  # fmt: skip
    status, payload = api.answer("DELETE", f"/v1/servers/{AUTOSCALER.name}", "10.0.0.1", "Bearer tok", 0, never)
    assert status == 403 and "names an autoscaler machine" in payload["error"]
    assert driver.called == []


# -- the client -------------------------------------------------------------------------------------------
def test_the_client_sends_the_settings_file_only():
    data = UserData(files={"/home/homedir.dat": ("/home/u\n", 0o644),
                           "/home/u/runtime/webserver_configuration_settings.dat": (SETTINGS, 0o600)},
                    command=["rm", "-rf", "/"])  # fmt: skip
    assert settings_text(data) == SETTINGS
    with pytest.raises(AdtError, match=r"the user data holds 0 settings files \(\*_configuration_settings.dat\)"):
        settings_text(UserData(files={"/home/homedir.dat": ("/home/u\n", 0o644)}))


def test_the_client_needs_a_url_and_a_token():
    with pytest.raises(AdtError, match="'ftp://x' is not the cloud API's URL"):
        ApiDriver("ftp://x", "tok")
    with pytest.raises(AdtError, match="'http://u:p@10.0.0.1:8082' is not the cloud API's URL"):
        ApiDriver("http://u:p@10.0.0.1:8082", "tok")
    with pytest.raises(AdtError, match="no token for the cloud API at http://10.0.0.1:8082"):
        ApiDriver("http://10.0.0.1:8082", "")


def test_driver_gives_the_api_driver_with_an_api_url(tmp_path):
    assert isinstance(cloud.driver("local", api_url="http://10.0.0.1:8082", api_token="tok"), ApiDriver)
    local = cloud.driver("local", vpc="10.0.0.0/24", state_dir=str(tmp_path), api_url=None, api_token=None)
    assert isinstance(local, LocalDriver)


class Scripted:
    """A real HTTP server on loopback answering each request with the next (status, body) of a script."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.seen = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                outer.seen.append((self.command, self.path, self.headers.get("Authorization"),
                                   self.rfile.read(length).decode()))  # fmt: skip
                status, payload = outer.answers.pop(0)
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _any

            def log_message(self, *args):
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        threading.Thread(target=self.http.serve_forever, args=(0.02,), daemon=True).start()

    def close(self):
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def scripted():
    made = []

    def make(*answers):
        made.append(Scripted(answers))
        return made[-1]

    yield make
    for server in made:
        server.close()


SERVER = {"name": "ws-a", "id": "ws-a", "role": "webserver", "public_ip": "10.0.0.9", "private_ip": "10.0.0.9",
          "status": "running"}  # fmt: skip


def test_listing_is_tried_again_on_5xx_and_429_and_the_token_travels_in_a_header(scripted):
    server = scripted((503, {"error": "busy"}), (429, None), (200, [SERVER]))
    api = ApiDriver(server.url, "s3cr3t-token", backoff=0.001)
    assert api.list_servers("ws-a") == [Server(**SERVER)]
    assert [(m, p, a) for m, p, a, _ in server.seen] == [("GET", "/v1/servers?name=ws-a", "Bearer s3cr3t-token")] * 3


def test_a_create_is_never_sent_twice_and_errors_name_the_status_and_error(scripted):
    server = scripted((503, {"error": "the machine did not start"}))
    api = ApiDriver(server.url, "tok", backoff=0.001)
    data = UserData(files={"/home/u/runtime/webserver_configuration_settings.dat": (SETTINGS, 0o600)},
                    command=["never", "sent"])  # fmt: skip
    with pytest.raises(AdtError, match=r"the cloud API at http://127.0.0.1:\d+ answered 503 to POST /v1/servers: "
                                       r"the machine did not start"):  # fmt: skip
        api.create_server("ws-a", "local", data, 2222, KEY + "\n")
    assert len(server.seen) == 1
    sent = json.loads(server.seen[0][3])
    assert sent == {"name": "ws-a", "size": "local", "settings": SETTINGS, "ssh_port": 2222, "authorized_key": KEY}


def test_a_refusal_is_not_tried_again_and_a_destroyed_machine_gone_already_is_fine(scripted):
    server = scripted((403, {"error": "10.0.0.8 is neither"}), (404, {"error": "no machine named ws-a"}),
                      (200, ["ws-a: 3 rules"]))  # fmt: skip
    api = ApiDriver(server.url, "tok", backoff=0.001)
    with pytest.raises(AdtError, match="answered 403 to GET /v1/snapshots\\?name=: 10.0.0.8 is neither") as caught:
        api.list_snapshots()
    assert "only the build machine and the VPC's autoscalers" in caught.value.hint
    api.destroy_server("ws-a")
    assert api.refresh_firewall("prod") == ["ws-a: 3 rules"]
    assert [(m, p) for m, p, _, _ in server.seen] == [
        ("GET", "/v1/snapshots?name="), ("DELETE", "/v1/servers/ws-a"), ("POST", "/v1/firewalls/prod")]  # fmt: skip


def test_an_unreachable_api_is_tried_then_named(scripted):
    server = scripted()
    url = server.url
    server.close()  # nothing listens there now
    with pytest.raises(AdtError, match=f"cannot reach the cloud API at {url}"):
        ApiDriver(url, "tok", retries=2, backoff=0.001).list_servers()


def test_the_serve_command_is_there_but_not_listed(capsys):
    from adt.cli import main

    assert main(["--help"]) == 0
    assert "cloud-api" not in capsys.readouterr().out
    assert main(["cloud-api", "serve", "--help"]) == 0
    assert "--directory DIRECTORY" in capsys.readouterr().out


def test_every_cloud_host_gives_a_machine_the_same_first_boot():
    from adt.cloud.base import first_boot

    data = first_boot("database", "Xuser", "DBPORT:3306\n", "/opt/adt/bin/adt", {"/home/Xuser/.ssh/k": ("key", 0o600)})
    assert data.files == {"/home/homedir.dat": ("/home/Xuser\n", 0o644),
                          "/home/Xuser/runtime/database_configuration_settings.dat": ("DBPORT:3306\n", 0o600),
                          "/home/Xuser/.ssh/k": ("key", 0o600)}
    assert list(data.command) == ["/opt/adt/bin/adt", "machine", "bootstrap", "--role", "database"]
