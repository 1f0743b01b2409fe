import pytest

import d2lseg


@pytest.fixture(scope="session")
def voc_dir(tmp_path_factory):
    """A small sample VOC tree, shared by the tests that only read it."""
    return d2lseg.make_sample_voc(tmp_path_factory.mktemp("sample"), num_train=20, num_val=20)
