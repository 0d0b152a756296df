"""One router per resource; no route module imports another (an import-linter contract)."""
