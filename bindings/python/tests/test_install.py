"""The package as pip installs it: `pip install bindings/python` in a fresh
venv builds the dlopen variant of the library with cargo into the package,
which then works with no environment variable; `pip wheel` gives a wheel with
the platform tag auditwheel agrees with; the sdist carries the crate.

cargo runs in CARGO_TARGET_DIR (the backend's default: the repository's
target/python), so after the first build a run takes seconds. With
GRAPHBIT_ALLOC_BUILD_LIB set (a built dlopen library), the package bundles
that one and cargo does not run.
"""

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile

import pytest

import graphbit_alloc as gb

SOURCE = pathlib.Path(__file__).resolve().parents[1]  # bindings/python
REPO = SOURCE.parents[1]
LIBRARY = "libgraphbit_alloc_dlopen.so"
sys.path.insert(0, str(SOURCE))
import gb_build_backend  # noqa: E402  (the backend's own helpers)

sys.path.remove(str(SOURCE))


# What `pip install bindings/python` builds: the crate's default backend,
# whichever one the library under test ($GB_EXPECT_BACKEND) has.
DEFAULT_BACKEND = ("jemalloc" if sys.platform.startswith("linux")
                   else "mimalloc" if sys.platform in ("darwin", "win32") else "system")


def clean_env(**extra):
    """The environment without the variables that would point Python at the
    source tree or at another library (or expect another backend)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("GRAPHBIT_ALLOC_LIB", "PYTHONPATH", "GB_TEST_INSTALLED",
                        "GB_EXPECT_BACKEND")}
    env.setdefault("CARGO_TARGET_DIR", str(REPO / "target" / "python"))
    env.update(extra)
    return env


def run(command, env, cwd, timeout=900):
    result = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, (
        f"{' '.join(map(str, command))} exited {result.returncode}\n"
        f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """A fresh venv with the package pip-installed from bindings/python (the
    in-tree build that `python3 -m pip install ./bindings/python` does).
    A .pth file lends it this interpreter's packages (pip, pytest, numpy),
    after its own site-packages; --ignore-installed installs the package
    into the venv whatever this interpreter has."""
    root = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True,
                   timeout=120)
    python = root / "bin" / "python"
    env = clean_env()
    own = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
              env, root).stdout.strip()
    lent = [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
    (pathlib.Path(own) / "_gb_test_lent.pth").write_text("\n".join(lent) + "\n")
    run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--ignore-installed", str(SOURCE)], env, root)
    return python


def venv_python(python, code, cwd, **extra):
    return run([python, "-c", code], clean_env(**extra), cwd, timeout=120).stdout


def test_installed_package_uses_its_library(venv, tmp_path):
    out = venv_python(venv, (
        "import json, sysconfig, graphbit_alloc as gb\n"
        "print(json.dumps({'file': gb.__file__, 'lib': gb.library().path,\n"
        "    'name': gb.allocator_name(), 'verify': gb.verify(),\n"
        "    'platlib': sysconfig.get_paths()['platlib']}))\n"), tmp_path)
    found = json.loads(out)
    package = pathlib.Path(found["platlib"]) / "graphbit_alloc"
    assert pathlib.Path(found["file"]) == package / "__init__.py", found
    assert str(venv.parent.parent) in found["platlib"], found
    assert pathlib.Path(found["lib"]) == package / LIBRARY, found
    assert found["verify"] is True, found
    by_cargo = not os.environ.get("GRAPHBIT_ALLOC_BUILD_LIB")
    if by_cargo and not os.environ.get("GRAPHBIT_ALLOC_CARGO_ARGS"):
        assert found["name"] == DEFAULT_BACKEND, found
    # The bundled library is the dlopen variant, executable, and (built by
    # cargo here) without debug information.
    bundled = package / LIBRARY
    assert os.access(bundled, os.X_OK)
    info = gb_build_backend._elf(bundled)
    assert info["soname"].startswith("libgraphbit_alloc_dlopen.so."), info
    if by_cargo:
        assert bundled.stat().st_size < 8 << 20, bundled.stat().st_size


def test_env_var_overrides_bundled_library(venv, tmp_path):
    other = tmp_path / "elsewhere" / LIBRARY
    other.parent.mkdir()
    shutil.copy(gb.library().path, other)
    out = venv_python(venv, "import graphbit_alloc as gb; print(gb.library().path)", tmp_path,
                      GRAPHBIT_ALLOC_LIB=str(other))
    assert out.strip() == str(other)


def test_binding_tests_pass_against_installed_package(venv, tmp_path):
    # The other test files, run by the venv's Python on the installed package
    # (conftest.py: GB_TEST_INSTALLED=1), with its bundled library.
    tests = [str(p) for p in sorted((SOURCE / "tests").glob("test_*.py"))
             if p.name != "test_install.py"]
    result = run([venv, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests],
                 clean_env(GB_TEST_INSTALLED="1"), tmp_path, timeout=600)
    assert re.search(r"\d+ passed", result.stdout), result.stdout
    assert "failed" not in result.stdout.splitlines()[-1], result.stdout


def test_wheel_is_tagged_as_auditwheel_says(tmp_path):
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "-w", str(tmp_path), str(SOURCE)], clean_env(), tmp_path)
    (wheel,) = tmp_path.glob("*.whl")
    tags = wheel.name[:-len(".whl")].split("-")[2:]
    assert tags[:2] == ["py3", "none"], wheel.name
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        meta = z.read("graphbit_alloc-0.1.0.dist-info/WHEEL").decode()
        lib_mode = z.getinfo(f"graphbit_alloc/{LIBRARY}").external_attr >> 16
    assert f"graphbit_alloc/{LIBRARY}" in names and "graphbit_alloc/numpy.py" in names, names
    assert "Root-Is-Purelib: false" in meta, meta
    platforms = tags[2].split(".")
    assert [f"Tag: py3-none-{p}" for p in platforms] == re.findall(r"^Tag: .*$", meta, re.M)
    assert lib_mode & 0o111, oct(lib_mode)
    if not sys.platform.startswith("linux"):
        return
    # auditwheel (requirements-test.txt) reads the library's needed libraries
    # and symbol versions as the backend did, and must agree on the tag.
    try:
        import auditwheel  # noqa: F401
    except ImportError:
        pytest.fail("auditwheel is missing: pip install -r bindings/python/requirements-test.txt")
    show = subprocess.run([sys.executable, "-m", "auditwheel", "show", str(wheel)],
                          capture_output=True, text=True, timeout=120)
    assert show.returncode == 0, show.stdout + show.stderr
    text = " ".join(show.stdout.split())
    consistent = re.search(r'consistent with the following platform tag: "([^"]+)"', text)
    assert consistent, text
    if platforms[0].startswith("manylinux"):
        assert consistent.group(1) in platforms, (platforms, text)
    else:
        assert consistent.group(1).startswith("linux_"), (platforms, text)


def test_sdist_carries_the_crate(tmp_path):
    name = gb_build_backend.build_sdist(str(tmp_path))
    with tarfile.open(tmp_path / name) as tar:
        members = {m.name.split("/", 1)[1] for m in tar.getmembers()}
    for needed in ("pyproject.toml", "gb_build_backend.py", "PKG-INFO", "graphbit_alloc/numpy.py",
                   "graphbit_alloc/__init__.py", "rust/Cargo.toml", "rust/Cargo.lock",
                   "rust/build.rs", "rust/src/lib.rs", "rust/backend-auto/Cargo.toml",
                   "rust/.cargo/config.toml"):
        assert needed in members, needed
    assert not any(".so" in m or "/target/" in m or m.startswith("tests/") for m in members)


def test_wheel_builds_from_the_sdist(tmp_path):
    # What pip does with the sdist on a machine without the repository:
    # extract it and build a wheel there (offline: cargo has the crates), the
    # library built by cargo from the sdist's rust/.
    name = gb_build_backend.build_sdist(str(tmp_path))
    with tarfile.open(tmp_path / name) as tar:
        tar.extractall(tmp_path / "src", filter="data")
    (source,) = (tmp_path / "src").iterdir()
    manifest = (source / "rust" / "Cargo.toml").read_text()
    assert 'members = [".", "backend-auto"]' in manifest, manifest
    wheels = tmp_path / "wheels"
    env = clean_env(CARGO_NET_OFFLINE="true")
    env.pop("GRAPHBIT_ALLOC_BUILD_LIB", None)  # cargo must build it
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "-w", str(wheels), str(source)], env, tmp_path)
    (wheel,) = wheels.glob("*.whl")
    with zipfile.ZipFile(wheel) as z:
        library = z.read(f"graphbit_alloc/{LIBRARY}")
    assert library.startswith(b"\x7fELF"), library[:4]
    assert b"libgraphbit_alloc_dlopen.so." in library


def test_backend_refuses_the_initial_exec_library(tmp_path, monkeypatch):
    # A copy of the dlopen library renamed (SONAME) to the default variant's.
    data = pathlib.Path(gb.library().path).read_bytes()
    soname = gb_build_backend._elf(gb.library().path)["soname"].encode()
    other = soname.replace(b"_dlopen", b"")
    assert data.count(soname + b"\0") == 1
    fake = tmp_path / "libgraphbit_alloc.so"
    fake.write_bytes(data.replace(soname + b"\0", other + b"\0" * (len(soname) - len(other) + 1)))
    assert gb_build_backend._elf(fake)["soname"] == other.decode()
    with pytest.raises(RuntimeError, match="not the dlopen variant"):
        gb_build_backend._library({"lib": str(fake)})
    assert gb_build_backend._library({"lib": gb.library().path}).is_file()
    assert gb_build_backend._library({"lib": "none"}) is None
    monkeypatch.setenv("CARGO", str(tmp_path / "no-cargo"))
    monkeypatch.delenv("GRAPHBIT_ALLOC_BUILD_LIB", raising=False)
    with pytest.raises(RuntimeError, match="not an executable"):
        gb_build_backend._library({"lib": "cargo"})
    monkeypatch.setattr(gb_build_backend, "_cmake_library", lambda: None)
    with pytest.raises(RuntimeError, match="not an executable"):
        gb_build_backend._library({})


def no_rust_env(tmp_path, **extra):
    """The environment of a machine without Rust: no cargo on PATH, none in
    CARGO_HOME or HOME, CARGO pointing nowhere."""
    path = os.pathsep.join(d for d in ("/usr/bin", "/bin")
                           if not os.path.exists(os.path.join(d, "cargo")))
    env = clean_env(PATH=path, HOME=str(tmp_path), CARGO_HOME=str(tmp_path / "no-cargo-home"),
                    CARGO=str(tmp_path / "no-cargo"), **extra)
    env.pop("CARGO_TARGET_DIR", None)
    assert shutil.which("cargo", path=path) is None, path
    return env


def test_pip_learns_the_version_without_cargo(tmp_path):
    # pip's metadata step uses prepare_metadata_for_build_wheel: with no cargo
    # anywhere and nothing built, `pip install --dry-run` still resolves it.
    report = tmp_path / "report.json"
    run([sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "--no-build-isolation",
         "--no-index", "--ignore-installed", "--report", str(report), str(SOURCE)],
        no_rust_env(tmp_path, GRAPHBIT_ALLOC_BUILD_LIB="cargo"), tmp_path)
    installs = json.loads(report.read_text())["install"]
    assert [(i["metadata"]["name"], i["metadata"]["version"]) for i in installs] == [
        ("graphbit-alloc", gb_build_backend._project()["version"])]
    meta = tmp_path / "meta"
    dist_info = gb_build_backend.prepare_metadata_for_build_wheel(str(meta))
    text = (meta / dist_info / "METADATA").read_text()
    assert dist_info == f"graphbit_alloc-{gb_build_backend._project()['version']}.dist-info"
    assert "Name: graphbit-alloc" in text


def test_cmake_library_is_bundled_when_fresh(tmp_path, monkeypatch):
    builds = [REPO / "build" / preset / "lib" / LIBRARY for preset in gb_build_backend.CMAKE_PRESETS]
    builds = [b for b in builds if b.is_file()]
    if not builds:
        pytest.skip("no CMake build in build/default or build/test"
                    " (cmake --preset default && cmake --build --preset default)")
    monkeypatch.delenv("GRAPHBIT_ALLOC_BUILD_LIB", raising=False)
    monkeypatch.delenv("GRAPHBIT_ALLOC_CARGO_ARGS", raising=False)
    found = gb_build_backend._cmake_library()
    newest = max(p.stat().st_mtime for p in (REPO / "src").rglob("*") if p.is_file())
    fresh = [b for b in builds if b.stat().st_mtime >= newest]
    if not fresh:
        assert found is None  # stale: cargo builds instead
        return
    built = fresh[0]
    assert found == built
    monkeypatch.setenv("CARGO", str(tmp_path / "no-cargo"))  # cargo must not run
    assert gb_build_backend._library({}) == built
    # With cargo arguments (another backend, say) CMake's library is not the one.
    with pytest.raises(RuntimeError, match="not an executable"):
        gb_build_backend._library({"cargo-args": "--features backend-system"})
    name, data, _ = gb_build_backend._lib_member(built)
    assert name == f"graphbit_alloc/{LIBRARY}" and data[:4] == b"\x7fELF"
    if shutil.which("strip"):
        assert len(data) < built.stat().st_size


def test_wheel_installs_and_runs_without_rust(tmp_path):
    """`pip wheel ./bindings/python` once, then `pip install` of the wheel in a
    fresh venv on a PATH without cargo: the package imports, allocates from
    the library inside it, and says it is typed (py.typed)."""
    wheels = tmp_path / "wheels"
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "-w", str(wheels), str(SOURCE)], clean_env(), tmp_path)
    (wheel,) = wheels.glob("graphbit_alloc-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
    assert f"graphbit_alloc/{LIBRARY}" in names and "graphbit_alloc/py.typed" in names, names

    root = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, timeout=120)
    python = root / "bin" / "python"
    env = no_rust_env(tmp_path)
    env["PATH"] = f"{root / 'bin'}{os.pathsep}{env['PATH']}"
    own = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
              env, tmp_path).stdout.strip()
    # pip itself, lent from this interpreter (the venv has none).
    pip_home = pathlib.Path(__import__("pip").__file__).parents[1]
    (pathlib.Path(own) / "_gb_test_pip.pth").write_text(f"{pip_home}\n")
    run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)], env, tmp_path)
    out = run([python, "-c", (
        "import json, pathlib, graphbit_alloc as gb\n"
        "b = gb.Buffer(64)\n"
        "with b.view() as v: v[:5] = b'wheel'\n"
        "print(json.dumps({'path': gb.library().path, 'bytes': bytes(b)[:5].decode(),"
        " 'verify': gb.verify(), 'typed': (pathlib.Path(gb.__file__).parent / 'py.typed').is_file()}))\n"
        "b.free()\n")], env, tmp_path).stdout
    found = json.loads(out)
    assert found["path"].startswith(own), found
    assert found == {**found, "bytes": "wheel", "verify": True, "typed": True}
