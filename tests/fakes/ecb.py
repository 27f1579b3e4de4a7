"""A fake of the ECB's euro reference rates feed (eurofxref-hist-90d.xml), as a WSGI app.

The shape is the ECB's own: a gesmes Envelope whose Cube holds one Cube per business day
(`time`, newest first), each holding a Cube per currency (`currency`, `rate`: units per
euro). No weekends or holidays are listed, as in the real feed. `status` makes it answer
an error instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

ENVELOPE = """<?xml version="1.0" encoding="UTF-8"?>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
\t<gesmes:subject>Reference rates</gesmes:subject>
\t<gesmes:Sender>
\t\t<gesmes:name>European Central Bank</gesmes:name>
\t</gesmes:Sender>
\t<Cube>
{days}
\t</Cube>
</gesmes:Envelope>
"""

# Published rates (units per euro) of three business days around a weekend; Saturday 28
# and Sunday 29 November 2026 have none, as in the real feed.
RATES = {
    "2026-11-30": {"USD": "1.0512", "JPY": "158.27", "DKK": "7.4598", "GBP": "0.85630", "SEK": "11.0420", "NOK": "11.7325"},
    "2026-11-27": {"USD": "1.0480", "JPY": "157.90", "DKK": "7.4590", "GBP": "0.85510", "SEK": "11.0375", "NOK": "11.7100"},
    "2026-11-26": {"USD": "1.0455", "JPY": "157.12", "DKK": "7.4587", "GBP": "0.85400", "SEK": "11.0290", "NOK": "11.6980"},
}


class FakeEcb:
    def __init__(self, days: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self.days = {day: dict(rates) for day, rates in (days or RATES).items()}
        self.status = 200

    def xml(self) -> bytes:
        days = "\n".join(
            f"\t\t<Cube time='{day}'>\n"
            + "\n".join(f"\t\t\t<Cube currency='{code}' rate='{rate}'/>" for code, rate in rates.items())
            + "\n\t\t</Cube>"
            for day, rates in sorted(self.days.items(), reverse=True))
        return ENVELOPE.format(days=days).encode()

    def __call__(self, environ: dict, start_response: Callable) -> list[bytes]:
        if self.status != 200:
            start_response(f"{self.status} Error", [("Content-Type", "text/html")])
            return [b"<html><body>Service unavailable</body></html>"]
        body = self.xml()
        start_response("200 OK", [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))])
        return [body]
