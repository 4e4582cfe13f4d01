"""X-Ray, only when a stage enables it: importing the SDK costs ~200 ms of cold start."""


def enable_xray() -> None:
    from aws_xray_sdk.core import patch

    patch(["botocore"])
