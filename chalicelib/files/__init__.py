"""A learner's files: records (records.py), their DynamoDB repository, the service behind the
files API, ids that sort by time."""
