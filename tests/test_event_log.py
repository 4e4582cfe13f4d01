"""The per-network event log every stream reads: order, settling, filters, resumption."""
from chalicelib.services import events


def test_readers_see_each_settled_event_once_in_order_and_resume_after_the_last(aws, settings_env):
    settings_env(SWITCHBOARD_EVENT_SETTLE_MS="0")
    written = [events.publish("net_a", "message.new", {"n": i}, target="bob" if i % 2 else None)
               for i in range(5)]
    events.publish("net_b", "message.new", {"n": 99})

    first, cursor = events.read("net_a", None, limit=3)
    assert [e.data["n"] for e in first] == [0, 1, 2]
    rest, cursor = events.read("net_a", cursor)
    assert [e.data["n"] for e in rest] == [3, 4]
    assert cursor == written[-1].event_id
    assert events.read("net_a", cursor) == ([], cursor)

    for_alice, _ = events.read("net_a", None, target="alice")
    assert [e.data["n"] for e in for_alice] == [0, 2, 4], "alice sees broadcasts only"


def test_events_younger_than_the_settle_window_wait_for_the_next_read(aws, settings_env):
    settings_env(SWITCHBOARD_EVENT_SETTLE_MS="60000")
    events.publish("net_a", "task.created", {"task_id": "t1"})
    assert events.read("net_a", None)[0] == []
    settings_env(SWITCHBOARD_EVENT_SETTLE_MS="0")
    assert [e.type for e in events.read("net_a", None)[0]] == ["task.created"]


def test_a_filtered_reader_advances_past_what_it_skipped(aws, settings_env):
    settings_env(SWITCHBOARD_EVENT_SETTLE_MS="0")
    for i in range(30):
        events.publish("net_a", "worker.online", {"n": i})
    wanted = events.publish("net_a", "task.created", {"n": 30})
    kept, cursor = events.read("net_a", None, types=("task.created",), budget=10)
    assert kept == [] and cursor is not None, "the budget bounds the read; the cursor moves on"
    while not kept:
        kept, cursor = events.read("net_a", cursor, types=("task.created",), budget=10)
    assert [e.event_id for e in kept] == [wanted.event_id]


def test_ids_made_in_the_same_millisecond_sort_in_the_order_they_were_made():
    from chalicelib.ids import stream_id, ulid
    for make in (stream_id, ulid):
        made = [make(1_795_000_000_000) for _ in range(500)]
        assert made == sorted(made) and len(set(made)) == 500, make.__name__
