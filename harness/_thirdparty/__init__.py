"""Every use of a third-party library's private names, one module per library.

* :mod:`.aiosqlite` — the worker thread, the job queue and the connector of
  ``aiosqlite.Connection`` (0.19 to 0.22);
* :mod:`.anyio` — the asyncio backend's worker-thread entry point;
* :mod:`.asyncio` — CPython's event-loop and task internals the controlled
  loop relies on (3.11 to 3.13);
* :mod:`.pytest` — pytest's private names the plugin reads (fixture
  definitions, report representations);
* :mod:`.pytest_asyncio` — how pytest-asyncio wraps async tests and fixtures.

Nothing here imports its dependency at import time where the pytest plugin
needs it: the plugin loads in every pytest session.

Each module starts with a table of the versions it supports and what it
relies on in each; ``tests/test_thirdparty.py`` checks those assumptions
against the installed versions, so an upgrade that breaks one fails there
first, with a message naming it.
"""
