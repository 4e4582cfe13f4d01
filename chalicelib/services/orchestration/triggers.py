"""Triggers fire: on a schedule, on an event, or when their webhook is called.

Types (`trigger_type`; the platform's `cron` is accepted for `schedule`):
- schedule: `config.cron_expression` (5-field cron, croniter) or `config.interval_seconds`
  (>= 60). An active schedule trigger sits in the due-time index at its next due time;
  the `trigger_sweep` schedule (every minute) Queries what is due (`fire_due`), never
  scanning triggers. Firing is claimed by a conditional update on `next_fire_at` (the due
  time the sweep read) together with the firing record, so two overlapping sweeps fire a
  due time once. No catch-up: the next due time is the first one after now.
- event: `config.event_type` (exact, or a prefix ending in `*`) and optional
  `config.filters` (each must equal the event's field). Matched against every event of the
  network (services/reactions.py), each event fires a trigger once (the firing is keyed by
  the event id). Events from triggers' own actions, `trigger.*` and `notification` events
  (what a notify action makes) never match, so triggers cannot set each other off in a loop.
- webhook (our extension): `POST /api/v1/triggers/{id}/fire` with the trigger's own token,
  shown once at creation and stored as a keyed hash.

Actions (`action_type`): `create_task`, `execute_workflow` (`run_workflow`), `send_message`,
`send_notification` (`notify`: in-app notifications to `recipients` and messages to
`channel_ids`, services/orchestration/notify.py). `call_webhook` is refused
until the hub's outbound webhook service exists. Each firing is recorded with its time,
cause, outcome, duration and what it created (`history`); an action's writes are keyed by
the firing, so running a firing again (after a crash) creates nothing twice.
"""
from __future__ import annotations

import hmac
import json
import time
from datetime import datetime, timezone

from pynamodb.exceptions import DoesNotExist, UpdateError

from chalicelib import logs
from chalicelib.auth import secrets
from chalicelib.clock import now_ms
from chalicelib.errors import NotFound, Unauthorized, ValidationFailed
from chalicelib.ids import stream_id_time, ulid
from chalicelib.services import audit, events, messaging, reactions
from chalicelib.services.orchestration import agents, notify, work, workflows
from chalicelib.services.records import Family, Page, commit
from chalicelib.store.base import page
from chalicelib.store.records import time_key
from chalicelib.store.triggers import (FIRING_DUE, TRIGGER_DUE, EventMatchRecord as EM,
                                       FiringRecord as F, HookRecord as H, TriggerRecord as T,
                                       event_index_pk, firing_pk, hook_key)

log = logs.get("triggers")
TRIGGERS = Family(T, kind="trigger", id_prefix="trg", label="Trigger")
TYPES = {"schedule": "schedule", "cron": "schedule", "event": "event", "webhook": "webhook"}
ACTIONS = {"create_task": "create_task", "execute_workflow": "execute_workflow",
           "run_workflow": "execute_workflow", "send_message": "send_message",
           "send_notification": "send_notification", "notify": "send_notification"}
MIN_INTERVAL_S = 60
RERUN_AFTER_MS = 120_000       # a firing still running this long after its claim is rerun
EVENT_TRIGGERS_TTL_S = 2.0

_event_triggers = reactions.instance_cache()  # network -> (expiry, active event triggers)


# --------------------------------------------------------------------------- validation


def _type(value) -> str:
    if value not in TYPES:
        raise ValidationFailed("trigger_type", "one of schedule (cron), event, webhook")
    return TYPES[value]


def _action(value) -> str:
    if value == "call_webhook":
        raise ValidationFailed("action_type", "call_webhook is not available yet: use "
                                              "send_notification, or a webhook trigger")
    if value not in ACTIONS:
        raise ValidationFailed("action_type", f"one of {', '.join(ACTIONS)}")
    return ACTIONS[value]


