"""moto's server for the deploy rehearsal (tests/rehearsal), with what CloudFormation does that
moto 5.2 does not. `python -m tests.rehearsal.emulator --port N --record FILE`.

1. The SAM transform: templates declaring ``Transform: AWS::Serverless-2016-10-31`` (the
   packaged main stack) are expanded with aws-sam-translator — the open-source implementation
   of that transform — before moto reads them, as CloudFormation does before it creates anything.
2. Stacks made or changed through change sets (what `aws cloudformation deploy` does): moto
   computes a stack's outputs from the template it was created with, which for a change set's
   stack is empty, and keeps the first change set's parameters; here both follow each executed
   change set. A change set with no changes is created FAILED with AWS's reason ("The submitted
   information didn't contain changes"), as CloudFormation does and the CLI's
   --no-fail-on-empty-changeset expects, instead of moto's error "No updates are to be performed".
3. Resource types moto's CloudFormation does not implement: moto skips them, and then fails any
   GetAtt of them ("references undefined resource"). Here each becomes a placeholder that creates
   NOTHING: its Ref and GetAtt values are made up in the shape AWS gives them (an ARN where an
   ARN is expected, so that parameter patterns and Fn::Split/Select over them behave), all with
   "notemulated" in them, and it is recorded in FILE (type, logical id, stack) so the rehearsal
   can say exactly which resources it did not create. A Route 53 zone's NameServers, which moto's zone model lacks, are
   the zone's own delegation set.
4. moto bugs in resources it does create, fixed at the edge: an AWS::KMS::Key's Tags are read
   in KMS's API shape (TagKey/TagValue) instead of CloudFormation's (Key/Value); an
   AWS::ApiGateway::RestApi must have a Name, which CloudFormation takes from the Body's
   info.title when there is a Body (as SAM's is), and its Body is ignored — here its paths and
   methods are created with their integrations (moto's own importer takes OpenAPI 3 only,
   Chalice writes Swagger 2.0), so that the Deployment and the Stage can be created.

docs/DEPLOY.md, "The deploy rehearsal", says what this proves and what it cannot.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
import uuid
from pathlib import Path
from typing import Any

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"


class _NoManagedPolicies:
    """The transform asks for AWS managed policy ARNs only for a function's `Policies`; Chalice's
    functions name their role instead."""

    def load(self) -> dict[str, str]:
        return {}


def sam_expanded(template: dict[str, Any], parameters: dict[str, Any], region: str) -> dict[str, Any]:
    if template.get("Transform") != SAM_TRANSFORM:
        return template
    from samtranslator.translator.transform import transform

    values = {**(parameters or {}), "AWS::Region": region, "AWS::Partition": "aws"}
    return transform(template, values, _NoManagedPolicies())  # type: ignore[no-any-return]


# Every type in this project's templates (the packaged main stack after the SAM transform) that
# moto 5.2's CloudFormation has no model for.
NOT_EMULATED_TYPES = (
    "AWS::ApiGateway::Account",
    "AWS::ApiGateway::Stage",
    "AWS::ApplicationAutoScaling::ScalableTarget",
    "AWS::ApplicationAutoScaling::ScalingPolicy",
    "AWS::CertificateManager::Certificate",
    "AWS::CloudFront::Distribution",
    "AWS::CloudFront::OriginAccessControl",
    "AWS::CloudTrail::Trail",
    "AWS::CloudWatch::Alarm",
    "AWS::Cognito::UserPool",
    "AWS::Cognito::UserPoolClient",
    "AWS::IAM::Group",
    "AWS::KinesisFirehose::DeliveryStream",
    "AWS::Logs::LogStream",
    "AWS::ResourceGroups::Group",
    "AWS::S3::BucketPolicy",
    "AWS::Scheduler::Schedule",
    "AWS::SecretsManager::Secret",
    "AWS::WAFv2::LoggingConfiguration",
    "AWS::WAFv2::WebACL",
    "AWS::WAFv2::WebACLAssociation",
)


def _placeholder_model(resource_type: str, record: Path | None) -> type[Any]:
    from moto.core.common_models import CloudFormationModel

    class NotEmulated(CloudFormationModel):  # type: ignore[misc]
        __module__ = "moto.not_emulated"  # moto's model metaclass files models by moto.<service>

        def __init__(self, logical_id: str, properties: dict[str, Any], account_id: str, region: str) -> None:
            self.logical_id = logical_id
            self.values = _made_up_values(resource_type, logical_id, properties, account_id, region)
            if resource_type == "AWS::CloudFront::Distribution":
                self.values.update(_bare_distribution(logical_id, properties, account_id))
            self.physical_resource_id = self.values["Ref"]

        @staticmethod
        def cloudformation_type() -> str:
            return resource_type

        @staticmethod
        def cloudformation_name_type() -> str:
            return ""

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return True

        def get_cfn_attribute(self, attribute_name: str) -> str:
            return self.values.get(attribute_name, f"notemulated-{self.logical_id}-{attribute_name}")

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[override]
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
        ) -> NotEmulated:
            logical_id, stack_id = kwargs["LogicalId"], kwargs["StackId"]
            if record is not None:
                with _RECORD_LOCK, record.open("a", encoding="utf-8") as out:
                    entry = {"type": resource_type, "logicalId": logical_id, "stack": stack_id.split("/")[1]}
                    out.write(json.dumps(entry) + "\n")
            return cls(logical_id, cloudformation_json.get("Properties", {}), account_id, region_name)

        @classmethod
        def update_from_cloudformation_json(  # type: ignore[override]
            cls,
            original_resource: Any,
            new_resource_name: str,
            cloudformation_json: Any,
            account_id: str,
            region_name: str,
        ) -> Any:
            return original_resource

        @classmethod
        def delete_from_cloudformation_json(  # type: ignore[override]
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
        ) -> None:
            return None

    NotEmulated.__name__ = NotEmulated.__qualname__ = "NotEmulated_" + resource_type.replace("::", "_")
    return NotEmulated


def _bare_distribution(logical_id: str, properties: dict[str, Any], account_id: str) -> dict[str, str]:
    """moto has CloudFront's API but not its CloudFormation type: create a bare distribution
    (origins only) through the API's backend, so what the deploy does with the stack's
    distribution — the web app's invalidation — has something to act on."""
    from moto.cloudfront.models import cloudfront_backends

    config = properties.get("DistributionConfig", {})
    origins = [
        {
            "Id": origin["Id"],
            "DomainName": str(origin.get("DomainName", "origin.invalid")),
            "S3OriginConfig": {"OriginAccessIdentity": ""},
        }
        for origin in config.get("Origins", [])
        if isinstance(origin, dict) and "Id" in origin
    ] or [{"Id": "origin", "DomainName": "origin.invalid", "S3OriginConfig": {"OriginAccessIdentity": ""}}]
    bare = {
        "CallerReference": f"{logical_id}-{uuid.uuid4()}",
        "Origins": {"Quantity": len(origins), "Items": origins},
        "DefaultCacheBehavior": {"TargetOriginId": origins[0]["Id"], "ViewerProtocolPolicy": "redirect-to-https"},
        "Comment": f"rehearsal stand-in for {logical_id}",
        "Enabled": True,
    }
    distribution, _, _ = cloudfront_backends[account_id]["global"].create_distribution(bare, [])
    return {"Ref": distribution.distribution_id, "DomainName": distribution.domain_name}


