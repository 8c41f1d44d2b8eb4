"""Fixtures shared by several test modules."""

import pytest
from click.testing import CliRunner

from uedflow.cli import main


@pytest.fixture(scope="session")
def small_demo(tmp_path_factory):
    """The folder of an uninterrupted ``uedflow demo --preset small``: stage files in ``small/``, the simulated
    experiment in ``small/data/experiment.toml``."""
    out = tmp_path_factory.mktemp("small-demo")
    res = CliRunner().invoke(main, ["demo", "--preset", "small", "-o", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    return out
