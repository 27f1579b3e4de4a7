"""iexsync: transfer webshop orders into the books, exactly once."""

__version__ = "0.1.0"
