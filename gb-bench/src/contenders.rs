//! The contenders: finding graphbit-alloc's libraries and the raw backends,
//! and compiling one driver executable per contender.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use crate::Options;

/// The workload driver and the header it includes, embedded at build time so
/// gb-bench works from any directory.
const DRIVER_SOURCE: &str = include_str!("../driver.c");
const HEADER: &str = include_str!("../../include/graphbit_alloc.h");

/// Libraries the static library needs (rustc's native-static-libs for
/// linux-gnu, as the README's static link line lists them).
const STATIC_LIBS: &[&str] = &[
    "-lgcc_s",
    "-lutil",
    "-lrt",
    "-lpthread",
    "-lm",
    "-ldl",
    "-lc",
];

/// What a contender is, for ratios and verdicts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Graphbit,
    System,
    Jemalloc,
    Mimalloc,
}

/// One allocator, loaded one way, with its compiled driver. Part of the
/// report (`contenders`, measured or not).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Contender {
    /// Short id used on the command line and in the JSON.
    pub id: String,
    /// Human-readable name for the table.
    pub label: String,
    pub kind: Kind,
    /// "static", "shared" (linked at start-up), "dlopen", "linked" or
    /// "preload".
    pub link: String,
    pub driver: PathBuf,
    /// For `dlopen`: the shared library the driver loads.
    pub dlopen_lib: Option<PathBuf>,
    /// For `preload`: the shared library the driver runs under, as
    /// LD_PRELOAD.
    pub preload: Option<PathBuf>,
    /// The allocator's version as the driver reports it.
    pub version: String,
    /// The object file that provides the malloc function called.
    pub malloc_object: String,
    /// Whether the contender has a trim function.
    pub trim: bool,
    /// Whether the contender has graphbit-alloc's heaps (`gb_heap_new`):
    /// the request-heap workload uses them, else glibc's obstack.
    #[serde(default)]
    pub heap: bool,
    /// Why it cannot be measured, if so.
    pub unavailable: Option<String>,
}

impl Contender {
    /// A contender not measured yet: no library to load or preload, its
    /// version and malloc object filled in later by `driver_info`.
    fn new(id: String, label: String, kind: Kind, link: &str, driver: PathBuf) -> Self {
        Contender {
            id,
            label,
            kind,
            link: link.to_string(),
            driver,
            dlopen_lib: None,
            preload: None,
            version: String::new(),
            malloc_object: String::new(),
            trim: false,
            heap: false,
            unavailable: None,
        }
    }

    pub fn available(&self) -> bool {
        self.unavailable.is_none()
    }
}

/// graphbit-alloc's built libraries. Part of the report (`library`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Library {
    /// The library's version, as the library reports it.
    pub version: String,
    pub shared: PathBuf,
    #[serde(rename = "static")]
    pub static_lib: PathBuf,
    /// Backend name and version as the library reports them.
    pub backend: String,
    pub backend_version: String,
    /// What gb_verify() returned in the reference contender's process.
    #[serde(rename = "gb_verify")]
    pub verified: bool,
    /// Where the drivers were compiled.
    pub driver_dir: PathBuf,
}

/// Everything prepared before the runs.
pub struct Setup {
    pub lib: Library,
    pub contenders: Vec<Contender>,
    /// Ok(()) when the jansson workload can run, Err(reason) otherwise.
    pub jansson: Result<(), String>,
    pub compiler: String,
    /// Load average before the runs.
    pub load_at_start: String,
}

/// Finds libgraphbit_alloc.so and .a: in --lib-dir, or next to this
/// executable. `cargo run -p gb-bench` leaves them in target/<profile>/deps
/// (only `cargo build` copies them up to target/<profile>), so deps/ comes
/// first: it is always from the same build as this executable.
fn find_library(lib_dir: Option<&Path>) -> Result<(PathBuf, PathBuf), String> {
    let candidates: Vec<PathBuf> = match lib_dir {
        Some(dir) => vec![dir.to_path_buf()],
        None => {
            let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
            let dir = exe.parent().unwrap_or(Path::new(".")).to_path_buf();
            vec![dir.join("deps"), dir]
        }
    };
    for dir in &candidates {
        let shared = dir.join("libgraphbit_alloc.so");
        let static_lib = dir.join("libgraphbit_alloc.a");
        if shared.is_file() && static_lib.is_file() {
            return Ok((shared, static_lib));
        }
    }
    Err(format!(
        "libgraphbit_alloc.so and libgraphbit_alloc.a not found in {}.\n\
         Build them with `cargo build --release` (or run gb-bench with \
         `cargo run --release -p gb-bench`, which builds them), or pass --lib-dir DIR.",
        candidates
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(" or ")
    ))
}

