"""Third-party internals harness relies on, fenced: one small module per dependency.

Each module names the private attributes it touches and the versions it
supports, so that a new release of the dependency breaks one module, in one
place, with a test that says so. Nothing here imports the dependency at
import time: the pytest plugin loads in every pytest session.
"""
