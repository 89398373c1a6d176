"""Small inline SVG charts for HTML reports (no JavaScript, no external files: the report is one file)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup


def bar_chart(
    labels: Sequence[str], values: Sequence[float], *, unit: str = "", width: int = 640, bar_height: int = 18
) -> Markup:
    """Horizontal bars, one per label, longest = the largest value; the value is printed at the bar's end."""
    if not labels:
        return Markup('<p class="empty">No data.</p>')
    label_width, gap = 180, 6
    top = max(max(values), 1e-9)
    plot = width - label_width - 70
    height = len(labels) * (bar_height + gap)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">']
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = i * (bar_height + gap)
        length = max(0.0, value) / top * plot
        parts.append(
            f'<text x="{label_width - 6}" y="{y + bar_height * 0.75:.1f}" text-anchor="end">{escape(label[:28])}</text>'
            f'<rect x="{label_width}" y="{y}" width="{length:.1f}" height="{bar_height}" fill="#3b82f6"/>'
            f'<text x="{label_width + length + 4:.1f}" y="{y + bar_height * 0.75:.1f}">{value:,.1f}{escape(unit)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def column_chart(values: Sequence[float], *, labels: Sequence[str] | None = None, width: int = 640,
                 height: int = 160) -> Markup:  # fmt: skip
    """Vertical columns (e.g. 24 hours of a day), scaled to the largest value."""
    if not values:
        return Markup('<p class="empty">No data.</p>')
    top = max(max(values), 1e-9)
    step = width / len(values)
    plot = height - 20
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">']
    for i, value in enumerate(values):
        h = max(0.0, value) / top * plot
        parts.append(
            f'<rect x="{i * step + 1:.1f}" y="{plot - h:.1f}" width="{step - 2:.1f}" height="{h:.1f}" fill="#10b981">'
            f"<title>{escape(labels[i] if labels else str(i))}: {value:,.2f}</title></rect>"
        )
        if labels and (len(labels) <= 12 or i % 3 == 0):
            parts.append(
                f'<text x="{i * step + step / 2:.1f}" y="{height - 4}" text-anchor="middle">{escape(labels[i])}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))
