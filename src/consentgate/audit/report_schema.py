"""The JSON Schema (draft 2020-12) of ``consentgate audit --json``."""

from __future__ import annotations

from typing import Any

__all__ = ["REPORT_FORMAT", "REPORT_SCHEMA"]

REPORT_FORMAT = 1

_VIOLATION_KINDS = ["cookie", "request", "banner", "consent-cookie", "storage"]
_NULLABLE_STR: dict[str, Any] = {"type": ["string", "null"]}
_TIME: dict[str, Any] = {"type": ["string", "null"], "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"}
_RULE: dict[str, Any] = {"type": "string", "pattern": r"^R-[A-Z0-9]+-[0-9]+$"}
#: what the cookie database suggests for an undeclared cookie (null: declared, or nothing known)
_SUGGESTION: dict[str, Any] = {
    "type": ["object", "null"],
    "additionalProperties": False,
    "required": ["category", "platform", "description"],
    "properties": {"category": _NULLABLE_STR, "platform": _NULLABLE_STR, "description": _NULLABLE_STR},
}

#: JSON Schema (draft 2020-12) of the ``--json`` report.
REPORT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "consentgate audit report",
    "type": "object",
    "additionalProperties": False,
    "required": [
        "format",
        "tool",
        "url",
        "policy",
        "started_at",
        "finished_at",
        "clean",
        "violation_count",
        "scenarios",
    ],
    "properties": {
        "format": {"const": REPORT_FORMAT},
        "tool": {"type": "string"},
        "url": {"type": "string"},
        "policy": {
            "type": "object",
            "additionalProperties": False,
            "required": ["source", "revision"],
            "properties": {"source": {"type": "string"}, "revision": {"type": "integer", "minimum": 1}},
        },
        "started_at": _TIME,
        "finished_at": _TIME,
        "clean": {"type": "boolean"},
        "violation_count": {"type": "integer", "minimum": 0},
        "scenarios": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": [
                    "key",
                    "title",
                    "status",
                    "note",
                    "gpc",
                    "student",
                    "allowed",
                    "banner",
                    "pages",
                    "cookies",
                    "requests",
                    "storage",
                    "violations",
                ],
                "properties": {
                    "key": {"enum": ["first-visit", "deny-all", "accept-all", "choice", "gpc", "student"]},
                    "title": {"type": "string"},
                    "status": {"enum": ["done", "incomplete"]},
                    "note": _NULLABLE_STR,
                    "gpc": {"type": "boolean"},
                    "student": {"type": "boolean"},
                    "allowed": {"type": "array", "items": {"type": "string"}},
                    "banner": {"enum": ["consentgate", "other", None]},
                    "pages": {"type": "array", "items": {"type": "string"}},
                    "cookies": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": [
                                "name",
                                "domain",
                                "path",
                                "http_only",
                                "secure",
                                "same_site",
                                "expires",
                                "set_by",
                                "page",
                                "phase",
                                "present_after_action",
                                "category",
                                "suggestion",
                            ],
                            "properties": {
                                "name": {"type": "string"},
                                "domain": {"type": "string"},
                                "path": {"type": "string"},
                                "http_only": {"type": "boolean"},
                                "secure": {"type": "boolean"},
                                "same_site": {"type": "string"},
                                "expires": _TIME,
                                "set_by": {"enum": ["server", "script"]},
                                "page": {"type": "string"},
                                "phase": {"enum": ["before", "after"]},
                                "present_after_action": {"type": "boolean"},
                                "category": _NULLABLE_STR,
                                "suggestion": _SUGGESTION,
                            },
                        },
                    },
                    "requests": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": [
                                "host",
                                "url",
                                "resource_type",
                                "page",
                                "phase",
                                "count",
                                "count_after_action",
                                "category",
                            ],
                            "properties": {
                                "host": {"type": "string"},
                                "url": {"type": "string"},
                                "resource_type": {"type": "string"},
                                "page": {"type": "string"},
                                "phase": {"enum": ["before", "after"]},
                                "count": {"type": "integer", "minimum": 1},
                                "count_after_action": {"type": "integer", "minimum": 0},
                                "category": _NULLABLE_STR,
                            },
                        },
                    },
                    "storage": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["name", "kind", "page", "phase", "present_after_action", "category"],
                            "properties": {
                                "name": {"type": "string"},
                                "kind": {"enum": ["localStorage", "sessionStorage", "indexedDB"]},
                                "page": {"type": "string"},
                                "phase": {"enum": ["before", "after"]},
                                "present_after_action": {"type": "boolean"},
                                "category": _NULLABLE_STR,
                            },
                        },
                    },
                    "violations": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["rule", "kind", "subject", "category", "page", "message"],
                            "properties": {
                                "rule": _RULE,
                                "kind": {"enum": _VIOLATION_KINDS},
                                "subject": {"type": "string"},
                                "category": _NULLABLE_STR,
                                "page": _NULLABLE_STR,
                                "message": {"type": "string"},
                            },
                        },
                    },
                },
            },
        },
    },
}
