"""No module of domain/, projections/ or api/ imports itself back, directly or by a chain."""

from __future__ import annotations

import grimp

PACKAGES = ("domain", "projections", "api")


def test_no_import_cycles_in_the_product_code() -> None:
    graph = grimp.build_graph(*PACKAGES)
    cycles = []
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back is not None:
                cycles.append(" -> ".join((importer, *back)))
    assert cycles == []
