"""The fake aiosqlite: aiosqlite's own code, with its worker thread simulated.

``_worker`` simulates an ``aiosqlite.Connection``'s worker thread, ``_layer``
routes ``sqlite3.connect`` to the schedule's private databases
(``_database``), ``_real`` keeps harness's state about each real connection
and ``_capi`` reaches SQLite's C API for its locking facts. Nothing here is
public: users reach it through ``aiosqlite`` itself (or ``sim.connect``).
"""
