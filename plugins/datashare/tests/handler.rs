//! The handler natively, against the SDK's in-process host: conformance mode, policy-gated
//! sharing with duties and counts, masking.

use serde_json::{Value, json};
use weft_plugin_datashare::handle;
use weft_sdk::testing::TestHost;
use weft_sdk::{Event, Failure};

const POLICY: &str = r#"
@prefix odrl: <http://www.w3.org/ns/odrl/2/> .
@prefix ex: <http://example.com/> .
@prefix dpv: <https://w3id.org/dpv#> .
ex:sharing a odrl:Set; odrl:permission ex:toLab, ex:toBank; odrl:prohibition ex:noBroker .
ex:toLab odrl:target ex:orders; odrl:assignee ex:lab; odrl:action odrl:distribute;
    odrl:constraint [ odrl:leftOperand odrl:purpose; odrl:operator odrl:isAnyOf; odrl:rightOperand dpv:ResearchAndDevelopment, dpv:ServiceProvision ];
    odrl:duty [ odrl:action odrl:anonymize ], [ odrl:action odrl:inform; odrl:informedParty ex:dpo ] .
ex:toBank odrl:target ex:orders; odrl:assignee ex:partners; odrl:action odrl:use;
    odrl:constraint [ odrl:leftOperand odrl:count; odrl:operator odrl:lteq; odrl:rightOperand 2 ] .
ex:partners a odrl:PartyCollection .
ex:noBroker odrl:target ex:orders; odrl:assignee ex:broker; odrl:action odrl:distribute .
"#;

fn host() -> TestHost {
    TestHost::new()
        .with_config("policy", POLICY)
        .with_config("sotw", "<http://example.com/bank> <http://www.w3.org/ns/odrl/2/partOf> <http://example.com/partners> .")
}

fn order(id: &str, recipient: &str, purpose: Option<&str>) -> Event {
    let mut e = Event::new(id, "/erp", "com.example.order.shared")
        .with_subject("http://example.com/orders")
        .with_json(&json!({"buyer": {"idNo": "11010519491231002X", "mobile": "13800138000"}, "total": "99.00"}));
    e.set_extension("recipient", recipient);
    if let Some(p) = purpose {
        e.set_extension("purpose", p);
    }
    e
}

fn data(e: &Event) -> Value {
    e.data_json().unwrap()
}

#[test]
fn permitted_share_carries_out_anonymize_and_inform() {
    let host = host();
    let out = host
        .call(
            handle,
            order(
                "1",
                "http://example.com/lab",
                Some("https://w3id.org/dpv#ResearchAndDevelopment"),
            ),
        )
        .unwrap();
    assert_eq!(out.len(), 2, "{out:?}");
    let shared = &out[0];
    assert_eq!(shared.ty, "com.example.order.shared");
    assert_eq!(
        shared.extension("odrlpolicy"),
        Some("http://example.com/sharing")
    );
    assert_eq!(
        shared.extension("odrlrule"),
        Some("http://example.com/toLab")
    );
    let duties: Value = serde_json::from_str(shared.extension("odrlduties").unwrap()).unwrap();
    assert_eq!(duties.as_array().unwrap().len(), 2);
    assert!(
        duties
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["status"] == "performed"),
        "{duties}"
    );
    // anonymize: personal information masked, the report without values
    assert_eq!(data(shared)["buyer"]["idNo"], "**************002X");
    assert_eq!(data(shared)["buyer"]["mobile"], "*******8000");
    let masked = shared.extension("piimasked").unwrap();
    assert!(
        masked.contains("cn_id") && !masked.contains("0138000"),
        "{masked}"
    );
    // inform: a notice to the informed party
    let notice = &out[1];
    assert_eq!(notice.ty, "weft.datashare.notice");
    assert_eq!(
        data(notice)["informedParty"],
        json!(["http://example.com/dpo"])
    );
    assert_eq!(data(notice)["recipient"], "http://example.com/lab");
}

