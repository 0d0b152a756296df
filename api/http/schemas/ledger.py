"""The tamper-evident ledger's answers: checkpoints, proofs, the re-hash, the verifier key."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

HEX_HASH = r"^[0-9a-f]{64}$"


class CheckpointPublic(BaseModel):
    """The global Merkle tree's size and root at a moment, signed when the server has a key."""

    tree_size: int
    root: str = Field(pattern=HEX_HASH)
    timestamp: str
    signature: str | None = Field(
        default=None,
        description="Ed25519 over domain.verify.checkpoint_payload(tree_size, root, timestamp), "
        "base64",
    )
    public_key: str | None = Field(default=None, description="The raw Ed25519 public key, base64")


class InclusionProofPublic(BaseModel):
    leaf_index: int
    tree_size: int
    audit_path: list[str]
    event_id: str
    event_hash: str = Field(description="The event's hash; its leaf is SHA-256(0x00 || its bytes)")
    position: int


class ConsistencyProofPublic(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: int = Field(alias="from", serialization_alias="from")
    to: int
    proof: list[str]


class BadEventPublic(BaseModel):
    position: int | None
    event_id: str | None
    negotiation: str | None
    version: int | None
    reason: str


class VerifyPublic(BaseModel):
    ok: bool
    events_checked: int
    head: int = Field(description="The log position the re-hash reached")
    tree_size: int = Field(description="How many events were also checked against the tree")
    root: str | None = Field(description="The Merkle root recomputed from the checked leaves")
    first_bad: BadEventPublic | None = None


class VerifierKeyPublic(BaseModel):
    origin: str = Field(description="The checkpoint's origin line, also the signing key's name")
    key_id: str = Field(description="The note key id: SHA-256(name || \\n || 0x01 || key)[:4], hex")
    public_key: str = Field(description="The raw Ed25519 public key, base64")
    verifier_key: str = Field(description="name+keyid+base64(0x01 || key), for note.NewVerifier")
    witnesses: list[str] = Field(description="The verifier keys of the configured witnesses")


class CosignaturesPublic(BaseModel):
    tree_size: int
    accepted: list[str] = Field(description="The witnesses whose cosignatures verified")
    stored: int = Field(description="How many of them were new")
