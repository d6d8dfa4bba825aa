//! Helpers shared by the rule tests.
#![allow(dead_code)]

use std::collections::BTreeSet;

use weft_plugin_einvoice::validate::Rulesets;

/// Namespace declarations of a UBL Invoice.
pub const UBL_NS: &str = r#"xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2" xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2" xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2""#;
/// Namespace declarations of a UBL CreditNote.
pub const CN_NS: &str = r#"xmlns="urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2" xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2" xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2""#;
/// Namespace declarations of a CII invoice.
pub const CII_NS: &str = r#"xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100" xmlns:ram="urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100" xmlns:udt="urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100" xmlns:qdt="urn:un:unece:uncefact:data:standard:QualifiedDataType:100""#;

/// A UBL Invoice fragment document.
pub fn ubl(body: &str) -> String {
    format!("<Invoice {UBL_NS}>{body}</Invoice>")
}

/// A UBL CreditNote fragment document.
pub fn ubl_cn(body: &str) -> String {
    format!("<CreditNote {CN_NS}>{body}</CreditNote>")
}

/// A CII fragment document.
pub fn cii(body: &str) -> String {
    format!("<rsm:CrossIndustryInvoice {CII_NS}>{body}</rsm:CrossIndustryInvoice>")
}

/// A CII document whose transaction has these header settlement children.
pub fn cii_settlement(settlement: &str) -> String {
    cii(&format!(
        "<rsm:SupplyChainTradeTransaction><ram:ApplicableHeaderTradeSettlement>{settlement}</ram:ApplicableHeaderTradeSettlement></rsm:SupplyChainTradeTransaction>"
    ))
}

/// Ids of the rules that fired (fatal and warning), with `peppol` on or off.
pub fn fired_with(xml: &str, en16931: bool, peppol: bool) -> BTreeSet<String> {
    let report = weft_plugin_einvoice::validate_xml(xml, Rulesets { en16931, peppol })
        .unwrap_or_else(|e| panic!("{e}"));
    report
        .errors
        .iter()
        .chain(report.warnings.iter())
        .map(|i| i.rule.to_string())
        .collect()
}

/// Ids of the rules that fired under EN 16931 only.
pub fn fired(xml: &str) -> BTreeSet<String> {
    fired_with(xml, true, false)
}

/// Ids of the fatal rules that fired under EN 16931 only.
pub fn errors(xml: &str) -> BTreeSet<String> {
    let report = weft_plugin_einvoice::validate_xml(
        xml,
        Rulesets {
            en16931: true,
            peppol: false,
        },
    )
    .unwrap();
    report.errors.iter().map(|i| i.rule.to_string()).collect()
}

/// Ids of the fatal rules that fired with Peppol on.
pub fn peppol_errors(xml: &str) -> BTreeSet<String> {
    let report = weft_plugin_einvoice::validate_xml(
        xml,
        Rulesets {
            en16931: true,
            peppol: true,
        },
    )
    .unwrap();
    report.errors.iter().map(|i| i.rule.to_string()).collect()
}

/// A set of rule ids.
pub fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

/// Asserts `rule` fires on `xml` (EN 16931 only).
#[track_caller]
pub fn assert_fires(xml: &str, rule: &str) {
    let f = fired(xml);
    assert!(f.contains(rule), "{rule} should fire; fired: {f:?}\n{xml}");
}

/// Asserts `rule` does not fire on `xml` (EN 16931 only).
#[track_caller]
pub fn assert_quiet(xml: &str, rule: &str) {
    let f = fired(xml);
    assert!(
        !f.contains(rule),
        "{rule} should not fire; fired: {f:?}\n{xml}"
    );
}

/// Replaces `from` (which must occur) by `to`.
#[track_caller]
pub fn edit(xml: &str, from: &str, to: &str) -> String {
    assert!(xml.contains(from), "`{from}` not found");
    xml.replacen(from, to, 1)
}

/// A small, complete EN 16931 UBL invoice with one line of one VAT category, for the VAT
/// category rules.
#[derive(Clone)]
pub struct VatCase {
    /// VAT category code of the line and the breakdown.
    pub cat: &'static str,
    /// VAT rate (`None`: no `cbc:Percent`).
    pub rate: Option<&'static str>,
    /// Line net amount = taxable amount.
    pub net: &'static str,
    /// Tax amount of the breakdown and total VAT.
    pub tax: &'static str,
    /// Exemption reason text.
    pub exemption: Option<&'static str>,
    /// Seller VAT identifier.
    pub seller_vat: Option<&'static str>,
    /// Buyer VAT identifier.
    pub buyer_vat: Option<&'static str>,
    /// Seller and buyer country.
    pub country: &'static str,
    /// Buyer country (defaults to `country`).
    pub buyer_country: Option<&'static str>,
    /// Actual delivery date and deliver-to country.
    pub delivery: bool,
}

impl VatCase {
    /// A standard-rated (S, 25 %) case.
    pub fn standard() -> VatCase {
        VatCase {
            cat: "S",
            rate: Some("25"),
            net: "100.00",
            tax: "25.00",
            exemption: None,
            seller_vat: Some("SE123456789001"),
            buyer_vat: Some("SE987654321001"),
            country: "SE",
            buyer_country: None,
            delivery: true,
        }
    }

    /// A zero-rate category case (Z, E, AE, K, G) with the given exemption reason.
    pub fn zero(cat: &'static str, exemption: Option<&'static str>) -> VatCase {
        VatCase {
            cat,
            rate: Some("0"),
            tax: "0.00",
            exemption,
            ..VatCase::standard()
        }
    }

