"""Pictures of a negotiation: the chart's data (``charts``), its fold (``dance_fold``) and its
SVG (``dance_svg``), the comparison chart, and the chart's input read from the analytics view."""
