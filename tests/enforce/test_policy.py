"""The policy file: loading, meaning, and errors that name file, key and value."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import jsonschema
import pytest
from coreapp import POLICY_TOML, make_policy

from consentgate import Policy, PolicyError

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "src/consentgate/enforce/policy.schema.json").read_text())


def test_issue_example_loads_and_means_what_it_says() -> None:
    policy = make_policy()
    assert policy.revision == 3
    assert policy.consent_max_age_days == 395
    assert policy.refusal_max_age_days == 182
    assert policy.unknown_cookies == "block"
    assert policy.category_names == ("essential", "personalization", "analytics", "marketing")
    assert policy.category_of_cookie("session") == "essential"
    assert policy.category_of_cookie("theme") == "personalization"
    assert policy.category_of_cookie("_ga") == "analytics"
    assert policy.category_of_cookie("_ga_ABC123") == "analytics"
    assert policy.category_of_cookie("_pk_id.1.abcd") == "analytics"
    assert policy.category_of_cookie("ad_campaign") == "marketing"
    assert policy.category_of_cookie("IDE") == "marketing"
    assert policy.category_of_cookie("ide") is None  # cookie names are case-sensitive
    assert policy.category_of_cookie("_gax") is None  # "_ga" is exact, not a prefix
    assert policy.category_of_cookie("mystery") is None
    assert policy.hosts_for(["analytics", "marketing"]) == ("www.google-analytics.com", "connect.facebook.net")


def test_r_stu_1_marketing_always_denied_to_students_listed_or_not() -> None:
    policy = make_policy()
    assert policy.student_denied(None) == {"marketing", "analytics"}
    assert policy.student_denied("lincoln-high") == {"marketing", "analytics", "personalization"}
    assert policy.student_denied("unknown-school") == {"marketing", "analytics"}
    bare = Policy.from_toml("revision = 1")
    assert bare.student_denied(None) == {"marketing"}


def test_essential_always_exists_and_is_required() -> None:
    policy = Policy.from_toml("revision = 1\n[categories.analytics]\ncookies=['_ga']")
    assert policy.categories[0].name == "essential"
    assert policy.categories[0].required
    assert "essential" not in policy.optional_categories


def test_more_categories_with_labels_per_language() -> None:
    policy = Policy.from_toml(
        """
revision = 1
[categories.video]
cookies = ["yt_*"]
hosts = ["www.youtube-nocookie.com"]
label = { en = "Videos", fr = "Vidéos" }
description = "Embedded lesson videos."
"""
    )
    video = policy.category("video")
    assert video.label("fr") == "Vidéos"
    assert video.label("ja") is None
    assert video.description("ja") == "Embedded lesson videos."
    assert policy.category_of_cookie("yt_pref") == "video"
    assert "video" in policy.optional_categories


def test_most_specific_glob_wins() -> None:
    policy = Policy.from_toml(
        """
revision = 1
[categories.analytics]
cookies = ["_g*"]
[categories.marketing]
cookies = ["_gcl_*"]
"""
    )
    assert policy.category_of_cookie("_gcl_au") == "marketing"
    assert policy.category_of_cookie("_gid") == "analytics"


def test_cookie_table_entries_give_deletion_path_and_domain() -> None:
    policy = Policy.from_toml(
        """
