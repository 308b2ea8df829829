"""The clamd limits the tests run with."""

from __future__ import annotations

from devstack.clamd import ClamdLimits

MIB = 1024 * 1024
# Small limits keep the oversize cases cheap; the scanner's limit equals StreamMaxLength.
TEST_LIMITS = ClamdLimits(stream_max=16 * MIB, max_file=16 * MIB, max_scan=64 * MIB, max_recursion=17, max_files=1000)
