"""The AWS CDK app: `cdk deploy -c stage=<stage>` from the repository root (cdk.json)."""
