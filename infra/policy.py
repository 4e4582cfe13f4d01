"""What the Lambda role may do, and `.chalice/policy-<stage>.json` for `chalice deploy`.

The CDK stack (infra/cdk/stack.py) grants the same actions on the exact resources it
creates. Teams that deploy with plain `chalice deploy` and manage tables and the bucket
themselves get the policy files written here, with table ARNs from the PynamoDB models,
the bucket from the stage's SWITCHBOARD_FILES_BUCKET (or the app's default), and any API
id for the WebSocket management API (its id is not known before the first deploy):

    .venv/bin/python -m infra.policy            # rewrite .chalice/policy-<stage>.json
    .venv/bin/python -m infra.policy --check    # exit 1 when a file is out of date

`make check-infra` runs the --check.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHALICE_CONFIG = ROOT / ".chalice" / "config.json"

# PynamoDB reads, writes, transactions (which need the per-item actions), DescribeTable
# (PynamoDB's first use of a table), Scan (the scheduled sweeps, never a request path).
DYNAMODB_ACTIONS = [
    "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem",
    "dynamodb:DeleteItem", "dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:PutItem",
    "dynamodb:Query", "dynamodb:Scan", "dynamodb:UpdateItem",
]
# File bodies; presigned URLs are signed with the function's own credentials, so PUT and
# GET through a presigned URL need these too.
S3_OBJECT_ACTIONS = ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
# Without ListBucket a HeadObject on a missing key answers 403 instead of 404.
S3_BUCKET_ACTIONS = ["s3:ListBucket"]
WS_ACTIONS = ["execute-api:ManageConnections"]
LOG_ACTIONS = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
# The vault's envelope encryption: a data key per value, unwrapped to read it.
KMS_ACTIONS = ["kms:Decrypt", "kms:GenerateDataKey"]
# The deliveries queue: sent to by the matcher and by retries, consumed by the sender.
SQS_ACTIONS = ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
               "sqs:GetQueueUrl", "sqs:ReceiveMessage", "sqs:SendMessage"]
# The events table's stream, read by the matcher's event source mapping.
STREAM_ACTIONS = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
                  "dynamodb:ListStreams"]
# Email notification channels.
SES_ACTIONS = ["ses:SendEmail", "ses:SendRawEmail"]
XRAY_ACTIONS = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]


def chalice_config() -> dict:
    return json.loads(CHALICE_CONFIG.read_text())


def stage_environment(config: dict, stage: str) -> dict:
    env = dict(config.get("environment_variables", {}))
    env.update(config["stages"][stage].get("environment_variables", {}))
    return env


def websocket_stage(config: dict, stage: str) -> str:
    return config["stages"][stage].get("websocket_api_stage",
                                       config.get("websocket_api_stage", "api"))


def stage_uses_xray(config: dict, stage: str) -> bool:
    return bool(config["stages"][stage].get("xray", config.get("xray", False)))


def chalice_policy(stage: str, config: dict | None = None) -> dict:
    """The policy for `chalice deploy --stage <stage>` (resources named, account wildcarded)."""
    from chalicelib.config import (default_deliveries_queue, default_files_bucket,
                                   default_table_prefix, default_vault_key)
    from infra.tables import table_specs

    config = config or chalice_config()
    env = stage_environment(config, stage)
    prefix = env.get("SWITCHBOARD_TABLE_PREFIX", default_table_prefix(stage))
    bucket = env.get("SWITCHBOARD_FILES_BUCKET", default_files_bucket(stage))
    ws_stage = websocket_stage(config, stage)
    queue = env.get("SWITCHBOARD_DELIVERIES_QUEUE", default_deliveries_queue(stage))
    vault_alias = env.get("SWITCHBOARD_VAULT_KEY", default_vault_key(stage))
    tables, streams = [], []
    for spec in table_specs():
        arn = f"arn:*:dynamodb:*:*:table/{spec.physical_name(prefix)}"
        tables += [arn, f"{arn}/index/*"]
        if spec.stream:
            streams.append(f"{arn}/stream/*")
    statements = [
        {"Effect": "Allow", "Action": LOG_ACTIONS, "Resource": "arn:*:logs:*:*:*"},
        {"Effect": "Allow", "Action": DYNAMODB_ACTIONS, "Resource": tables},
        {"Effect": "Allow", "Action": S3_OBJECT_ACTIONS, "Resource": f"arn:*:s3:::{bucket}/*"},
        {"Effect": "Allow", "Action": S3_BUCKET_ACTIONS, "Resource": f"arn:*:s3:::{bucket}"},
        {"Effect": "Allow", "Action": WS_ACTIONS,
         "Resource": f"arn:*:execute-api:*:*:*/{ws_stage}/*/@connections/*"},
        {"Effect": "Allow", "Action": STREAM_ACTIONS, "Resource": streams},
        {"Effect": "Allow", "Action": SQS_ACTIONS, "Resource": f"arn:*:sqs:*:*:{queue}"},
        {"Effect": "Allow", "Action": KMS_ACTIONS, "Resource": "arn:*:kms:*:*:key/*",
         "Condition": {"ForAnyValue:StringEquals": {"kms:ResourceAliases": vault_alias}}},
        {"Effect": "Allow", "Action": SES_ACTIONS, "Resource": "arn:*:ses:*:*:identity/*"},
    ]
    if stage_uses_xray(config, stage):
        statements.append({"Effect": "Allow", "Action": XRAY_ACTIONS, "Resource": "*"})
    return {"Version": "2012-10-17", "Statement": statements}


def policy_files(config: dict | None = None) -> dict[Path, str]:
    """Every stage that names an iam_policy_file, and the text it should hold."""
    config = config or chalice_config()
    files = {}
    for stage, stage_cfg in config["stages"].items():
        name = stage_cfg.get("iam_policy_file")
        if name:
            text = json.dumps(chalice_policy(stage, config), indent=2) + "\n"
            files[ROOT / ".chalice" / name] = text
    return files


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="report out-of-date policy files instead of writing them")
    args = parser.parse_args(argv)
    stale = []
    for path, text in policy_files().items():
        current = path.read_text() if path.exists() else None
        if current == text:
            continue
        if args.check:
            stale.append(path)
        else:
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    if stale:
        for path in stale:
            print(f"{path.relative_to(ROOT)} is out of date: run "
                  "`.venv/bin/python -m infra.policy`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
