"""Random and mutated payloads never get a 5xx and never corrupt the store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.client import app_client
from tests.support.payloads import am_webhook_alert, webhook

URL = "/api/v1/alerts/alertmanager"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
label_names = st.sampled_from(["alertname", "service", "tenant", "severity", "pod"])
label_values = st.text(min_size=1, max_size=12)


@st.composite
def mutated_payloads(draw: st.DrawFn) -> dict[str, Any]:
    labels = draw(st.dictionaries(label_names, label_values, min_size=1, max_size=4))
    payload = webhook([am_webhook_alert(labels)])
    target = draw(st.sampled_from(["top", "alert"]))
    container: dict[str, Any] = payload if target == "top" else payload["alerts"][0]
    key = draw(st.sampled_from(sorted(container)))
    action = draw(st.sampled_from(["drop", "replace"]))
    if action == "drop":
        container.pop(key)
    else:
        container[key] = draw(json_values)
    return payload


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(mutated_payloads(), json_values.map(lambda v: {"payload": v}), st.binary(max_size=64)))
async def test_no_5xx_and_store_stays_consistent(tmp_path_factory: Any, body: Any) -> None:
    tmp: Path = tmp_path_factory.mktemp("prop")
    async with app_client(tmp) as client:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        resp = await client.post(URL, data=raw, headers={"Content-Type": "application/json"})
        assert resp.status < 500, await resp.text()
        listing = await (await client.get("/api/v1/alerts?limit=1000")).json()
        if resp.status != 200:
            assert listing["total"] == 0
        else:
            ack = await resp.json()
            assert listing["total"] == ack["changed"]
            for alert in listing["items"]:
                detail = await (await client.get(f"/api/v1/alerts/{alert['tenant']}/{alert['fingerprint']}")).json()
                assert detail["events"][-1]["alert"] == alert
