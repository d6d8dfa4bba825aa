//! EN 16931 rules on UBL: positive and negative cases per rule family, written from the
//! rule texts. Negative cases mutate a valid invoice so that only the rule under test
//! (and rules that necessarily follow from it) fires.

mod common;

use common::*;
use weft_plugin_einvoice::sample;

fn valid() -> String {
    sample::ubl_invoice(3)
}

#[test]
fn generated_sample_is_valid() {
    assert_eq!(fired(&valid()), set(&[]));
}

// ---------------------------------------------------------------------------------------
// BR-01 … BR-65

#[test]
fn br_core_presence_rules() {
    let v = valid();
    let cases: &[(&str, &str, &str)] = &[
        (
            "BR-01",
            "<cbc:CustomizationID>urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0</cbc:CustomizationID>",
            "",
        ),
        ("BR-02", "<cbc:ID>INV-2024-000123</cbc:ID>", ""),
        ("BR-03", "<cbc:IssueDate>2024-03-15</cbc:IssueDate>", ""),
        (
            "BR-04",
            "<cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>",
            "",
        ),
        (
            "BR-05",
            "<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>",
            "",
        ),
        (
            "BR-06",
            "<cbc:RegistrationName>Acier Industriel SARL</cbc:RegistrationName>",
            "",
        ),
        (
            "BR-07",
            "<cbc:RegistrationName>Mecanique Alpine SA</cbc:RegistrationName>",
            "",
        ),
        (
            "BR-12",
            "<cbc:LineExtensionAmount currencyID=\"EUR\">",
            "<cbc:Ignored currencyID=\"EUR\">",
        ),
    ];
    for (rule, from, to) in cases {
        let bad = if rule == &"BR-12" {
            // drop the document level BT-106 only
            let i = v.find("<cac:LegalMonetaryTotal>").unwrap();
            let (head, tail) = v.split_at(i);
            format!(
                "{head}{}",
                tail.replacen(from, to, 1).replacen(
                    "</cbc:LineExtensionAmount>",
                    "</cbc:Ignored>",
                    1
                )
            )
        } else {
            edit(&v, from, to)
        };
        assert!(errors(&bad).contains(*rule), "{rule}: {:?}", errors(&bad));
    }
    // BR-06 is about the name being non-blank, not only present
    let blank = edit(
        &v,
        "<cbc:RegistrationName>Acier Industriel SARL</cbc:RegistrationName>",
        "<cbc:RegistrationName>  </cbc:RegistrationName>",
    );
    assert!(errors(&blank).contains("BR-06"));
}

#[test]
fn br_08_to_11_addresses() {
    let v = VatCase::standard().ubl();
    assert_quiet(&v, "BR-09");
    let no_country = edit(
        &v,
        "<cac:Country><cbc:IdentificationCode>SE</cbc:IdentificationCode></cac:Country></cac:PostalAddress>",
        "</cac:PostalAddress>",
    );
    assert_eq!(errors(&no_country), set(&["BR-09"]));
    let no_address = ubl(
        "<cac:AccountingSupplierParty><cac:Party/></cac:AccountingSupplierParty><cac:AccountingCustomerParty><cac:Party/></cac:AccountingCustomerParty>",
    );
    let e = errors(&no_address);
    assert!(e.contains("BR-08") && e.contains("BR-10"), "{e:?}");
    let buyer_no_country = ubl(
        "<cac:AccountingCustomerParty><cac:Party><cac:PostalAddress><cbc:CityName>X</cbc:CityName></cac:PostalAddress></cac:Party></cac:AccountingCustomerParty>",
    );
    assert_fires(&buyer_no_country, "BR-11");
}

#[test]
fn br_16_and_line_rules() {
    let no_lines = ubl("<cbc:ID>1</cbc:ID>");
    assert_fires(&no_lines, "BR-16");
    let line = |inner: &str| ubl(&format!("<cac:InvoiceLine>{inner}</cac:InvoiceLine>"));
    let bare = line("");
    for rule in ["BR-21", "BR-22", "BR-24", "BR-25", "BR-26", "BR-CO-04"] {
        assert_fires(&bare, rule);
    }
    let good = line(
        r#"<cbc:ID>1</cbc:ID><cbc:InvoicedQuantity unitCode="C62">2</cbc:InvoicedQuantity><cbc:LineExtensionAmount currencyID="EUR">10.00</cbc:LineExtensionAmount>
        <cac:Item><cbc:Name>Bolt</cbc:Name><cac:ClassifiedTaxCategory><cbc:ID>S</cbc:ID><cbc:Percent>25</cbc:Percent><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:ClassifiedTaxCategory></cac:Item>
        <cac:Price><cbc:PriceAmount currencyID="EUR">5.00</cbc:PriceAmount></cac:Price>"#,
    );
    for rule in [
        "BR-21", "BR-22", "BR-23", "BR-24", "BR-25", "BR-26", "BR-27", "BR-28", "BR-CO-04",
    ] {
        assert_quiet(&good, rule);
    }
    assert_fires(&edit(&good, " unitCode=\"C62\"", ""), "BR-23");
    assert_fires(
        &edit(
            &good,
            "<cbc:PriceAmount currencyID=\"EUR\">5.00",
            "<cbc:PriceAmount currencyID=\"EUR\">-5.00",
        ),
        "BR-27",
    );
    let gross = edit(
        &good,
        "<cbc:PriceAmount currencyID=\"EUR\">5.00</cbc:PriceAmount>",
        "<cbc:PriceAmount currencyID=\"EUR\">5.00</cbc:PriceAmount><cac:AllowanceCharge><cbc:ChargeIndicator>false</cbc:ChargeIndicator><cbc:Amount currencyID=\"EUR\">1</cbc:Amount><cbc:BaseAmount currencyID=\"EUR\">-6</cbc:BaseAmount></cac:AllowanceCharge>",
    );
    assert_fires(&gross, "BR-28");
    // credit notes use CreditedQuantity
    let cn = ubl_cn(
        r#"<cac:CreditNoteLine><cbc:ID>1</cbc:ID><cbc:CreditedQuantity unitCode="C62">1</cbc:CreditedQuantity></cac:CreditNoteLine>"#,
    );
    assert_quiet(&cn, "BR-22");
    assert_quiet(&cn, "BR-23");
    assert_fires(
        &ubl_cn("<cac:CreditNoteLine><cbc:ID>1</cbc:ID></cac:CreditNoteLine>"),
        "BR-22",
    );
}

