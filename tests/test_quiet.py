"""TensorFlow's C++ start-up notes are hidden, real messages are not (:mod:`course_utils.base.quiet`)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course_utils.base import quiet
from course_utils.course import colab

ROOT = Path(__file__).resolve().parents[1]
#: An import that may load TensorFlow (Keras, or any course module but the parameter check and this one).
TF_IMPORT = re.compile(r"^\s*(import (keras|tensorflow|tf_keras)|from (keras|tensorflow)|"
                       r"from course_utils(\.\w+)* import (?!(quiet|params)\b)|import course_utils)")

#: What TensorFlow 2.21 wrote on import and at the first look at the devices (CPU machine).
STARTUP = """\
WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 00:00:1796214247.440775    6127 port.cc:153] oneDNN custom operations are on. You may see slightly different numerical results due to floating-point round-off errors from different computation orders. To turn them off, set the environment variable `TF_ENABLE_ONEDNN_OPTS=0`.
I0000 00:00:1796214247.441187    6127 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.
I0000 00:00:1796214256.466917    6177 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use available CPU instructions in performance-critical operations.
To enable the following instructions: AVX2 AVX512F AVX512_VNNI AVX512_BF16 AVX_VNNI FMA, in other operations, rebuild TensorFlow with the appropriate compiler flags.
E0000 00:00:1796214262.016546    6177 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)
"""
REAL = """\
W0000 00:00:1796214262.016546    6177 local_rendezvous.cc:404] Local rendezvous is aborting with status: OUT_OF_RANGE
E0000 00:00:1796214262.016546    6177 op_kernel.cc:1800] OP_REQUIRES failed at conv_ops.cc:1000 : RESOURCE_EXHAUSTED: OOM
/x/y.py:3: UserWarning: something real
"""


def _env(**extra) -> dict:
    """This environment without a TensorFlow log level, and without pytest's mark (ipykernel does
    not forward descriptor 2 to the notebook when it sees ``PYTEST_CURRENT_TEST``)."""
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "PYTEST_CURRENT_TEST")}
    env.update(extra)
    return env


def test_known_startup_lines_are_dropped_and_nothing_else():
    assert quiet.drop_startup_noise(STARTUP) == ""
    assert quiet.drop_startup_noise(REAL) == REAL
    assert quiet.drop_startup_noise(STARTUP + REAL + STARTUP) == REAL
    assert not quiet.is_startup_noise("oneDNN custom operations are on.")  # only TensorFlow's own log line


def test_filtered_stderr_keeps_what_is_not_startup_noise(capfd):
    with quiet.filtered_stderr():
        os.write(2, STARTUP.encode())
        os.write(2, b"a real problem\n")
    os.write(2, b"after the block\n")
    err = capfd.readouterr().err
    assert err == "a real problem\nafter the block\n"


def test_filtered_stderr_restores_the_descriptor_when_the_block_raises(capfd):
    with pytest.raises(ImportError):
        with quiet.filtered_stderr():
            os.write(2, STARTUP.encode() + b"Traceback of the import\n")
            raise ImportError("no tensorflow")
    os.write(2, b"still here\n")
    assert capfd.readouterr().err == "Traceback of the import\nstill here\n"


def test_a_pipe_reader_of_the_descriptor_keeps_reading(tmp_path):
    # ipykernel forwards descriptor 2 through a pipe: swapping it must never close that pipe
    script = (
        "import os, sys\n"
        "r, w = os.pipe(); os.dup2(w, 2); os.close(w)\n"
        "from course_utils.base import quiet\n"
        f"with quiet.filtered_stderr():\n    os.write(2, {STARTUP.encode()!r})\n"
        "os.write(2, b'after\\n'); os.close(2)\n"
        "sys.stdout.write(os.read(r, 10000).decode())\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "after\n"


@pytest.mark.slow
def test_import_tensorflow_prints_nothing_and_keras_neither():
    script = "from course_utils.base import quiet\ntf = quiet.import_tensorflow()\nimport keras\nprint(tf.__name__, keras.__name__)\n"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=300, env=_env())
    assert out.returncode == 0, out.stderr
    assert out.stdout == "tensorflow keras\n" and out.stderr == ""
    # the setting it replaces, in every Keras chapter, does not stop them with TensorFlow 2.21
    before = subprocess.run([sys.executable, "-c", "import tensorflow"], capture_output=True, text=True, cwd=ROOT,
                            timeout=300, env=_env(TF_CPP_MIN_LOG_LEVEL="3"))
    assert "absl::InitializeLog" in before.stderr or "oneDNN" in before.stderr


def test_import_tensorflow_leaves_a_chosen_log_level(monkeypatch):
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")
    quiet.import_tensorflow()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0"


@pytest.mark.slow
def test_a_notebook_cell_that_imports_tensorflow_has_no_stderr_output(tmp_path):
    """Through a real kernel (ipykernel forwards descriptor 2): no stderr output from the import,
    and a real message written to descriptor 2 afterwards still reaches the notebook."""
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("from course_utils.base import quiet\n\ntf = quiet.import_tensorflow()\nimport keras"),
                nbformat.v4.new_code_cell("import os, time\nos.write(2, b'a real message\\n'); time.sleep(0.5)")]
    client = NotebookClient(nb, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(tmp_path)}})
    client.execute(env=_env())
    first, second = ([o for o in cell.outputs if o.get("name") == "stderr"] for cell in nb.cells)
    assert first == [], json.dumps(first)[:2000]
    assert "".join(o["text"] for o in second) == "a real message\n"


@pytest.mark.parametrize("name", ["06_preprocessing", *(f"{n:02d}" for n in range(8, 18))])
def test_every_keras_chapter_imports_tensorflow_quietly(name):
    path = next((ROOT / "notebooks").glob(f"{name}*.ipynb"))
    nb = nbformat.read(path, as_version=4)
    # the Colab setup cell imports course_utils.course.colab, which leaves TensorFlow alone
    # (tests/test_colab.py checks it) and imports it through quiet.import_tensorflow()
    code = [c.source for c in nb.cells if c.cell_type == "code" and not c.source.startswith(colab.SETUP_MARKER)]
    assert "TF_CPP_MIN_LOG_LEVEL" not in "".join(code), f"{path.name} still sets TF_CPP_MIN_LOG_LEVEL by hand"
    lines = "\n".join(code).splitlines()
    call = next((i for i, line in enumerate(lines) if line.startswith("quiet.import_tensorflow()")), None)
    assert call is not None, f"{path.name} does not call quiet.import_tensorflow() in its import cell"
    early = [line for line in lines[:call] if TF_IMPORT.match(line)]
    assert early == [], f"{path.name}: {early} may import TensorFlow before quiet.import_tensorflow()"
