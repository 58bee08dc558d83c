#!/usr/bin/env python3
"""Re-checks the golden tables of ledger/tests/golden.rs outside Rust.

An independent implementation (Python hashlib and pyca/cryptography) recomputes, from
the golden bytes alone: every record hash and signing-bytes string, the header,
validator-set and genesis hashes, the records_root of the fixture block (RFC 9162),
the header layout, a state key, and verifies every record, vote and proposal
signature with the fixture keys (seed bytes repeated 32 times). Run it after
regenerating the tables:

    python3 ledger/tests/golden_crosscheck.py

It needs `pip install cryptography` for the signature checks (skipped without it).
"""

import hashlib
import pathlib
import re
import sys

GOLDEN = pathlib.Path(__file__).with_name("golden.rs")
RECORD_DOMAIN = b"tongban/record/v1\0"


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def main() -> int:
    table = dict(re.findall(r'\("([^"]+)",\s*"([0-9a-f]*)"\)', GOLDEN.read_text()))
    value = {name: bytes.fromhex(h) for name, h in table.items()}
    records = [n for n in value if n.startswith("record/") and not n.endswith(("/hash", "/signing_bytes"))]
    for name in records:
        rec = value[name]
        assert sha256(rec) == value[name + "/hash"], name
        signing = value[name + "/signing_bytes"]
        # encode(signed) = encode(payload) ++ signature; signing = domain ++ encode(payload)
        assert signing == RECORD_DOMAIN + rec[:-64], name
    assert sha256(b"tongban/header/v1\0" + value["block_header"]) == value["block_header/hash"]
    assert sha256(b"tongban/validators/v1\0" + value["validator_set"]) == value["validator_set/hash"]
    assert sha256(b"tongban/genesis/v1\0" + value["genesis"]) == value["genesis/hash"]
    assert sha256(b"tongban/member/" + b"91350100M000100Y43") == value["key/member"]
    assert value["block"].startswith(value["block_header"])

    # The fixture block holds the first three records; RFC 9162 MTH of three leaves.
    first3 = ["record/propose_member_change/add", "record/propose_member_change/remove",
              "record/propose_member_change/rotate_key"]
    leaf = [sha256(b"\x00" + sha256(value[n])) for n in first3]
    node = lambda l, r: sha256(b"\x01" + l + r)
    root = node(node(leaf[0], leaf[1]), leaf[2])
    assert root == value["block_header/records_root"]

    # Header layout: u64 chain-id length, chain id, u64 height, u64 time, prev_hash, records_root.
    header = value["block_header"]
    n = int.from_bytes(header[:8], "little")
    at = 8 + n
    assert header[8:at] == b"tongban-golden"
    assert header[at + 16:at + 48] == value["genesis/hash"]
    assert header[at + 48:at + 80] == root
    print(f"hashes, layout and records_root: ok ({len(records)} records)")

    try:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    except ImportError:
        print("pyca/cryptography not installed: signature checks skipped")
        return 0
    key = lambda seed: Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32)
    for name in records:
        signing = value[name + "/signing_bytes"]
        assert key(2).sign(signing) == value[name][-64:], name
    key(3).public_key().verify(value["signed_vote/precommit"][-64:], value["vote/precommit/signing_bytes"])
    key(3).public_key().verify(value["signed_vote/prevote_nil"][-64:], value["vote/prevote_nil/signing_bytes"])
    key(1).public_key().verify(value["signed_proposal"][-64:], value["proposal_message/signing_bytes"])
    print(f"signatures: ok ({len(records) + 3})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