def _made_up_values(
    resource_type: str, logical_id: str, properties: dict[str, Any], account: str, region: str
) -> dict[str, str]:
    """Ref and GetAtt values shaped like AWS's, for a resource that is not created."""
    token = "notemulated" + "".join(c for c in logical_id.lower() if c.isalnum())[:20]
    name = str(properties.get("Name") or token)
    arn = f"arn:aws:{resource_type.split('::')[1].lower()}:{region}:{account}:{token}"
    shapes: dict[str, dict[str, str]] = {
        "AWS::WAFv2::WebACL": {
            "Ref": f"{name}|{token}|{properties.get('Scope', 'REGIONAL')}",
            "Arn": f"arn:aws:wafv2:{region}:{account}:"
            + ("global" if properties.get("Scope") == "CLOUDFRONT" else "regional")
            + f"/webacl/{name}/{token}",
            "Id": token,
        },
        "AWS::CertificateManager::Certificate": {"Ref": f"arn:aws:acm:{region}:{account}:certificate/{token}"},
        "AWS::Cognito::UserPool": {
            "Ref": f"{region}_{token[:9]}",
            "Arn": f"arn:aws:cognito-idp:{region}:{account}:userpool/{region}_{token[:9]}",
            "ProviderName": f"cognito-idp.{region}.amazonaws.com/{region}_{token[:9]}",
        },
        "AWS::Cognito::UserPoolClient": {"Ref": token[:26]},
        "AWS::SecretsManager::Secret": {"Ref": f"arn:aws:secretsmanager:{region}:{account}:secret:{name}-{token[:6]}"},
        "AWS::CloudFront::Distribution": {"Ref": token.upper()[:14], "DomainName": f"{token}.cloudfront.net"},
        "AWS::CloudFront::OriginAccessControl": {"Ref": token.upper()[:14], "Id": token.upper()[:14]},
        "AWS::KinesisFirehose::DeliveryStream": {
            "Ref": name,
            "Arn": f"arn:aws:firehose:{region}:{account}:deliverystream/{name}",
        },
        "AWS::CloudTrail::Trail": {"Ref": name, "Arn": f"arn:aws:cloudtrail:{region}:{account}:trail/{name}"},
        "AWS::Scheduler::Schedule": {
            "Ref": name,
            "Arn": f"arn:aws:scheduler:{region}:{account}:schedule/default/{name}",
        },
    }
    values = {"Ref": token, "Arn": arn}
    values.update(shapes.get(resource_type, {}))
    return values


