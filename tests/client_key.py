"""The gate's own client key for `private_key_jwt` introspection (RFC 7523), made at
`make up` with openssl like the test CA (tests/pki.py) and kept in run/pki/.

`ensure()` returns (private JWK, public JWKS): the private JWK goes into the gate config
(`introspection.private_key`), the public JWKS to the introspection IdP, which
registers it for client `jwtgate-introspector-jwt`.
"""
import base64
import json
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEY = ROOT / "run" / "pki" / "gate-client.key"
JWKS = ROOT / "run" / "pki" / "gate-client.jwks.json"
KID = "jwtgate-client-1"


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hex_field(text, name):
    """The bytes of `priv:` or `pub:` in `openssl ec -text` output."""
    m = re.search(rf"^{name}:\n((?:\s+[0-9a-f:]+\n)+)", text, re.M)
    if not m:
        raise SystemExit(f"openssl ec -text: no {name} field")
    return bytes.fromhex(re.sub(r"[\s:]", "", m.group(1)))


def ensure():
    """Returns (private JWK, public JWKS), making the P-256 key once per run/."""
    KEY.parent.mkdir(parents=True, exist_ok=True)
    if not KEY.exists():
        subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(KEY)],
                       check=True, capture_output=True)
        KEY.chmod(0o600)
    text = subprocess.run(["openssl", "ec", "-in", str(KEY), "-noout", "-text"], check=True, capture_output=True,
                          text=True).stdout
    d = _hex_field(text, "priv")[-32:].rjust(32, b"\0")
    pub = _hex_field(text, "pub")
    if len(pub) != 65 or pub[0] != 4:
        raise SystemExit("openssl ec -text: expected an uncompressed P-256 point")
    public = {"kty": "EC", "crv": "P-256", "x": _b64(pub[1:33]), "y": _b64(pub[33:]), "kid": KID, "alg": "ES256",
              "use": "sig"}
    JWKS.write_text(json.dumps({"keys": [public]}, indent=2))
    return {**public, "d": _b64(d)}, JWKS
