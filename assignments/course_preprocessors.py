"""Two nbgrader preprocessors that make grading fair, registered in `nbgrader_config.py`.

- `StderrAsStdout` runs during autograding, after the notebook is executed and before the grades
  are read: nbgrader gives 0 points to a test cell that wrote anything on stderr, so a library
  warning would cost a correct answer its points. The text stays in the notebook, as stdout.
- `HideHiddenTests` runs while generating feedback: it removes the `### BEGIN HIDDEN TESTS`
  regions and cuts the tracebacks of those cells down to their last line, so that the feedback
  says which check failed without showing the hidden code.
"""

from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor


class StderrAsStdout(NbGraderPreprocessor):
    """Turn the stderr stream outputs of every code cell into stdout outputs."""

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "code":
            for output in cell.outputs:
                if output.output_type == "stream" and output.name == "stderr":
                    output.name = "stdout"
        return cell, resources


class HideHiddenTests(ClearHiddenTests):
    """Remove hidden test regions and show only `Error: message` for the cells that had them."""

    def preprocess_cell(self, cell, resources, cell_index):
        had_hidden_tests = self._remove_hidden_test_region(cell)
        if had_hidden_tests and cell.cell_type == "code":
            for output in cell.outputs:
                if output.output_type == "error":
                    output.traceback = [f"{output.ename}: {output.evalue}"]
        return cell, resources