#[test]
fn denied_shares_are_audited_or_rejected() {
    let host = host();
    // wrong purpose: no permission is active
    let out = host
        .call(
            handle,
            order(
                "2",
                "http://example.com/lab",
                Some("https://w3id.org/dpv#Marketing"),
            ),
        )
        .unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].ty, "weft.datashare.denied");
    assert_eq!(data(&out[0])["policy"], "http://example.com/sharing");
    assert!(
        data(&out[0]).get("buyer").is_none(),
        "the audit event carries no payload"
    );
    // a prohibition names its rule
    let out = host
        .call(handle, order("3", "http://example.com/broker", None))
        .unwrap();
    assert_eq!(out[0].ty, "weft.datashare.denied");
    assert!(
        data(&out[0])["reason"]
            .as_str()
            .unwrap()
            .contains("noBroker"),
        "{:?}",
        data(&out[0])
    );
    let host = host.with_config("on_deny", "reject");
    match host.call(handle, order("4", "http://example.com/broker", None)) {
        Err(Failure::Reject(m)) => assert!(m.contains("noBroker"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn count_constraints_use_kv_state() {
    let host = host();
    // the bank is a member of the partner collection; use includes distribute; at most 2
    for i in 0..2 {
        let out = host
            .call(
                handle,
                order(&format!("c{i}"), "http://example.com/bank", None),
            )
            .unwrap();
        assert_eq!(
            out[0].extension("odrlrule"),
            Some("http://example.com/toBank"),
            "share {i}"
        );
    }
    let out = host
        .call(handle, order("c3", "http://example.com/bank", None))
        .unwrap();
    assert_eq!(out[0].ty, "weft.datashare.denied");
    assert_eq!(
        host.kv(
            "datashare",
            "count/<http://example.com/sharing>/<http://example.com/toBank>/<http://example.com/bank>"
        ),
        Some(b"2".to_vec())
    );
}

/// ODRL 2.2: `count` is the number of executions of the action of the rule — each rule
/// counts its own, per recipient.
#[test]
fn count_constraints_are_kept_per_rule_and_recipient() {
    let policy = r#"
@prefix odrl: <http://www.w3.org/ns/odrl/2/> .
@prefix ex: <http://example.com/> .
ex:p a odrl:Set; odrl:permission ex:research, ex:service, ex:other; odrl:prohibition ex:tooMany .
ex:other odrl:target ex:orders; odrl:action odrl:distribute;
    odrl:constraint [ odrl:leftOperand odrl:purpose; odrl:operator odrl:eq; odrl:rightOperand ex:other ] .
ex:research odrl:target ex:orders; odrl:action odrl:distribute;
    odrl:constraint [ odrl:leftOperand odrl:purpose; odrl:operator odrl:eq; odrl:rightOperand ex:research ],
                    [ odrl:leftOperand odrl:count; odrl:operator odrl:lteq; odrl:rightOperand 1 ] .
ex:service odrl:target ex:orders; odrl:action odrl:distribute;
    odrl:constraint [ odrl:leftOperand odrl:purpose; odrl:operator odrl:eq; odrl:rightOperand ex:service ],
                    [ odrl:leftOperand odrl:count; odrl:operator odrl:lteq; odrl:rightOperand 2 ] .
ex:tooMany odrl:target ex:orders; odrl:action odrl:distribute;
    odrl:constraint [ odrl:leftOperand odrl:count; odrl:operator odrl:gt; odrl:rightOperand 4 ] .
"#;
    let host = TestHost::new()
        .with_config("policy", policy)
        .with_config("iri_prefix", "http://example.com/");
    let share = |id: &str, recipient: &str, purpose: &str| {
        let out = host
            .call(handle, order(id, recipient, Some(purpose)))
            .unwrap();
        match out[0].ty.as_str() {
            "weft.datashare.denied" => out[0].data_json::<Value>().unwrap()["reason"]
                .as_str()
                .unwrap()
                .to_string(),
            _ => out[0].extension("odrlrule").unwrap().to_string(),
        }
    };
    let (research, service) = ("http://example.com/research", "http://example.com/service");
    assert_eq!(share("1", "lab", "research"), research);
    // the research permission's one use is gone; the service permission counts apart
    assert!(share("2", "lab", "research").contains("no permission"));
    assert_eq!(share("3", "lab", "service"), service);
    assert_eq!(share("4", "lab", "service"), service);
    assert!(share("5", "lab", "service").contains("no permission"));
    // another recipient has counts of its own
    assert_eq!(share("6", "bank", "research"), research);
    // the prohibition covers every distribution of the orders, whichever permission
    // grants it: three were permitted to the lab (research once, service twice), a 4th
    // under a permission without a count passes, the 5th is one too many
    assert_eq!(share("7", "lab", "other"), "http://example.com/other");
    assert_eq!(
        share("8", "lab", "other"),
        "prohibited by http://example.com/tooMany"
    );
    assert_eq!(share("9", "bank", "other"), "http://example.com/other");
    let key = |rule: &str, who: &str| {
        host.kv(
            "datashare",
            &format!("count/<http://example.com/p>/<http://example.com/{rule}>/<http://example.com/{who}>"),
        )
    };
    assert_eq!(key("research", "lab"), Some(b"1".to_vec()));
    assert_eq!(key("service", "lab"), Some(b"2".to_vec()));
    assert_eq!(key("tooMany", "lab"), Some(b"4".to_vec()));
    assert_eq!(key("research", "bank"), Some(b"1".to_vec()));
    assert_eq!(key("tooMany", "bank"), Some(b"2".to_vec()));
    // a permission without a count keeps no counter
    assert_eq!(key("other", "bank"), None);
}

#[test]
fn conformance_mode_reports_and_rejects_malformed_policies() {
    let host = TestHost::new();
    let request = "@prefix odrl: <http://www.w3.org/ns/odrl/2/> . @prefix ex: <http://example.com/> .
        ex:req a odrl:Request; odrl:permission [ odrl:assignee ex:lab; odrl:action odrl:distribute; odrl:target ex:orders ] .";
    let sotw = "<http://example.com/request/currentTime> <http://purl.org/dc/terms/issued> \"2024-02-12T11:20:10.999Z\"^^<http://www.w3.org/2001/XMLSchema#dateTime> .";
    let event = |policy: &str| {
        Event::new("e1", "/tests", "weft.odrl.evaluate")
            .with_json(&json!({"policy": policy, "request": request, "sotw": sotw}))
    };
    let out = host.call(handle, event(POLICY)).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].ty, "weft.odrl.report");
    assert_eq!(out[0].id, "e1.weft.odrl.report");
    assert_eq!(out[0].datacontenttype.as_deref(), Some("text/turtle"));
    let turtle = out[0].data_text().unwrap();
    let g = weft_plugin_datashare::rdf::parse_document(turtle, "report").unwrap();
    let reports = g.subjects_of_type("https://w3id.org/force/compliance-report#PermissionReport");
    assert_eq!(reports.len(), 2, "{turtle}");
    assert_eq!(
        g.subjects_of_type("https://w3id.org/force/compliance-report#ProhibitionReport")
            .len(),
        1
    );
    match host.call(
        handle,
        event("@prefix odrl: <http://www.w3.org/ns/odrl/2/> . <p> a odrl:Set"),
    ) {
        Err(Failure::Reject(m)) => assert!(m.contains("policy: Turtle syntax error"), "{m}"),
        other => panic!("{other:?}"),
    }
    match host.call(
        handle,
        Event::new("e2", "/t", "weft.odrl.evaluate").with_json(&json!({"policy": 1})),
    ) {
        Err(Failure::Reject(m)) => assert!(m.contains("weft.odrl.evaluate"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn masking_without_a_policy_and_bad_configuration() {
    let host = TestHost::new()
        .with_config("mask.detect", "bank_card,email")
        .with_config("mask.mode", "pseudonym")
        .with_config("pseudonym_secret", "s3cret");
    let e = Event::new("m1", "/crm", "t")
        .with_json(&json!({"card": "6222020200000000006", "mail": "A@B.cn"}));
    let out = host.call(handle, e).unwrap();
    let d = data(&out[0]);
    assert!(d["card"].as_str().unwrap().starts_with("bank_card:"));
    assert!(d["mail"].as_str().unwrap().starts_with("email:"));
    let bad = TestHost::new().with_config("policy", "not turtle at all");
    match bad.call(handle, Event::new("x", "/s", "t")) {
        Err(Failure::Reject(m)) => assert!(m.starts_with("configuration: policy:"), "{m}"),
        other => panic!("{other:?}"),
    }
}

/// The policy and state of the world of `examples/datashare.toml` decide as its comment says.
#[test]
fn shipped_example_policy_decides_as_documented() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/datashare.toml"
    ))
    .unwrap();
    let doc: toml::Table = text.parse().unwrap();
    let config = doc["plugins"]["datashare"]["config"].as_table().unwrap();
    let mut host = TestHost::new();
    for (k, v) in config {
        host = host.with_config(k, v.as_str().unwrap());
    }
    let shared = |id: &str, recipient: &str, purpose: &str| {
        let mut e = Event::new(id, "/erp", "com.example.order.shared")
            .with_subject("https://data.example.com/orders")
            .with_json(&json!({"orderId": "PO-1", "buyer": {"name": "张三", "idNo": "11010519491231002X", "mobile": "13800138000"}}));
        e.set_extension("recipient", recipient);
        e.set_extension("purpose", purpose);
        e
    };
    let research = "https://w3id.org/dpv#ResearchAndDevelopment";
    let out = host
        .call(
            handle,
            shared("1", "https://partners.example.com/lab", research),
        )
        .unwrap();
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(
        out[0].extension("odrlrule"),
        Some("https://data.example.com/research")
    );
    assert_eq!(
        data(&out[0])["buyer"],
        json!({"name": "张*", "idNo": "**************002X", "mobile": "*******8000"})
    );
    assert_eq!(out[1].ty, "weft.datashare.notice");
    let out = host
        .call(
            handle,
            shared("2", "https://partners.example.com/sf-express", research),
        )
        .unwrap();
    assert_eq!(
        out[0].extension("odrlrule"),
        Some("https://data.example.com/logistics")
    );
    let out = host
        .call(
            handle,
            shared("3", "https://partners.example.com/broker", research),
        )
        .unwrap();
    assert_eq!(out[0].ty, "weft.datashare.denied");
    for i in 0..3 {
        let out = host
            .call(
                handle,
                shared(
                    &format!("a{i}"),
                    "https://partners.example.com/auditor",
                    research,
                ),
            )
            .unwrap();
        let want = if i < 2 {
            "com.example.order.shared"
        } else {
            "weft.datashare.denied"
        };
        assert_eq!(out[0].ty, want, "audit share {i}");
    }
}

/// `policy_kv`: the policy kept in the plugin's KV state by an administrator, read when
/// due (here on every event) and parsed again only when it changed.
#[test]
fn policy_from_kv_is_loaded_and_refreshed() {
    let host = TestHost::new()
        .with_config("policy_kv", "policies/sharing")
        .with_config("policy_refresh_ms", "0")
        .with_config("sotw", "<http://example.com/bank> <http://www.w3.org/ns/odrl/2/partOf> <http://example.com/partners> .");
    let lab = || {
        order(
            "k",
            "http://example.com/lab",
            Some("https://w3id.org/dpv#ServiceProvision"),
        )
    };
    // not written yet: the event waits (retry), the message says where the policy goes
    match host.call(handle, lab()) {
        Err(Failure::Retry(m)) => assert!(
            m.contains("`sharing`") && m.contains("`policies`") && m.contains("weft:kv:"),
            "{m}"
        ),
        other => panic!("{other:?}"),
    }
    host.set_kv("policies", "sharing", POLICY.as_bytes());
    let out = host.call(handle, lab()).unwrap();
    assert_eq!(
        out[0].extension("odrlrule"),
        Some("http://example.com/toLab")
    );
    // the administrator withdraws the lab's permission
    host.set_kv(
        "policies",
        "sharing",
        POLICY
            .replace(
                "odrl:permission ex:toLab, ex:toBank",
                "odrl:permission ex:toBank",
            )
            .as_bytes(),
    );
    let out = host.call(handle, lab()).unwrap();
    assert_eq!(out[0].ty, "weft.datashare.denied", "{out:?}");
    // a broken policy in KV is a reject naming the parse error
    host.set_kv("policies", "sharing", b"@prefix odrl: <x> . <urn:p> a ;");
    match host.call(handle, lab()) {
        Err(Failure::Reject(m)) => assert!(
            m.contains("the policy in KV: policy: Turtle syntax error"),
            "{m}"
        ),
        other => panic!("{other:?}"),
    }
    // both sources configured is an error
    let both = TestHost::new()
        .with_config("policy_kv", "policies/sharing")
        .with_config("policy", POLICY);
    match both.call(handle, lab()) {
        Err(Failure::Reject(m)) => assert!(m.contains("`policy` and `policy_kv`"), "{m}"),
        other => panic!("{other:?}"),
    }
}

/// A policy inheriting from another (`odrl:inheritFrom`): the child carries the parent's
/// target, prohibition and conflict strategy; the parent is in force through the child
/// only (on its own its blanket prohibition would deny every share).
#[test]
fn sharing_with_an_inherited_policy() {
    let policy = r#"
@prefix odrl: <http://www.w3.org/ns/odrl/2/> .
@prefix ex: <http://example.com/> .
ex:base a odrl:Policy; odrl:target ex:orders; odrl:conflict odrl:perm; odrl:prohibition ex:noDistribute .
ex:noDistribute odrl:action odrl:distribute .
ex:labAgreement a odrl:Agreement; odrl:inheritFrom ex:base; odrl:permission ex:toLab .
ex:toLab odrl:assignee ex:lab; odrl:action odrl:distribute .
"#;
    let host = TestHost::new().with_config("policy", policy);
    let out = host
        .call(handle, order("1", "http://example.com/lab", None))
        .unwrap();
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(
        out[0].extension("odrlpolicy"),
        Some("http://example.com/labAgreement")
    );
    assert_eq!(
        out[0].extension("odrlrule"),
        Some("http://example.com/toLab")
    );
    // someone else: the inherited prohibition denies
    let out = host
        .call(handle, order("2", "http://example.com/broker", None))
        .unwrap();
    assert_eq!(out[0].ty, "weft.datashare.denied", "{out:?}");
    let reason = data(&out[0])["reason"].as_str().unwrap().to_string();
    assert!(reason.contains("noDistribute"), "{reason}");
    // another asset: the inherited target does not match
    let mut other = order("3", "http://example.com/lab", None);
    other.subject = Some("http://example.com/invoices".into());
    let out = host.call(handle, other).unwrap();
    assert_eq!(out[0].ty, "weft.datashare.denied", "{out:?}");
}