/// A raw backend's shared object, from the dynamic linker's cache or the
/// usual directories.
fn find_system_library(name: &str) -> Option<PathBuf> {
    if let Ok(out) = Command::new("ldconfig").arg("-p").output() {
        let text = String::from_utf8_lossy(&out.stdout);
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with(&format!("{name} ")) {
                if let Some((_, path)) = line.rsplit_once(" => ") {
                    let path = PathBuf::from(path.trim());
                    if path.is_file() {
                        return Some(path);
                    }
                }
            }
        }
    }
    let multiarch = format!("/usr/lib/{}-linux-gnu", std::env::consts::ARCH);
    [
        multiarch.as_str(),
        "/usr/lib64",
        "/usr/lib",
        "/usr/local/lib",
    ]
    .iter()
    .map(|d| Path::new(d).join(name))
    .find(|p| p.is_file())
}

pub(crate) fn compiler() -> String {
    std::env::var("CC").unwrap_or_else(|_| "cc".to_string())
}

/// Compiles the driver; Err carries the compiler's message.
fn compile(work: &Path, out: &Path, defines: &[&str], link: &[String]) -> Result<(), String> {
    let mut cmd = Command::new(compiler());
    cmd.current_dir(work)
        .args(["-O2", "-g", "-std=gnu11", "-pthread", "-Wall", "-Wextra"])
        .arg("-I")
        .arg(work)
        .args(defines)
        .arg(work.join("driver.c"))
        .arg("-o")
        .arg(out)
        .args(link)
        .arg("-ldl");
    let output = cmd
        .output()
        .map_err(|e| format!("cannot run the C compiler `{}`: {e}", compiler()))?;
    if !output.status.success() {
        return Err(format!(
            "{cmd:?} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(())
}

/// What `driver info` prints (one line of JSON).
#[derive(Deserialize)]
struct DriverInfo {
    version: String,
    malloc_object: String,
    trim: bool,
    #[serde(default)]
    heap: bool,
}

/// Runs `driver info` and reads what it reports.
fn driver_info(c: &mut Contender) -> Result<(), String> {
    let mut cmd = Command::new(&c.driver);
    cmd.arg("info");
    if let Some(lib) = &c.dlopen_lib {
        cmd.env("GB_BENCH_LIB", lib);
    }
    if let Some(lib) = &c.preload {
        cmd.env("LD_PRELOAD", lib);
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {}: {e}", c.driver.display()))?;
    if !out.status.success() {
        return Err(format!(
            "`{} info` failed: {}",
            c.driver.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let info: DriverInfo = serde_json::from_str(stdout.trim())
        .map_err(|e| format!("`{} info` printed {stdout:?}: {e}", c.driver.display()))?;
    c.version = info.version;
    c.malloc_object = info.malloc_object;
    c.trim = info.trim;
    c.heap = info.heap;
    Ok(())
}

/// `gb-bench-work` beside this executable, created if need be.
fn work_dir() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let work = exe.parent().unwrap_or(Path::new(".")).join("gb-bench-work");
    std::fs::create_dir_all(&work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;
    Ok(work)
}

/// Prepares the work directory, finds every contender and compiles its driver.
pub fn prepare(opts: &Options) -> Result<Setup, String> {
    let (shared, static_lib) = find_library(opts.lib_dir.as_deref())?;
    let work = work_dir()?;
    let write = |name: &str, text: &str| {
        std::fs::write(work.join(name), text)
            .map_err(|e| format!("cannot write {}: {e}", work.join(name).display()))
    };
    write("driver.c", DRIVER_SOURCE)?;
    write("graphbit_alloc.h", HEADER)?;

    let compiler_version = Command::new(compiler())
        .arg("--version")
        .output()
        .map_err(|e| {
            format!(
                "no C compiler: cannot run `{}` ({e}); install one (apt-get install gcc)",
                compiler()
            )
        })?;
    let compiler_version = String::from_utf8_lossy(&compiler_version.stdout)
        .lines()
        .next()
        .unwrap_or("")
        .to_string();

    // jansson: the driver gets the workload only when the header and library
    // are there.
    write(
        "probe_jansson.c",
        "#include <jansson.h>\nint main(void) { json_decref(json_object()); return 0; }\n",
    )?;
    let probe = Command::new(compiler())
        .current_dir(&work)
        .args(["probe_jansson.c", "-o", "probe_jansson", "-ljansson"])
        .output()
        .map_err(|e| format!("cannot run the C compiler: {e}"))?;
    let jansson = if probe.status.success() {
        Ok(())
    } else {
        Err("jansson not installed (apt-get install libjansson-dev)".to_string())
    };
    let mut defines_common: Vec<&str> = Vec::new();
    let mut link_common: Vec<String> = Vec::new();
    if jansson.is_ok() {
        defines_common.push("-DWITH_JANSSON");
        link_common.push("-ljansson".into());
    }
    if HEADER.contains("gb_trim(") {
        defines_common.push("-DGB_HAVE_TRIM");
    }
    if HEADER.contains("gb_heap_new(") {
        defines_common.push("-DGB_HAVE_HEAP");
    }

    // The shared library is linked under its SONAME, as an install would
    // have it (libgraphbit_alloc.so.0.MINOR while 0.x).
    let stage = work.join("lib");
    std::fs::create_dir_all(&stage).map_err(|e| format!("{}: {e}", stage.display()))?;
    stage_shared(&stage, &shared)?;

    let mut contenders = Vec::new();
    let add_graphbit = |id_prefix: &str,
                        label_prefix: &str,
                        dlopen: Result<PathBuf, String>,
                        static_lib: Option<&Path>,
                        stage: &Path|
     -> Vec<Contender> {
        let mut out = Vec::new();
        let mut modes: Vec<(&'static str, Vec<String>, Vec<&str>)> = Vec::new();
        if let Some(a) = static_lib {
            let mut link = vec![a.display().to_string()];
            link.extend(link_common.iter().cloned());
            link.extend(STATIC_LIBS.iter().map(|s| s.to_string()));
            modes.push(("static", link, vec!["-DCONTENDER_GB_LINKED"]));
        }
        let mut link = vec![
            format!("-L{}", stage.display()),
            "-lgraphbit_alloc".into(),
            format!("-Wl,-rpath,{}", stage.display()),
        ];
        link.extend(link_common.iter().cloned());
        modes.push(("shared", link, vec!["-DCONTENDER_GB_LINKED"]));
        modes.push(("dlopen", link_common.clone(), vec!["-DCONTENDER_GB_DLOPEN"]));
        for (link_mode, link, defines) in modes {
            let id = format!("{id_prefix}-{link_mode}");
            let mut c = Contender::new(
                id.clone(),
                format!("{label_prefix} ({link_mode})"),
                Kind::Graphbit,
                link_mode,
                work.join(format!("driver-{id}")),
            );
            c.dlopen_lib = (link_mode == "dlopen").then(|| dlopen.clone().unwrap_or_default());
            let mut all_defines = defines.clone();
            all_defines.extend(defines_common.iter());
            c.unavailable = (if link_mode == "dlopen" {
                dlopen.clone().map(|_| ())
            } else {
                Ok(())
            })
            .and_then(|()| compile(&work, &c.driver, &all_defines, &link))
            .and_then(|()| driver_info(&mut c))
            .err();
            out.push(c);
        }
        out
    };
    contenders.extend(add_graphbit(
        "gb",
        "graphbit-alloc",
        dlopen_library(opts, &shared, &work),
        Some(&static_lib),
        &stage,
    ));
    // Whole-process mode: the override library (Cargo feature `override`)
    // as LD_PRELOAD under a driver that calls the plain malloc family.
    if opts
        .only_contenders
        .as_ref()
        .map_or(true, |only| only.iter().any(|id| id == "gb-override"))
    {
        let mut c = Contender::new(
            "gb-override".into(),
            "graphbit-alloc (override, LD_PRELOAD)".into(),
            Kind::Graphbit,
            "preload",
            work.join("driver-preload"),
        );
        let mut defines = vec!["-DCONTENDER_PRELOAD"];
        defines.extend(defines_common.iter());
        c.unavailable = override_library(opts, &shared, &work)
            .map(|lib| c.preload = Some(lib))
            .and_then(|()| compile(&work, &c.driver, &defines, &link_common))
            .and_then(|()| driver_info(&mut c))
            .err();
        if c.available() && !c.version.starts_with("graphbit-alloc ") {
            c.unavailable = Some(format!(
                "under LD_PRELOAD={} the driver finds no gb_version: {}",
                c.preload.as_deref().unwrap_or(Path::new("")).display(),
                c.version
            ));
        } else if c.available() && !c.version.ends_with("gb_verify=true") {
            // In whole-process mode gb_verify checks that the process's
            // malloc is the backend's (host_malloc_captured).
            c.unavailable = Some(format!(
                "gb_verify fails under the preload (the process's malloc is not the backend's?): {}",
                c.version
            ));
        }
        contenders.push(c);
    }
    for (label, dir) in &opts.variants {
        let so = dir.join("libgraphbit_alloc.so");
        let a = dir.join("libgraphbit_alloc.a");
        if !so.is_file() {
            return Err(format!("--variant {label}: {} not found", so.display()));
        }
        let vstage = work.join(format!("lib-{label}"));
        std::fs::create_dir_all(&vstage).map_err(|e| format!("{}: {e}", vstage.display()))?;
        stage_shared(&vstage, &so)?;
        contenders.extend(add_graphbit(
            &format!("gb@{label}"),
            &format!("graphbit-alloc@{label}"),
            Ok(so.clone()),
            a.is_file().then_some(a.as_path()),
            &vstage,
        ));
    }

    // The C library's malloc.
    let mut system = Contender::new(
        "system".into(),
        "system malloc".into(),
        Kind::System,
        "linked",
        work.join("driver-system"),
    );
    let mut defines = vec!["-DCONTENDER_SYSTEM"];
    defines.extend(defines_common.iter());
    system.unavailable = compile(&work, &system.driver, &defines, &link_common)
        .and_then(|()| driver_info(&mut system))
        .err();
    contenders.push(system);

    // Raw backends, linked first so that their malloc replaces the C
    // library's for the whole driver, as a user of them would have it.
    for (kind, id, soname, define, package) in [
        (
            Kind::Jemalloc,
            "jemalloc",
            "libjemalloc.so.2",
            "-DCONTENDER_JEMALLOC",
            "libjemalloc2",
        ),
        (
            Kind::Mimalloc,
            "mimalloc",
            "libmimalloc.so.2",
            "-DCONTENDER_MIMALLOC",
            "libmimalloc2.0",
        ),
    ] {
        let mut c = Contender::new(
            id.into(),
            format!("{id} (raw, Debian)"),
            kind,
            "linked",
            work.join(format!("driver-{id}")),
        );
        match find_system_library(soname) {
            None => {
                c.unavailable = Some(format!(
                    "{soname} not installed (apt-get install {package})"
                ))
            }
            Some(path) => {
                let mut link = vec![path.display().to_string()];
                link.extend(link_common.iter().cloned());
                let mut defines = vec![define];
                defines.extend(defines_common.iter());
                c.unavailable = compile(&work, &c.driver, &defines, &link)
                    .and_then(|()| driver_info(&mut c))
                    .err();
                if c.available() && !c.malloc_object.contains(soname) {
                    c.unavailable = Some(format!(
                        "malloc in the driver resolves to {}, not {soname}",
                        c.malloc_object
                    ));
                }
            }
        }
        contenders.push(c);
    }

    // Every graphbit-alloc contender must really be the library we found
    // (for gb-override: the malloc the driver calls must be the preloaded
    // library's).
    for c in contenders.iter_mut().filter(|c| c.kind == Kind::Graphbit) {
        if c.available() && c.link != "static" && !c.malloc_object.contains("libgraphbit_alloc") {
            c.unavailable = Some(format!(
                "gb_alloc resolves to {}, not libgraphbit_alloc",
                c.malloc_object
            ));
        }
    }
    let reference = contenders
        .iter()
        .find(|c| c.id == "gb-shared" && c.available())
        .or_else(|| {
            contenders
                .iter()
                .find(|c| c.kind == Kind::Graphbit && c.available())
        })
        .ok_or_else(|| {
            let reasons: Vec<String> = contenders
                .iter()
                .filter(|c| c.kind == Kind::Graphbit)
                .map(|c| format!("{}: {}", c.id, c.unavailable.as_deref().unwrap_or("")))
                .collect();
            format!(
                "graphbit-alloc could not be loaded in any way:\n{}",
                reasons.join("\n")
            )
        })?;
    // "graphbit-alloc 0.1.0 (jemalloc 5.3.1-...) gb_verify=true"
    let inner = reference
        .version
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(inside, _)| inside)
        .unwrap_or("");
    let version = reference
        .version
        .strip_prefix("graphbit-alloc ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or("")
        .to_string();
    let verified = reference.version.ends_with("gb_verify=true");
    let (backend, backend_version) = inner.split_once(' ').unwrap_or((inner, ""));
    let (backend, backend_version) = (backend.to_string(), backend_version.to_string());
    let built = built_backend();
    if built != backend && opts.lib_dir.is_none() {
        return Err(format!(
            "{} reports backend {backend}, but gb-bench was built with {built}: \
             a stale library? Rebuild with `cargo build --release`.",
            shared.display()
        ));
    }
    if let Some(only) = &opts.only_contenders {
        contenders.retain(|c| only.contains(&c.id));
    }
    Ok(Setup {
        lib: Library {
            version,
            shared,
            static_lib,
            backend,
            backend_version,
            verified,
            driver_dir: work,
        },
        contenders,
        jansson,
        compiler: compiler_version,
        load_at_start: crate::machine::load_average(),
    })
}

/// The dlopen-safe variant of the library (Cargo feature `dlopen`) for the
/// `gb-dlopen` contender: the default library uses initial-exec TLS, which a
/// dlopen into a running process cannot have. `libgraphbit_alloc_dlopen.so`
/// next to the library (as CMake stages it) when it is there; else, for the
/// library of this build, built with cargo into `<target>/variants` (the
/// first time this compiles the backend again, about two minutes).
fn dlopen_library(opts: &Options, shared: &Path, work: &Path) -> Result<PathBuf, String> {
    let beside = shared.with_file_name("libgraphbit_alloc_dlopen.so");
    if beside.is_file() {
        return Ok(beside);
    }
    if opts.lib_dir.is_some() {
        return Err(format!(
            "{} not found (build it with `cargo build --release --features dlopen,global-allocator`, or with CMake)",
            beside.display()
        ));
    }
    let built = build_variant(shared, "dlopen", None)?;
    let dir = work.join("lib-dlopen");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let copy = dir.join("libgraphbit_alloc_dlopen.so");
    replace_file(&built, &copy).map_err(|e| format!("cannot copy the dlopen library: {e}"))?;
    Ok(copy)
}

/// Copies `from` to `to` through a temporary file and a rename, so that a
/// process still running with the old `to` loaded (another gb-bench, a
/// parallel test) keeps its file: copying over a mapped library in place
/// makes that process die of SIGBUS.
fn replace_file(from: &Path, to: &Path) -> std::io::Result<()> {
    let tmp = to.with_extension(format!("tmp.{}", std::process::id()));
    std::fs::copy(from, &tmp)?;
    std::fs::rename(&tmp, to)
}

/// The override library for `gb-bench run`: found or built as for the
/// `gb-override` contender.
pub fn override_library_for_run(opts: &Options) -> Result<PathBuf, String> {
    let (shared, _) = find_library(opts.lib_dir.as_deref())?;
    let work = work_dir()?;
    override_library(opts, &shared, &work)
}

/// The profiling override (Cargo features `override,profiling`) for
/// `gb-bench profile`: `libgraphbit_alloc_override_profiling.so` next to
/// this build's library when it is there (as CMake stages it); else built
/// with cargo into `<target>/variants/override-profiling-<backend>`, as the
/// override is for `gb-override`.
pub fn profiling_override_library() -> Result<PathBuf, String> {
    if built_backend() == "system" {
        return Err(
            "no whole-process mode on the system backend (it is the malloc an override \
             replaces): profile through gb_profile_dump with libgraphbit_alloc_profiling.so"
                .to_string(),
        );
    }
    let (shared, _) = find_library(None)?;
    let beside = shared.with_file_name(crate::profile::LIBRARY);
    if beside.is_file() {
        return Ok(beside);
    }
    let built = build_variant(
        &shared,
        "override,profiling",
        Some(&format!("override-profiling-{}", built_backend())),
    )?;
    let dir = work_dir()?.join("lib-override-profiling");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let copy = dir.join(crate::profile::LIBRARY);
    replace_file(&built, &copy)
        .map_err(|e| format!("cannot copy the profiling override library: {e}"))?;
    Ok(copy)
}

/// The whole-process variant of the library (Cargo feature `override`,
/// SONAME libgraphbit_alloc_override.so.0.MINOR) for the `gb-override`
/// contender: it exports the malloc family and the gb_* API, for LD_PRELOAD.
/// `libgraphbit_alloc_override.so` next to the library when it is there;
/// else, for the library of this build, built with cargo into its own
/// target directory, `<target>/variants/override-<backend>` (the first time
/// this compiles the backend again, about two minutes).
fn override_library(opts: &Options, shared: &Path, work: &Path) -> Result<PathBuf, String> {
    if built_backend() == "system" {
        return Err(
            "no whole-process mode on the system backend (it is the malloc an override \
                    replaces)"
                .to_string(),
        );
    }
    let beside = shared.with_file_name("libgraphbit_alloc_override.so");
    if beside.is_file() {
        return Ok(beside);
    }
    if opts.lib_dir.is_some() {
        return Err(format!(
            "{} not found (build it with `cargo build --release --features override`)",
            beside.display()
        ));
    }
    let built = build_variant(
        shared,
        "override",
        Some(&format!("override-{}", built_backend())),
    )?;
    let dir = work.join("lib-override");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let copy = dir.join("libgraphbit_alloc_override.so");
    replace_file(&built, &copy).map_err(|e| format!("cannot copy the override library: {e}"))?;
    Ok(copy)
}

/// Builds the library of this build (its backend, its profile) with the
/// Cargo feature `feature` too, into `<target>/variants` or, with
/// `own_dir`, `<target>/variants/<own_dir>`; returns the built
/// libgraphbit_alloc.so. `shared` is this build's library, in
/// <target>/<profile>/deps (or one up).
fn build_variant(shared: &Path, feature: &str, own_dir: Option<&str>) -> Result<PathBuf, String> {
    let profile_dir = shared
        .ancestors()
        .find(|d| d.parent().is_some_and(|p| p.join("CACHEDIR.TAG").is_file()))
        .ok_or_else(|| format!("{}: not in a cargo target directory", shared.display()))?;
    let target = profile_dir.parent().unwrap_or(profile_dir);
    let profile = profile_dir
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .to_string();
    let mut variants = target.join("variants");
    if let Some(dir) = own_dir {
        variants = variants.join(dir);
    }
    let backend = built_backend();
    let spinner = crate::progress::Spinner::start(&format!(
        "building the {feature} variant of the library (cargo build --features {feature})"
    ));
    // cargo's own progress goes to the spinner, as its step; its output is
    // kept to be shown if the build fails.
    let mut child = Command::new(env!("CARGO"))
        .current_dir(workspace_root())
        .args([
            "build",
            "--color",
            "never",
            "--package",
            "graphbit-alloc",
            "--lib",
            "--no-default-features",
            "--features",
        ])
        .arg(format!("backend-{backend},global-allocator,{feature}"))
        .arg("--profile")
        .arg(if profile == "debug" {
            "dev".to_string()
        } else {
            profile.clone()
        })
        .arg("--target-dir")
        .arg(&variants)
        .env("CARGO_TERM_PROGRESS_WHEN", "never")
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    let mut log = Vec::new();
    if let Some(stderr) = child.stderr.take() {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            spinner.set(line.trim());
            log.push(line);
        }
    }
    let status = child
        .wait()
        .map_err(|e| format!("cannot wait for cargo: {e}"))?;
    spinner.finish(if status.success() { "built" } else { "FAILED" });
    if !status.success() {
        return Err(format!(
            "cargo build --features {feature} (into {}) failed ({status}):\n{}",
            variants.display(),
            log.join("\n")
        ));
    }
    Ok(variants.join(&profile).join("libgraphbit_alloc.so"))
}

/// The backend of the library gb-bench was built with (its dependency),
/// as the library reports it: "jemalloc", "mimalloc" or "system".
pub fn built_backend() -> &'static str {
    graphbit_alloc::diagnostics::build().backend
}

/// The repository's root, where the library's Cargo.toml is (gb-bench is
/// the workspace member `gb-bench/`).
fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("gb-bench's manifest directory has a parent")
}

/// Links `dir/<SONAME>` and `dir/libgraphbit_alloc.so` to `shared`.
fn stage_shared(dir: &Path, shared: &Path) -> Result<(), String> {
    let number = graphbit_alloc::gb_version_number();
    let (major, minor) = (number / 10000, number / 100 % 100);
    let soname = if major == 0 {
        format!("libgraphbit_alloc.so.0.{minor}")
    } else {
        format!("libgraphbit_alloc.so.{major}")
    };
    let target = shared
        .canonicalize()
        .map_err(|e| format!("{}: {e}", shared.display()))?;
    for name in [soname.as_str(), "libgraphbit_alloc.so"] {
        let link = dir.join(name);
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&target, &link)
            .map_err(|e| format!("cannot link {}: {e}", link.display()))?;
    }
    Ok(())
}