revision = 1
[categories.analytics]
cookies = [{ name = "_pk_id.*", path = "/app", domain = ".example.org" }, "_ga"]
"""
    )
    rule = policy.deletion_rule("_pk_id.3.ff")
    assert (rule.pattern, rule.path, rule.domain) == ("_pk_id.3.ff", "/app", ".example.org")
    assert policy.deletion_rule("_ga").path == "/"
    assert policy.deletion_rule("_ga").domain is None


@pytest.mark.parametrize(
    ("toml", "key", "value_fragment"),
    [
        ("revision = 1\nconsent_max_age_days = 400", "consent_max_age_days", "400"),
        ("revision = 1\nrefusal_max_age_days = 0", "refusal_max_age_days", "0"),
        ('revision = "3"', "revision", "'3'"),
        ("revision = 1\nunknown_cookies = 'maybe'", "unknown_cookies", "'maybe'"),
        ("revision = 1\ncolour = 'red'", "colour", "colour"),
        ("revision = 1\n[students]\ndeny = ['tracking']", "students.deny", "'tracking'"),
        ("revision = 1\n[tenants.x]\nstudent_deny = ['ads']", "tenants.x.student_deny", "'ads'"),
        ("revision = 1\n[students]\ndeny = ['essential']", "students.deny", "essential"),
        ("revision = 1\n[categories.analytics]\ncookies = ['*']", "categories.analytics.cookies[0]", "'*'"),
        ("revision = 1\n[categories.analytics]\ncookies = ['']", "categories.analytics.cookies[0]", "''"),
        ("revision = 1\n[categories.analytics]\ncookies = ['a b']", "categories.analytics.cookies[0]", "'a b'"),
        ("revision = 1\n[categories.analytics]\ncookies = ['x;y']", "categories.analytics.cookies[0]", "'x;y'"),
        ("revision = 1\n[categories.analytics]\ncookies = ['_ga**']", "categories.analytics.cookies[0]", "'_ga**'"),
        ("revision = 1\n[categories.analytics]\ncookies = [3]", "categories.analytics.cookies[0]", "3"),
        ("revision = 1\n[categories.analytics]\ncookies = '_ga'", "categories.analytics.cookies", "'_ga'"),
        ("revision = 1\n[categories.analytics]\nhosts = ['https://x.com/']", "categories.analytics.hosts[0]", "https"),
        ("revision = 1\n[categories.analytics]\ntrackers = []", "categories.analytics.trackers", "trackers"),
        ("revision = 1\n[categories.Ads]\ncookies = ['x']", "categories.Ads", "'Ads'"),
        (
            "revision = 1\n[categories.analytics]\ncookies=['_ga']\n[categories.marketing]\ncookies=['_ga']",
            "categories.marketing.cookies[0]",
            "'_ga'",
        ),
        ("revision = 1\ngpc_denies = ['marketing', 'nope']", "gpc_denies", "'nope'"),
        ("revision = 1\ndefault_language = 'German'", "default_language", "'German'"),
        ("revision = 1\nlocales = 'no/such/folder'", "locales", "'no/such/folder'"),
        ("revision = 1\n[embeds]\nload_once = 'yes'", "embeds.load_once", "'yes'"),
        ("revision = 1\n[embeds]\nonce = true", "embeds.once", "once"),
        (
            "revision = 1\n[embeds.services.YouTube]\nhosts = ['www.youtube.com']",
            "embeds.services.YouTube.hosts[0]",
            "'www.youtube.com' is not among the hosts of any category",
        ),
        (
            "revision = 1\n[categories.marketing]\nhosts = ['*.youtube.com']\n"
            "[embeds.services.YouTube]\nhosts = ['www.youtube.com']\ncookies = ['YSC']",
            "embeds.services.YouTube.cookies[0]",
            "'YSC' is not among the cookies of any category",
        ),
        ("revision = 1\n[visits]\nipv4_prefix = 32", "visits.ipv4_prefix", "32"),
        ("revision = 1\n[retention]\nvisits_days = -1", "retention.visits_days", "-1"),
        ("consent_max_age_days = 30", "revision", "missing"),
        ("revision = [", "<toml>", "TOML"),
    ],
)
def test_bad_policy_names_file_key_and_value(toml: str, key: str, value_fragment: str) -> None:
    with pytest.raises(PolicyError) as caught:
        Policy.from_toml(toml, source="school.toml")
    message = str(caught.value)
    assert message.startswith(f"school.toml: {key}: "), message
    assert value_fragment in message
    assert caught.value.key == key


def test_from_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "consent.toml"
    path.write_text("revision = 1\nconsent_max_age_days = 500\n")
    with pytest.raises(PolicyError, match=r"consent\.toml: consent_max_age_days: 500"):
        Policy.from_file(path)
    with pytest.raises(PolicyError, match="cannot read"):
        Policy.from_file(tmp_path / "missing.toml")
    path.write_bytes(b"revision = 1\n# \xff\xfe")
    with pytest.raises(PolicyError, match="not UTF-8"):
        Policy.from_file(path)


def test_policy_is_frozen() -> None:
    policy = make_policy()
    with pytest.raises(AttributeError):
        policy.revision = 4  # type: ignore[misc]


def test_schema_accepts_issue_example_and_shipped_example() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    validator = jsonschema.Draft202012Validator(SCHEMA)
    validator.validate(tomllib.loads(POLICY_TOML))
    example = tomllib.loads((ROOT / "examples/consent.toml").read_text())
    validator.validate(example)
    Policy.from_file(ROOT / "examples/consent.toml")


@pytest.mark.parametrize(
    "toml",
    [
        "revision = 1\nconsent_max_age_days = 400",
        "revision = 1\nunknown_cookies = 'maybe'",
        "revision = 1\n[categories.analytics]\ncookies = ['*']",
        "revision = 1\n[categories.analytics]\ncookies = ['a b']",
        "revision = 1\ncolour = 'red'",
        "revision = 1\n[students]\ndeny = ['essential']",
    ],
)
def test_schema_and_loader_agree_on_bad_files(toml: str) -> None:
    validator = jsonschema.Draft202012Validator(SCHEMA)
    assert list(validator.iter_errors(tomllib.loads(toml)))
    with pytest.raises(PolicyError):
        Policy.from_toml(toml)


def test_schema_ships_inside_the_package() -> None:
    import consentgate.enforce.policy as module

    assert Path(module.__file__).with_name("policy.schema.json").is_file()


EMBEDS_POLICY = """
revision = 1
default_language = "sv"
locales = "packs"

[categories.marketing]
cookies = ["VISITOR_INFO1_LIVE", "YSC", "_fbp"]
hosts = ["*.youtube-nocookie.com", "ads.example"]

[embeds]
load_once = false

