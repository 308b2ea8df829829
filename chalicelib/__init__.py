"""Everything that runs in Lambda. The map: docs/ARCHITECTURE.md."""
