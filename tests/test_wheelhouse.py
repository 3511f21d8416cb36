"""scripts/wheelhouse.py: what a wheelhouse carries, the checks that refuse a wrong target with one
line, and (slow: it compiles fairseq-fixed and needs the package registry) a wheelhouse built here,
installed with --no-index into an empty venv, running `scripts/gpu-check.sh --device cpu --tiny`."""

import importlib.util
import json
import os
import subprocess
import sys
import platform
import sysconfig

import pytest
import torch

from conftest import ROOT

SCRIPT = os.path.join(ROOT, "scripts", "wheelhouse.py")
spec = importlib.util.spec_from_file_location("wheelhouse", SCRIPT)
wheelhouse = importlib.util.module_from_spec(spec)
spec.loader.exec_module(wheelhouse)
PYTHON = "%d.%d" % sys.version_info[:2]
TORCH = torch.__version__.split("+")[0]


def script(*args, env=None, timeout=120):
    proc = subprocess.run([sys.executable, SCRIPT, *map(str, args)], capture_output=True, text=True, env=env,
                          timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr


def fake_wheelhouse(path, **manifest):
    """A folder holding only a wheelhouse.json: what install checks before it installs anything."""
    path.mkdir()
    m = {"format": 1, "python": PYTHON, "platform": sysconfig.get_platform(), "glibc": platform.libc_ver()[1],
         "torch": TORCH, "with_torch": False, "wheels": [], **manifest}
    (path / "wheelhouse.json").write_text(json.dumps(m))
    return path


def test_it_carries_the_requirements_but_torch_torchaudio_and_fairseq():
    lines = wheelhouse.wheelhouse_requirements(ROOT, "2.11.0", with_torch=False)
    names = {wheelhouse.canonical(line.split("==")[0]) for line in lines}
    assert {"sentencepiece", "hydra-core", "omegaconf", "numpy", "sacremoses"} <= names
    assert not names & {"torch", "torchaudio", "fairseq-fixed"}
    assert wheelhouse.wheelhouse_requirements(ROOT, "2.11.0", with_torch=True) == ["torch==2.11.0"] + lines
    assert wheelhouse.fairseq_pin(ROOT).startswith("fairseq-fixed==")
    assert wheelhouse.build_requirements(ROOT, "2.11.0")[0] == "torch==2.11.0"
    assert sum(line.startswith("torch") for line in wheelhouse.build_requirements(ROOT, "2.11.0")) == 1


def test_packages_the_target_has_are_left_to_it(tmp_path):
    """--target-has: `pip list --format=freeze` of the node; its packages (any version) are not carried,
    fairseq-fixed and torch's stack (carried only with --with-torch) are never left out."""
    (tmp_path / "node.txt").write_text("NumPy==2.5.2\nsentencepiece==0.2.2\ntorch==2.11.0\nfairseq-fixed==0.12.2\n"
                                       "-e git+https://example.org/x#egg=x\n# a comment\n")
    present = wheelhouse.present_names(str(tmp_path / "node.txt"))
    assert present == {"numpy", "sentencepiece", "torch", "fairseq-fixed"}
    work = tmp_path / "wh"
    work.mkdir()
    wheels = ["numpy-2.4.6-cp312-cp312-manylinux_2_27_x86_64.whl", "sentencepiece-0.2.1-cp312-cp312-linux_x86_64.whl",
              "hydra_core-1.3.2-py3-none-any.whl", "torch-2.11.0-cp312-cp312-manylinux_2_28_x86_64.whl",
              "fairseq_fixed-0.12.3.1-cp312-cp312-linux_x86_64.whl"]
    for w in wheels:
        (work / w).write_bytes(b"")
    lines, omitted = wheelhouse.omit_present(str(work), ["torch==2.11.0", "numpy==2.4.6", "hydra-core==1.3.2",
                                                         "sentencepiece==0.2.1"], present)
    assert omitted == {"numpy", "sentencepiece"} and lines == ["torch==2.11.0", "hydra-core==1.3.2"]
    assert sorted(os.listdir(work)) == sorted(wheels[2:])
    (tmp_path / "empty.txt").write_text("# nothing\n")
    with pytest.raises(wheelhouse.Refused, match="no package names"):
        wheelhouse.present_names(str(tmp_path / "empty.txt"))


def test_the_glibc_a_wheel_needs_is_read_from_its_extensions(tmp_path):
    """install refuses a target whose glibc is older than the newest GLIBC_x.y symbol version the
    compiled fairseq-fixed asks for (the build machine's own glibc may be newer)."""
    import zipfile

    with zipfile.ZipFile(tmp_path / "x-1-cp312-cp312-linux_x86_64.whl", "w") as z:
        z.writestr("x/a.cpython-312-x86_64-linux-gnu.so", b"\0memcpy@GLIBC_2.14\0GLIBC_2.2.5\0")
        z.writestr("x/b.cpython-312-x86_64-linux-gnu.so", b"\0GLIBC_2.32\0GLIBCXX_3.4.30\0")
        z.writestr("x/notes.txt", b"GLIBC_2.99")
    assert wheelhouse.required_glibc(str(tmp_path / "x-1-cp312-cp312-linux_x86_64.whl")) == "2.32"


def test_a_malformed_requirements_line_is_named(tmp_path):
    (tmp_path / "requirements.txt").write_text("numpy==2.4.6\n\n-e ./here\n")
    with pytest.raises(wheelhouse.Refused, match=r"requirements.txt:3: expected a requirement"):
        wheelhouse.wheelhouse_requirements(str(tmp_path), "2.11.0", with_torch=False)


def test_install_refuses_a_folder_that_is_not_a_wheelhouse(tmp_path):
    code, _, err = script("install", tmp_path)
    assert code == 2 and err.strip() == f"error: {tmp_path}: no wheelhouse.json: not a folder written by " \
                                        "`wheelhouse.py build`"


def test_install_refuses_another_python_or_torch(tmp_path):
    code, _, err = script("install", fake_wheelhouse(tmp_path / "a", python="3.99"))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "the wheelhouse is for Python 3.99" in err
    code, _, err = script("install", fake_wheelhouse(tmp_path / "b", torch="1.0.0"))
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"has torch {torch.__version__}; the wheelhouse's fairseq-fixed is compiled against torch 1.0.0" in err
    assert f"build one with --torch {TORCH}" in err
    code, _, err = script("install", fake_wheelhouse(tmp_path / "c", glibc="99.0"))
    assert code == 2 and "older than the 99.0 that the compiled fairseq-fixed needs" in err


def test_build_refuses_a_folder_of_other_files_and_a_missing_python(tmp_path):
    (tmp_path / "mine.txt").write_text("keep me")
    code, _, err = script("build", "--python", sys.executable, "--torch", TORCH, "--out", tmp_path)
    assert code == 2 and "holds files and no wheelhouse.json: not a wheelhouse" in err
    assert (tmp_path / "mine.txt").read_text() == "keep me"
    code, _, err = script("build", "--python", tmp_path / "nope", "--torch", TORCH, "--out", tmp_path / "w")
    assert code == 2 and "cannot run it" in err and not (tmp_path / "w").exists()
    code, _, err = script("build", "--python", sys.executable, "--torch", "2.13", "--out", tmp_path / "w")
    assert code == 2 and err.strip().startswith("error: --torch 2.13: expected a release such as 2.11.0")
    assert not (tmp_path / "w").exists() and os.listdir(tmp_path) == ["mine.txt"]


@pytest.mark.slow  # builds a venv, downloads every requirement from the registry and compiles fairseq-fixed
def test_built_wheelhouse_installs_offline_and_runs_the_gpu_check(tmp_path):
    out = tmp_path / "wh"
    code, stdout, err = script("build", "--python", sys._base_executable, "--torch", TORCH, "--with-torch",
                               "--out", out, timeout=1800)
    assert code == 0, err[-3000:]
    m = json.loads((out / "wheelhouse.json").read_text())
    assert m["python"] == PYTHON and m["torch"] == TORCH and (out / "wheelhouse.py").is_file()
    assert len([w for w in m["wheels"] if w.startswith("fairseq_fixed-")]) == 1
    assert not [w for w in m["wheels"] if w.startswith("torchaudio")]
    subprocess.run([sys._base_executable, "-m", "venv", tmp_path / "env"], check=True)
    py = str(tmp_path / "env" / "bin" / "python")
    proc = subprocess.run([py, str(out / "wheelhouse.py"), "install", str(out)], capture_output=True, text=True,
                          timeout=1800)
    assert proc.returncode == 0 and "fairseq and its compiled extensions import" in proc.stdout, proc.stderr[-3000:]
    env = dict(os.environ, XTUNE_PYTHON=py, OMP_NUM_THREADS="1")
    check = subprocess.run(["bash", os.path.join(ROOT, "scripts", "gpu-check.sh"), "--device", "cpu", "--tiny"],
                           capture_output=True, text=True, env=env, timeout=1800)
    assert check.returncode == 0, check.stdout + check.stderr[-3000:]
    assert f"[gpu-check] python: {py}" in check.stderr
    assert "| two-stage pipeline, tiny model | fp32 |" in check.stdout and "**FAILED**" not in check.stdout
