//! Policy-gated sharing: each event is a request to perform an action (default
//! `odrl:distribute`) on an asset (the event's `subject`) for a recipient and a purpose
//! (extension attributes), decided by the configured ODRL policy.
//!
//! Permitted events pass with the policy and rule recorded as extensions, and the
//! permission's duties carried out where the plugin can: `odrl:anonymize` masks personal
//! information ([`crate::mask`]), `odrl:inform` emits a `weft.datashare.notice` event;
//! others are recorded as pending. Denied events are dropped with a
//! `weft.datashare.denied` audit event naming the rule, or rejected (`on_deny = reject`).
//! `odrl:count` constraints count the permitted executions of each rule's action per
//! recipient in KV state.

use oxrdf::Term;
use serde_json::json;
use sha2::{Digest, Sha256};
use weft_sdk::{Event, Failure};

use crate::mask::MaskConfig;
use crate::odrl::eval::{self, Decision, Memo, Request, World};
use crate::odrl::model::{Constraint, Policy, Rule};
use crate::odrl::vocab::odrl;
use crate::rdf::{self, Graph};

/// Audit event type of a denied share.
pub const TYPE_DENIED: &str = "weft.datashare.denied";
/// Notice event type of an `odrl:inform` duty.
pub const TYPE_NOTICE: &str = "weft.datashare.notice";

/// What to do with a denied event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDeny {
    /// Drop it and emit a `weft.datashare.denied` audit event (the default).
    Drop,
    /// Fail it permanently (dead letter), naming the rule.
    Reject,
}

/// Where a request field comes from in the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An extension attribute.
    Extension(String),
    /// The `subject` attribute.
    Subject,
    /// The `source` attribute.
    EventSource,
    /// The `type` attribute.
    Type,
    /// A fixed value.
    Fixed(String),
}

impl Source {
    /// Parses `ext:NAME`, `subject`, `source`, `type` or `value:TEXT`.
    pub fn parse(key: &str, s: &str) -> Result<Source, String> {
        let s = s.trim();
        Ok(match s {
            "subject" => Source::Subject,
            "source" => Source::EventSource,
            "type" => Source::Type,
            _ => {
                if let Some(name) = s.strip_prefix("ext:") {
                    Source::Extension(name.to_string())
                } else if let Some(v) = s.strip_prefix("value:") {
                    Source::Fixed(v.to_string())
                } else {
                    return Err(format!(
                        "{key}: `{s}` is not a source (ext:NAME, subject, source, type or value:TEXT)"
                    ));
                }
            }
        })
    }

    fn get<'e>(&'e self, e: &'e Event) -> Option<&'e str> {
        match self {
            Source::Extension(n) => e.extension(n),
            Source::Subject => e.subject.as_deref(),
            Source::EventSource => Some(&e.source),
            Source::Type => Some(&e.ty),
            Source::Fixed(v) => Some(v),
        }
    }
}

/// The sharing configuration with its parsed policies.
pub struct ShareConfig {
    /// The policies of the `policy` key.
    pub policies: Vec<Policy>,
    /// Policy and `sotw` triples (memberships, hierarchies).
    pub graph: Graph,
    /// Recipient → `odrl:assignee` and `odrl:recipient` (`request.assignee`, default
    /// `ext:recipient`).
    pub assignee: Source,
    /// Asset → `odrl:target` (`request.target`, default `subject`).
    pub target: Source,
    /// Purpose → `odrl:purpose` (`request.purpose`, default `ext:purpose`).
    pub purpose: Source,
    /// The action IRI (`request.action`, default `odrl:distribute`).
    pub action: String,
    /// Prefix turning plain values into IRIs (`iri_prefix`, default `urn:weft:`).
    pub iri_prefix: String,
    /// `on_deny`.
    pub on_deny: OnDeny,
    /// KV bucket of the `odrl:count` counters (`count_bucket`, default `datashare`).
    pub count_bucket: String,
    /// Whether any rule has an `odrl:count` constraint.
    pub uses_count: bool,
    /// Graph answers remembered between events (memberships, action inclusions).
    pub memo: Memo,
}

