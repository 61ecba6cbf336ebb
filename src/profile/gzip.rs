//! gzip (RFC 1952) of a profile, small in memory: one deflate block
//! (RFC 1951) with the fixed Huffman codes, matches found through a table of
//! 4096 recent positions (one per hash of three bytes, 16 KiB). A general
//! compressor (miniz_oxide at its default level) held about 300 KiB of
//! tables and buffers for the length of a dump, which on a small program
//! was a tenth of its resident set (docs/profiling.md, Cost); pprof
//! profiles are mostly repeated varints and names, which this finds.

/// Bits written least significant first, as deflate packs them.
struct Bits {
    out: Vec<u8>,
    buffer: u64,
    count: u32,
}

impl Bits {
    fn put(&mut self, value: u32, bits: u32) {
        self.buffer |= u64::from(value) << self.count;
        self.count += bits;
        while self.count >= 8 {
            self.out.push(self.buffer as u8);
            self.buffer >>= 8;
            self.count -= 8;
        }
    }

    /// A Huffman code, which deflate stores most significant bit first.
    fn code(&mut self, code: u32, bits: u32) {
        self.put(code.reverse_bits() >> (32 - bits), bits);
    }

    fn finish(mut self) -> Vec<u8> {
        if self.count > 0 {
            self.out.push(self.buffer as u8);
        }
        self.out
    }
}

/// The fixed code of a literal/length symbol (0-287).
fn literal(bits: &mut Bits, symbol: u32) {
    match symbol {
        0..=143 => bits.code(0x30 + symbol, 8),
        144..=255 => bits.code(0x190 + symbol - 144, 9),
        256..=279 => bits.code(symbol - 256, 7),
        _ => bits.code(0xc0 + symbol - 280, 8),
    }
}

/// First length (3-258) of each length symbol 257-285, and its extra bits
/// (RFC 1951, 3.2.5).
#[rustfmt::skip]
const LENGTHS: [(u32, u32); 29] = [
    (3, 0), (4, 0), (5, 0), (6, 0), (7, 0), (8, 0), (9, 0), (10, 0),
    (11, 1), (13, 1), (15, 1), (17, 1), (19, 2), (23, 2), (27, 2), (31, 2),
    (35, 3), (43, 3), (51, 3), (59, 3), (67, 4), (83, 4), (99, 4), (115, 4),
    (131, 5), (163, 5), (195, 5), (227, 5), (258, 0),
];

/// First distance (1-32768) of each distance symbol 0-29, and its extra
/// bits (RFC 1951, 3.2.5).
#[rustfmt::skip]
const DISTANCES: [(u32, u32); 30] = [
    (1, 0), (2, 0), (3, 0), (4, 0), (5, 1), (7, 1), (9, 2), (13, 2),
    (17, 3), (25, 3), (33, 4), (49, 4), (65, 5), (97, 5), (129, 6), (193, 6),
    (257, 7), (385, 7), (513, 8), (769, 8), (1025, 9), (1537, 9), (2049, 10), (3073, 10),
    (4097, 11), (6145, 11), (8193, 12), (12289, 12), (16385, 13), (24577, 13),
];

/// The entry of `table` for `value` (the last whose first value is at most
/// it): its index, and the extra bits (count, value) after its code.
fn entry(table: &[(u32, u32)], value: u32) -> (u32, u32, u32) {
    let index = table.partition_point(|&(first, _)| first <= value) - 1;
    let (first, extra) = table[index];
    (index as u32, extra, value - first)
}

/// A match's length (3-258): its literal/length symbol, then extra bits.
fn length(bits: &mut Bits, length: u32) {
    let (index, count, extra) = entry(&LENGTHS, length);
    literal(bits, 257 + index);
    bits.put(extra, count);
}

/// A match's distance (1-32768): its fixed 5-bit code, then extra bits.
fn distance(bits: &mut Bits, distance: u32) {
    let (index, count, extra) = entry(&DISTANCES, distance);
    bits.code(index, 5);
    bits.put(extra, count);
}

