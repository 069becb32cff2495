"""The WasmPlugin and the OCI layout `make istio` writes, checked against Istio's own CRD
schema (schema/, from istio/api), and the importer's Istio fixtures against the
RequestAuthentication / AuthorizationPolicy CRDs, so the shapes we read are the real ones.

Run: .venv/bin/python -m unittest envoy/istio/test_istio.py (part of `make unit`).

The CRD schemas are structural OpenAPI v3: Kubernetes refuses unknown fields unless
`x-kubernetes-preserve-unknown-fields`, which `strict()` turns into JSON Schema's
`additionalProperties: false`. CEL rules (`x-kubernetes-validations`) are not JSON Schema;
the one WasmPlugin rule that bears on us (at most one of selector/targetRef/targetRefs)
is checked by hand.
"""
import hashlib
import json
import re
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import jsonschema
import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
import build  # noqa: E402


def strict(schema):
    """A CRD's structural schema as JSON Schema that refuses unknown fields."""
    if isinstance(schema, dict):
        out = {k: strict(v) for k, v in schema.items() if not k.startswith("x-kubernetes-")}
        if schema.get("x-kubernetes-int-or-string"):
            out.pop("type", None)
            out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
        if "properties" in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
            out.setdefault("additionalProperties", False)
        return out
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    return schema


def validator(kind):
    doc = json.loads((HERE / "schema" / f"{kind}.schema.json").read_text())
    schema = strict(doc["openAPIV3Schema"])
    # Every Kubernetes object has these; a CRD schema describes only spec and status.
    # (v1 and v1beta1 of the security kinds are served with one schema.)
    schema["properties"].update({
        "apiVersion": {"type": "string", "pattern": f"^{re.escape(doc['group'])}/v1"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
    })
    schema["required"] = ["apiVersion", "kind", "metadata", *schema.get("required", [])]
    return jsonschema.Draft7Validator(schema)


def errors(kind, resource):
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator(kind).iter_errors(resource)]


class WasmPluginTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.out = Path(cls.tmp.name)
        # A stand-in module: the schema and the layout do not depend on its contents.
        cls.wasm = cls.out / "m.wasm"
        cls.wasm.write_bytes(b"\0asm\x01\0\0\0" + b"jwtgate" * 100)
        build.main(["--wasm", str(cls.wasm), "--out", str(cls.out)])
        cls.plugins = {f: yaml.safe_load((cls.out / f).read_text()) for f in ("wasmplugin.yaml", "wasmplugin-oci.yaml")}

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_both_plugins_validate_against_the_wasmplugin_crd(self):
        for name, p in self.plugins.items():
            self.assertEqual(errors("wasmplugin.v1alpha1", p), [], name)
            spec = p["spec"]
            self.assertLessEqual(sum(k in spec for k in ("selector", "targetRef", "targetRefs")), 1)
            self.assertEqual((spec["phase"], spec["failStrategy"], spec["type"]), ("AUTHN", "FAIL_CLOSE", "HTTP"))

    def test_the_checker_refuses_what_istio_refuses(self):
        p = json.loads(json.dumps(self.plugins["wasmplugin.yaml"]))
        p["spec"]["phase"] = "AUTHENTICATION"
        p["spec"]["sha256"] = "ABC"
        p["spec"]["failStrategy2"] = "FAIL_OPEN"
        found = errors("wasmplugin.v1alpha1", p)
        self.assertEqual(len(found), 3, found)

    def test_sha256_is_the_module_for_https_and_the_manifest_for_oci(self):
        module = hashlib.sha256(self.wasm.read_bytes()).hexdigest()
        self.assertEqual(self.plugins["wasmplugin.yaml"]["spec"]["sha256"], module)
        index = json.loads((self.out / "oci/index.json").read_text())
        (entry,) = index["manifests"]
        digest = self.plugins["wasmplugin-oci.yaml"]["spec"]["sha256"]
        self.assertEqual(entry["digest"], f"sha256:{digest}")
        self.assertEqual(entry["annotations"]["org.opencontainers.image.ref.name"], "0.1.0")

    def test_the_oci_layout_holds_the_module_as_its_single_layer(self):
        self.assertEqual(json.loads((self.out / "oci/oci-layout").read_text()), {"imageLayoutVersion": "1.0.0"})
        blobs = self.out / "oci/blobs/sha256"
        for f in blobs.iterdir():  # content-addressed: every blob's name is its digest
            self.assertEqual(hashlib.sha256(f.read_bytes()).hexdigest(), f.name)
        (entry,) = json.loads((self.out / "oci/index.json").read_text())["manifests"]
        manifest = json.loads((blobs / entry["digest"].split(":")[1]).read_text())
        self.assertEqual(manifest["config"]["mediaType"], build.CONFIG_MEDIA_TYPE)
        (layer,) = manifest["layers"]
        self.assertEqual(layer["mediaType"], build.LAYER_MEDIA_TYPE)
        self.assertEqual((blobs / layer["digest"].split(":")[1]).read_bytes(), self.wasm.read_bytes())
        self.assertEqual(layer["size"], self.wasm.stat().st_size)

    def test_plugin_config_is_the_gate_config_for_the_mesh(self):
        config = self.plugins["wasmplugin.yaml"]["spec"]["pluginConfig"]
        self.assertNotIn("${", json.dumps(config))
        jwks = config["providers"]["idp"]["jwks"]
        self.assertEqual(jwks["cluster"], "outbound|443||idp.example.com")
        self.assertEqual(jwks["uri"], "https://idp.example.com/jwks")
        self.assertEqual(config["rules"], json.loads((ROOT / "envoy/istio/mesh.json").read_text())["rules"])
        cli = ROOT / "target/debug/jwtgate"
        if cli.exists():  # the gate itself loads it (built by `cargo test -p jwtgate-cli`)
            path = self.out / "plugin-config.json"
            path.write_text(json.dumps(config))
            r = subprocess.run([str(cli), "lint", str(path)], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


class ImporterFixtureTest(unittest.TestCase):
    def test_istio_fixtures_have_the_real_crd_shapes(self):
        kinds = {"RequestAuthentication": "requestauthentication.v1", "AuthorizationPolicy": "authorizationpolicy.v1"}
        fixtures = sorted((ROOT / "cli/tests/fixtures/import/istio").glob("*.yaml"))
        self.assertGreaterEqual(len(fixtures), 5)
        for f in fixtures:
            for doc in yaml.safe_load_all(f.read_text()):
                self.assertEqual(errors(kinds[doc["kind"]], doc), [], f"{f.name} {doc['metadata']['name']}")


if __name__ == "__main__":
    unittest.main()
