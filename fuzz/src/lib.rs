//! A small, deterministic mutation fuzzer for the readers of untrusted input (glob patterns,
//! tar streams, `index.yaml`, HTTP requests to the graph server).
//!
//! Each fuzz target is an ordinary `#[test]` next to the code it exercises: it hands [`run`]
//! a few well-formed seeds and a closure that must never panic, hang or allocate without bound
//! on any input. Inputs are seeds mutated by bit flips, byte insertions and deletions, runs of
//! one byte, boundary numbers, splices of two seeds and truncation, drawn from a fixed-seed
//! xorshift generator, so a failure names its iteration and replays exactly.
//!
//! `WERF_FUZZ_ITERATIONS` sets how many inputs each target tries (default 2,000, which CI
//! runs); a long local run: `WERF_FUZZ_ITERATIONS=1000000 cargo test --release fuzz_`.

/// A xorshift64* generator: fast, fixed-seed, reproducible.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// How many inputs a target tries.
pub fn iterations() -> usize {
    std::env::var("WERF_FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000)
}

const INTERESTING: &[&[u8]] = &[
    b"0",
    b"-1",
    b"4294967296",
    b"18446744073709551616",
    b"\xff\xff\xff\xff",
    b"\x00",
    b"{{",
    b"}}",
    b"*",
    b"**/",
    b"[",
    b"..",
    b"\r\n",
    b"\xe2\x80\xa8",
];

/// One mutation of `input` (`seeds` for splices).
pub fn mutate(rng: &mut Rng, input: &mut Vec<u8>, seeds: &[&[u8]]) {
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        match rng.below(8) {
            0 if !input.is_empty() => {
                let i = rng.below(input.len());
                input[i] ^= 1 << rng.below(8);
            }
            1 => {
                let i = rng.below(input.len() + 1);
                input.insert(i, rng.next_u64() as u8);
            }
            2 if !input.is_empty() => {
                let i = rng.below(input.len());
                let n = 1 + rng.below((input.len() - i).min(64));
                input.drain(i..i + n);
            }
            3 => {
                let i = rng.below(input.len() + 1);
                let byte = if input.is_empty() {
                    b'a'
                } else {
                    input[rng.below(input.len())]
                };
                let n = 1 + rng.below(4096);
                input.splice(i..i, std::iter::repeat_n(byte, n));
            }
            4 => {
                let i = rng.below(input.len() + 1);
                let word = INTERESTING[rng.below(INTERESTING.len())];
                input.splice(i..i, word.iter().copied());
            }
            5 if !seeds.is_empty() => {
                let other = seeds[rng.below(seeds.len())];
                let cut = rng.below(input.len() + 1);
                let from = rng.below(other.len() + 1);
                input.truncate(cut);
                input.extend_from_slice(&other[from..]);
            }
            6 if !input.is_empty() => {
                let n = rng.below(input.len());
                input.truncate(n);
            }
            _ => {
                // Duplicate a slice in place (repeated structure: nested brackets, headers).
                if !input.is_empty() {
                    let i = rng.below(input.len());
                    let n = 1 + rng.below((input.len() - i).min(512));
                    let piece = input[i..i + n].to_vec();
                    let at = rng.below(input.len() + 1);
                    input.splice(at..at, piece);
                }
            }
        }
    }
}

/// Runs `target` on the seeds and then on [`iterations`] mutations of them. A panic names the
/// target, the iteration and the input's first bytes.
pub fn run(name: &str, seeds: &[&[u8]], mut target: impl FnMut(&[u8])) {
    let mut rng = Rng::new(
        0x5eed
            ^ name
                .bytes()
                .fold(0u64, |h, b| h.wrapping_mul(31) ^ u64::from(b)),
    );
    for seed in seeds {
        target(seed);
    }
    let mut tried = 0;
    for i in 0..iterations() {
        let mut input = if seeds.is_empty() {
            Vec::new()
        } else {
            seeds[rng.below(seeds.len())].to_vec()
        };
        mutate(&mut rng, &mut input, seeds);
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| target(&input)));
        if caught.is_err() {
            let shown: String = String::from_utf8_lossy(&input).chars().take(200).collect();
            panic!("fuzz target `{name}` panicked at iteration {i} on {shown:?}");
        }
        tried += 1;
    }
    assert_eq!(tried, iterations());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_name_draws_the_same_inputs_and_mutations_change_them() {
        let draw = || {
            let mut rng = Rng::new(7);
            let mut v = b"seed".to_vec();
            mutate(&mut rng, &mut v, &[b"other"]);
            v
        };
        assert_eq!(draw(), draw());
        let mut changed = 0;
        let mut rng = Rng::new(9);
        for _ in 0..100 {
            let mut v = b"seed input".to_vec();
            mutate(&mut rng, &mut v, &[]);
            if v != b"seed input" {
                changed += 1;
            }
        }
        assert!(changed > 80, "{changed}");
    }

    #[test]
    #[should_panic(expected = "fuzz target `boom` panicked")]
    fn a_panicking_target_is_named() {
        run("boom", &[b"x"], |input| assert!(input.len() < 2));
    }
}
