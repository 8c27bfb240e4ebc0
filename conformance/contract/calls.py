"""The vocabulary of a call object, as the contract defines it: its statuses, directions and addresses.

tests/test_contract.py holds the statuses and directions against the enums of openapi.yaml.
"""

from __future__ import annotations

#: A call in one of these has ended: its status, SIP status and duration stay as they are (D-42).
TERMINAL_STATUSES = frozenset({"completed", "failed", "busy", "no-answer"})
#: A call in one of these is still going on.
ACTIVE_STATUSES = frozenset({"queued", "trying", "ringing", "early-media", "in-progress"})
STATUSES = TERMINAL_STATUSES | ACTIVE_STATUSES
DIRECTIONS = frozenset({"inbound", "outbound"})
#: The field of a create's `to` that holds the address, by its `type`.
TARGET_ADDRESS = {"phone": "number", "teams": "number", "sip": "sipUri", "user": "name"}
