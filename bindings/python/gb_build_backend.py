"""The PEP 517 build backend of the graphbit_alloc package (in-tree, stdlib only).

The package is Python over ctypes plus one shared library, the dlopen variant
of graphbit-alloc (libgraphbit_alloc_dlopen.so), which this backend builds with
cargo and puts inside the package:

    cargo rustc --lib --release --features dlopen,global-allocator --crate-type cdylib

run in the crate (the repository root, two levels up; or rust/ in an sdist),
with CARGO_TARGET_DIR, when not set, the crate's target/python (so pip
rebuilds incrementally, and a developer's target/release is left alone) and
CARGO_PROFILE_RELEASE_STRIP, when not set, "debuginfo" (1.2 MB instead of
16 MB; symbols stay). Nothing else is needed: no setuptools, no wheel, no
Python build requirements, so `pip install --no-build-isolation` works
offline once cargo has the crates (crates.io otherwise).

Without a setting, a dlopen library that CMake already built in the
repository (build/default/lib/, `cmake --build --preset default`, else
build/test/lib/ of `cmake --workflow --preset test`) is bundled
when it is newer than every source file of the crate, and cargo does not run;
otherwise cargo builds one. The wheel installs and runs without Rust.

Settings (pip's --config-settings KEY=VALUE, or the environment variable):

  lib=PATH    GRAPHBIT_ALLOC_BUILD_LIB=PATH   bundle this already built dlopen
              library instead of running cargo (e.g. CMake's)
  lib=cargo   GRAPHBIT_ALLOC_BUILD_LIB=cargo  build with cargo even where
              CMake's library is there
  lib=none    GRAPHBIT_ALLOC_BUILD_LIB=none   no library: a py3-none-any wheel
              that loads $GRAPHBIT_ALLOC_LIB or the system's library
  cargo-args=ARGS  GRAPHBIT_ALLOC_CARGO_ARGS=ARGS   more cargo arguments, e.g.
              "--no-default-features --features backend-mimalloc" (global-allocator
              is always on: the library's own Rust allocations on the backend)
  CARGO=PATH  the cargo to run (else cargo on PATH, else ~/.cargo/bin/cargo)

The wheel's tag is py3-none-PLATFORM (the Python code runs on any Python 3;
the library does not use Python's ABI). On Linux the platform is the
manylinux tag that the library's ELF dependencies allow (every needed library
in the manylinux set, glibc symbol versions at most 2.N: manylinux_2_N, the
same rule as auditwheel's; tests/test_install.py checks it with auditwheel),
and linux_ARCH otherwise.
"""

import base64
import hashlib
import io
import json
import os
import pathlib
import platform
import re
import shlex
import shutil
import struct
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import zipfile

HERE = pathlib.Path(__file__).resolve().parent
PACKAGE = "graphbit_alloc"
LIBRARY = "libgraphbit_alloc_dlopen.so"
CRATE = "graphbit-alloc"


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
    extras = text.split("[project.optional-dependencies]", 1)
    if len(extras) == 2:
        body = extras[1].split("\n[", 1)[0]
        project["optional-dependencies"] = {
            k: re.findall(r'"([^"]+)"', v)
            for k, v in re.findall(r"^([\w-]+)\s*=\s*\[([^\]]*)\]", body, flags=re.M)
        }
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
    for extra, requirements in p.get("optional-dependencies", {}).items():
        lines.append(f"Provides-Extra: {extra}")
        lines += [f'Requires-Dist: {r}; extra == "{extra}"' for r in requirements]
    body = ""
    if p.get("readme"):
        lines.append("Description-Content-Type: text/markdown")
        body = "\n" + (HERE / p["readme"]).read_text(encoding="utf-8")
    return p, "\n".join(lines) + "\n" + body


def _dist_name(p):
    return re.sub(r"[-_.]+", "_", p["name"]).lower() + "-" + p["version"]


def _package_files():
    """The package's own files (a library left in the source tree, e.g. by an
    editable install, is not one: the wheel gets the one built for it)."""
    for path in sorted((HERE / PACKAGE).rglob("*")):
        if (path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
                and not path.name.startswith("libgraphbit_alloc")):
            yield path, path.relative_to(HERE).as_posix()


# --- the library -------------------------------------------------------------


