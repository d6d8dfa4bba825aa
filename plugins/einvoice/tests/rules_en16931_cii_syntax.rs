//! The EN 16931 CII syntax binding (CII-SR-*, CII-DT-*): every assert of the form "X shall
//! not be present", "X at most once", "exactly once" or "attribute A shall not be present" is
//! checked mechanically from the Schematron itself (its abstract pattern and binding): a
//! document with the rule's context and the forbidden content must fire the rule with its
//! flag, the same document without it must not. The asserts with other tests (exceptions,
//! cross-element conditions, the date format) have their own tests below.

mod common;

use std::collections::BTreeMap;

use common::*;
use weft_plugin_einvoice::validate::{self, Rulesets};
use weft_plugin_einvoice::validate_xml;

const RULES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/rules/en16931/");

/// A syntax assert as the Schematron states it.
struct SyntaxAssert {
    id: String,
    fatal: bool,
    /// The bound context expression.
    context: String,
    /// The bound test.
    test: String,
}

fn syntax_asserts() -> Vec<SyntaxAssert> {
    let abs_text =
        std::fs::read_to_string(format!("{RULES}EN16931-CII-syntax-abstract.sch")).unwrap();
    let bind_text = std::fs::read_to_string(format!("{RULES}EN16931-CII-syntax.sch")).unwrap();
    let abs = validate::parse(&abs_text).unwrap();
    let bind = validate::parse(&bind_text).unwrap();
    let params: BTreeMap<&str, &str> = bind
        .descendants()
        .filter(|n| n.tag_name().name() == "param")
        .map(|n| {
            (
                n.attribute("name").unwrap_or(""),
                n.attribute("value").unwrap_or(""),
            )
        })
        .collect();
    let param = |r: &str| {
        params
            .get(r.trim().trim_start_matches('$'))
            .copied()
            .unwrap_or_else(|| panic!("no binding for {r}"))
            .to_string()
    };
    let mut out = Vec::new();
    for rule in abs.descendants().filter(|n| n.tag_name().name() == "rule") {
        let context = param(rule.attribute("context").unwrap());
        for a in rule.children().filter(|n| n.tag_name().name() == "assert") {
            out.push(SyntaxAssert {
                id: a.attribute("id").unwrap().to_string(),
                fatal: a.attribute("flag") == Some("fatal"),
                context: context.clone(),
                test: param(a.attribute("test").unwrap()),
            });
        }
    }
    out
}

/// The shapes of test the mechanical check understands.
enum Shape {
    /// `not(p:A/p:B)`
    Absent(Vec<String>),
    /// `not(@a)`
    NoAttribute(String),
    /// `count(p:A/p:B) <= 1`
    AtMostOnce(Vec<String>),
    /// `count(p:A) = 1`
    ExactlyOnce(Vec<String>),
}

/// `s` without parentheses around all of it.
fn strip_parens(mut s: &str) -> &str {
    loop {
        s = s.trim();
        if !(s.starts_with('(') && s.ends_with(')')) {
            return s;
        }
        let mut depth = 0;
        for (i, c) in s.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 && i + 1 < s.len() {
                        return s;
                    }
                }
                _ => {}
            }
        }
        s = &s[1..s.len() - 1];
    }
}

/// `p:A/p:B` as its steps, when it is only that.
fn simple_path(s: &str) -> Option<Vec<String>> {
    let steps: Vec<String> = s.trim().split('/').map(|t| t.trim().to_string()).collect();
    steps
        .iter()
        .all(|t| {
            t.split_once(':').is_some_and(|(p, l)| {
                !p.is_empty()
                    && p.chars().all(|c| c.is_ascii_lowercase())
                    && !l.is_empty()
                    && l.chars().all(|c| c.is_ascii_alphanumeric())
            })
        })
        .then_some(steps)
}

