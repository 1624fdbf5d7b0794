"""Scrapes a gptsweep coordinator's /metrics with the client token and parses it with
prometheus_client's OpenMetrics parser (a parser gptsweep did not write: a malformed
exposition fails here). Prints every sample as one JSON object a line:
{"name": ..., "labels": {...}, "value": ...}.

usage: metrics.py DASHBOARD_URL TOKEN_FILE
"""

import json
import sys
import urllib.request

from prometheus_client.openmetrics.parser import text_string_to_metric_families


def main() -> None:
    base, token_file = sys.argv[1], sys.argv[2]
    token = open(token_file).read().strip()
    req = urllib.request.Request(
        base.rstrip("/") + "/metrics", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(req, timeout=10) as reply:
        content_type = reply.headers.get("Content-Type", "")
        assert content_type.startswith("application/openmetrics-text"), content_type
        text = reply.read().decode("utf-8")
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            print(json.dumps({"name": s.name, "labels": s.labels, "value": s.value}))


if __name__ == "__main__":
    main()
