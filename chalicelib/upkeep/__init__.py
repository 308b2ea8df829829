"""Keeping the data in order: the sweeper (missed uploads, stuck scans, automatic rescans of
transient errors), rescans, and the daily backup with its restore. Schedules: chalicelib/functions/."""
