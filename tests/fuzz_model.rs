//! The fuzzer's decoder and shadow model (tests/model) on stable: every input
//! of the checked-in corpus (fuzz/corpus/api_sequence), then seeded random
//! sequences. `GB_MODEL_SEQUENCES` sets how many random sequences run
//! (default 500), `GB_MODEL_SEED` the seed.

mod common;
mod model;

use model::{Counts, Model};

fn env_or(name: &str, fallback: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(fallback)
}

fn load() {
    model::api::install_shared_library(&common::variant_lib("dlopen"));
}

fn add(total: &mut Counts, c: Counts) {
    total.calls += c.calls;
    total.hostile += c.hostile;
}

#[test]
fn corpus_replays_against_the_model() {
    load();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/api_sequence");
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    inputs.sort();
    assert!(
        inputs.len() >= 50,
        "corpus has only {} inputs",
        inputs.len()
    );
    let mut total = Counts::default();
    for path in &inputs {
        let data = std::fs::read(path).unwrap();
        eprintln!("{}", path.display());
        add(&mut total, Model::run(&data));
    }
    println!(
        "model corpus: {} inputs, {} calls, {} with hostile arguments",
        inputs.len(),
        total.calls,
        total.hostile
    );
    assert!(total.hostile > 0 && total.calls > total.hostile);
}

#[test]
fn seeded_random_sequences_against_the_model() {
    load();
    let sequences = env_or("GB_MODEL_SEQUENCES", 500);
    let mut seed = env_or("GB_MODEL_SEED", 1) | 1;
    let mut total = Counts::default();
    for _ in 0..sequences {
        let mut data = vec![0u8; 64 + (seed % 1024) as usize];
        for byte in data.iter_mut() {
            seed ^= seed >> 12;
            seed ^= seed << 25;
            seed ^= seed >> 27;
            *byte = (seed.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8;
        }
        add(&mut total, Model::run(&data));
    }
    println!(
        "model random: {sequences} sequences, {} calls, {} with hostile arguments",
        total.calls, total.hostile
    );
    assert!(total.hostile > 0);
}

/// The decoder reaches every kind of call and every hostile class. Calls are
/// counted by variant (an exhaustive match: a new variant must be added
/// here), and arguments compared as numbers, so that no name or value is
/// found inside another (`Alloc` in `AlignedAlloc`, a size inside a longer
/// one).
#[test]
fn decoder_covers_the_vocabulary() {
    use model::Call;
    let mut data = Vec::new();
    for op in 0u8..12 {
        for arg in [0u8, 37, 38, 39, 130, 200, 250, 255] {
            data.extend([op, arg, arg, arg, arg]);
        }
    }
    let calls = model::decode(&data);
    let kinds = [
        "Alloc",
        "Calloc",
        "AlignedAlloc",
        "Realloc",
        "Free",
        "FreeSized",
        "FreeAlignedSized",
        "UsableSize",
        "Write",
    ];
    let mut counts = [0usize; 9];
    let mut values = Vec::new();
    for call in &calls {
        let (kind, args): (&str, Vec<usize>) = match *call {
            Call::Alloc(size) => ("Alloc", vec![size]),
            Call::Calloc(n, size) => ("Calloc", vec![n, size]),
            Call::AlignedAlloc(alignment, size) => ("AlignedAlloc", vec![alignment, size]),
            Call::Realloc(slot, size) => ("Realloc", vec![slot, size]),
            Call::Free(slot) => ("Free", vec![slot]),
            Call::FreeSized(slot, size) => ("FreeSized", [slot].into_iter().chain(size).collect()),
            Call::FreeAlignedSized(slot, alignment) => (
                "FreeAlignedSized",
                [slot].into_iter().chain(alignment).collect(),
            ),
            Call::UsableSize(slot) => ("UsableSize", vec![slot]),
            Call::Write(slot) => ("Write", vec![slot]),
        };
        counts[kinds.iter().position(|k| *k == kind).unwrap()] += 1;
        values.extend(args);
    }
    println!(
        "decoder: {} calls: {}",
        calls.len(),
        kinds
            .iter()
            .zip(counts)
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    assert_eq!(counts.iter().sum::<usize>(), calls.len());
    for (kind, n) in kinds.iter().zip(counts) {
        assert!(n > 0, "decoder never produces {kind}");
    }
    for value in [usize::MAX, model::MAX_SIZE, model::MAX_SIZE + 1] {
        assert!(values.contains(&value), "decoder never passes {value}");
    }
}