def _setting(config_settings, key, env):
    value = (config_settings or {}).get(key)
    if isinstance(value, list):  # pip passes a repeated key as a list
        value = value[-1]
    return value if value is not None else os.environ.get(env)


def _crate_dir():
    for candidate in (HERE / "rust", HERE.parent.parent):
        manifest = candidate / "Cargo.toml"
        if manifest.is_file() and re.search(
                r'^name\s*=\s*"graphbit-alloc"', manifest.read_text(encoding="utf-8"), re.M):
            return candidate
    raise RuntimeError(
        f"gb_build_backend: graphbit-alloc's Cargo.toml is neither at {HERE / 'rust'} nor at "
        f"{HERE.parent.parent}; build from the repository (pip install bindings/python), or "
        f"set GRAPHBIT_ALLOC_BUILD_LIB to a built libgraphbit_alloc_dlopen.so (or to none)")


def _cargo():
    cargo = os.environ.get("CARGO") or shutil.which("cargo")
    if cargo and not shutil.which(cargo):
        raise RuntimeError(f"gb_build_backend: CARGO={cargo} is not an executable")
    if not cargo:
        home = pathlib.Path(os.environ.get("CARGO_HOME", pathlib.Path.home() / ".cargo"))
        if (home / "bin" / "cargo").is_file():
            cargo = str(home / "bin" / "cargo")
    if not cargo:
        raise RuntimeError(
            "gb_build_backend: cargo not found (install Rust 1.81 or later, e.g. with rustup; "
            "or set CARGO, or GRAPHBIT_ALLOC_BUILD_LIB to a built libgraphbit_alloc_dlopen.so)")
    return cargo


def _cargo_build(config_settings):
    """Builds the dlopen variant with cargo; returns the path of the library."""
    crate = _crate_dir()
    env = dict(os.environ)
    env.setdefault("CARGO_TARGET_DIR", str(crate / "target" / "python"))
    env.setdefault("CARGO_PROFILE_RELEASE_STRIP", "debuginfo")
    command = [
        _cargo(), "rustc", "--lib", "--release",
        "--manifest-path", str(crate / "Cargo.toml"),
        "--features", "dlopen,global-allocator", "--crate-type", "cdylib",
        "--message-format", "json-render-diagnostics",
    ]
    command += shlex.split(_setting(config_settings, "cargo-args", "GRAPHBIT_ALLOC_CARGO_ARGS") or "")
    print(f"gb_build_backend: {shlex.join(command)} (CARGO_TARGET_DIR={env['CARGO_TARGET_DIR']})",
          file=sys.stderr, flush=True)
    # From the crate, so that cargo reads its .cargo/config.toml (as CMake does).
    # stdout carries cargo's JSON messages; its progress goes to stderr.
    run = subprocess.run(command, cwd=crate, env=env, stdout=subprocess.PIPE, text=True)
    built = []
    for line in run.stdout.splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if (message.get("reason") == "compiler-artifact"
                and message.get("target", {}).get("name") == "graphbit_alloc"
                and "cdylib" in message["target"].get("crate_types", [])):
            built += [f for f in message.get("filenames", [])
                      if re.search(r"\.(so|dylib|dll)$", f)]
    if run.returncode != 0:
        raise RuntimeError(f"gb_build_backend: cargo failed ({run.returncode}): {shlex.join(command)}")
    if not built:
        raise RuntimeError("gb_build_backend: cargo reported no shared library for graphbit_alloc")
    return pathlib.Path(built[-1])


# The repository's CMake builds whose library may be bundled, in this order:
# preset default's (the install build), then preset test's (the build of
# `cmake --workflow --preset test`).
CMAKE_PRESETS = ("default", "test")


def _cmake_library():
    """The dlopen library of the repository's CMake build (CMAKE_PRESETS),
    the first there and newer than every file cargo builds it from; else
    None."""
    crate = HERE.parent.parent
    libraries = [crate / "build" / preset / "lib" / LIBRARY for preset in CMAKE_PRESETS]
    libraries = [library for library in libraries if library.is_file()]
    if not libraries or not (crate / "Cargo.toml").is_file():
        return None
    sources = [crate / name for name in ("Cargo.toml", "Cargo.lock", "build.rs")]
    for directory in ("src", "backend-auto", "include"):
        sources += [p for p in (crate / directory).rglob("*") if p.is_file()]
    newest = max((p.stat().st_mtime for p in sources if p.is_file()), default=0)
    for library in libraries:
        if newest <= library.stat().st_mtime:
            return library
        print(f"gb_build_backend: {library} is older than the crate's sources",
              file=sys.stderr, flush=True)
    print("gb_build_backend: building with cargo", file=sys.stderr, flush=True)
    return None


