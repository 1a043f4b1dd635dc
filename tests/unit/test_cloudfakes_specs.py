"""The providers' published specifications the fakes validate against are themselves valid OpenAPI (the fakes skip
that check at each start): the copies in tests/fixtures/cloud-apis and Exoscale's, inside its package."""

import json
from pathlib import Path

import pytest
from openapi_core import OpenAPI

from tests.services.cloudfakes.base import SPECS


def exoscale_spec() -> Path:
    import exoscale

    return Path(exoscale.__file__).parent / "openapi.json"


@pytest.mark.parametrize("path", [SPECS / "digitalocean-openapi.json", SPECS / "vultr-openapi.json"])
def test_the_specification_is_valid_openapi(path):
    spec = json.loads(path.read_text())
    assert OpenAPI.from_dict(spec).spec is not None  # from_dict validates the specification, raising on an error


def test_exoscales_specification_has_only_its_known_defects():
    """Exoscale's own file (0.16.4) breaks OpenAPI 3.0 in three known ways, outside what the fake serves: `parent`
    keys where only `x-` extensions are allowed, null descriptions, and the two usage-quota schemas; the fake
    loads it without the specification check, and this test says when a new version changes that."""
    from openapi_spec_validator import OpenAPIV30SpecValidator

    spec = json.loads(exoscale_spec().read_text())
    found = {error.message.split(",")[0][:60] for error in OpenAPIV30SpecValidator(spec).iter_errors()}
    assert found == {"'parent' does not match any of the regexes: '^x-'", "None is not of type 'string'",
                     "{'description': 'Per-org Unit Of Measurement (UOM) consumpti",
                     "{'description': 'Request to set per-org Unit Of Measurement "}


def test_the_vultr_copy_carries_only_its_one_fix():
    spec = json.loads((SPECS / "vultr-openapi.json").read_text())
    assert "in" not in spec["components"]["securitySchemes"]["APIKey"]
    assert len(spec["paths"]) >= 100
