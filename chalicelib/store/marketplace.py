"""Marketplace installs and download counts (records table).

- install    family `marketplace_install`, unique name = `<template id>[/<name>]`
- downloads  pk `MARKETPLACE#DOWNLOADS`, sk <template id>: installs of a template across
             networks (the catalogue is global, and so is its popularity; no network data)
"""
from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute

from chalicelib.store.records import Record

DOWNLOADS_PK = "MARKETPLACE#DOWNLOADS"


class InstallRecord(Record):
    name = UnicodeAttribute(null=True)
    template_id = UnicodeAttribute(null=True)
    created = JSONAttribute(null=True)          # {"agents": [...], "workflows": [...]}


class DownloadsRecord(Record):
    downloads = NumberAttribute(null=True)
