"""The e-conomic books connector, one module a job (see `connector` for the contract)."""

from iexsync.books.economic.connector import EconomicBooks

__all__ = ["EconomicBooks"]
