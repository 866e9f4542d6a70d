"""Pinned replay tokens: the shrunk failing schedule of each seed bug (regression tests).

A token encodes the choices *and* a digest of the timeline, so it stops
replaying (``NondeterminismError``) when a workload, a store variant or the
timeline format changes. After an intended change, regenerate this file::

    python -m tests.scenario_tokens
"""

from __future__ import annotations

TOKENS: dict[tuple[str, str], str] = {
    ("flush-cursor", "naive-fix"): "h1.BtDsvc4CAQAAARZmbHVzaC1jdXJzb3IvbmFpdmUtZml4IACIp4PjAsYm",
    ("flush-cursor", "original"): "h1.BtDsvc4CAQAAARVmbHVzaC1jdXJzb3Ivb3JpZ2luYWwgACKa-adoJFQ",
    ("hook-batch", "naive-fix"): "h1.BqWCtqMCAAAAARRob29rLWJhdGNoL25haXZlLWZpeDQAUti5m6ajZw",
    ("hook-batch", "original"): "h1.BqWCtqMCAAAAARNob29rLWJhdGNoL29yaWdpbmFsSwEtADO7M6RVMYU",
    ("metadata-lww", "naive-fix"): "h1.B9LSw_oHAQAAABZtZXRhZGF0YS1sd3cvbmFpdmUtZml4DAECAQhmDUkHGJI",
    ("metadata-lww", "original"): "h1.B6WCtqMCAQAAABVtZXRhZGF0YS1sd3cvb3JpZ2luYWwPAQIAL88XFVrFtw",
    (
        "subscribe-gap",
        "naive-fix",
    ): "h1.BKWCtqMCF3N1YnNjcmliZS1nYXAvbmFpdmUtZml4JQQZAAAAAgAAAPKsJfUvD_k",
    (
        "subscribe-gap",
        "original",
    ): "h1.BLao6NUDFnN1YnNjcmliZS1nYXAvb3JpZ2luYWwiBhIAAgAAAAIAAAACAQ0L-LFEipQ",
    (
        "writer-contention",
        "naive-fix",
    ): "h1.BKWCtqMCG3dyaXRlci1jb250ZW50aW9uL25haXZlLWZpeAMA7USsoB1AgQ",
    (
        "writer-contention",
        "original",
    ): "h1.BKWCtqMCGndyaXRlci1jb250ZW50aW9uL29yaWdpbmFsIQBMry4Vs0zn",
}

if __name__ == "__main__":  # pragma: no cover - maintenance script
    import pprint
    from pathlib import Path

    from harness import scenarios

    pinned = {}
    for name, scenario in scenarios.REGISTRY.items():
        for variant in ("original", "naive-fix"):
            result = scenario.explore(variant, seed=0)
            assert result.failed, (name, variant)
            pinned[(name, variant)] = result.failures[0].token
    path = Path(__file__)
    text = path.read_text()
    head, _, _ = text.partition("TOKENS: dict[tuple[str, str], str] = ")
    body = pprint.pformat(pinned, width=100)
    tail = text[text.index('\n\nif __name__ == "__main__"') :]
    path.write_text(f"{head}TOKENS: dict[tuple[str, str], str] = {body}{tail}")
    print(f"pinned {len(pinned)} tokens in {path}")
