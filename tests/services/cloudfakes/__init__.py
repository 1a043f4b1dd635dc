"""Test fakes of the cloud providers' APIs: small stateful servers on loopback that follow each provider's published
specification and validate every request and response against it (base.FakeProvider)."""
