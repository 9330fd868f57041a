"""Country of an IP address from a MaxMind country database (R-MIN-5).

Country is the most precise location the privacy log may hold, so only country databases
(GeoLite2-Country, GeoIP2-Country and compatible ones) are accepted: a city database is refused
when it is opened, and only the ISO code is ever read. The lookup is made from the full address
at record time, in the background writer; the address itself is then dropped.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType
from typing import Any

import geoip2.database
import geoip2.errors
import maxminddb

from consentgate.log.client_ip import normalise_ip

__all__ = ["CountryLookup"]


class CountryLookup:
    """An open country database. Build it once with :meth:`open`; lookups are thread-safe."""

    __slots__ = ("_reader", "path")

    def __init__(self, reader: Any, path: str) -> None:
        self._reader = reader
        self.path = path

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> CountryLookup:
        """Open a MaxMind DB file holding countries.

        Raises :class:`FileNotFoundError` when there is no such file and :class:`ValueError`
        when it is not a MaxMind DB file or not a country database.
        """
        name = os.fspath(path)
        if not Path(name).is_file():
            raise FileNotFoundError(f"GeoIP country database {name!r}: no such file")
        try:
            reader = geoip2.database.Reader(name, mode=geoip2.database.MODE_AUTO)
        except (maxminddb.InvalidDatabaseError, ValueError) as exc:
            raise ValueError(f"GeoIP country database {name!r}: not a MaxMind DB file ({exc})") from exc
        database_type = str(reader.metadata().database_type)
        if "Country" not in database_type:
            reader.close()
            raise ValueError(
                f"GeoIP country database {name!r}: it is a {database_type!r} database; "
                "use a country database such as GeoLite2-Country (country is all the privacy log keeps)"
            )
        return cls(reader, name)

    def country(self, ip: str) -> str | None:
        """The ISO 3166-1 alpha-2 code of the country of ``ip``, or ``None`` when unknown.

        Garbage, addresses the database does not hold and entries without a country (some
        carry only a continent) all give ``None``; nothing else is read from the record.
        """
        address = normalise_ip(ip)
        if address is None:
            return None
        try:
            response = self._reader.country(address)
        except (geoip2.errors.AddressNotFoundError, ValueError):
            return None
        code = response.country.iso_code
        return code if isinstance(code, str) and code else None

    def close(self) -> None:
        """Close the database file."""
        self._reader.close()

    def __enter__(self) -> CountryLookup:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"CountryLookup({self.path!r})"
