//! C++ `operator new` and `operator delete`, every form, exported by name.

// C++ `operator new` and `operator delete`: their bodies are C++
// (src/override/new.cpp: the new-handler loop, then `std::bad_alloc`), so
// that an exception crosses no Rust frame. Each exported name is a naked
// jump to its C++ body: a Rust cdylib exports only the symbols Rust
// defines, and the jump leaves no frame behind for the unwinder to cross.
macro_rules! cxx_exports {
    ($($export:literal => $body:ident),* $(,)?) => {
        $(
            const _: () = {
                extern "C" {
                    fn $body();
                }
                #[doc = concat!("C++ `", $export, "` (src/override/new.cpp).")]
                #[unsafe(naked)]
                #[export_name = $export]
                pub unsafe extern "C" fn export() {
                    #[cfg(target_arch = "x86_64")]
                    core::arch::naked_asm!("jmp {}", sym $body);
                    #[cfg(target_arch = "aarch64")]
                    core::arch::naked_asm!("b {}", sym $body);
                }
            };
        )*
    };
}

cxx_exports! {
    "_Znwm" => gb_override_cxx_new,
    "_Znam" => gb_override_cxx_new,
    "_ZnwmRKSt9nothrow_t" => gb_override_cxx_new_nothrow,
    "_ZnamRKSt9nothrow_t" => gb_override_cxx_new_nothrow,
    "_ZnwmSt11align_val_t" => gb_override_cxx_new_aligned,
    "_ZnamSt11align_val_t" => gb_override_cxx_new_aligned,
    "_ZnwmSt11align_val_tRKSt9nothrow_t" => gb_override_cxx_new_aligned_nothrow,
    "_ZnamSt11align_val_tRKSt9nothrow_t" => gb_override_cxx_new_aligned_nothrow,
    "_ZdlPv" => gb_override_cxx_delete,
    "_ZdaPv" => gb_override_cxx_delete,
    "_ZdlPvRKSt9nothrow_t" => gb_override_cxx_delete,
    "_ZdaPvRKSt9nothrow_t" => gb_override_cxx_delete,
    "_ZdlPvm" => gb_override_cxx_delete_sized,
    "_ZdaPvm" => gb_override_cxx_delete_sized,
    "_ZdlPvSt11align_val_t" => gb_override_cxx_delete_aligned,
    "_ZdaPvSt11align_val_t" => gb_override_cxx_delete_aligned,
    "_ZdlPvSt11align_val_tRKSt9nothrow_t" => gb_override_cxx_delete_aligned,
    "_ZdaPvSt11align_val_tRKSt9nothrow_t" => gb_override_cxx_delete_aligned,
    "_ZdlPvmSt11align_val_t" => gb_override_cxx_delete_sized_aligned,
    "_ZdaPvmSt11align_val_t" => gb_override_cxx_delete_sized_aligned,
}
