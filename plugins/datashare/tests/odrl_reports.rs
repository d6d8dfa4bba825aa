//! Compliance reports for policies of the ODRL 2.2 Information Model's examples and for
//! each construct of the evaluator, compared in full with the expected report as RDF
//! graphs (report nodes are generated `urn:uuid:` IRIs and compare like blank nodes).

use weft_plugin_datashare::odrl::{self, report::TurtleOptions};
use weft_plugin_datashare::rdf::{isomorphic, parse_document};

const PREFIXES: &str = "@prefix odrl: <http://www.w3.org/ns/odrl/2/> .
@prefix report: <https://w3id.org/force/compliance-report#> .
@prefix dct: <http://purl.org/dc/terms/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix ex: <http://example.com/> .
@prefix temp: <http://example.com/request/> .
@prefix foaf: <http://xmlns.com/foaf/0.1/> .
@prefix sotw: <https://w3id.org/force/sotw#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
";

const NOW: &str = "temp:currentTime dct:issued \"2017-06-01T10:00:00Z\"^^xsd:dateTime .";

fn check(policy: &str, request: &str, sotw: &str, expected: &str) {
    let with = |s: &str| {
        if s.trim_start().starts_with('{') {
            s.to_string()
        } else {
            format!("{PREFIXES}{s}")
        }
    };
    let got = odrl::evaluate_documents(
        &with(policy),
        &with(request),
        &with(sotw),
        TurtleOptions::default(),
    )
    .unwrap_or_else(|e| panic!("evaluation failed: {e}"));
    let got_g = parse_document(&got, "got").unwrap_or_else(|e| panic!("{e}\n{got}"));
    let want = parse_document(&with(expected), "want").unwrap();
    if let Err(diff) = isomorphic(&got_g, &want, &|iri| iri.starts_with("urn:uuid:")) {
        panic!("{diff}\n--- report:\n{got}");
    }
}

fn request(party: &str, action: &str, target: &str) -> String {
    format!(
        "ex:req a odrl:Request; odrl:permission ex:reqPerm .
         ex:reqPerm a odrl:Permission; odrl:assignee {party}; odrl:action {action}; odrl:target {target} ."
    )
}

/// ODRL IM example 3 (Agreement): Billie may play the movie.
#[test]
fn example_3_agreement_play() {
    let policy = r#"{
        "@context": "http://www.w3.org/ns/odrl.jsonld",
        "@type": "Agreement",
        "uid": "http://example.com/policy:1012",
        "permission": [{
            "@id": "http://example.com/policy:1012/p1",
            "target": "http://example.com/asset:9898.movie",
            "assigner": "http://example.com/party:org:abc",
            "assignee": "http://example.com/party:person:billie",
            "action": "play"
        }]
    }"#;
    let req = request(
        "<http://example.com/party:person:billie>",
        "odrl:play",
        "<http://example.com/asset:9898.movie>",
    );
    let expected = r#"
        _:pr a report:PolicyReport; dct:created "2017-06-01T10:00:00Z"^^xsd:dateTime;
            report:policy <http://example.com/policy:1012>; report:policyRequest ex:req; report:ruleReport _:r .
        _:r a report:PermissionReport; report:attemptState report:Attempted;
            report:rule <http://example.com/policy:1012/p1>; report:ruleRequest ex:reqPerm;
            report:premiseReport _:t, _:p, _:a;
            report:activationState report:Active; report:performanceState report:Unknown; report:deonticState report:NonSet .
        _:t a report:TargetReport; report:satisfactionState report:Satisfied .
        _:p a report:PartyReport; report:satisfactionState report:Satisfied .
        _:a a report:ActionReport; report:satisfactionState report:Satisfied .
    "#;
    check(policy, &req, NOW, expected);
    // someone else, a broader action: party and action premises fail
    let other = request(
        "ex:alice",
        "odrl:use",
        "<http://example.com/asset:9898.movie>",
    );
    let expected_other = expected
        .replace(
            "_:p a report:PartyReport; report:satisfactionState report:Satisfied",
            "_:p a report:PartyReport; report:satisfactionState report:Unsatisfied",
        )
        .replace(
            "_:a a report:ActionReport; report:satisfactionState report:Satisfied",
            "_:a a report:ActionReport; report:satisfactionState report:Unsatisfied",
        )
        .replace("report:Active;", "report:Inactive;");
    check(policy, &other, NOW, &expected_other);
}

/// ODRL IM example 1799: distribute before 2018-01-01 (an `xsd:date`), and `includedIn`:
/// a policy permitting `use` covers a request to `distribute`.
#[test]
fn example_date_constraint_and_included_in() {
    let policy = r#"{
        "@context": "http://www.w3.org/ns/odrl.jsonld",
        "@type": "Offer",
        "uid": "http://example.com/policy:6163",
        "permission": [{
           "@id": "http://example.com/policy:6163/p",
           "target": "http://example.com/document:1234",
           "assigner": "http://example.com/org:616",
           "action": "distribute",
           "constraint": [{
               "@id": "http://example.com/policy:6163/c",
               "leftOperand": "dateTime",
               "operator": "lt",
               "rightOperand":  { "@value": "2018-01-01", "@type": "xsd:date" }
           }]
       }]
    }"#;
    let req = request(
        "ex:bob",
        "odrl:distribute",
        "<http://example.com/document:1234>",
    );
    let expected = |state: &str, active: &str, now: &str| {
        format!(
            r#"
        _:pr a report:PolicyReport; dct:created "{now}"^^xsd:dateTime;
            report:policy <http://example.com/policy:6163>; report:policyRequest ex:req; report:ruleReport _:r .
        _:r a report:PermissionReport; report:attemptState report:Attempted;
            report:rule <http://example.com/policy:6163/p>; report:ruleRequest ex:reqPerm;
            report:premiseReport _:t, _:a, _:c;
            report:activationState report:{active}; report:performanceState report:Unknown; report:deonticState report:NonSet .
        _:t a report:TargetReport; report:satisfactionState report:Satisfied .
        _:a a report:ActionReport; report:satisfactionState report:Satisfied .
        _:c a report:ConstraintReport; report:constraint <http://example.com/policy:6163/c>;
            report:constraintLeftOperand "{now}"^^xsd:dateTime; report:constraintOperator odrl:lt;
            report:constraintRightOperand "2018-01-01"^^xsd:date; report:satisfactionState report:{state} .
    "#
        )
    };
    check(
        policy,
        &req,
        NOW,
        &expected("Satisfied", "Active", "2017-06-01T10:00:00Z"),
    );
    let late = "temp:currentTime dct:issued \"2018-01-01T00:00:01Z\"^^xsd:dateTime .";
    check(
        policy,
        &req,
        late,
        &expected("Unsatisfied", "Inactive", "2018-01-01T00:00:01Z"),
    );
}

