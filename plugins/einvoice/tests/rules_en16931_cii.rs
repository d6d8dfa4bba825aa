//! EN 16931 rules on CII (the CII binding's own contexts and tests).

mod common;

use common::*;
use weft_plugin_einvoice::sample;

fn valid() -> String {
    sample::cii_invoice(4)
}

#[test]
fn generated_cii_sample_is_valid() {
    assert_eq!(fired(&valid()), set(&[]));
}

#[test]
fn official_cii_example_is_valid() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/CII_example1.xml"
    ))
    .unwrap();
    assert_eq!(errors(&text), set(&[]));
}

#[test]
fn br_core_presence() {
    let v = valid();
    let cases = [
        (
            "BR-01",
            "<ram:ID>urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0</ram:ID>",
            "<ram:ID> </ram:ID>",
        ),
        ("BR-02", "<ram:ID>INV-2024-000123</ram:ID>", ""),
        (
            "BR-03",
            "<udt:DateTimeString format=\"102\">20240315</udt:DateTimeString>",
            "<udt:DateTimeString format=\"102\"></udt:DateTimeString>",
        ),
        ("BR-04", "<ram:TypeCode>380</ram:TypeCode>", ""),
        (
            "BR-05",
            "<ram:InvoiceCurrencyCode>EUR</ram:InvoiceCurrencyCode>",
            "",
        ),
        ("BR-06", "<ram:Name>Acier Industriel SARL</ram:Name>", ""),
        ("BR-07", "<ram:Name>Mecanique Alpine SA</ram:Name>", ""),
    ];
    for (rule, from, to) in cases {
        let bad = edit(&v, from, to);
        assert!(errors(&bad).contains(rule), "{rule}: {:?}", errors(&bad));
    }
}

#[test]
fn br_co_totals_and_rounding() {
    let v = valid();
    let i = v
        .find("<ram:SpecifiedTradeSettlementHeaderMonetarySummation>")
        .unwrap();
    let (head, tail) = v.split_at(i);
    let bad = format!(
        "{head}{}",
        tail.replacen("<ram:LineTotalAmount>", "<ram:LineTotalAmount>1", 1)
    );
    let e = errors(&bad);
    assert!(e.contains("BR-CO-10") && e.contains("BR-CO-13"), "{e:?}");
    let bad = format!(
        "{head}{}",
        tail.replacen("<ram:DuePayableAmount>", "<ram:DuePayableAmount>1", 1)
    );
    assert!(errors(&bad).contains("BR-CO-16"));
    let bad = format!(
        "{head}{}",
        tail.replacen("<ram:GrandTotalAmount>", "<ram:GrandTotalAmount>1", 1)
    );
    assert!(errors(&bad).contains("BR-CO-15"));
}

/// The CII binding checks BR-CO-17 with `<=`/`>=` (tolerance of exactly 1 included),
/// the UBL binding with `<`/`>`.
#[test]
fn br_co_17_cii_tolerance_is_inclusive() {
    let doc = |tax: &str| {
        cii_settlement(&format!(
            "<ram:ApplicableTradeTax><ram:CalculatedAmount>{tax}</ram:CalculatedAmount><ram:TypeCode>VAT</ram:TypeCode><ram:BasisAmount>100.00</ram:BasisAmount><ram:CategoryCode>S</ram:CategoryCode><ram:RateApplicablePercent>25</ram:RateApplicablePercent></ram:ApplicableTradeTax>"
        ))
    };
    assert_quiet(&doc("25.00"), "BR-CO-17");
    assert_quiet(&doc("24.00"), "BR-CO-17");
    assert_quiet(&doc("26.00"), "BR-CO-17");
    assert_fires(&doc("23.99"), "BR-CO-17");
    assert_fires(&doc("26.01"), "BR-CO-17");
}

