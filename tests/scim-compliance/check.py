"""Runs the scim2-tester compliance checks against a SCIM 2.0 server, discovering it
as a client would (ServiceProviderConfig, ResourceTypes, Schemas), and prints one
JSON object per check on stdout: {"title", "status", "reason", "resource_type"}.

    python3 check.py BASE_URL [BEARER_TOKEN]

BASE_URL is the SCIM root (http://host:port/scim/v2). Exits 0 once every check has
run, whatever the results: the caller decides what must pass.
"""

import json
import sys

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import check_server


def main() -> int:
    base = sys.argv[1].rstrip("/")
    headers = {"Authorization": f"Bearer {sys.argv[2]}"} if len(sys.argv) > 2 else {}
    with httpx2.Client(base_url=base, headers=headers, timeout=30) as http:
        client = SyncSCIMClient(http)
        for result in check_server(client):
            print(
                json.dumps(
                    {
                        "title": result.title,
                        "status": result.status.name,
                        "reason": str(result.reason or "")[:2000],
                        "resource_type": result.resource_type,
                    }
                ),
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