#[test]
fn br_17_to_20_payee_and_tax_representative() {
    let payee = |name: &str| {
        ubl(&format!(
            "<cac:AccountingSupplierParty><cac:Party><cac:PartyName><cbc:Name>Seller</cbc:Name></cac:PartyName></cac:Party></cac:AccountingSupplierParty><cac:PayeeParty>{name}</cac:PayeeParty>"
        ))
    };
    assert_fires(&payee(""), "BR-17");
    assert_quiet(
        &payee("<cac:PartyName><cbc:Name>Factor Ltd</cbc:Name></cac:PartyName>"),
        "BR-17",
    );
    // the payee name equal to the seller name means the payee is the seller
    assert_fires(
        &payee("<cac:PartyName><cbc:Name>Seller</cbc:Name></cac:PartyName>"),
        "BR-17",
    );
    let rep = ubl("<cac:TaxRepresentativeParty/>");
    let e = errors(&rep);
    for r in ["BR-18", "BR-19", "BR-56"] {
        assert!(e.contains(r), "{r}: {e:?}");
    }
    let rep_ok = ubl(
        "<cac:TaxRepresentativeParty><cac:PartyName><cbc:Name>Rep</cbc:Name></cac:PartyName><cac:PostalAddress><cac:Country><cbc:IdentificationCode>DE</cbc:IdentificationCode></cac:Country></cac:PostalAddress><cac:PartyTaxScheme><cbc:CompanyID>DE123456789</cbc:CompanyID><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme></cac:TaxRepresentativeParty>",
    );
    let e = errors(&rep_ok);
    for r in ["BR-18", "BR-19", "BR-20", "BR-56"] {
        assert!(!e.contains(r), "{r}: {e:?}");
    }
    let rep_no_country = edit(
        &rep_ok,
        "<cac:Country><cbc:IdentificationCode>DE</cbc:IdentificationCode></cac:Country>",
        "",
    );
    assert_fires(&rep_no_country, "BR-20");
}

#[test]
fn br_29_30_periods() {
    let period = |s: &str, e: &str| {
        ubl(&format!(
            "<cac:InvoicePeriod><cbc:StartDate>{s}</cbc:StartDate><cbc:EndDate>{e}</cbc:EndDate></cac:InvoicePeriod>"
        ))
    };
    assert_quiet(&period("2024-01-01", "2024-01-31"), "BR-29");
    assert_quiet(&period("2024-01-31", "2024-01-31"), "BR-29");
    assert_fires(&period("2024-02-01", "2024-01-31"), "BR-29");
    let line = ubl(
        "<cac:InvoiceLine><cac:InvoicePeriod><cbc:StartDate>2024-03-02</cbc:StartDate><cbc:EndDate>2024-03-01</cbc:EndDate></cac:InvoicePeriod></cac:InvoiceLine>",
    );
    assert_fires(&line, "BR-30");
    assert_fires(&ubl("<cac:InvoicePeriod/>"), "BR-CO-19");
    assert_fires(
        &ubl("<cac:InvoiceLine><cac:InvoicePeriod/></cac:InvoiceLine>"),
        "BR-CO-20",
    );
    assert_quiet(
        &ubl("<cac:InvoicePeriod><cbc:EndDate>2024-01-31</cbc:EndDate></cac:InvoicePeriod>"),
        "BR-CO-19",
    );
}

