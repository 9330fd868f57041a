"""Country lookups (R-MIN-5): MaxMind's public test database and tiny databases built here."""

from __future__ import annotations

from pathlib import Path

import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from consentgate.log.geo import CountryLookup

DATA = Path(__file__).resolve().parents[1] / "data"
MAXMIND_TEST_DB = DATA / "GeoLite2-Country-Test.mmdb"

# Addresses inside networks of MaxMind's test database (GeoLite2-Country-Test.json in the
# MaxMind-DB repository), with the country of each network.
KNOWN = [
    ("2.125.160.217", "GB"),  # registered_country is FR: the location is what counts
    ("50.114.0.1", "US"),
    ("67.43.156.77", "BT"),
    ("81.2.69.142", "GB"),
    ("89.160.20.129", "SE"),
    ("111.235.160.9", "CN"),
    ("202.196.224.5", "PH"),
    ("216.160.83.57", "US"),
    ("217.65.48.3", "GI"),
    ("2001:218::1", "JP"),
    ("2001:220:ffff::1", "KR"),
    ("2a02:d180::42", "DE"),
    ("2a02:ff40:1:2:3:4:5:6", "IM"),
]


@pytest.fixture(scope="module")
def maxmind() -> CountryLookup:
    return CountryLookup.open(MAXMIND_TEST_DB)


def _country_record(code: str) -> dict[str, object]:
    # Shaped like a GeoLite2-City record, so the test shows only the ISO code comes out.
    return {
        "continent": {"code": "EU", "names": {"en": "Europe"}},
        "country": {"iso_code": code, "names": {"en": f"Country {code}"}},
        "registered_country": {"iso_code": "FR", "names": {"en": "France"}},
        "city": {"names": {"en": "Somewhere"}},
        "location": {"latitude": 52.5, "longitude": 13.4, "accuracy_radius": 5},
    }


def _write_db(path: Path, database_type: str) -> Path:
    writer = MMDBWriter(
        ip_version=6,
        ipv4_compatible=True,
        database_type=database_type,
        languages=["en"],
        description={"en": "consentgate test"},
    )
    writer.insert_network(IPSet(["198.51.100.0/24"]), _country_record("DE"))
    writer.insert_network(IPSet(["2001:db8:aa::/48"]), _country_record("NL"))
    writer.insert_network(IPSet(["203.0.113.0/25"]), {"continent": {"code": "AS"}})
    writer.to_db_file(str(path))
    return path


@pytest.fixture(scope="module")
def tiny_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_db(tmp_path_factory.mktemp("geo") / "country.mmdb", "GeoLite2-Country")


@pytest.mark.parametrize(("ip", "code"), KNOWN)
def test_r_min_5_maxmind_test_db_gives_country_codes(maxmind: CountryLookup, ip: str, code: str) -> None:
    assert maxmind.country(ip) == code


def test_r_min_5_ipv4_mapped_ipv6_is_looked_up_as_ipv4(maxmind: CountryLookup) -> None:
    assert maxmind.country("::ffff:89.160.20.129") == "SE"
    assert maxmind.country("::FFFF:67.43.156.77") == "BT"


def test_r_min_5_network_with_continent_only_has_no_country(maxmind: CountryLookup) -> None:
    assert maxmind.country("2a02:d500::1") is None


@pytest.mark.parametrize(
    "ip", ["1.1.1.1", "10.0.0.1", "2001:db8::1", "", "garbage", "1.2.3", "::ffff:zz", " ", "1.2.3.4/24"]
)
def test_r_min_5_unknown_or_garbage_address_gives_none(maxmind: CountryLookup, ip: str) -> None:
    assert maxmind.country(ip) is None


def test_r_min_5_tiny_db_built_in_fixture(tiny_db: Path) -> None:
    with CountryLookup.open(tiny_db) as lookup:
        assert lookup.country("198.51.100.7") == "DE"
        assert lookup.country("::ffff:198.51.100.200") == "DE"
        assert lookup.country("2001:db8:aa:1::9") == "NL"
        assert lookup.country("2001:db8:ab::9") is None
        assert lookup.country("203.0.113.5") is None  # continent only
        assert lookup.country("192.0.2.1") is None


def test_r_min_5_only_the_iso_code_is_returned_even_when_the_record_holds_more(tiny_db: Path) -> None:
    with CountryLookup.open(tiny_db) as lookup:
        result = lookup.country("198.51.100.7")
    assert type(result) is str
    assert result == "DE"


def test_r_min_5_city_database_is_refused(tmp_path: Path) -> None:
    city = _write_db(tmp_path / "city.mmdb", "GeoLite2-City")
    with pytest.raises(ValueError, match=r"'GeoLite2-City' database; use a country database"):
        CountryLookup.open(city)


def test_missing_database_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.mmdb"
    with pytest.raises(FileNotFoundError, match=r"GeoIP country database .*nope\.mmdb.*no such file"):
        CountryLookup.open(missing)


def test_directory_is_not_a_database(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such file"):
        CountryLookup.open(tmp_path)


def test_file_that_is_not_a_maxmind_db_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.mmdb"
    bogus.write_bytes(b"this is not a MaxMind DB\n" * 100)
    with pytest.raises(ValueError, match=r"GeoIP country database .*bogus\.mmdb.*not a MaxMind DB file"):
        CountryLookup.open(bogus)


def test_closed_lookup_answers_none_instead_of_raising(tiny_db: Path) -> None:
    lookup = CountryLookup.open(tiny_db)
    assert lookup.country("198.51.100.7") == "DE"
    lookup.close()
    assert lookup.country("198.51.100.7") is None


def test_open_accepts_str_paths_and_repr_names_the_file(tiny_db: Path) -> None:
    lookup = CountryLookup.open(str(tiny_db))
    try:
        assert lookup.country("198.51.100.1") == "DE"
        assert repr(lookup) == f"CountryLookup({str(tiny_db)!r})"
    finally:
        lookup.close()