/// ODRL IM example 179: print refined to at most 1200 dpi; the request states its
/// resolution in its action's refinement.
#[test]
fn example_action_refinement() {
    let policy = "
        ex:policy6161 a odrl:Offer; odrl:permission ex:p6161 .
        ex:p6161 odrl:target ex:doc1234; odrl:assigner ex:org616;
            odrl:action [ rdf:value odrl:print; odrl:refinement ex:res ] .
        ex:res odrl:leftOperand odrl:resolution; odrl:operator odrl:lteq;
            odrl:rightOperand \"1200\"^^xsd:integer; odrl:unit <http://dbpedia.org/resource/Dots_per_inch> .
    "
    .replace("rdf:value", "<http://www.w3.org/1999/02/22-rdf-syntax-ns#value>");
    let req = |dpi: u32| {
        format!(
            "ex:req a odrl:Request; odrl:permission ex:reqPerm .
             ex:reqPerm odrl:assignee ex:bob; odrl:target ex:doc1234;
               odrl:action [ <http://www.w3.org/1999/02/22-rdf-syntax-ns#value> odrl:print;
                 odrl:refinement [ odrl:leftOperand odrl:resolution; odrl:operator odrl:eq; odrl:rightOperand {dpi} ] ] ."
        )
    };
    let expected = |dpi: u32, state: &str, active: &str| {
        format!(
            r#"
        _:pr a report:PolicyReport; dct:created "2017-06-01T10:00:00Z"^^xsd:dateTime;
            report:policy ex:policy6161; report:policyRequest ex:req; report:ruleReport _:r .
        _:r a report:PermissionReport; report:attemptState report:Attempted; report:rule ex:p6161; report:ruleRequest ex:reqPerm;
            report:premiseReport _:t, _:a;
            report:activationState report:{active}; report:performanceState report:Unknown; report:deonticState report:NonSet .
        _:t a report:TargetReport; report:satisfactionState report:Satisfied .
        _:a a report:ActionReport; report:premiseReport _:c; report:satisfactionState report:{state} .
        _:c a report:ConstraintReport; report:constraint ex:res; report:constraintLeftOperand {dpi};
            report:constraintOperator odrl:lteq; report:constraintRightOperand "1200"^^xsd:integer;
            report:satisfactionState report:{state} .
    "#
        )
    };
    check(
        &policy,
        &req(600),
        NOW,
        &expected(600, "Satisfied", "Active"),
    );
    check(
        &policy,
        &req(2400),
        NOW,
        &expected(2400, "Unsatisfied", "Inactive"),
    );
}

/// ODRL IM example 19: reproduce in exactly one medium (`xone`), constraints by reference.
#[test]
fn example_xone_refinement() {
    let policy = r#"{
        "@context": "http://www.w3.org/ns/odrl.jsonld",
        "@graph": [{
            "@type": "Offer",
            "uid": "http://example.com/policy:88",
            "permission": [{
                "@id": "http://example.com/policy:88/p",
                "target": "http://example.com/book/1999",
                "assigner": "http://example.com/org/paisley-park",
                "action": [{
                   "rdf:value": { "@id": "odrl:reproduce" },
                   "refinement": { "@id": "http://example.com/p:88/L" }
                }]
            }]
        }, {
            "@id": "http://example.com/p:88/L",
            "xone": { "@list": [ { "@id": "http://example.com/p:88/C1" }, { "@id": "http://example.com/p:88/C2" } ] }
        }, {
           "@type": "Constraint", "uid": "http://example.com/p:88/C1",
           "leftOperand": "media", "operator": "eq", "rightOperand": { "@value": "online", "@type": "xsd:string" }
        }, {
           "@type": "Constraint", "uid": "http://example.com/p:88/C2",
           "leftOperand": "media", "operator": "eq", "rightOperand": { "@value": "print", "@type": "xsd:string" }
        }]
    }"#;
    let req = "ex:req a odrl:Request; odrl:permission ex:reqPerm .
        ex:reqPerm odrl:assignee ex:bob; odrl:target <http://example.com/book/1999>; odrl:action odrl:reproduce;
          odrl:constraint [ odrl:leftOperand odrl:media; odrl:operator odrl:eq; odrl:rightOperand \"online\" ] .";
    let expected = r#"
        _:pr a report:PolicyReport; dct:created "2017-06-01T10:00:00Z"^^xsd:dateTime;
            report:policy <http://example.com/policy:88>; report:policyRequest ex:req; report:ruleReport _:r .
        _:r a report:PermissionReport; report:attemptState report:Attempted; report:rule <http://example.com/policy:88/p>;
            report:ruleRequest ex:reqPerm; report:premiseReport _:t, _:a;
            report:activationState report:Active; report:performanceState report:Unknown; report:deonticState report:NonSet .
        _:t a report:TargetReport; report:satisfactionState report:Satisfied .
        _:a a report:ActionReport; report:premiseReport _:l; report:satisfactionState report:Satisfied .
        _:l a report:ConstraintReport; report:constraint <http://example.com/p:88/L>;
            report:constraintLogicalOperand odrl:xone; report:premiseReport _:c1, _:c2; report:satisfactionState report:Satisfied .
        _:c1 a report:ConstraintReport; report:constraint <http://example.com/p:88/C1>; report:constraintLeftOperand "online";
            report:constraintOperator odrl:eq; report:constraintRightOperand "online"; report:satisfactionState report:Satisfied .
        _:c2 a report:ConstraintReport; report:constraint <http://example.com/p:88/C2>; report:constraintLeftOperand "online";
            report:constraintOperator odrl:eq; report:constraintRightOperand "print"; report:satisfactionState report:Unsatisfied .
    "#;
    check(policy, req, NOW, expected);
}