#[test]
fn br_31_to_44_allowances_and_charges() {
    let doc = |indicator: &str, inner: &str| {
        ubl(&format!(
            "<cac:AllowanceCharge><cbc:ChargeIndicator>{indicator}</cbc:ChargeIndicator>{inner}</cac:AllowanceCharge>"
        ))
    };
    let e = errors(&doc("false", ""));
    for r in ["BR-31", "BR-32", "BR-33", "BR-CO-21"] {
        assert!(e.contains(r), "{r}: {e:?}");
    }
    let e = errors(&doc("true", ""));
    for r in ["BR-36", "BR-37", "BR-38", "BR-CO-22"] {
        assert!(e.contains(r), "{r}: {e:?}");
    }
    let ok = r#"<cbc:AllowanceChargeReason>Discount</cbc:AllowanceChargeReason><cbc:Amount currencyID="EUR">5.00</cbc:Amount><cac:TaxCategory><cbc:ID>S</cbc:ID><cbc:Percent>25</cbc:Percent><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:TaxCategory>"#;
    let e = errors(&doc("false", ok));
    for r in ["BR-31", "BR-32", "BR-33", "BR-CO-21"] {
        assert!(!e.contains(r), "{r}: {e:?}");
    }
    let line = |indicator: &str, inner: &str| {
        ubl(&format!(
            "<cac:InvoiceLine><cac:AllowanceCharge><cbc:ChargeIndicator>{indicator}</cbc:ChargeIndicator>{inner}</cac:AllowanceCharge></cac:InvoiceLine>"
        ))
    };
    let e = errors(&line("false", ""));
    assert!(
        e.contains("BR-41") && e.contains("BR-42") && e.contains("BR-CO-23"),
        "{e:?}"
    );
    let e = errors(&line("true", ""));
    assert!(
        e.contains("BR-43") && e.contains("BR-44") && e.contains("BR-CO-24"),
        "{e:?}"
    );
    let e = errors(&line(
        "true",
        r#"<cbc:AllowanceChargeReasonCode>FC</cbc:AllowanceChargeReasonCode><cbc:Amount currencyID="EUR">1.00</cbc:Amount>"#,
    ));
    assert!(!e.contains("BR-43") && !e.contains("BR-44"), "{e:?}");
}

#[test]
fn br_45_to_48_vat_breakdown() {
    let v = VatCase::standard().ubl();
    let no_taxable = edit(
        &v,
        "<cbc:TaxableAmount currencyID=\"EUR\">100.00</cbc:TaxableAmount>",
        "",
    );
    assert!(errors(&no_taxable).contains("BR-45"));
    let no_rate = VatCase {
        rate: None,
        ..VatCase::standard()
    };
    assert!(errors(&no_rate.ubl()).contains("BR-48"));
    let no_cat = ubl(
        "<cac:TaxTotal><cac:TaxSubtotal><cbc:TaxableAmount currencyID=\"EUR\">1</cbc:TaxableAmount><cbc:TaxAmount currencyID=\"EUR\">0</cbc:TaxAmount></cac:TaxSubtotal></cac:TaxTotal>",
    );
    assert_fires(&no_cat, "BR-47");
    let no_tax = ubl(
        "<cac:TaxTotal><cac:TaxSubtotal><cbc:TaxableAmount currencyID=\"EUR\">1</cbc:TaxableAmount></cac:TaxSubtotal></cac:TaxTotal>",
    );
    assert_fires(&no_tax, "BR-46");
}

#[test]
fn br_49_to_65_misc() {
    assert_fires(&ubl("<cac:PaymentMeans/>"), "BR-49");
    assert_fires(
        &ubl(
            "<cac:PaymentMeans><cbc:PaymentMeansCode>30</cbc:PaymentMeansCode><cac:PayeeFinancialAccount/></cac:PaymentMeans>",
        ),
        "BR-50",
    );
    assert_fires(
        &ubl(
            "<cac:PaymentMeans><cbc:PaymentMeansCode>58</cbc:PaymentMeansCode></cac:PaymentMeans>",
        ),
        "BR-61",
    );
    assert_quiet(
        &ubl(
            "<cac:PaymentMeans><cbc:PaymentMeansCode>49</cbc:PaymentMeansCode></cac:PaymentMeans>",
        ),
        "BR-61",
    );
    // BR-51 is a warning: the card number should show at most 10 characters
    let card = |pan: &str| {
        ubl(&format!(
            "<cac:PaymentMeans><cbc:PaymentMeansCode>54</cbc:PaymentMeansCode><cac:CardAccount><cbc:PrimaryAccountNumberID>{pan}</cbc:PrimaryAccountNumberID></cac:CardAccount></cac:PaymentMeans>"
        ))
    };
    assert_fires(&card("1234567890123456"), "BR-51");
    assert!(
        !errors(&card("1234567890123456")).contains("BR-51"),
        "BR-51 is a warning"
    );
    assert_quiet(&card("123456"), "BR-51");
    assert_fires(&ubl("<cac:AdditionalDocumentReference/>"), "BR-52");
    assert_fires(
        &ubl(
            "<cbc:TaxCurrencyCode>SEK</cbc:TaxCurrencyCode><cac:TaxTotal><cbc:TaxAmount currencyID=\"EUR\">1</cbc:TaxAmount></cac:TaxTotal>",
        ),
        "BR-53",
    );
    assert_quiet(
        &ubl(
            "<cbc:TaxCurrencyCode>SEK</cbc:TaxCurrencyCode><cac:TaxTotal><cbc:TaxAmount currencyID=\"EUR\">1</cbc:TaxAmount></cac:TaxTotal><cac:TaxTotal><cbc:TaxAmount currencyID=\"SEK\">11</cbc:TaxAmount></cac:TaxTotal>",
        ),
        "BR-53",
    );
    assert_fires(
        &ubl(
            "<cac:InvoiceLine><cac:Item><cac:AdditionalItemProperty><cbc:Name>Colour</cbc:Name></cac:AdditionalItemProperty></cac:Item></cac:InvoiceLine>",
        ),
        "BR-54",
    );
    assert_fires(
        &ubl("<cac:BillingReference><cac:InvoiceDocumentReference/></cac:BillingReference>"),
        "BR-55",
    );
    assert_fires(
        &ubl(
            "<cac:Delivery><cac:DeliveryLocation><cac:Address><cbc:CityName>X</cbc:CityName></cac:Address></cac:DeliveryLocation></cac:Delivery>",
        ),
        "BR-57",
    );
    assert_fires(
        &ubl(
            "<cac:AccountingSupplierParty><cac:Party><cbc:EndpointID>x@y</cbc:EndpointID></cac:Party></cac:AccountingSupplierParty>",
        ),
        "BR-62",
    );
    assert_quiet(
        &ubl(
            "<cac:AccountingSupplierParty><cac:Party><cbc:EndpointID schemeID=\"0088\">5790000435975</cbc:EndpointID></cac:Party></cac:AccountingSupplierParty>",
        ),
        "BR-62",
    );
    assert_fires(
        &ubl(
            "<cac:AccountingCustomerParty><cac:Party><cbc:EndpointID>x@y</cbc:EndpointID></cac:Party></cac:AccountingCustomerParty>",
        ),
        "BR-63",
    );
    assert_fires(
        &ubl(
            "<cac:InvoiceLine><cac:Item><cac:StandardItemIdentification><cbc:ID>123</cbc:ID></cac:StandardItemIdentification></cac:Item></cac:InvoiceLine>",
        ),
        "BR-64",
    );
    assert_fires(
        &ubl(
            "<cac:InvoiceLine><cac:Item><cac:CommodityClassification><cbc:ItemClassificationCode>123</cbc:ItemClassificationCode></cac:CommodityClassification></cac:Item></cac:InvoiceLine>",
        ),
        "BR-65",
    );
}

