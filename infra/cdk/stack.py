"""One CloudFormation stack per stage: the tables, the files bucket, the secrets, one role,
and the Chalice app itself (functions, REST API, WebSocket API, schedules) through
`chalice.cdk.Chalice`, which runs `chalice package` and includes its SAM template.

What Chalice creates comes from the app and `.chalice/config.json` (timeouts, memory,
X-Ray, the schedules in app.py, the binary types); this stack adds what Chalice does not
create and wires it in through the functions' environment:

| variable                  | value                                              |
|---------------------------|----------------------------------------------------|
| SWITCHBOARD_TABLE_PREFIX  | `switchboard-<stage>-` (tables are `<prefix><name>`) |
| SWITCHBOARD_FILES_BUCKET  | the bucket's generated name                        |
| SWITCHBOARD_WS_API_ID     | `Ref` of Chalice's `WebsocketAPI`                   |
| SWITCHBOARD_WS_STAGE      | `websocket_api_stage` from .chalice/config.json    |
| SWITCHBOARD_TOKEN_PEPPER, SWITCHBOARD_JWT_SECRET | `{{resolve:secretsmanager:...}}` |
| SWITCHBOARD_VAULT_KEY     | the vault's KMS key ARN (envelope encryption)        |
| SWITCHBOARD_DELIVERIES_QUEUE | the deliveries queue's name                       |

The outbound consumers' event sources are wired here too: `match_events` follows the
events table's stream and `send_deliveries` the deliveries queue (Chalice packages them
with placeholder ARNs, replaced by the real ones).

No cycle: the WebSocket API depends on nothing, its integrations depend on the functions,
and the functions depend on the API only through `Ref` in their environment.
"""
from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from chalicelib.config import default_deliveries_queue, default_table_prefix, default_vault_key
from infra import policy
from infra.tables import TableSpec, table_specs

ROOT = Path(__file__).resolve().parents[2]
# Chalice needs *a* role ARN when it does not manage roles; every function's Role is then
# overridden with the stack's role. The placeholder never reaches a template.
_ROLE_PLACEHOLDER = "arn:aws:iam::111111111111:role/switchboard-replaced-by-cdk"
# API Gateway must decode base64 answers whatever the Accept header (file downloads are
# base64 for every content type; see chalicelib/api/transfer.py).
DEPLOYED_BINARY_TYPES = ("*/*",)

_KEY_TYPES = {"S": dynamodb.AttributeType.STRING, "N": dynamodb.AttributeType.NUMBER,
              "B": dynamodb.AttributeType.BINARY}
_PROJECTIONS = {"ALL": dynamodb.ProjectionType.ALL,
                "KEYS_ONLY": dynamodb.ProjectionType.KEYS_ONLY,
                "INCLUDE": dynamodb.ProjectionType.INCLUDE}

SERVERLESS_FUNCTION = "AWS::Serverless::Function"
CONSUMER_TIMEOUT_S = 60      # .chalice/config.json: send_deliveries, match_events


def _attribute(key) -> dynamodb.Attribute | None:
    return dynamodb.Attribute(name=key.name, type=_KEY_TYPES[key.type]) if key else None


