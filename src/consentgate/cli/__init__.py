"""The ``consentgate`` command: one module per command group. Sits on top of everything else."""

from __future__ import annotations

from consentgate.cli.parser import build_parser, main

__all__ = ["build_parser", "main"]
