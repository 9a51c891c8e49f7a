"""The console's SVG charts: a log scale that keeps 36 visible next to 33,632, labelled ticks
and figures with thousands separators."""

from __future__ import annotations

import re

from orderhub.web import charts


def widths(svg: str) -> dict[str, float]:
    return {
        key: float(w)
        for key, w in re.findall(
            r'data-status="([^"]+)".*?<rect class="c-fill" x="[\d.]+" y="[\d.]+" width="([\d.]+)"', svg
        )
    }


def test_log_bars_show_a_small_state_next_to_a_large_one_with_labelled_decades():
    svg = str(
        charts.log_bars(
            [
                charts.Bar("paid", 36),
                charts.Bar("delivered", 33_632),
                charts.Bar("on_hold", 1),
                charts.Bar("created", 0),
            ],
            title="orders by status",
            attr="status",
        )
    )
    w = widths(svg)
    assert set(w) == {"paid", "delivered", "on_hold"}  # zero is left out
    assert w["on_hold"] == charts.MIN_W  # log10(1) = 0, still drawn
    assert w["paid"] / w["delivered"] > 0.3  # linear would be 0.001: invisible
    assert re.findall(r'class="c-tick">([^<]+)<', svg) == ["1", "10", "100", "1,000", "10,000", "100,000"]
    assert re.findall(r'class="n">([^<]+)<', svg) == ["36", "33,632", "1"]
    assert "<title>delivered: 33,632</title>" in svg


def test_log_bars_escape_labels_and_link_them():
    svg = str(charts.log_bars([charts.Bar("<b>", 5, href="/x?a=1&b=2")], title="t"))
    assert "&lt;b&gt;" in svg and "<b>" not in svg and 'href="/x?a=1&amp;b=2"' in svg
    assert str(charts.log_bars([], title="t")) == '<p class="muted small">nothing yet</p>'


def test_columns_have_round_y_ticks_with_separators_and_a_column_per_point():
    svg = str(charts.columns([("2026-11-01", 0), ("2026-11-02", 12_345), ("2026-11-03", 7)], title="per day"))
    assert re.findall(r'class="c-tick">([\d,]+)<', svg)[:4] == ["0", "5,000", "10,000", "15,000"]
    assert svg.count('<rect class="c-fill"') == 3
    assert "<title>2026-11-02: 12,345</title>" in svg


def test_number_formats():
    assert charts.nice_ticks(36) == [0, 10, 20, 30, 40]
    assert charts.nice_ticks(0) == [0, 1]
    assert [charts.thousands(v) for v in (0, 999, 33_632, 1234.5, None)] == ["0", "999", "33,632", "1,234.5", ""]
    assert [charts.amount(v) for v in ("33632.50", "-1000.00", "5.00", "")] == ["33,632.50", "-1,000.00", "5.00", ""]
    assert [charts.duration(s) for s in (59, 3600 * 5, 86400 * 3 + 3600 * 4)] == ["0 min", "5 h", "3 d 4 h"]
