import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))


def pytest_collection_modifyitems(config, items):
    """Integration tests need root and the target tooling; elsewhere they are skipped with the reason.

    CI sets SPARKS_REQUIRE_TARGETS=1: there a missing prerequisite is an error, so a green run cannot hide
    integration tests that never ran.
    """
    from tests.support.targets import harness_available

    reason = harness_available()
    if not reason:
        return
    integration = [item for item in items if "integration" in item.keywords]
    if integration and os.environ.get("SPARKS_REQUIRE_TARGETS") == "1":
        raise pytest.UsageError(f"{len(integration)} integration tests cannot run here: {reason}")
    for item in integration:
        item.add_marker(pytest.mark.skip(reason=reason))
