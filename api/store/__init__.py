"""Storage adapters beside the event store: opening a ledger on SQLite, PostgreSQL or memory,
and the API keys table (its own DDL on each store)."""
