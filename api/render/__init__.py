"""Pictures of a negotiation: the chart's fold and its SVG, the comparison chart, and the
chart's input read from the analytics view."""
