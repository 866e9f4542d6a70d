"""The pytest plugin's parts (the hooks live in :mod:`harness.pytest_plugin`).

Nothing here imports harness's engine at import time: the plugin loads in
every pytest session.
"""