[embeds.services.YouTube]
hosts = ["www.youtube-nocookie.com"]
cookies = ["VISITOR_INFO1_LIVE", "YSC"]
"""


def test_embeds_and_a_locale_folder_relative_to_the_policy_file(tmp_path: Path) -> None:
    (tmp_path / "packs").mkdir()
    path = tmp_path / "consent.toml"
    path.write_text(EMBEDS_POLICY)
    policy = Policy.from_file(path)
    assert policy.embeds.load_once is False
    youtube = policy.embeds.services["YouTube"]
    assert youtube.hosts == ("www.youtube-nocookie.com",)  # under the category's *. wildcard
    assert youtube.cookies == ("VISITOR_INFO1_LIVE", "YSC")
    assert policy.locales == tmp_path / "packs"
    # whether a pack provides "sv" is checked where packs are read (the middleware, `check`)
    assert policy.default_language == "sv"
    assert 'embeds: "Load this once" not offered; services described: YouTube' in policy.describe()
    assert make_policy().embeds.load_once is True and make_policy().locales is None


def test_describe_says_everything_the_policy_enforces() -> None:
    text = make_policy(POLICY_TOML.replace('unknown_cookies = "block"', 'unknown_cookies = "allow"\ncsp = "enforce"')).describe()
    assert text == "\n".join(
        [
            "policy test.toml",
            "  revision 3; consent kept 395 days, refusal 182 days; unknown cookies: allow; unknown storage: report; csp: enforce",
            "  [essential] (always on)",
            "    cookies: session, csrftoken",
            "    hosts:   -",
            "  [personalization]",
            "    cookies: lang, theme",
            "    hosts:   -",
            "  [analytics]",
            "    cookies: _ga, _ga_*, _pk_id.*",
            "    hosts:   www.google-analytics.com",
            "  [marketing]",
            "    cookies: _fbp, IDE, ad_*",
            "    hosts:   connect.facebook.net",
            "  students: denied analytics, marketing",
            "  tenant lincoln-high: students also denied personalization",
            "  Global Privacy Control denies: marketing",
            "  crawlers: detected (no banner, no visit, no receipt)",
            '  embeds: "Load this once" offered; services described: none',
            "  default language: en",
            "  consent cookie: __Host-consentgate over HTTPS (consentgate over HTTP), this host only",
        ]
    )
    wide = make_policy(
        "revision = 1\ngpc_denies = ['marketing', 'analytics']\n[categories.analytics]\nhosts = ['a.example', 'b.example']\n"
        "[tenants.oak]\nstudent_deny = ['personalization', 'analytics']"
    ).describe().splitlines()
    assert "    hosts:   a.example, b.example" in wide
    assert "  tenant oak: students also denied analytics, personalization" in wide
    assert "  Global Privacy Control denies: analytics, marketing" in wide
    bare = make_policy("revision = 1\n[tenants.empty]\n").describe().splitlines()
    assert "  [personalization]" in bare and "    cookies: -" in bare
    assert "  students: denied marketing" in bare
    assert "  tenant empty: students also denied -" in bare


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[visits]\ncategory = 'video'", "visits.category: unknown category 'video'"),
        ("visits = 3", "visits: expected a table, got 3"),
        ("[visits]\nrecord = 'post'", "visits.record: 'post' is not one of 'html-get', 'get', 'all'"),
        ("[visits]\nstudents = 'no'", "visits.students: expected true or false, got 'no'"),
        ("[visits]\nipv4_prefix = 25", "visits.ipv4_prefix: 25 is out of range (0 to 24)"),
        ("[visits]\nipv4_prefix = -1", "visits.ipv4_prefix: -1 is out of range (0 to 24)"),
        ("[visits]\nipv6_prefix = 49", "visits.ipv6_prefix: 49 is out of range (0 to 48)"),
        ("[visits]\nipv6_prefix = true", "visits.ipv6_prefix: expected a whole number, got True"),
        ("[visits]\nipv4_prefix = 8.0", "visits.ipv4_prefix: expected a whole number, got 8.0"),
        ("[visits]\nwhen = 'always'", "visits.when: unknown key 'when' (known keys: category, ipv4_prefix, ipv6_prefix, record, students)"),
        ("retention = 'forever'", "retention: expected a table, got 'forever'"),
        ("[retention]\nvisits_days = 0", "retention.visits_days: 0 is out of range (1 to 3650)"),
        ("[retention]\nreceipts_days = 3651", "retention.receipts_days: 3651 is out of range (1 to 3650)"),
        ("[retention]\nreceipts_days = '1y'", "retention.receipts_days: expected a whole number, got '1y'"),
        ("[retention]\nlogs_days = 1", "retention.logs_days: unknown key 'logs_days' (known keys: receipts_days, visits_days)"),
        ("gpc_denies = 'marketing'", "gpc_denies: expected a list, got 'marketing'"),
        ("gpc_denies = [1]", "gpc_denies: expected category names, got 1"),
        ("gpc_denies = ['video']", "gpc_denies: unknown category 'video' (categories: essential, personalization, analytics, marketing)"),
        ("gpc_denies = ['essential']", "gpc_denies: 'essential' cannot be denied: it holds what the site needs to work"),
        ("[students]\ndeny = ['essential']", "students.deny: 'essential' cannot be denied: it holds what the site needs to work"),
        ("[tenants.oak]\nstudent_deny = ['nope']", "tenants.oak.student_deny: unknown category 'nope' (categories: essential, personalization, analytics, marketing)"),
    ],
)
def test_visits_retention_and_denials_are_checked_with_exact_messages(toml: str, message: str) -> None:
    with pytest.raises(PolicyError) as error:
        make_policy("revision = 1\n" + toml)
    assert str(error.value) == "test.toml: " + message
    assert error.value.source == "test.toml" and error.value.key == message.split(": ", 1)[0]


def test_visits_and_retention_values_are_read_and_defaults_kept() -> None:
    default = make_policy("revision = 1")
    assert (default.visits.category, default.visits.record, default.visits.ipv4_prefix) == ("analytics", "html-get", 24)
    assert (default.visits.ipv6_prefix, default.visits.students) == (48, True)
    assert (default.retention.visits_days, default.retention.receipts_days) == (30, 400)
    custom = make_policy(
        "revision = 1\n[visits]\ncategory = 'personalization'\nrecord = 'all'\nipv4_prefix = 0\nipv6_prefix = 48\n"
        "students = false\n[retention]\nvisits_days = 1\nreceipts_days = 3650\n"
    )
    assert (custom.visits.category, custom.visits.record, custom.visits.ipv4_prefix) == ("personalization", "all", 0)
    assert (custom.visits.ipv6_prefix, custom.visits.students) == (48, False)
    assert (custom.retention.visits_days, custom.retention.receipts_days) == (1, 3650)
    edge = make_policy("revision = 1\n[visits]\nrecord = 'get'\nipv4_prefix = 24\nipv6_prefix = 0\n[retention]\nvisits_days = 3650\nreceipts_days = 1")
    assert (edge.visits.record, edge.visits.ipv4_prefix, edge.visits.ipv6_prefix) == ("get", 24, 0)
    assert (edge.retention.visits_days, edge.retention.receipts_days) == (3650, 1)
    denials = make_policy("revision = 1\ngpc_denies = ['analytics', 'marketing', 'analytics']\n[students]\ndeny = []")
    assert denials.gpc_denies == {"analytics", "marketing"}
    assert denials.student_denied(None) == {"marketing"}


def test_from_file_errors_say_exactly_what_is_wrong(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    with pytest.raises(PolicyError) as error:
        Policy.from_file(missing)
    assert str(error.value) == f"{missing}: <file>: cannot read the policy file (No such file or directory)"
    path = tmp_path / "consent.toml"
    path.write_bytes(b"revision = 1\n# \xff\xfe")
    with pytest.raises(PolicyError) as error:
        Policy.from_file(path)
    assert str(error.value) == f"{path}: <file>: not UTF-8 text (byte 15)"
    path.write_text("revision = 2\n[categories.analytics]\ncookies = ['_ga']\n")
    loaded = Policy.from_file(path)
    assert (loaded.source, loaded.revision, loaded.category_of_cookie("_ga")) == (str(path), 2, "analytics")
    assert loaded.fingerprint == Policy.from_toml(path.read_text()).fingerprint


def test_from_dict_reads_the_same_shape_as_the_file() -> None:
    data = {"revision": 4, "categories": {"analytics": {"cookies": ["_ga"], "hosts": ["stats.example"]}}}
    policy = Policy.from_dict(data, source="settings.py")
    assert (policy.source, policy.revision) == ("settings.py", 4)
    assert policy.category_of_cookie("_ga") == "analytics"
    assert policy.hosts_for(["analytics"]) == ("stats.example",)
    assert policy.fingerprint == Policy.from_dict(dict(data)).fingerprint
    assert policy.fingerprint != Policy.from_dict({**data, "revision": 5}).fingerprint
    with pytest.raises(PolicyError) as error:
        Policy.from_dict({"revision": 1, "unknown_cookies": "maybe"}, source="settings.py")
    assert str(error.value).startswith("settings.py: unknown_cookies: ")
    assert Policy.from_dict({"revision": 1}).source == "<policy>"


def test_queries_by_category_name() -> None:
    policy = Policy.from_toml(
        """