impl ShareConfig {
    /// Reads the configuration; `None` when no `policy` is configured.
    pub fn from_lookup(
        get: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<ShareConfig>, String> {
        match get("policy") {
            Some(text) => ShareConfig::with_policy(get, &text).map(Some),
            None => Ok(None),
        }
    }

    /// Reads the configuration with this policy document (inline or from KV).
    pub fn with_policy(
        get: &dyn Fn(&str) -> Option<String>,
        policy_text: &str,
    ) -> Result<ShareConfig, String> {
        let mut graph = rdf::parse_document(policy_text, "policy")?;
        let mut policies =
            crate::odrl::model::read_policies(&graph).map_err(|e| format!("policy: {e}"))?;
        // a policy another one inherits from (`odrl:inheritFrom`) is in force through
        // its children, which carry its rules: not also on its own
        let inherit_from = crate::odrl::vocab::odrl("inheritFrom");
        policies.retain(|p| graph.subjects(&inherit_from, &p.id).next().is_none());
        if let Some(sotw) = get("sotw") {
            graph.extend(&rdf::parse_document(&sotw, "sotw")?);
        }
        let source = |key: &str, default: &str| {
            Source::parse(key, &get(key).unwrap_or_else(|| default.to_string()))
        };
        let action = get("request.action").unwrap_or_else(|| "odrl:distribute".into());
        let action = expand(&action);
        let on_deny = match get("on_deny").as_deref().map(str::trim) {
            None | Some("drop") => OnDeny::Drop,
            Some("reject") => OnDeny::Reject,
            Some(o) => return Err(format!("on_deny: `{o}` (expected drop or reject)")),
        };
        let uses_count = policies.iter().any(|p| {
            p.permissions
                .iter()
                .chain(&p.prohibitions)
                .any(rule_uses_count)
        });
        Ok(ShareConfig {
            policies,
            graph,
            assignee: source("request.assignee", "ext:recipient")?,
            target: source("request.target", "subject")?,
            purpose: source("request.purpose", "ext:purpose")?,
            action,
            iri_prefix: get("iri_prefix").unwrap_or_else(|| "urn:weft:".into()),
            on_deny,
            count_bucket: get("count_bucket").unwrap_or_else(|| "datashare".into()),
            uses_count,
            memo: Memo::default(),
        })
    }

    fn node(&self, v: &str) -> Term {
        if v.contains(':') {
            rdf::iri(&expand(v))
        } else {
            rdf::iri(&format!("{}{v}", self.iri_prefix))
        }
    }
}

/// A policy kept in the plugin's KV state (`policy_kv = "BUCKET/KEY"`), written there by
/// an administrator (with the Redis backend: `SET weft:kv:<plugin>:<BUCKET>:<KEY>`), read
/// when the instance starts and again every `policy_refresh_ms` (default 10 s; `0`: on
/// every event); parsed again only when its text changed.
#[derive(Debug, Clone)]
pub struct PolicyKv {
    /// The KV bucket.
    pub bucket: String,
    /// The key in the bucket.
    pub key: String,
    /// How long a read policy is used before the key is read again, in milliseconds.
    pub refresh_ms: u64,
    /// SHA-256 of the policy text in force.
    digest: [u8; 32],
    /// When the key is next read (milliseconds since the epoch).
    next_check: std::cell::Cell<i64>,
}

impl PolicyKv {
    /// `policy_kv` and `policy_refresh_ms`; `None` without `policy_kv` (or with an inline
    /// `policy`, which wins).
    pub fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Option<PolicyKv>, String> {
        let Some(spec) = get("policy_kv") else {
            return Ok(None);
        };
        if get("policy").is_some() {
            return Err("`policy` and `policy_kv` are both set: configure one".into());
        }
        let (bucket, key) = spec
            .trim()
            .split_once('/')
            .filter(|(b, k)| !b.is_empty() && !k.is_empty())
            .ok_or_else(|| format!("policy_kv: `{spec}` is not BUCKET/KEY"))?;
        let refresh_ms = match get("policy_refresh_ms") {
            None => 10_000,
            Some(v) => v
                .trim()
                .parse()
                .map_err(|_| format!("policy_refresh_ms: `{v}` is not a number"))?,
        };
        Ok(Some(PolicyKv {
            bucket: bucket.to_string(),
            key: key.to_string(),
            refresh_ms,
            digest: [0; 32],
            next_check: std::cell::Cell::new(0),
        }))
    }

    /// The policy text in KV (`None` when the key is not there). KV errors are `retry`.
    pub fn read(&self) -> Result<Option<String>, Failure> {
        let bucket = weft_sdk::kv::Bucket::open(&self.bucket).map_err(Failure::retry)?;
        match bucket.get(&self.key).map_err(Failure::retry)? {
            None => Ok(None),
            Some(bytes) => String::from_utf8(bytes).map(Some).map_err(|_| {
                Failure::reject(format!(
                    "policy_kv: the value of `{}` in KV bucket `{}` is not UTF-8 text",
                    self.key, self.bucket
                ))
            }),
        }
    }

