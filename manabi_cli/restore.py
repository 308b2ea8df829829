"""Restore one file of the data bucket from its daily backup (R-BAK-04, docs/BACKUP.md).

    python -m manabi_cli.restore --stage prod --owner SUB --file-id ID [--version V] [--from-osaka]

Runs with the operator's AWS credentials (IAM group "operators"). The bytes come back as a new
version of the original key and are scanned again before anyone can read them.
"""

from __future__ import annotations

import argparse
import json
import sys

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.files.repository import FilesRepo
from chalicelib.upkeep.backups import RestoreError, restore_file

TOKYO, OSAKA = "ap-northeast-1", "ap-northeast-3"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m manabi_cli.restore", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", choices=["stag", "prod", "local"], required=True)
    parser.add_argument("--owner", required=True, help="the learner's user sub")
    parser.add_argument("--file-id", required=True)
    parser.add_argument("--version", help="the backed-up version id (default: the newest backup)")
    parser.add_argument("--bucket-suffix", default="", help="the stacks' BucketSuffix parameter, if any")
    parser.add_argument("--from-osaka", action="store_true", help="read dr-manabiplus-backup in Osaka (prod)")
    args = parser.parse_args(argv)
    if args.from_osaka:
        backup_s3, backup_bucket = boto3.client("s3", region_name=OSAKA), f"dr-manabiplus-backup{args.bucket_suffix}"
    else:
        backup_s3, backup_bucket = (
            boto3.client("s3", region_name=TOKYO),
            f"{args.stage}-manabiplus-backup{args.bucket_suffix}",
        )
    repo = FilesRepo(boto3.resource("dynamodb", region_name=TOKYO).Table(f"{args.stage}-manabiplus-files"))
    try:
        result = restore_file(
            repo,
            backup_s3,
            boto3.client("s3", region_name=TOKYO),
            backup_bucket,
            f"{args.stage}-manabiplus-data{args.bucket_suffix}",
            args.owner,
            args.file_id,
            args.version,
        )
    except (RestoreError, ClientError, BotoCoreError) as error:
        print(f"restore: {error}", file=sys.stderr)
        return 1
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
