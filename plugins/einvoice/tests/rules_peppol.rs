//! Peppol BIS Billing 3.0 rules (PEPPOL-EN16931-UBL.sch): transaction rules, code lists,
//! identifier checks (GLN, Norwegian, Swedish, Danish, Belgian), national rules.

mod common;

use common::*;
use weft_plugin_einvoice::sample;
use weft_plugin_einvoice::validate::Rulesets;

fn valid() -> String {
    sample::ubl_invoice(4)
}

fn peppol(xml: &str) -> std::collections::BTreeSet<String> {
    fired_with(xml, true, true)
}

#[test]
fn generated_peppol_sample_is_valid() {
    assert_eq!(peppol(&valid()), set(&[]));
    assert_eq!(peppol(&sample::ubl_invoice(10)), set(&[]));
}

#[test]
fn peppol_turns_on_for_the_peppol_customization_id() {
    let r = weft_plugin_einvoice::validate_xml(
        &valid(),
        Rulesets {
            en16931: true,
            peppol: false,
        },
    )
    .unwrap();
    assert_eq!(r.rulesets, vec!["en16931", "peppol"]);
    let plain = valid().replace(
        "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0",
        "urn:cen.eu:en16931:2017",
    );
    let r = weft_plugin_einvoice::validate_xml(
        &plain,
        Rulesets {
            en16931: true,
            peppol: false,
        },
    )
    .unwrap();
    assert_eq!(r.rulesets, vec!["en16931"]);
    // configured on: the CustomizationID rule of Peppol fires
    assert!(peppol_errors(&plain).contains("PEPPOL-EN16931-R004"));
}

#[test]
fn document_level_rules() {
    let v = valid();
    let no_profile = edit(
        &v,
        "<cbc:ProfileID>urn:fdc:peppol.eu:2017:poacc:billing:01:1.0</cbc:ProfileID>",
        "",
    );
    assert_eq!(
        peppol_errors(&no_profile),
        set(&["PEPPOL-EN16931-R001", "PEPPOL-EN16931-R007"])
    );
    let bad_profile = edit(&v, "billing:01:1.0", "billing:1:1.0");
    assert_eq!(peppol_errors(&bad_profile), set(&["PEPPOL-EN16931-R007"]));
    let no_refs = edit(
        &edit(
            &v,
            "<cbc:BuyerReference>PO-REF-4711</cbc:BuyerReference>",
            "",
        ),
        "<cac:OrderReference>\n    <cbc:ID>PO-4711</cbc:ID>\n  </cac:OrderReference>",
        "",
    );
    assert_eq!(peppol_errors(&no_refs), set(&["PEPPOL-EN16931-R003"]));
    let no_endpoint = edit(
        &v,
        "<cbc:EndpointID schemeID=\"0009\">12345678200010</cbc:EndpointID>",
        "",
    );
    assert_eq!(peppol_errors(&no_endpoint), set(&["PEPPOL-EN16931-R020"]));
    let two_notes = edit(
        &v,
        "<cbc:DocumentCurrencyCode>",
        "<cbc:Note>second</cbc:Note><cbc:DocumentCurrencyCode>",
    );
    assert_eq!(peppol_errors(&two_notes), set(&["PEPPOL-EN16931-R002"]));
}

#[test]
fn line_net_amount_within_slack_of_0_02() {
    let v = valid();
    // line 1: qty 2 × 19.83 = 39.66
    assert!(
        v.contains("<cbc:LineExtensionAmount currencyID=\"EUR\">39.66</cbc:LineExtensionAmount>")
    );
    let off = |amount: &str| {
        edit(
            &v,
            "<cbc:LineExtensionAmount currencyID=\"EUR\">39.66</cbc:LineExtensionAmount>",
            &format!(
                "<cbc:LineExtensionAmount currencyID=\"EUR\">{amount}</cbc:LineExtensionAmount>"
            ),
        )
    };
    assert!(!peppol_errors(&off("39.68")).contains("PEPPOL-EN16931-R120"));
    assert!(!peppol_errors(&off("39.64")).contains("PEPPOL-EN16931-R120"));
    assert!(peppol_errors(&off("39.69")).contains("PEPPOL-EN16931-R120"));
    assert!(peppol_errors(&off("39.63")).contains("PEPPOL-EN16931-R120"));
    let zero_base = edit(
        &v,
        "<cbc:BaseQuantity unitCode=\"C62\">1</cbc:BaseQuantity>",
        "<cbc:BaseQuantity unitCode=\"C62\">0</cbc:BaseQuantity>",
    );
    assert!(peppol_errors(&zero_base).contains("PEPPOL-EN16931-R121"));
    let unit_mismatch = edit(
        &v,
        "<cbc:BaseQuantity unitCode=\"C62\">",
        "<cbc:BaseQuantity unitCode=\"KGM\">",
    );
    assert!(peppol_errors(&unit_mismatch).contains("PEPPOL-EN16931-R130"));
}

