"""The ``manabi`` command-line tool (not deployed to Lambda)."""