/// ODRL IM example 22: friends (a party collection by `odrl:source`) older than 17.
#[test]
fn example_party_collection_with_refinement() {
    let policy = "
        ex:policy4444 a odrl:Agreement; odrl:permission ex:p4444 .
        ex:p4444 odrl:target ex:photos; odrl:assigner ex:user44; odrl:action odrl:display;
            odrl:assignee [ a odrl:PartyCollection; odrl:source ex:friends; odrl:refinement ex:adult ] .
        ex:adult odrl:leftOperand foaf:age; odrl:operator odrl:gt; odrl:rightOperand \"17\"^^xsd:integer .
    ";
    let sotw = format!(
        "{NOW}
        ex:bob odrl:partOf ex:friends; foaf:age 21 .
        ex:carol odrl:partOf ex:friends; foaf:age 15 .
        ex:dave foaf:age 40 ."
    );
    let expected = |party_state: &str, active: &str| {
        format!(
            r#"
        _:pr a report:PolicyReport; dct:created "2017-06-01T10:00:00Z"^^xsd:dateTime;
            report:policy ex:policy4444; report:policyRequest ex:req; report:ruleReport _:r .
        _:r a report:PermissionReport; report:attemptState report:Attempted; report:rule ex:p4444; report:ruleRequest ex:reqPerm;
            report:premiseReport _:t, _:p, _:a;
            report:activationState report:{active}; report:performanceState report:Unknown; report:deonticState report:NonSet .
        _:t a report:TargetReport; report:satisfactionState report:Satisfied .
        _:p a report:PartyReport; report:satisfactionState report:{party_state} .
        _:a a report:ActionReport; report:satisfactionState report:Satisfied .
    "#
        )
    };
    check(
        policy,
        &request("ex:bob", "odrl:display", "ex:photos"),
        &sotw,
        &expected("Satisfied", "Active"),
    );
    check(
        policy,
        &request("ex:carol", "odrl:display", "ex:photos"),
        &sotw,
        &expected("Unsatisfied", "Inactive"),
    );
    check(
        policy,
        &request("ex:dave", "odrl:display", "ex:photos"),
        &sotw,
        &expected("Unsatisfied", "Inactive"),
    );
}

/// ODRL IM example 14: a permission and a prohibition (conflict `perm`); the prohibition's
/// report, and the decision for a request to archive.
#[test]
fn example_prohibition() {
    let policy = "
        ex:policy5555 a odrl:Agreement; odrl:conflict odrl:perm;
            odrl:permission ex:perm55; odrl:prohibition ex:proh55 .
        ex:perm55 odrl:target ex:album55; odrl:action odrl:display; odrl:assigner ex:pix; odrl:assignee ex:a55 .
        ex:proh55 odrl:target ex:album55; odrl:action odrl:archive; odrl:assigner ex:pix; odrl:assignee ex:a55 .
    ";
    let expected = r#"
        _:pr a report:PolicyReport; dct:created "2017-06-01T10:00:00Z"^^xsd:dateTime;
            report:policy ex:policy5555; report:policyRequest ex:req; report:ruleReport _:r1, _:r2 .
        _:r1 a report:PermissionReport; report:attemptState report:Attempted; report:rule ex:perm55; report:ruleRequest ex:reqPerm;
            report:premiseReport _:t1, _:p1, _:a1;
            report:activationState report:Inactive; report:performanceState report:Unknown; report:deonticState report:NonSet .
        _:t1 a report:TargetReport; report:satisfactionState report:Satisfied .
        _:p1 a report:PartyReport; report:satisfactionState report:Satisfied .
        _:a1 a report:ActionReport; report:satisfactionState report:Unsatisfied .
        _:r2 a report:ProhibitionReport; report:attemptState report:Attempted; report:rule ex:proh55; report:ruleRequest ex:reqPerm;
            report:premiseReport _:t2, _:p2, _:a2;
            report:activationState report:Active; report:performanceState report:Unknown; report:deonticState report:NonSet .
        _:t2 a report:TargetReport; report:satisfactionState report:Satisfied .
        _:p2 a report:PartyReport; report:satisfactionState report:Satisfied .
        _:a2 a report:ActionReport; report:satisfactionState report:Satisfied .
    "#;
    check(
        policy,
        &request("ex:a55", "odrl:archive", "ex:album55"),
        NOW,
        expected,
    );
}

