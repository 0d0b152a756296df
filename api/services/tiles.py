"""C2SP tlog-tiles: tile paths, and a tile's bytes read from the Merkle view."""

from __future__ import annotations

from dataclasses import dataclass

from api.errors import TileNotFound
from domain import merkle
from projections.views import Views

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
MAX_TILE_LEVEL = 63


@dataclass(frozen=True)
class TileRef:
    """A tile: ``level`` (``None`` for an entry bundle), ``index``, ``width`` (256 = full)."""

    level: int | None
    index: int
    width: int

    @property
    def full(self) -> bool:
        return self.width == TILE_WIDTH

    def path(self) -> str:
        """The path below ``tile/``: ``<L>/<N>[.p/<W>]`` or ``entries/<N>[.p/<W>]``."""
        head = "entries" if self.level is None else str(self.level)
        tail = "" if self.full else f".p/{self.width}"
        return f"{head}/{encode_tile_index(self.index)}{tail}"

    def leaves_needed(self) -> int:
        """The smallest tree size that holds every hash (or entry) of this tile."""
        level = 0 if self.level is None else self.level
        return (self.index * TILE_WIDTH + self.width) << (TILE_HEIGHT * level)


def encode_tile_index(index: int) -> str:
    """``1234067`` → ``x001/x234/067``: 3-digit groups, all but the last prefixed with x."""
    groups = [f"{index % 1000:03d}"]
    index //= 1000
    while index:
        groups.append(f"x{index % 1000:03d}")
        index //= 1000
    return "/".join(reversed(groups))


def parse_tile_path(path: str) -> TileRef:
    """The tile a ``tile/...`` path names; ``TileNotFound`` unless it is the canonical spelling."""
    head, _, rest = path.partition("/")
    if head == "entries":
        level: int | None = None
    elif head.isascii() and head.isdigit() and str(int(head)) == head:
        level = int(head)
        if level > MAX_TILE_LEVEL:
            raise TileNotFound(f"no tile is at tile/{path}")
    else:
        raise TileNotFound(f"no tile is at tile/{path}")
    width = TILE_WIDTH
    if ".p/" in rest:
        rest, _, width_text = rest.partition(".p/")
        if (
            not (width_text.isascii() and width_text.isdigit())
            or str(int(width_text)) != width_text
        ):
            raise TileNotFound(f"no tile is at tile/{path}")
        width = int(width_text)
        if not 1 <= width < TILE_WIDTH:
            raise TileNotFound(f"no tile is at tile/{path}")
    groups = rest.split("/")
    if any(len(g) != (4 if i < len(groups) - 1 else 3) for i, g in enumerate(groups)):
        raise TileNotFound(f"no tile is at tile/{path}")
    digits = "".join(g.removeprefix("x") for g in groups)
    if not (digits.isascii() and digits.isdigit()) or any(g[0] != "x" for g in groups[:-1]):
        raise TileNotFound(f"no tile is at tile/{path}")
    tile = TileRef(level, int(digits), width)
    if tile.path() != path:  # x000/005 for 005, and the like: one spelling per tile
        raise TileNotFound(f"no tile is at tile/{path}")
    return tile


def tile_data(views: Views, tile: TileRef, size: int | None = None) -> bytes:
    """A tile's bytes from the Merkle view: hashes (32 bytes each) or an entry bundle.

    Hash ``i`` of tile ``N`` at level ``L`` is the stored node at tree level ``8 * L`` and index
    ``N * 256 + i``. An entry is a leaf's input, the 32 raw bytes of its event's hash, written
    with its big-endian 16-bit length.
    """
    size = views.tree_size() if size is None else size
    if tile.leaves_needed() > size:
        raise TileNotFound(
            f"tile/{tile.path()} needs a tree of {tile.leaves_needed()} leaves; it has {size}"
        )
    first = tile.index * TILE_WIDTH
    if tile.level is None:
        leaves = views.leaves(first, tile.width)
        if len(leaves) != tile.width:
            raise merkle.MissingNodeError(f"the Merkle view lacks leaves of {tile.path()}")
        size_prefix = merkle.HASH_SIZE.to_bytes(2, "big")
        return b"".join(size_prefix + bytes.fromhex(leaf.hash) for leaf in leaves)
    level = tile.level * TILE_HEIGHT
    addresses = [(level, first + i) for i in range(tile.width)]
    found = views.merkle_nodes(addresses)
    try:
        return b"".join(found[address] for address in addresses)
    except KeyError as e:
        raise merkle.MissingNodeError(f"merkle node {e.args[0]} is not stored") from None
