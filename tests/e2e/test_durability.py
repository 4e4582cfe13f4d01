"""The local stack keeps every write it acknowledged, through SIGKILL, torn journal tails
and crashes in the middle of a compaction, and restores transactions whole."""
from __future__ import annotations

import random
import threading
import time
from collections import Counter

import boto3
import pytest
import requests

from tests.localstack import RunningStack

NODES = ("durable-a", "durable-b", "durable-c")


def _session(creds) -> requests.Session:
    session = requests.Session()
    session.headers["X-Matrix-Secret"] = creds["shared_secret"]
    return session


class Burst:
    """Clients writing as fast as they can until stopped; every 2xx answer is recorded."""

    def __init__(self, stack: RunningStack, creds, clients: int = 6):
        self.stack, self.creds = stack, creds
        self.tasks: set[str] = set()
        self.files: dict[str, bytes] = {}
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._client, args=(n,), daemon=True)
                        for n in range(clients)]

    def _client(self, n: int) -> None:
        session, admin = _session(self.creds), requests.Session()
        admin.headers["Authorization"] = f"Bearer {self.creds['admin_token']}"
        i = 0
        while not self.stop.is_set():
            i += 1
            try:
                if n == 0 and i % 5 == 0:
                    body = f"file {i} from client {n}".encode() * 50
                    answer = session.post(self.stack.url("/api/v1/file/upload"),
                                          files={"file": (f"f{i}.txt", body, "text/plain")},
                                          timeout=10)
                    if answer.status_code == 200:
                        self.files[answer.json()["file_id"]] = body
                    continue
                if n % 2:
                    answer = admin.post(self.stack.url("/api/v1/tasks/"),
                                        json={"title": f"platform {n}-{i}"}, timeout=10)
                else:
                    answer = session.post(self.stack.url("/api/v1/task/create"),
                                          json={"title": f"sky {n}-{i}", "description": "d",
                                                "priority": random.choice(["high", "low"])},
                                          timeout=10)
            except requests.RequestException:
                return  # the stack died under us: that answer never came
            if answer.status_code in (200, 201):
                body = answer.json()
                self.tasks.add(body.get("task_id") or body["id"])

    def run_until_killed(self, seconds: float) -> None:
        for thread in self.threads:
            thread.start()
        time.sleep(seconds)
        self.stack.kill()
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=15)


def _register_nodes(stack, creds) -> None:
    session = _session(creds)
    for node in NODES:
        assert session.post(stack.url("/api/v1/node/register"),
                            json={"node_id": node, "name": node,
                                  "max_concurrent": 3}).status_code == 200


def _raw_tables(stack) -> dict[str, list[dict]]:
    """Every item of the task and node tables, read through the emulator's own HTTP door."""
    client = boto3.client("dynamodb", endpoint_url=stack.emulator_url, region_name="us-east-1",
                          aws_access_key_id="local", aws_secret_access_key="local")
    tables = {}
    for name in ("tasks", "nodes"):
        pages = client.get_paginator("scan").paginate(TableName=f"switchboard-local-{name}")
        tables[name] = [item for page in pages for item in page["Items"]]
    return tables


def _assert_transactions_whole(stack) -> dict[str, str]:
    """For every task: a pending one sits in exactly its queue entry, a held one in its
    node's held entries, and every node's active count equals what it holds. Returns each
    task's status."""
    tables = _raw_tables(stack)
    value = lambda item, name: next(iter(item[name].values())) if name in item else None  # noqa: E731
    tasks = {value(i, "task_id"): i for i in tables["tasks"] if value(i, "sk").startswith("TASK#")
             and value(i, "pk").count("#") == 1}
    queue = {value(i, "task_id") for i in tables["tasks"] if "#Q#" in value(i, "pk")}
    held = Counter(value(i, "pk").rsplit("#", 1)[1] for i in tables["tasks"]
                   if "#HELD#" in value(i, "pk"))
    statuses = {}
    for task_id, task in tasks.items():
        status = statuses[task_id] = value(task, "status")
        assert (task_id in queue) == (status == "pending"), (task_id, status)
    assert queue <= set(tasks)
    holders = Counter(value(t, "assigned_node") for t in tasks.values()
                      if value(t, "status") in ("assigned", "running"))
    assert holders == held
    for node in tables["nodes"]:
        if "active_tasks" in node:
            assert int(value(node, "active_tasks")) == held.get(value(node, "node_id"), 0)
    return statuses


