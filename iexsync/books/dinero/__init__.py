"""The Dinero books connector, one module a job (see `connector` for the contract)."""

from iexsync.books.dinero.connector import DineroBooks

__all__ = ["DineroBooks"]
