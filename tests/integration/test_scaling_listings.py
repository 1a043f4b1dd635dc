"""How often an autoscaler asks a provider's API: the cloud's and the DNS's listings are made at most every
SCALINGLISTINTERVAL seconds (30 on a provider) while nothing moves, every cycle while a webserver is being made or
ended or after the autoscaler acted, and every cycle on `local`. The driver and the DNS are the real DigitalOcean
ones, against its fake, which counts the requests."""

from __future__ import annotations

from adt import cloud
from adt.cloud.base import Placement
from adt.dns import provider
from adt.scaling import decide as d
from adt.scaling.cycle import Cycle
from adt.settings.machine import MachineSettings
from tests.services.cloudfakes.digitalocean import DigitalOceanFake

WEBSITE = "www.adt-listings.example"


def cycle_on(fake, tmp_path, clock, **more):
    values = {"WEBSITEURL": WEBSITE, "BUILDIDENTIFIER": "t1", "REGION": "lon1", "CLOUDHOST": "digitalocean",
              "SERVERUSER": "Xabcdefgh", **more}
    path = tmp_path / "autoscaler_configuration_settings.dat"
    path.write_text("".join(f"{k}:{v}\n" for k, v in values.items()))
    driver = cloud.driver("digitalocean", credentials=fake.credentials, api_url=fake.url,
                          placement=Placement("lon1", fake.default_image, "t1", "adt-t1"))
    dns = provider({"DNS_CHOICE": "digitalocean", "DNS_SECURITY_KEY": fake.credentials["TOKEN"],
                    "DNS_API_URL": fake.url})
    return Cycle(MachineSettings.load(path), tmp_path, number=1, driver=driver, dns=dns, clock=clock)


def test_a_provider_is_listed_every_30_s_while_nothing_moves_and_every_cycle_otherwise(tmp_path):
    fake = DigitalOceanFake().start()
    try:
        fake.add_domain("adt-listings.example")
        now = [1000.0]
        autoscaler = cycle_on(fake, tmp_path, lambda: now[0])
        calm = d.Memory({"ws-lon1-t1-1-a": d.Webserver("ws-lon1-t1-1-a", d.IN_SERVICE, 0, 0)})
        busy = d.Memory({"ws-lon1-t1-1-b": d.Webserver("ws-lon1-t1-1-b", d.PROVISIONING, 0, 0)})

        def requests_in(memory, seconds):
            before = len(fake.calls)
            for _ in range(int(seconds // 5)):  # a cycle every 5 s
                autoscaler.listings(memory)
                now[0] += 5
            return len(fake.calls) - before

        autoscaler.listings(calm)  # the first: the DNS zone is looked up once, then remembered
        now[0] += 5
        assert requests_in(calm, 120) == 4 * 2  # one listing each 30 s: a cloud and a DNS request each
        assert requests_in(busy, 60) == 12 * 2  # a webserver being made: every cycle
        autoscaler.act(d.Action("dns-add", "", "203.0.113.9", "serves the site"))  # acted: listed again at once
        before = len(fake.calls)
        autoscaler.listings(calm)
        assert len(fake.calls) - before == 2
        local = cycle_on(fake, tmp_path, lambda: now[0], CLOUDHOST="local")  # the default on local: 0
        local.listings(calm)  # its DNS zone, once
        before = len(fake.calls)
        for _ in range(3):
            local.listings(calm)
        assert len(fake.calls) - before == 3 * 2  # every cycle
        fake.check()
    finally:
        fake.stop()