def _library(config_settings):
    """(path of the library to bundle, or None for a wheel without one)."""
    chosen = _setting(config_settings, "lib", "GRAPHBIT_ALLOC_BUILD_LIB")
    if chosen and chosen.lower() == "none":
        return None
    if chosen and chosen.lower() == "cargo":
        path = _cargo_build(config_settings)
    elif chosen:
        path = pathlib.Path(chosen).resolve()
    else:
        # CMake's library is the default backend's: not with cargo arguments.
        path = None
        if not _setting(config_settings, "cargo-args", "GRAPHBIT_ALLOC_CARGO_ARGS"):
            path = _cmake_library()
        if path is not None:
            print(f"gb_build_backend: bundling {path} (CMake's build; cargo does not run)",
                  file=sys.stderr, flush=True)
        else:
            path = _cargo_build(config_settings)
    if not path.is_file():
        raise RuntimeError(f"gb_build_backend: no library at {path}")
    soname = _elf(path).get("soname") if _is_elf(path) else None
    if soname and not soname.startswith("libgraphbit_alloc_dlopen.") \
            and not soname.startswith("libgraphbit_alloc_checked."):
        raise RuntimeError(
            f"gb_build_backend: {path} is {soname}, not the dlopen variant: Python loads the "
            f"library with dlopen, which the initial-exec build cannot be on jemalloc "
            f"(build it with `cargo build --release --features dlopen,global-allocator`)")
    return path


# --- ELF: what the library needs, for the platform tag -----------------------

_SHT_DYNAMIC, _SHT_GNU_VERNEED = 6, 0x6FFFFFFE
_DT_NEEDED, _DT_SONAME = 1, 14
_EM_ARCH = {62: "x86_64", 3: "i686", 183: "aarch64", 21: "ppc64le", 22: "s390x", 40: "armv7l"}
# Libraries every manylinux policy (2014 and later) lets a wheel need from the
# system, and the dynamic loaders (auditwheel ignores those).
_MANYLINUX_LIBS = {
    "libc.so.6", "libm.so.6", "libdl.so.2", "libpthread.so.0", "librt.so.1", "libutil.so.1",
    "libresolv.so.2", "libnsl.so.1", "libgcc_s.so.1", "libstdc++.so.6",
}
_LOADERS = re.compile(r"^(ld-linux[\w.-]*\.so\.\d+|ld64\.so\.[12])$")
# Highest symbol versions that manylinux2014 (glibc 2.17, GCC 4.8) allows
# outside glibc; glibc's own decide the tag.
_MANYLINUX_LIMITS = {"GCC": (4, 8, 0), "GLIBCXX": (3, 4, 19), "CXXABI": (1, 3, 7)}


def _is_elf(path):
    with open(path, "rb") as f:
        return f.read(4) == b"\x7fELF"


