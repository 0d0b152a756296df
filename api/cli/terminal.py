"""The terminal's faces: ``parley negotiations|positions|gaps|timeline|chart`` as rich tables.

They read the local store (``PARLEY_DATABASE_URL``) straight from the ledger, folding each
negotiation's stream with the same projections the API serves, so they need no server and no
views. :func:`register` adds them to the ``parley`` typer app.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from api.cli.common import all_slugs, current_settings, err, fail, opened_ledger, out, progress_bar
from api.render.charts import UnknownTerm, amount_text
from api.render.dance_fold import dance
from api.render.dance_svg import render
from domain import errors
from domain.ledger import Ledger
from domain.values import OccurredAt, Quantity, parse_occurred_at
from projections.gaps import gaps as gaps_document
from projections.index import index_entry
from projections.positions import positions as positions_document
from projections.records import Stream, stream_of
from projections.timeline import timeline as timeline_document

AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="What had happened by then: a date (its whole day) or a datetime with its offset",
    ),
]


def _row(table: Table, *cells: str, style: str | None = None) -> None:
    """Cells hold the ledger's text, which may contain ``[...]``: never read it as markup."""
    table.add_row(*(escape(c) for c in cells), style=style)


def _ledger() -> contextlib.AbstractContextManager[Ledger]:
    """The store, unannounced: these commands print tables, not which store they read."""
    return opened_ledger(current_settings(), announce=False)


def _stream(ledger: Ledger, slug: str) -> Stream:
    try:
        ledger.get(slug)
    except errors.NegotiationNotFound:
        raise fail(f"no negotiation {slug!r} (see `parley negotiations`)") from None
    return stream_of(ledger.stream(slug))


def _as_of(value: str | None) -> OccurredAt | None:
    if value is None:
        return None
    try:
        return parse_occurred_at(value, "as_of")
    except errors.InvalidValue as e:
        raise fail(f"--as-of: {e.detail}", code=2) from None


def _today() -> date:
    return datetime.now(UTC).date()


def _quantity(amount: str | None, unit: str) -> str:
    return "—" if amount is None else amount_text(Quantity(Decimal(amount), unit))


def _short(amount: str | None, unit: str) -> str:
    """A large amount as a person reads it at a glance: ``1.175 trillion KRW``."""
    if amount is None:
        return "—"
    value = Decimal(amount)
    for factor, word in ((Decimal(10) ** 12, "trillion"), (Decimal(10) ** 9, "billion")):
        if abs(value) >= factor:
            return f"{(value / factor).quantize(Decimal('0.001')).normalize():f} {word} {unit}"
    return _quantity(amount, unit)


def _share(text: str | None) -> str:
    return "—" if text is None else f"{float(text) * 100:.1f}%"


def negotiations() -> None:
    """List every negotiation: status, parties, last activity and its headline gap."""
    with _ledger() as ledger:
        slugs = all_slugs(ledger)
        table = Table(title="Negotiations", title_justify="left", expand=False)
        for column in ("slug", "title", "status", "parties", "last activity", "headline gap"):
            table.add_column(column, overflow="fold")
        progress = progress_bar(err)
        with progress:
            task = progress.add_task("reading negotiations", total=len(slugs))
            for slug in slugs:
                stream = stream_of(ledger.stream(slug))
                entry = index_entry(stream)
                progress.advance(task)
                if entry is None:
                    continue
                _row(
                    table,
                    entry["slug"],
                    entry["title"],
                    entry["status"],
                    ", ".join(p["id"] for p in entry["parties"]),
                    entry["last_occurred_at"] or "—",
                    _headline(stream),
                )
    if not slugs:
        out.print("no negotiations yet: `parley demo` loads one", highlight=False)
        return
    out.print(table, soft_wrap=False)


def _headline(stream: Stream) -> str:
    document = gaps_document(stream, today=_today())
    for term in document["terms"]:
        for pair in term["pairs"]:
            if pair["gap"] is None:
                return pair["reason"] or "—"
            p, q = pair["parties"]
            closed = pair["closed_share"]
            tail = "" if closed is None else f" ({_share(closed)} closed)"
            return f"{_short(pair['gap'], term['unit'])} {p}-{q} on {term['term']}{tail}"
    return "—"