/// CRC-32 (the polynomial of gzip and zlib), a table made at compile time.
fn crc32(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut n = 0;
        while n < 256 {
            let mut c = n as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0xedb8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            table[n] = c;
            n += 1;
        }
        table
    };
    !data.iter().fold(!0u32, |c, &b| {
        TABLE[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8)
    })
}

/// `data` as a gzip member.
pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    const HASH_BITS: u32 = 12;
    const WINDOW: usize = 32 * 1024;
    const MAX_MATCH: usize = 258;
    // Header: magic, deflate, no flags, no time, no extra flags, Unix.
    let mut bits = Bits {
        out: vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3],
        buffer: 0,
        count: 0,
    };
    bits.out.reserve(data.len() / 2 + 64);
    // One block, the last, with the fixed Huffman codes.
    bits.put(1, 1);
    bits.put(1, 2);
    // Per hash of three bytes, the position + 1 where they last began (0:
    // nowhere yet).
    let mut recent = vec![0u32; 1 << HASH_BITS];
    let hash = |at: usize| {
        let v = u32::from(data[at]) | u32::from(data[at + 1]) << 8 | u32::from(data[at + 2]) << 16;
        (v.wrapping_mul(0x9e37_79b1) >> (32 - HASH_BITS)) as usize
    };
    let mut at = 0;
    while at < data.len() {
        // The longest run of bytes equal to the ones at the position last
        // seen with this hash, if within the window (a stale or colliding
        // position just matches less).
        let (mut found, mut back) = (0, 0);
        if at + 3 <= data.len() {
            let slot = hash(at);
            let from = (recent[slot] as usize).wrapping_sub(1);
            recent[slot] = at as u32 + 1;
            if from < at && at - from <= WINDOW {
                let limit = MAX_MATCH.min(data.len() - at);
                found = data[from..from + limit]
                    .iter()
                    .zip(&data[at..at + limit])
                    .take_while(|(a, b)| a == b)
                    .count();
                back = at - from;
            }
        }
        if found >= 3 {
            length(&mut bits, found as u32);
            distance(&mut bits, back as u32);
            // The matched positions enter the table too (but the last two,
            // whose three bytes may run past the end).
            for p in at + 1..(at + found).min(data.len().saturating_sub(2)) {
                recent[hash(p)] = p as u32 + 1;
            }
            at += found;
        } else {
            literal(&mut bits, u32::from(data[at]));
            at += 1;
        }
    }
    literal(&mut bits, 256); // end of block
    let mut out = bits.finish();
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::gzip;
    use std::io::Read as _;

    fn gunzip(compressed: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(compressed)
            .read_to_end(&mut out)
            .expect("a valid gzip member");
        out
    }

    #[test]
    fn what_gzip_writes_gunzip_reads_back() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut random = |n: usize| -> Vec<u8> {
            (0..n)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect()
        };
        let mut cases: Vec<Vec<u8>> = vec![
            Vec::new(),
            b"a".to_vec(),
            b"ab".to_vec(),
            b"abc".to_vec(),
            b"abcabcabcabcabcabcabc".to_vec(),
            vec![0; 1000],    // one long match after one literal
            vec![7; 100_000], // matches of 258, one after another
            random(100_000),  // nothing to find: literals only
        ];
        // Repeats at every distance up to the window and beyond it.
        let unit = random(40_000);
        cases.push([&unit[..], &unit[..]].concat());
        let small = random(300);
        cases.push(small.iter().cycle().take(70_000).copied().collect());
        // Text, as a profile's string table is.
        let text: String = (0..5000)
            .map(|i| format!("function_{} src/file_{}.rs:{}\n", i % 97, i % 13, i))
            .collect();
        cases.push(text.into_bytes());
        for case in &cases {
            let compressed = gzip(case);
            assert_eq!(gunzip(&compressed), *case, "{} bytes", case.len());
        }
        // It compresses: repeated data and text to a fraction.
        assert!(gzip(&vec![7; 100_000]).len() < 1_000);
        assert!(gzip(&cases[10]).len() < cases[10].len() / 3);
        // Random data costs at most 1/8 more (9-bit literals at worst).
        assert!(gzip(&cases[7]).len() < 100_000 * 9 / 8 + 64);
    }
}
