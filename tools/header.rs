// Generates include/graphbit_alloc.h with cbindgen. Shared by build.rs (the
// `generate-header` feature writes the file) and tests/header.rs (which
// regenerates it in memory and compares): one definition of the header.

/// The header as cbindgen generates it from the crate in `crate_dir`, with the
/// version macros taken from `version` ("MAJOR.MINOR.PATCH").
#[allow(dead_code)]
pub fn generate_header(crate_dir: &std::path::Path, version: &str) -> String {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().expect("numeric version"));
    let (major, minor, patch) = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    let mut config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is valid");
    let macros = format!(
        "\n/** This header's version; compare with gb_version() / gb_version_number(). */\n\
         #define GB_VERSION_MAJOR {major}\n\
         #define GB_VERSION_MINOR {minor}\n\
         #define GB_VERSION_PATCH {patch}\n\
         #define GB_VERSION_STRING \"{major}.{minor}.{patch}\"\n\
         /** MAJOR * 10000 + MINOR * 100 + PATCH, as gb_version_number() returns it. */\n\
         #define GB_VERSION_NUMBER (GB_VERSION_MAJOR * 10000 + GB_VERSION_MINOR * 100 + GB_VERSION_PATCH)\n"
    );
    config.after_includes = Some(match config.after_includes.take() {
        Some(existing) => format!("{macros}\n{existing}"),
        None => macros,
    });
    let mut out = Vec::new();
    cbindgen::Builder::new()
        .with_config(config)
        .with_crate(crate_dir)
        .generate()
        .expect("cbindgen can read the crate")
        .write(&mut out);
    let header = String::from_utf8(out).expect("header is UTF-8");
    // A `///` line left empty before a `cbindgen:` annotation (which cbindgen
    // drops) would end the comment block with an empty ` *` line.
    let mut lines: Vec<&str> = Vec::new();
    for line in header.split_inclusive('\n') {
        if line.trim_end() == " */" && lines.last().is_some_and(|l| l.trim_end() == " *") {
            lines.pop();
        }
        lines.push(line);
    }
    lines.concat()
}