def _check(network_id: str, trigger_type: str, config: dict, action: str,
           action_config: dict) -> None:
    if trigger_type == "schedule":
        cron, interval = config.get("cron_expression"), config.get("interval_seconds")
        if cron is not None:
            from croniter import croniter
            if not isinstance(cron, str) or len(cron.split()) != 5 or not croniter.is_valid(cron):
                raise ValidationFailed("config.cron_expression",
                                       "a 5-field cron expression, like '*/5 * * * *'")
        elif isinstance(interval, bool) or not isinstance(interval, (int, float)) \
                or interval < MIN_INTERVAL_S:
            raise ValidationFailed("config", "a schedule needs 'cron_expression' or "
                                             f"'interval_seconds' (>= {MIN_INTERVAL_S})")
    if trigger_type == "event":
        wanted = config.get("event_type")
        if not isinstance(wanted, str) or not (events.known_type(wanted) or
                                               events.known_type(wanted.rstrip("*") + "*")
                                               or wanted.endswith("*")):
            raise ValidationFailed("config.event_type", "an event type such as task.completed, "
                                                        "or a prefix ending in '*'")
        if not isinstance(config.get("filters") or {}, dict):
            raise ValidationFailed("config.filters", "'filters' must be an object")
    if action == "execute_workflow":
        workflows.get(network_id, str(action_config.get("workflow_id") or "-"))
    if action == "send_message" and not (action_config.get("to") or
                                         action_config.get("agent_id")):
        raise ValidationFailed("action_config.to", "send_message needs 'to' (a node) or "
                                                   "'agent_id'")
    if action_config.get("agent_id"):
        agents.get(network_id, action_config["agent_id"])
    if action == "send_notification":
        notify.check(network_id, action_config, "action_config")


