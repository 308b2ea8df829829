"""Create the main stack's resources in an AWS emulator, from its template itself (``infra/main/``).

moto's own CloudFormation silently drops most bucket and table properties, so each resource
the local stage needs is created here through the ordinary APIs from the template's resolved
properties. The bucket policy is not installed: moto ignores policy Conditions, which would
turn every conditional Deny into a blanket one (tests check the policy as data instead, and
the application refuses non-CLEAN downloads as a second line).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from devstack.templates import MAIN_TEMPLATE_DIR, TemplateContext, load_main_template, render_state_machine


@dataclass(frozen=True)
class MainStack:
    context: TemplateContext
    data_bucket: str
    files_table: str
    profiles_table: str
    alert_topic_arn: str
    scanner_function_arn: str
    state_machine_arn: str


def _tags(properties: dict[str, Any]) -> list[dict[str, str]]:
    return [{"Key": tag["Key"], "Value": str(tag["Value"])} for tag in properties.get("Tags", [])]


def create_bucket(s3: Any, context: TemplateContext, logical_id: str) -> str:
    """A bucket with the template's versioning, encryption, public access block, EventBridge
    switch and tags (access logging, lifecycle and replication have no local meaning; the CORS
    rule names the deployed web origin, and moto's server answers CORS for any origin)."""
    props = context.resource(logical_id)["Properties"]
    local_only = {
        "LoggingConfiguration",
        "LifecycleConfiguration",
        "ReplicationConfiguration",
        "MetricsConfigurations",
        "CorsConfiguration",
    }
    props = {name: context.resolve(props[name]) for name in props if name not in local_only}
    name = props["BucketName"]
    if context.region == "us-east-1":
        s3.create_bucket(Bucket=name)
    else:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": context.region})
    if "VersioningConfiguration" in props:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration=props["VersioningConfiguration"])
    if "BucketEncryption" in props:
        s3.put_bucket_encryption(
            Bucket=name,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {"ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"]}
                    for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
                ]
            },
        )
    if "PublicAccessBlockConfiguration" in props:
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"])
    event_bridge = props.get("NotificationConfiguration", {}).get("EventBridgeConfiguration", {})
    if event_bridge.get("EventBridgeEnabled"):
        s3.put_bucket_notification_configuration(
            Bucket=name, NotificationConfiguration={"EventBridgeConfiguration": {}}
        )
    s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": _tags(props)})
    context.refs[logical_id] = name
    context.attributes[(logical_id, "Arn")] = f"arn:aws:s3:::{name}"
    return name