// ---------------------------------------------------------------------------------------
// BR-CO: calculations and co-occurrence, with the Schematron's rounding

#[test]
fn br_co_totals() {
    let v = valid();
    let cases = [
        (
            "BR-CO-10",
            "<cbc:LineExtensionAmount currencyID=\"EUR\">",
            "<cbc:LineExtensionAmount currencyID=\"EUR\">1",
        ),
        (
            "BR-CO-11",
            "<cbc:AllowanceTotalAmount currencyID=\"EUR\">10.00",
            "<cbc:AllowanceTotalAmount currencyID=\"EUR\">11.00",
        ),
        (
            "BR-CO-12",
            "<cbc:ChargeTotalAmount currencyID=\"EUR\">5.00",
            "<cbc:ChargeTotalAmount currencyID=\"EUR\">6.00",
        ),
        (
            "BR-CO-16",
            "<cbc:PayableAmount currencyID=\"EUR\">",
            "<cbc:PrepaidAmount currencyID=\"EUR\">1.00</cbc:PrepaidAmount><cbc:PayableAmount currencyID=\"EUR\">",
        ),
    ];
    for (rule, from, to) in cases {
        let i = v.find("<cac:LegalMonetaryTotal>").unwrap();
        let bad = format!("{}{}", &v[..i], v[i..].replacen(from, to, 1));
        assert!(errors(&bad).contains(rule), "{rule}: {:?}", errors(&bad));
    }
    // total VAT must match the breakdown
    let i = v.find("<cac:TaxTotal>").unwrap();
    let tax_total = &v[i..];
    let amount_start =
        tax_total.find('>').unwrap() + 1 + "\n    <cbc:TaxAmount currencyID=\"EUR\">".len();
    let amount_end = tax_total[amount_start..].find('<').unwrap();
    let old = &tax_total[amount_start..amount_start + amount_end];
    let bad = v.replacen(
        &format!("<cbc:TaxAmount currencyID=\"EUR\">{old}</cbc:TaxAmount>\n    <cac:TaxSubtotal>"),
        "<cbc:TaxAmount currencyID=\"EUR\">1.00</cbc:TaxAmount>\n    <cac:TaxSubtotal>",
        1,
    );
    let e = errors(&bad);
    assert!(e.contains("BR-CO-14") && e.contains("BR-CO-15"), "{e:?}");
}

#[test]
fn br_co_10_rounds_half_towards_positive_infinity() {
    let doc = |total: &str, lines: &[&str]| {
        let ls: String = lines
            .iter()
            .map(|a| format!("<cac:InvoiceLine><cbc:LineExtensionAmount currencyID=\"EUR\">{a}</cbc:LineExtensionAmount></cac:InvoiceLine>"))
            .collect();
        ubl(&format!(
            "<cac:LegalMonetaryTotal><cbc:LineExtensionAmount currencyID=\"EUR\">{total}</cbc:LineExtensionAmount></cac:LegalMonetaryTotal>{ls}"
        ))
    };
    assert_quiet(&doc("100.00", &["50.00", "50.00"]), "BR-CO-10");
    assert_fires(&doc("100.00", &["50.00", "49.99"]), "BR-CO-10");
    // 10.005 rounds to 10.01
    assert_quiet(&doc("10.01", &["10.005"]), "BR-CO-10");
    assert_fires(&doc("10.00", &["10.005"]), "BR-CO-10");
    // -10.015 rounds to -10.01 (half towards +infinity), not -10.02
    assert_quiet(&doc("-10.01", &["-10.015"]), "BR-CO-10");
    assert_fires(&doc("-10.02", &["-10.015"]), "BR-CO-10");
    // exact decimal arithmetic: 0.1 + 0.2 = 0.3
    assert_quiet(&doc("0.30", &["0.1", "0.2"]), "BR-CO-10");
}