    /// The invoice.
    pub fn ubl(&self) -> String {
        let percent = self
            .rate
            .map(|r| format!("<cbc:Percent>{r}</cbc:Percent>"))
            .unwrap_or_default();
        let exemption = self
            .exemption
            .map(|e| format!("<cbc:TaxExemptionReason>{e}</cbc:TaxExemptionReason>"))
            .unwrap_or_default();
        let party_tax = |id: Option<&str>| {
            id.map(|v| format!("<cac:PartyTaxScheme><cbc:CompanyID>{v}</cbc:CompanyID><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme>"))
                .unwrap_or_default()
        };
        let delivery = if self.delivery {
            format!(
                "<cac:Delivery><cbc:ActualDeliveryDate>2024-01-15</cbc:ActualDeliveryDate><cac:DeliveryLocation><cac:Address><cac:Country><cbc:IdentificationCode>{}</cbc:IdentificationCode></cac:Country></cac:Address></cac:DeliveryLocation></cac:Delivery>",
                self.buyer_country.unwrap_or(self.country)
            )
        } else {
            String::new()
        };
        let total = add(self.net, self.tax);
        format!(
            r#"<Invoice {UBL_NS}>
<cbc:CustomizationID>urn:cen.eu:en16931:2017</cbc:CustomizationID>
<cbc:ID>T-1</cbc:ID>
<cbc:IssueDate>2024-01-31</cbc:IssueDate>
<cbc:DueDate>2024-02-29</cbc:DueDate>
<cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>
<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>
<cbc:BuyerReference>REF</cbc:BuyerReference>
<cac:AccountingSupplierParty><cac:Party>
<cac:PostalAddress><cbc:CityName>City</cbc:CityName><cac:Country><cbc:IdentificationCode>{country}</cbc:IdentificationCode></cac:Country></cac:PostalAddress>
{seller_tax}
<cac:PartyLegalEntity><cbc:RegistrationName>Seller AB</cbc:RegistrationName><cbc:CompanyID>5561234567</cbc:CompanyID></cac:PartyLegalEntity>
</cac:Party></cac:AccountingSupplierParty>
<cac:AccountingCustomerParty><cac:Party>
<cac:PostalAddress><cbc:CityName>Town</cbc:CityName><cac:Country><cbc:IdentificationCode>{buyer_country}</cbc:IdentificationCode></cac:Country></cac:PostalAddress>
{buyer_tax}
<cac:PartyLegalEntity><cbc:RegistrationName>Buyer AB</cbc:RegistrationName></cac:PartyLegalEntity>
</cac:Party></cac:AccountingCustomerParty>
{delivery}
<cac:PaymentMeans><cbc:PaymentMeansCode>30</cbc:PaymentMeansCode><cac:PayeeFinancialAccount><cbc:ID>SE4550000000058398257466</cbc:ID></cac:PayeeFinancialAccount></cac:PaymentMeans>
<cac:TaxTotal><cbc:TaxAmount currencyID="EUR">{tax}</cbc:TaxAmount>
<cac:TaxSubtotal><cbc:TaxableAmount currencyID="EUR">{net}</cbc:TaxableAmount><cbc:TaxAmount currencyID="EUR">{tax}</cbc:TaxAmount>
<cac:TaxCategory><cbc:ID>{cat}</cbc:ID>{percent}{exemption}<cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:TaxCategory></cac:TaxSubtotal></cac:TaxTotal>
<cac:LegalMonetaryTotal><cbc:LineExtensionAmount currencyID="EUR">{net}</cbc:LineExtensionAmount><cbc:TaxExclusiveAmount currencyID="EUR">{net}</cbc:TaxExclusiveAmount><cbc:TaxInclusiveAmount currencyID="EUR">{total}</cbc:TaxInclusiveAmount><cbc:PayableAmount currencyID="EUR">{total}</cbc:PayableAmount></cac:LegalMonetaryTotal>
<cac:InvoiceLine><cbc:ID>1</cbc:ID><cbc:InvoicedQuantity unitCode="C62">1</cbc:InvoicedQuantity><cbc:LineExtensionAmount currencyID="EUR">{net}</cbc:LineExtensionAmount>
<cac:Item><cbc:Name>Item</cbc:Name><cac:ClassifiedTaxCategory><cbc:ID>{cat}</cbc:ID>{percent}<cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:ClassifiedTaxCategory></cac:Item>
<cac:Price><cbc:PriceAmount currencyID="EUR">{net}</cbc:PriceAmount></cac:Price></cac:InvoiceLine>
</Invoice>"#,
            country = self.country,
            buyer_country = self.buyer_country.unwrap_or(self.country),
            seller_tax = party_tax(self.seller_vat),
            buyer_tax = party_tax(self.buyer_vat),
            cat = self.cat,
            net = self.net,
            tax = self.tax,
        )
    }
}

/// Adds two 2-decimal amounts.
fn add(a: &str, b: &str) -> String {
    let c = |s: &str| -> i64 {
        let (i, f) = s.split_once('.').unwrap_or((s, "0"));
        let neg = i.starts_with('-');
        let v = i.trim_start_matches('-').parse::<i64>().unwrap() * 100
            + format!("{f:0<2}")[..2].parse::<i64>().unwrap();
        if neg { -v } else { v }
    };
    let s = c(a) + c(b);
    format!(
        "{}{}.{:02}",
        if s < 0 { "-" } else { "" },
        s.abs() / 100,
        s.abs() % 100
    )
}