def _import_paths(api: Any, paths: dict[str, Any], account_id: str, region_name: str) -> None:
    """Resources, methods and integrations of a Swagger 2.0 body, as API Gateway's import makes them."""
    from moto.apigateway.models import apigateway_backends

    backend = apigateway_backends[account_id][region_name]
    for path in sorted(paths):
        parent = api.get_resource_for_path("/")
        walked = ""
        for part in [p for p in path.split("/") if p]:
            walked += "/" + part
            resource = api.get_resource_for_path(walked) or backend.create_resource(api.id, parent.id, part)
            parent = resource
        for verb, operation in paths[path].items():
            if not isinstance(operation, dict) or verb.startswith("x-"):
                continue
            backend.put_method(api.id, parent.id, verb.upper(), authorization_type="NONE")
            integration = operation.get("x-amazon-apigateway-integration", {})
            backend.put_integration(
                api.id,
                parent.id,
                verb.upper(),
                integration_type=str(integration.get("type", "MOCK")).upper(),
                uri=str(integration.get("uri", "")),
                integration_method=str(integration.get("httpMethod", "POST")),
            )


_RECORD_LOCK = threading.Lock()
_PLACEHOLDERS: list[type[Any]] = []


def install(record: Path | None = None) -> None:
    """Expand SAM templates wherever moto parses a stack's or a change set's template, recompute
    outputs after a change set, and stand placeholders in for the types moto lacks."""
    from moto.cloudformation import models, parsing
    from moto.route53.models import FakeZone

    known = set(parsing.get_model_map())
    for resource_type in NOT_EMULATED_TYPES:
        if resource_type in known:
            raise RuntimeError(f"moto now implements {resource_type}: drop it from NOT_EMULATED_TYPES")
        _PLACEHOLDERS.append(_placeholder_model(resource_type, record))
    parsing.get_model_list.cache_clear()
    parsing.get_model_map.cache_clear()
    parsing.get_name_type_map.cache_clear()

    zone_attribute = getattr(FakeZone, "get_cfn_attribute", None)

    def zone_get_cfn_attribute(self: Any, attribute_name: str) -> Any:
        if attribute_name == "NameServers":
            return list(self.delegation_set.name_servers) if self.delegation_set else []
        if zone_attribute is None:
            raise NotImplementedError(attribute_name)
        return zone_attribute(self, attribute_name)

    FakeZone.get_cfn_attribute = zone_get_cfn_attribute

    from moto.kms.models import Key

    create_key = Key.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create_key_with_cloudformation_tags(
        cls: Any, resource_name: str, cloudformation_json: Any, *args: Any, **kwargs: Any
    ) -> Any:
        properties = cloudformation_json.get("Properties", {})
        properties["Tags"] = [{"TagKey": tag["Key"], "TagValue": tag["Value"]} for tag in properties.get("Tags", [])]
        return create_key(cls, resource_name, cloudformation_json, *args, **kwargs)

    Key.create_from_cloudformation_json = classmethod(create_key_with_cloudformation_tags)  # type: ignore[method-assign]

    from moto.apigateway.models import RestAPI

    create_api = RestAPI.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create_api_named_by_its_body(
        cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> Any:
        properties = cloudformation_json.setdefault("Properties", {})
        body = properties.get("Body") or {}
        if "Name" not in properties:
            properties["Name"] = body.get("info", {}).get("title") or resource_name
        api = create_api(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        _import_paths(api, body.get("paths", {}), account_id, region_name)
        return api

    RestAPI.create_from_cloudformation_json = classmethod(create_api_named_by_its_body)  # type: ignore[method-assign]

    stack_parse = models.Stack._parse_template
    change_set_parse = models.ChangeSet._parse_template

    def parse_stack(self: Any) -> None:
        stack_parse(self)
        self.template_dict = sam_expanded(self.template_dict, getattr(self, "parameters", {}), self.region_name)

    def parse_change_set(self: Any) -> None:
        change_set_parse(self)
        self.template_dict = sam_expanded(self.template_dict, self.parameters, self.stack.region_name)

    models.Stack._parse_template = parse_stack  # type: ignore[method-assign]
    models.ChangeSet._parse_template = parse_change_set  # type: ignore[method-assign]

    execute = models.CloudFormationBackend.execute_change_set

    def execute_and_compute_outputs(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
        execute(self, change_set_name, stack_name)
        change_set = self.change_sets.get(change_set_name) or next(
            cs for cs in self.change_sets.values() if cs.change_set_name == change_set_name
        )
        stack = self.stacks[change_set.stack_id]
        stack.template_dict = change_set.template_dict
        stack.parameters = dict(change_set.parameters)
        stack.output_map = stack._create_output_map()

    models.CloudFormationBackend.execute_change_set = execute_and_compute_outputs  # type: ignore[method-assign]

    def has_template(self: Any, other_template: str) -> bool:  # compared as sent, before any transform
        return bool(models.Stack.parse_template(self.template) == models.Stack.parse_template(other_template))

    models.Stack.has_template = has_template  # type: ignore[method-assign]

    from moto.cloudformation.responses import CloudFormationResponse

    validate_update = CloudFormationResponse._validate_different_update
    create_change_set = CloudFormationResponse.create_change_set

    def create_change_set_even_without_changes(self: Any) -> Any:
        self._creating_change_set = True
        try:
            return create_change_set(self)
        finally:
            self._creating_change_set = False

    def validate_unless_creating_a_change_set(self: Any, *args: Any) -> None:
        if not getattr(self, "_creating_change_set", False):
            validate_update(self, *args)

    CloudFormationResponse.create_change_set = create_change_set_even_without_changes  # type: ignore[method-assign]
    CloudFormationResponse._validate_different_update = validate_unless_creating_a_change_set  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--record", type=Path, help="where to list the resources stood in for (JSON lines)")
    arguments = parser.parse_args()
    install(arguments.record)
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=arguments.port, verbose=False)
    server.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop()


if __name__ == "__main__":
    main()
