"""Operation testing: the private package behind :mod:`harness.linearizability`.

Data path, one module per role::

    spec       what the user declares: operations, the store's set-up, the model
    scenario   a concurrent scenario (prefix, actors, suffix) and its text form
    history    the recorder that runs inside a schedule, and the History it builds
    checker    Wing-Gong/Lowe search with memoisation, P-compositional partitions
    explain    the shortest contradiction and why no order works
    lanes      the history drawn as one lane per actor
    runner     a scenario as a harness body (+ recover), under explore/replay/real aiosqlite
    search     Hypothesis draws scenarios and shrinks them; harness shrinks the schedule
"""
