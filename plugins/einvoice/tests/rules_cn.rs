//! China fully digitalized e-invoice rules (rules/cn/CN-EInvoice.sch).

mod common;

use common::*;
use weft_plugin_einvoice::sample;

fn valid() -> String {
    sample::cn_einvoice(3)
}

fn cn(xml: &str) -> std::collections::BTreeSet<String> {
    fired(xml)
}

#[test]
fn sample_is_valid_and_uses_the_cn_ruleset() {
    let r = weft_plugin_einvoice::validate_xml(&valid(), Default::default()).unwrap();
    assert!(r.valid, "{:?}", r.errors);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    assert_eq!(r.syntax, "cn-einvoice");
    assert_eq!(r.rulesets, vec!["cn"]);
}

#[test]
fn invoice_number_has_20_digits() {
    let v = valid();
    let short = v.replace("24312000000001234567", "2431200000000123456");
    assert_eq!(cn(&short), set(&["CN-03"]));
    let letters = v.replace("24312000000001234567", "2431200000000123456X");
    assert_eq!(cn(&letters), set(&["CN-03"]));
    let mismatch = edit(
        &v,
        "<EIid>24312000000001234567</EIid>",
        "<EIid>24312000000001234568</EIid>",
    );
    assert_eq!(cn(&mismatch), set(&["CN-04"]));
    let none = v
        .replace("<EIid>24312000000001234567</EIid>", "")
        .replace("<InvoiceNumber>24312000000001234567</InvoiceNumber>", "");
    assert_eq!(cn(&none), set(&["CN-02"]));
}

#[test]
fn unified_social_credit_codes() {
    let v = valid();
    // GB 32100 check character: 91310000MA1FL8XQ3 → 7
    let bad = edit(&v, "91310000MA1FL8XQ37", "91310000MA1FL8XQ38");
    assert_eq!(cn(&bad), set(&["CN-12"]));
    let letters_not_allowed = edit(&v, "91310000MA1FL8XQ37", "91310000MA1FL8XI37");
    assert_eq!(cn(&letters_not_allowed), set(&["CN-12"]));
    let missing = edit(&v, "<SellerIdNum>91310000MA1FL8XQ37</SellerIdNum>", "");
    assert_eq!(cn(&missing), set(&["CN-11"]));
    let bad_buyer = edit(&v, "91110108551385082Q", "91110108551385082R");
    assert_eq!(cn(&bad_buyer), set(&["CN-14"]));
    // a natural person buyer: GB 11643 citizen identification number
    let person = edit(&v, "91110108551385082Q", "11010519491231002X");
    assert_eq!(cn(&person), set(&[]));
    let no_buyer_id = edit(&v, "<BuyerIdNum>91110108551385082Q</BuyerIdNum>", "");
    assert_eq!(cn(&no_buyer_id), set(&[]));
    let no_names = v
        .replace("<SellerName>上海钢构制造有限公司</SellerName>", "")
        .replace("<BuyerName>北京工业设备有限公司</BuyerName>", "");
    assert_eq!(cn(&no_names), set(&["CN-10", "CN-13"]));
}

#[test]
fn totals_add_up() {
    let v = valid();
    let total_start = v.find("<TotalAmWithoutTax>").unwrap() + "<TotalAmWithoutTax>".len();
    let total_end = v[total_start..].find('<').unwrap() + total_start;
    let total = &v[total_start..total_end];
    let off = v.replacen(
        &format!("<TotalAmWithoutTax>{total}"),
        "<TotalAmWithoutTax>1.00",
        1,
    );
    assert_eq!(cn(&off), set(&["CN-21", "CN-22"]));
    let line_tax = v.replacen("<ComTaxAm>", "<ComTaxAm>1", 1);
    let e = cn(&line_tax);
    assert!(
        e.contains("CN-23") && e.contains("CN-33") && e.contains("CN-35"),
        "{e:?}"
    );
    let bad_amount = v.replacen("</Amount>", "1</Amount>", 1);
    let e = cn(&bad_amount);
    assert!(e.contains("CN-24") && e.contains("CN-22"), "{e:?}");
}

#[test]
fn line_rules() {
    let v = valid();
    let no_name = v.replacen("<ItemName>*金属制品*钢结构件1</ItemName>", "", 1);
    assert_eq!(cn(&no_name), set(&["CN-30"]));
    let percent = v.replacen("<TaxRate>0.13</TaxRate>", "<TaxRate>13%</TaxRate>", 1);
    assert_eq!(cn(&percent), set(&[]));
    let odd_rate = v.replacen("<TaxRate>0.13</TaxRate>", "<TaxRate>abc</TaxRate>", 1);
    assert_eq!(cn(&odd_rate), set(&["CN-38"]));
    let classification = v.replacen(
        "<TaxClassificationCode>1080413010000000000</TaxClassificationCode>",
        "<TaxClassificationCode>108041301</TaxClassificationCode>",
        1,
    );
    assert_eq!(cn(&classification), set(&["CN-36"]));
    let no_lines = {
        let a = v.find("<IssuItemInformation>").unwrap();
        let b = v.rfind("</IssuItemInformation>").unwrap() + "</IssuItemInformation>".len();
        format!("{}{}", &v[..a], &v[b..])
    };
    let e = cn(&no_lines);
    assert!(e.contains("CN-07"), "{e:?}");
    let qty = v.replacen("<Quantity>", "<Quantity>1", 1);
    let f = weft_plugin_einvoice::validate_xml(&qty, Default::default()).unwrap();
    assert!(f.valid, "CN-34 is a warning: {:?}", f.errors);
    assert_eq!(
        f.warnings.iter().map(|w| w.rule).collect::<Vec<_>>(),
        vec!["CN-34"]
    );
}

#[test]
fn cn_maps_into_the_en16931_model() {
    let r = weft_plugin_einvoice::validate_xml(&valid(), Default::default()).unwrap();
    let inv = serde_json::to_value(&r.invoice).unwrap();
    assert_eq!(inv["invoice_number"], "24312000000001234567");
    assert_eq!(inv["invoice_issue_date"], "2024-03-15");
    assert_eq!(inv["invoice_currency_code"], "CNY");
    assert_eq!(inv["seller"]["seller_vat_identifier"], "91310000MA1FL8XQ37");
    assert_eq!(inv["buyer"]["buyer_name"], "北京工业设备有限公司");
    assert_eq!(inv["invoice_line"].as_array().unwrap().len(), 3);
    assert_eq!(
        inv["invoice_line"][0]["line_vat_information"]["invoiced_item_vat_rate"],
        "13"
    );
    assert_eq!(
        inv["invoice_line"][0]["line_vat_information"]["invoiced_item_vat_category_code"],
        "S"
    );
    let total = inv["document_totals"]["invoice_total_amount_with_vat"]
        .as_str()
        .unwrap();
    let without = inv["document_totals"]["invoice_total_amount_without_vat"]
        .as_str()
        .unwrap();
    let vat = inv["document_totals"]["invoice_total_vat_amount"]
        .as_str()
        .unwrap();
    let c = |s: &str| s.replace('.', "").parse::<i64>().unwrap();
    assert_eq!(c(without) + c(vat), c(total));
    let breakdown = inv["vat_breakdown"].as_array().unwrap();
    assert_eq!(breakdown.len(), 2);
}