def positions(
    slug: Annotated[str, typer.Argument(help="The negotiation's slug")],
    as_of: AsOfOption = None,
) -> None:
    """Each party's standing position per term."""
    with _ledger() as ledger:
        document = positions_document(_stream(ledger, slug), as_of=_as_of(as_of))
    when = f" as of {document['as_of']}" if document["as_of"] else ""
    table = Table(title=f"Positions in {slug}{when}", title_justify="left")
    for column in ("term", "party", "position", "as stated", "since", "via"):
        table.add_column(column, justify="right" if column == "position" else "left")
    for term in document["terms"]:
        if not term["positions"]:
            _row(table, term["term"], "—", "no positions yet", "", "", "")
        for p in term["positions"]:
            _row(
                table,
                term["term"],
                p["party"],
                _short(p["value"]["amount"], p["value"]["unit"]),
                _quantity(p["original"]["amount"], p["original"]["unit"]),
                p["at"],
                p["via"],
            )
    out.print(table, soft_wrap=False)


def gaps(
    slug: Annotated[str, typer.Argument(help="The negotiation's slug")],
    as_of: AsOfOption = None,
) -> None:
    """The gap metrics per term and pair, and each pair's gap history."""
    with _ledger() as ledger:
        document = gaps_document(_stream(ledger, slug), as_of=_as_of(as_of), today=_today())
    when = f" as of {document['as_of']}" if document["as_of"] else ""
    for term in document["terms"]:
        unit = term["unit"]
        for pair in term["pairs"]:
            p, q = pair["parties"]
            table = Table(
                title=f"{slug}: {term['term']}, {p}-{q}{when}",
                title_justify="left",
                show_header=False,
            )
            table.add_column("metric", style="bold")
            table.add_column("value")
            if pair["gap"] is None:
                _row(table, "gap", pair["reason"] or "—")
            for party in (p, q):
                _row(table, f"{party} position", _quantity(pair["positions"].get(party), unit))
            if pair["gap"] is not None:
                _row(table, "gap", _quantity(pair["gap"], unit))
                _row(table, "midpoint", _quantity(pair["midpoint"], unit))
                _row(table, "relative gap", _share(pair["relative_gap"]))
                _row(table, "ratio", f"{float(pair['ratio']):.3f}" if pair["ratio"] else "—")
                _row(
                    table,
                    "initial gap",
                    f"{_quantity(pair['initial_gap'], unit)} ({pair['initial_at']})",
                )
                _row(table, "closed share", _share(pair["closed_share"]))
                for party, c in (pair["concessions"] or {}).items():
                    _row(
                        table,
                        f"{party} concession",
                        f"{_quantity(c['amount'], unit)} ({_share(c['share'])}), "
                        f"{c['moves']} moves, last {c['last_move_at'] or '—'}",
                    )
                _row(table, "days since last move", str(pair["days_since_last_move"]))
                _row(table, "rounds since last move", str(pair["rounds_since_last_move"]))
                _row(table, "forecast", pair["forecast"] or "none")
            out.print(table, soft_wrap=False)
            history = Table(title="gap history", title_justify="left")
            for column in ("at", p, q, "gap"):
                history.add_column(column, justify="left" if column == "at" else "right")
            for point in pair["history"]:
                _row(
                    history,
                    point["at"],
                    _short(point["positions"][p], unit),
                    _short(point["positions"][q], unit),
                    _short(point["gap"], unit),
                )
            out.print(history, soft_wrap=False)