/// A permission with a duty: the duty's earlier report in the state of the world decides
/// (violated → the permission is inactive); without one the duty is reported as new.
#[test]
fn duties_from_the_state_of_the_world() {
    let policy = "
        ex:pol a odrl:Set; odrl:permission ex:perm .
        ex:perm odrl:assignee ex:alice; odrl:action odrl:read; odrl:target ex:x; odrl:duty ex:duty .
        ex:duty a odrl:Duty; odrl:action odrl:compensate;
            odrl:constraint [ odrl:leftOperand odrl:dateTime; odrl:operator odrl:lteq; odrl:rightOperand \"2017-05-01T00:00:00Z\"^^xsd:dateTime ] .
    ";
    let violated = format!(
        "{NOW}
        ex:dutyReport a report:DutyReport; report:rule ex:duty;
            report:performanceState report:Unperformed; report:deonticState report:Violated ."
    );
    let expected = |active: &str, condition: &str| {
        format!(
            r#"
        _:pr a report:PolicyReport; dct:created "2017-06-01T10:00:00Z"^^xsd:dateTime;
            report:policy ex:pol; report:policyRequest ex:req; report:ruleReport _:r .
        _:r a report:PermissionReport; report:attemptState report:Attempted; report:rule ex:perm; report:ruleRequest ex:reqPerm;
            report:premiseReport _:t, _:p, _:a; report:conditionReport {condition};
            report:activationState report:{active}; report:performanceState report:Unknown; report:deonticState report:NonSet .
        _:t a report:TargetReport; report:satisfactionState report:Satisfied .
        _:p a report:PartyReport; report:satisfactionState report:Satisfied .
        _:a a report:ActionReport; report:satisfactionState report:Satisfied .
    "#
        )
    };
    let req = request("ex:alice", "odrl:read", "ex:x");
    check(
        policy,
        &req,
        &violated,
        &expected("Inactive", "ex:dutyReport"),
    );
    // no earlier report: the deadline has passed without performance → unperformed,
    // violated → the permission is inactive
    let new_duty = expected("Inactive", "_:d")
        + r#"
        _:d a report:DutyReport; report:rule ex:duty; report:premiseReport _:dc;
            report:activationState report:Active; report:performanceState report:Unperformed; report:deonticState report:Violated .
        _:dc a report:ConstraintReport; report:constraint _:c; report:constraintLeftOperand "2017-06-01T10:00:00Z"^^xsd:dateTime;
            report:constraintOperator odrl:lteq; report:constraintRightOperand "2017-05-01T00:00:00Z"^^xsd:dateTime;
            report:satisfactionState report:Unsatisfied .
    "#;
    let got = odrl::evaluate_documents(
        &format!("{PREFIXES}{policy}"),
        &format!("{PREFIXES}{req}"),
        &format!("{PREFIXES}{NOW}"),
        TurtleOptions::default(),
    )
    .unwrap();
    // the duty's constraint is a blank node of the policy: compare with it renamed
    let got_g = parse_document(&got, "got").unwrap();
    let want = parse_document(&format!("{PREFIXES}{new_duty}"), "want").unwrap();
    isomorphic(&got_g, &want, &|i| i.starts_with("urn:uuid:"))
        .unwrap_or_else(|d| panic!("{d}\n{got}"));
}

/// Policy obligations (ODRL IM example 16bc): a duty report per obligation; its
/// performance from the state of the world.
#[test]
fn obligation_reports() {
    let policy = "
        ex:pol42 a odrl:Agreement; odrl:obligation ex:ob .
        ex:ob odrl:assigner ex:org43; odrl:assignee ex:person44;
            odrl:action [ <http://www.w3.org/1999/02/22-rdf-syntax-ns#value> odrl:compensate; odrl:refinement ex:amount ] .
        ex:amount odrl:leftOperand odrl:payAmount; odrl:operator odrl:eq; odrl:rightOperand \"500.00\"^^xsd:decimal .
    ";
    let sotw =
        format!("{NOW} ex:earlier report:rule ex:ob; report:performanceState report:Performed .");
    let expected = r#"
        _:pr a report:PolicyReport; dct:created "2017-06-01T10:00:00Z"^^xsd:dateTime;
            report:policy ex:pol42; report:policyRequest ex:req; report:ruleReport _:r .
        _:r a report:DutyReport; report:rule ex:ob; report:premiseReport _:a;
            report:activationState report:Active; report:performanceState report:Performed; report:deonticState report:Fulfilled .
        _:a a report:ActionReport; report:premiseReport _:c; report:satisfactionState report:Unsatisfied .
        _:c a report:ConstraintReport; report:constraint ex:amount; report:constraintOperator odrl:eq;
            report:constraintRightOperand "500.00"^^xsd:decimal; report:satisfactionState report:Unsatisfied .
    "#;
    check(
        policy,
        &request("ex:person44", "odrl:use", "ex:x"),
        &sotw,
        expected,
    );
}

/// ODRL IM example 15 (remedy): the prohibition to index has the remedy to anonymize. The
/// remedy's duty report is active only once the prohibition is infringed (active and, as
/// the state of the world says, performed).
#[test]
fn remedy_reports() {
    let policy = "
        ex:policy33CC a odrl:Agreement; odrl:prohibition ex:noIndex .
        ex:noIndex odrl:target ex:data77; odrl:assigner ex:person88; odrl:assignee ex:org99;
            odrl:action odrl:index; odrl:remedy ex:anon .
        ex:anon odrl:action odrl:anonymize; odrl:target ex:data77 .
    ";
    let expected = |performance: &str, deontic: &str, remedy: &str, remedy_deontic: &str| {
        format!(
            r#"
        _:pr a report:PolicyReport; dct:created "2017-06-01T10:00:00Z"^^xsd:dateTime;
            report:policy ex:policy33CC; report:policyRequest ex:req; report:ruleReport _:r, _:rem .
        _:r a report:ProhibitionReport; report:attemptState report:Attempted; report:rule ex:noIndex; report:ruleRequest ex:reqPerm;
            report:premiseReport _:t, _:p, _:a;
            report:activationState report:Active; report:performanceState report:{performance}; report:deonticState report:{deontic} .
        _:t a report:TargetReport; report:satisfactionState report:Satisfied .
        _:p a report:PartyReport; report:satisfactionState report:Satisfied .
        _:a a report:ActionReport; report:satisfactionState report:Satisfied .
        _:rem a report:DutyReport; report:rule ex:anon;
            report:activationState report:{remedy}; report:performanceState report:Unknown; report:deonticState report:{remedy_deontic} .
    "#
        )
    };
    let req = request("ex:org99", "odrl:index", "ex:data77");
    // not infringed (yet): the remedy does not apply
    check(
        policy,
        &req,
        NOW,
        &expected("Unknown", "NonSet", "Inactive", "NonSet"),
    );
    // infringed: the remedy must now be performed
    let infringed = format!(
        "{NOW} ex:earlier a report:ProhibitionReport; report:rule ex:noIndex; report:performanceState report:Performed ."
    );
    check(
        policy,
        &req,
        &infringed,
        &expected("Performed", "Violated", "Active", "NonSet"),
    );
    // infringed, and the remedy performed: fulfilled
    let remedied = format!(
        "{infringed} ex:done a report:DutyReport; report:rule ex:anon; report:performanceState report:Performed ."
    );
    check(
        policy,
        &req,
        &remedied,
        &expected("Performed", "Violated", "Active", "NonSet").replace(
            "report:performanceState report:Unknown; report:deonticState report:NonSet",
            "report:performanceState report:Performed; report:deonticState report:Fulfilled",
        ),
    );
}

/// ODRL IM example 18 (consequence): a permission's duty to attribute with the
/// consequence to accept tracking. The consequence applies once the duty is violated.
#[test]
fn consequence_reports() {
    let policy = "
        ex:policy66 a odrl:Agreement; odrl:permission ex:perm .
        ex:perm odrl:target ex:data77; odrl:assigner ex:org99; odrl:assignee ex:person88;
            odrl:action odrl:distribute; odrl:duty ex:attr .
        ex:attr odrl:action odrl:attribute; odrl:attributedParty <http://australia.gov.au/>;
            odrl:consequence ex:track .
        ex:track odrl:action odrl:acceptTracking; odrl:trackingParty ex:dept100 .
    ";
    let expected = |active: &str, duty: &str, track: &str, track_deontic: &str| {
        format!(
            r#"
        _:pr a report:PolicyReport; dct:created "2017-06-01T10:00:00Z"^^xsd:dateTime;
            report:policy ex:policy66; report:policyRequest ex:req; report:ruleReport _:r, _:q .
        _:r a report:PermissionReport; report:attemptState report:Attempted; report:rule ex:perm; report:ruleRequest ex:reqPerm;
            report:premiseReport _:t, _:p, _:a; report:conditionReport {duty};
            report:activationState report:{active}; report:performanceState report:Unknown; report:deonticState report:NonSet .
        _:t a report:TargetReport; report:satisfactionState report:Satisfied .
        _:p a report:PartyReport; report:satisfactionState report:Satisfied .
        _:a a report:ActionReport; report:satisfactionState report:Satisfied .
        _:q a report:DutyReport; report:rule ex:track;
            report:activationState report:{track}; report:performanceState report:Unknown; report:deonticState report:{track_deontic} .
    "#
        )
    };
    let req = request("ex:person88", "odrl:distribute", "ex:data77");
    let new_duty = r#"
        _:d a report:DutyReport; report:rule ex:attr;
            report:activationState report:Active; report:performanceState report:Unknown; report:deonticState report:NonSet .
    "#;
    check(
        policy,
        &req,
        NOW,
        &(expected("Active", "_:d", "Inactive", "NonSet") + new_duty),
    );
    // the duty was violated: the permission is inactive and the consequence applies
    let violated = format!(
        "{NOW} ex:attrReport a report:DutyReport; report:rule ex:attr;
            report:performanceState report:Unperformed; report:deonticState report:Violated ."
    );
    check(
        policy,
        &req,
        &violated,
        &expected("Inactive", "ex:attrReport", "Active", "NonSet"),
    );
}

fn constraint_case(constraint: &str, request_constraints: &str, sotw: &str) -> bool {
    let policy = format!(
        "ex:pol a odrl:Set; odrl:permission ex:perm .
         ex:perm odrl:action odrl:use; odrl:constraint ex:c .
         ex:c {constraint} ."
    );
    let req = format!(
        "ex:req a odrl:Request; odrl:permission ex:reqPerm .
         ex:reqPerm odrl:assignee ex:bob; odrl:action odrl:read {request_constraints} ."
    );
    let turtle = odrl::evaluate_documents(
        &format!("{PREFIXES}{policy}"),
        &format!("{PREFIXES}{req}"),
        &format!("{PREFIXES}{NOW}{sotw}"),
        TurtleOptions::default(),
    )
    .unwrap();
    assert!(turtle.contains("report:ConstraintReport"), "{turtle}");
    turtle.contains("report:activationState report:Active")
}

fn with_value(left: &str, value: &str) -> String {
    format!(
        "; odrl:constraint [ odrl:leftOperand odrl:{left}; odrl:operator odrl:eq; odrl:rightOperand {value} ]"
    )
}

#[test]
fn every_operator() {
    let purpose = |v: &str| with_value("purpose", v);
    // set operators with an RDF list as the right operand
    let any = "odrl:leftOperand odrl:purpose; odrl:operator odrl:isAnyOf; odrl:rightOperand (ex:research ex:billing)";
    assert!(constraint_case(any, &purpose("ex:billing"), ""));
    assert!(!constraint_case(any, &purpose("ex:marketing"), ""));
    let none = "odrl:leftOperand odrl:purpose; odrl:operator odrl:isNoneOf; odrl:rightOperand ex:marketing, ex:profiling";
    assert!(constraint_case(none, &purpose("ex:billing"), ""));
    assert!(!constraint_case(none, &purpose("ex:profiling"), ""));
    let all =
        "odrl:leftOperand odrl:purpose; odrl:operator odrl:isAllOf; odrl:rightOperand ex:a, ex:b";
    assert!(constraint_case(
        all,
        "; odrl:constraint [ odrl:leftOperand odrl:purpose; odrl:operator odrl:isAnyOf; odrl:rightOperand ex:a, ex:b, ex:c ]",
        ""
    ));
    assert!(!constraint_case(all, &purpose("ex:a"), ""));
    // isA through the class hierarchy
    let is_a =
        "odrl:leftOperand odrl:purpose; odrl:operator odrl:isA; odrl:rightOperand ex:Research";
    let hierarchy = " ex:Clinical rdfs:subClassOf ex:Research . ex:trial42 a ex:Clinical .";
    assert!(constraint_case(is_a, &purpose("ex:trial42"), hierarchy));
    assert!(constraint_case(is_a, &purpose("ex:Clinical"), hierarchy));
    assert!(!constraint_case(is_a, &purpose("ex:Marketing"), hierarchy));
    // spatial containment
    let part =
        "odrl:leftOperand odrl:spatial; odrl:operator odrl:isPartOf; odrl:rightOperand ex:China";
    let geo = " ex:Shanghai odrl:partOf ex:EastChina . ex:EastChina odrl:partOf ex:China .";
    assert!(constraint_case(
        part,
        &with_value("spatial", "ex:Shanghai"),
        geo
    ));
    assert!(!constraint_case(
        part,
        &with_value("spatial", "ex:Berlin"),
        geo
    ));
    let has =
        "odrl:leftOperand odrl:spatial; odrl:operator odrl:hasPart; odrl:rightOperand ex:Shanghai";
    assert!(constraint_case(
        has,
        &with_value("spatial", "ex:China"),
        geo
    ));
    // comparisons: numbers, durations; neq; a missing value is unsatisfied
    let pct = |op: &str| {
        format!("odrl:leftOperand odrl:percentage; odrl:operator odrl:{op}; odrl:rightOperand 50")
    };
    let p = |v: &str| with_value("percentage", v);
    assert!(constraint_case(&pct("lt"), &p("10"), ""));
    assert!(!constraint_case(&pct("lt"), &p("50"), ""));
    assert!(constraint_case(&pct("lteq"), &p("50.0"), ""));
    assert!(constraint_case(&pct("gt"), &p("\"75\"^^xsd:decimal"), ""));
    assert!(constraint_case(&pct("gteq"), &p("50"), ""));
    assert!(constraint_case(&pct("neq"), &p("49"), ""));
    assert!(!constraint_case(&pct("neq"), &p("50"), ""));
    assert!(
        !constraint_case(&pct("gteq"), "", ""),
        "no value: unsatisfied"
    );
    let elapsed = "odrl:leftOperand odrl:elapsedTime; odrl:operator odrl:lteq; odrl:rightOperand \"P30D\"^^xsd:duration";
    assert!(constraint_case(
        elapsed,
        &with_value("elapsedTime", "\"PT48H\"^^xsd:duration"),
        ""
    ));
    assert!(!constraint_case(
        elapsed,
        &with_value("elapsedTime", "\"P31D\"^^xsd:duration"),
        ""
    ));
}

#[test]
fn logical_constraints() {
    let c = |op: &str| {
        format!(
            "a odrl:LogicalConstraint; odrl:{op} (
                [ odrl:leftOperand odrl:purpose; odrl:operator odrl:eq; odrl:rightOperand ex:research ]
                [ odrl:leftOperand odrl:recipient; odrl:operator odrl:eq; odrl:rightOperand ex:lab ] )"
        )
    };
    let both = format!(
        "{}{}",
        with_value("purpose", "ex:research"),
        with_value("recipient", "ex:lab")
    );
    let one = with_value("purpose", "ex:research");
    assert!(constraint_case(&c("and"), &both, ""));
    assert!(!constraint_case(&c("and"), &one, ""));
    assert!(constraint_case(&c("andSequence"), &both, ""));
    assert!(constraint_case(&c("or"), &one, ""));
    assert!(!constraint_case(&c("or"), "", ""));
    assert!(constraint_case(&c("xone"), &one, ""));
    assert!(!constraint_case(&c("xone"), &both, ""));
}

/// Asset collections (`odrl:partOf` in the state of the world) and the evaluation request
/// form of the state-of-the-world vocabulary.
#[test]
fn asset_collection_and_evaluation_request() {
    let policy = "
        ex:pol a odrl:Set; odrl:permission ex:perm .
        ex:perm odrl:assignee ex:alice; odrl:action odrl:read; odrl:target ex:reports .
        ex:reports a odrl:AssetCollection .
    ";
    let req = |target: &str| {
        format!(
            "ex:ereq a sotw:EvaluationRequest; sotw:requestingParty ex:alice; sotw:requestedAction odrl:read;
               sotw:requestedTarget {target};
               sotw:requestParameter [ sotw:describesFeature sotw:TemporalData; sotw:value \"2024-02-12T11:20:10.999Z\"^^xsd:dateTime ] ."
        )
    };
    let sotw = "ex:q3 odrl:partOf ex:reports .";
    let expected = |state: &str, active: &str| {
        format!(
            r#"
        _:pr a report:PolicyReport; dct:created "2024-02-12T11:20:10.999Z"^^xsd:dateTime;
            report:policy ex:pol; report:policyRequest ex:ereq; report:ruleReport _:r .
        _:r a report:PermissionReport; report:attemptState report:Attempted; report:rule ex:perm; report:ruleRequest ex:ereq;
            report:premiseReport _:t, _:p, _:a;
            report:activationState report:{active}; report:performanceState report:Unknown; report:deonticState report:NonSet .
        _:t a report:TargetReport; report:satisfactionState report:{state} .
        _:p a report:PartyReport; report:satisfactionState report:Satisfied .
        _:a a report:ActionReport; report:satisfactionState report:Satisfied .
    "#
        )
    };
    check(
        policy,
        &req("ex:q3"),
        sotw,
        &expected("Satisfied", "Active"),
    );
    check(
        policy,
        &req("ex:q4"),
        sotw,
        &expected("Unsatisfied", "Inactive"),
    );
}

#[test]
fn malformed_documents_name_the_problem() {
    let ok_req = format!("{PREFIXES}{}", request("ex:a", "odrl:read", "ex:x"));
    let e = odrl::evaluate_documents("ex:p a odrl:Set", &ok_req, "", TurtleOptions::default())
        .unwrap_err();
    assert!(e.starts_with("policy: Turtle syntax error"), "{e}");
    let e = odrl::evaluate_documents(
        &format!("{PREFIXES} ex:p a odrl:Set; odrl:permission [ odrl:target ex:x ] ."),
        &ok_req,
        "",
        TurtleOptions::default(),
    )
    .unwrap_err();
    assert!(e.contains("has no odrl:action"), "{e}");
    let e = odrl::evaluate_documents(
        r#"{"@context": "http://example.com/ctx.jsonld", "@type": "Set"}"#,
        &ok_req,
        "",
        TurtleOptions::default(),
    )
    .unwrap_err();
    assert!(
        e.contains("policy: JSON-LD error") && e.contains("ctx.jsonld"),
        "{e}"
    );
    let e = odrl::evaluate_documents(&format!("{PREFIXES} ex:p a odrl:Set; odrl:permission [ odrl:action odrl:use; odrl:constraint [ odrl:leftOperand odrl:count; odrl:operator odrl:near; odrl:rightOperand 1 ] ] ."), &ok_req, "", TurtleOptions::default()).unwrap_err();
    assert!(e.contains("unknown operator"), "{e}");
    let e = odrl::evaluate_documents(
        &format!("{PREFIXES} ex:p a odrl:Set; odrl:permission [ odrl:action odrl:use ] ."),
        &format!("{PREFIXES} ex:r a odrl:Set ."),
        "",
        TurtleOptions::default(),
    )
    .unwrap_err();
    assert!(e.contains("no odrl:Request"), "{e}");
}

/// ODRL IM Policy Inheritance example: the Agreement policy:4444 inherits from
/// policy:default its (policy-level) assigner and its obligation to review the terms;
/// the child's report has the inherited obligation's duty report, and the parent is
/// evaluated on its own too.
#[test]
fn inheritance_example() {
    let policy = r#"{
        "@context": "http://www.w3.org/ns/odrl.jsonld",
        "@graph": [{
            "@type": "Policy",
            "uid": "http://example.com/policy:default",
            "profile": "http://example.com/odrl:profile:30",
            "assigner": "http://example.com/org-01",
            "obligation": [{
                "@id": "http://example.com/policy:default/review",
                "target": "http://example.com/asset:terms-and-conditions",
                "action": "reviewPolicy"
            }]
        }, {
            "@type": "Agreement",
            "uid": "http://example.com/policy:4444",
            "profile": "http://example.com/odrl:profile:30",
            "inheritFrom": "http://example.com/policy:default",
            "assignee": "http://example.com/user:0001",
            "permission": [{
                "@id": "http://example.com/policy:4444/display",
                "target": "http://example.com/asset:5555",
                "action": "display"
            }]
        }]
    }"#;
    let req = request(
        "<http://example.com/user:0001>",
        "odrl:display",
        "<http://example.com/asset:5555>",
    );
    let expected = r#"
        _:child a report:PolicyReport; dct:created "2017-06-01T10:00:00Z"^^xsd:dateTime;
            report:policy <http://example.com/policy:4444>; report:policyRequest ex:req;
            report:ruleReport _:display, _:review .
        _:display a report:PermissionReport; report:attemptState report:Attempted;
            report:rule <http://example.com/policy:4444/display>; report:ruleRequest ex:reqPerm;
            report:premiseReport _:t, _:p, _:a;
            report:activationState report:Active; report:performanceState report:Unknown; report:deonticState report:NonSet .
        _:t a report:TargetReport; report:satisfactionState report:Satisfied .
        _:p a report:PartyReport; report:satisfactionState report:Satisfied .
        _:a a report:ActionReport; report:satisfactionState report:Satisfied .
        _:review a report:DutyReport; report:rule <http://example.com/policy:default/review>;
            report:activationState report:Active; report:performanceState report:Unknown; report:deonticState report:NonSet .

        _:parent a report:PolicyReport; dct:created "2017-06-01T10:00:00Z"^^xsd:dateTime;
            report:policy <http://example.com/policy:default>; report:policyRequest ex:req;
            report:ruleReport _:review2 .
        _:review2 a report:DutyReport; report:rule <http://example.com/policy:default/review>;
            report:activationState report:Active; report:performanceState report:Unknown; report:deonticState report:NonSet .
    "#;
    check(policy, &req, NOW, expected);
}

/// Inheritance to any depth: the child inherits, through its parent, the grandparent's
/// policy-level target (its permission gets it) and prohibition (which gets the
/// family's policy-level target too). Every policy of the document is reported.
#[test]
fn inheritance_through_two_levels() {
    let policy = "
        ex:grand a odrl:Policy; odrl:target ex:dataset; odrl:prohibition ex:noDist .
        ex:noDist odrl:action odrl:distribute; odrl:assignee ex:bob .
        ex:parent a odrl:Set; odrl:inheritFrom ex:grand; odrl:conflict odrl:perm .
        ex:child a odrl:Agreement; odrl:inheritFrom ex:parent; odrl:permission ex:use .
        ex:use odrl:action odrl:use; odrl:assignee ex:bob .
    ";
    let rule = |report: &str, kind: &str, rule: &str, target: &str, active: &str| {
        format!(
            "{report} a report:{kind}; report:attemptState report:Attempted; report:rule {rule};
                report:ruleRequest ex:reqPerm; report:premiseReport {report}t, {report}p, {report}a;
                report:activationState report:{active}; report:performanceState report:Unknown;
                report:deonticState report:NonSet .
             {report}t a report:TargetReport; report:satisfactionState report:{target} .
             {report}p a report:PartyReport; report:satisfactionState report:Satisfied .
             {report}a a report:ActionReport; report:satisfactionState report:Satisfied ."
        )
    };
    let expected = |target: &str, active: &str| {
        format!(
            "_:g a report:PolicyReport; dct:created \"2017-06-01T10:00:00Z\"^^xsd:dateTime;
                report:policy ex:grand; report:policyRequest ex:req; report:ruleReport _:g1 .
             {}
             _:p a report:PolicyReport; dct:created \"2017-06-01T10:00:00Z\"^^xsd:dateTime;
                report:policy ex:parent; report:policyRequest ex:req; report:ruleReport _:p1 .
             {}
             _:c a report:PolicyReport; dct:created \"2017-06-01T10:00:00Z\"^^xsd:dateTime;
                report:policy ex:child; report:policyRequest ex:req; report:ruleReport _:c1, _:c2 .
             {}
             {}",
            rule("_:g1", "ProhibitionReport", "ex:noDist", target, active),
            rule("_:p1", "ProhibitionReport", "ex:noDist", target, active),
            rule("_:c1", "PermissionReport", "ex:use", target, active),
            rule("_:c2", "ProhibitionReport", "ex:noDist", target, active),
        )
    };
    let on = |target| request("ex:bob", "odrl:distribute", target);
    check(
        policy,
        &on("ex:dataset"),
        NOW,
        &expected("Satisfied", "Active"),
    );
    check(
        policy,
        &on("ex:other"),
        NOW,
        &expected("Unsatisfied", "Inactive"),
    );
}

#[test]
fn inheritance_errors_name_the_policy() {
    let req = format!("{PREFIXES}{}", request("ex:a", "odrl:read", "ex:x"));
    let eval = |policy: &str| {
        odrl::evaluate_documents(
            &format!("{PREFIXES}{policy}"),
            &req,
            "",
            TurtleOptions::default(),
        )
    };
    let e = eval(
        "ex:a a odrl:Set; odrl:inheritFrom ex:b; odrl:permission [ odrl:action odrl:use ] .
         ex:b a odrl:Set; odrl:inheritFrom ex:c .
         ex:c a odrl:Set; odrl:inheritFrom ex:a .",
    )
    .unwrap_err();
    assert!(e.contains("odrl:inheritFrom is circular"), "{e}");
    assert!(
        e.contains("<http://example.com/a> → <http://example.com/b> → <http://example.com/c> → <http://example.com/a>"),
        "{e}"
    );
    let e = eval(
        "ex:a a odrl:Set; odrl:inheritFrom ex:missing; odrl:permission [ odrl:action odrl:use ] .",
    )
    .unwrap_err();
    assert!(
        e.contains("odrl:inheritFrom <http://example.com/missing>: no such policy"),
        "{e}"
    );
    // diamond: the common ancestor's rule once
    let ok = eval(
        "ex:a a odrl:Set; odrl:inheritFrom ex:b, ex:c .
         ex:b a odrl:Set; odrl:inheritFrom ex:d .
         ex:c a odrl:Set; odrl:inheritFrom ex:d .
         ex:d a odrl:Set; odrl:permission ex:r . ex:r odrl:action odrl:read .",
    )
    .unwrap();
    assert_eq!(
        ok.matches("report:rule <http://example.com/r>").count(),
        4,
        "{ok}"
    );
}

/// `odrl:unit`: a left operand value whose unit the request states is compared in the
/// constraint's unit — converted between QUDT units (the IM example's running time in
/// `unit:MinuteTime`, a request in seconds or hours; a unit the state of the world
/// describes with `qudt:conversionMultiplier`), as it is in the same unit or without a
/// stated unit, and not at all between units that do not convert (dollars against a
/// limit in euros). The report's left operand is the value compared, in the
/// constraint's unit.
#[test]
fn units_of_constraint_operands() {
    let case = |constraint: &str, request_value: &str, sotw: &str, left: &str, satisfied: bool| {
        let policy = format!(
            "ex:pol a odrl:Set; odrl:permission ex:perm .
             ex:perm odrl:action odrl:play; odrl:constraint ex:c .
             ex:c {constraint} ."
        );
        let req = format!(
            "ex:req a odrl:Request; odrl:permission ex:reqPerm .
             ex:reqPerm odrl:assignee ex:bob; odrl:action odrl:play;
                odrl:constraint [ {request_value} ] ."
        );
        let (active, state) = if satisfied {
            ("Active", "Satisfied")
        } else {
            ("Inactive", "Unsatisfied")
        };
        let right = constraint
            .split("odrl:rightOperand ")
            .nth(1)
            .and_then(|s| s.split(';').next())
            .unwrap();
        let expected = format!(
            "_:pr a report:PolicyReport; dct:created \"2017-06-01T10:00:00Z\"^^xsd:dateTime;
                report:policy ex:pol; report:policyRequest ex:req; report:ruleReport _:r .
             _:r a report:PermissionReport; report:attemptState report:Attempted; report:rule ex:perm;
                report:ruleRequest ex:reqPerm; report:premiseReport _:a, _:c;
                report:activationState report:{active}; report:performanceState report:Unknown;
                report:deonticState report:NonSet .
             _:a a report:ActionReport; report:satisfactionState report:Satisfied .
             _:c a report:ConstraintReport; report:constraint ex:c; report:constraintLeftOperand {left};
                report:constraintOperator {op}; report:constraintRightOperand {right};
                report:satisfactionState report:{state} .",
            op = if constraint.contains("odrl:lt;") {
                "odrl:lt"
            } else {
                "odrl:lteq"
            },
        );
        check(
            &format!("@prefix unit: <http://qudt.org/vocab/unit/> . {policy}"),
            &format!("@prefix unit: <http://qudt.org/vocab/unit/> . {req}"),
            &format!("@prefix qudt: <http://qudt.org/schema/qudt/> . {NOW} {sotw}"),
            &expected,
        );
    };
    let running = "odrl:leftOperand ex:runningTime; odrl:operator odrl:lt; odrl:rightOperand \"60\"^^xsd:integer; odrl:unit unit:MinuteTime";
    let value = |v: &str, unit: &str| {
        format!(
            "odrl:leftOperand ex:runningTime; odrl:operator odrl:eq; odrl:rightOperand {v}{unit}"
        )
    };
    // 3000 s = 50 min < 60; 5400 s = 90 min; 0.75 h = 45 min
    case(
        running,
        &value("3000", "; odrl:unit unit:SEC"),
        "",
        "\"50\"^^xsd:double",
        true,
    );
    case(
        running,
        &value("5400", "; odrl:unit unit:SEC"),
        "",
        "\"90\"^^xsd:double",
        false,
    );
    case(
        running,
        &value("0.75", "; odrl:unit unit:HR"),
        "",
        "\"45\"^^xsd:double",
        true,
    );
    // the same unit, or none stated: compared as it is
    case(
        running,
        &value("59", "; odrl:unit unit:MinuteTime"),
        "",
        "59",
        true,
    );
    case(running, &value("61", ""), "", "61", false);
    // a unit described in the state of the world: 2 episodes of 25 min
    let episode = "ex:episode qudt:conversionMultiplier 1500; qudt:hasQuantityKind <http://qudt.org/vocab/quantitykind/Time> .";
    case(
        running,
        &value("2", "; odrl:unit ex:episode"),
        episode,
        "\"50\"^^xsd:double",
        true,
    );
    // units of another quantity, or unknown ones, do not convert
    case(
        running,
        &value("1", "; odrl:unit unit:KiloM"),
        "",
        "1",
        false,
    );
    case(
        running,
        &value("1", "; odrl:unit ex:fortnight"),
        "",
        "1",
        false,
    );
    // currencies never convert (the IM example's payAmount in euros)
    let pay = "odrl:leftOperand odrl:payAmount; odrl:operator odrl:lteq; odrl:rightOperand \"10.00\"^^xsd:decimal; odrl:unit <http://dbpedia.org/resource/Euro>";
    let amount = |unit: &str| {
        format!(
            "odrl:leftOperand odrl:payAmount; odrl:operator odrl:eq; odrl:rightOperand \"8.50\"^^xsd:decimal; odrl:unit <http://dbpedia.org/resource/{unit}>"
        )
    };
    case(pay, &amount("Euro"), "", "\"8.50\"^^xsd:decimal", true);
    case(
        pay,
        &amount("United_States_dollar"),
        "",
        "\"8.50\"^^xsd:decimal",
        false,
    );
}

/// An evaluation request's parameter states its unit with `odrl:unit`; data sizes
/// convert between decimal and binary multiples.
#[test]
fn units_of_evaluation_request_parameters() {
    let policy = "@prefix unit: <http://qudt.org/vocab/unit/> .
        ex:pol a odrl:Set; odrl:permission ex:perm .
        ex:perm odrl:action odrl:read; odrl:constraint ex:c .
        ex:c odrl:leftOperand ex:size; odrl:operator odrl:lteq; odrl:rightOperand 1; odrl:unit unit:MegaBYTE .";
    let req = |v: &str, unit: &str| {
        format!(
            "@prefix unit: <http://qudt.org/vocab/unit/> .
             ex:req a sotw:EvaluationRequest; sotw:requestingParty ex:bob; sotw:requestedAction odrl:read;
                sotw:requestedTarget ex:file;
                sotw:requestParameter [ sotw:describesFeature ex:size; sotw:value {v}; odrl:unit unit:{unit} ] ."
        )
    };
    let expected = |left: &str, ok: bool| {
        let (active, state) = if ok {
            ("Active", "Satisfied")
        } else {
            ("Inactive", "Unsatisfied")
        };
        format!(
            "_:pr a report:PolicyReport; dct:created \"2017-06-01T10:00:00Z\"^^xsd:dateTime;
                report:policy ex:pol; report:policyRequest ex:req; report:ruleReport _:r .
             _:r a report:PermissionReport; report:attemptState report:Attempted; report:rule ex:perm;
                report:ruleRequest ex:req; report:premiseReport _:a, _:c;
                report:activationState report:{active}; report:performanceState report:Unknown;
                report:deonticState report:NonSet .
             _:a a report:ActionReport; report:satisfactionState report:Satisfied .
             _:c a report:ConstraintReport; report:constraint ex:c; report:constraintLeftOperand {left};
                report:constraintOperator odrl:lteq; report:constraintRightOperand 1;
                report:satisfactionState report:{state} ."
        )
    };
    // 1 MiB = 1.048576 MB > 1 MB; 900 KiB = 0.9216 MB; 1000 kB = 1 MB
    check(
        policy,
        &req("1", "MebiBYTE"),
        NOW,
        &expected("\"1.048576\"^^xsd:double", false),
    );
    check(
        policy,
        &req("900", "KibiBYTE"),
        NOW,
        &expected("\"0.9216\"^^xsd:double", true),
    );
    check(
        policy,
        &req("1000", "KiloBYTE"),
        NOW,
        &expected("\"1\"^^xsd:double", true),
    );
}

/// The decision path (no reports: sharing, duties) converts units like the reports do.
#[test]
fn units_in_the_decision_path() {
    use weft_plugin_datashare::odrl::eval::{Request, World, constraint_holds};
    use weft_plugin_datashare::odrl::model::read_policies;
    let g = parse_document(
        &format!(
            "{PREFIXES} @prefix unit: <http://qudt.org/vocab/unit/> .
             ex:pol a odrl:Set; odrl:permission ex:perm .
             ex:perm odrl:action odrl:play; odrl:constraint ex:c .
             ex:c odrl:leftOperand ex:runningTime; odrl:operator odrl:lt; odrl:rightOperand 60; odrl:unit unit:MIN ."
        ),
        "policy",
    )
    .unwrap();
    let policies = read_policies(&g).unwrap();
    let c = &policies[0].permissions[0].constraints[0];
    let world = World::new(&g, None);
    let holds = |v: i64, unit: Option<&str>| {
        let req = Request {
            id: None,
            rule: None,
            party: None,
            action: None,
            target: None,
            values: vec![(
                "http://example.com/runningTime".into(),
                oxrdf::Literal::from(v).into(),
            )],
            units: unit
                .map(|u| {
                    (
                        "http://example.com/runningTime".to_string(),
                        oxrdf::NamedNode::new_unchecked(format!("http://qudt.org/vocab/unit/{u}"))
                            .into(),
                    )
                })
                .into_iter()
                .collect(),
        };
        constraint_holds(c, None, &req, &world)
    };
    assert!(holds(3000, Some("SEC")));
    assert!(!holds(5400, Some("SEC")));
    assert!(holds(59, None));
    assert!(holds(59, Some("MIN")));
    assert!(!holds(1, Some("KiloM")));
    assert!(!holds(2, Some("HR")));
}
