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
    Execute,
    GetGrades,
    LimitOutput,
    SaveAutoGrades,
)

COURSE_DIR = os.path.dirname(os.path.abspath(__file__))
if COURSE_DIR not in sys.path:
    sys.path.insert(0, COURSE_DIR)
from course_preprocessors import HideHiddenTests, StderrAsStdout  # noqa: E402

c = get_config()  # noqa: F821 (injected by traitlets when it loads this file)

c.CourseDirectory.root = COURSE_DIR
c.CourseDirectory.course_id = "d2lseg"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(COURSE_DIR, "gradebook.db")

# Every notebook runs on the environment's own Python kernel, whatever its metadata names.
c.Execute.kernel_name = "python3"
# The slowest honest cell (the imports of torch and d2lseg) takes 2.5 s on a busy 2-core CPU;
# a cell that runs longer than this is interrupted and scores 0, the cells after it still run.
c.Execute.timeout = 20

# nbgrader's order, with StderrAsStdout in place of the (disabled) IgnorePattern: after the
# execution, before SaveAutoGrades reads the grades.
c.Autograde.autograde_preprocessors = [
    Execute,
    StderrAsStdout,
    ClearMetadataPreprocessor,
    LimitOutput,
    SaveAutoGrades,
    AssignLatePenalties,
    CheckCellMetadata,
]
# A deleted test cell is put back from the source (and run), so it cannot be dodged.
c.OverwriteCells.add_missing_cells = True

c.GenerateFeedback.preprocessors = [GetGrades, HideHiddenTests, CSSHTMLHeaderPreprocessor]
