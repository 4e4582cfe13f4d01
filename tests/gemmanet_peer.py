"""A GemmaNet-protocol node for tests, strict where the GemmaNet SDK is strict.

Where the released SDK (`gemmanet==0.1.0a1`, tests/gemmanet_sdk.py) can play the part,
tests use it; this one plays what it cannot: the later SDK's `api_key` registration, a
node that never answers or answers late on purpose, raw frames, a reconnect on cue.

Frames from the hub are parsed with pydantic models shaped like the SDK's: `msg_type`
must be one of the SDK's lower-case enum values and `timestamp` a readable datetime, so a
frame the SDK would reject fails here too. It registers either way the SDK generations
do: with its own `node_id` (the credits-era SDK) or with an `api_key` (the later SDK,
which waits for `node_registered`).
"""
from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, timezone
from enum import Enum

import websockets
from pydantic import BaseModel, Field


class MsgType(str, Enum):
    NODE_REGISTER = "node_register"
    NODE_REGISTERED = "node_registered"
    HEARTBEAT = "heartbeat"
    TASK_ASSIGN = "task_assign"
    TASK_RESULT = "task_result"
    CREDIT_UPDATE = "credit_update"
    ERROR = "error"


class Envelope(BaseModel):
    msg_id: str
    msg_type: MsgType
    payload: dict = Field(default_factory=dict)
    sender_id: str = ""
    timestamp: datetime


def frame(msg_type: str, payload: dict, *, naive_time: bool = True) -> str:
    stamp = datetime.now(timezone.utc)
    return json.dumps({"msg_id": str(uuid.uuid4()), "msg_type": msg_type, "payload": payload,
                       "sender_id": "", "timestamp": (stamp.replace(tzinfo=None) if naive_time
                                                      else stamp).isoformat()})


class Peer:
    """One node connection. `answer(payload) -> (status, result)` handles each task."""

    def __init__(self, url: str, name: str, capabilities, *, node_id: str | None = None,
                 api_key: str | None = None, answer=None):
        self.url, self.name, self.capabilities = url, name, list(capabilities)
        self.node_id, self.api_key = node_id, api_key
        self.answer = answer or (lambda p: ("completed", f"Echo: {p['content']}"))
        self.received: list[Envelope] = []
        self.credit_updates: list[dict] = []
        self.assigned: list[dict] = []
        self.ws = None
        self._reader = None
        self._replies = set()

    async def connect(self) -> "Peer":
        self.ws = await websockets.connect(self.url)
        return self

    async def register(self) -> Envelope:
        payload = {"name": self.name, "capabilities": self.capabilities, "languages": ["en"],
                   "model_info": {"model": "test"}}
        if self.node_id:
            payload["node_id"] = self.node_id
        if self.api_key:
            payload["api_key"] = self.api_key
        await self.ws.send(frame("NODE_REGISTER" if self.node_id else "node_register", payload))
        first = await self.next()
        if first.msg_type == MsgType.NODE_REGISTERED:
            self.node_id = first.payload["node_id"]
        return first

    async def next(self, timeout: float = 10.0) -> Envelope:
        message = Envelope.model_validate_json(await asyncio.wait_for(self.ws.recv(), timeout))
        self.received.append(message)
        if message.msg_type == MsgType.CREDIT_UPDATE:
            self.credit_updates.append(message.payload)
        return message

    def serve(self) -> None:
        """Answer tasks in the background until close()."""
        async def loop():
            while True:
                try:
                    message = await self.next(timeout=3600)
                except (websockets.ConnectionClosed, asyncio.CancelledError):
                    return
                if message.msg_type == MsgType.TASK_ASSIGN:
                    self.assigned.append(message.payload)
                    reply = asyncio.create_task(self._reply(message.payload))
                    self._replies.add(reply)
                    reply.add_done_callback(self._replies.discard)
        self._reader = asyncio.create_task(loop())

    async def _reply(self, payload: dict) -> None:
        outcome = self.answer(payload)
        if outcome is None:  # a node that never answers
            return
        status, result = outcome
        await self.ws.send(frame("task_result", {
            "task_id": payload["task_id"], "node_id": self.node_id, "status": status,
            "result": result, "processing_time_ms": 1}))

    async def close(self) -> None:
        if self._reader:
            self._reader.cancel()
        await self.ws.close()
