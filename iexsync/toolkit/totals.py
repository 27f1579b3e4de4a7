"""The check every books connector makes before booking: the accounting system's totals
against the shop's, within the configured tolerance (`totals.tolerance`)."""

from __future__ import annotations

from decimal import Decimal

from iexsync.model import Totals


def totals_problem(expected: Totals, remote: Totals, tolerance: Decimal, currency: str, system: str,
                   hint: str) -> str | None:
    """None when gross and VAT are each within `tolerance`; else the message that says by how
    much, and `hint`: where to look."""
    if abs(expected.gross - remote.gross) <= tolerance and abs(expected.vat - remote.vat) <= tolerance:
        return None
    return (f"totals differ: the shop says {expected.gross} {currency} (VAT {expected.vat}), {system} computed "
            f"{remote.gross} (VAT {remote.vat}), more than the tolerance {tolerance} apart; {hint}")
