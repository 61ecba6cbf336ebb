"""The PEP 517 build backend of the graphbit_alloc package (in-tree, stdlib only).

The package is pure Python, so building it is zipping its files: this backend
needs neither setuptools nor wheel, and so `pip install bindings/python` works
offline, with or without build isolation, on a machine that has only pip
(setuptools before 70.1 needs the separate `wheel` package to build a wheel
and fails with "invalid command 'bdist_wheel'" without it).

The metadata comes from pyproject.toml's [project] table. The wheel holds
graphbit_alloc/ (the .py files, and a libgraphbit_alloc.so* placed there,
which the package finds first after $GRAPHBIT_ALLOC_LIB).
"""

import base64
import hashlib
import io
import os
import pathlib
import re
import tarfile
import zipfile

HERE = pathlib.Path(__file__).resolve().parent
PACKAGE = "graphbit_alloc"


def _project():
    text = (HERE / "pyproject.toml").read_text(encoding="utf-8")
    try:
        import tomllib  # Python 3.11+
    except ImportError:
        try:
            import tomli as tomllib
        except ImportError:
            tomllib = None
    if tomllib is not None:
        return tomllib.loads(text)["project"]
    # Older Pythons without tomli: the simple `key = "value"` lines of [project].
    table = text.split("[project]", 1)[1].split("\n[", 1)[0]
    project = {k: v for k, v in re.findall(r'^([\w-]+)\s*=\s*"([^"]*)"', table, flags=re.M)}
    license_text = re.search(r'^license\s*=\s*\{\s*text\s*=\s*"([^"]*)"', table, flags=re.M)
    if license_text:
        project["license"] = {"text": license_text.group(1)}
    project["classifiers"] = re.findall(r'"([^"]+ :: [^"]+)"', table)
    return project


def _metadata():
    p = _project()
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {p['name']}",
        f"Version: {p['version']}",
    ]
    if p.get("description"):
        lines.append(f"Summary: {p['description']}")
    if p.get("requires-python"):
        lines.append(f"Requires-Python: {p['requires-python']}")
    if isinstance(p.get("license"), dict) and p["license"].get("text"):
        lines.append(f"License: {p['license']['text']}")
    lines += [f"Classifier: {c}" for c in p.get("classifiers", [])]
    body = ""
    if p.get("readme"):
        lines.append("Description-Content-Type: text/markdown")
        body = "\n" + (HERE / p["readme"]).read_text(encoding="utf-8")
    return p, "\n".join(lines) + "\n" + body


def _dist_name(p):
    return re.sub(r"[-_.]+", "_", p["name"]).lower() + "-" + p["version"]


def _package_files():
    for path in sorted((HERE / PACKAGE).rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            yield path, path.relative_to(HERE).as_posix()


def _write_wheel(directory, files):
    """files: [(archive name, bytes)]; writes the wheel with its RECORD."""
    p, metadata = _metadata()
    dist_info = _dist_name(p) + ".dist-info"
    files = list(files) + [
        (f"{dist_info}/METADATA", metadata.encode()),
        (
            f"{dist_info}/WHEEL",
            b"Wheel-Version: 1.0\nGenerator: gb_build_backend\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n",
        ),
    ]
    record = []
    for name, data in files:
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append(f"{dist_info}/RECORD,,")
    files.append((f"{dist_info}/RECORD", ("\n".join(record) + "\n").encode()))
    wheel = _dist_name(p) + "-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(directory, wheel), "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return wheel


# --- PEP 517 / PEP 660 hooks ------------------------------------------------


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    return _write_wheel(wheel_directory, [(name, path.read_bytes()) for path, name in _package_files()])


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    # A .pth file puts this directory (which holds graphbit_alloc/) on sys.path.
    return _write_wheel(wheel_directory, [(f"__editable__.{PACKAGE}.pth", f"{HERE}\n".encode())])


def build_sdist(sdist_directory, config_settings=None):
    p, metadata = _metadata()
    root = _dist_name(p)
    name = root + ".tar.gz"
    members = [("PKG-INFO", metadata.encode())]
    for extra in ("pyproject.toml", "README.md", "gb_build_backend.py"):
        members.append((extra, (HERE / extra).read_bytes()))
    members += [(n, path.read_bytes()) for path, n in _package_files() if ".so" not in n]
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz", format=tarfile.PAX_FORMAT) as tar:
        for member, data in members:
            info = tarfile.TarInfo(f"{root}/{member}")
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return name