#[test]
fn br_co_17_tolerance_of_one() {
    let case = |tax: &str| {
        VatCase {
            tax: Box::leak(tax.to_string().into_boxed_str()),
            ..VatCase::standard()
        }
        .ubl()
    };
    assert_quiet(&case("25.00"), "BR-CO-17");
    assert_quiet(&case("24.01"), "BR-CO-17");
    assert_quiet(&case("25.99"), "BR-CO-17");
    assert_fires(&case("24.00"), "BR-CO-17");
    assert_fires(&case("26.00"), "BR-CO-17");
}

#[test]
fn br_co_misc() {
    let v = VatCase::standard().ubl();
    let bad_vat = edit(&v, "SE123456789001", "XX123456789001");
    assert_eq!(errors(&bad_vat), set(&["BR-CO-09"]));
    let both = edit(
        &v,
        "<cbc:DueDate>",
        "<cbc:TaxPointDate>2024-01-31</cbc:TaxPointDate><cac:InvoicePeriod><cbc:DescriptionCode>35</cbc:DescriptionCode></cac:InvoicePeriod><cbc:DueDate>",
    );
    assert!(errors(&both).contains("BR-CO-03"), "{:?}", errors(&both));
    let no_breakdown = ubl("<cac:InvoiceLine><cbc:ID>1</cbc:ID></cac:InvoiceLine>");
    assert_fires(&no_breakdown, "BR-CO-18");
    let no_seller_id = VatCase {
        seller_vat: None,
        ..VatCase::standard()
    }
    .ubl()
    .replace("<cbc:CompanyID>5561234567</cbc:CompanyID>", "");
    assert!(
        errors(&no_seller_id).contains("BR-CO-26"),
        "{:?}",
        errors(&no_seller_id)
    );
}

// ---------------------------------------------------------------------------------------
// VAT categories

#[test]
fn vat_categories_valid() {
    let cases = [
        VatCase::standard(),
        VatCase::zero("Z", None),
        VatCase::zero(
            "E",
            Some("Exempt based on article 132 of Council Directive 2006/112/EC"),
        ),
        VatCase::zero("AE", Some("Reverse charge")),
        VatCase {
            buyer_vat: Some("DE123456789"),
            buyer_country: Some("DE"),
            ..VatCase::zero("K", Some("Intra-community supply"))
        },
        VatCase::zero("G", Some("Export outside the EU")),
        VatCase {
            rate: None,
            seller_vat: None,
            buyer_vat: None,
            ..VatCase::zero("O", Some("Not subject to VAT"))
        },
        VatCase {
            cat: "L",
            rate: Some("7"),
            tax: "7.00",
            country: "ES",
            seller_vat: Some("ESA12345674"),
            buyer_vat: Some("ESB12345674"),
            ..VatCase::standard()
        },
        VatCase {
            cat: "M",
            rate: Some("4"),
            tax: "4.00",
            country: "ES",
            seller_vat: Some("ESA12345674"),
            buyer_vat: Some("ESB12345674"),
            ..VatCase::standard()
        },
        VatCase {
            cat: "B",
            rate: Some("22"),
            tax: "22.00",
            country: "IT",
            seller_vat: Some("IT12345678901"),
            buyer_vat: Some("IT10987654321"),
            ..VatCase::standard()
        },
    ];
    for c in cases {
        assert_eq!(errors(&c.ubl()), set(&[]), "category {}", c.cat);
    }
}

#[test]
fn vat_category_standard_rated() {
    let no_seller_vat = VatCase {
        seller_vat: None,
        ..VatCase::standard()
    };
    assert_eq!(errors(&no_seller_vat.ubl()), set(&["BR-S-02"]));
    let exempt = VatCase {
        exemption: Some("why"),
        ..VatCase::standard()
    };
    assert_eq!(errors(&exempt.ubl()), set(&["BR-S-10"]));
    let wrong_tax = VatCase {
        tax: "24.00",
        ..VatCase::standard()
    };
    assert_eq!(errors(&wrong_tax.ubl()), set(&["BR-CO-17", "BR-S-09"]));
    let zero_line = edit(
        &VatCase::standard().ubl(),
        "<cbc:ID>S</cbc:ID><cbc:Percent>25</cbc:Percent><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:ClassifiedTaxCategory>",
        "<cbc:ID>S</cbc:ID><cbc:Percent>0</cbc:Percent><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:ClassifiedTaxCategory>",
    );
    let e = errors(&zero_line);
    assert!(e.contains("BR-S-05") && e.contains("BR-S-08"), "{e:?}");
    // a line in S but no S breakdown
    let no_breakdown = edit(
        &VatCase::standard().ubl(),
        "<cac:TaxCategory><cbc:ID>S</cbc:ID>",
        "<cac:TaxCategory><cbc:ID>Z</cbc:ID>",
    );
    assert!(errors(&no_breakdown).contains("BR-S-01"));
}