def next_due(trigger: T, after_ms: int) -> int:
    """The first due time after `after_ms` (no catch-up)."""
    config = trigger.config or {}
    if config.get("cron_expression"):
        from croniter import croniter
        start = datetime.fromtimestamp(after_ms / 1000, tz=timezone.utc)
        return int(croniter(config["cron_expression"], start).get_next(datetime).timestamp()
                   * 1000)
    step = int(config["interval_seconds"] * 1000)
    base = trigger.next_fire_at or trigger.created_at or after_ms
    if base > after_ms:
        return base
    return base + ((after_ms - base) // step + 1) * step


def _schedule_sets(trigger: T, after_ms: int) -> tuple[dict, list]:
    if trigger.trigger_type != "schedule" or not trigger.is_active:
        return {}, ["next_fire_at", "time_pk", "time_sk"]
    due = next_due(trigger, after_ms)
    return {"next_fire_at": due, "time_pk": TRIGGER_DUE,
            "time_sk": time_key(due, f"{trigger.network_id}/{trigger.id}")}, []


def _index_writes(tx, trigger: T, *, live: bool = True) -> None:
    key = (event_index_pk(trigger.network_id), trigger.id)
    if live and trigger.trigger_type == "event" and trigger.is_active:
        config = trigger.config or {}
        tx.save(EM(*key, id=trigger.id, network_id=trigger.network_id,
                   event_type=config["event_type"], filters=config.get("filters") or None,
                   created_at=trigger.created_at))
    else:
        tx.delete(EM(*key))


# --------------------------------------------------------------------------- records


def create(network_id: str, fields: dict, *, created_by: str) -> tuple[T, str | None]:
    """(trigger, webhook token or None): the token is shown this once."""
    name = str(fields.get("name") or "").strip()
    if not name:
        raise ValidationFailed("name", "'name' is required")
    trigger_type, action = _type(fields.get("trigger_type")), _action(fields.get("action_type"))
    config, action_config = fields.get("config") or {}, fields.get("action_config") or {}
    _check(network_id, trigger_type, config, action, action_config)
    trigger = TRIGGERS.new(network_id, created_by=created_by, name=name,
                           trigger_type=trigger_type, config=config or None, action_type=action,
                           action_config=action_config or None,
                           is_active=fields.get("is_active", True) is not False, fire_count=0,
                           success_count=0, failure_count=0, duration_sum=0)
    sets, _ = _schedule_sets(trigger, trigger.created_at)
    for name_, value in sets.items():
        setattr(trigger, name_, value)
    token = secrets.generate("api_key").replace("sbk_", "sbt_") \
        if trigger_type == "webhook" else None

    def extra(tx):
        _index_writes(tx, trigger)
        if token:
            tx.save(H(*hook_key(trigger.id), network_id=network_id, id=trigger.id,
                      token_hash=secrets.digest(token)))
    if trigger_type == "event":
        reactions.follow(network_id)
    TRIGGERS.create(trigger, event=_summary(trigger), extra=extra)
    _event_triggers.pop(network_id, None)
    return trigger, token


def _summary(trigger: T) -> dict:
    return {"name": trigger.name, "trigger_type": trigger.trigger_type,
            "action_type": trigger.action_type, "is_active": trigger.is_active}


def get(network_id: str, trigger_id: str) -> T:
    return TRIGGERS.get(network_id, trigger_id)


def list_triggers(network_id: str, *, trigger_type: str | None = None,
                  is_active: bool | None = None, limit=50, offset=0, cursor=None) -> Page:
    condition = None
    if trigger_type:
        condition = T.trigger_type == _type(trigger_type)
    if is_active is not None:
        part = T.is_active == is_active
        condition = part if condition is None else condition & part
    return TRIGGERS.list(network_id, limit=limit, offset=offset, cursor=cursor,
                         condition=condition)


def update(network_id: str, trigger_id: str, fields: dict) -> T:
    trigger = get(network_id, trigger_id)
    sets = {}
    if fields.get("name") is not None:
        sets["name"] = str(fields["name"]).strip() or trigger.name
    if fields.get("trigger_type") is not None and _type(fields["trigger_type"]) != \
            trigger.trigger_type:
        raise ValidationFailed("trigger_type", "a trigger's type cannot change: make a new one")
    if fields.get("action_type") is not None:
        sets["action_type"] = _action(fields["action_type"])
    for name in ("config", "action_config"):
        if fields.get(name) is not None:
            sets[name] = fields[name] or None
    if fields.get("is_active") is not None:
        sets["is_active"] = bool(fields["is_active"])
    merged = {k: sets.get(k, getattr(trigger, k)) for k in ("config", "action_type",
                                                            "action_config", "is_active")}
    _check(network_id, trigger.trigger_type, merged["config"] or {}, merged["action_type"],
           merged["action_config"] or {})
    return _save(trigger, sets)


def _save(trigger: T, sets: dict) -> T:
    """Update with the schedule and event index following the change."""
    staged = T(**{k: getattr(trigger, k) for k in ("network_id", "id", "trigger_type",
                                                    "created_at", "next_fire_at")},
               config=sets.get("config", trigger.config),
               is_active=sets.get("is_active", trigger.is_active))
    if "config" in sets or sets.get("is_active") and not trigger.is_active:
        staged.next_fire_at = None  # a new schedule, or a restart: due from now on
    schedule, removals = _schedule_sets(staged, now_ms())
    TRIGGERS.update(trigger, {**sets, **schedule}, removals=removals,
                    event={**_summary(trigger), **{k: v for k, v in sets.items()
                                                   if k in ("name", "is_active")}},
                    extra=lambda tx: _index_writes(tx, trigger))
    _event_triggers.pop(trigger.network_id, None)
    return trigger


def toggle(network_id: str, trigger_id: str) -> T:
    trigger = get(network_id, trigger_id)
    return _save(trigger, {"is_active": not trigger.is_active})


def delete(network_id: str, trigger_id: str) -> None:
    trigger = get(network_id, trigger_id)

    def extra(tx):
        _index_writes(tx, trigger, live=False)
        tx.delete(H(*hook_key(trigger.id)))
    TRIGGERS.delete(trigger, event=_summary(trigger), extra=extra)
    _event_triggers.pop(network_id, None)


def history(network_id: str, trigger_id: str, *, limit=50, offset=0, cursor=None) -> Page:
    trigger = get(network_id, trigger_id)
    items, next_cursor = page(F, firing_pk(network_id, trigger_id), limit=limit,
                              offset=offset, cursor=cursor, newest_first=True)
    return Page(items, next_cursor, int(trigger.fire_count or 0))


def stats(trigger: T, recent: list[F]) -> dict:
    success, failure = int(trigger.success_count or 0), int(trigger.failure_count or 0)
    done = success + failure
    return {"execution_counts": {"success": success, "failure": failure},
            "total_executions": int(trigger.fire_count or 0),
            "success_rate": round(success / done * 100, 1) if done else 0.0,
            "avg_duration_ms": round(int(trigger.duration_sum or 0) / done, 1) if done else 0.0,
            "recent_executions": recent}


# --------------------------------------------------------------------------- firing


def _claim(trigger: T, cause: dict, cause_key: str, at_ms: int, event_data,
           schedule_sets: dict | None = None, expected_due: int | None = None,
           active_only: bool = True) -> F | None:
    """Record a firing for this cause, once (None when it was recorded before)."""
    firing = F(firing_pk(trigger.network_id, trigger.id), time_key(at_ms, cause_key),
               kind="trigger_firing", id=time_key(at_ms, cause_key), network_id=trigger.network_id,
               trigger_id=trigger.id, cause=cause, status="running", event_data=event_data,
               created_at=now_ms(), time_pk=FIRING_DUE)
    firing.time_sk = time_key(firing.created_at + RERUN_AFTER_MS,
                              f"{trigger.network_id}/{trigger.id}/{firing.sk}")
    event = events.record(trigger.network_id, "trigger.fired",
                          {"id": trigger.id, "name": trigger.name, "cause": cause},
                          source=f"trigger:{trigger.id}")
    actions = [T.last_fired_at.set(at_ms), T.fire_count.add(1)] + \
        [getattr(T, k).set(v) for k, v in (schedule_sets or {}).items()]
    condition = T.deleted_at.does_not_exist()
    if active_only:
        condition &= T.is_active == True  # noqa: E712 (a PynamoDB condition)
    if expected_due is not None:
        condition &= T.next_fire_at == expected_due

    def writes(tx):
        tx.save(firing, condition=F.pk.does_not_exist())
        tx.update(T(trigger.pk, trigger.sk), actions=actions, condition=condition)
    return firing if commit(trigger.network_id, writes, event) else None


def _run(trigger: T, firing: F) -> F:
    """Run the action of a claimed firing and record its outcome."""
    started = time.monotonic()
    try:
        result, status, error = _act(trigger, firing), "success", None
    except Exception as failure:  # the outcome is recorded, not raised: the sweep goes on
        if not getattr(failure, "message", None):
            log.exception("trigger action failed", extra={"trigger_id": trigger.id})
        result, status, error = None, "failure", getattr(failure, "message", None) or \
            f"{type(failure).__name__}"
    duration = int((time.monotonic() - started) * 1000)
    try:
        firing.update(actions=[F.status.set(status), F.result.set(result), F.error.set(error),
                               F.duration_ms.set(duration), F.time_pk.remove(),
                               F.time_sk.remove()], condition=F.status == "running")
    except UpdateError:
        return firing  # a rerun finished it first
    T(trigger.pk, trigger.sk).update(actions=[
        (T.success_count if status == "success" else T.failure_count).add(1),
        T.duration_sum.add(duration)])
    return firing


def _act(trigger: T, firing: F) -> dict:
    config, network_id = trigger.action_config or {}, trigger.network_id
    key, by = f"trg:{trigger.id}:{firing.sk}", f"trigger:{trigger.id}"
    if trigger.action_type == "create_task":
        task, _ = work.create_task(
            network_id, owner_kind=None, refs=None, key=key, created_by=by,
            title=config.get("title") or "Triggered task", description=config.get("description"),
            agent_id=config.get("agent_id"), priority=config.get("priority"),
            capabilities=config.get("required_tools"),
            payload={"instructions": config.get("instructions"),
                     "trigger_event": firing.event_data, "trigger_id": trigger.id})
        return {"task_id": task.task_id}
    if trigger.action_type == "execute_workflow":
        run = workflows.start_run(network_id, config["workflow_id"],
                                  input={**(config.get("input") or {}),
                                         "trigger_event": firing.event_data},
                                  cause={"type": "trigger", "trigger_id": trigger.id,
                                         "firing_id": firing.sk}, started_by=by, key=key)
        return {"workflow_id": config["workflow_id"], "workflow_run_id": run.id}
    if trigger.action_type == "send_message":
        recipient = config.get("to")
        if not recipient:
            agent = agents.get(network_id, config["agent_id"])
            if not agent.worker_id:
                raise ValidationFailed("agent_id", f"agent {agent.name} runs on no worker")
            if not agents.receives_work(agent):  # a stopped agent receives nothing
                raise ValidationFailed("agent_id", f"agent {agent.name} is stopped")
            recipient = agent.worker_id
        content = config.get("content") or json.dumps(firing.event_data or {}, default=str)
        message, _ = messaging.send(network_id, account_id=by,
                                    sender=config.get("from") or "trigger",
                                    recipient=recipient, content=content, source="platform",
                                    subject=config.get("subject") or trigger.name,
                                    idempotency_key_value=key)
        return {"message_id": message.msg_id}
    return notify.send(network_id, config, subject=config.get("subject") or "Trigger fired",
                       body=config.get("body") or json.dumps(firing.event_data or {}, indent=2,
                                                             sort_keys=True, default=str),
                       key=key, at_ms=firing.created_at, source=trigger.id,
                       metadata={"trigger_id": trigger.id, "trigger_name": trigger.name,
                                 "firing_id": firing.sk, "cause": firing.cause})


def fire_due(at_ms: int | None = None, *, limit: int = 500) -> dict:
    """The schedule sweep: fire every active schedule trigger due at `at_ms`, and rerun
    firings a crash cut short."""
    at_ms = now_ms() if at_ms is None else at_ms
    fired = rerun = 0
    for entry in T.by_time.query(TRIGGER_DUE, T.time_sk <= time_key(at_ms, "~"), limit=limit):
        try:
            trigger = get(entry.network_id, entry.id)
        except NotFound:
            continue
        due = int(entry.next_fire_at)
        sets, _ = _schedule_sets(trigger, at_ms)
        firing = _claim(trigger, {"type": "schedule", "due_at": due}, f"due-{due}", due,
                        {"scheduled_for": due}, schedule_sets=sets, expected_due=due)
        if firing is not None:
            _run(trigger, firing)
            fired += 1
    for entry in F.by_time.query(FIRING_DUE, F.time_sk <= time_key(at_ms, "~"), limit=limit):
        try:
            trigger = get(entry.network_id, entry.trigger_id)
            firing = F.get(entry.pk, entry.sk, consistent_read=True)
        except (NotFound, DoesNotExist):
            continue
        if firing.status == "running":
            _run(trigger, firing)
            rerun += 1
    return {"fired": fired, "rerun": rerun}


def fire_now(network_id: str, trigger_id: str, *, cause: dict, event_data,
             active_only: bool = True) -> F:
    """Fire once for a cause that has no key of its own (a webhook call; a test, which
    fires an inactive trigger too, as the platform's test route does)."""
    trigger = get(network_id, trigger_id)
    stamp = now_ms()
    firing = _claim(trigger, cause, ulid(stamp), stamp, event_data, active_only=active_only)
    if firing is None:
        raise NotFound(f"trigger {trigger_id} is not active")
    return _run(trigger, firing)


def fire_webhook(trigger_id: str, token: str | None, payload) -> F:
    """A webhook trigger called with its own token (no user credential)."""
    try:
        hook = H.get(*hook_key(trigger_id), consistent_read=True)
    except DoesNotExist:
        hook = None
    if hook is None or not token or not hmac.compare_digest(hook.token_hash,
                                                             secrets.digest(token)):
        raise Unauthorized("unknown trigger or wrong token")
    # the caller holds no credential: the trigger's token says which network it acts in
    audit.note(network_id=hook.network_id, actor_id=f"webhook:{trigger_id}",
               target_type="trigger", target_id=trigger_id)
    return fire_now(hook.network_id, trigger_id, cause={"type": "webhook"}, event_data=payload)


# --------------------------------------------------------------------------- events


def _active_event_triggers(network_id: str) -> list[EM]:
    entry = _event_triggers.get(network_id)
    if entry and entry[0] > time.monotonic():
        return entry[1]
    found = list(EM.query(event_index_pk(network_id), consistent_read=True))
    _event_triggers[network_id] = (time.monotonic() + EVENT_TRIGGERS_TTL_S, found)
    return found


def matches(match: EM, event) -> bool:
    wanted = match.event_type
    if wanted.endswith("*"):
        if not event.type.startswith(wanted[:-1]):
            return False
    elif event.type != wanted:
        return False
    data = event.data or {}
    return all(data.get(k) == v for k, v in (match.filters or {}).items())


@reactions.on("*")
def event_happened(network_id: str, event) -> None:
    if event.type.startswith("trigger.") or event.type == "notification" or \
            (event.source or "").startswith("trigger:"):
        return
    at = stream_id_time(event.sk) or now_ms()
    for match in _active_event_triggers(network_id):
        if at < (match.created_at or 0) or not matches(match, event):
            continue
        try:
            trigger = get(network_id, match.id)
        except NotFound:
            continue
        firing = _claim(trigger, {"type": "event", "event_id": event.sk, "event_type": event.type},
                        event.sk, at, {"type": event.type, "id": event.sk, "data": event.data})
        if firing is not None:
            _run(trigger, firing)

