//! The per-request arena workloads (`request`: free each block;
//! `request-heap`: all of a request's blocks freed at once, in a
//! graphbit-alloc heap or, for the allocators without heaps, a glibc
//! obstack) side by side, and the verdict a user can act on: which way to
//! free a request's memory. Computed from the report's medians alone, so
//! `gb-bench report FILE.json` prints it again.

use crate::report::Report;

/// The two workloads, as `run::workloads` names them.
pub const FREE_EACH: &str = "request";
pub const HEAP: &str = "request-heap";

/// The median requests per second of `contender` on `workload`.
fn median(r: &Report, contender: &str, workload: &str) -> Option<f64> {
    r.summary
        .iter()
        .find(|s| s.contender == contender && s.workload == workload)
        .and_then(|s| s.ops_per_second)
        .map(|s| s.median)
}

fn si(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.2}M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1}k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}

/// The lines of the verdict (empty when the run did not measure both
/// workloads for the headline contender).
pub fn verdict(r: &Report) -> Vec<String> {
    let Some(gb) = r.headline_contender.as_deref() else {
        return vec![];
    };
    let (Some(each), Some(heap)) = (median(r, gb, FREE_EACH), median(r, gb, HEAP)) else {
        return vec![];
    };
    let with_heaps = r.measured().any(|c| c.id == gb && c.heap);
    if !with_heaps {
        return vec![];
    }
    let ratio = heap / each;
    let mut lines = vec![format!(
        "{gb}: a heap per request (gb_heap_destroy at its end) {} requests/s, gb_free of each \
         block {} requests/s: the heap is {ratio:.2}x the speed of freeing each",
        si(heap),
        si(each)
    )];
    if let (Some(sys_each), Some(sys_obstack)) =
        (median(r, "system", FREE_EACH), median(r, "system", HEAP))
    {
        lines.push(format!(
            "system: malloc + free of each block {} requests/s ({gb} free each: {:.2}x, heap: \
             {:.2}x); a glibc obstack per request {} requests/s",
            si(sys_each),
            each / sys_each,
            heap / sys_each,
            si(sys_obstack)
        ));
    }
    lines.push(if ratio < 1.0 {
        "So: for requests of a few hundred small blocks, free each block (gb_free); take a heap \
         per request for its limit, its accounting or to free what a request forgot, at the \
         speed cost above, not to go faster"
            .to_string()
    } else {
        "So: a heap per request is the faster way here too: allocate a request's blocks in a \
         heap and destroy it when the request ends"
            .to_string()
    });
    lines
}
