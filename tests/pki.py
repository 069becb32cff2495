"""The test PKI: one openssl CA made at `make up`, and certificates it issues.

Everything lives under run/pki/ (never in git). `ensure_ca()` makes the CA once per
`run/` (kept across `make up` so a long-lived browser profile or client keeps trusting
it); `issue()` makes a server or client certificate signed by it, again only once per
name. Both shell out to the system `openssl`, the same tool an operator would use.

    from pki import ensure_ca, issue
    ca = ensure_ca()                      # run/pki/ca.pem
    cert, key = issue("idp", dns=["localhost"], ips=["127.0.0.1"])
    cert, key = issue("client-a", client=True)
"""

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PKI = ROOT / "run" / "pki"
DAYS = "30"


def _openssl(*args, cwd=None):
    try:
        subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)
    except subprocess.CalledProcessError as e:
        raise SystemExit(f"openssl {' '.join(args[:2])} failed: {e.stderr.decode(errors='replace').strip()}") from e


def ensure_ca(pki=PKI):
    """Returns the CA certificate's path, making the CA (EC P-256) if it does not exist."""
    pki.mkdir(parents=True, exist_ok=True)
    cert, key = pki / "ca.pem", pki / "ca.key"
    if cert.exists() and key.exists():
        return cert
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(key))
    key.chmod(0o600)
    _openssl("req", "-x509", "-new", "-key", str(key), "-sha256", "-days", DAYS, "-subj", "/CN=jwtgate test CA",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             "-out", str(cert))
    return cert


def issue(name, dns=(), ips=(), client=False, pki=PKI):
    """Returns (cert.pem, key.pem) for `name`, signed by the CA; made once per name.

    A server certificate carries the given DNS names and IP addresses as SANs (at least
    `localhost` and 127.0.0.1 when none are given); a client certificate has the
    clientAuth usage and `name` as its CN and URI SAN (spiffe-like, for mTLS tests).
    """
    if not name.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"certificate name {name!r}: use letters, digits, '-' and '_' only")
    ca = ensure_ca(pki)
    cert, key, csr, ext = (pki / f"{name}.{s}" for s in ("pem", "key", "csr", "ext"))
    if cert.exists() and key.exists():
        return cert, key
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(key))
    key.chmod(0o600)
    _openssl("req", "-new", "-key", str(key), "-subj", f"/CN={name}", "-out", str(csr))
    if client:
        lines = ["extendedKeyUsage=clientAuth", f"subjectAltName=URI:spiffe://jwtgate.test/{name}"]
    else:
        sans = [f"DNS:{d}" for d in (dns or ["localhost"])] + [f"IP:{i}" for i in (ips or ["127.0.0.1"])]
        lines = ["extendedKeyUsage=serverAuth", "subjectAltName=" + ",".join(sans)]
    ext.write_text("\n".join(["basicConstraints=CA:FALSE", "keyUsage=digitalSignature,keyEncipherment", *lines]) + "\n")
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(pki / "ca.key"), "-CAcreateserial",
             "-days", DAYS, "-sha256", "-extfile", str(ext), "-out", str(cert))
    csr.unlink(missing_ok=True)
    ext.unlink(missing_ok=True)
    return cert, key


if __name__ == "__main__":
    import sys

    if len(sys.argv) < 2:
        print(ensure_ca())
    else:
        print(*issue(sys.argv[1], client="--client" in sys.argv[2:]))