def create_table(dynamodb: Any, context: TemplateContext, logical_id: str) -> str:
    props = context.properties(logical_id)
    arguments: dict[str, Any] = {
        "TableName": props["TableName"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PROVISIONED"),
    }
    if arguments["BillingMode"] == "PROVISIONED":
        arguments["ProvisionedThroughput"] = {
            name: int(value) for name, value in props["ProvisionedThroughput"].items()
        }
    for index_kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if index_kind in props:
            arguments[index_kind] = props[index_kind]
    table = dynamodb.create_table(**arguments)["TableDescription"]
    context.refs[logical_id] = table["TableName"]
    context.attributes[(logical_id, "Arn")] = table["TableArn"]
    return str(table["TableName"])


def create_key(kms: Any, context: TemplateContext, logical_id: str) -> str:
    props = context.properties(logical_id)
    key = kms.create_key(
        Description=props.get("Description", logical_id),
        Tags=[{"TagKey": tag["Key"], "TagValue": tag["Value"]} for tag in _tags(props)],
    )["KeyMetadata"]
    context.refs[logical_id] = key["KeyId"]
    context.attributes[(logical_id, "Arn")] = key["Arn"]
    return str(key["Arn"])


def create_topic(sns: Any, context: TemplateContext, logical_id: str) -> str:
    props = context.properties(logical_id)
    attributes = {"KmsMasterKeyId": props["KmsMasterKeyId"]} if "KmsMasterKeyId" in props else {}
    arn = str(sns.create_topic(Name=props["TopicName"], Attributes=attributes, Tags=_tags(props))["TopicArn"])
    context.refs[logical_id] = arn
    return arn


def name_role(context: TemplateContext, logical_id: str) -> str:
    """Roles are not emulated; the ARN is what the template would produce."""
    name = context.resolve(context.resource(logical_id)["Properties"]["RoleName"])
    arn = f"arn:aws:iam::{context.account_id}:role/{name}"
    context.attributes[(logical_id, "Arn")] = arn
    return arn


def name_function(context: TemplateContext, logical_id: str) -> str:
    """Functions run in-process through ``devstack.lambda_bridge``; only the ARN is needed."""
    name = context.resolve(context.resource(logical_id)["Properties"]["FunctionName"])
    arn = f"arn:aws:lambda:{context.region}:{context.account_id}:function:{name}"
    context.refs[logical_id] = name
    context.attributes[(logical_id, "Arn")] = arn
    return arn


def create_state_machine(sfn: Any, context: TemplateContext, logical_id: str) -> str:
    props = context.resource(logical_id)["Properties"]
    definition = render_state_machine(MAIN_TEMPLATE_DIR, context, logical_id)
    arn = str(
        sfn.create_state_machine(
            name=context.resolve(props["StateMachineName"]),
            definition=definition,
            roleArn=context.resolve(props["RoleArn"]),
            type=props.get("StateMachineType", "STANDARD"),
        )["stateMachineArn"]
    )
    context.refs[logical_id] = arn
    return arn


def create_main_stack(session: Any, stage: str = "local", region: str = "ap-northeast-1") -> MainStack:
    """Create the resources of the main stack's template that the scan pipeline uses."""
    context = TemplateContext(load_main_template(), {"Stage": stage, "ScannerImageUri": "local"}, region=region)
    data_bucket = create_bucket(session.client("s3", region_name=region), context, "DataBucket")
    dynamodb = session.client("dynamodb", region_name=region)
    files_table = create_table(dynamodb, context, "FilesTable")
    profiles_table = create_table(dynamodb, context, "ProfilesTable")
    create_key(session.client("kms", region_name=region), context, "AlertKey")
    alert_topic = create_topic(session.client("sns", region_name=region), context, "AlertTopic")
    name_role(context, "ScannerRole")
    name_role(context, "ScanStateMachineRole")
    scanner_arn = name_function(context, "ScannerFunction")
    state_machine = create_state_machine(
        session.client("stepfunctions", region_name=region), context, "ScanStateMachine"
    )
    return MainStack(context, data_bucket, files_table, profiles_table, alert_topic, scanner_arn, state_machine)


# CloudFormation property → CreateUserPool parameter, where the names differ.
_USER_POOL_RENAMES = {"UserPoolName": "PoolName"}
_USER_POOL_LOCAL_IGNORED = {"UserPoolTags", "DeletionProtection", "UserPoolTier"}


def create_user_pool(cognito: Any, context: TemplateContext, logical_id: str = "UserPool") -> str:
    props = context.properties(logical_id)
    arguments = {
        _USER_POOL_RENAMES.get(name, name): value
        for name, value in props.items()
        if name not in _USER_POOL_LOCAL_IGNORED
    }
    pool = cognito.create_user_pool(**arguments)["UserPool"]
    context.refs[logical_id] = pool["Id"]
    context.attributes[(logical_id, "Arn")] = pool["Arn"]
    return str(pool["Id"])


def create_user_pool_client(cognito: Any, context: TemplateContext, logical_id: str) -> str:
    props = context.properties(logical_id)
    client = cognito.create_user_pool_client(**props)["UserPoolClient"]
    context.refs[logical_id] = client["ClientId"]
    return str(client["ClientId"])
