"""Every code the node uses to refuse a transaction, a block or a peer, with what it means.

The values are on the wire (a `reject` message), in the REST API and in the
peer scoring, so they never change; a new refusal gets a new member here.
"""

from __future__ import annotations

from enum import StrEnum


class Code(StrEnum):
    # a transaction on its own
    WRONG_NETWORK = "wrong-network"
    UNEXPECTED_COINBASE = "unexpected-coinbase"
    BAD_AMOUNT = "bad-amount"
    BAD_FEE = "bad-fee"
    BAD_SIGNATURE = "bad-signature"
    # a transaction against the sender's account
    BAD_NONCE = "bad-nonce"
    INSUFFICIENT_FUNDS = "insufficient-funds"
    # the mempool's policy
    DUPLICATE = "duplicate"
    REPLACEMENT_FEE_TOO_LOW = "replacement-fee-too-low"
    MEMPOOL_FULL = "mempool-full"
    # the wallet's own pre-check
    OWN_ADDRESS = "own-address"
    # a block's header
    BAD_BITS = "bad-bits"
    BAD_POW = "bad-pow"
    TIME_TOO_NEW = "time-too-new"
    TIME_TOO_OLD = "time-too-old"
    # a block's body
    BLOCK_TOO_LARGE = "block-too-large"
    NO_COINBASE = "no-coinbase"
    BAD_COINBASE = "bad-coinbase"
    MULTIPLE_COINBASE = "multiple-coinbase"
    DUPLICATE_TXID = "duplicate-txid"
    BAD_MERKLE = "bad-merkle"
    BAD_COINBASE_HEIGHT = "bad-coinbase-height"
    BAD_COINBASE_AMOUNT = "bad-coinbase-amount"
    # a block's place in the chain
    ORPHAN = "orphan"
    BAD_PREVBLK = "bad-prevblk"
    KNOWN_INVALID = "known-invalid"
    BAD_GENESIS = "bad-genesis"
    LOW_WORK_HEADERS = "low-work-headers"
    LESS_WORK = "less-work"
    # a peer's handshake
    WRONG_GENESIS = "wrong-genesis"
    WRONG_PROTOCOL = "wrong-protocol"
    SELF_CONNECTION = "self-connection"
    BAD_PROOF = "bad-proof"
    BANNED = "banned"
    TOO_MANY = "too-many"
    SHUTTING_DOWN = "shutting-down"
    MALFORMED = "malformed"
    CLOSED = "closed"
    TIMEOUT = "timeout"
    LINK_CUT = "link-cut"
    RATE_LIMITED = "rate-limited"

    @property
    def explanation(self) -> str:
        return EXPLANATIONS[self]


EXPLANATIONS: dict[Code, str] = {
    Code.WRONG_NETWORK: "It belongs to another network (another network id or chain).",
    Code.UNEXPECTED_COINBASE: "A coinbase appeared where only a signed payment may stand.",
    Code.BAD_AMOUNT: "The amount is zero, negative or above all the money there can be.",
    Code.BAD_FEE: "The fee is negative or above all the money there can be.",
    Code.BAD_SIGNATURE: "The signature does not match the sender's key and the transaction.",
    Code.BAD_NONCE: "The sender's nonce was already used or skips one still missing.",
    Code.INSUFFICIENT_FUNDS: "The sender's balance does not cover the amount plus the fee.",
    Code.DUPLICATE: "Already known: the same transaction, block or peer connection.",
    Code.REPLACEMENT_FEE_TOO_LOW: "A pending transaction with this nonce pays an equal or "
    "higher fee.",
    Code.MEMPOOL_FULL: "The mempool is full of transactions paying a better fee rate.",
    Code.OWN_ADDRESS: "The wallet would pay its own address, which only burns the fee.",
    Code.BAD_BITS: "The difficulty field is not a valid target or not the one required.",
    Code.BAD_POW: "The block's hash does not meet the target its header claims.",
    Code.TIME_TOO_NEW: "The block's time is too far ahead of this node's clock (may pass "
    "later).",
    Code.TIME_TOO_OLD: "The block's time is not above the median of the previous blocks.",
    Code.BLOCK_TOO_LARGE: "The block is bigger than the network's size limit.",
    Code.NO_COINBASE: "The block does not start with a coinbase transaction.",
    Code.BAD_COINBASE: "The coinbase carries a fee or a signature, which it must not.",
    Code.MULTIPLE_COINBASE: "The block has more than one coinbase.",
    Code.DUPLICATE_TXID: "The block holds the same transaction twice.",
    Code.BAD_MERKLE: "The header's Merkle root does not match the block's transactions.",
    Code.BAD_COINBASE_HEIGHT: "The coinbase commits to a height other than the block's.",
    Code.BAD_COINBASE_AMOUNT: "The coinbase pays more than the subsidy plus the fees.",
    Code.ORPHAN: "Its parent block is not known yet.",
    Code.BAD_PREVBLK: "Its parent block is known to be invalid.",
    Code.KNOWN_INVALID: "This block was already found invalid.",
    Code.BAD_GENESIS: "The stored chain starts from another genesis block.",
    Code.LOW_WORK_HEADERS: "The headers' chain has too little work, compared with the tip, "
    "to be kept.",
    Code.LESS_WORK: "The chain has less work than the active one: most work wins, not most "
    "blocks.",
    Code.WRONG_GENESIS: "The peer's chain starts from another genesis block.",
    Code.WRONG_PROTOCOL: "The peer speaks another version of the wire protocol.",
    Code.SELF_CONNECTION: "The connection leads back to this node itself.",
    Code.BAD_PROOF: "The peer's handshake signature does not prove the key of its node id.",
    Code.BANNED: "The peer is banned for misbehaving.",
    Code.TOO_MANY: "The node already has as many inbound connections as it takes.",
    Code.SHUTTING_DOWN: "The node is shutting down.",
    Code.MALFORMED: "The bytes are not a valid message of the protocol.",
    Code.CLOSED: "The connection closed before the handshake finished.",
    Code.TIMEOUT: "The handshake did not finish in time.",
    Code.LINK_CUT: "A devnet split cuts this node off from the peer (`tuichain devnet heal`).",
    Code.RATE_LIMITED: "The peer announced more than the node takes from one peer; the rest "
    "is ignored.",
}
