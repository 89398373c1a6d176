"""The analyst notebooks run top to bottom on demo data, and are committed without outputs."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = [pytest.mark.unit, pytest.mark.slow]

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks_to_start_from() -> None:
    assert len(NOTEBOOKS) >= 3


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"{path.name}: clear outputs before committing"
            )


def test_notebooks_run_top_to_bottom_on_a_demo_day(tmp_path: Path) -> None:
    # All notebooks in one kernel-per-notebook sequence against the same (initially empty) embedded lakehouse:
    # the first one lands a demo day, the others read it.
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        client = NotebookClient(
            notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
        )
        client.execute()
        images = [
            output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
            if "image/png" in output.get("data", {})
        ]  # fmt: skip
        errors = [
            output
            for cell in notebook.cells
            for output in cell.get("outputs", [])
            if output.output_type == "error"
        ]
        assert not errors, f"{path.name}: {errors}"
        assert images, f"{path.name} drew no chart"