def _elf(path):
    """{machine, soname, needed: [..], versions: {library: {version names}}}."""
    data = pathlib.Path(path).read_bytes()
    if data[:4] != b"\x7fELF":
        raise ValueError(f"{path} is not an ELF file")
    wide = data[4] == 2
    end = "<" if data[5] == 1 else ">"
    machine = struct.unpack_from(end + "H", data, 18)[0]
    if wide:
        shoff, = struct.unpack_from(end + "Q", data, 0x28)
        shentsize, shnum = struct.unpack_from(end + "HH", data, 0x3A)
    else:
        shoff, = struct.unpack_from(end + "I", data, 0x20)
        shentsize, shnum = struct.unpack_from(end + "HH", data, 0x2E)
    sections = []
    for i in range(shnum):
        at = shoff + i * shentsize
        if wide:
            _, kind, _, _, offset, size, link, _, _, entsize = struct.unpack_from(
                end + "IIQQQQIIQQ", data, at)
        else:
            _, kind, _, _, offset, size, link, _, _, entsize = struct.unpack_from(
                end + "IIIIIIIIII", data, at)
        sections.append((kind, offset, size, link, entsize))

    def string(section, offset):
        start = sections[section][1] + offset
        return data[start:data.index(b"\0", start)].decode()

    info = {"machine": machine, "little": end == "<", "soname": None, "needed": [], "versions": {}}
    for kind, offset, size, link, entsize in sections:
        if kind == _SHT_DYNAMIC:
            form = end + ("qQ" if wide else "iI")
            for at in range(offset, offset + size, struct.calcsize(form)):
                tag, value = struct.unpack_from(form, data, at)
                if tag == _DT_NEEDED:
                    info["needed"].append(string(link, value))
                elif tag == _DT_SONAME:
                    info["soname"] = string(link, value)
                elif tag == 0:
                    break
        elif kind == _SHT_GNU_VERNEED:
            at = offset
            while True:
                _, count, file, aux, following = struct.unpack_from(end + "HHIII", data, at)
                names = info["versions"].setdefault(string(link, file), set())
                entry = at + aux
                for _ in range(count):
                    _, _, _, name, step = struct.unpack_from(end + "IHHII", data, entry)
                    names.add(string(link, name))
                    entry += step
                if not following:
                    break
                at += following
    return info


def _version(text):
    return tuple(int(part) for part in text.split("."))


def _manylinux(path, arch):
    """The manylinux tags the library allows, or [] (with the reason)."""
    if platform.libc_ver()[0] != "glibc":
        return [], "not built against glibc"
    info = _elf(path)
    if _EM_ARCH.get(info["machine"]) != arch or (arch == "ppc64le" and not info["little"]):
        return [], f"ELF machine {info['machine']} is not {arch}"
    foreign = [n for n in info["needed"] if n not in _MANYLINUX_LIBS and not _LOADERS.match(n)]
    if foreign:
        return [], f"needs {', '.join(foreign)}, outside the manylinux set"
    glibc = (2, 17)
    for library, names in info["versions"].items():
        for name in names:
            family, _, number = name.partition("_")
            if not re.fullmatch(r"\d+(\.\d+)*", number):
                return [], f"needs {name} from {library}"
            if family == "GLIBC":
                glibc = max(glibc, _version(number)[:2])
            elif family not in _MANYLINUX_LIMITS or _version(number) > _MANYLINUX_LIMITS[family]:
                return [], f"needs {name} from {library}"
    if glibc[0] != 2:
        return [], f"needs glibc {glibc}"
    tags = [f"manylinux_2_{glibc[1]}_{arch}"]
    if glibc <= (2, 17):
        tags.append(f"manylinux2014_{arch}")
    return tags, None


def _platform_tags(library):
    """The wheel's platform tags: manylinux_2_N_ARCH where the library allows
    it, else the build platform's own (linux_x86_64, macosx_..., win_amd64)."""
    if library is None:
        return ["any"]
    own = re.sub(r"[-.]", "_", sysconfig.get_platform())
    if own.startswith("linux_") and _is_elf(library):
        arch = own[len("linux_"):]
        tags, why = _manylinux(library, arch)
        if tags:
            return tags
        print(f"gb_build_backend: tag {own}, not manylinux: the library {why}", file=sys.stderr)
    return [own]


# --- the wheel ---------------------------------------------------------------


def _write_wheel(directory, files, platforms):
    """files: [(archive name, bytes, mode)]; writes the wheel with its RECORD."""
    p, metadata = _metadata()
    dist_info = _dist_name(p) + ".dist-info"
    purelib = platforms == ["any"]
    tags = [f"py3-none-{plat}" for plat in platforms]
    wheel_file = (
        "Wheel-Version: 1.0\nGenerator: gb_build_backend\n"
        f"Root-Is-Purelib: {'true' if purelib else 'false'}\n"
        + "".join(f"Tag: {tag}\n" for tag in tags)
    )
    files = list(files) + [
        (f"{dist_info}/METADATA", metadata.encode(), 0o100644),
        (f"{dist_info}/WHEEL", wheel_file.encode(), 0o100644),
    ]
    record = []
    for name, data, _ in files:
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append(f"{dist_info}/RECORD,,")
    files.append((f"{dist_info}/RECORD", ("\n".join(record) + "\n").encode(), 0o100644))
    wheel = f"{_dist_name(p)}-py3-none-{'.'.join(platforms)}.whl"
    with zipfile.ZipFile(os.path.join(directory, wheel), "w", zipfile.ZIP_DEFLATED) as z:
        for name, data, mode in files:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = mode << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return wheel