class SwitchboardStack(cdk.Stack):
    """`stage` is the stack's construct id: chalice.cdk packages the app for the Chalice
    stage named like the construct scope it is created in."""

    def __init__(self, scope: Construct, stage: str, *, source_dir: Path = ROOT,
                 chalice_config: dict | None = None, **kwargs) -> None:
        super().__init__(scope, stage, stack_name=kwargs.pop("stack_name", f"switchboard-{stage}"),
                         description=f"Switchboard ({stage}): tables, files bucket, app",
                         **kwargs)
        config = chalice_config or policy.chalice_config()
        if stage not in config["stages"]:
            raise ValueError(f"stage {stage!r} is not in .chalice/config.json "
                             f"(stages: {sorted(config['stages'])})")
        self.stage = stage
        self.prefix = default_table_prefix(stage)
        self.retain = stage == "prod"
        self.xray = policy.stage_uses_xray(config, stage)
        removal = cdk.RemovalPolicy.RETAIN if self.retain else cdk.RemovalPolicy.DESTROY

        self.specs = table_specs()
        self.tables = {spec.name: self._table(spec, removal) for spec in self.specs}
        self.bucket = self._bucket(removal)
        self.token_pepper = self._secret("TokenPepper", "token-pepper", removal,
                                         "Keyed hash for Switchboard tokens (SWITCHBOARD_TOKEN_PEPPER)")
        self.jwt_secret = self._secret("JwtSecret", "jwt-secret", removal,
                                       "Signing key for Switchboard access tokens "
                                       "(SWITCHBOARD_JWT_SECRET)")
        self.vault_key = kms.Key(self, "VaultKey", alias=default_vault_key(stage),
                                 description=f"Switchboard {stage}: the secrets vault's data keys",
                                 enable_key_rotation=True, removal_policy=removal,
                                 pending_window=cdk.Duration.days(30 if self.retain else 7))
        self.deliveries = self._deliveries_queue(removal)

        ws_stage = policy.websocket_stage(config, stage)
        from chalice.cdk import Chalice
        self.chalice = Chalice(self, "App", source_dir=str(source_dir), stage_config={
            "manage_iam_role": False,
            "iam_role_arn": _ROLE_PLACEHOLDER,
            "environment_variables": {
                "SWITCHBOARD_STAGE": stage,
                "SWITCHBOARD_TABLE_PREFIX": self.prefix,
                "SWITCHBOARD_WS_STAGE": ws_stage,
            },
        })
        self.websocket_api = self.chalice.get_resource("WebsocketAPI")
        self.role = self._role(ws_stage)
        self.functions = self._wire_functions({
            "SWITCHBOARD_FILES_BUCKET": self.bucket.bucket_name,
            "SWITCHBOARD_WS_API_ID": self.websocket_api.ref,
            "SWITCHBOARD_TOKEN_PEPPER": self._resolve(self.token_pepper),
            "SWITCHBOARD_JWT_SECRET": self._resolve(self.jwt_secret),
            "SWITCHBOARD_VAULT_KEY": self.vault_key.key_arn,
            "SWITCHBOARD_DELIVERIES_QUEUE": self.deliveries.queue_name,
        })
        self._wire_event_sources()
        rest_api = self.chalice.get_resource("RestAPI")
        types_path = "Properties.DefinitionBody.x-amazon-apigateway-binary-media-types"
        self.binary_types = self._deployed_binary_types()
        rest_api.add_override(types_path, self.binary_types)

        self._drop_redundant_depends_on()

        cdk.CfnOutput(self, "FilesBucketName", value=self.bucket.bucket_name)
        cdk.CfnOutput(self, "TablePrefix", value=self.prefix)
        cdk.CfnOutput(self, "TokenPepperSecretArn", value=self.token_pepper.secret_arn)
        cdk.CfnOutput(self, "JwtSecretArn", value=self.jwt_secret.secret_arn)
        cdk.CfnOutput(self, "VaultKeyArn", value=self.vault_key.key_arn)
        cdk.CfnOutput(self, "DeliveriesQueueUrl", value=self.deliveries.queue_url)

    # ------------------------------------------------------------------ resources

    def _table(self, spec: TableSpec, removal: cdk.RemovalPolicy) -> dynamodb.Table:
        table = dynamodb.Table(
            self, f"Table-{spec.name}",
            table_name=spec.physical_name(self.prefix),
            partition_key=_attribute(spec.partition_key),
            sort_key=_attribute(spec.sort_key),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True),
            time_to_live_attribute=spec.ttl_attribute,
            stream=dynamodb.StreamViewType(spec.stream) if spec.stream else None,
            deletion_protection=self.retain,
            removal_policy=removal,
        )
        for index in spec.global_indexes:
            table.add_global_secondary_index(
                index_name=index.name, partition_key=_attribute(index.partition_key),
                sort_key=_attribute(index.sort_key), projection_type=_PROJECTIONS[index.projection],
                non_key_attributes=list(index.non_key_attributes) or None)
        for index in spec.local_indexes:
            table.add_local_secondary_index(
                index_name=index.name, sort_key=_attribute(index.sort_key),
                projection_type=_PROJECTIONS[index.projection],
                non_key_attributes=list(index.non_key_attributes) or None)
        return table

    def _bucket(self, removal: cdk.RemovalPolicy) -> s3.Bucket:
        return s3.Bucket(
            self, "FilesBucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            # Presigned uploads and downloads straight from browsers.
            cors=[s3.CorsRule(allowed_methods=[s3.HttpMethods.PUT, s3.HttpMethods.GET,
                                               s3.HttpMethods.HEAD],
                              allowed_origins=["*"], allowed_headers=["*"],
                              exposed_headers=["ETag"], max_age=3000)],
            lifecycle_rules=[
                s3.LifecycleRule(id="abort-incomplete-uploads",
                                 abort_incomplete_multipart_upload_after=cdk.Duration.days(7)),
                # Deleted files stay recoverable for a while, then go.
                s3.LifecycleRule(id="expire-old-versions",
                                 noncurrent_version_expiration=cdk.Duration.days(30)),
            ],
            removal_policy=removal,
            auto_delete_objects=not self.retain,
        )

    def _deliveries_queue(self, removal: cdk.RemovalPolicy) -> sqs.Queue:
        """The outbound deliveries queue. A message that keeps failing its handler (not a
        failed delivery: those are rescheduled by the handler) goes to the dead-letter
        queue after 5 receives; the delivery record itself is re-queued by the sweep."""
        dead = sqs.Queue(self, "DeliveriesDeadLetter",
                         queue_name=f"{default_deliveries_queue(self.stage)}-dlq",
                         retention_period=cdk.Duration.days(14), enforce_ssl=True,
                         encryption=sqs.QueueEncryption.SQS_MANAGED, removal_policy=removal)
        # Lambda's advice: visibility at least six times the consumer's timeout.
        return sqs.Queue(self, "Deliveries", queue_name=default_deliveries_queue(self.stage),
                         visibility_timeout=cdk.Duration.seconds(6 * CONSUMER_TIMEOUT_S),
                         dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=5, queue=dead),
                         enforce_ssl=True, encryption=sqs.QueueEncryption.SQS_MANAGED,
                         removal_policy=removal)

    def _wire_event_sources(self) -> None:
        """Point the consumers Chalice packaged at the real stream and queue."""
        sources = {"DynamoDB": ("Stream", self.tables["events"].table_stream_arn),
                   "SQS": ("Queue", self.deliveries.queue_arn)}
        template = self._packaged_template()["Resources"]
        for logical_id in self.functions:
            for name, source in (template[logical_id]["Properties"].get("Events") or {}).items():
                if source["Type"] in sources:
                    field, arn = sources[source["Type"]]
                    self.chalice.get_resource(logical_id).add_override(
                        f"Properties.Events.{name}.Properties.{field}", arn)

    def _secret(self, construct_id: str, name: str, removal: cdk.RemovalPolicy,
                description: str) -> secretsmanager.Secret:
        secret = secretsmanager.Secret(
            self, construct_id, secret_name=f"switchboard-{self.stage}/{name}",
            description=description,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True))
        secret.apply_removal_policy(removal)
        return secret

    @staticmethod
    def _resolve(secret: secretsmanager.Secret) -> str:
        # A CloudFormation dynamic reference: resolved at deploy time into the function's
        # configuration (readable by whoever may read that configuration). Simple, no
        # Secrets Manager call at cold start; a changed secret takes effect on redeploy.
        return cdk.SecretValue.secrets_manager(secret.secret_arn).unsafe_unwrap()

    def _role(self, ws_stage: str) -> iam.Role:
        stack = cdk.Stack.of(self)
        tables = []
        for table in self.tables.values():
            tables += [table.table_arn, f"{table.table_arn}/index/*"]
        ws_connections = stack.format_arn(
            service="execute-api", resource=self.websocket_api.ref,
            resource_name=f"{ws_stage}/*/@connections/*")
        statements = [
            iam.PolicyStatement(actions=policy.LOG_ACTIONS, resources=[
                stack.format_arn(service="logs", resource="log-group",
                                 resource_name=f"/aws/lambda/{self.stack_name}-*",
                                 arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME),
                stack.format_arn(service="logs", resource="log-group",
                                 resource_name=f"/aws/lambda/{self.stack_name}-*:*",
                                 arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME)]),
            iam.PolicyStatement(actions=policy.DYNAMODB_ACTIONS, resources=tables),
            iam.PolicyStatement(actions=policy.S3_OBJECT_ACTIONS,
                                resources=[self.bucket.arn_for_objects("*")]),
            iam.PolicyStatement(actions=policy.S3_BUCKET_ACTIONS,
                                resources=[self.bucket.bucket_arn]),
            iam.PolicyStatement(actions=policy.WS_ACTIONS, resources=[ws_connections]),
            iam.PolicyStatement(actions=policy.STREAM_ACTIONS,
                                resources=[self.tables["events"].table_stream_arn]),
            iam.PolicyStatement(actions=policy.SQS_ACTIONS, resources=[self.deliveries.queue_arn]),
            iam.PolicyStatement(actions=policy.KMS_ACTIONS, resources=[self.vault_key.key_arn]),
            iam.PolicyStatement(actions=policy.SES_ACTIONS, resources=[stack.format_arn(
                service="ses", resource="identity", resource_name="*")]),
        ]
        if self.xray:
            statements.append(iam.PolicyStatement(actions=policy.XRAY_ACTIONS, resources=["*"]))
        # Inline, so the policy exists as soon as the role does: no window in which a
        # schedule could run with a role that cannot reach its tables.
        return iam.Role(self, "FunctionRole",
                        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                        description=f"Switchboard {self.stage} functions",
                        inline_policies={"switchboard": iam.PolicyDocument(statements=statements)})

    def _drop_redundant_depends_on(self) -> None:
        """CDK's auto-delete handler (dev bucket) both DependsOn its role and reads the
        role's Arn; the GetAtt already orders them, and cfn-lint warns (W3005)."""
        provider = self.node.try_find_child("Custom::S3AutoDeleteObjectsCustomResourceProvider")
        handler = provider and provider.node.try_find_child("Handler")
        if handler is not None:
            handler.add_deletion_override("DependsOn")

    def _packaged_template(self) -> dict:
        """The SAM template `chalice package` wrote (before CDK's asset rewriting)."""
        return json.loads((Path(self.chalice._sam_package_dir) / "sam.json").read_text())

    def _function_ids(self) -> list[str]:
        return sorted(k for k, v in self._packaged_template()["Resources"].items()
                      if v["Type"] == SERVERLESS_FUNCTION)

    def _wire_functions(self, environment: dict) -> list[str]:
        ids = self._function_ids()
        for logical_id in ids:
            function = self.chalice.get_resource(logical_id)
            function.add_override("Properties.Role", self.role.role_arn)
            for name, value in environment.items():
                function.add_override(f"Properties.Environment.Variables.{name}", value)
        return ids

    def _deployed_binary_types(self) -> list[str]:
        body = self._packaged_template()["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
        types = list(body.get("x-amazon-apigateway-binary-media-types", []))
        return types + [t for t in DEPLOYED_BINARY_TYPES if t not in types]
