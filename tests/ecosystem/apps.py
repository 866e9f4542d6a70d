"""Every ecosystem app, in the order the verdict table lists them."""

from __future__ import annotations

from tests.ecosystem import (
    anyio_apps,
    databases_apps,
    peewee_apps,
    piccolo_apps,
    sqlalchemy_apps,
    sqlmodel_apps,
    tortoise_apps,
)
from tests.ecosystem._check import App

MODULES = (
    sqlalchemy_apps,
    sqlmodel_apps,
    tortoise_apps,
    databases_apps,
    piccolo_apps,
    peewee_apps,
    anyio_apps,
)
APPS: list[App] = [app for module in MODULES for app in module.APPS]