#[test]
fn vat_category_zero_rated() {
    assert!(errors_of(VatCase::zero("Z", Some("no"))).contains("BR-Z-10"));
    let no_vat = VatCase {
        seller_vat: None,
        ..VatCase::zero("Z", None)
    };
    assert_eq!(errors(&no_vat.ubl()), set(&["BR-Z-02"]));
    let taxed = VatCase {
        tax: "1.00",
        ..VatCase::zero("Z", None)
    };
    assert!(errors(&taxed.ubl()).contains("BR-Z-09"));
}

fn errors_of(c: VatCase) -> std::collections::BTreeSet<String> {
    errors(&c.ubl())
}

fn errs(c: &VatCase) -> std::collections::BTreeSet<String> {
    errors(&c.ubl())
}

#[test]
fn vat_category_exempt() {
    assert_eq!(errors_of(VatCase::zero("E", None)), set(&["BR-E-10"]));
    let taxed = VatCase {
        tax: "1.00",
        ..VatCase::zero("E", Some("Exempt"))
    };
    assert!(errs(&taxed).contains("BR-E-09"));
    let rated = VatCase {
        rate: Some("5"),
        ..VatCase::zero("E", Some("Exempt"))
    };
    assert!(errs(&rated).contains("BR-E-05"));
}

#[test]
fn vat_category_reverse_charge() {
    assert_eq!(errors_of(VatCase::zero("AE", None)), set(&["BR-AE-10"]));
    let no_buyer = VatCase {
        buyer_vat: None,
        ..VatCase::zero("AE", Some("Reverse charge"))
    };
    assert_eq!(errs(&no_buyer), set(&["BR-AE-02"]));
    let taxed = VatCase {
        tax: "1.00",
        ..VatCase::zero("AE", Some("Reverse charge"))
    };
    assert!(errs(&taxed).contains("BR-AE-09"));
}

#[test]
fn vat_category_intra_community() {
    let base = VatCase {
        buyer_vat: Some("DE123456789"),
        buyer_country: Some("DE"),
        ..VatCase::zero("K", Some("Intra-community supply"))
    };
    let no_delivery = VatCase {
        delivery: false,
        ..base.clone()
    };
    assert_eq!(errs(&no_delivery), set(&["BR-IC-11", "BR-IC-12"]));
    let no_buyer = VatCase {
        buyer_vat: None,
        ..base.clone()
    };
    assert_eq!(errs(&no_buyer), set(&["BR-IC-02"]));
    let no_reason = VatCase {
        exemption: None,
        ..base
    };
    assert_eq!(errs(&no_reason), set(&["BR-IC-10"]));
}

#[test]
fn vat_category_export() {
    let no_vat = VatCase {
        seller_vat: None,
        ..VatCase::zero("G", Some("Export outside the EU"))
    };
    assert_eq!(errs(&no_vat), set(&["BR-G-02"]));
    assert_eq!(errors_of(VatCase::zero("G", None)), set(&["BR-G-10"]));
}

#[test]
fn vat_category_not_subject() {
    let base = VatCase {
        rate: None,
        seller_vat: None,
        buyer_vat: None,
        ..VatCase::zero("O", Some("Not subject to VAT"))
    };
    let with_vat = VatCase {
        seller_vat: Some("SE123456789001"),
        ..base.clone()
    };
    assert_eq!(errs(&with_vat), set(&["BR-O-02"]));
    let with_rate = VatCase {
        rate: Some("0"),
        ..base.clone()
    };
    assert!(errs(&with_rate).contains("BR-O-05"));
    let no_reason = VatCase {
        exemption: None,
        ..base
    };
    assert_eq!(errs(&no_reason), set(&["BR-O-10"]));
}

#[test]
fn vat_category_igic_ipsi_split_payment() {
    let igic = VatCase {
        cat: "L",
        rate: Some("7"),
        tax: "7.00",
        ..VatCase::standard()
    };
    // 1.3.16: the IGIC rate shall be 0 or greater
    let zero = VatCase {
        rate: Some("0"),
        tax: "0.00",
        ..igic.clone()
    };
    assert_eq!(errs(&zero), set(&[]));
    let negative = VatCase {
        rate: Some("-7"),
        tax: "-7.00",
        ..igic.clone()
    };
    assert!(
        errs(&negative).contains("BR-AF-05"),
        "{:?}",
        errs(&negative)
    );
    let exempt = VatCase {
        exemption: Some("x"),
        ..igic
    };
    assert_eq!(errs(&exempt), set(&["BR-AF-10"]));
    let ipsi = VatCase {
        cat: "M",
        rate: Some("4"),
        tax: "4.00",
        exemption: Some("x"),
        ..VatCase::standard()
    };
    assert_eq!(errs(&ipsi), set(&["BR-AG-10"]));
    let split = VatCase {
        cat: "B",
        rate: Some("22"),
        tax: "22.00",
        country: "DE",
        seller_vat: Some("DE123456789"),
        buyer_vat: Some("DE987654321"),
        ..VatCase::standard()
    };
    assert!(errs(&split).contains("BR-B-01"));
}

// ---------------------------------------------------------------------------------------
// BR-DEC: at most two decimals

