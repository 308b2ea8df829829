"""Account for every archive member clamd might not have read (docs/ARCHIVES.md).

ClamAV answers ``OK`` for content it did not read: zip and CAB members over ``MaxFileSize`` are
trimmed silently, some compression methods and formats are not decoded at all, encrypted Office
documents are not flagged. The audit reads every container it finds by content, independently
of clamd, and says either "every member accounted for" or why not.
"""

from chalicelib.scanning.archives.audit import ArchiveAudit, AuditReport, MemberScan
from chalicelib.scanning.archives.findings import AuditLimits, Finding
from chalicelib.scanning.archives.sniff import EOCD_SEARCH_BYTES, SNIFF_BYTES, has_end_record, sniff

__all__ = [
    "EOCD_SEARCH_BYTES",
    "SNIFF_BYTES",
    "ArchiveAudit",
    "AuditLimits",
    "AuditReport",
    "Finding",
    "MemberScan",
    "has_end_record",
    "sniff",
]
