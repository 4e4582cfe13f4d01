import pytest

from tests.localstack import STACK_CREDENTIALS, RunningStack


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    """One local stack for the end-to-end tests that need no special configuration."""
    running = RunningStack(tmp_path_factory.mktemp("stack") / "data",
                           SWITCHBOARD_LOCAL_SCHEDULE_SECONDS="2").start()
    yield running
    running.stop()


@pytest.fixture(scope="session")
def creds():
    return {"admin_token": STACK_CREDENTIALS["SWITCHBOARD_ADMIN_TOKEN"],
            "shared_secret": STACK_CREDENTIALS["SWITCHBOARD_SHARED_SECRET"],
            "admin_email": STACK_CREDENTIALS["SWITCHBOARD_ADMIN_EMAIL"],
            "admin_password": STACK_CREDENTIALS["SWITCHBOARD_ADMIN_PASSWORD"]}
