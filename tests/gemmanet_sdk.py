"""The real GemmaNet SDK (PyPI `gemmanet==0.1.0a1`) for end-to-end tests and benchmarks:
a `gemmanet.sdk.node.Node` serving in a thread of its own, and a way to wait until a hub
lists it. The SDK's `Client` is used as it is.

The SDK's Node runs each handler synchronously on its event loop, as released: a handler
that sleeps holds the node's socket for that long, which is what a slow node looks like.
"""
from __future__ import annotations

import asyncio
import threading
import time

import requests


class RunningNode:
    """`with RunningNode(ws_url, "echo", ["echo"], {"echo": handler}) as node:` serves until
    the block ends; `node.node_id` is the id the SDK chose."""

    def __init__(self, ws_url: str, name: str, capabilities, handlers: dict):
        from gemmanet.sdk.node import Node
        self.node = Node(name, list(capabilities), languages=["en"], coordinator_url=ws_url,
                         model_info={"model": "test"})
        for task_type, handler in handlers.items():
            self.node.register_handler(task_type, handler)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_until_complete,
                                        args=(self.node._async_start(),), daemon=True,
                                        name=f"sdk-node-{name}")

    @property
    def node_id(self) -> str:
        return self.node.node_id

    def __enter__(self) -> "RunningNode":
        self._thread.start()
        return self

    def listed_by(self, base_url: str, capability: str, timeout: float = 10.0) -> "RunningNode":
        """Wait until the hub's `GET /api/v1/nodes` lists this node (it has registered)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            listed = requests.get(f"{base_url}/api/v1/nodes", params={"capability": capability},
                                  timeout=5)
            if listed.ok and any(n["node_id"] == self.node_id for n in listed.json()):
                return self
            time.sleep(0.05)
        raise AssertionError(f"node {self.node_id} never registered at {base_url}")

    def __exit__(self, *exc) -> None:
        """Stop serving and drop the socket (as a node that is shut down does); a handler
        still running finishes on its own in the node's thread, a daemon."""
        self.node.stop()
        ws = self.node._ws
        if ws is not None:
            self._loop.call_soon_threadsafe(ws.transport.abort)
        self._thread.join(timeout=5)
