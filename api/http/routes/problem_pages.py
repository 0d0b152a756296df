"""The pages that problem ``type`` URIs point to: ``/problems`` lists them, ``/problems/{code}``
describes one. Open like the API docs: they describe the API, not the ledger."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import HTMLResponse

from api.http.problems.table import CATALOGUE, PROBLEM_BASE, ProblemType
from api.http.schemas import Problem

router = APIRouter(tags=["problems"])

_HEAD = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title}</title>
  <link rel="stylesheet" href="/static/parley.css">
  <link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
</head>
<body>
  <header class="top"><a href="/">Parley</a><span class="crumb"><a href="/problems">problem types</a></span></header>
  <main><section class="panel">
"""
_FOOT = """  </section></main>
</body>
</html>
"""
NO_STALE = {"Cache-Control": "no-cache"}


def _row(problem: ProblemType) -> str:
    href = escape(PROBLEM_BASE + problem.code)
    return (
        f'<tr id="{escape(problem.code)}"><td><a href="{href}"><code>{escape(problem.code)}</code>'
        f"</a></td><td>{problem.status}</td><td>{escape(problem.title)}</td>"
        f"<td>{escape(problem.description)}</td></tr>"
    )


def index_html() -> str:
    rows = "\n".join(_row(p) for p in sorted(CATALOGUE.values(), key=lambda p: (p.status, p.code)))
    return (
        _HEAD.format(title="Parley — problem types")
        + "<h1>Problem types</h1>\n<p>Every error is answered as <code>application/problem+json"
        "</code> (RFC 9457). Its <code>type</code> is one of these pages; its <code>title</code> "
        "is always the one below; <code>instance</code> names the request (its "
        "<code>X-Request-ID</code>, as in the server's logs).</p>\n"
        '<div class="table-wrap"><table id="problems"><thead><tr><th>type</th><th>status</th>'
        f"<th>title</th><th>meaning</th></tr></thead><tbody>\n{rows}\n</tbody></table></div>\n"
        + _FOOT
    )


def problem_html(problem: ProblemType) -> str:
    return (
        _HEAD.format(title=f"Parley — problem: {escape(problem.title)}")
        + f'<h1 id="title">{escape(problem.title)}</h1>\n'
        f'<p>Type <code id="type">{escape(PROBLEM_BASE + problem.code)}</code>, answered with '
        f'status <strong id="status">{problem.status}</strong>.</p>\n'
        f'<p id="description">{escape(problem.description)}</p>\n' + _FOOT
    )


@router.get(
    "/problems",
    summary="Every problem type the API answers with",
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {}}, "description": "The list"}},
)
def problem_index() -> HTMLResponse:
    return HTMLResponse(index_html(), headers=NO_STALE)


@router.get(
    "/problems/{code}",
    summary="The page a problem's `type` points to",
    response_class=HTMLResponse,
    responses={
        200: {"content": {"text/html": {}}, "description": "The problem type"},
        404: {"model": Problem, "description": "No problem type has that code"},
    },
)
def problem_page(code: str) -> HTMLResponse:
    problem = CATALOGUE.get(code)
    if problem is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND)
    return HTMLResponse(problem_html(problem), headers=NO_STALE)
