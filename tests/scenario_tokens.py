"""Pinned replay tokens: the shrunk failing schedule of each seed bug (regression tests).

A token encodes the choices *and* a digest of the timeline, so it stops
replaying (``NondeterminismError``) when a workload, a store variant or the
timeline format changes. After an intended change, regenerate this file::

    python -m tests.scenario_tokens
"""

from __future__ import annotations

TOKENS: dict[tuple[str, str], str] = {
    ("flush-cursor", "naive-fix"): "h1.BtDsvc4CAQAAARZmbHVzaC1jdXJzb3IvbmFpdmUtZml4IAC2mYuxEul3",
    ("flush-cursor", "original"): "h1.BtDsvc4CAQAAARVmbHVzaC1jdXJzb3Ivb3JpZ2luYWwgALaZi7HVFoQ",
    ("hook-batch", "naive-fix"): "h1.BqWCtqMCAAAAARRob29rLWJhdGNoL25haXZlLWZpeDQAnhZZL1ys6A",
    ("hook-batch", "original"): "h1.BqWCtqMCAAAAARNob29rLWJhdGNoL29yaWdpbmFsSwEtAF-bJMlaJ88",
    ("metadata-lww", "naive-fix"): "h1.B9LSw_oHAQAAABZtZXRhZGF0YS1sd3cvbmFpdmUtZml4DAECAbI4u36IdtQ",
    ("metadata-lww", "original"): "h1.B6WCtqMCAQAAABVtZXRhZGF0YS1sd3cvb3JpZ2luYWwPAQIARL7GLQ7ucw",
    (
        "subscribe-gap",
        "naive-fix",
    ): "h1.FKWCtqMCF3N1YnNjcmliZS1nYXAvbmFpdmUtZml4EnjakxFkgAJGBnTABMUABpkAM5vseU7ENxo",
    (
        "subscribe-gap",
        "original",
    ): "h1.FLao6NUDFnN1YnNjcmliZS1nYXAvb3JpZ2luYWwWeNqT42WAAiYgZmRkAdNgzAgABVcAO12a6-Odf3Y",
    (
        "writer-contention",
        "naive-fix",
    ): "h1.BKWCtqMCG3dyaXRlci1jb250ZW50aW9uL25haXZlLWZpeAMApU4ZkMdrnQ",
    (
        "writer-contention",
        "original",
    ): "h1.BKWCtqMCGndyaXRlci1jb250ZW50aW9uL29yaWdpbmFsIQDUG5-NVWZ8",
}

if __name__ == "__main__":  # pragma: no cover - maintenance script
    import pprint
    from pathlib import Path

    import scenarios

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
