"""Charts as SVG, drawn on the server with pygal: figures and labels in, SVG text out.

The SVG carries no script, no XML declaration and no external reference (pygal's own config
script and comments are taken out), so it is inlined in a page as it is and can be placed in a
PDF as it is. Labels come translated by the caller; the style follows the site's CSS tokens
(opsperf.css) and names CJK-capable fonts so that Chinese labels render.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pygal
from pygal.style import Style

FONTS = (
    '"Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "PingFang SC", '
    '"Hiragino Sans GB", "Microsoft YaHei", "WenQuanYi Micro Hei", "Segoe UI", Roboto, '
    "Arial, sans-serif"
)
# --c-primary, --c-success, --c-assess, --c-feedback, --c-danger, --c-monitor, --c-closed
COLORS = ("#1f5cc8", "#1a7f37", "#d4a72c", "#8250df", "#cf222e", "#13897f", "#8c959f")
# --c-grade-s … --c-grade-d, then the rest
GRADE_COLORS = {"S": "#6e40c9", "A": "#1a7f37", "B": "#1f5cc8", "C": "#9a6700", "D": "#cf222e"}

STYLE_OPTIONS: dict[str, Any] = {
    "background": "transparent",
    "plot_background": "transparent",
    "foreground": "#1f2328",  # --c-fg
    "foreground_strong": "#1f2328",
    "foreground_subtle": "#d1d9e0",  # --c-border: grid lines
    "opacity": "1",
    "opacity_hover": "1",
    "transition": "0s",
    "font_family": FONTS,
    "title_font_family": FONTS,
    "label_font_family": FONTS,
    "major_label_font_family": FONTS,
    "legend_font_family": FONTS,
    "value_font_family": FONTS,
    "value_label_font_family": FONTS,
    "tooltip_font_family": FONTS,
    "no_data_font_family": FONTS,
    "title_font_size": 15,
    "label_font_size": 13,
    "major_label_font_size": 13,
    "legend_font_size": 13,
    "value_font_size": 11,
    "value_label_font_size": 11,
    "no_data_font_size": 16,
}
STYLE = Style(colors=COLORS, **STYLE_OPTIONS)

MAX_LABEL = 24  # characters of an axis label shown (the table beside has the whole name)
_SVG_OPEN = re.compile(r"<svg\b")


def _config(title: str, labels: Sequence[str], **options: Any) -> dict[str, Any]:
    return {
        "title": title,
        "x_labels": [_short(label) for label in labels],
        "style": options.pop("style", STYLE),
        "js": [],
        "disable_xml_declaration": True,
        "no_prefix": False,
        "width": options.pop("width", 640),
        "height": options.pop("height", 300),
        "legend_at_bottom": True,
        # three names a row fit 640 px at 13 px, Chinese or English, without running together
        "legend_at_bottom_columns": options.pop("legend_columns", 3),
        "truncate_legend": 22,
        "truncate_label": MAX_LABEL,
        "print_values": False,
        "show_y_guides": True,
        "show_x_guides": False,
        "margin": 12,
        "margin_bottom": 28,  # pygal leaves too little room under a legend at the bottom
        "spacing": 12,
        "tooltip_fancy_mode": False,
        **options,
    }


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"


def bar(
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    no_data: str,
    horizontal: bool = False,
    stacked: bool = False,
    percent: bool = False,
    counts: bool = False,
    colors: Sequence[str] | None = None,
    **options: Any,
) -> str:
    """A bar chart of ``series`` (name, one value per label); ``percent``: values are
    percentages; ``counts``: whole numbers (the axis counts in whole steps)."""
    kind = {
        (False, False): pygal.Bar,
        (True, False): pygal.HorizontalBar,
        (False, True): pygal.StackedBar,
        (True, True): pygal.HorizontalStackedBar,
    }[(horizontal, stacked)]
    if colors:
        options["style"] = _colored(colors)
    legend = options.get("show_legend", True)
    if horizontal:
        bars = len(labels) * (1 if stacked else max(len(series), 1))
        options.setdefault("height", 90 + (60 if legend else 0) + 28 * bars)
        # pygal sizes the labels' room for Latin letters: a Chinese character is about twice
        # as wide, so give the labels on the left what their widest one lacks
        wide = max(
            (sum(1 for c in _short(label) if ord(c) > 0x2E7F) for label in labels), default=0
        )
        options.setdefault("margin_left", 12 + 7 * wide)
    if counts:
        options["y_labels"] = _whole_steps(series, stacked)
    chart = kind(**_config(title, labels, no_data_text=no_data, max_scale=6, **options))
    chart.value_formatter = _formatter(percent)
    if horizontal:  # pygal lists the first label at the bottom: read top-down instead
        labels = list(reversed(labels))
        chart.x_labels = [_short(label) for label in labels]
        series = [(name, list(reversed(values))) for name, values in series]
    for name, values in series:
        chart.add(name, list(values))
    return svg(chart)


def _whole_steps(series: Sequence[tuple[str, Sequence[float | None]]], stacked: bool) -> list[int]:
    """Axis marks for counts: 0 to the largest bar in at most six whole steps."""
    columns = zip(*[values for _name, values in series], strict=False)
    if stacked:
        top = max((sum(v or 0 for v in column) for column in columns), default=0)
    else:
        top = max((v or 0 for _name, values in series for v in values), default=0)
    step = max(1, -(-int(top) // 5))
    return list(range(0, int(top) + step, step)) if top else [0, 1]


def _formatter(percent: bool) -> Any:
    def fmt(value: float | None) -> str:
        if value is None:
            return ""
        text = f"{value:,.1f}".rstrip("0").rstrip(".")
        return text + ("%" if percent else "")

    return fmt


def _colored(colors: Sequence[str]) -> Style:
    return Style(colors=tuple(colors), **STYLE_OPTIONS)


def grade_colors(grades: Sequence[str]) -> list[str]:
    """The site's grade colours for ``grades``, others from the palette."""
    return [GRADE_COLORS.get(g, COLORS[i % len(COLORS)]) for i, g in enumerate(grades)]


_SCRIPT = re.compile(r"<script\b.*?</script>", re.S)
_COMMENT = re.compile(r"<!--.*?-->", re.S)


def svg(chart: Any) -> str:
    """The chart's SVG without script, comments or XML declaration, labelled for screen
    readers by its title (the table beside it holds the figures)."""
    text = chart.render(is_unicode=True)
    text = _COMMENT.sub("", _SCRIPT.sub("", text))
    title = chart.config.title or ""
    return _SVG_OPEN.sub(f'<svg role="img" aria-label="{_attr(title)}"', text, count=1)


def _attr(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")
    )