revision = 1
[categories.analytics]
cookies = ["_ga"]
hosts = ["a.example", "shared.example"]
[categories.video]
hosts = ["shared.example", "v.example"]
[categories.marketing]
hosts = ["m.example", "a.example"]
"""
    )
    assert policy.has_category("video") and policy.has_category("essential")
    assert not policy.has_category("Video") and not policy.has_category("")
    assert policy.hosts_for(["marketing", "video", "analytics"]) == (
        "a.example", "shared.example", "v.example", "m.example",
    )  # fmt: skip
    assert policy.hosts_for(["video"]) == ("shared.example", "v.example")
    assert policy.hosts_for([]) == ()


def test_labels_per_language_fall_back_to_the_one_for_all() -> None:
    policy = Policy.from_toml(
        """
revision = 1
[categories.video]
label = { en = "Videos", fr = "Vidéos" }
description = { fr = "Vidéos des cours." }
[categories.maps]
label = "Maps"
description = "Embedded maps."
"""
    )
    video, maps = policy.category("video"), policy.category("maps")
    assert (video.label("en"), video.label("fr"), video.label("ja")) == ("Videos", "Vidéos", None)
    assert (video.description("fr"), video.description("en")) == ("Vidéos des cours.", None)
    assert (maps.label("ja"), maps.description("es")) == ("Maps", "Embedded maps.")


def test_globs_match_literally_and_ties_go_to_policy_order() -> None:
    policy = Policy.from_toml(
        """
