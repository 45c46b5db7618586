"""Merkle trees of cumulative reward totals, compatible with OpenZeppelin's StandardMerkleTree.

The RewardsDistributor contract checks a claim with ``MerkleProof.verifyCalldata`` against a
leaf ``keccak256(bytes.concat(keccak256(abi.encode(account, cumulativeAmount))))``. This module
builds the very same tree as ``StandardMerkleTree.of(values, ["address", "uint256"])`` from
``@openzeppelin/merkle-tree``, so roots and proofs are interchangeable with that library:

* leaves are double-hashed (a 64-byte internal node can never pass for a leaf);
* leaves are sorted by hash, then stored at the end of a flat array that holds a complete
  binary tree (node ``i`` has children ``2i+1`` and ``2i+2``; leaf ``k`` of the sorted order sits
  at ``len(tree) - 1 - k``), internal nodes filled from the back;
* a pair is hashed in sorted order (``keccak256(min(a, b) || max(a, b))``), so a proof is just
  the list of siblings from the leaf up, with no left/right flags.

Hashing goes straight to a C keccak (safe-pysha3 when installed, else pycryptodome) with the
ABI encoding done by hand, and the internal nodes are hashed a level at a time (one
comprehension over two slices of the flat array): a 1,000,000-leaf tree takes seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final, cast

from depinkit.core.errors import DepinkitError

UINT256_MAX: Final[int] = 2**256 - 1  # largest uint256, the Solidity type of a cumulative amount
ADDRESS_BYTES: Final[int] = 20  # an EVM address
NODE_BYTES: Final[int] = 32  # a keccak256 digest
DUMP_FORMAT: Final[str] = "standard-v1"  # @openzeppelin/merkle-tree's dump format name
LEAF_ENCODING: Final[tuple[str, str]] = ("address", "uint256")


class MerkleError(DepinkitError, ValueError):
    """Bad input to a Merkle tree: no leaves, a malformed account or amount, a duplicate account."""


def _keccak_constructor() -> Callable[[bytes], Any] | None:
    """safe-pysha3's keccak_256 when installed: about 6x faster per call than pycryptodome's."""
    try:
        import sha3
    except ImportError:  # pragma: no cover - depends on the installed wheels
        return None
    return cast(Callable[[bytes], Any], sha3.keccak_256)


def _keccak_impl(constructor: Callable[[bytes], Any] | None) -> Callable[[bytes], bytes]:
    """A keccak256 function (the tree of a million leaves needs 3 million of them)."""
    if constructor is not None:
        return lambda data: bytes(constructor(data).digest())
    from Crypto.Hash import keccak as _ck  # pragma: no cover

    new = _ck.new  # pragma: no cover
    return lambda data: bytes(new(data=data, digest_bits=256).digest())  # pragma: no cover


_KECCAK_NEW: Final[Callable[[bytes], Any] | None] = _keccak_constructor()
_keccak: Final[Callable[[bytes], bytes]] = _keccak_impl(_KECCAK_NEW)


def _account_bytes(account: str | bytes) -> bytes:
    """20 address bytes from a 0x hex string (any case) or raw bytes."""
    if isinstance(account, bytes):
        raw = account
    elif isinstance(account, str) and len(account) == 42 and account[:2] in ("0x", "0X"):
        try:
            raw = bytes.fromhex(account[2:])
        except ValueError as exc:
            raise MerkleError(f"account is not hex: {account!r}") from exc
    else:
        raise MerkleError(f"account must be a 0x-prefixed 20-byte hex address: {account!r}")
    if len(raw) != ADDRESS_BYTES:
        raise MerkleError(f"account must be 20 bytes, got {len(raw)}")
    return raw


def _amount_bytes(amount: int) -> bytes:
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise MerkleError(f"amount must be an int, got {type(amount).__name__}")
    if amount < 0 or amount > UINT256_MAX:
        raise MerkleError(f"amount out of uint256 range: {amount}")
    return amount.to_bytes(32, "big")


def _leaf(raw_account: bytes, amount: int) -> bytes:
    # abi.encode(address, uint256): the address left-padded to 32 bytes, then the amount.
    return _keccak(_keccak(b"\x00" * 12 + raw_account + _amount_bytes(amount)))


def leaf_hash(account: str | bytes, amount: int) -> bytes:
    """The StandardMerkleTree leaf of ``(account, amount)``, as the contract computes it."""
    return _leaf(_account_bytes(account), amount)


def hash_pair(a: bytes, b: bytes) -> bytes:
    """OpenZeppelin's commutative node hash: keccak256 of the two children in sorted order."""
    return _keccak(a + b) if a < b else _keccak(b + a)


