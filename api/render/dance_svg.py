"""The dance as a static picture (SVG or PNG, by matplotlib), for reports and the terminal."""

from __future__ import annotations

import io
import threading
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from api.render.charts import Dance, Series, moment_of
from domain.values import parse_occurred_at, sort_key

MIDPOINT_COLOR = "#777777"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC).replace(tzinfo=None)

# matplotlib's rcParams are process-global: one drawing at a time.
RENDER_LOCK = threading.Lock()
ChartFormat = Literal["svg", "png"]


def day_number(moment: datetime) -> float:
    """matplotlib's date number of a naive UTC datetime: days since its epoch (set to 1970)."""
    return (moment - EPOCH).total_seconds() / 86400


def step_xy(series: Series, x_end: datetime) -> tuple[list[datetime], list[float | None]]:
    """The step line's vertices (drawn steps-post), held to the right edge."""
    xs: list[datetime] = [s.at for s in series.steps]
    ys: list[Decimal | None] = [s.amount for s in series.steps]
    if xs and xs[-1] < x_end:
        xs.append(x_end)
        ys.append(ys[-1])
    return xs, [None if y is None else float(y) for y in ys]


def render(chart: Dance, fmt_: ChartFormat = "svg", *, width: float = 9.0) -> bytes:
    """The dance as a static picture: one step path per party (``<g id="dance-PARTY">``),
    the offers as points (``<g id="offers-PARTY">``), markers, the midpoint and an "as of"
    edge. The plot area is ``<g id="plot-area">``; its limits are ``x_range``/``y_range``.
    """
    import matplotlib
    from matplotlib import dates
    from matplotlib.figure import Figure

    mdates: Any = dates  # its locators and formatters are untyped
    rc: Any = {
        "svg.fonttype": "none",  # text stays text: smaller, selectable, searchable
        "svg.hashsalt": "parley",  # stable ids: the same data gives the same file
        "date.epoch": "1970-01-01T00:00:00",  # what day_number counts from
        "font.size": 9,
        "font.family": "DejaVu Sans",
        # Titles and names are the client's text: `$…$` is dollars, never TeX.
        "text.parse_math": False,
    }
    with RENDER_LOCK, matplotlib.rc_context(rc):
        fig = Figure(figsize=(width, width * 0.55), layout="constrained")
        ax = fig.add_subplot()
        ax.patch.set_gid("plot-area")
        s = chart.scale
        x_low, x_high = chart.x_range
        if chart.as_of is not None:
            edge = moment_of(sort_key(parse_occurred_at(chart.as_of, "as_of")))
            ax.axvline(day_number(edge), color="#999999", linestyle=":", linewidth=1, gid="as-of")
        if chart.gaps:
            mid_x = [day_number(g.at) for g in chart.gaps]
            mid_y = [float(g.midpoint / s) for g in chart.gaps]
            if chart.gap_open:
                mid_x.append(day_number(x_high))
                mid_y.append(mid_y[-1])
            ax.plot(
                mid_x,
                mid_y,
                drawstyle="steps-post",
                color=MIDPOINT_COLOR,
                linestyle="--",
                linewidth=1,
                label="midpoint",
                gid="midpoint",
            )
        for series in chart.series:
            xs, ys = step_xy(series, x_high)
            values = [float("nan") if y is None else y / float(s) for y in ys]
            ax.plot(
                [day_number(x) for x in xs],
                values,
                drawstyle="steps-post",
                color=series.color,
                linewidth=2,
                label=f"{series.name} ({series.party})",
                gid=f"dance-{series.party}",
            )
            own = [o for o in chart.offers if o.party == series.party]
            if own:
                ax.plot(
                    [day_number(o.at) for o in own],
                    [chart.scaled(o.amount) for o in own],
                    linestyle="none",
                    marker="o",
                    markersize=6,
                    markerfacecolor=series.color,
                    markeredgecolor="white",
                    label=f"{series.party} offer",
                    gid=f"offers-{series.party}",
                )
        styles: dict[str, dict[str, Any]] = {
            "agreement": {"marker": "D", "color": "#009E73", "label": "agreement"},
            "agreement_rejected": {"marker": "X", "color": "#B00020", "label": "rejection"},
            "offer_rejected": {"marker": "X", "color": "#B00020", "label": "rejection"},
            "offer_withdrawn": {"marker": "x", "color": "#555555", "label": "withdrawal"},
        }
        labelled: set[str] = set()
        for kind, style in styles.items():
            chosen = [m for m in chart.markers if m.kind == kind]
            if not chosen:
                continue
            label = style["label"] if style["label"] not in labelled else None
            labelled.add(style["label"])
            ax.plot(
                [day_number(m.at) for m in chosen],
                [chart.scaled(m.amount) for m in chosen],
                linestyle="none",
                marker=style["marker"],
                markersize=8,
                color=style["color"],
                label=label,
                gid=f"markers-{kind}",
            )
        ax.set_xlim(day_number(x_low), day_number(x_high))
        ax.set_ylim(float(chart.y_range[0] / s), float(chart.y_range[1] / s))
        locator = mdates.AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        ax.grid(True, color="#e5e5e5", linewidth=0.8)
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.set_ylabel(chart.y_title)
        ax.set_xlabel("when it occurred (UTC)")
        term_name = chart.term.name if chart.term else "no terms defined"
        when = f", as of {chart.as_of}" if chart.as_of else ""
        ax.set_title(f"{chart.title}\n{term_name}{when}", loc="left", fontsize=10)
        if chart.series:
            fig.legend(loc="outside lower center", ncols=4, fontsize=8, frameon=False)
        buffer = io.BytesIO()
        metadata = {"Date": None} if fmt_ == "svg" else None
        fig.savefig(buffer, format=fmt_, metadata=metadata, dpi=None if fmt_ == "svg" else 150)
    return buffer.getvalue()