#[test]
fn currencies_and_code_lists() {
    let v = valid();
    let usd = edit(
        &v,
        "<cbc:PriceAmount currencyID=\"EUR\">",
        "<cbc:PriceAmount currencyID=\"USD\">",
    );
    assert_eq!(peppol_errors(&usd), set(&["PEPPOL-EN16931-R051"]));
    let bogus = edit(
        &v,
        "<cbc:PriceAmount currencyID=\"EUR\">",
        "<cbc:PriceAmount currencyID=\"ABC\">",
    );
    let e = peppol_errors(&bogus);
    assert!(
        e.contains("PEPPOL-EN16931-CL007") && e.contains("PEPPOL-EN16931-R051"),
        "{e:?}"
    );
    // ZZZ (mutually defined) is in UNCL4461; 999 is not
    let zzz = edit(
        &v,
        "<cbc:PaymentMeansCode name=\"Credit transfer\">30</cbc:PaymentMeansCode>",
        "<cbc:PaymentMeansCode>ZZZ</cbc:PaymentMeansCode>",
    );
    assert_eq!(peppol_errors(&zzz), set(&[]));
    let bad_means = edit(
        &v,
        "<cbc:PaymentMeansCode name=\"Credit transfer\">30</cbc:PaymentMeansCode>",
        "<cbc:PaymentMeansCode>999</cbc:PaymentMeansCode>",
    );
    assert!(
        peppol_errors(&bad_means).contains("BR-CL-16"),
        "{:?}",
        peppol_errors(&bad_means)
    );
    let bad_eas = edit(
        &v,
        "<cbc:EndpointID schemeID=\"0009\">",
        "<cbc:EndpointID schemeID=\"0000\">",
    );
    let e = peppol_errors(&bad_eas);
    assert!(
        e.contains("PEPPOL-EN16931-CL008") && e.contains("BR-CL-25"),
        "{e:?}"
    );
}

#[test]
fn identifier_check_digits() {
    let v = valid();
    let gln = |id: &str| {
        edit(
            &v,
            "<cbc:EndpointID schemeID=\"0009\">12345678200010</cbc:EndpointID>",
            &format!("<cbc:EndpointID schemeID=\"0088\">{id}</cbc:EndpointID>"),
        )
    };
    assert!(!peppol(&gln("5790000435975")).contains("PEPPOL-COMMON-R040"));
    assert!(peppol(&gln("5790000435976")).contains("PEPPOL-COMMON-R040"));
    assert!(peppol(&gln("57900A0435975")).contains("PEPPOL-COMMON-R040"));
    let no = |id: &str| {
        edit(
            &v,
            "<cbc:EndpointID schemeID=\"0009\">12345678200010</cbc:EndpointID>",
            &format!("<cbc:EndpointID schemeID=\"0192\">{id}</cbc:EndpointID>"),
        )
    };
    assert!(!peppol(&no("974760673")).contains("PEPPOL-COMMON-R041"));
    assert!(peppol(&no("974760674")).contains("PEPPOL-COMMON-R041"));
    let se = |id: &str| {
        edit(
            &v,
            "<cbc:EndpointID schemeID=\"0009\">12345678200010</cbc:EndpointID>",
            &format!("<cbc:EndpointID schemeID=\"0007\">{id}</cbc:EndpointID>"),
        )
    };
    assert!(!peppol(&se("5560125790")).contains("PEPPOL-COMMON-R049"));
    assert!(peppol(&se("5560125791")).contains("PEPPOL-COMMON-R049"));
    let dk = |id: &str| {
        edit(
            &v,
            "<cbc:EndpointID schemeID=\"0009\">12345678200010</cbc:EndpointID>",
            &format!("<cbc:EndpointID schemeID=\"0184\">{id}</cbc:EndpointID>"),
        )
    };
    assert!(!peppol(&dk("DK12345678")).contains("PEPPOL-COMMON-R042"));
    assert!(peppol(&dk("DK1234567")).contains("PEPPOL-COMMON-R042"));
    let be = |id: &str| {
        edit(
            &v,
            "<cbc:EndpointID schemeID=\"0009\">12345678200010</cbc:EndpointID>",
            &format!("<cbc:EndpointID schemeID=\"0208\">{id}</cbc:EndpointID>"),
        )
    };
    // 0123456749: 97 - (01234567 mod 97) = 49
    assert!(!peppol(&be("0123456749")).contains("PEPPOL-COMMON-R043"));
    assert!(peppol(&be("0123456748")).contains("PEPPOL-COMMON-R043"));
}

