//! Bytes -> a sequence of C API calls (hostile arguments included), each
//! result compared with the shadow model in tests/model. A disagreement
//! panics, which libFuzzer reports as a crash with the input that caused it.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/model/mod.rs"]
mod model;

fuzz_target!(|data: &[u8]| {
    model::api::install(model::api::Api {
        alloc: graphbit_alloc::gb_alloc,
        calloc: graphbit_alloc::gb_calloc,
        realloc: graphbit_alloc::gb_realloc,
        aligned_alloc: graphbit_alloc::gb_aligned_alloc,
        free: graphbit_alloc::gb_free,
        free_sized: graphbit_alloc::gb_free_sized,
        free_aligned_sized: graphbit_alloc::gb_free_aligned_sized,
        usable_size: graphbit_alloc::gb_usable_size,
        allocator_name: graphbit_alloc::gb_allocator_name,
    });
    model::Model::run(data);
});
