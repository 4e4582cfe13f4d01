"""Create the default network and its administrator in a deployed stage.

    .venv/bin/python -m infra.bootstrap --stage prod [--admin-email EMAIL] [--region REGION]

The same `identity.bootstrap` the local stack runs at start, against the stage's real
DynamoDB tables, with your AWS credentials. Credentials are stored as keyed hashes, so it
reads the stage's token pepper from Secrets Manager (`switchboard-<stage>/token-pepper`,
created by the CDK stack) unless SWITCHBOARD_TOKEN_PEPPER is set (the `chalice deploy`
path, where you chose the pepper yourself).

The admin password comes from SWITCHBOARD_ADMIN_PASSWORD, or is asked for (empty: one is
generated). SWITCHBOARD_ADMIN_TOKEN and SWITCHBOARD_SHARED_SECRET fix those values;
otherwise they are generated on the first run and printed once. Running it again is safe:
it creates nothing twice and prints nothing secret.
"""
from __future__ import annotations

import argparse
import getpass
import os
import sys


def _prepare(stage: str, region: str | None) -> None:
    """Environment for chalicelib, set before it is imported (table names are fixed then)."""
    import boto3

    region = (region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
              or boto3.session.Session().region_name)
    if not region:
        raise SystemExit("no AWS region: pass --region or set AWS_REGION")
    os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"] = region
    os.environ["SWITCHBOARD_STAGE"] = stage
    from chalicelib.config import default_table_prefix
    os.environ.setdefault("SWITCHBOARD_TABLE_PREFIX", default_table_prefix(stage))
    if not os.environ.get("SWITCHBOARD_TOKEN_PEPPER"):
        secrets = boto3.client("secretsmanager", region_name=region)
        value = secrets.get_secret_value(SecretId=f"switchboard-{stage}/token-pepper")
        os.environ["SWITCHBOARD_TOKEN_PEPPER"] = value["SecretString"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", required=True)
    parser.add_argument("--region")
    parser.add_argument("--admin-email", default=os.environ.get("SWITCHBOARD_ADMIN_EMAIL"))
    args = parser.parse_args(argv)
    _prepare(args.stage, args.region)

    email = args.admin_email or input("admin email: ").strip()
    password = os.environ.get("SWITCHBOARD_ADMIN_PASSWORD")
    if password is None and sys.stdin.isatty():
        password = getpass.getpass("admin password (empty: generate one): ") or None

    from chalicelib import config
    config.reload()
    from chalicelib.services import identity
    boot = identity.bootstrap(admin_email=email, admin_password=password,
                              shared_secret=os.environ.get("SWITCHBOARD_SHARED_SECRET"),
                              admin_token=os.environ.get("SWITCHBOARD_ADMIN_TOKEN"))
    print(f"stage {args.stage}: network {boot['network_id']}, admin {boot['admin_email']}")
    for key, value in boot["generated"].items():
        print(f"  {key.replace('_', ' ')}: {value}   (shown once)")
    if not boot["first_start"] and not boot["generated"]:
        print("  already bootstrapped; configured values (if any) are valid")
    return 0


if __name__ == "__main__":
    sys.exit(main())
