"""Fixtures shared by several test modules."""

import pytest
from recipe_utils import run_train


@pytest.fixture(scope="session")
def quick_lcnn_inf_ini_run(tmp_path_factory):
    """The output folder of one quick run of ``hparams/lcnn_inf_ini.yaml`` (the
    ``recipe_utils.QUICK`` overrides only), shared by the tests that read its outputs:
    they must not write into it (copy it before running the recipe on it again)."""
    output = tmp_path_factory.mktemp("quick_lcnn_inf_ini") / "run"
    run_train("lcnn_inf_ini.yaml", output)
    return output
