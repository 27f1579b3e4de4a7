"""A Shopify order's state: its financial status plus its fulfilment status (and cancelled).

`displayFinancialStatus` can be null (an order without any payment): that is `none` here.
`allowed_states` may name a financial status (`paid`), a fulfilment status (`fulfilled`),
a pair (`paid+fulfilled`) or `cancelled`; a cancelled order needs `cancelled` allowed besides.
Closed (archived) orders are not a state of their own: Shopify archives fulfilled, paid orders.
"""

from __future__ import annotations

FINANCIAL = ("pending", "authorized", "partially_paid", "paid", "partially_refunded", "refunded", "voided",
             "expired", "none")
FULFILMENT = ("unfulfilled", "partially_fulfilled", "fulfilled", "restocked", "pending_fulfillment", "open",
              "in_progress", "on_hold", "scheduled", "request_declined")
CANCELLED = "cancelled"


def state_of(financial: str | None, fulfilment: str | None, cancelled: bool) -> str:
    parts = [(financial or "none").lower(), (fulfilment or "unfulfilled").lower()]
    return "+".join(parts + ([CANCELLED] if cancelled else []))


def match(state: str, allowed: tuple[str, ...]) -> tuple[str | None, str]:
    """The allowed entry the state matches (a pair before a single status, so a pair's
    per_state rule wins), or None and what was not allowed ("financial status pending")."""
    financial, fulfilment, *rest = state.split("+") + [""]
    cancelled = CANCELLED in rest
    if cancelled and CANCELLED not in allowed:
        return None, "the order is cancelled"
    for entry in (f"{financial}+{fulfilment}", financial, fulfilment, state):
        if entry in allowed:
            return entry, ""
    named = {part for entry in allowed for part in entry.split("+")}
    missing = [f"{what} {value}" for what, value in (("financial status", financial), ("fulfilment status", fulfilment))
               if value not in named]
    return None, ", ".join(missing) or f"the pair {financial}+{fulfilment}"


def search_query(name: str) -> str | None:
    """Shopify's search for orders in one state, for `iexsync states` counts."""
    if name == "none":
        return None  # no search term finds a null financial status
    if name in FINANCIAL:
        return f"financial_status:{name}"
    if name in FULFILMENT:
        return f"fulfillment_status:{name}"
    if name == CANCELLED:
        return "status:cancelled"
    return None


def known(name: str) -> bool:
    return all(part in FINANCIAL + FULFILMENT + (CANCELLED,) for part in name.split("+"))