fn shape(test: &str) -> Option<Shape> {
    let t = strip_parens(test);
    if let Some(inner) = t.strip_prefix("not").map(strip_parens) {
        if let Some(a) = inner.strip_prefix('@') {
            return a
                .chars()
                .all(|c| c.is_ascii_alphanumeric())
                .then(|| Shape::NoAttribute(a.to_string()));
        }
        return simple_path(inner).map(Shape::Absent);
    }
    let rest = t.strip_prefix("count(")?;
    let close = rest.find(')')?;
    let path = simple_path(&rest[..close])?;
    let cmp: String = rest[close + 1..]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    match cmp.as_str() {
        "<=1" => Some(Shape::AtMostOnce(path)),
        "=1" => Some(Shape::ExactlyOnce(path)),
        _ => None,
    }
}

/// The element path from the root that makes a node the context selects: the first
/// alternative that is a plain path (`/rsm:A/ram:B`, `//ram:B`), or an element with a name
/// ending as `ends-with(name(), 'X')` wants.
fn context_path(context: &str) -> Option<Vec<String>> {
    for alt in context.split('|').map(str::trim) {
        if let Some(rest) = alt.strip_prefix("//") {
            if let Some(i) = rest.find("ends-with(name(), '") {
                let suffix: String = rest[i + 19..].chars().take_while(|&c| c != '\'').collect();
                return Some(vec![format!("ram:Test{suffix}")]);
            }
            if let Some(p) = simple_path(rest) {
                return Some(p);
            }
        } else if let Some(rest) = alt.strip_prefix('/')
            && let Some(p) = simple_path(rest)
        {
            // without the root element
            return Some(p[1..].to_vec());
        }
    }
    None
}

/// `<a><b>inner</b></a>` for the path `a/b`.
fn nest(path: &[String], attr: &str, inner: &str) -> String {
    match path.split_first() {
        None => inner.to_string(),
        Some((first, rest)) => {
            let attr_here = if rest.is_empty() { attr } else { "" };
            format!("<{first}{attr_here}>{}</{first}>", nest(rest, attr, inner))
        }
    }
}

/// A CII document with the context path, an attribute on the context element and content
/// inside it.
fn doc(context: &[String], attr: &str, inner: &str) -> String {
    if context.is_empty() {
        format!("<rsm:CrossIndustryInvoice {CII_NS}{attr}>{inner}</rsm:CrossIndustryInvoice>")
    } else {
        cii(&nest(context, attr, inner))
    }
}

/// (errors, warnings) rule ids.
fn report(xml: &str) -> (Vec<String>, Vec<String>) {
    let r = validate_xml(
        xml,
        Rulesets {
            en16931: true,
            peppol: false,
        },
    )
    .unwrap();
    (
        r.errors.iter().map(|i| i.rule.to_string()).collect(),
        r.warnings.iter().map(|i| i.rule.to_string()).collect(),
    )
}

/// Asserts the Schematron puts where an element matching an earlier rule of the same
/// pattern never reaches them (a node is checked by the first rule that matches it): the
/// `ExchangedDocument/ram:TypeCode` of `NoAttributesTypeCodeType` is also a `//ram:TypeCode`
/// (`TypeCodeType`), which comes first. The official XSLT has the same template priorities.
const SHADOWED: &[&str] = &["CII-DT-010", "CII-DT-011", "CII-DT-012"];

