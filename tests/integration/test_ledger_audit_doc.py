"""docs/ledger-format.md's Merkle tree and checkpoint sections say what the code computes."""

from __future__ import annotations

import re
from pathlib import Path

from domain import merkle, verify

DOC = Path(__file__).resolve().parents[2] / "docs" / "ledger-format.md"


def section(title: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def chain_hashes() -> list[str]:
    """The worked example's five event hashes, from its chain table."""
    text = DOC.read_text(encoding="utf-8")
    return re.findall(r"^\| \d \| `\w+` \| `[0-9a-f]{12}` \| `([0-9a-f]{64})` \|$", text, re.M)


def test_documented_leaf_hashes_are_the_leaves_of_the_example_events() -> None:
    text = section("The global Merkle tree (RFC 9162)")
    rows = re.findall(r"^\| (\d) \| `([0-9a-f]{12})` \| `([0-9a-f]{64})` \|$", text, re.M)
    hashes = chain_hashes()

    assert len(rows) == len(hashes) == 5
    for (index, prefix, leaf), event_hash in zip(rows, hashes, strict=True):
        assert event_hash.startswith(prefix), index
        assert merkle.event_leaf(event_hash).hex() == leaf


def test_documented_roots_and_proofs_are_what_the_tree_computes() -> None:
    text = section("The global Merkle tree (RFC 9162)")
    leaves = [merkle.event_leaf(h) for h in chain_hashes()]
    store = merkle.DictNodeStore()
    store.put_many(merkle.append(store, 0, leaves))
    four, five = merkle.root(leaves[:4]).hex(), merkle.root(leaves).hex()

    assert f"The root of the first four is `{four}`" in text
    assert f"`node_hash(that, leaf 4)` =\n`{five}`" in text
    assert merkle.inclusion_proof(store, 4, 5) == [bytes.fromhex(four)]
    assert merkle.consistency_proof(store, 4, 5) == [leaves[4]]
    assert verify.EMPTY_ROOT.hex() in text


def test_documented_checkpoint_payload_is_what_gets_signed() -> None:
    text = section("Checkpoints")
    block = re.search(r"```\n(parley-checkpoint/v1\n\{.*\})\n```", text)
    assert block is not None
    root = merkle.root([merkle.event_leaf(h) for h in chain_hashes()])

    payload = verify.checkpoint_payload(5, root, "2020-04-07T06:30:00+00:00")

    assert payload == block.group(1).encode("utf-8")
