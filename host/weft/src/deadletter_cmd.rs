//! `weft deadletter replay`: re-posts dead-lettered events (with their original ids) to the
//! topics their routes read, filtered by route and reason, and counts what it did.
//!
//! It works on the data directory of a stopped hub: the embedded log is one redb file that
//! a running `weft` holds open (the command says so if it is). Records are appended to the
//! input topic as the original event — every `deadletter*` attribute removed — so `dedupe`
//! and other plugins see them as they were (plugin state of a dead-lettered delivery was
//! never applied, so `dedupe` lets them through).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};
use weft_connector::dead_letter;
use weft_connector_embedded::EmbeddedLog;
use weft_event::Event;

use crate::config::Config;

/// What to replay.
pub struct ReplayOptions {
    /// The dead-letter topic (default: the hub's `dead_letter` when it is `topic:NAME`).
    pub topic: Option<String>,
    /// Only records of this route.
    pub route: Option<String>,
    /// Only records whose reason contains this text.
    pub reason: Option<String>,
    /// Append to this topic instead of the route's input topics.
    pub to: Option<String>,
    /// First offset of the dead-letter topic to look at.
    pub from: u64,
    /// Count only; append nothing.
    pub dry_run: bool,
}

/// What a replay did, per category.
#[derive(Debug, Default)]
pub struct ReplaySummary {
    /// Records appended again, per target topic.
    pub replayed: BTreeMap<String, u64>,
    /// Records left out by `--route` / `--reason`.
    pub filtered_out: u64,
    /// Malformed-message records (their data is raw bytes, not an event).
    pub malformed: u64,
    /// Records whose route is unknown or reads no embedded topic (use `--to`).
    pub no_target: u64,
    /// The dead-letter topic's next offset: `--from` for the next run.
    pub next_offset: u64,
}

/// Runs the replay against the data directory of `config`.
pub async fn replay(
    config: &Config,
    base_dir: &Path,
    options: &ReplayOptions,
) -> anyhow::Result<ReplaySummary> {
    let topic = match &options.topic {
        Some(t) => t.clone(),
        None => match config.hub.dead_letter.strip_prefix("topic:") {
            Some(t) => t.to_string(),
            None => bail!(
                "hub.dead_letter is `{}`, not an embedded topic: name the dead-letter topic with --topic",
                config.hub.dead_letter
            ),
        },
    };
    let path = base_dir.join(&config.hub.data_dir).join("log.redb");
    if !path.is_file() {
        bail!(
            "no embedded log at {} (nothing was dead-lettered there)",
            path.display()
        );
    }
    let log = EmbeddedLog::open(&path, u64::MAX).map_err(|e| {
        anyhow::anyhow!(
            "cannot open {}: {e} — is weft running with this data directory? Stop it first (replay works on a stopped hub)",
            path.display()
        )
    })?;
    let mut summary = ReplaySummary::default();
    let mut batches: BTreeMap<String, Vec<Event>> = BTreeMap::new();
    let mut next = options.from;
    loop {
        let page = log
            .read(&topic, next, 1000)
            .with_context(|| format!("reading topic `{topic}`"))?;
        let Some((last, _)) = page.last() else { break };
        next = last + 1;
        for (_, entry) in page {
            let Ok(record) = entry else {
                summary.malformed += 1;
                continue;
            };
            if record.ty == dead_letter::MALFORMED_TYPE {
                summary.malformed += 1;
                continue;
            }
            let ext = &record.extensions;
            let route = ext.get(dead_letter::ROUTE).cloned().unwrap_or_default();
            if options.route.as_ref().is_some_and(|r| *r != route)
                || options.reason.as_ref().is_some_and(|r| {
                    !ext.get(dead_letter::REASON)
                        .is_some_and(|reason| reason.contains(r.as_str()))
                })
            {
                summary.filtered_out += 1;
                continue;
            }
            let targets: Vec<String> = match &options.to {
                Some(t) => vec![t.clone()],
                None => config
                    .routes
                    .iter()
                    .find(|r| r.name == route)
                    .map(|r| {
                        r.from
                            .iter()
                            .filter_map(|f| f.strip_prefix("topic:").map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
            };
            if targets.is_empty() {
                summary.no_target += 1;
                continue;
            }
            let original = original_event(record);
            for t in targets {
                batches.entry(t).or_default().push(original.clone());
            }
        }
    }
    summary.next_offset = next.max(log.head(&topic).unwrap_or(next));
    for (target, events) in batches {
        if !options.dry_run {
            for chunk in events.chunks(500) {
                log.append(&target, chunk)
                    .await
                    .with_context(|| format!("appending to topic `{target}`"))?;
            }
        }
        *summary.replayed.entry(target).or_default() += events.len() as u64;
    }
    Ok(summary)
}

/// The event as it was before it was dead-lettered: every `deadletter*` attribute removed.
fn original_event(mut record: Event) -> Event {
    record
        .extensions
        .retain(|name, _| !name.starts_with("deadletter"));
    record
}

/// Prints the summary for people (stdout) and returns the exit code.
pub fn print_summary(summary: &ReplaySummary, dry_run: bool) -> u8 {
    let verb = if dry_run { "would replay" } else { "replayed" };
    let total: u64 = summary.replayed.values().sum();
    println!("{verb} {total} event(s)");
    for (topic, n) in &summary.replayed {
        println!("  {n} to topic `{topic}`");
    }
    println!(
        "left out: {} by --route/--reason, {} malformed (raw bytes, not events), {} without an embedded input topic (use --to)",
        summary.filtered_out, summary.malformed, summary.no_target
    );
    println!(
        "next time, to skip what this run saw: --from {}",
        summary.next_offset
    );
    0
}
