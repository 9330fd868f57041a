"""The dashboard's SVG charts: well-formed, proportional, accessible, and escaped for any text."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from hypothesis import given
from hypothesis import strategies as st

from consentgate.dashboard.charts import Bar, PercentRow, _nice_ceiling, bar_chart, data_table, percent_bars

SVG = "{http://www.w3.org/2000/svg}"
# Text XML can hold (browsers parse more, but well-formed XML proves nothing leaked into markup).
xml_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff"),
    max_size=40,
)


def parse(markup: str) -> ET.Element:
    return ET.fromstring(markup)


def bars_of(svg: ET.Element) -> list[ET.Element]:
    return [r for r in svg.iter(f"{SVG}rect") if r.get("class") == "cg-bar"]


def test_nice_ceiling_is_1_2_or_5_times_a_power_of_ten_and_not_below_the_value() -> None:
    for value, expected in (
        (0, 1),
        (1, 1),
        (2, 2),
        (3, 5),
        (7, 10),
        (11, 20),
        (47, 50),
        (51, 100),
        (999, 1000),
    ):
        assert _nice_ceiling(value) == expected


@given(st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=60))
def test_bar_heights_are_proportional_to_values(values: list[int]) -> None:
    svg = parse(
        bar_chart(
            [Bar(f"2025-01-{i:02d}", v) for i, v in enumerate(values)],
            chart_id="c",
            title="t",
            description="d",
        )
    )
    rects = bars_of(svg)
    assert len(rects) == len(values)
    heights = [float(r.get("height", "0")) for r in rects]
    peak = _nice_ceiling(max(values))
    for value, height in zip(values, heights, strict=True):
        assert abs(height - 192 * value / peak) < 0.11  # plot height 240 - 12 - 36
    assert all(r.find(f"{SVG}title") is not None for r in rects)


@given(label=xml_text, title=xml_text, unit=xml_text)
def test_any_text_stays_text(label: str, title: str, unit: str) -> None:
    svg = parse(bar_chart([Bar(label, 3)], chart_id="chart-x", title=title, description=label, unit=unit))
    assert svg.get("role") == "img"
    assert svg.get("aria-labelledby") == "chart-x-title chart-x-desc"
    assert (svg.find(f"{SVG}title").text or "") == title  # type: ignore[union-attr]
    assert (svg.find(f"{SVG}desc").text or "") == label  # type: ignore[union-attr]
    assert bars_of(svg)[0].find(f"{SVG}title").text == f"{label}: 3 {unit}"  # type: ignore[union-attr]
    rows = parse(percent_bars([PercentRow(label, 1, 2)], chart_id="p", title=title, description=label))
    assert all(el.tag.startswith(SVG) for el in rows.iter())  # no element smuggled in
    table = parse(data_table(title, [label], [(label, label)]))
    assert [th.text or "" for th in table.iter("th")] == [label, label]
    assert [td.text or "" for td in table.iter("td")] == [label]


def test_empty_chart_says_so() -> None:
    svg = bar_chart([Bar("2025-01-01", 0), Bar("2025-01-02", 0)], chart_id="c", title="t", description="d")
    assert "No decisions in this period" in svg
    assert all(float(r.get("height", "1")) == 0 for r in bars_of(parse(svg)))


def test_percent_bars_fill_their_share_of_the_track() -> None:
    svg = parse(
        percent_bars(
            [
                PercentRow("a", 1, 4),
                PercentRow("b", 4, 4),
                PercentRow("none", 0, 0),
                PercentRow("zero", 0, 5),
            ],
            chart_id="p",
            title="t",
            description="d",
        )
    )
    tracks = [r for r in svg.iter(f"{SVG}rect") if r.get("class") == "cg-track"]
    filled = bars_of(svg)
    assert len(tracks) == 4 and len(filled) == 2  # nothing drawn for "no data" and for 0 %
    track = float(tracks[0].get("width", "0"))
    assert float(filled[0].get("width", "0")) == round(track / 4, 1)
    assert float(filled[1].get("width", "0")) == track
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert texts == ["a", "25% (1 of 4)", "b", "100% (4 of 4)", "none", "no data", "zero", "0% (0 of 5)"]
