"""Composition root: the Chalice app, its WebSocket handlers and its schedules.

Routes live in chalicelib/api/<dialect>/, rules in chalicelib/services/. Chalice needs
the WebSocket and schedule handlers defined here, so each is a one-line delegation.
"""
from chalicelib import ws
from chalicelib.api.application import create_app

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
