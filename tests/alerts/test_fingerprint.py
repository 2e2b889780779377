from __future__ import annotations

from daemon.alerts.fingerprint import fingerprint


def test_known_alertmanager_fingerprints() -> None:
    # Values from prometheus/common model.LabelSet.Fingerprint (FNV-1a 64, sorted names, 0xff separators).
    assert fingerprint({}) == "cbf29ce484222325"
    assert fingerprint({"alertname": "X"}) == fingerprint({"alertname": "X"})


def test_order_independent_and_value_sensitive() -> None:
    a = {"alertname": "HighErrorRate", "service": "payments", "tenant": "acme"}
    assert fingerprint(a) == fingerprint(dict(reversed(list(a.items()))))
    assert fingerprint(a) != fingerprint({**a, "tenant": "globex"})
    # The separator keeps name/value boundaries apart.
    assert fingerprint({"ab": "c"}) != fingerprint({"a": "bc"})
