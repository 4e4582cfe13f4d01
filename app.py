"""Composition root: the Chalice app, its WebSocket handlers and its schedules.

Routes live in chalicelib/api/<dialect>/, rules in chalicelib/services/. Chalice needs
the WebSocket and schedule handlers defined here, so each is a one-line delegation.
"""
from chalice import Rate

from chalicelib import ws
from chalicelib.api.application import create_app
from chalicelib.jobs import files, fleet, orchestration, outbound

app = create_app()


@app.on_ws_connect()
def ws_connect(event):
    return ws.connect(event)


@app.on_ws_message()
def ws_message(event):
    return ws.message(event)


@app.on_ws_disconnect()
def ws_disconnect(event):
    return ws.disconnect(event)


@app.schedule(Rate(1, unit=Rate.MINUTES), name="fleet_sweep")
def fleet_sweep(event):
    return fleet.sweep()


@app.schedule(Rate(1, unit=Rate.MINUTES), name="batch_assign")
def batch_assign(event):
    return fleet.assign()


@app.schedule(Rate(1, unit=Rate.HOURS), name="files_sweep")
def files_sweep(event):
    return files.sweep_uploads()


@app.schedule(Rate(1, unit=Rate.MINUTES), name="due_sweep")
def due_sweep(event):
    return orchestration.due()


@app.schedule(Rate(1, unit=Rate.MINUTES), name="reaction_sweep")
def reaction_sweep(event):
    return orchestration.react()


@app.on_dynamodb_record(stream_arn=outbound.events_stream_arn(), batch_size=100,
                        name="match_events")
def match_events(event):
    return outbound.match_events(event)


@app.on_sqs_message(queue=outbound.deliveries_queue(), batch_size=10, name="send_deliveries")
def send_deliveries(event):
    return outbound.send_deliveries(event)


@app.schedule(Rate(1, unit=Rate.MINUTES), name="sweep_deliveries")
def sweep_deliveries(event):
    return outbound.sweep_deliveries()
