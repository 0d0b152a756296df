"""Use cases shared by the HTTP API and the command line: import/export, Plover, the demo,
the ledger's proofs and the full-ledger scan, witnesses' cosignatures.

Nothing here imports a web framework or a terminal library: the callers present the results.
"""