revision = 1
[categories.analytics]
cookies = ["_pk_id.*", "a*z", "x_*"]
[categories.marketing]
cookies = ["*_y", "x_1"]
"""
    )
    assert policy.category_of_cookie("_pk_id.1.ab") == "analytics"
    assert policy.category_of_cookie("_pk_idX1") is None  # "." is a dot, not any character
    assert policy.category_of_cookie("abz") == "analytics"
    assert policy.category_of_cookie("az") == "analytics"  # "*" may match nothing
    assert policy.category_of_cookie("abzq") is None  # the whole name must match
    assert policy.category_of_cookie("x_1") == "marketing"  # an exact name beats every glob
    assert policy.category_of_cookie("x_y") == "analytics"  # "x_*" and "*_y": as specific, first wins
    assert policy.category_of_cookie("q_y") == "marketing"


@pytest.mark.parametrize(
    ("cookies", "message"),
    [
        ('[{ name = "_ga", path = "app" }]', "categories.analytics.cookies[0].path: 'app' is not a cookie path starting with '/'"),
        ('[{ name = "_ga", path = 3 }]', "categories.analytics.cookies[0].path: 3 is not a cookie path starting with '/'"),
        ('["x", { name = "_ga", domain = "bad domain" }]', "categories.analytics.cookies[1].domain: 'bad domain' is not a domain name"),
        ('[{ name = "_ga", domain = 7 }]', "categories.analytics.cookies[0].domain: 7 is not a domain name"),
        ('[{ name = "_ga", secure = true }]', "categories.analytics.cookies[0].secure: unknown key 'secure' (known keys: description, domain, duration, name, path, provider)"),
        ('[{ path = "/" }]', "categories.analytics.cookies[0]: expected a cookie name or pattern, got None"),
    ],
)
def test_cookie_tables_are_checked_with_exact_messages(cookies: str, message: str) -> None:
    with pytest.raises(PolicyError) as error:
        make_policy(f"revision = 1\n[categories.analytics]\ncookies = {cookies}")
    assert str(error.value) == "test.toml: " + message


def test_cookie_tables_keep_path_and_a_lowercased_domain() -> None:
    policy = make_policy(
        'revision = 1\n[categories.analytics]\ncookies = [{ name = "_ga" }, { name = "_gid", domain = ".School.Example" },'
        ' { name = "_pk", path = "/a/b", domain = "stats.example" }]'
    )
    assert (policy.deletion_rule("_ga").path, policy.deletion_rule("_ga").domain) == ("/", None)
    assert (policy.deletion_rule("_gid").path, policy.deletion_rule("_gid").domain) == ("/", ".school.example")
    assert (policy.deletion_rule("_pk").path, policy.deletion_rule("_pk").domain) == ("/a/b", "stats.example")


def test_labels_that_are_neither_text_nor_a_table_are_refused() -> None:
    with pytest.raises(PolicyError) as error:
        make_policy("revision = 1\n[categories.video]\nlabel = 5")
    assert str(error.value) == "test.toml: categories.video.label: expected text or a table of texts per language, got 5"


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("", "revision: missing: every policy needs a revision number (start with 1)"),
        ("revision = 0", "revision: 0 is out of range (1 to 2147483647)"),
        ("revision = 2147483648", "revision: 2147483648 is out of range (1 to 2147483647)"),
        ("revision = 1\nconsent_max_age_days = 0", "consent_max_age_days: 0 is out of range (1 to 395)"),
        ("revision = 1\nrefusal_max_age_days = 0", "refusal_max_age_days: 0 is out of range (1 to 395)"),
        ("revision = 1\ndefault_language = 'English'", "default_language: 'English' is not a language tag such as 'en' or 'pt-BR'"),
        ("revision = 1\nunknown_cookies = 'maybe'", "unknown_cookies: 'maybe' is not one of 'block', 'allow'"),
        ("revision = 1\ncsp = 'on'", "csp: 'on' is not one of 'off', 'report-only', 'enforce'"),
        ("revision = 1\ncategories = 3", "categories: expected tables [categories.NAME], got 3"),
        ("revision = 1\n[categories]\nvideo = 3", "categories.video: expected a table, got 3"),
        ("revision = 1\n[categories.video]\nhosts = 'x'", "categories.video.hosts: expected a list, got 'x'"),
        ("revision = 1\n[categories.video]\nservices = 'x'", "categories.video.services: expected a list, got 'x'"),
        ("revision = 1\n[categories.video]\nservices = ['  ']", "categories.video.services[0]: expected a service name, got '  '"),
        ("revision = 1\n[categories.video]\nservices = ['ok', 3]", "categories.video.services[1]: expected a service name, got 3"),
        ("revision = 1\n[categories.video]\ndescription = { xx_yy = 'a' }", "categories.video.description.xx_yy: 'xx_yy' is not a language code such as 'en'"),
        ("revision = 1\n[categories.video]\ndescription = { fr = 3 }", "categories.video.description.fr: expected text, got 3"),
        ("revision = 1\n[categories.video]\ndescription = 3", "categories.video.description: expected text or a table of texts per language, got 3"),
        ("revision = 1\nstudents = 3", "students: expected a table, got 3"),
        ("revision = 1\n[students]\nallow = []", "students.allow: unknown key 'allow' (known keys: deny)"),
        ("revision = 1\ntenants = 3", "tenants: expected tables [tenants.ID], got 3"),
        ("revision = 1\n[tenants.'a b']\n", "tenants.a b: 'a b' is not a tenant id (letters, digits, '.', '_', '-')"),
        ("revision = 1\n[tenants]\noak = 3", "tenants.oak: expected a table, got 3"),
        ("revision = 1\n[tenants.oak]\ndeny = []", "tenants.oak.deny: unknown key 'deny' (known keys: student_deny)"),
    ],
)
def test_the_whole_file_is_checked_with_exact_messages(toml: str, message: str) -> None:
    with pytest.raises(PolicyError) as error:
        make_policy(toml)
    assert str(error.value) == "test.toml: " + message


def test_limits_are_inclusive_and_a_host_name_may_be_253_characters() -> None:
    assert make_policy("revision = 2147483647").revision == 2147483647
    edge = make_policy("revision = 1\nconsent_max_age_days = 1\nrefusal_max_age_days = 1")
    assert (edge.consent_max_age_days, edge.refusal_max_age_days) == (1, 1)
    assert (make_policy("revision = 1").consent_max_age_days, make_policy("revision = 1").refusal_max_age_days) == (395, 182)
    longest = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])
    assert len(longest) == 253
    assert make_policy(f"revision = 1\n[categories.video]\nhosts = ['{longest}']").category("video").hosts == (longest,)
    with pytest.raises(PolicyError, match=r"hosts\[0\]: '.*' is not a host name such as 'www.example.com'$"):
        make_policy(f"revision = 1\n[categories.video]\nhosts = ['{longest}d']")
    one_label = make_policy("revision = 1\n[categories.video]\ncookies = [{ name = 'v', domain = 'X' }]")
    assert one_label.deletion_rule("v").domain == "x"


@pytest.mark.parametrize(
    ("host", "accepted"),
    [
        ("www.yt.example", True),  # under the category's *. wildcard
        ("*.yt.example", True),  # the wildcard itself
        ("ads.example", True),  # an exact host
        ("evilyt.example", False),  # ends like the wildcard's domain, but is not under it
        ("yt.example", False),
        ("x.ads.example", False),  # an exact host has no subdomains
    ],
)
def test_an_embed_services_hosts_must_be_a_categorys(host: str, accepted: bool) -> None:
    text = (
        "revision = 1\n[categories.marketing]\nhosts = ['*.yt.example', 'ads.example']\n"
        f"[embeds.services.V]\nhosts = ['{host}']"
    )
    if accepted:
        assert make_policy(text).embeds.services["V"].hosts == (host,)
        return
    with pytest.raises(PolicyError) as error:
        make_policy(text)
    assert str(error.value) == f"test.toml: embeds.services.V.hosts[0]: '{host}' is not among the hosts of any category"


def test_describe_says_how_crawlers_embeds_and_language_packs_are_set(tmp_path: Path) -> None:
    off = make_policy("revision = 1\n[crawlers]\ndetect = false").describe().splitlines()
    assert "  crawlers: not detected ([crawlers] detect = false): they get the banner like browsers" in off
    tokens = make_policy("revision = 1\n[crawlers]\ntokens = ['schoolbot', 'linkcheck']").describe().splitlines()
    assert "  crawlers: detected (no banner, no visit, no receipt); extra tokens: schoolbot, linkcheck" in tokens
    services = make_policy(
        "revision = 1\n[categories.marketing]\nhosts = ['a.example', 'b.example']\n"
        "[embeds.services.A]\nhosts = ['a.example']\n[embeds.services.B]\nhosts = ['b.example']"
    ).describe().splitlines()
    assert '  embeds: "Load this once" offered; services described: A, B' in services
    (tmp_path / "packs").mkdir()
    path = tmp_path / "consent.toml"
    path.write_text('revision = 1\nlocales = "packs"\n')
    assert f"  default language: en; language packs from {tmp_path / 'packs'}" in Policy.from_file(path).describe().splitlines()


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("3", "expected a storage key or pattern, got 3"),
        ("''", "expected a storage key or pattern, got ''"),
        ('"a\\u0001b"', "'a\\x01b' is not a storage key (control characters, or over 256)"),
        ("'" + "k" * 257 + "'", f"'{'k' * 257}' is not a storage key (control characters, or over 256)"),
        ("'*'", "'*' would match every key; use unknown_storage for that"),
        ("'**'", "'**' would match every key; use unknown_storage for that"),
        ("'a**b'", "'a**b': write a single '*'"),
    ],
)
def test_storage_patterns_are_checked_with_exact_messages(item: str, message: str) -> None:
    with pytest.raises(PolicyError) as error:
        make_policy(f"revision = 1\n[categories.analytics]\nstorage = ['ok', {item}]")
    assert str(error.value) == "test.toml: categories.analytics.storage[1]: " + message


def test_storage_keys_are_classified_exact_first_then_the_most_specific_glob() -> None:
    policy = make_policy(
        "revision = 1\n[categories.analytics]\nstorage = ['_ga_*', 'amp_*', 'exact', 'a*z', '" + "k" * 256 + "']\n"
        "[categories.marketing]\nstorage = ['_ga_x*', 'ex*', '*_q', 'b*y']\n[categories.personalization]\nstorage = ['b*x*y']"
    )
    assert policy.category_of_storage("exact") == "analytics"  # an exact key beats "ex*"
    assert policy.category_of_storage("exactly") == "marketing"
    assert policy.category_of_storage("_ga_1") == "analytics"
    assert policy.category_of_storage("_ga_xy") == "marketing"  # "_ga_x*" is more specific than "_ga_*"
    assert policy.category_of_storage("amp_\nline") == "analytics"  # "*" spans any character
    assert policy.category_of_storage("az") == "analytics" and policy.category_of_storage("a.z") == "analytics"
    assert policy.category_of_storage("az!") is None and policy.category_of_storage("zz") is None
    assert policy.category_of_storage("x_q") == "marketing"
    assert policy.category_of_storage("bxy") == "personalization"  # "b*x*y" has more literal characters
    assert policy.category_of_storage("b_y") == "marketing"
    assert policy.category_of_storage("k" * 256) == "analytics"
    assert policy.category_of_storage("AMP_1") is None  # keys are case-sensitive


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("crawlers = 3", "crawlers: expected a table, got 3"),
        ("[crawlers]\ndetect = 'no'", "crawlers.detect: expected true or false, got 'no'"),
        ("[crawlers]\ntokens = 'bot'", "crawlers.tokens: expected a list, got 'bot'"),
        ("[crawlers]\ntokens = ['ab']", "crawlers.tokens[0]: 'ab' is not a user-agent token (3 to 64 printable characters, e.g. 'mymonitor')"),
        ("[crawlers]\ntokens = ['abc', '" + "t" * 65 + "']", f"crawlers.tokens[1]: '{'t' * 65}' is not a user-agent token (3 to 64 printable characters, e.g. 'mymonitor')"),
        ("[crawlers]\ntokens = [3]", "crawlers.tokens[0]: 3 is not a user-agent token (3 to 64 printable characters, e.g. 'mymonitor')"),
        ("[crawlers]\nshy = true", "crawlers.shy: unknown key 'shy' (known keys: detect, tokens)"),
        ("embeds = 3", "embeds: expected a table, got 3"),
        ("[embeds]\nload_once = 'yes'", "embeds.load_once: expected true or false, got 'yes'"),
        ("[embeds]\nservices = 3", "embeds.services: expected tables [embeds.services.NAME], got 3"),
        ("[embeds.services]\nV = 3", "embeds.services.V: expected a table with hosts and cookies, got 3"),
        ("[embeds.services.V]\nhosts = 'x'", "embeds.services.V.hosts: expected a list, got 'x'"),
        ("[embeds.services.V]\ncookies = ['nope']", "embeds.services.V.cookies[0]: 'nope' is not among the cookies of any category"),
        ("[embeds.services.V]\ncolor = 'red'", "embeds.services.V.color: unknown key 'color' (known keys: cookies, hosts)"),
        ("[embeds]\nwhat = 1", "embeds.what: unknown key 'what' (known keys: load_once, services)"),
        ("[categories.analytics]\nstorage = ['k']\n[categories.marketing]\nstorage = ['x', 'k']", "categories.marketing.storage[1]: 'k' is already listed under categories.analytics"),
    ],
)
def test_crawlers_embeds_and_storage_are_checked_with_exact_messages(toml: str, message: str) -> None:
    with pytest.raises(PolicyError) as error:
        make_policy("revision = 1\n" + toml)
    assert str(error.value) == "test.toml: " + message


def test_crawler_tokens_embeds_and_storage_are_read_back() -> None:
    policy = make_policy(
        "revision = 1\n[crawlers]\ntokens = ['abc', '" + "t" * 64 + "', ' xyz ']\n"
        "[categories.marketing]\nhosts = ['v.example']\ncookies = ['vc']\n"
        "[embeds.services.V]\nhosts = ['v.example']\ncookies = ['vc']\n"
        "[categories.analytics]\nstorage = ['_ga_*', 'amp']\n[categories.personalization]\nstorage = ['k']"
    )
    assert policy.crawlers.tokens == ("abc", "t" * 64, "xyz")
    service = policy.embeds.services["V"]
    assert (service.name, service.hosts, service.cookies) == ("V", ("v.example",), ("vc",))
    lines = policy.describe().splitlines()
    assert "    storage: _ga_*, amp" in lines and "    storage: k" in lines
    assert policy.category_of_storage("k") == "personalization" and policy.category_of_storage("amp") == "analytics"


def test_a_cookie_tables_declaration_is_read_back() -> None:
    policy = make_policy(
        'revision = 1\n[categories.analytics]\ncookies = [{ name = "_ga", description = { fr = "Mesure", en = "Counts" },'
        ' duration = "2 years", provider = "  Google  " }, "_gid"]'
    )
    (ga, gid) = policy.category("analytics").cookies
    assert (ga.description("fr"), ga.description("en"), ga.description("ja")) == ("Mesure", "Counts", None)
    assert (dict(ga.durations), ga.provider) == ({"*": "2 years"}, "Google")
    assert (dict(gid.descriptions), dict(gid.durations), gid.provider) == ({}, {}, None)
    unknown = policy.deletion_rule("mystery")
    assert (unknown.pattern, unknown.path, unknown.domain) == ("mystery", "/", None)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("3", "locales: expected the path of a folder of language packs, got 3"),
        ("'  '", "locales: expected the path of a folder of language packs, got '  '"),
    ],
)
def test_the_locales_folder_is_checked_with_exact_messages(value: str, message: str) -> None:
    with pytest.raises(PolicyError) as error:
        make_policy(f"revision = 1\nlocales = {value}")
    assert str(error.value) == "test.toml: " + message


def test_the_fingerprint_follows_the_text() -> None:
    one, same, other = (Policy.from_toml(t) for t in ("revision = 1\n", "revision = 1\n", "revision = 1\n# note\n"))
    assert one.fingerprint == same.fingerprint != other.fingerprint
    assert len(one.fingerprint) == 64


def test_from_dict_resolves_the_locales_folder_from_its_base_and_text_has_a_default_source(tmp_path: Path) -> None:
    (tmp_path / "packs").mkdir()
    assert Policy.from_dict({"revision": 1, "locales": "packs"}, base=tmp_path).locales == tmp_path / "packs"
    assert Policy.from_toml("revision = 1").source == "<policy>"


def test_a_cookie_rules_texts_fall_back_to_the_one_for_every_language() -> None:
    from types import MappingProxyType

    from consentgate.enforce.rules import CookieRule

    rule = CookieRule(
        "_ga",
        descriptions=MappingProxyType({"en": "Counts visits.", "*": "Statistics."}),
        durations=MappingProxyType({"fr": "1 an", "*": "1 year"}),
    )
    assert (rule.description("en"), rule.description("de")) == ("Counts visits.", "Statistics.")
    assert (rule.duration("fr"), rule.duration("de"), rule.duration("en")) == ("1 an", "1 year", "1 year")
    bare = CookieRule("_ga", descriptions=MappingProxyType({"en": "Counts visits."}))
    assert bare.description("de") is None and bare.duration("en") is None


def test_unknown_storage_is_read_back_and_checked() -> None:
    assert make_policy("revision = 1").unknown_storage == "report"
    assert make_policy('revision = 1\nunknown_storage = "ignore"').unknown_storage == "ignore"
    with pytest.raises(PolicyError) as error:
        make_policy('revision = 1\nunknown_storage = "IGNORE"')
    assert str(error.value) == "test.toml: unknown_storage: 'IGNORE' is not one of 'report', 'ignore'"


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[categories.analytics]\ncookies = [{ name = "_ga", provider = "" }]',
         "categories.analytics.cookies[0].provider: expected who sets the cookie, got ''"),
        ('[categories.analytics]\ncookies = [{ name = "_ga", provider = 3 }]',
         "categories.analytics.cookies[0].provider: expected who sets the cookie, got 3"),
        ('[categories.analytics]\ncookies = [{ name = "_ga", description = 3 }]',
         "categories.analytics.cookies[0].description: expected text or a table of texts per language, got 3"),
        ('[categories.analytics]\ncookies = [{ name = "_ga", duration = 3 }]',
         "categories.analytics.cookies[0].duration: expected text or a table of texts per language, got 3"),
        ('[categories.analytics]\nstorage = "x"', "categories.analytics.storage: expected a list, got 'x'"),
        ('[categories.marketing]\ncookies = ["YSC"]\n[embeds.services.YouTube]\ncookies = "x"',
         "embeds.services.YouTube.cookies: expected a list, got 'x'"),
    ],
)  # fmt: skip
def test_a_cookie_declaration_storage_and_embed_cookies_are_refused_naming_the_key(toml: str, message: str) -> None:
    with pytest.raises(PolicyError) as error:
        make_policy("revision = 1\n" + toml)
    assert str(error.value) == "test.toml: " + message


def test_a_category_label_falls_back_from_a_regional_language_to_its_base_then_to_all() -> None:
    from types import MappingProxyType

    from consentgate.enforce.rules import Category

    category = Category("analytics", labels=MappingProxyType({"de": "Statistik", "*": "Analytics"}))
    assert category.label("de-CH") == "Statistik" and category.label("de-CH-1996") == "Statistik"
    assert category.label("fr-CA") == "Analytics" and Category("analytics").label("de") is None
