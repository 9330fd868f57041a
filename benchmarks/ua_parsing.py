"""What it costs to reduce a user-agent string to browser / OS / device class.

Over the real strings of tests/data/user_agents.yaml, interleaved round after round:

* ``user_agents``: ``user_agents.parse`` (user-agents over ua-parser's legacy API), the baseline;
* ``ua-parser py``: ua-parser 1.x with its pure-Python matcher, all three domains;
* ``ua-parser rs``: ua-parser 1.x with the ua-parser-rs accelerator (when installed);
* ``consentgate cold``: :func:`consentgate.log.useragent.parse_user_agent`, its cache emptied each round;
* ``consentgate cached``: the same, every string already in its LRU cache;
* ``consentgate mixed``: a stream where 95% of the strings repeat (a popular few more often) and 5%
  are new, roughly what a site's privacy-log writer sees.

Figures are medians per string in microseconds and ratios to the baseline in the same run.

    .venv/bin/python benchmarks/ua_parsing.py [--rounds 7] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from consentgate import useragent

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "user_agents.yaml"


def load_strings() -> list[str]:
    cases = yaml.safe_load(DATA.read_text(encoding="utf-8"))["test_cases"]
    return [str(case["ua"]) for case in cases]


def ua_parser_variant(accelerated: bool) -> Callable[[str], Any] | None:
    """A fresh ua-parser 1.x parser without cache, or ``None`` when that matcher is missing."""
    from ua_parser import Parser, load_builtins, load_lazy_builtins

    if accelerated:
        try:
            from ua_parser.regex import Resolver
        except ImportError:
            return None
        return Parser(Resolver(load_lazy_builtins())).parse
    from ua_parser.basic import Resolver as BasicResolver

    return Parser(BasicResolver(load_builtins())).parse


def timed(function: Callable[[str], Any], strings: list[str], before: Callable[[], None] | None) -> float:
    """Microseconds per string for one pass over ``strings``."""
    if before is not None:
        before()
    start = time.perf_counter()
    for ua in strings:
        function(ua)
    return (time.perf_counter() - start) / len(strings) * 1e6


def mixed_stream(strings: list[str], length: int, seed: int) -> list[str]:
    """95% repeats drawn with a popularity skew, 5% strings never seen before."""
    rng = random.Random(seed)
    weights = [1.0 / (rank + 1) for rank in range(len(strings))]
    stream: list[str] = []
    for i in range(length):
        if rng.random() < 0.05:
            base = rng.choice(strings)
            stream.append(f"{base} build/{seed}.{i}")
        else:
            stream.append(rng.choices(strings, weights)[0])
    return stream


def run(rounds: int) -> dict[str, Any]:
    import ua_parser.user_agent_parser as legacy
    import user_agents

    strings = load_strings()
    build: dict[str, float] = {}
    variants: dict[str, tuple[Callable[[str], Any], Callable[[], None] | None]] = {}

    started = time.perf_counter()
    user_agents.parse(strings[0])
    build["user_agents"] = time.perf_counter() - started
    variants["user_agents"] = (user_agents.parse, legacy._PARSE_CACHE.clear)
    for name, accelerated in (("ua-parser py", False), ("ua-parser rs", True)):
        started = time.perf_counter()
        parse = ua_parser_variant(accelerated)
        if parse is not None:
            parse(strings[0])
            build[name] = time.perf_counter() - started
            variants[name] = (parse, None)
    started = time.perf_counter()
    useragent.parse_user_agent(strings[0])
    build["consentgate"] = time.perf_counter() - started
    variants["consentgate cold"] = (useragent.parse_user_agent, useragent.clear_cache)
    variants["consentgate cached"] = (useragent.parse_user_agent, None)

    samples: dict[str, list[float]] = {name: [] for name in variants}
    samples["consentgate mixed"] = []
    for function, before in variants.values():  # warm-up: imports, lazily compiled regexes
        timed(function, strings, before)
    for round_number in range(rounds):
        for name, (function, before) in variants.items():
            samples[name].append(timed(function, strings, before))
        stream = mixed_stream(strings, 20_000, seed=round_number)
        samples["consentgate mixed"].append(timed(useragent.parse_user_agent, stream, None))

    medians = {name: statistics.median(values) for name, values in samples.items()}
    baseline = medians["user_agents"]
    return {
        "strings": len(strings),
        "backend": useragent.parser_backend(),
        "build_seconds": build,
        "microseconds": medians,
        "ratio_to_user_agents": {name: value / baseline for name, value in medians.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    results = run(args.rounds)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{results['strings']} distinct real strings; consentgate uses {results['backend']}")
    print(f"{'variant':<20} {'µs/string':>10} {'vs user_agents':>15}")
    for name, value in results["microseconds"].items():
        print(f"{name:<20} {value:>10.2f} {results['ratio_to_user_agents'][name]:>15.3f}")
    print(
        "first parse (builds the parser; shared rule tables are loaded once), seconds: "
        + ", ".join(f"{name} {seconds:.3f}" for name, seconds in results["build_seconds"].items())
    )


if __name__ == "__main__":
    main()