#[test]
fn br_dec() {
    let doc = ubl(
        "<cac:LegalMonetaryTotal><cbc:LineExtensionAmount currencyID=\"EUR\">1.001</cbc:LineExtensionAmount><cbc:TaxExclusiveAmount currencyID=\"EUR\">1.001</cbc:TaxExclusiveAmount><cbc:PayableAmount currencyID=\"EUR\">1.001</cbc:PayableAmount></cac:LegalMonetaryTotal>",
    );
    let e = errors(&doc);
    for r in ["BR-DEC-09", "BR-DEC-12", "BR-DEC-18"] {
        assert!(e.contains(r), "{r}: {e:?}");
    }
    let ok = ubl(
        "<cac:LegalMonetaryTotal><cbc:LineExtensionAmount currencyID=\"EUR\">1.00</cbc:LineExtensionAmount></cac:LegalMonetaryTotal>",
    );
    assert_quiet(&ok, "BR-DEC-09");
    let line = ubl(
        "<cac:InvoiceLine><cbc:LineExtensionAmount currencyID=\"EUR\">2.123</cbc:LineExtensionAmount></cac:InvoiceLine>",
    );
    assert_fires(&line, "BR-DEC-23");
    let allowance = ubl(
        "<cac:AllowanceCharge><cbc:ChargeIndicator>false</cbc:ChargeIndicator><cbc:Amount currencyID=\"EUR\">1.123</cbc:Amount><cbc:BaseAmount currencyID=\"EUR\">10.1234</cbc:BaseAmount></cac:AllowanceCharge>",
    );
    let e = errors(&allowance);
    assert!(e.contains("BR-DEC-01") && e.contains("BR-DEC-02"), "{e:?}");
}

// ---------------------------------------------------------------------------------------
// BR-CL: code lists

#[test]
fn br_cl_code_lists() {
    let v = VatCase::standard().ubl();
    let cases = [
        (
            "BR-CL-01",
            "<cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>",
            "<cbc:InvoiceTypeCode>999</cbc:InvoiceTypeCode>",
        ),
        (
            "BR-CL-04",
            "<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>",
            "<cbc:DocumentCurrencyCode>EUX</cbc:DocumentCurrencyCode>",
        ),
        (
            "BR-CL-14",
            "<cbc:IdentificationCode>SE</cbc:IdentificationCode></cac:Country></cac:PostalAddress>",
            "<cbc:IdentificationCode>XQ</cbc:IdentificationCode></cac:Country></cac:PostalAddress>",
        ),
        (
            "BR-CL-16",
            "<cbc:PaymentMeansCode>30</cbc:PaymentMeansCode>",
            "<cbc:PaymentMeansCode>999</cbc:PaymentMeansCode>",
        ),
        ("BR-CL-23", "unitCode=\"C62\"", "unitCode=\"XXX\""),
    ];
    for (rule, from, to) in cases {
        let bad = edit(&v, from, to);
        assert!(errors(&bad).contains(rule), "{rule}: {:?}", errors(&bad));
    }
    assert_fires(
        &ubl(
            "<cac:TaxTotal><cac:TaxSubtotal><cac:TaxCategory><cbc:ID>Q</cbc:ID></cac:TaxCategory></cac:TaxSubtotal></cac:TaxTotal>",
        ),
        "BR-CL-17",
    );
    assert_fires(
        &ubl(
            "<cac:InvoiceLine><cac:Item><cac:ClassifiedTaxCategory><cbc:ID>Q</cbc:ID></cac:ClassifiedTaxCategory></cac:Item></cac:InvoiceLine>",
        ),
        "BR-CL-18",
    );
    assert_fires(
        &ubl(
            "<cac:AccountingSupplierParty><cac:Party><cbc:EndpointID schemeID=\"XXXX\">1</cbc:EndpointID></cac:Party></cac:AccountingSupplierParty>",
        ),
        "BR-CL-25",
    );
    assert_quiet(
        &ubl(
            "<cac:AccountingSupplierParty><cac:Party><cbc:EndpointID schemeID=\"0088\">1</cbc:EndpointID></cac:Party></cac:AccountingSupplierParty>",
        ),
        "BR-CL-25",
    );
    assert_fires(
        &ubl(
            "<cac:AdditionalDocumentReference><cbc:ID>a</cbc:ID><cac:Attachment><cbc:EmbeddedDocumentBinaryObject mimeCode=\"application/zip\" filename=\"a.zip\">AA==</cbc:EmbeddedDocumentBinaryObject></cac:Attachment></cac:AdditionalDocumentReference>",
        ),
        "BR-CL-24",
    );
    assert_quiet(
        &ubl(
            "<cac:AdditionalDocumentReference><cbc:ID>a</cbc:ID><cac:Attachment><cbc:EmbeddedDocumentBinaryObject mimeCode=\"application/pdf\" filename=\"a.pdf\">AA==</cbc:EmbeddedDocumentBinaryObject></cac:Attachment></cac:AdditionalDocumentReference>",
        ),
        "BR-CL-24",
    );
    assert_fires(
        &ubl(
            "<cac:AllowanceCharge><cbc:ChargeIndicator>false</cbc:ChargeIndicator><cbc:AllowanceChargeReasonCode>ZZZ9</cbc:AllowanceChargeReasonCode></cac:AllowanceCharge>",
        ),
        "BR-CL-19",
    );
    assert_fires(
        &ubl(
            "<cac:AllowanceCharge><cbc:ChargeIndicator>true</cbc:ChargeIndicator><cbc:AllowanceChargeReasonCode>95</cbc:AllowanceChargeReasonCode></cac:AllowanceCharge>",
        ),
        "BR-CL-20",
    );
    assert_fires(
        &ubl(
            "<cac:TaxTotal><cac:TaxSubtotal><cac:TaxCategory><cbc:TaxExemptionReasonCode>VATEX-XX</cbc:TaxExemptionReasonCode></cac:TaxCategory></cac:TaxSubtotal></cac:TaxTotal>",
        ),
        "BR-CL-22",
    );
    assert_quiet(
        &ubl(
            "<cac:TaxTotal><cac:TaxSubtotal><cac:TaxCategory><cbc:TaxExemptionReasonCode>VATEX-EU-IC</cbc:TaxExemptionReasonCode></cac:TaxCategory></cac:TaxSubtotal></cac:TaxTotal>",
        ),
        "BR-CL-22",
    );
    // the code list rules compare the trimmed value
    assert_quiet(
        &ubl("<cbc:DocumentCurrencyCode> EUR </cbc:DocumentCurrencyCode>"),
        "BR-CL-04",
    );
}

