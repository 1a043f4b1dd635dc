"""The seed's workflow end to end on the local cloud host: a development build, a WordPress site with a published
post, temporal backups, the development fleet shut down, then production (template 3) built from those backups:
every webserver serves the post, DNS lists exactly the webservers; a restore drill; a build from snapshots."""

import http.client
import http.cookiejar
import ipaddress
import json
import os
import re
import secrets
import subprocess
import urllib.parse
import urllib.request
import time
import xmlrpc.client
from pathlib import Path

import pytest

from adt.settings.template import Template
from tests.integration.conftest import BIN, ROOT
from tests.services.pebble import Pebble

VPC = "10.180.0.0/24"
URL = "www.adt-seed.local"


def adt(env, *args, timeout=600, input=None):
    return subprocess.run([str(BIN / "adt"), *args], env=env, capture_output=True, text=True, timeout=timeout,
                          input=input)


def script(env, path, *args, timeout=600, input=None):
    return subprocess.run([str(ROOT / path), *args], env=env, capture_output=True, text=True, timeout=timeout,
                          input=input)


def template(home, number, **values):
    path = home / f"{secrets.token_hex(3)}-local{number}.tmpl"
    t = Template.load(ROOT / "templates" / "local" / f"local{number}.tmpl").set("VPC_IP_RANGE", VPC)
    t = t.set("WEBSITE_URL", URL).set("WEBSITE_NAME", "adt-seed")
    for name, value in values.items():
        t = t.set(name, value)
    t.save(path)
    return path


def build(env, home, number, identifier, *extra, **values):
    result = script(env, "ExpeditedAgileDeploymentToolkit.sh", "local", "debian", str(number), identifier,
                    "--template-file", str(template(home, number, **values)), "--json", *extra)
    if result.returncode != 0:
        adt(env, "destroy", "-c", "local", "-b", identifier, "--yes")
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def page(ip, path="/", redirects=3):
    """A page of the site from one webserver, asked for by the site's name (redirects within the site are
    followed on the same webserver, as a browser whose DNS points there would)."""
    connection = http.client.HTTPConnection(ip, 80, timeout=60)
    try:
        connection.request("GET", path, headers={"Host": URL})
        response = connection.getresponse()
        body = response.read().decode("utf-8", "replace")
        location = urllib.parse.urlsplit(response.getheader("Location") or "")
    finally:
        connection.close()
    if response.status in (301, 302) and redirects:
        assert location.netloc == URL, (path, location)  # never to the development address
        return page(ip, location.path + (f"?{location.query}" if location.query else ""), redirects - 1)
    return response.status, body


