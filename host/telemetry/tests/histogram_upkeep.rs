//! A hub that nobody scrapes must not keep every histogram sample: the upkeep thread
//! folds them into buckets. Measured on the process's resident memory (this test is its
//! own process, so the global recorder is this test's alone).

use std::time::{Duration, Instant};

/// Resident set size in bytes, from `VmRSS` in /proc/self/status (in kB whatever the
/// page size).
fn resident_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("reading /proc/self/status");
    let kib: usize = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status");
    kib * 1024
}

#[test]
fn unscraped_histograms_stay_bounded() {
    if !std::path::Path::new("/proc/self/status").exists() {
        eprintln!("skipping: no /proc/self/status on this system");
        return;
    }
    let handle =
        weft_telemetry::install_metrics_with_upkeep(Duration::from_millis(20)).expect("recorder");
    let histogram = metrics::histogram!("weft_test_duration_seconds", "plugin" => "p");
    // warm up the allocator and the recorder's structures
    for _ in 0..100_000 {
        histogram.record(0.000_002);
    }
    std::thread::sleep(Duration::from_millis(100));
    let before = resident_bytes();
    // 16 million samples: ~130 MB if they were all kept until a scrape
    let started = Instant::now();
    for round in 0..160 {
        for _ in 0..100_000 {
            histogram.record(0.000_002);
        }
        if round % 8 == 0 {
            std::thread::sleep(Duration::from_millis(25));
        }
    }
    let grown = resident_bytes().saturating_sub(before);
    eprintln!(
        "16M samples in {:?}: resident memory grew by {} KiB",
        started.elapsed(),
        grown / 1024
    );
    assert!(
        grown < 40 << 20,
        "resident memory grew by {} MiB while recording histogram samples nobody scraped",
        grown >> 20
    );
    // and the samples were counted, not dropped: all of them but those metrics-util's
    // lock-free bucket misses when it is drained while being written (as a `/metrics`
    // scrape under load does too): 0–5 of 16.1M on a quiet machine, up to 1.2% seen with
    // both cores busy, so the bound is 95%
    let body = handle.render();
    let count = body
        .lines()
        .find_map(|l| l.strip_prefix("weft_test_duration_seconds_count{plugin=\"p\"} "))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no count in {body}"));
    assert!(
        (15_295_000..=16_100_000).contains(&count),
        "{count} of 16100000 samples counted"
    );
}
