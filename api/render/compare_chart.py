"""The comparison as a static SVG: each negotiation's closed share of its initial gap over
the days since both sides had positions (``<g id="compare-SLUG">``)."""

from __future__ import annotations

import io
from typing import Any

from api.render.charts import PALETTE
from api.render.dance_svg import RENDER_LOCK
from projections.compare import share_points


def render_compare(document: dict[str, Any], *, width: float = 9.0) -> bytes:
    import matplotlib
    from matplotlib.figure import Figure

    rc: Any = {
        "svg.fonttype": "none",
        "svg.hashsalt": "parley",
        "font.size": 9,
        "font.family": "DejaVu Sans",
        "text.parse_math": False,  # titles are the client's text: `$…$` is dollars, never TeX
    }
    with RENDER_LOCK, matplotlib.rc_context(rc):
        fig = Figure(figsize=(width, width * 0.55), layout="constrained")
        ax = fig.add_subplot()
        ax.patch.set_gid("plot-area")
        for i, entry in enumerate(document["negotiations"]):
            points = share_points(entry)
            if not points:
                continue
            xs = [x for x, _ in points]
            ys = [y * 100 for _, y in points]
            ax.plot(
                xs,
                ys,
                drawstyle="steps-post",
                marker="o",
                markersize=4,
                linewidth=2,
                color=PALETTE[i % len(PALETTE)],
                label=f"{entry['title']} ({entry['negotiation']})",
                gid=f"compare-{entry['negotiation']}",
            )
        ax.axhline(100, color="#999999", linestyle=":", linewidth=1)
        ax.axhline(0, color="#cccccc", linewidth=0.8)
        ax.grid(True, color="#e5e5e5", linewidth=0.8)
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.set_xlabel("days since both sides had positions")
        ax.set_ylabel("share of the initial gap closed (%)")
        ax.set_title(f"Comparison on {document['term']}", loc="left", fontsize=10)
        if ax.lines:
            fig.legend(loc="outside lower center", ncols=2, fontsize=8, frameon=False)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()
