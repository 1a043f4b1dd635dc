"""A certificate authority for tests, made with `cryptography`: a self-signed CA and leaves signed by it, with
the validity times a test asks for (a leaf that expires in 3 days, one issued 60 days ago). EC P-256 keys: fast.

    ca = TestCA()
    leaf = ca.issue(["www.example.com"], not_before=now - 2 * DAY, not_after=now + 88 * DAY)
    leaf.fullchain, leaf.privkey, leaf.serial   # PEM bytes (leaf then CA), PEM bytes, "0A1B..." as openssl prints it
    ca.pem                                       # the CA certificate, to trust in a test only

Trusted nowhere but where a test hands `ca.pem` over; nothing is written to disk here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Optional, Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

DAY = dt.timedelta(days=1)


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _name(name: str):
    """A subjectAltName entry: an IP address as one (a server reached by address), else a DNS name."""
    import ipaddress

    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _pem_key(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@dataclass(frozen=True)
class Leaf:
    certificate: x509.Certificate
    fullchain: bytes  # leaf, then the CA: what a web server serves
    privkey: bytes

    @property
    def serial(self) -> str:
        from adt.ssl.pair import describe

        return describe(self.certificate).serial

    @property
    def not_after(self) -> dt.datetime:
        return self.certificate.not_valid_after_utc


class TestCA:
    __test__ = False  # not a pytest test class

    def __init__(self, name: str = "adt test CA"):
        self.key = _key()
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = dt.datetime.now(dt.timezone.utc)
        self.certificate = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(self.key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - 400 * DAY)
            .not_valid_after(now + 400 * DAY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(self.key, hashes.SHA256()))

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def issue(self, names: Sequence[str], not_before: Optional[dt.datetime] = None,
              not_after: Optional[dt.datetime] = None, serial: Optional[int] = None) -> Leaf:
        """A leaf for `names`, DNS names or IP addresses (the first also its CN), valid from `not_before`
        (default: an hour ago) to `not_after` (default: 90 days after not_before), with a fresh key."""
        key = _key()
        start = not_before or dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(self.certificate.subject).public_key(key.public_key())
            .serial_number(serial or x509.random_serial_number()).not_valid_before(start)
            .not_valid_after(not_after or start + 90 * DAY)
            .add_extension(x509.SubjectAlternativeName([_name(n) for n in names]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(self.key, hashes.SHA256()))
        fullchain = certificate.public_bytes(serialization.Encoding.PEM) + self.pem
        return Leaf(certificate, fullchain, _pem_key(key))
