#!/usr/bin/env python3
"""`make istio`: the filter as Istio delivers it.

Writes, under target/istio/ (never committed: the digests change with every build):
  wasmplugin.yaml      WasmPlugin pulling the module over HTTPS: sha256 of the .wasm itself
  wasmplugin-oci.yaml  the same pulling the OCI image: sha256 of the image manifest, which
                       is what Istio compares for an oci:// URL
  oci/                 an OCI image layout (oci-layout, index.json, blobs/sha256/...) whose
                       manifest has the .wasm as its single layer, in the Wasm OCI artifact
                       format Istio pulls: layer media type
                       application/vnd.module.wasm.content.layer.v1+wasm, config media type
                       application/vnd.module.wasm.config.v1+json. Push it with any OCI
                       client (`oras cp --from-oci-layout target/istio/oci:0.1.0 REG/jwtgate:0.1.0`).

Both plugins run in phase AUTHN (before Istio's own authn/authz filters) and FAIL_CLOSE
(a module that cannot load answers every request with an error instead of letting it
through). pluginConfig is envoy/istio/mesh.json (the demo's JWT routes without the test
stack's loopback feeds and extra IdPs) with the IdP filled in and every remote JWKS
`cluster` set to the cluster Istio creates for the IdP host (`outbound|PORT||HOST`, a
ServiceEntry for an IdP outside the mesh).
"""
import argparse
import hashlib
import json
import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

import yaml

ROOT = Path(__file__).resolve().parents[2]
LAYER_MEDIA_TYPE = "application/vnd.module.wasm.content.layer.v1+wasm"
CONFIG_MEDIA_TYPE = "application/vnd.module.wasm.config.v1+json"
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"


def istio_cluster(uri):
    """The cluster name Istio gives the service behind `uri` (outbound|port||host)."""
    u = urlsplit(uri)
    port = u.port or (443 if u.scheme == "https" else 80)
    return f"outbound|{port}||{u.hostname}"


def plugin_config(config_path, issuer):
    """The gate config for the mesh: placeholders filled, JWKS reached through Istio's cluster."""
    authority = urlsplit(issuer).netloc
    text = Path(config_path).read_text()
    text = text.replace("${IDP_ISSUER}", issuer).replace("${IDP_AUTHORITY}", authority)
    left = re.findall(r"\$\{[A-Z_]+\}", text)
    if left:
        sys.exit(f"{config_path}: unfilled placeholders {sorted(set(left))}")
    config = json.loads(text)
    for name, p in config.get("providers", {}).items():
        jwks = p.get("jwks", {})
        if "uri" in jwks:
            jwks["cluster"] = istio_cluster(jwks["uri"])
            jwks["authority"] = urlsplit(jwks["uri"]).netloc
    return config


def wasm_plugin(name, namespace, app, url, sha256, config):
    return {
        "apiVersion": "extensions.istio.io/v1alpha1",
        "kind": "WasmPlugin",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "selector": {"matchLabels": {"app": app}},
            "url": url,
            "sha256": sha256,
            "phase": "AUTHN",
            "failStrategy": "FAIL_CLOSE",
            "type": "HTTP",
            "imagePullPolicy": "IfNotPresent",
            "pluginConfig": config,
        },
    }


def blob(out, data):
    """Writes one content-addressed blob; returns its descriptor fields."""
    digest = hashlib.sha256(data).hexdigest()
    path = out / "blobs" / "sha256" / digest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def oci_layout(out, wasm, tag):
    """The image layout; returns the manifest's sha256 (hex)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    config = json.dumps({"type": "envoy_proxy", "abiVersions": ["v0.2.1"], "rootIds": ["jwtgate"]}).encode()
    layer = {"mediaType": LAYER_MEDIA_TYPE, **blob(out, wasm),
             "annotations": {"org.opencontainers.image.title": "plugin.wasm"}}
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": {"mediaType": CONFIG_MEDIA_TYPE, **blob(out, config)},
        "layers": [layer],
    }
    m = blob(out, json.dumps(manifest, separators=(",", ":")).encode())
    index = {"schemaVersion": 2, "manifests": [
        {"mediaType": MANIFEST_MEDIA_TYPE, **m, "annotations": {"org.opencontainers.image.ref.name": tag}}]}
    (out / "index.json").write_text(json.dumps(index, indent=2) + "\n")
    return m["digest"].removeprefix("sha256:")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wasm", default=ROOT / "target/wasm32-wasip1/release/jwtgate_filter.wasm", type=Path)
    ap.add_argument("--config", default=ROOT / "envoy/istio/mesh.json", type=Path)
    ap.add_argument("--issuer", default="https://idp.example.com")
    ap.add_argument("--out", default=ROOT / "target/istio", type=Path)
    ap.add_argument("--name", default="jwtgate")
    ap.add_argument("--namespace", default="default")
    ap.add_argument("--app", default="api", help="the workload's `app` label")
    ap.add_argument("--http-url", default="https://artifacts.example.com/jwtgate/0.1.0/jwtgate_filter.wasm")
    ap.add_argument("--image", default="oci://registry.example.com/jwtgate/filter")
    ap.add_argument("--tag", default="0.1.0")
    a = ap.parse_args(argv)
    wasm = a.wasm.read_bytes()
    if wasm[:4] != b"\0asm":
        sys.exit(f"{a.wasm}: not a wasm module")
    config = plugin_config(a.config, a.issuer)
    module_sha = hashlib.sha256(wasm).hexdigest()
    manifest_sha = oci_layout(a.out / "oci", wasm, a.tag)
    docs = {
        "wasmplugin.yaml": wasm_plugin(a.name, a.namespace, a.app, a.http_url, module_sha, config),
        "wasmplugin-oci.yaml": wasm_plugin(a.name, a.namespace, a.app, f"{a.image}:{a.tag}", manifest_sha, config),
    }
    for file, doc in docs.items():
        (a.out / file).write_text(yaml.safe_dump(doc, sort_keys=False))
    print(f"{a.out}/wasmplugin.yaml: module sha256 {module_sha}")
    print(f"{a.out}/wasmplugin-oci.yaml: image {a.image}:{a.tag}, manifest sha256 {manifest_sha}")
    print(f"{a.out}/oci: OCI image layout, one layer ({len(wasm)} bytes, {LAYER_MEDIA_TYPE})")


if __name__ == "__main__":
    main()