// ---------------------------------------------------------------------------------------
// UBL syntax rules: UBL-SR (fatal), UBL-CR (warnings), UBL-DT

#[test]
fn ubl_syntax_rules() {
    let v = VatCase::standard().ubl();
    let with_uuid = edit(
        &v,
        "<cbc:ID>T-1</cbc:ID>",
        "<cbc:ID>T-1</cbc:ID><cbc:UUID>abc</cbc:UUID>",
    );
    assert_eq!(fired(&with_uuid), set(&["UBL-CR-005"]));
    assert!(errors(&with_uuid).is_empty(), "UBL-CR rules are warnings");
    let two_contracts = ubl(
        "<cac:ContractDocumentReference><cbc:ID>1</cbc:ID></cac:ContractDocumentReference><cac:ContractDocumentReference><cbc:ID>2</cbc:ID></cac:ContractDocumentReference>",
    );
    assert!(errors(&two_contracts).contains("UBL-SR-01"));
    assert_quiet(
        &ubl("<cac:ContractDocumentReference><cbc:ID>1</cbc:ID></cac:ContractDocumentReference>"),
        "UBL-SR-01",
    );
    assert!(
        errors(&ubl("<cbc:Amount currencyID=\"EUR\">1.123</cbc:Amount>")).contains("UBL-DT-01")
    );
    assert_quiet(
        &ubl(
            "<cac:Price><cbc:PriceAmount currencyID=\"EUR\">1.12345</cbc:PriceAmount></cac:Price>",
        ),
        "UBL-DT-01",
    );
    let binary = ubl(
        "<cac:AdditionalDocumentReference><cbc:ID>a</cbc:ID><cac:Attachment><cbc:EmbeddedDocumentBinaryObject>AA==</cbc:EmbeddedDocumentBinaryObject></cac:Attachment></cac:AdditionalDocumentReference>",
    );
    let e = errors(&binary);
    assert!(e.contains("UBL-DT-06") && e.contains("UBL-DT-07"), "{e:?}");
    let ext = edit(
        &v,
        "<cbc:CustomizationID>",
        "<ext:UBLExtensions xmlns:ext=\"urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2\"/><cbc:CustomizationID>",
    );
    assert_eq!(fired(&ext), set(&["UBL-CR-001"]));
}

#[test]
fn findings_carry_locations_and_messages() {
    let doc = ubl(
        "<cac:LegalMonetaryTotal><cbc:LineExtensionAmount currencyID=\"EUR\">100.00</cbc:LineExtensionAmount></cac:LegalMonetaryTotal><cac:InvoiceLine><cbc:LineExtensionAmount currencyID=\"EUR\">1.00</cbc:LineExtensionAmount></cac:InvoiceLine><cac:InvoiceLine><cbc:LineExtensionAmount currencyID=\"EUR\">1.005</cbc:LineExtensionAmount></cac:InvoiceLine>",
    );
    let report = weft_plugin_einvoice::validate_xml(
        &doc,
        weft_plugin_einvoice::validate::Rulesets {
            en16931: true,
            peppol: false,
        },
    )
    .unwrap();
    let co10 = report.errors.iter().find(|e| e.rule == "BR-CO-10").unwrap();
    assert_eq!(co10.location, "/Invoice/cac:LegalMonetaryTotal");
    assert!(
        co10.message
            .starts_with("[BR-CO-10]-Sum of Invoice line net amount")
    );
    let dec = report
        .errors
        .iter()
        .find(|e| e.rule == "BR-DEC-23")
        .unwrap();
    assert_eq!(dec.location, "/Invoice/cac:InvoiceLine[2]");
    let dt = report
        .errors
        .iter()
        .find(|e| e.rule == "UBL-DT-01")
        .unwrap();
    assert_eq!(
        dt.location,
        "/Invoice/cac:InvoiceLine[2]/cbc:LineExtensionAmount"
    );
}

#[test]
fn every_failure_is_reported_not_only_the_first() {
    let doc = ubl("<cac:InvoiceLine/><cac:InvoiceLine/><cac:InvoiceLine/>");
    let report = weft_plugin_einvoice::validate_xml(
        &doc,
        weft_plugin_einvoice::validate::Rulesets {
            en16931: true,
            peppol: false,
        },
    )
    .unwrap();
    assert_eq!(
        report.errors.iter().filter(|e| e.rule == "BR-21").count(),
        3
    );
    assert!(report.errors.len() > 20);
}
