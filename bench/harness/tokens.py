"""The run's keys and tokens (made by bench/tokens.mjs) and a tampered token."""
import json
import subprocess

from . import config
from .config import BENCH, ROOT, TOKENS_DIR


def make_tokens():
    subprocess.run(["node", str(BENCH / "tokens.mjs"), "--out", str(TOKENS_DIR), "--count", str(config.TOKEN_COUNT)],
                   cwd=ROOT, check=True)
    return json.loads((TOKENS_DIR / "jwks.json").read_text()), json.loads((TOKENS_DIR / "meta.json").read_text())


def token_file(alg, mode):
    return TOKENS_DIR / f"{alg}-{mode}.txt"


def read_tokens(alg, mode):
    return [t for t in token_file(alg, mode).read_text().splitlines() if t]


def tamper(token):
    head, payload, sig = token.split(".")
    return ".".join([head, payload, ("A" if sig[0] != "A" else "B") + sig[1:]])
