"""ACME (RFC 8555) issuance through DNS-01, with the `acme` library (certbot's): one account per CA directory, its
key kept 0600 and reused; a new ECDSA P-256 key for every certificate; the challenge's TXT records put and taken
away through a DNS provider given by the caller (adt's own drivers: PowerDNS on `local`, the providers and
Cloudflare on clouds), so this module knows nothing of DNS but two calls; and the CA's renewal information
(RFC 9773) when its directory offers it.

The account's files (`<account dir>/account-key.pem`, `account.json` with the account's URL) are written 0600 from
their first byte. An account the CA no longer knows (a test CA restarted, an account deactivated) is registered
again with the same key.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Callable, Dict, List, Optional, Protocol, Sequence, Tuple

from adt.errors import AdtError
from adt.fs import write_atomically

DIRECTORIES = {
    ("LETSENCRYPT", "1"): "https://acme-v02.api.letsencrypt.org/directory",
    ("LETSENCRYPT", "0"): "https://acme-staging-v02.api.letsencrypt.org/directory",
    ("ZEROSSL", "1"): "https://acme.zerossl.com/v2/DV90",
    ("ZEROSSL", "0"): "https://acme.zerossl.com/v2/DV90",  # ZeroSSL has no staging directory
}
ZEROSSL_EAB = "https://api.zerossl.com/acme/eab-credentials-email"
LABEL = "_acme-challenge"
TIMEOUT = 20  # seconds a CA has to answer one request
FINALIZE = 120  # seconds a CA has to validate and sign
PROPAGATION = 120.0  # seconds DNS-01 records are waited for at the nameservers (SSL_DNS_PROPAGATION_TIMEOUT)


class Dns01(Protocol):
    """What DNS-01 needs of a DNS provider (adt.dns.base.DnsProvider has it)."""

    def set_txt(self, websiteurl: str, values: Sequence[str], label: str = LABEL, ttl: int = 60) -> None: ...

    def delete_txt(self, websiteurl: str, label: str = LABEL) -> None: ...

    def wait_visible(
        self, websiteurl: str, values: Sequence[str], label: str, timeout: float, progress: Callable[[str], None]
    ) -> bool: ...


@dataclasses.dataclass(frozen=True)
class Authority:
    """A CA as the issuer reaches it."""

    directory: str
    email: str = ""
    ca_bundle: str = ""  # a CA bundle to trust for the directory's HTTPS (a private or test CA); "" the system's
    eab_kid: str = ""  # external account binding (ZeroSSL; any CA that asks for one)
    eab_hmac_key: str = ""

    @classmethod
    def from_values(cls, values: Dict[str, str]) -> "Authority":
        """From a build's values: SSL_ACME_DIRECTORY, else the directory of SSL_GENERATION_SERVICE and SSL_LIVE_CERT."""
        service = (values.get("SSL_GENERATION_SERVICE") or "ZEROSSL").upper()
        live = values.get("SSL_LIVE_CERT") or "1"
        directory = values.get("SSL_ACME_DIRECTORY") or DIRECTORIES.get((service, live), "")
        if not directory:
            raise AdtError(f"no ACME directory for SSL_GENERATION_SERVICE={service}", "use LETSENCRYPT or ZEROSSL")
        return cls(
            directory=directory,
            email=values.get("SSL_EMAIL_ADDRESS") or values.get("SYSTEM_TOEMAIL_ADDRESS") or "",
            ca_bundle=values.get("SSL_ACME_CA_BUNDLE", ""),
            eab_kid=values.get("SSL_EAB_KID", ""),
            eab_hmac_key=values.get("SSL_EAB_HMAC_KEY", ""),
        )


def account_directory(base: Path, directory: str) -> Path:
    """One account per CA directory: `<base>/<host>[_<port>]<path with _>`."""
    from urllib.parse import urlsplit

    parts = urlsplit(directory)
    name = (parts.netloc + parts.path).replace(":", "_").replace("/", "_").strip("_")
    return Path(base) / name


def certificate_key() -> bytes:
    """A new ECDSA P-256 key, PEM (PKCS#8)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def zerossl_eab(email: str, timeout: float = TIMEOUT) -> Tuple[str, str]:
    """ZeroSSL's external account binding for an e-mail address (its public endpoint, as acme.sh asks it)."""
    import httpx

    if not email:
        raise AdtError(
            "ZeroSSL needs an e-mail address or an external account binding",
            "set SSL_EMAIL_ADDRESS (or SSL_EAB_KID and SSL_EAB_HMAC_KEY from ZeroSSL's developer page)",
        )
    try:
        answer = httpx.post(ZEROSSL_EAB, data={"email": email}, timeout=timeout).json()
    except (httpx.HTTPError, ValueError) as error:
        raise AdtError(f"ZeroSSL's EAB endpoint did not answer: {error}", "run again, or set SSL_EAB_KID") from None
    if not answer.get("success"):
        raise AdtError(f"ZeroSSL refused an external account binding for {email}: {answer.get('error')}")
    return answer["eab_kid"], answer["eab_hmac_key"]