/// A German supplier and buyer (the XRechnung-derived DE rules apply).
fn german() -> String {
    valid()
        .replace(
            "<cbc:IdentificationCode>FR</cbc:IdentificationCode>",
            "<cbc:IdentificationCode>DE</cbc:IdentificationCode>",
        )
        .replace("FR32123456789", "DE123456789")
        .replace("FR61987654321", "DE987654321")
}

#[test]
fn norwegian_supplier_vat_number() {
    let no = valid()
        .replace("<cbc:IdentificationCode>FR</cbc:IdentificationCode>\n        </cac:Country>\n      </cac:PostalAddress>\n      <cac:PartyTaxScheme>\n        <cbc:CompanyID>FR32123456789", "<cbc:IdentificationCode>NO</cbc:IdentificationCode>\n        </cac:Country>\n      </cac:PostalAddress>\n      <cac:PartyTaxScheme>\n        <cbc:CompanyID>NO974760673MVA");
    assert!(no.contains("NO974760673MVA"));
    let f = peppol(&no);
    assert!(!f.contains("NO-R-001"), "{f:?}");
    assert!(
        f.contains("NO-R-002"),
        "the Foretaksregisteret warning: {f:?}"
    );
    let bad = no.replace("NO974760673MVA", "NO974760674MVA");
    assert!(peppol(&bad).contains("NO-R-001"));
}

#[test]
fn german_domestic_rules() {
    let de = german();
    let f = peppol(&de);
    assert!(
        !f.iter().any(|r| r.starts_with("DE-R") && r != "DE-R-022"),
        "{f:?}"
    );
    let sepa = |iban: &str| {
        de.replace(
            "<cbc:PaymentMeansCode name=\"Credit transfer\">30</cbc:PaymentMeansCode>",
            "<cbc:PaymentMeansCode>58</cbc:PaymentMeansCode>",
        )
        .replace("FR7630006000011234567890189", iban)
    };
    // DE-R-019: a valid IBAN (mod 97 = 1) with code 58
    assert!(!peppol(&sepa("DE89370400440532013000")).contains("DE-R-019"));
    assert!(peppol(&sepa("DE89370400440532013001")).contains("DE-R-019"));
    let bad_email = de.replace("factures@acier-industriel.example", "not an address");
    assert!(
        peppol(&bad_email).contains("DE-R-028"),
        "{:?}",
        peppol(&bad_email)
    );
    let bad_phone = de.replace("+33 4 72 00 00 00", "call us");
    assert!(
        peppol(&bad_phone).contains("DE-R-027"),
        "{:?}",
        peppol(&bad_phone)
    );
}

#[test]
fn swedish_supplier_rules() {
    let se = valid()
        .replace("<cbc:IdentificationCode>FR</cbc:IdentificationCode>\n        </cac:Country>\n      </cac:PostalAddress>\n      <cac:PartyTaxScheme>\n        <cbc:CompanyID>FR32123456789", "<cbc:IdentificationCode>SE</cbc:IdentificationCode>\n        </cac:Country>\n      </cac:PostalAddress>\n      <cac:PartyTaxScheme>\n        <cbc:CompanyID>SE556012579001")
        .replace("<cbc:CompanyID schemeID=\"0002\">123456789</cbc:CompanyID>", "<cbc:CompanyID>5560125790</cbc:CompanyID>");
    // the sample's 20 % and 10 % are not Swedish rates
    assert_eq!(peppol(&se), set(&["SE-R-006"]));
    let luhn = se.replace(
        "<cbc:CompanyID>5560125790</cbc:CompanyID>",
        "<cbc:CompanyID>5560125791</cbc:CompanyID>",
    );
    assert!(peppol(&luhn).contains("SE-R-013"));
    let short_vat = se.replace("SE556012579001", "SE55601257900");
    assert!(peppol(&short_vat).contains("SE-R-001"));
}

#[test]
fn an_empty_element_is_found_after_a_non_empty_one_of_the_same_name() {
    // R008's context `//*[not(*) and not(normalize-space())]` reads each element's text:
    // no result may be kept per element name (within or across documents)
    let bad = valid().replacen(
        "<cbc:Note>Payment within 30 days, 2 % late interest per month.</cbc:Note>",
        "<cbc:Note>  </cbc:Note>",
        1,
    );
    assert_ne!(bad, valid());
    assert!(peppol(&valid()).is_empty());
    assert!(peppol(&bad).contains("PEPPOL-EN16931-R008"));
    assert!(peppol(&valid()).is_empty());
    assert!(peppol(&bad).contains("PEPPOL-EN16931-R008"));
}