def dig(server):
    result = subprocess.run(["dig", "+short", f"@{server}", URL, "A"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return sorted(result.stdout.split())


def install_and_post(site):
    """The WordPress installer, then a post published through XML-RPC; (post id, its unique text)."""
    user, password = "seedadmin", secrets.token_urlsafe(24)
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    form = {"weblog_title": "adt seed", "user_name": user, "admin_password": password, "admin_password2": password,
            "admin_email": "admin@example.com", "blog_public": "0", "language": "", "Submit": "Install WordPress"}
    with browser.open(site + "wp-admin/install.php?step=2", data=urllib.parse.urlencode(form).encode(),
                      timeout=120) as response:
        assert "WordPress has been installed" in response.read().decode()
    text = f"seed post {secrets.token_hex(8)}"
    client = xmlrpc.client.ServerProxy(site + "xmlrpc.php")
    post = client.wp.newPost(1, user, password, {"post_title": text, "post_content": f"<p>{text}</p>",
                                                 "post_status": "publish"})
    return int(post), text


def store(env, identifier="seedprod"):
    """An S3 client of the local object storage of the VPC, as the build knows it."""
    from adt.build.config import BuildConfig
    from adt.datastore.client import s3_client

    return s3_client(BuildConfig.load("local", identifier, env=env).endpoint())


def backups(env, identifier):
    """Each hourly archive's ETag and LastModified."""
    client = store(env, identifier)
    return {f"{bucket}/{key}": (head["ETag"], head["LastModified"].timestamp())
            for bucket, key in ((f"{URL.replace('.', '-')}-hourly", "applicationsourcecode.tar.gz"),
                                (f"{URL.replace('.', '-')}-db-hourly", "adt-seed-DB-backup.tar.gz"))
            for head in [client.head_object(Bucket=bucket, Key=key)]}


@pytest.fixture(scope="module")
def seed(tmp_path_factory):
    home = tmp_path_factory.mktemp("seedhome")
    state = tmp_path_factory.mktemp("seedstate")
    cron = tmp_path_factory.mktemp("seedcron")  # the build machine's cron.d, this test's own
    env = {**os.environ, "BUILD_HOME": str(home), "ADT_LOCAL_STATE": str(state), "PATH": f"{BIN}:{os.environ['PATH']}",
           "ADT_CRON_D": str(cron)}
    # the production fleet's CA: pebble on loopback, validating DNS-01 through the build's PowerDNS on the VPC's
    # gateway; its HTTPS trusted by this build only (SSL_ACME_CA_BUNDLE)
    gateway = str(next(ipaddress.ip_network(VPC).hosts()))
    ca = Pebble(tmp_path_factory.mktemp("seedpebble"), f"{gateway}:53").start()
    built = []
    try:
        dev = build(env, home, 1, "seeddev")
        built.append("seeddev")
        post, text = install_and_post(dev["url"])
        for helper in ("PerformWebsiteBackup.sh", "PerformDatabaseBackup.sh"):
            result = script(env, f"helperscripts/{helper}", "--period", "HOURLY")
            assert result.returncode == 0, result.stdout + result.stderr
        result = script(env, "helperscripts/PerformWebsiteBackup.sh", "--period", "DAILY")  # no database one
        assert result.returncode == 0, result.stdout + result.stderr
        remote = tmp_path_factory.mktemp("seedgit")  # the host's /tmp: a file:// remote the machines reach too
        for helper, *extra in (("PerformWebsiteBaseline.sh",), ("PerformDatabaseBaseline.sh", "--redact")):
            result = script(env, f"helperscripts/{helper}", "--identifier", "seed", "--remote-base", str(remote),
                            *extra)  # --redact: the gate refuses the admin's password hash in a baseline
            assert result.returncode == 0, result.stdout + result.stderr
        before = backups(env, "seeddev")
        down = script(env, "helperscripts/ShutdownInfrastructure.sh", "--yes")
        assert down.returncode == 0, down.stdout + down.stderr
        built.remove("seeddev")
        prod = build(env, home, 3, "seedprod", APPLICATION="wordpress", WEBSERVER_CHOICE="NGINX",
                     NO_WEBSERVERS="2", NO_AUTOSCALERS="1", BUILD_ARCHIVE_CHOICE="hourly", GENERATE_SNAPSHOTS="1",
                     SSL_ACME_DIRECTORY=ca.directory_url, SSL_ACME_CA_BUNDLE=str(ca.ca_bundle))
        built.append("seedprod")
        after, finished = backups(env, "seedprod"), time.time()
        yield {"backups": (before, after, finished),"env": env, "home": home, "state": state, "post": post, "text": text, "prod": prod,
               "built": built, "remote": remote, "ca": ca, "cron": cron}
    finally:
        for identifier in built:
            adt(env, "destroy", "-c", "local", "-b", identifier, "--yes")
        adt(env, "destroy", "-c", "local", "-b", "seedprod", "--yes", "--purge-datastore")
        ca.stop()


def test_every_webserver_serves_the_post_from_the_backups(seed):
    prod = seed["prod"]
    assert prod["source"] == "hourly" and len(prod["webservers"]) == 2 and len(prod["autoscalers"]) == 1
    for ip in prod["webservers"]:
        status, body = page(ip, f"/?p={seed['post']}")
        assert status == 200 and seed["text"] in body, (ip, body[:500])
        status, body = page(ip, "/")  # the site moved: its links are its own name, not the development address
        assert f"http://{URL}/" in body, body[:1000]


def test_a_build_from_backups_never_alters_them(seed):
    before, after, finished = seed["backups"]
    assert sorted(before) == sorted(after) and len(before) == 2
    for key, (etag, modified) in before.items():  # the same object, unless the new fleet's own cron took a
        assert after[key][0] == etag or after[key][1] > finished - 60, key  # backup since (its xx:02 line)


def no_machines(identifier):
    return not [line for line in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
                .splitlines() if f"-{identifier}-" in line]


def test_a_missing_webroot_backup_stops_the_build_before_any_machine(seed):
    result = script(seed["env"], "ExpeditedAgileDeploymentToolkit.sh", "local", "debian", "3", "seedmiss", "--json",
                    "--template-file", str(template(seed["home"], 3, APPLICATION="wordpress",
                                                    WEBSERVER_CHOICE="NGINX", BUILD_ARCHIVE_CHOICE="monthly")))
    assert result.returncode == 1, result.stdout
    assert "adt: build local/seedmiss failed: no website backup to build from" in result.stderr, result.stderr
    assert "-monthly/applicationsourcecode.tar.gz does not exist" in result.stderr
    assert no_machines("seedmiss")


def test_a_missing_database_backup_asks_and_without_yes_stops(seed):
    result = script(seed["env"], "ExpeditedAgileDeploymentToolkit.sh", "local", "debian", "3", "seedask", "--json",
                    "--template-file", str(template(seed["home"], 3, APPLICATION="wordpress",
                                                    WEBSERVER_CHOICE="NGINX", BUILD_ARCHIVE_CHOICE="daily")),
                    input="")  # not a terminal: the question is answered no
    assert result.returncode == 1, result.stdout
    assert f"adt: build local/seedask failed: no daily database backup of {URL}" in result.stderr, result.stderr
    assert "or pass --yes" in result.stderr
    assert no_machines("seedask")


def test_a_failed_machine_is_named_with_its_log_and_the_fleet_stays_destroyable(seed):
    """A webroot archive without its completion marker passes the interrogation (it reads the site's markers)
    but no webserver restores it: the build names the machine and its log, and `adt destroy` removes it all."""
    import gzip
    import io
    import tarfile

    from adt.backup.website import ARCHIVE, MARKER

    client, dashed = store(seed["env"]), URL.replace(".", "-")
    original = client.get_object(Bucket=f"{dashed}-hourly", Key=ARCHIVE)["Body"].read()
    damaged = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(original), mode="r:gz") as source, \
            tarfile.open(fileobj=damaged, mode="w:gz") as target:
        for member in source:
            if member.name.strip("./") != MARKER:
                target.addfile(member, source.extractfile(member) if member.isfile() else None)
    for bucket, key, body in ((f"{dashed}-weekly", ARCHIVE, damaged.getvalue()),
                              (f"{dashed}-db-weekly", "adt-seed-DB-backup.tar.gz",
                               client.get_object(Bucket=f"{dashed}-db-hourly",
                                                 Key="adt-seed-DB-backup.tar.gz")["Body"].read())):
        client.create_bucket(Bucket=bucket)
        client.put_object(Bucket=bucket, Key=key, Body=body)
    env = seed["env"]
    seed["built"].append("seedfail")  # destroyed by the fixture if an assertion below fails
    result = script(env, "ExpeditedAgileDeploymentToolkit.sh", "local", "debian", "3", "seedfail", "--json",
                    "--template-file", str(template(seed["home"], 3, APPLICATION="wordpress",
                                                    WEBSERVER_CHOICE="NGINX", BUILD_ARCHIVE_CHOICE="weekly")))
    assert result.returncode == 1, result.stdout
    assert "adt: build local/seedfail failed: machine ws-local-seedfail-1-" in result.stderr, result.stderr
    assert f"-init-1 (webserver) did not become ready: bootstrap said adt: not restoring {dashed}-weekly/" \
           f"{ARCHIVE}: it lacks the marker {MARKER}" in result.stderr, result.stderr
    assert "hint: read " in result.stderr and "/var/log/adt/bootstrap.log" in result.stderr
    assert not no_machines("seedfail")
    gone = adt(env, "destroy", "-c", "local", "-b", "seedfail", "--yes")
    assert gone.returncode == 0 and "destroyed 3 machine(s)" in gone.stdout, gone.stdout + gone.stderr
    seed["built"].remove("seedfail")
    assert no_machines("seedfail")


def autoscaler_events(seed):
    said = script(seed["env"], "helperscripts/ExecuteOnAutoscaler.sh", "-c", "local", "-b", "seedprod",
                  "adt autoscaler events --last 30")
    return said.stdout + said.stderr


def test_dns_lists_exactly_the_webservers(seed):
    prod = seed["prod"]
    assert dig(prod["dns"]) == sorted(prod["webservers"]), autoscaler_events(seed)
    # the machines resolve it through the build's DNS too
    seen = script(seed["env"], "helperscripts/ExecuteOnAutoscaler.sh", "-c", "local", "-b", "seedprod", f"getent ahostsv4 {URL} | cut -d' ' -f1 | sort -u")
    assert sorted(seen.stdout.split()) == sorted(prod["webservers"]), seen.stdout + seen.stderr


def test_machines_are_named_as_the_original_names_them(seed):
    names = sorted(seed["prod"]["machines"])
    assert [n for n in names if n.startswith("ws-")] and all(
        n.endswith(("-init-1", "-init-2")) for n in names if n.startswith("ws-"))
    assert any(n.startswith("NO-1-as-local-seedprod-") for n in names)
    assert any(n.startswith("db-local-seedprod-") for n in names)


def test_the_autoscaler_has_its_role(seed):
    seen = script(seed["env"], "helperscripts/ExecuteOnAutoscaler.sh", "-c", "local", "-b", "seedprod",
                  "ls /home/*/runtime/AUTOSCALER_READY && crontab -l | grep -c StartAgentFromCron")
    assert seen.returncode == 0 and seen.stdout.split()[-1] == "1", seen.stdout + seen.stderr


def test_status_shows_the_fleet(seed):
    result = adt(seed["env"], "status", "-c", "local", "-b", "seedprod", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    prod = seed["prod"]
    machines = {(m["role"], m["address"], m["status"]) for m in report["machines"]["items"]}
    assert machines == {("database", prod["database"], "running")} | {
        ("webserver", ip, "running") for ip in prod["webservers"]} | {
        ("autoscaler", ip, "running") for ip in prod["autoscalers"]}
    assert sorted(report["dns"]["listed"]) == sorted(prod["webservers"]), report["dns"]
    assert report["dns"]["missing"] == [] and report["dns"]["stale"] == []
    tls = report["tls"]  # the build issued a certificate: every webserver serves that one
    assert tls["in_use"], tls
    served = {item["address"]: item["state"].split(",")[0] for item in tls["webservers"]["items"]}
    assert served == {ip: "current" for ip in prod["webservers"]}, tls
    hourly = {item["kind"]: item for item in report["backups"]["items"] if item["period"] == "hourly"}
    assert hourly["website"]["state"] == hourly["database"]["state"] == "present"
    assert hourly["website"]["size"] > 1_000_000 and hourly["database"]["age_seconds"] >= 0
    assert {image["role"] for image in report["snapshots"]["items"]} == {"webserver", "database", "autoscaler"}
    autoscalers = report["autoscalers"]["items"]  # its plan: the count in force, asked over ssh
    assert [a["address"] for a in autoscalers] == prod["autoscalers"], autoscalers
    assert autoscalers[0]["plan"]["desired"] == 2 and autoscalers[0]["plan"]["autoscaler"] == 1, autoscalers
    table = adt(seed["env"], "status", "-c", "local", "-b", "seedprod")
    assert table.returncode == 0 and prod["webservers"][0] in table.stdout, table.stdout + table.stderr


def issued(seed):
    """The build machine's copy of the fleet's certificate (leaf)."""
    from adt.ssl import pair

    folder = pair.build_directory(seed["home"] / "runtimedata" / "local" / "seedprod", "powerdns", "ZEROSSL", URL)
    return pair.leaf((folder / pair.FULLCHAIN).read_bytes())


def served(seed, ip, tmp_path):
    """(serial, verification line) of what the webserver at ip serves for URL, checked by openssl against
    pebble's root for the name URL."""
    from adt.ssl import pair

    root = tmp_path / "pebble-root.pem"
    root.write_bytes(seed["ca"].roots())
    said = subprocess.run(["openssl", "s_client", "-connect", f"{ip}:443", "-servername", URL, "-CAfile", str(root),
                           "-verify_hostname", URL, "-showcerts"], input="", capture_output=True, text=True, timeout=30)
    verdict = next((line.strip() for line in said.stdout.splitlines() if "Verify return code" in line), said.stderr)
    return pair.leaf(said.stdout.encode()).serial, verdict


def https_page(ip, path="/"):
    """(status, body, served serial) of one HTTPS request to the webserver at ip for URL (unverified: the serial
    is what is checked)."""
    import ssl

    from adt.ssl import pair

    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    connection = http.client.HTTPSConnection(ip, 443, timeout=30, context=context)
    try:
        connection.connect()  # the certificate of this connection, taken before the answer may close it
        der = connection.sock.getpeercert(binary_form=True)
        connection.request("GET", path, headers={"Host": URL})
        response = connection.getresponse()
        body = response.read().decode("utf-8", "replace")
    finally:
        connection.close()
    from cryptography import x509

    return response.status, body, pair.describe(x509.load_der_x509_certificate(der)).serial


def test_every_webserver_serves_https_with_the_fleets_pebble_certificate(seed, tmp_path):
    certificate = issued(seed)
    assert "Pebble" in certificate.issuer and certificate.names == (URL,)
    for ip in seed["prod"]["webservers"]:
        serial, verdict = served(seed, ip, tmp_path)
        assert (serial, verdict) == (certificate.serial, "Verify return code: 0 (ok)"), ip
        status, body, _ = https_page(ip)
        assert status == 200 and seed["text"] in body, (ip, status, body[:300])
    cron = (seed["cron"] / "adt-ssl-local-seedprod").read_text()
    assert '"none" "none" "seedprod" "local"' in cron.splitlines()[-1]
    nothing = adt(seed["env"], "ssl", "renew", "-c", "local", "-b", "seedprod")
    assert nothing.returncode == 0 and nothing.stdout.startswith(f"nothing due: {URL}'s certificate"), nothing


CRON_CHECK = "sh -c \"$(crontab -l | grep '^[*]/5 .*RenewSSLCertificate' | cut -d' ' -f6-)\""  # cron's line


def test_a_forced_renewal_reaches_every_webserver_with_no_failed_request(seed, tmp_path):
    """A new certificate issued and published on the build machine; one check on every webserver (the cron's
    RenewSSLCertificate.sh) installs it, while a client polls every webserver over HTTPS and sees no failure."""
    import threading

    webservers, old = seed["prod"]["webservers"], issued(seed).serial
    answers, stop = [], threading.Event()

    def poll():
        while not stop.is_set():
            for ip in webservers:
                try:
                    status, body, serial = https_page(ip, "/")
                    answers.append((ip, status if seed["text"] in body else f"{status} without the post", serial))
                except Exception as error:  # any failure is an answer that failed; the poller never stops early
                    answers.append((ip, f"{type(error).__name__}: {error}", ""))

    before = autoscaler_events(seed)
    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        renewed = script(seed["env"], "helperscripts/ManuallyUpdateSSLCertificate.sh", "-c", "local", "-b", "seedprod")
        assert renewed.returncode == 0 and "issued" in renewed.stdout, renewed.stdout + renewed.stderr
        new = issued(seed).serial
        assert new != old
        for number in range(1, len(webservers) + 1):
            check = script(seed["env"], "helperscripts/ExecuteOnWebserver.sh", "-c", "local", "-b", "seedprod",
                           "--machine", str(number), CRON_CHECK)
            assert check.returncode == 0, check.stdout + check.stderr
        time.sleep(2)  # the poller's requests on the reloaded servers
    finally:
        stop.set()
        poller.join(60)
    failed = [a for a in answers if a[1] != 200]
    assert not failed, failed[:5]
    assert {serial for _, _, serial in answers} == {old, new}, len(answers)
    for ip in webservers:
        assert served(seed, ip, tmp_path) == (new, "Verify return code: 0 (ok)"), ip
        assert [a[2] for a in answers if a[0] == ip][-1] == new
    after = autoscaler_events(seed)[len(before):]  # the autoscaler's HTTPS probes saw nothing wrong
    assert "destroy" not in after and "create" not in after, after


def test_a_development_fleet_beside_production_leaves_its_dns_alone(seed):
    """Another site's development fleet on the same VPC shares the cloud host's object storage and DNS server;
    built and destroyed, it changes nothing of the production fleet's round robin."""
    env = seed["env"]
    path = seed["home"] / "side-local1.tmpl"
    Template.load(ROOT / "templates" / "local" / "local1.tmpl").set("VPC_IP_RANGE", VPC).set(
        "WEBSITE_URL", "www.adt-side.local").set("WEBSITE_NAME", "adt-side").save(path)
    result = script(env, "ExpeditedAgileDeploymentToolkit.sh", "local", "debian", "1", "seedside", "--json",
                    "--template-file", str(path))
    try:
        assert result.returncode == 0, result.stderr[-2000:]
    finally:
        gone = adt(env, "destroy", "-c", "local", "-b", "seedside", "--yes")
    assert gone.returncode == 0 and "destroyed 2 machine(s)" in gone.stdout, gone.stdout + gone.stderr
    assert dig(seed["prod"]["dns"]) == sorted(seed["prod"]["webservers"])
    for ip in seed["prod"]["webservers"]:
        assert seed["text"] in page(ip, f"/?p={seed['post']}")[1]


def test_a_restore_drill_of_the_production_backups_passes(seed):
    result = adt(seed["env"], "drill", "-c", "local", "-b", "seedprod", "--period", "hourly", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] and report["failed"] is None, report
    assert [check["name"] for check in report["checks"]] == ["build", "database", "webroot", "site", "destroy"]
    assert "titled 'adt seed'" in report["checks"][3]["detail"]
    from adt.build.config import BuildConfig

    store = BuildConfig.load("local", "seedprod", env=seed["env"]).config_store()
    assert "drills/latest.json" in [entry.key for entry in store.list("drills/")]  # the result, in the datastore
    # the production fleet is untouched: still served, still in DNS
    assert dig(seed["prod"]["dns"]) == sorted(seed["prod"]["webservers"])
    for ip in seed["prod"]["webservers"]:
        assert seed["text"] in page(ip, f"/?p={seed['post']}")[1]


def test_zz_a_snapshot_build_serves_the_same_post(seed):
    env = seed["env"]
    gone = adt(env, "destroy", "-c", "local", "-b", "seedprod", "--yes")
    assert gone.returncode == 0, gone.stderr
    seed["built"].remove("seedprod")
    recorded = seed["home"] / "runtimedata" / "wholemachinesnapshots" / URL / "snapshots" / "snapshot_ids.dat"
    ids = dict(line.split(":", 1) for line in recorded.read_text().split())
    assert sorted(ids) == ["autoscaler", "database", "webserver"] and all(i.startswith("img-") for i in ids.values())
    snap = build(env, seed["home"], 3, "seedsnap", APPLICATION="wordpress", WEBSERVER_CHOICE="NGINX",
                 NO_WEBSERVERS="1", NO_AUTOSCALERS="1", BUILD_ARCHIVE_CHOICE="hourly", AUTOSCALE_FROM_SNAPSHOTS="1",
                 AUTOSCALER_SNAPSHOT_ID=ids["autoscaler"], WEBSERVER_SNAPSHOT_ID=ids["webserver"],
                 DATABASE_SNAPSHOT_ID=ids["database"])
    seed["built"].append("seedsnap")
    assert snap["source"] == "snapshot"
    for ip in snap["webservers"]:
        status, body = page(ip, f"/?p={seed['post']}")
        assert status == 200 and seed["text"] in body, (ip, body[:500])
    assert dig(snap["dns"]) == sorted(snap["webservers"])


def test_zzz_template_2_builds_from_the_baselines(seed):
    env = seed["env"]
    for identifier in list(seed["built"]):  # one fleet of the website at a time: a build empties its config buckets
        assert adt(env, "destroy", "-c", "local", "-b", identifier, "--yes").returncode == 0
        seed["built"].remove(identifier)
    base = build(env, seed["home"], 2, "seedbase", "--remote-base", str(seed["remote"]), WEBSERVER_CHOICE="NGINX",
                 APPLICATION="wordpress", APPLICATION_BASELINE_SOURCECODE_REPOSITORY="seed-webroot-sourcecode-baseline",
                 BASELINE_DB_REPOSITORY="seed-db-baseline", NO_AUTOSCALERS="0")
    seed["built"].append("seedbase")
    assert base["source"] == "baseline" and len(base["webservers"]) == 1 and not base["autoscalers"]
    status, body = page(base["webservers"][0], f"/?p={seed['post']}")
    assert status == 200 and seed["text"] in body, body[:500]
    assert dig(base["dns"]) == base["webservers"]


def test_zzz_template_2_refuses_an_application_mismatch_before_any_machine(seed):
    env = seed["env"]
    result = script(env, "ExpeditedAgileDeploymentToolkit.sh", "local", "debian", "2", "seedbad", "--json",
                    "--remote-base", str(seed["remote"]), "--template-file",
                    str(template(seed["home"], 2, WEBSERVER_CHOICE="NGINX", APPLICATION="joomla",
                                 APPLICATION_BASELINE_SOURCECODE_REPOSITORY="seed-webroot-sourcecode-baseline",
                                 BASELINE_DB_REPOSITORY="seed-db-baseline", NO_AUTOSCALERS="0")))
    assert result.returncode == 1 and "application type mismatch" in result.stderr, result.stderr
    assert not [line for line in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
                .splitlines() if "-seedbad-" in line]


def test_a_dry_run_production_build_names_every_machine_and_changes_nothing(tmp_path):
    from adt.cloud.local import LocalDriver

    vpc = "10.181.0.0/24"
    home, state = tmp_path / "home", tmp_path / "state"
    home.mkdir()
    path = tmp_path / "dry-local3.tmpl"
    Template.load(ROOT / "templates" / "local" / "local3.tmpl").set("VPC_IP_RANGE", vpc).set(
        "APPLICATION", "wordpress").set("WEBSERVER_CHOICE", "NGINX").set("NO_WEBSERVERS", "2").set(
        "SSL_ACME_DIRECTORY", "https://127.0.0.1:14000/dir").save(path)
    env = {**os.environ, "BUILD_HOME": str(home), "ADT_LOCAL_STATE": str(state), "PATH": f"{BIN}:{os.environ['PATH']}"}
    driver = LocalDriver(vpc, state_dir=str(state))
    try:
        result = adt(env, "build", "local", "debian", "3", "pdry", "--template-file", str(path), "--dry-run",
                     timeout=120)
        link = Path(f"/sys/class/net/{driver.host_veth}").exists()
    finally:
        driver.remove_network(force=True)  # only if the dry run made it, which the asserts below refuse
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    then = next(line for line in lines if line.startswith("would then: "))
    assert re.fullmatch(r"would then: start the object storage and the DNS server, check the hourly sources, create "
                        r"db-local-pdry-X\w{3}, ws-local-pdry-1-X\w{3}-init-1, ws-local-pdry-1-X\w{3}-init-2, "
                        r"NO-1-as-local-pdry-X\w{3}, wait for them, apply the firewalls, check every webserver, add "
                        r"them to DNS; a dry run stops here: these steps need the machines it does not start", then), then
    assert ("would issue: a certificate for www.adt-demo.local from https://127.0.0.1:14000/dir through DNS-01 at "
            "powerdns (kept when one is published and not due), before any machine") in lines
    assert lines[-1] == "dry run of local/pdry: nothing was changed"
    assert list(home.iterdir()) == [] and not state.exists() and not link
