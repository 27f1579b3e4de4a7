"""Where the vendors' own contracts live, and what a test does when they are not there.

The vendor files (API schemas, documented examples) stay outside the repository, in
`../shared/vendor` beside it or wherever $IEXSYNC_VENDOR_DIR points: they are the shared
contract, never copied in. A check that needs one uses it when present; in a clone with
nothing beside it, that check (or that test) is skipped with a one-line reason naming the
missing file. CI has the folder, so every check runs there.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
VENDOR = Path(os.environ.get("IEXSYNC_VENDOR_DIR") or REPO.parent / "shared" / "vendor")


def vendor_path(*parts: str) -> Path | None:
    """The vendor file, or None when this clone has no vendor folder (or not that file)."""
    path = VENDOR.joinpath(*parts)
    return path if path.exists() else None


def missing(*parts: str) -> str:
    """The one-line reason a check was skipped."""
    return f"vendor contract {'/'.join(parts)} not found in {VENDOR} (set IEXSYNC_VENDOR_DIR)"


def vendor_json(*parts: str) -> Any:
    """A vendor JSON file; skips the calling test when it is not there."""
    path = vendor_path(*parts)
    if path is None:
        pytest.skip(missing(*parts))
    return json.loads(path.read_text(encoding="utf-8"))


def needs_vendor(*parts: str) -> pytest.MarkDecorator:
    """Mark a test that checks the vendor's own file (its examples, its schema)."""
    return pytest.mark.skipif(vendor_path(*parts) is None, reason=missing(*parts))
