"""Scanning one object version: the verdict rule (verdicts.py), scan requests and their
executions (requests.py), the scanner (scanner.py) and the archive audit (archives/)."""
