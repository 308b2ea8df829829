"""ClamAV definitions: the manifest model, the published store, the sources (official CVDs
through cvdupdate, or a mirror), and the daily updater. Schedule: chalicelib/functions/schedules.py."""
