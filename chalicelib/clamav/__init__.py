"""clamd: its protocol client, the process with a private configuration, what its replies mean,
the engine check, and the scanner's warm engine (downloaded definitions, start, reload)."""