def _assert_everything_acknowledged_is_there(stack, creds, burst: Burst) -> None:
    admin = {"Authorization": f"Bearer {creds['admin_token']}"}
    missing = [t for t in burst.tasks
               if requests.get(stack.url(f"/api/v1/tasks/{t}"), headers=admin).status_code != 200]
    assert not missing, f"{len(missing)} acknowledged tasks lost of {len(burst.tasks)}"
    session = _session(creds)
    for file_id, body in burst.files.items():
        got = session.get(stack.url(f"/api/v1/file/download/{file_id}"))
        assert got.status_code == 200 and got.content == body, file_id


def _pull_everything(stack, creds) -> Counter:
    """A node pulls until nothing is left: every pending task once."""
    session = _session(creds)
    assert session.post(stack.url("/api/v1/node/register"),
                        json={"node_id": "drain", "name": "drain",
                              "max_concurrent": 100000}).status_code == 200
    handed = Counter()
    while True:
        task = session.post(stack.url("/api/v1/task/pull"), json={"node_id": "drain"}).json()["task"]
        if task is None:
            return handed
        handed[task["task_id"]] += 1
        assert handed[task["task_id"]] == 1, task["task_id"]


def test_a_killed_stack_restarts_with_every_acknowledged_write(tmp_path, creds):
    stack = RunningStack(tmp_path / "data").start()
    try:
        _register_nodes(stack, creds)
        burst = Burst(stack, creds)
        burst.run_until_killed(4.0)
        assert len(burst.tasks) > 50 and burst.files
        stack.start()
        _assert_everything_acknowledged_is_there(stack, creds, burst)
        statuses = _assert_transactions_whole(stack)
        pending = {t for t, status in statuses.items() if status == "pending"}
        assert pending and "assigned" in statuses.values()
        assert set(_pull_everything(stack, creds)) == pending
    finally:
        stack.stop()


def test_a_torn_journal_tail_is_ignored_counted_and_cut(tmp_path, creds):
    stack = RunningStack(tmp_path / "data").start()
    try:
        session = _session(creds)
        created = [session.post(stack.url("/api/v1/task/create"),
                                json={"title": f"t{i}", "description": "d"}).json()["task_id"]
                   for i in range(5)]
        stack.kill()
        segment = max((tmp_path / "data" / "journal").glob("*.log"))
        with open(segment, "ab") as journal:
            journal.write(b"000001f4 0badc0de {\"d\": [[\"switchboard-local-tasks\"")  # torn
        stack.start()
        assert "ignored 1 torn or corrupt record" in stack.log()
        listed = session.get(stack.url("/api/v1/task/list")).json()["tasks"]
        assert set(created) <= {t["task_id"] for t in listed}
        later = session.post(stack.url("/api/v1/task/create"),
                             json={"title": "after", "description": "d"}).json()["task_id"]
        stack.kill()
        stack.start()
        assert stack.log().count("torn or corrupt") == 1  # the tail was cut off at recovery
        listed = session.get(stack.url("/api/v1/task/list")).json()["tasks"]
        assert set(created) | {later} <= {t["task_id"] for t in listed}
    finally:
        stack.stop()


@pytest.mark.soak
def test_kills_during_compaction_lose_nothing(tmp_path, creds):
    """With a tiny compaction threshold the stack compacts every second under the burst:
    two kills land among compactions; nothing acknowledged is lost either time."""
    stack = RunningStack(tmp_path / "data", SWITCHBOARD_LOCAL_COMPACT_BYTES="30000").start()
    try:
        _register_nodes(stack, creds)
        acknowledged = set()
        for seconds in (3.3, 2.6):
            burst = Burst(stack, creds, clients=4)
            burst.run_until_killed(seconds)
            acknowledged |= burst.tasks
            stack.start()
            burst.tasks = acknowledged
            _assert_everything_acknowledged_is_there(stack, creds, burst)
            _assert_transactions_whole(stack)
        generations = list((tmp_path / "data").glob("gen-*"))
        assert generations, "the burst never compacted"
    finally:
        stack.stop()