#[test]
fn br_29_compares_format_102_dates() {
    let period = |s: &str, e: &str| {
        cii_settlement(&format!(
            "<ram:BillingSpecifiedPeriod><ram:StartDateTime><udt:DateTimeString format=\"102\">{s}</udt:DateTimeString></ram:StartDateTime><ram:EndDateTime><udt:DateTimeString format=\"102\">{e}</udt:DateTimeString></ram:EndDateTime></ram:BillingSpecifiedPeriod>"
        ))
    };
    assert_quiet(&period("20240101", "20240131"), "BR-29");
    assert_fires(&period("20240201", "20240131"), "BR-29");
    assert_fires(&cii_settlement("<ram:BillingSpecifiedPeriod/>"), "BR-CO-19");
}

#[test]
fn vat_categories_cii() {
    let tax = |cat: &str, extra: &str| {
        cii_settlement(&format!(
            "<ram:ApplicableTradeTax><ram:CalculatedAmount>0</ram:CalculatedAmount><ram:TypeCode>VAT</ram:TypeCode>{extra}<ram:BasisAmount>0</ram:BasisAmount><ram:CategoryCode>{cat}</ram:CategoryCode><ram:RateApplicablePercent>0</ram:RateApplicablePercent></ram:ApplicableTradeTax>"
        ))
    };
    assert_fires(&tax("E", ""), "BR-E-10");
    assert_quiet(
        &tax("E", "<ram:ExemptionReason>Exempt</ram:ExemptionReason>"),
        "BR-E-10",
    );
    assert_fires(
        &tax("Z", "<ram:ExemptionReason>x</ram:ExemptionReason>"),
        "BR-Z-10",
    );
    assert_quiet(&tax("Z", ""), "BR-Z-10");
    assert_fires(&tax("AE", ""), "BR-AE-10");
    assert_fires(&tax("K", ""), "BR-IC-10");
    assert_fires(&tax("G", ""), "BR-G-10");
    assert_fires(&tax("O", ""), "BR-O-10");
}

#[test]
fn br_dec_and_code_lists_cii() {
    let v = valid();
    let bad = v.replacen("<ram:LineTotalAmount>", "<ram:LineTotalAmount>0.001", 0).replacen(
        "<ram:SpecifiedTradeSettlementLineMonetarySummation>\n          <ram:LineTotalAmount>",
        "<ram:SpecifiedTradeSettlementLineMonetarySummation>\n          <ram:LineTotalAmount>1.111",
        1,
    );
    assert!(errors(&bad).contains("BR-DEC-23"), "{:?}", errors(&bad));
    assert!(
        errors(&edit(
            &v,
            "<ram:InvoiceCurrencyCode>EUR",
            "<ram:InvoiceCurrencyCode>EUX"
        ))
        .contains("BR-CL-04")
    );
    assert!(errors(&edit(&v, "unitCode=\"C62\">", "unitCode=\"QQQ\">")).contains("BR-CL-23"));
    assert!(
        errors(&edit(
            &v,
            "<ram:TypeCode>380</ram:TypeCode>",
            "<ram:TypeCode>1</ram:TypeCode>"
        ))
        .contains("BR-CL-01")
    );
    let no_list = edit(&v, "<ram:ClassCode listID=\"STI\">", "<ram:ClassCode>");
    assert!(errors(&no_list).contains("BR-65"), "{:?}", errors(&no_list));
}

#[test]
fn cii_locations_use_rsm_and_ram_prefixes() {
    let doc = cii_settlement(
        "<ram:SpecifiedTradeSettlementHeaderMonetarySummation><ram:LineTotalAmount>1.00</ram:LineTotalAmount></ram:SpecifiedTradeSettlementHeaderMonetarySummation>",
    );
    let report = weft_plugin_einvoice::validate_xml(
        &doc,
        weft_plugin_einvoice::validate::Rulesets {
            en16931: true,
            peppol: false,
        },
    )
    .unwrap();
    let e = report.errors.iter().find(|e| e.rule == "BR-13").unwrap();
    assert_eq!(
        e.location,
        "/rsm:CrossIndustryInvoice/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/ram:SpecifiedTradeSettlementHeaderMonetarySummation"
    );
    assert_eq!(report.syntax, "cii");
}