#[test]
fn every_simple_syntax_assert_fires_in_its_context_with_its_flag() {
    let asserts = syntax_asserts();
    assert!(asserts.len() > 550, "{} asserts", asserts.len());
    let mut checked = 0;
    let mut other = Vec::new();
    let mut failures = Vec::new();
    for a in &asserts {
        let (Some(shape), Some(ctx)) = (shape(&a.test), context_path(&a.context)) else {
            other.push(a.id.clone());
            continue;
        };
        let (good, bad) = match &shape {
            Shape::Absent(p) => (doc(&ctx, "", ""), doc(&ctx, "", &nest(p, "", "1"))),
            Shape::NoAttribute(name) => {
                (doc(&ctx, "", ""), doc(&ctx, &format!(" {name}=\"1\""), ""))
            }
            Shape::AtMostOnce(p) | Shape::ExactlyOnce(p) => {
                let one = nest(p, "", "1");
                (doc(&ctx, "", &one), doc(&ctx, "", &format!("{one}{one}")))
            }
        };
        checked += 1;
        let (good_errors, good_warnings) = report(&good);
        let (bad_errors, bad_warnings) = report(&bad);
        let fired_good = good_errors.contains(&a.id) || good_warnings.contains(&a.id);
        let in_right_list = if a.fatal {
            bad_errors.contains(&a.id)
        } else {
            bad_warnings.contains(&a.id)
        };
        if SHADOWED.contains(&a.id.as_str()) {
            if fired_good || bad_errors.contains(&a.id) || bad_warnings.contains(&a.id) {
                failures.push(format!("{}: shadowed, yet fired", a.id));
            }
            continue;
        }
        if fired_good || !in_right_list {
            failures.push(format!(
                "{} ({}): without the violation fired={fired_good}; with it in the {} list={in_right_list}\n  {bad}",
                a.id,
                a.test.trim(),
                if a.fatal { "errors" } else { "warnings" }
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // the rest are the asserts tested one by one below
    assert!(checked >= 540, "only {checked} checked; others: {other:?}");
    let mut expected_other: Vec<&str> = OTHER_SHAPES.to_vec();
    expected_other.sort();
    let mut other: Vec<&str> = other.iter().map(String::as_str).collect();
    other.sort();
    assert_eq!(other, expected_other);
}

/// The asserts whose tests are not of the simple shapes: each is tested below.
const OTHER_SHAPES: &[&str] = &[
    "CII-SR-046",
    "CII-SR-090",
    "CII-SR-119",
    "CII-SR-186",
    "CII-SR-449",
    "CII-SR-450",
    "CII-SR-451",
    "CII-SR-457",
    "CII-SR-458",
    "CII-SR-462",
    "CII-SR-463",
    "CII-SR-465",
    "CII-SR-466",
    "CII-SR-467",
    "CII-SR-468",
    "CII-SR-469",
    "CII-SR-470",
    "CII-SR-474",
    "CII-SR-475",
    "CII-SR-476",
    "CII-DT-015",
    "CII-DT-018",
    "CII-DT-021",
    "CII-DT-022",
    "CII-DT-024",
    "CII-DT-027",
    "CII-DT-033",
    "CII-DT-037",
    "CII-DT-041",
    "CII-DT-052",
    "CII-DT-054",
    "CII-DT-058",
    "CII-DT-059",
    "CII-DT-097",
    "CII-DT-098",
];

const TX: &str = "rsm:SupplyChainTradeTransaction";

fn line(inner: &str) -> String {
    cii(&format!(
        "<{TX}><ram:IncludedSupplyChainTradeLineItem>{inner}</ram:IncludedSupplyChainTradeLineItem></{TX}>"
    ))
}

fn agreement(inner: &str) -> String {
    cii(&format!(
        "<{TX}><ram:ApplicableHeaderTradeAgreement>{inner}</ram:ApplicableHeaderTradeAgreement></{TX}>"
    ))
}

fn delivery(inner: &str) -> String {
    cii(&format!(
        "<{TX}><ram:ApplicableHeaderTradeDelivery>{inner}</ram:ApplicableHeaderTradeDelivery></{TX}>"
    ))
}

fn means(type_code: &str, extra: &str) -> String {
    format!(
        "<ram:SpecifiedTradeSettlementPaymentMeans><ram:TypeCode>{type_code}</ram:TypeCode>{extra}</ram:SpecifiedTradeSettlementPaymentMeans>"
    )
}

#[track_caller]
fn fires_as(xml: &str, rule: &str, fatal: bool) {
    let (errors, warnings) = report(xml);
    let list = if fatal { &errors } else { &warnings };
    assert!(
        list.iter().any(|r| r == rule),
        "{rule} should be in the {} list: errors {errors:?}, warnings {warnings:?}\n{xml}",
        if fatal { "errors" } else { "warnings" }
    );
}

#[test]
fn product_global_id_needs_a_scheme_and_origin_country_an_id() {
    let product = |inner: &str| {
        line(&format!(
            "<ram:SpecifiedTradeProduct>{inner}</ram:SpecifiedTradeProduct>"
        ))
    };
    fires_as(
        &product("<ram:GlobalID>1</ram:GlobalID>"),
        "CII-SR-046",
        true,
    );
    assert_quiet(
        &product("<ram:GlobalID schemeID=\"0160\">1</ram:GlobalID>"),
        "CII-SR-046",
    );
    fires_as(
        &product(
            "<ram:OriginTradeCountry><ram:ID>DE</ram:ID><ram:ID>FR</ram:ID></ram:OriginTradeCountry>",
        ),
        "CII-SR-090",
        true,
    );
    fires_as(
        &product("<ram:OriginTradeCountry></ram:OriginTradeCountry>"),
        "CII-SR-090",
        true,
    );
    assert_quiet(
        &product("<ram:OriginTradeCountry><ram:ID>DE</ram:ID></ram:OriginTradeCountry>"),
        "CII-SR-090",
    );
}

#[test]
fn gross_price_allowance_needs_an_allowance_indicator_and_amount() {
    let gross = |inner: &str| {
        line(&format!(
            "<ram:SpecifiedLineTradeAgreement><ram:GrossPriceProductTradePrice><ram:ChargeAmount>10</ram:ChargeAmount>{inner}</ram:GrossPriceProductTradePrice></ram:SpecifiedLineTradeAgreement>"
        ))
    };
    let allowance = |indicator: &str, amount: &str| {
        gross(&format!(
            "<ram:AppliedTradeAllowanceCharge><ram:ChargeIndicator><udt:Indicator>{indicator}</udt:Indicator></ram:ChargeIndicator>{amount}</ram:AppliedTradeAllowanceCharge>"
        ))
    };
    let amount = "<ram:ActualAmount>1</ram:ActualAmount>";
    assert_quiet(&allowance("false", amount), "CII-SR-119");
    assert_quiet(&gross(""), "CII-SR-119");
    fires_as(&allowance("true", amount), "CII-SR-119", false);
    fires_as(&allowance("false", ""), "CII-SR-119", false);
}

#[test]
fn percent_format_attributes_are_not_used() {
    let settlement = |inner: &str| {
        line(&format!(
            "<ram:SpecifiedLineTradeSettlement>{inner}</ram:SpecifiedLineTradeSettlement>"
        ))
    };
    fires_as(
        &settlement(
            "<ram:SpecifiedTradeAllowanceCharge><ram:CalculationPercent format=\"1\">5</ram:CalculationPercent></ram:SpecifiedTradeAllowanceCharge>",
        ),
        "CII-SR-186",
        false,
    );
    assert_quiet(
        &settlement(
            "<ram:SpecifiedTradeAllowanceCharge><ram:CalculationPercent>5</ram:CalculationPercent></ram:SpecifiedTradeAllowanceCharge>",
        ),
        "CII-SR-186",
    );
    let tax = |attr: &str| {
        settlement(&format!(
            "<ram:ApplicableTradeTax><ram:TypeCode>VAT</ram:TypeCode><ram:CategoryCode>S</ram:CategoryCode><ram:RateApplicablePercent{attr}>25</ram:RateApplicablePercent></ram:ApplicableTradeTax>"
        ))
    };
    fires_as(&tax(" format=\"1\""), "CII-DT-059", false);
    assert_quiet(&tax(""), "CII-DT-059");
}

#[test]
fn parties_have_an_id_or_a_global_id_not_both() {
    for (rule, party, doc) in [
        (
            "CII-SR-450",
            "ram:BuyerTradeParty",
            agreement as fn(&str) -> String,
        ),
        ("CII-SR-449", "ram:ShipToTradeParty", delivery),
    ] {
        let p = |inner: &str| doc(&format!("<{party}>{inner}</{party}>"));
        assert_quiet(&p("<ram:ID>1</ram:ID>"), rule);
        assert_quiet(&p("<ram:GlobalID schemeID=\"0088\">1</ram:GlobalID>"), rule);
        assert_quiet(&p(""), rule);
        fires_as(
            &p("<ram:ID>1</ram:ID><ram:GlobalID schemeID=\"0088\">1</ram:GlobalID>"),
            rule,
            false,
        );
    }
    let payee = |inner: &str| {
        cii_settlement(&format!(
            "<ram:PayeeTradeParty>{inner}<ram:Name>P</ram:Name></ram:PayeeTradeParty>"
        ))
    };
    assert_quiet(&payee("<ram:ID>1</ram:ID>"), "CII-SR-451");
    fires_as(
        &payee("<ram:ID>1</ram:ID><ram:GlobalID schemeID=\"0088\">1</ram:GlobalID>"),
        "CII-SR-451",
        false,
    );
}

#[test]
fn additional_documents_by_type_code() {
    let docs = |codes: &[&str], extra: &str| {
        agreement(
            &codes
                .iter()
                .map(|c| {
                    format!(
                        "<ram:AdditionalReferencedDocument><ram:IssuerAssignedID>D</ram:IssuerAssignedID><ram:TypeCode>{c}</ram:TypeCode>{extra}</ram:AdditionalReferencedDocument>"
                    )
                })
                .collect::<String>(),
        )
    };
    // at most one tender (50) and one invoiced object (130)
    assert_quiet(&docs(&["50", "130", "916", "916"], ""), "CII-SR-457");
    fires_as(&docs(&["50", "50"], ""), "CII-SR-457", false);
    assert_quiet(&docs(&["130"], ""), "CII-SR-458");
    fires_as(&docs(&["130", "130"], ""), "CII-SR-458", false);
    // in a line, at most one invoiced object (130, with blanks around it too)
    let line_docs = |codes: &[&str]| {
        line(&format!(
            "<ram:SpecifiedLineTradeSettlement>{}</ram:SpecifiedLineTradeSettlement>",
            codes
                .iter()
                .map(|c| format!(
                    "<ram:AdditionalReferencedDocument><ram:IssuerAssignedID>D</ram:IssuerAssignedID><ram:TypeCode>{c}</ram:TypeCode></ram:AdditionalReferencedDocument>"
                ))
                .collect::<String>()
        ))
    };
    fires_as(&line_docs(&["130", " 130 "]), "CII-SR-474", false);
    assert_quiet(&line_docs(&["130"]), "CII-SR-474");
    // an attachment (916) has at most one name and one binary object
    fires_as(
        &docs(&["916"], "<ram:Name>a</ram:Name><ram:Name>b</ram:Name>"),
        "CII-SR-475",
        false,
    );
    assert_quiet(&docs(&["916"], "<ram:Name>a</ram:Name>"), "CII-SR-475");
    let bin = "<ram:AttachmentBinaryObject mimeCode=\"text/csv\" filename=\"a.csv\">YQ==</ram:AttachmentBinaryObject>";
    fires_as(&docs(&["916"], &format!("{bin}{bin}")), "CII-SR-476", false);
    assert_quiet(&docs(&["916"], bin), "CII-SR-476");
    // only attachments have URIID, Name and a binary object, only invoiced objects a
    // ReferenceTypeCode; TypeCode only 50, 130 or 916 in additional documents
    for (rule, extra) in [
        ("CII-DT-015", "<ram:URIID>u</ram:URIID>"),
        ("CII-DT-021", "<ram:Name>a</ram:Name>"),
        ("CII-DT-022", bin),
    ] {
        assert_quiet(&docs(&["916"], extra), rule);
        fires_as(&docs(&["50"], extra), rule, true);
    }
    let rtc = "<ram:ReferenceTypeCode>AAA</ram:ReferenceTypeCode>";
    assert_quiet(&docs(&["130"], rtc), "CII-DT-024");
    fires_as(&docs(&["916"], rtc), "CII-DT-024", true);
    assert_quiet(&docs(&["50", "130", "916"], ""), "CII-DT-018");
    fires_as(&docs(&["380"], ""), "CII-DT-018", true);
    // other referenced documents have none of them
    let contract = |inner: &str| {
        agreement(&format!(
            "<ram:ContractReferencedDocument><ram:IssuerAssignedID>C</ram:IssuerAssignedID>{inner}</ram:ContractReferencedDocument>"
        ))
    };
    fires_as(
        &contract("<ram:TypeCode>50</ram:TypeCode>"),
        "CII-DT-018",
        true,
    );
    fires_as(&contract("<ram:URIID>u</ram:URIID>"), "CII-DT-015", true);
    fires_as(
        &contract(
            "<ram:FormattedIssueDateTime><qdt:DateTimeString format=\"102\">20240101</qdt:DateTimeString></ram:FormattedIssueDateTime>",
        ),
        "CII-DT-027",
        true,
    );
    let preceding = cii_settlement(
        "<ram:InvoiceReferencedDocument><ram:IssuerAssignedID>P</ram:IssuerAssignedID><ram:FormattedIssueDateTime><qdt:DateTimeString format=\"102\">20240101</qdt:DateTimeString></ram:FormattedIssueDateTime></ram:InvoiceReferencedDocument>",
    );
    assert_quiet(&preceding, "CII-DT-027");
}

#[test]
fn payment_means_agree_and_credit_transfers_name_an_account() {
    let account = "<ram:PayeePartyCreditorFinancialAccount><ram:IBANID>DE02120300000000202051</ram:IBANID></ram:PayeePartyCreditorFinancialAccount>";
    let proprietary = "<ram:PayeePartyCreditorFinancialAccount><ram:ProprietaryID>123</ram:ProprietaryID></ram:PayeePartyCreditorFinancialAccount>";
    assert_quiet(
        &cii_settlement(&format!(
            "{}{}",
            means("58", account),
            means(" 58", proprietary)
        )),
        "CII-SR-467",
    );
    fires_as(
        &cii_settlement(&format!("{}{}", means("58", account), means("30", account))),
        "CII-SR-467",
        true,
    );
    let info = |s: &str| format!("<ram:Information>{s}</ram:Information>");
    fires_as(
        &cii_settlement(&format!(
            "{}{}",
            means("58", &format!("{}{account}", info("a"))),
            means("58", &format!("{}{account}", info("b")))
        )),
        "CII-SR-468",
        true,
    );
    assert_quiet(
        &cii_settlement(&format!(
            "{}{}",
            means("58", &format!("{}{account}", info("a"))),
            means("58", &format!("{}{account}", info(" a ")))
        )),
        "CII-SR-468",
    );
    for code in ["30", "58", " 58 "] {
        fires_as(&cii_settlement(&means(code, "")), "CII-SR-470", true);
        assert_quiet(&cii_settlement(&means(code, account)), "CII-SR-470");
        assert_quiet(&cii_settlement(&means(code, proprietary)), "CII-SR-470");
    }
    assert_quiet(&cii_settlement(&means("49", "")), "CII-SR-470");
    let reference = "<ram:PaymentReference>R</ram:PaymentReference>";
    assert_quiet(&cii_settlement(reference), "CII-SR-469");
    fires_as(
        &cii_settlement(&format!("{reference}{reference}")),
        "CII-SR-469",
        true,
    );
}

#[test]
fn tax_due_date_codes_are_one_value_and_only_in_the_header() {
    let tax = |due: &str| {
        format!(
            "<ram:ApplicableTradeTax><ram:CalculatedAmount>25</ram:CalculatedAmount><ram:TypeCode>VAT</ram:TypeCode><ram:BasisAmount>100</ram:BasisAmount><ram:CategoryCode>S</ram:CategoryCode>{due}<ram:RateApplicablePercent>25</ram:RateApplicablePercent></ram:ApplicableTradeTax>"
        )
    };
    let due = |c: &str| format!("<ram:DueDateTypeCode>{c}</ram:DueDateTypeCode>");
    assert_quiet(
        &cii_settlement(&format!("{}{}", tax(&due("5")), tax(&due("5")))),
        "CII-SR-462",
    );
    assert_quiet(&cii_settlement(&tax("")), "CII-SR-462");
    fires_as(
        &cii_settlement(&format!("{}{}", tax(&due("5")), tax(&due("29")))),
        "CII-SR-462",
        true,
    );
    assert_quiet(&cii_settlement(&tax(&due("5"))), "CII-DT-058");
    let line_tax = line(&format!(
        "<ram:SpecifiedLineTradeSettlement>{}</ram:SpecifiedLineTradeSettlement>",
        tax(&due("5"))
    ));
    fires_as(&line_tax, "CII-DT-058", false);
    // basis amount and tax point date only in the header; exemption only in a tax
    let point = "<ram:TaxPointDate><udt:DateString format=\"102\">20240101</udt:DateString></ram:TaxPointDate>";
    assert_quiet(&cii_settlement(&tax(point)), "CII-DT-054");
    fires_as(
        &line(&format!(
            "<ram:SpecifiedLineTradeSettlement>{}</ram:SpecifiedLineTradeSettlement>",
            tax(point)
        )),
        "CII-DT-054",
        false,
    );
    assert_quiet(&cii_settlement(&tax("")), "CII-DT-041");
    fires_as(
        &line(&format!(
            "<ram:SpecifiedLineTradeSettlement>{}</ram:SpecifiedLineTradeSettlement>",
            tax("")
        )),
        "CII-DT-041",
        false,
    );
    let exemption = "<ram:ExemptionReason>x</ram:ExemptionReason><ram:ExemptionReasonCode>vatex-eu-o</ram:ExemptionReasonCode>";
    assert_quiet(&cii_settlement(&tax(exemption)), "CII-DT-098");
    assert_quiet(&cii_settlement(&tax(exemption)), "CII-DT-052");
    let other_tax = cii_settlement(&format!(
        "<ram:SpecifiedTradeAllowanceCharge><ram:CategoryTradeTax><ram:TypeCode>VAT</ram:TypeCode><ram:CategoryCode>S</ram:CategoryCode>{exemption}</ram:CategoryTradeTax></ram:SpecifiedTradeAllowanceCharge>"
    ));
    fires_as(&other_tax, "CII-DT-098", false);
    fires_as(&other_tax, "CII-DT-052", false);
}

#[test]
fn tax_type_code_is_vat() {
    let tax = |code: &str| {
        cii_settlement(&format!(
            "<ram:ApplicableTradeTax><ram:TypeCode>{code}</ram:TypeCode><ram:CategoryCode>S</ram:CategoryCode></ram:ApplicableTradeTax>"
        ))
    };
    assert_quiet(&tax("VAT"), "CII-DT-037");
    for bad in ["vat", "GST", "", " VAT"] {
        fires_as(&tax(bad), "CII-DT-037", true);
    }
    // every …TradeTax, not only ApplicableTradeTax
    fires_as(
        &cii_settlement(
            "<ram:SpecifiedTradeAllowanceCharge><ram:CategoryTradeTax><ram:TypeCode>GST</ram:TypeCode></ram:CategoryTradeTax></ram:SpecifiedTradeAllowanceCharge>",
        ),
        "CII-DT-037",
        true,
    );
}

#[test]
fn allowance_charge_indicator_is_required() {
    assert_quiet(
        &cii_settlement(
            "<ram:SpecifiedTradeAllowanceCharge><ram:ChargeIndicator><udt:Indicator>true</udt:Indicator></ram:ChargeIndicator></ram:SpecifiedTradeAllowanceCharge>",
        ),
        "CII-SR-463",
    );
    fires_as(
        &cii_settlement(
            "<ram:SpecifiedTradeAllowanceCharge><ram:ActualAmount>1</ram:ActualAmount></ram:SpecifiedTradeAllowanceCharge>",
        ),
        "CII-SR-463",
        true,
    );
}

#[test]
fn contact_is_a_person_or_a_department() {
    let contact = |party: &str, inner: &str| {
        agreement(&format!(
            "<{party}><ram:Name>N</ram:Name><ram:DefinedTradeContact>{inner}</ram:DefinedTradeContact></{party}>"
        ))
    };
    let both = "<ram:PersonName>P</ram:PersonName><ram:DepartmentName>D</ram:DepartmentName>";
    for (rule, party) in [
        ("CII-SR-465", "ram:SellerTradeParty"),
        ("CII-SR-466", "ram:BuyerTradeParty"),
    ] {
        fires_as(&contact(party, both), rule, false);
        assert_quiet(&contact(party, "<ram:PersonName>P</ram:PersonName>"), rule);
        assert_quiet(
            &contact(party, "<ram:DepartmentName>D</ram:DepartmentName>"),
            rule,
        );
    }
}

#[test]
fn quantity_unit_code_only_when_a_billed_quantity_has_one() {
    let quantities = |billed: &str| {
        line(&format!(
            "<ram:SpecifiedLineTradeAgreement><ram:NetPriceProductTradePrice><ram:ChargeAmount>1</ram:ChargeAmount><ram:BasisQuantity unitCode=\"C62\">1</ram:BasisQuantity></ram:NetPriceProductTradePrice></ram:SpecifiedLineTradeAgreement><ram:SpecifiedLineTradeDelivery><ram:BilledQuantity{billed}>1</ram:BilledQuantity></ram:SpecifiedLineTradeDelivery>"
        ))
    };
    assert_quiet(&quantities(" unitCode=\"C62\""), "CII-DT-033");
    fires_as(&quantities(""), "CII-DT-033", true);
}

#[test]
fn format_102_dates_are_yyyymmdd() {
    let date = |format: &str, s: &str| {
        cii(&format!(
            "<rsm:ExchangedDocument><ram:ID>1</ram:ID><ram:TypeCode>380</ram:TypeCode><ram:IssueDateTime><udt:DateTimeString format=\"{format}\">{s}</udt:DateTimeString></ram:IssueDateTime></rsm:ExchangedDocument>"
        ))
    };
    for good in ["20240229", "20241231", " 20240101 ", "20240131", "00010101"] {
        assert_quiet(&date("102", good), "CII-DT-097");
    }
    // the pattern checks month 01-12 and day 01-31, not the calendar
    assert_quiet(&date("102", "20230231"), "CII-DT-097");
    for bad in [
        "",
        "2024-01-01",
        "2024011",
        "202401011",
        "20241301",
        "20240100",
        "20240132",
        "2024010A",
        "20240001",
    ] {
        fires_as(&date("102", bad), "CII-DT-097", true);
    }
    // only format 102 is checked
    assert_quiet(&date("610", "202401"), "CII-DT-097");
}

#[test]
fn official_example_and_generated_invoice_fire_no_syntax_rule() {
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/CII_example1.xml"
    ))
    .unwrap();
    for xml in [example, weft_plugin_einvoice::sample::cii_invoice(3)] {
        let f = fired(&xml);
        assert!(
            !f.iter().any(|r| r.starts_with("CII-")),
            "syntax rules fired: {f:?}"
        );
    }
}

/// Each failed syntax rule is reported once per node it failed on, at that node.
#[test]
fn syntax_rule_locations() {
    let r = validate_xml(
        &line("<ram:AssociatedDocumentLineDocument><ram:LineID>1</ram:LineID><ram:ParentLineID>0</ram:ParentLineID></ram:AssociatedDocumentLineDocument><ram:DescriptionCode>1</ram:DescriptionCode>"),
        Rulesets {
            en16931: true,
            peppol: false,
        },
    )
    .unwrap();
    let w: Vec<(&str, &str)> = r
        .warnings
        .iter()
        .filter(|i| i.rule.starts_with("CII-SR-035"))
        .map(|i| (i.rule, i.location.as_str()))
        .collect();
    assert_eq!(
        w,
        [(
            "CII-SR-035",
            "/rsm:CrossIndustryInvoice/rsm:SupplyChainTradeTransaction/ram:IncludedSupplyChainTradeLineItem"
        )]
    );
}

/// The binding defines `CII-SR-282` twice; the official XSLT uses the last definition
/// (`SellerTaxRepresentativeTradeParty/ram:ID`, under the message about
/// BuyerTaxRepresentativeTradeParty), and so does the plugin.
#[test]
fn twice_bound_parameter_takes_the_last_definition() {
    fires_as(
        &agreement(
            "<ram:SellerTaxRepresentativeTradeParty><ram:ID>1</ram:ID></ram:SellerTaxRepresentativeTradeParty>",
        ),
        "CII-SR-282",
        false,
    );
    assert_quiet(
        &agreement(
            "<ram:BuyerTaxRepresentativeTradeParty><ram:Name>B</ram:Name></ram:BuyerTaxRepresentativeTradeParty>",
        ),
        "CII-SR-282",
    );
}
