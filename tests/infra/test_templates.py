"""The synthesized templates carry what the app needs: tables exactly as the PynamoDB models
define them, the bucket, the role, the functions' environment, the binary types."""
from __future__ import annotations

import json
import re

import pytest

pytest.importorskip("aws_cdk", reason="infra deps not installed (make check-infra)")

from infra import policy  # noqa: E402
from infra.tables import table_specs  # noqa: E402

STAGES = sorted(policy.chalice_config()["stages"])
SCHEDULES = {"FleetSweep": "rate(1 minute)", "BatchAssign": "rate(1 minute)",
             "FilesSweep": "rate(1 hour)", "SweepDeliveries": "rate(1 minute)"}
CONSUMERS = {"MatchEvents": "DynamoDB", "SendDeliveries": "SQS"}


def resources(template: dict, kind: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def one(template: dict, kind: str) -> tuple[str, dict]:
    found = resources(template, kind)
    assert len(found) == 1, f"{kind}: {sorted(found)}"
    return next(iter(found.items()))


def refs(value) -> set[str]:
    """Logical ids a template value refers to (Ref, GetAtt, Sub)."""
    found = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.add(inner)
            elif key == "Fn::GetAtt":
                found.add(inner[0] if isinstance(inner, list) else inner.split(".")[0])
            elif key == "Fn::Sub":
                text = inner[0] if isinstance(inner, list) else inner
                found |= {m.split(".")[0] for m in re.findall(r"\$\{([^!}][^}]*)\}", text)}
                if isinstance(inner, list):
                    found |= refs(inner[1])
            else:
                found |= refs(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= refs(inner)
    return found


def function_role(template: dict) -> str:
    (name,) = [k for k in resources(template, "AWS::IAM::Role") if k.startswith("FunctionRole")]
    return name


@pytest.fixture(params=STAGES)
def stage(request):
    return request.param


@pytest.fixture
def cdk(templates, stage):
    return templates[f"cdk-{stage}"]


def test_tables_match_the_models(cdk, stage):
    tables = {t["Properties"]["TableName"]: t for t in resources(cdk, "AWS::DynamoDB::Table").values()}
    specs = table_specs()
    assert sorted(tables) == sorted(s.physical_name(f"switchboard-{stage}-") for s in specs)
    for spec in specs:
        table = tables[spec.physical_name(f"switchboard-{stage}-")]
        props = table["Properties"]
        key_schema = [{"AttributeName": spec.partition_key.name, "KeyType": "HASH"}]
        if spec.sort_key:
            key_schema.append({"AttributeName": spec.sort_key.name, "KeyType": "RANGE"})
        assert props["KeySchema"] == key_schema, spec.name

        expected_types = {spec.partition_key.name: spec.partition_key.type}
        if spec.sort_key:
            expected_types[spec.sort_key.name] = spec.sort_key.type
        expected_gsis = {}
        for index in spec.global_indexes:
            expected_types[index.partition_key.name] = index.partition_key.type
            keys = [{"AttributeName": index.partition_key.name, "KeyType": "HASH"}]
            if index.sort_key:
                expected_types[index.sort_key.name] = index.sort_key.type
                keys.append({"AttributeName": index.sort_key.name, "KeyType": "RANGE"})
            projection = {"ProjectionType": index.projection}
            if index.non_key_attributes:
                projection["NonKeyAttributes"] = list(index.non_key_attributes)
            expected_gsis[index.name] = {"IndexName": index.name, "KeySchema": keys,
                                         "Projection": projection}
        types = {d["AttributeName"]: d["AttributeType"] for d in props["AttributeDefinitions"]}
        assert types == expected_types, spec.name
        gsis = {g["IndexName"]: g for g in props.get("GlobalSecondaryIndexes", [])}
        assert gsis == expected_gsis, spec.name
        assert len(props.get("LocalSecondaryIndexes", [])) == len(spec.local_indexes), spec.name

        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
        if spec.ttl_attribute:
            assert props["TimeToLiveSpecification"] == {"AttributeName": spec.ttl_attribute,
                                                        "Enabled": True}
        else:
            assert "TimeToLiveSpecification" not in props
        kept = stage == "prod"
        assert table["DeletionPolicy"] == ("Retain" if kept else "Delete")
        assert props.get("DeletionProtectionEnabled", False) is kept


def test_models_declare_the_indexes_the_app_queries():
    specs = {s.name: s for s in table_specs()}
    assert {i.name for i in specs["files"].global_indexes} == {"by_task", "by_deadline"}
    assert {i.name for i in specs["messages"].global_indexes} == {"by_recipient", "by_sender"}
    assert {i.name for i in specs["records"].global_indexes} == {"by_time"}
    assert {n for n, s in specs.items() if s.ttl_attribute} == {
        "identity", "connections", "events", "messages", "records"}


def test_files_bucket_is_private_encrypted_versioned(cdk, stage):
    name, bucket = one(cdk, "AWS::S3::Bucket")
    props = bucket["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True}
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    methods = {m for rule in props["CorsConfiguration"]["CorsRules"] for m in rule["AllowedMethods"]}
    assert {"PUT", "GET"} <= methods
    assert bucket["DeletionPolicy"] == ("Retain" if stage == "prod" else "Delete")
    policies = [p for p in resources(cdk, "AWS::S3::BucketPolicy").values()
                if p["Properties"]["Bucket"] == {"Ref": name}]
    statements = [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]
    assert any(s["Effect"] == "Deny"
               and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
               for s in statements)


def test_every_function_gets_tables_bucket_websocket_and_secrets(cdk, stage):
    bucket, _ = one(cdk, "AWS::S3::Bucket")
    role = function_role(cdk)
    secrets = resources(cdk, "AWS::SecretsManager::Secret")
    assert len(secrets) == 2
    functions = resources(cdk, "AWS::Serverless::Function")
    assert {"APIHandler", "WebsocketConnect", "WebsocketMessage", "WebsocketDisconnect",
            *SCHEDULES} <= set(functions)
    for name, function in functions.items():
        props = function["Properties"]
        env = props["Environment"]["Variables"]
        assert env["SWITCHBOARD_STAGE"] == stage
        assert env["SWITCHBOARD_TABLE_PREFIX"] == f"switchboard-{stage}-"
        assert env["SWITCHBOARD_FILES_BUCKET"] == {"Ref": bucket}
        assert env["SWITCHBOARD_WS_API_ID"] == {"Ref": "WebsocketAPI"}
        assert env["SWITCHBOARD_WS_STAGE"] == "api"
        assert env["SWITCHBOARD_OPEN_DIALECTS"] == ""
        for var in ("SWITCHBOARD_TOKEN_PEPPER", "SWITCHBOARD_JWT_SECRET"):
            text = json.dumps(env[var])
            assert "{{resolve:secretsmanager:" in text and refs(env[var]) <= set(secrets), var
        assert props["Role"] == {"Fn::GetAtt": [role, "Arn"]}, name
        assert props["MemorySize"] == 512
        # API Gateway gives up at 29 s; the schedules and consumers get longer.
        long_running = name in SCHEDULES or name in CONSUMERS
        assert props["Timeout"] > 30 if long_running else props["Timeout"] == 30, name
        assert env["SWITCHBOARD_VAULT_KEY"] == {"Fn::GetAtt": [one(cdk, "AWS::KMS::Key")[0], "Arn"]}
        assert refs(env["SWITCHBOARD_DELIVERIES_QUEUE"]) == {deliveries_queue(cdk)}
        assert (props.get("Tracing") == "Active") is (stage == "prod"), name
        assert "SWITCHBOARD_XRAY" in env if stage == "prod" else "SWITCHBOARD_XRAY" not in env


def deliveries_queue(template: dict) -> str:
    (name,) = [k for k, v in resources(template, "AWS::SQS::Queue").items()
               if "RedrivePolicy" in v["Properties"]]
    return name


def test_outbound_consumers_follow_the_events_stream_and_the_deliveries_queue(cdk, stage):
    functions = resources(cdk, "AWS::Serverless::Function")
    tables = {t["Properties"]["TableName"]: k for k, t in resources(cdk, "AWS::DynamoDB::Table").items()}
    events_table = tables[f"switchboard-{stage}-events"]
    assert cdk["Resources"][events_table]["Properties"]["StreamSpecification"] == \
        {"StreamViewType": "NEW_IMAGE"}
    queue = deliveries_queue(cdk)
    for name, kind in CONSUMERS.items():
        (source,) = functions[name]["Properties"]["Events"].values()
        assert source["Type"] == kind
        field = "Stream" if kind == "DynamoDB" else "Queue"
        expected = {"Fn::GetAtt": [events_table, "StreamArn"]} if kind == "DynamoDB" \
            else {"Fn::GetAtt": [queue, "Arn"]}
        assert source["Properties"][field] == expected, name
    redrive = cdk["Resources"][queue]["Properties"]["RedrivePolicy"]
    assert redrive["maxReceiveCount"] == 5
    visibility = cdk["Resources"][queue]["Properties"]["VisibilityTimeout"]
    assert visibility >= 6 * functions["SendDeliveries"]["Properties"]["Timeout"]
    key_name, key = one(cdk, "AWS::KMS::Key")
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == ("Retain" if stage == "prod" else "Delete")
    (alias,) = resources(cdk, "AWS::KMS::Alias").values()
    assert alias["Properties"]["AliasName"] == f"alias/switchboard-{stage}-vault"


def test_schedules_come_from_the_app(cdk):
    functions = resources(cdk, "AWS::Serverless::Function")
    for name, rate in SCHEDULES.items():
        events = functions[name]["Properties"]["Events"]
        assert [e["Properties"]["Schedule"] for e in events.values()] == [rate]


def test_role_grants_tables_indexes_bucket_and_connections(cdk, stage):
    role = cdk["Resources"][function_role(cdk)]
    statements = [s for p in role["Properties"]["Policies"]
                  for s in p["PolicyDocument"]["Statement"]]

    def granted(action):
        return [s for s in statements
                if action in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])]

    tables = set(resources(cdk, "AWS::DynamoDB::Table"))
    (dynamo,) = granted("dynamodb:Query")
    assert set(policy.DYNAMODB_ACTIONS) <= set(dynamo["Action"])
    assert refs(dynamo["Resource"]) == tables
    index_arns = [r for r in dynamo["Resource"] if "/index/*" in json.dumps(r)]
    assert len(index_arns) == len(tables)
    bucket, _ = one(cdk, "AWS::S3::Bucket")
    (objects,) = granted("s3:PutObject")
    assert refs(objects["Resource"]) == {bucket} and "/*" in json.dumps(objects["Resource"])
    (connections,) = granted("execute-api:ManageConnections")
    assert "WebsocketAPI" in refs(connections["Resource"])
    assert "@connections" in json.dumps(connections["Resource"])
    assert bool(granted("xray:PutTraceSegments")) is (stage == "prod")
    (kms,) = granted("kms:GenerateDataKey")
    assert refs(kms["Resource"]) == {one(cdk, "AWS::KMS::Key")[0]}
    (queue,) = granted("sqs:SendMessage")
    assert refs(queue["Resource"]) == {deliveries_queue(cdk)}
    (stream,) = granted("dynamodb:GetRecords")
    assert "StreamArn" in json.dumps(stream["Resource"])
    assert granted("ses:SendEmail")


def test_rest_api_declares_binary_types(cdk):
    api = cdk["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    types = api["x-amazon-apigateway-binary-media-types"]
    assert "multipart/form-data" in types  # uploads reach the app base64
    assert "*/*" in types                  # base64 downloads decoded for any Accept


def test_every_path_answers_other_methods_and_preflights_through_the_function(cdk):
    """Every path has API Gateway's ANY method, answered by the app: OPTIONS preflights
    (allowed origins are configuration, not a mock integration's fixed headers) and 405s,
    never API Gateway's 403. One method per path, not one per missing method."""
    paths = cdk["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
    for path, methods in paths.items():
        anything = methods["x-amazon-apigateway-any-method"]
        assert anything["x-amazon-apigateway-integration"]["type"] == "aws_proxy", path
        assert set(methods) - {"x-amazon-apigateway-any-method"} <= \
            {"get", "post", "put", "patch", "delete"}, path


def test_the_rest_api_stays_within_its_resource_quota(cdk):
    from infra.check import REST_RESOURCE_QUOTA, rest_resources
    count = len(rest_resources(cdk))
    assert count <= REST_RESOURCE_QUOTA, f"{count} resources"


def test_no_dependency_cycle(cdk):
    graph = {}
    for name, resource in cdk["Resources"].items():
        depends = resource.get("DependsOn", [])
        depends = [depends] if isinstance(depends, str) else depends
        graph[name] = (refs(resource) | set(depends)) & set(cdk["Resources"])
    state = {}

    def visit(node, path):
        if state.get(node) == "done":
            return
        assert state.get(node) != "active", f"cycle: {' -> '.join(path + [node])}"
        state[node] = "active"
        for nxt in graph[node]:
            visit(nxt, path + [node])
        state[node] = "done"

    for node in graph:
        visit(node, [])


def test_chalice_deploy_path_uses_the_policy_files(templates, stage):
    sam = templates[f"chalice-{stage}"]
    expected = policy.chalice_policy(stage)
    for name, role in resources(sam, "AWS::IAM::Role").items():
        (doc,) = [p["PolicyDocument"] for p in role["Properties"]["Policies"]]
        assert doc == expected, name
    functions = resources(sam, "AWS::Serverless::Function")
    assert all(f["Properties"]["MemorySize"] == 512 for f in functions.values())
    types = sam["Resources"]["RestAPI"]["Properties"]["DefinitionBody"][
        "x-amazon-apigateway-binary-media-types"]
    assert "multipart/form-data" in types