def process_proof(leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root that ``proof`` leads to from ``leaf`` (MerkleProof.processProof)."""
    node = leaf
    for sibling in proof:
        if len(sibling) != NODE_BYTES:
            raise MerkleError(f"proof node must be 32 bytes, got {len(sibling)}")
        node = _keccak(node + sibling) if node < sibling else _keccak(sibling + node)
    return node


def verify(root: bytes, account: str | bytes, amount: int, proof: Sequence[bytes]) -> bool:
    """Whether ``proof`` shows ``(account, amount)`` is a leaf of the tree with ``root``."""
    try:
        return process_proof(leaf_hash(account, amount), proof) == root
    except MerkleError:
        return False


class MerkleTree:
    """A built tree: the node array, the values in input order, and where each value sits.

    Immutable after construction; build one with :func:`build`. Accounts come back as
    lowercase 0x hex (checksumming a million addresses would cost a keccak each).
    """

    __slots__ = ("_accounts", "_amounts", "_by_account", "_nodes", "_tree_index")

    def __init__(
        self,
        nodes: list[bytes],
        accounts: list[bytes],
        amounts: list[int],
        tree_index: list[int],
    ) -> None:
        self._nodes = nodes
        self._accounts = accounts
        self._amounts = amounts
        self._tree_index = tree_index
        self._by_account: dict[bytes, int] | None = None

    @property
    def root(self) -> bytes:
        return self._nodes[0]

    @property
    def root_hex(self) -> str:
        return "0x" + self._nodes[0].hex()

    def __len__(self) -> int:
        return len(self._accounts)

    @property
    def nodes(self) -> tuple[bytes, ...]:
        """The flat node array, as in ``StandardMerkleTree.dump().tree``."""
        return tuple(self._nodes)

    def value(self, index: int) -> tuple[str, int]:
        """The ``(account, amount)`` given at position ``index`` of the input."""
        return "0x" + self._accounts[index].hex(), self._amounts[index]

    def values(self) -> list[tuple[str, int]]:
        return [("0x" + a.hex(), v) for a, v in zip(self._accounts, self._amounts, strict=True)]

    def index_of(self, account: str | bytes) -> int:
        """Position of ``account`` in the input; MerkleError when it is not in the tree."""
        raw = _account_bytes(account)
        if self._by_account is None:  # built on first lookup: most users prove by index
            self._by_account = {a: i for i, a in enumerate(self._accounts)}
        try:
            return self._by_account[raw]
        except KeyError:
            raise MerkleError(f"account not in tree: 0x{raw.hex()}") from None

    def amount_of(self, account: str | bytes) -> int:
        return self._amounts[self.index_of(account)]

    def proof(self, key: int | str | bytes) -> list[bytes]:
        """Sibling hashes from the leaf to the root, for an input position or an account."""
        if isinstance(key, (str, bytes)):
            index = self.index_of(key)
        elif isinstance(key, int) and not isinstance(key, bool):
            if not 0 <= key < len(self._accounts):
                raise MerkleError(f"leaf index out of range: {key}")
            index = key
        else:
            raise MerkleError(f"a leaf is named by index or account, not {key!r}")
        i = self._tree_index[index]
        nodes = self._nodes
        out: list[bytes] = []
        while i > 0:
            out.append(nodes[i + 1] if i % 2 else nodes[i - 1])
            i = (i - 1) // 2
        return out

    def proof_hex(self, key: int | str | bytes) -> list[str]:
        return ["0x" + p.hex() for p in self.proof(key)]

    def dump(self) -> dict[str, Any]:
        """The tree in @openzeppelin/merkle-tree's ``standard-v1`` JSON form.

        Amounts are decimal strings, as that library writes them, so JSON never rounds them.
        """
        return {
            "format": DUMP_FORMAT,
            "leafEncoding": list(LEAF_ENCODING),
            "tree": ["0x" + n.hex() for n in self._nodes],
            "values": [
                {"value": ["0x" + a.hex(), str(v)], "treeIndex": t}
                for a, v, t in zip(self._accounts, self._amounts, self._tree_index, strict=True)
            ],
        }


def _leaves(accounts: list[bytes], amounts: list[int]) -> list[bytes]:
    """The leaf hash of each ``(account, amount)``, both already checked.

    One comprehension over C calls: a million leaves are two million keccaks, so a Python
    function call or a list append per leaf is a visible share of the tree's time.
    """
    pad = b"\x00" * 12
    new = _KECCAK_NEW
    if new is None:  # pragma: no cover - depends on the installed wheels
        return [_leaf(a, v) for a, v in zip(accounts, amounts, strict=True)]
    return [
        new(new(pad + a + v.to_bytes(32, "big")).digest()).digest()
        for a, v in zip(accounts, amounts, strict=True)
    ]


def _fill_internal_nodes(nodes: list[bytes], internal: int) -> None:
    """Hash ``nodes[0:internal]`` from their children (``2i+1``, ``2i+2``), level by level.

    The nodes of one level of the flat array are contiguous and so are their children: each
    level is one comprehension over two slices, from the deepest level up.
    """
    new = _KECCAK_NEW
    level_start = 0  # levels start at 2**k - 1; find the deepest one holding internal nodes
    while 2 * level_start + 1 < internal:
        level_start = 2 * level_start + 1
    while internal:
        end = min(2 * level_start + 1, internal)  # one past the level's last internal node
        lefts = nodes[2 * level_start + 1 : 2 * end + 1 : 2]
        rights = nodes[2 * level_start + 2 : 2 * end + 2 : 2]
        if new is not None:
            nodes[level_start:end] = [
                new(a + b).digest() if a < b else new(b + a).digest()
                for a, b in zip(lefts, rights, strict=True)
            ]
        else:  # pragma: no cover - depends on the installed wheels
            nodes[level_start:end] = [
                _keccak(a + b) if a < b else _keccak(b + a)
                for a, b in zip(lefts, rights, strict=True)
            ]
        if level_start == 0:
            return
        level_start = (level_start - 1) // 2


def build(entries: Iterable[tuple[str | bytes, int]]) -> MerkleTree:
    """Build the tree of ``(account, cumulative amount)`` pairs; each account at most once.

    Raises MerkleError on no entries, a malformed account or amount, or a repeated account
    (a cumulative total is one number per account; two leaves would make claims ambiguous).
    """
    pairs = list(entries)
    n = len(pairs)
    if n == 0:
        raise MerkleError("a Merkle tree needs at least one leaf")
    accounts = [
        a if type(a) is bytes and len(a) == ADDRESS_BYTES else _account_bytes(a) for a, _ in pairs
    ]
    amounts = [v for _, v in pairs]
    del pairs
    if not all(type(v) is int for v in amounts) or not (
        min(amounts) >= 0 and max(amounts) <= UINT256_MAX
    ):
        for amount in amounts:
            _amount_bytes(amount)
    if len(set(accounts)) != n:
        seen: set[bytes] = set()
        for raw in accounts:
            if raw in seen:
                raise MerkleError(f"account appears twice: 0x{raw.hex()}")
            seen.add(raw)
    leaves = _leaves(accounts, amounts)
    order = sorted(range(n), key=leaves.__getitem__)
    size = 2 * n - 1
    # leaf k of the hash order sits at size - 1 - k: the tail of the array, reversed
    nodes: list[bytes] = [b""] * (n - 1) + [leaves[p] for p in reversed(order)]
    del leaves
    tree_index = [0] * n
    for k, position in enumerate(order):
        tree_index[position] = size - 1 - k
    del order
    _fill_internal_nodes(nodes, n - 1)
    return MerkleTree(nodes, accounts, amounts, tree_index)


LEAF_PREIMAGE_BYTES: Final[int] = 64  # abi.encode(address, uint256): two 32-byte words


def pack_leaves(accounts: Sequence[bytes], amounts: Sequence[int]) -> bytes:
    """The leaves' ABI encodings, concatenated: what :func:`root_of_packed` takes.

    Both already checked (20-byte accounts, each once; amounts in uint256 range).
    """
    pad = b"\x00" * 12
    return b"".join(
        [pad + a + v.to_bytes(32, "big") for a, v in zip(accounts, amounts, strict=True)]
    )


def root_of_packed(packed: bytes) -> bytes:
    """The root :func:`build` gives for the leaves ``pack_leaves`` encoded, nothing else.

    Takes one flat bytes object, so another process can compute a million-leaf root from
    a single cheap-to-send argument while its caller does other work.
    """
    width = LEAF_PREIMAGE_BYTES
    if not packed or len(packed) % width:
        raise MerkleError(f"packed leaves must be a non-empty multiple of {width} bytes")
    new = _KECCAK_NEW
    view = memoryview(packed)
    if new is not None:
        leaves = [
            new(new(view[i : i + width]).digest()).digest()  # type: ignore[arg-type]
            for i in range(0, len(packed), width)
        ]
    else:  # pragma: no cover - depends on the installed wheels
        leaves = [
            _keccak(_keccak(bytes(view[i : i + width]))) for i in range(0, len(packed), width)
        ]
    n = len(leaves)
    leaves.sort()
    leaves.reverse()  # leaf k of the hash order sits at size - 1 - k
    nodes: list[bytes] = [b""] * (n - 1) + leaves
    del leaves
    _fill_internal_nodes(nodes, n - 1)
    return nodes[0]


def root(entries: Iterable[tuple[str | bytes, int]]) -> bytes:
    """The root of the tree of ``entries`` (see :func:`build`)."""
    return build(entries).root


def load(dump: dict[str, Any]) -> MerkleTree:
    """Rebuild a tree from a ``standard-v1`` dump, refusing one whose nodes do not match.

    The values are re-hashed rather than trusted: a dump edited by hand (or by an attacker
    serving proofs) raises MerkleError instead of producing proofs for a different root.
    """
    try:
        if dump["format"] != DUMP_FORMAT or list(dump["leafEncoding"]) != list(LEAF_ENCODING):
            raise MerkleError("not a standard-v1 (address, uint256) Merkle tree dump")
        values = [(v["value"][0], int(v["value"][1])) for v in dump["values"]]
        claimed = [bytes.fromhex(str(n)[2:]) for n in dump["tree"]]
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise MerkleError(f"malformed Merkle tree dump: {exc}") from exc
    tree = build(values)
    if list(tree.nodes) != claimed:
        raise MerkleError("Merkle tree dump does not match its values")
    return tree
