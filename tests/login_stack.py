"""The browser-login part of the test stack (issue #15): the login IdP
(tests/idp/server.mjs --profile login), the secrets the demo gate config's login block
needs, and the run/endpoints.json keys a browser test reads.

The session-cookie keys and the test user's password are made at `make up` (fresh each
time) into run/login-secrets.json (mode 0600); nothing secret is committed. `start-gate`
after `up` reads the same file, so every gate of a run shares the keys.
"""
import base64
import json
import os
import secrets
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECRETS = ROOT / "run" / "login-secrets.json"
PORT = int(os.environ.get("JWTGATE_IDP_LOGIN_PORT", 9406))
ISSUER = f"http://127.0.0.1:{PORT}"
CLIENT_ID = "jwtgate-bff"
CLIENT_SECRET = "bff-secret"
USER = "alice"


def _key():
    """A base64url (unpadded) 32-byte AEAD key."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()


def ensure_secrets(fresh=False):
    """{session_key, session_key_previous, password}: made when absent (or `fresh`)."""
    if SECRETS.exists() and not fresh:
        return json.loads(SECRETS.read_text())
    values = {"session_key": _key(), "session_key_previous": _key(), "password": secrets.token_urlsafe(12)}
    SECRETS.parent.mkdir(parents=True, exist_ok=True)
    SECRETS.touch(mode=0o600)
    SECRETS.write_text(json.dumps(values, indent=2))
    return values


def placeholders():
    """The `${…}` values of the demo gate config's `web` provider."""
    s = ensure_secrets()
    return {"LOGIN_ISSUER": ISSUER, "LOGIN_AUTHORITY": f"127.0.0.1:{PORT}",
            "SESSION_KEY": s["session_key"], "SESSION_KEY_PREVIOUS": s["session_key_previous"]}


def idp_command():
    """argv and extra environment of the login IdP (the password never goes on argv)."""
    argv = ["node", "tests/idp/server.mjs", "--profile", "login", "--port", str(PORT),
            "--keys-out", "run/idp-login-keys.json"]
    return argv, {"JWTGATE_LOGIN_PASSWORD": ensure_secrets()["password"]}


def endpoints(hosts, gate_text):
    """run/endpoints.json keys for browser tests (a contract: add keys, never rename)."""
    web = json.loads(gate_text).get("providers", {}).get("web", {})
    bound = web.get("revocation", {}).get("feed", {}).get("max_staleness_s")
    return {
        "browser_user": USER,
        "browser_password": ensure_secrets()["password"],
        # What a person opens to log in (the demo's Envoy); every host serves /app/.
        "login_url": hosts["envoy"] + "/app/",
        "login_issuer": ISSUER,
        "login_client_id": CLIENT_ID,
        "login_client_secret": CLIENT_SECRET,
        # Test hooks of the login IdP: POST sub=<user> (client_secret_basic) ends the
        # user's sessions server-side (back-channel logout to Envoy + the revocation
        # feed); GET counts token grants by type (refresh_token) and logout deliveries.
        "login_end_session_url": ISSUER + "/test/end-session",
        "login_counters_url": ISSUER + "/test/counters",
        "login_revocation_bound_s": bound,
        "login_idp_log": "run/logs/idp-login.log",
    }