def _summary(entry: dict[str, Any]) -> str:
    p = entry["payload"]
    kind = entry["type"]
    values = "; ".join(
        f"{term}: {_quantity(q['amount'], q['unit'])}"
        for term, q in (p.get("values") or {}).items()
    )
    texts = {
        "negotiation_opened": p.get("title"),
        "party_joined": p.get("party", {}).get("name")
        if isinstance(p.get("party"), dict)
        else None,
        "term_defined": (p.get("term") or {}).get("name"),
        "round_held": f"round {p.get('number')}"
        + (f" in {p['location']}" if p.get("location") else "")
        + (f": {p['outcome']}" if p.get("outcome") else ""),
        "call_held": f"{p.get('channel')} call: " + "; ".join(p.get("topics") or []),
        "meeting_held": "meeting: " + "; ".join(p.get("topics") or []),
        "offer_made": f"{p.get('party')} {p.get('kind')}: {values or 'undisclosed'}",
        "offer_withdrawn": f"{p.get('party')} withdrew an offer",
        "offer_rejected": f"{p.get('party')} rejected an offer",
        "statement_made": f"{p.get('speaker')} ({p.get('party')}): {p.get('summary')}",
        "issue_raised": f"{p.get('raised_by')}: {p.get('title')}",
        "issue_resolved": p.get("resolution"),
        "agreement_reached": f"{p.get('status')}: {values}",
        "agreement_rejected": f"{p.get('party')} rejected the agreement: {p.get('reason') or ''}",
        "status_changed": f"{p.get('status')}: {p.get('reason') or ''}",
        "exchange_rate_recorded": f"1 {p.get('base')} = {p.get('rate')} {p.get('quote')}",
        "event_retracted": f"retracts an earlier event: {p.get('reason')}",
    }
    return str(texts.get(kind) or "")


def timeline(
    slug: Annotated[str, typer.Argument(help="The negotiation's slug")],
    as_of: AsOfOption = None,
    types: Annotated[
        list[str] | None, typer.Option("--type", help="Only events of this type (repeatable)")
    ] = None,
    party: Annotated[str | None, typer.Option(help="Only events that name this party")] = None,
) -> None:
    """The negotiation's events in the order they happened; retracted ones struck through."""
    with _ledger() as ledger:
        document = timeline_document(
            _stream(ledger, slug), types=types, party=party, as_of=_as_of(as_of)
        )
    when = f" as of {document['as_of']}" if document["as_of"] else ""
    table = Table(title=f"Timeline of {slug}{when}", title_justify="left")
    table.add_column("occurred", no_wrap=True)
    table.add_column("v", justify="right")
    table.add_column("type", no_wrap=True)
    table.add_column("what", overflow="fold")
    for entry in document["events"]:
        style = "strike dim" if entry["retracted"] else None
        what = _summary(entry) + (" (retracted)" if entry["retracted"] else "")
        _row(table, entry["occurred_at"], str(entry["version"]), entry["type"], what, style=style)
    out.print(table, soft_wrap=False)


def chart(
    slug: Annotated[str, typer.Argument(help="The negotiation's slug")],
    out_file: Annotated[
        Path, typer.Option("--out", help="Where to write the chart: a .svg or .png file")
    ],
    term: Annotated[str | None, typer.Option(help="The term to chart [default: the first]")] = None,
    as_of: AsOfOption = None,
) -> None:
    """Write the negotiation dance as a static SVG or PNG, as GET /negotiations/SLUG/chart.svg."""
    suffix = out_file.suffix.lower().lstrip(".")
    if suffix not in ("svg", "png"):
        raise fail("--out must name a .svg or .png file", code=2)
    with _ledger() as ledger:
        stream = _stream(ledger, slug)
    try:
        picture = dance(stream, term=term, as_of=_as_of(as_of), today=_today())
    except UnknownTerm as e:
        raise fail(str(e), code=2) from None
    with err.status(f"drawing {out_file.name}", spinner="dots"):
        data = render(picture, "svg" if suffix == "svg" else "png")
    out_file.write_bytes(data)
    out.print(f"[green]wrote[/] {out_file} ({len(data):,} bytes)", highlight=False)


def register(app: typer.Typer) -> None:
    """Adds the terminal commands to the ``parley`` app."""
    app.command("negotiations")(negotiations)
    app.command("positions")(positions)
    app.command("gaps")(gaps)
    app.command("timeline")(timeline)
    app.command("chart")(chart)
