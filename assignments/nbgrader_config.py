"""nbgrader configuration of the d2lseg problem sets.

The course root is the folder of this file, wherever nbgrader or JupyterLab is started from
(the repository root's `nbgrader_config.py` loads this file), and the gradebook lives in it.
"""

import os
import sys

from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    GetGrades,
    LimitOutput,
    SaveAutoGrades,
)

COURSE_DIR = os.path.dirname(os.path.abspath(__file__))
if COURSE_DIR not in sys.path:
    sys.path.insert(0, COURSE_DIR)
from course_preprocessors import (  # noqa: E402
    HideHiddenTests,
    LatePenalty,
    SandboxedExecute,
    SaveIntegrity,
    StderrAsStdout,
)

c = get_config()  # noqa: F821 (injected by traitlets when it loads this file)

c.CourseDirectory.root = COURSE_DIR
c.CourseDirectory.course_id = "d2lseg"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(COURSE_DIR, "gradebook.db")

# Every notebook runs on the environment's own Python kernel, whatever its metadata names.
c.Execute.kernel_name = "python3"
# The slowest honest cell (the imports of torch and d2lseg) takes 2.5 s on a busy 2-core CPU;
# a cell that runs longer than this is stopped (its kernel restarted) and its problem scores 0,
# the cells after it still run. Validate (the student's) uses the same limit.
c.Execute.timeout = 20
c.SandboxedExecute.cell_timeout = 20
c.SandboxedExecute.notebook_timeout = 120
# Seeds the hidden cases of `grading/problems.py`; made on the first `make grade`, never
# committed, so that the cases cannot be known from the repository.
c.SandboxedExecute.secret_file = os.path.join(COURSE_DIR, "grading_secret")
c.SaveIntegrity.records_dir = os.path.join(COURSE_DIR, "grading_records")

# nbgrader's order, with SandboxedExecute in place of Execute (the notebook runs in a sandbox,
# the problems are scored outside it) and StderrAsStdout in place of the (disabled)
# IgnorePattern; SaveIntegrity records the integrity check once the grades are saved.
c.Autograde.autograde_preprocessors = [
    SandboxedExecute,
    StderrAsStdout,
    ClearMetadataPreprocessor,
    LimitOutput,
    SaveAutoGrades,
    SaveIntegrity,
    AssignLatePenalties,
    CheckCellMetadata,
]
# Due dates, ISO 8601 with the UTC offset (set your term's): `make grade` writes them into the
# gradebook, where nbgrader compares them with each submission's timestamp.txt (written by
# `make collect`); a problem set without one is never late. The late rule (README.md):
# 10 % of the score per started day late, up to 5 days; later, 0.
c.LatePenalty.due_dates = {
    "ps01_voc_augmentation": "2027-03-01T23:59:00+01:00",
    "ps02_transposed_as_conv": "2027-03-08T23:59:00+01:00",
    "ps03_sparse_conv_matrix": "2027-03-15T23:59:00+01:00",
    "ps04_bilinear_resize": "2027-03-22T23:59:00+01:00",
    "ps05_class_imbalance": "2027-03-29T23:59:00+02:00",
    "ps06_test_time_augmentation": "2027-04-05T23:59:00+02:00",
    "ps07_boundary_iou": "2027-04-12T23:59:00+02:00",
}
c.LatePenalty.percent_per_day = 10.0
c.LatePenalty.max_days = 5
c.AssignLatePenalties.plugin_class = LatePenalty

# A deleted test cell is put back from the source (and run), so it cannot be dodged.
c.OverwriteCells.add_missing_cells = True

c.GenerateFeedback.preprocessors = [GetGrades, HideHiddenTests, CSSHTMLHeaderPreprocessor]