    /// The message for a policy that is not in KV.
    pub fn missing(&self) -> String {
        format!(
            "policy_kv: no policy at key `{}` of KV bucket `{}` yet (an administrator writes it there; with the Redis backend: SET weft:kv:<plugin>:{}:{} \"<Turtle or JSON-LD>\")",
            self.key, self.bucket, self.bucket, self.key
        )
    }

    /// Records `text` as the policy in force, read now.
    pub fn loaded(&mut self, text: &str) {
        self.digest = Sha256::digest(text.as_bytes()).into();
        self.checked();
    }

    /// Whether `text` is the policy in force.
    pub fn is(&self, text: &str) -> bool {
        <[u8; 32]>::from(Sha256::digest(text.as_bytes())) == self.digest
    }

    /// Whether the refresh interval has passed.
    pub fn due(&self) -> bool {
        now_ms() >= self.next_check.get()
    }

    /// Records that the key was read now.
    pub fn checked(&self) {
        self.next_check
            .set(now_ms().saturating_add(self.refresh_ms.min(i64::MAX as u64) as i64));
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn uses_count(c: &Constraint) -> bool {
    match c {
        Constraint::Atomic(a) => a.left == COUNT_IRI,
        Constraint::Logical(l) => l.operands.iter().any(uses_count),
    }
}

/// Whether a rule's constraints or action refinements mention `odrl:count`.
fn rule_uses_count(r: &Rule) -> bool {
    r.constraints.iter().any(uses_count)
        || r.actions
            .iter()
            .any(|a| a.refinements.iter().any(uses_count))
}

const COUNT_IRI: &str = "http://www.w3.org/ns/odrl/2/count";
const PURPOSE_IRI: &str = "http://www.w3.org/ns/odrl/2/purpose";
const RECIPIENT_IRI: &str = "http://www.w3.org/ns/odrl/2/recipient";

/// The KV key of a rule's `odrl:count` counter for a recipient:
/// `count/<policy>/<rule>/<recipient>`.
fn count_key(policy: &Policy, rule: &Rule, party: &str) -> String {
    format!("count/{}/{}/{party}", policy.id, rule.id)
}

/// `odrl:x` → the ODRL IRI; a bare ODRL term → its IRI; anything else as is.
fn expand(v: &str) -> String {
    let v = v.trim();
    if let Some(local) = v.strip_prefix("odrl:") {
        odrl(local)
    } else if !v.contains(':') {
        odrl(v)
    } else {
        v.to_string()
    }
}

/// The outcome of sharing one event.
pub struct Shared {
    /// Events to pass on: the event (if permitted) and notices or the audit event.
    pub events: Vec<Event>,
}

/// Decides and carries out the sharing of `event`. `mask` is the masking configuration
/// applied for `odrl:anonymize` duties (and always, when active).
pub fn share(config: &ShareConfig, mask: &MaskConfig, mut event: Event) -> Result<Shared, Failure> {
    let party = config.assignee.get(&event).map(|v| config.node(v));
    let target = config.target.get(&event).map(|v| config.node(v));
    let mut values = Vec::new();
    if let Some(p) = config.purpose.get(&event) {
        values.push((PURPOSE_IRI.to_string(), config.node(p)));
    }
    if let Some(p) = &party {
        values.push((RECIPIENT_IRI.to_string(), p.clone()));
    }
    let world = World::wall_clock(&config.graph, Some(&config.memo));
    let bucket = if config.uses_count {
        Some(weft_sdk::kv::Bucket::open(&config.count_bucket).map_err(Failure::retry)?)
    } else {
        None
    };
    let party_key = match (&bucket, &party) {
        (Some(_), Some(p)) => p.to_string(),
        _ => String::new(),
    };
    let mut request = Request {
        id: None,
        rule: None,
        party: party.clone(),
        action: Some(config.action.clone()),
        target: target.clone(),
        values,
        units: Vec::new(),
    };
    let mut permit: Option<(&Policy, &Rule)> = None;
    let mut denial: Option<(String, String)> = None;
    for policy in &config.policies {
        let decision = match &bucket {
            None => eval::decide_fast(policy, &request, &world),
            Some(b) => {
                // ODRL 2.2: `count` is the number of executions of the action of the
                // rule: one counter per rule and recipient, this execution included
                let mut active = |rule: &Rule| -> Result<bool, Failure> {
                    if !rule_uses_count(rule) {
                        return Ok(eval::rule_active(rule, &request, &world));
                    }
                    let key = count_key(policy, rule, &party_key);
                    let n: u64 = b
                        .get(&key)
                        .map_err(Failure::retry)?
                        .and_then(|v| String::from_utf8(v).ok()?.trim().parse().ok())
                        .unwrap_or(0);
                    request.values.push((
                        COUNT_IRI.to_string(),
                        Term::Literal(oxrdf::Literal::from(n as i64 + 1)),
                    ));
                    let active = eval::rule_active(rule, &request, &world);
                    request.values.pop();
                    Ok(active)
                };
                let mut permission = None;
                for (i, r) in policy.permissions.iter().enumerate() {
                    if active(r)? {
                        permission = Some(i);
                        break;
                    }
                }
                let mut prohibition = None;
                for (i, r) in policy.prohibitions.iter().enumerate() {
                    if active(r)? {
                        prohibition = Some(i);
                        break;
                    }
                }
                eval::combine(policy, permission, prohibition)
            }
        };
        match decision {
            Decision::Permit(i) => {
                if permit.is_none() {
                    permit = Some((policy, &policy.permissions[i]));
                }
            }
            Decision::Prohibited(i) => {
                let rule = term_text(&policy.prohibitions[i - policy.permissions.len()].id);
                denial = Some((term_text(&policy.id), format!("prohibited by {rule}")));
                permit = None;
                break;
            }
            Decision::NotPermitted => {
                denial.get_or_insert((
                    term_text(&policy.id),
                    "no permission of the policy is active".into(),
                ));
            }
        }
    }
    if permit.is_some()
        && let Some(b) = &bucket
    {
        // the share exercises the permission that granted it, and is an execution of the
        // action of every prohibition that covers it (its target, assignee and action)
        if let Some((policy, rule)) = permit
            && rule_uses_count(rule)
        {
            b.increment(&count_key(policy, rule, &party_key), 1)
                .map_err(Failure::retry)?;
        }
        for policy in &config.policies {
            for rule in &policy.prohibitions {
                if rule_uses_count(rule) && eval::rule_covers(rule, &request, &world) {
                    b.increment(&count_key(policy, rule, &party_key), 1)
                        .map_err(Failure::retry)?;
                }
            }
        }
    }
    let (policy, rule) = match permit {
        Some(p) => p,
        None => {
            let (policy, reason) = denial.unwrap_or_default();
            let request = json!({
                "assignee": party.as_ref().map(term_text),
                "action": config.action,
                "target": target.as_ref().map(term_text),
                "purpose": config.purpose.get(&event),
            });
            return match config.on_deny {
                OnDeny::Reject => Err(Failure::reject(format!(
                    "sharing denied by policy {policy}: {reason}"
                ))),
                OnDeny::Drop => Ok(Shared {
                    events: vec![event.derive(TYPE_DENIED).with_json(&json!({
                        "policy": policy,
                        "reason": reason,
                        "request": request,
                    }))],
                }),
            };
        }
    };
    // duties
    let mut duties = Vec::new();
    let mut notices = Vec::new();
    let mut anonymize = false;
    for duty in &rule.duties {
        for action in &duty.actions {
            let status = if action.iri == odrl("anonymize") {
                anonymize = true;
                "performed"
            } else if action.iri == odrl("inform") {
                notices.push(event.derive(TYPE_NOTICE).with_json(&json!({
                    "policy": term_text(&policy.id),
                    "rule": term_text(&rule.id),
                    "duty": term_text(&duty.id),
                    "informedParty": duty.informed_parties.iter().map(term_text).collect::<Vec<_>>(),
                    "recipient": party.as_ref().map(term_text),
                    "target": target.as_ref().map(term_text),
                    "event": {"id": event.id, "source": event.source},
                })));
                "performed"
            } else {
                "pending"
            };
            duties
                .push(json!({"duty": term_text(&duty.id), "action": action.iri, "status": status}));
        }
    }
    if anonymize || mask.is_active() {
        let default_mask;
        let m = if mask.is_active() {
            mask
        } else {
            default_mask = MaskConfig {
                detect: crate::pii::KindSet::all(),
                ..MaskConfig::default()
            };
            &default_mask
        };
        crate::mask_event(&mut event, m)?;
    }
    event.set_extension("odrlpolicy", term_text(&policy.id));
    event.set_extension("odrlrule", term_text(&rule.id));
    if !duties.is_empty() {
        event.set_extension("odrlduties", serde_json::Value::Array(duties).to_string());
    }
    let mut events = vec![event];
    events.extend(notices);
    Ok(Shared { events })
}

fn term_text(t: &Term) -> String {
    match t {
        Term::NamedNode(n) => n.as_str().to_string(),
        other => other.to_string(),
    }
}