def _lib_member(library):
    """The library as the wheel holds it: without debug information where
    `strip` is there (CMake's build keeps line tables: 12 MB instead of 1.2)."""
    data = library.read_bytes()
    strip = shutil.which("strip")
    if strip and _is_elf(library):
        with tempfile.TemporaryDirectory() as scratch:
            copy = pathlib.Path(scratch) / LIBRARY
            copy.write_bytes(data)
            if subprocess.run([strip, "--strip-debug", str(copy)]).returncode == 0:
                data = copy.read_bytes()
    return (f"{PACKAGE}/{LIBRARY}", data, 0o100755)


# --- PEP 517 / PEP 660 hooks ------------------------------------------------


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    """The .dist-info with METADATA from pyproject.toml alone, so that pip
    learns the name and version without building the library."""
    p, metadata = _metadata()
    dist_info = _dist_name(p) + ".dist-info"
    directory = pathlib.Path(metadata_directory) / dist_info
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "METADATA").write_text(metadata, encoding="utf-8")
    return dist_info


prepare_metadata_for_build_editable = prepare_metadata_for_build_wheel


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    library = _library(config_settings)
    files = [(name, path.read_bytes(), 0o100644) for path, name in _package_files()]
    if library is not None:
        files.append(_lib_member(library))
    return _write_wheel(wheel_directory, files, _platform_tags(library))


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    # A .pth file puts this directory (which holds graphbit_alloc/) on
    # sys.path; the library is copied next to the package sources, where the
    # package looks for it (bindings/python/.gitignore ignores it).
    library = _library(config_settings)
    if library is not None:
        shutil.copyfile(library, HERE / PACKAGE / LIBRARY)
    return _write_wheel(wheel_directory, [(f"__editable__.{PACKAGE}.pth", f"{HERE}\n".encode(), 0o100644)],
                        _platform_tags(library))


# The crate, for an sdist that builds the library: the files cargo reads to
# build it (relative to the crate; directories are taken whole).
_CRATE_FILES = ["Cargo.toml", "Cargo.lock", "build.rs", "cbindgen.toml", ".cargo/config.toml",
                "README.md", "src", "backend-auto", "tools", "include"]


def _sdist_manifest(text):
    """Cargo.toml as the sdist ships it: the workspace members the sdist does
    not carry (gb-bench, the benchmark) are left out, or cargo would fail to
    load their manifests."""
    found = re.search(r"^members = \[(.*?)\]", text, re.M | re.S)
    if not found:
        raise RuntimeError("gb_build_backend: no `members = [...]` in Cargo.toml's [workspace]")
    members = re.findall(r'"([^"]+)"', found.group(1))
    kept = [m for m in members if m == "." or m in _CRATE_FILES]
    listed = ", ".join(f'"{m}"' for m in kept)
    return text[:found.start()] + f"members = [{listed}]" + text[found.end():]


def _crate_members():
    crate = _crate_dir()
    for entry in _CRATE_FILES:
        path = crate / entry
        paths = sorted(path.rglob("*")) if path.is_dir() else [path]
        for file in paths:
            if file.is_file() and "target" not in file.relative_to(crate).parts:
                data = file.read_bytes()
                if entry == "Cargo.toml":
                    data = _sdist_manifest(data.decode()).encode()
                yield f"rust/{file.relative_to(crate).as_posix()}", data


def build_sdist(sdist_directory, config_settings=None):
    p, metadata = _metadata()
    root = _dist_name(p)
    name = root + ".tar.gz"
    members = [("PKG-INFO", metadata.encode())]
    for extra in ("pyproject.toml", "README.md", "gb_build_backend.py"):
        members.append((extra, (HERE / extra).read_bytes()))
    members += [(n, path.read_bytes()) for path, n in _package_files()]
    members += list(_crate_members())
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz", format=tarfile.PAX_FORMAT) as tar:
        for member, data in members:
            info = tarfile.TarInfo(f"{root}/{member}")
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return name