class Issuer:
    """One CA, one account: `issue(website, dns)` and `suggested_renewal(fullchain)`."""

    def __init__(self, authority: Authority, accounts: Path, progress: Callable[[str], None] = lambda _: None):
        self.authority = authority
        self.home = account_directory(accounts, authority.directory)
        self.progress = progress
        self._client = None

    # -- the account ----------------------------------------------------------------------------------------
    def _account_key(self):
        import josepy
        from cryptography.hazmat.primitives import serialization

        path = self.home / "account-key.pem"
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            write_atomically(path, certificate_key().decode(), 0o600)
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        return josepy.JWKEC(key=key)

    def _failed(self, error: Exception, doing: str) -> AdtError:
        return AdtError(
            f"the CA at {self.authority.directory} failed while {doing}: {_reason(error)}",
            "the certificate in service stays; run again later (cron does)",
        )

    def client(self):
        """The ACME client, with its account registered (once) and known."""
        if self._client is not None:
            return self._client
        import josepy
        from acme import client, errors, messages

        key = self._account_key()
        verify = self.authority.ca_bundle or True
        net = client.ClientNetwork(key, alg=josepy.ES256, verify_ssl=verify, user_agent="adt", timeout=TIMEOUT)
        try:
            directory = client.ClientV2.get_directory(self.authority.directory, net)
        except Exception as error:  # requests' and acme's errors alike: the CA did not answer
            raise self._failed(error, "reading its directory") from None
        acme = client.ClientV2(directory, net)
        record = self.home / "account.json"
        known = json.loads(record.read_text()) if record.exists() else {}
        if known.get("uri"):
            net.account = messages.RegistrationResource(uri=known["uri"], body=messages.Registration())
            try:
                net.account = acme.query_registration(net.account)
                self._client = acme
                return acme
            except errors.Error as error:  # the CA forgot the account: register the same key again
                self.progress(f"  the CA does not know the saved account ({_reason(error)}): registering again")
                net.account = None
            except Exception as error:
                raise self._failed(error, "reading the account") from None
        try:
            net.account = acme.new_account(self._registration(key, directory))
        except errors.ConflictError as conflict:  # this key has an account already
            net.account = acme.query_registration(
                messages.RegistrationResource(uri=conflict.location, body=messages.Registration())
            )
        except Exception as error:
            raise self._failed(error, "registering the account") from None
        write_atomically(record, json.dumps({"uri": net.account.uri, "directory": self.authority.directory}), 0o600)
        self.progress(f"  ACME account registered at {self.authority.directory}")
        self._client = acme
        return acme

    def _registration(self, key, directory):
        from acme import messages

        a = self.authority
        binding = None
        kid, hmac_key = a.eab_kid, a.eab_hmac_key
        required = bool(getattr(directory.meta, "external_account_required", False))
        if not kid and required and "zerossl.com" in a.directory:
            kid, hmac_key = zerossl_eab(a.email)
        if required and not kid:
            raise AdtError(
                f"the CA at {a.directory} wants an external account binding", "set SSL_EAB_KID and SSL_EAB_HMAC_KEY"
            )
        if kid:
            binding = messages.ExternalAccountBinding.from_data(
                account_public_key=key.public_key(), kid=kid, hmac_key=hmac_key, directory=directory
            )
        fields = {"terms_of_service_agreed": True}
        return messages.NewRegistration.from_data(email=a.email or None, external_account_binding=binding, **fields)

    # -- a certificate --------------------------------------------------------------------------------------
    def issue(self, website: str, dns: Dns01, propagation: float = PROPAGATION) -> Tuple[bytes, bytes]:
        """(fullchain PEM, private key PEM) for website, proved with DNS-01 through dns: the TXT records set, then
        waited for at the zone's nameservers (at most `propagation` seconds) before the CA is asked to look. The
        records are taken away whatever happens."""
        from acme import challenges, crypto_util

        acme = self.client()
        key_pem = certificate_key()
        csr = crypto_util.make_csr(key_pem, [website])
        try:
            order = acme.new_order(csr)
        except Exception as error:
            raise self._failed(error, "taking the order") from None
        answers: List[Tuple[object, object]] = []
        values: Dict[str, List[str]] = {}
        account_key = acme.net.key
        for authorization in order.authorizations:
            if authorization.body.status.name == "valid":
                continue
            found = [c for c in authorization.body.challenges if isinstance(c.chall, challenges.DNS01)]
            if not found:
                raise AdtError(f"the CA offers no DNS-01 challenge for {authorization.body.identifier.value}")
            response, validation = found[0].response_and_validation(account_key)
            name = authorization.body.identifier.value.removeprefix("*.")
            values.setdefault(name, []).append(validation)
            answers.append((found[0], response))
        try:
            for name, texts in values.items():
                dns.set_txt(name, texts, label=LABEL)
                self.progress(f"  DNS-01: {LABEL}.{name} TXT set")
            for name, texts in values.items():
                dns.wait_visible(name, texts, label=LABEL, timeout=propagation, progress=self.progress)
            deadline = dt.datetime.now() + dt.timedelta(seconds=FINALIZE)
            try:
                for challenge, response in answers:
                    acme.answer_challenge(challenge, response)
                order = acme.poll_and_finalize(order, deadline=deadline)
            except AdtError:
                raise
            except Exception as error:
                raise self._failed(error, "validating and signing") from None
        finally:
            for name in values:
                try:
                    dns.delete_txt(name, label=LABEL)
                except AdtError as error:  # left behind is harmless; say so and go on
                    self.progress(f"  could not remove {LABEL}.{name}: {error}")
        return order.fullchain_pem.encode(), key_pem

    def suggested_renewal(self, fullchain: bytes) -> Optional[dt.datetime]:
        """The time in the CA's suggested renewal window (RFC 9773), or None when it offers none or does not
        answer (then the lifetime rule alone decides)."""
        from acme import errors

        try:
            acme = self.client()
            moment, _ = acme.renewal_time(fullchain)
        except (errors.ARIError, AdtError) as error:  # a CA that does not answer: nothing is due any sooner
            self.progress(f"  the CA's renewal information did not answer ({_reason(error)}): lifetime decides")
            return None
        if moment is None:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def _reason(error: BaseException) -> str:
    cause = error.__cause__ or error
    text = str(cause).strip() or type(cause).__name__
    return text.splitlines()[0][:200]
