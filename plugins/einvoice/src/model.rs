//! The EN 16931 semantic model as JSON: every business group (BG) and business term (BT)
//! under its EN 16931-1 name in snake_case, filled from UBL, CII or a China e-invoice.
//! Amounts are decimal strings with at least two decimals, quantities, prices and rates
//! canonical decimal strings, dates `YYYY-MM-DD`. Absent terms are left out, so UBL and
//! CII with the same business content give the same JSON.

use serde::Serialize;

use crate::decimal::Dec;
use crate::xpath::XDoc;

/// Whether a value carries nothing (and is left out of the JSON).
pub trait Empty {
    /// True when there is nothing to serialize.
    fn is_empty(&self) -> bool;
}

impl<T> Empty for Option<T> {
    fn is_empty(&self) -> bool {
        self.is_none()
    }
}

impl<T> Empty for Vec<T> {
    fn is_empty(&self) -> bool {
        Vec::is_empty(self)
    }
}

macro_rules! group {
    ($(#[$m:meta])* pub struct $name:ident { $($(#[$fm:meta])* pub $f:ident : $t:ty,)* }) => {
        $(#[$m])*
        #[derive(Debug, Default, Clone, PartialEq, Serialize)]
        pub struct $name {
            $(
                $(#[$fm])*
                #[serde(skip_serializing_if = "Empty::is_empty")]
                pub $f: $t,
            )*
        }

        impl Empty for $name {
            fn is_empty(&self) -> bool {
                true $(&& Empty::is_empty(&self.$f))*
            }
        }
    };
}

group! {
    /// An identifier with its identification scheme (e.g. BT-29 and BT-29-1).
    pub struct Identifier {
        /// The identifier.
        pub value: Option<String>,
        /// The identification scheme identifier.
        pub scheme_identifier: Option<String>,
    }
}

impl Identifier {
    fn of(value: Option<String>, scheme: Option<String>) -> Identifier {
        Identifier {
            value,
            scheme_identifier: scheme,
        }
    }
}

group! {
    /// A postal address (BG-5, BG-8, BG-12, BG-15).
    pub struct Address {
        /// BT-35/50/64/75 Address line 1.
        pub address_line_1: Option<String>,
        /// BT-36/51/65/76 Address line 2.
        pub address_line_2: Option<String>,
        /// BT-162/163/164/165 Address line 3.
        pub address_line_3: Option<String>,
        /// BT-37/52/66/77 City.
        pub city: Option<String>,
        /// BT-38/53/67/78 Post code.
        pub post_code: Option<String>,
        /// BT-39/54/68/79 Country subdivision.
        pub country_subdivision: Option<String>,
        /// BT-40/55/69/80 Country code.
        pub country_code: Option<String>,
    }
}

group! {
    /// A contact (BG-6, BG-9).
    pub struct Contact {
        /// BT-41/56 Contact point.
        pub contact_point: Option<String>,
        /// BT-42/57 Contact telephone number.
        pub contact_telephone_number: Option<String>,
        /// BT-43/58 Contact email address.
        pub contact_email_address: Option<String>,
    }
}

group! {
    /// BG-1 INVOICE NOTE.
    pub struct InvoiceNote {
        /// BT-21 Invoice note subject code.
        pub invoice_note_subject_code: Option<String>,
        /// BT-22 Invoice note.
        pub invoice_note: Option<String>,
    }
}

group! {
    /// BG-2 PROCESS CONTROL.
    pub struct ProcessControl {
        /// BT-23 Business process type.
        pub business_process_type: Option<String>,
        /// BT-24 Specification identifier.
        pub specification_identifier: Option<String>,
    }
}

group! {
    /// BG-3 PRECEDING INVOICE REFERENCE.
    pub struct PrecedingInvoice {
        /// BT-25 Preceding Invoice reference.
        pub preceding_invoice_reference: Option<String>,
        /// BT-26 Preceding Invoice issue date.
        pub preceding_invoice_issue_date: Option<String>,
    }
}

group! {
    /// BG-4 SELLER.
    pub struct Seller {
        /// BT-27 Seller name.
        pub seller_name: Option<String>,
        /// BT-28 Seller trading name.
        pub seller_trading_name: Option<String>,
        /// BT-29 Seller identifier (with BT-29-1 scheme).
        pub seller_identifier: Vec<Identifier>,
        /// BT-30 Seller legal registration identifier (with BT-30-1 scheme).
        pub seller_legal_registration_identifier: Identifier,
        /// BT-31 Seller VAT identifier.
        pub seller_vat_identifier: Option<String>,
        /// BT-32 Seller tax registration identifier.
        pub seller_tax_registration_identifier: Option<String>,
        /// BT-33 Seller additional legal information.
        pub seller_additional_legal_information: Option<String>,
        /// BT-34 Seller electronic address (with BT-34-1 scheme).
        pub seller_electronic_address: Identifier,
        /// BG-5 SELLER POSTAL ADDRESS.
        pub seller_postal_address: Address,
        /// BG-6 SELLER CONTACT.
        pub seller_contact: Contact,
    }
}

group! {
    /// BG-7 BUYER.
    pub struct Buyer {
        /// BT-44 Buyer name.
        pub buyer_name: Option<String>,
        /// BT-45 Buyer trading name.
        pub buyer_trading_name: Option<String>,
        /// BT-46 Buyer identifier (with BT-46-1 scheme).
        pub buyer_identifier: Identifier,
        /// BT-47 Buyer legal registration identifier (with BT-47-1 scheme).
        pub buyer_legal_registration_identifier: Identifier,
        /// BT-48 Buyer VAT identifier.
        pub buyer_vat_identifier: Option<String>,
        /// BT-49 Buyer electronic address (with BT-49-1 scheme).
        pub buyer_electronic_address: Identifier,
        /// BG-8 BUYER POSTAL ADDRESS.
        pub buyer_postal_address: Address,
        /// BG-9 BUYER CONTACT.
        pub buyer_contact: Contact,
    }
}

group! {
    /// BG-10 PAYEE.
    pub struct Payee {
        /// BT-59 Payee name.
        pub payee_name: Option<String>,
        /// BT-60 Payee identifier (with BT-60-1 scheme).
        pub payee_identifier: Identifier,
        /// BT-61 Payee legal registration identifier (with BT-61-1 scheme).
        pub payee_legal_registration_identifier: Identifier,
    }
}

group! {
    /// BG-11 SELLER TAX REPRESENTATIVE PARTY.
    pub struct TaxRepresentative {
        /// BT-62 Seller tax representative name.
        pub seller_tax_representative_name: Option<String>,
        /// BT-63 Seller tax representative VAT identifier.
        pub seller_tax_representative_vat_identifier: Option<String>,
        /// BG-12 SELLER TAX REPRESENTATIVE POSTAL ADDRESS.
        pub seller_tax_representative_postal_address: Address,
    }
}

group! {
    /// BG-14 INVOICING PERIOD and BG-26 INVOICE LINE PERIOD.
    pub struct Period {
        /// BT-73/134 start date.
        pub start_date: Option<String>,
        /// BT-74/135 end date.
        pub end_date: Option<String>,
    }
}

group! {
    /// BG-13 DELIVERY INFORMATION.
    pub struct Delivery {
        /// BT-70 Deliver to party name.
        pub deliver_to_party_name: Option<String>,
        /// BT-71 Deliver to location identifier (with BT-71-1 scheme).
        pub deliver_to_location_identifier: Identifier,
        /// BT-72 Actual delivery date.
        pub actual_delivery_date: Option<String>,
        /// BG-14 INVOICING PERIOD.
        pub invoicing_period: Period,
        /// BG-15 DELIVER TO ADDRESS.
        pub deliver_to_address: Address,
    }
}

group! {
    /// BG-17 CREDIT TRANSFER.
    pub struct CreditTransfer {
        /// BT-84 Payment account identifier.
        pub payment_account_identifier: Option<String>,
        /// BT-85 Payment account name.
        pub payment_account_name: Option<String>,
        /// BT-86 Payment service provider identifier.
        pub payment_service_provider_identifier: Option<String>,
    }
}

group! {
    /// BG-18 PAYMENT CARD INFORMATION.
    pub struct PaymentCard {
        /// BT-87 Payment card primary account number.
        pub payment_card_primary_account_number: Option<String>,
        /// BT-88 Payment card holder name.
        pub payment_card_holder_name: Option<String>,
    }
}

group! {
    /// BG-19 DIRECT DEBIT.
    pub struct DirectDebit {
        /// BT-89 Mandate reference identifier.
        pub mandate_reference_identifier: Option<String>,
        /// BT-90 Bank assigned creditor identifier.
        pub bank_assigned_creditor_identifier: Option<String>,
        /// BT-91 Debited account identifier.
        pub debited_account_identifier: Option<String>,
    }
}

group! {
    /// BG-16 PAYMENT INSTRUCTIONS.
    pub struct PaymentInstructions {
        /// BT-81 Payment means type code.
        pub payment_means_type_code: Option<String>,
        /// BT-82 Payment means text.
        pub payment_means_text: Option<String>,
        /// BT-83 Remittance information.
        pub remittance_information: Option<String>,
        /// BG-17 CREDIT TRANSFER.
        pub credit_transfer: Vec<CreditTransfer>,
        /// BG-18 PAYMENT CARD INFORMATION.
        pub payment_card_information: PaymentCard,
        /// BG-19 DIRECT DEBIT.
        pub direct_debit: DirectDebit,
    }
}

group! {
    /// BG-20 DOCUMENT LEVEL ALLOWANCES and BG-21 DOCUMENT LEVEL CHARGES.
    pub struct DocumentAllowanceCharge {
        /// BT-92/99 amount.
        pub amount: Option<String>,
        /// BT-93/100 base amount.
        pub base_amount: Option<String>,
        /// BT-94/101 percentage.
        pub percentage: Option<String>,
        /// BT-95/102 VAT category code.
        pub vat_category_code: Option<String>,
        /// BT-96/103 VAT rate.
        pub vat_rate: Option<String>,
        /// BT-97/104 reason.
        pub reason: Option<String>,
        /// BT-98/105 reason code.
        pub reason_code: Option<String>,
    }
}

group! {
    /// BG-22 DOCUMENT TOTALS.
    pub struct DocumentTotals {
        /// BT-106 Sum of Invoice line net amount.
        pub sum_of_invoice_line_net_amount: Option<String>,
        /// BT-107 Sum of allowances on document level.
        pub sum_of_allowances_on_document_level: Option<String>,
        /// BT-108 Sum of charges on document level.
        pub sum_of_charges_on_document_level: Option<String>,
        /// BT-109 Invoice total amount without VAT.
        pub invoice_total_amount_without_vat: Option<String>,
        /// BT-110 Invoice total VAT amount.
        pub invoice_total_vat_amount: Option<String>,
        /// BT-111 Invoice total VAT amount in accounting currency.
        pub invoice_total_vat_amount_in_accounting_currency: Option<String>,
        /// BT-112 Invoice total amount with VAT.
        pub invoice_total_amount_with_vat: Option<String>,
        /// BT-113 Paid amount.
        pub paid_amount: Option<String>,
        /// BT-114 Rounding amount.
        pub rounding_amount: Option<String>,
        /// BT-115 Amount due for payment.
        pub amount_due_for_payment: Option<String>,
    }
}

group! {
    /// BG-23 VAT BREAKDOWN.
    pub struct VatBreakdown {
        /// BT-116 VAT category taxable amount.
        pub vat_category_taxable_amount: Option<String>,
        /// BT-117 VAT category tax amount.
        pub vat_category_tax_amount: Option<String>,
        /// BT-118 VAT category code.
        pub vat_category_code: Option<String>,
        /// BT-119 VAT category rate.
        pub vat_category_rate: Option<String>,
        /// BT-120 VAT exemption reason text.
        pub vat_exemption_reason_text: Option<String>,
        /// BT-121 VAT exemption reason code.
        pub vat_exemption_reason_code: Option<String>,
    }
}

group! {
    /// BG-24 ADDITIONAL SUPPORTING DOCUMENTS (attachment content is not copied).
    pub struct SupportingDocument {
        /// BT-122 Supporting document reference.
        pub supporting_document_reference: Option<String>,
        /// BT-123 Supporting document description.
        pub supporting_document_description: Option<String>,
        /// BT-124 External document location.
        pub external_document_location: Option<String>,
        /// BT-125-1 Attached document mime code.
        pub attached_document_mime_code: Option<String>,
        /// BT-125-2 Attached document filename.
        pub attached_document_filename: Option<String>,
    }
}

group! {
    /// BG-27 INVOICE LINE ALLOWANCES and BG-28 INVOICE LINE CHARGES.
    pub struct LineAllowanceCharge {
        /// BT-136/141 amount.
        pub amount: Option<String>,
        /// BT-137/142 base amount.
        pub base_amount: Option<String>,
        /// BT-138/143 percentage.
        pub percentage: Option<String>,
        /// BT-139/144 reason.
        pub reason: Option<String>,
        /// BT-140/145 reason code.
        pub reason_code: Option<String>,
    }
}

group! {
    /// BG-29 PRICE DETAILS.
    pub struct PriceDetails {
        /// BT-146 Item net price.
        pub item_net_price: Option<String>,
        /// BT-147 Item price discount.
        pub item_price_discount: Option<String>,
        /// BT-148 Item gross price.
        pub item_gross_price: Option<String>,
        /// BT-149 Item price base quantity.
        pub item_price_base_quantity: Option<String>,
        /// BT-150 Item price base quantity unit of measure code.
        pub item_price_base_quantity_unit_of_measure_code: Option<String>,
    }
}

group! {
    /// BG-30 LINE VAT INFORMATION.
    pub struct LineVat {
        /// BT-151 Invoiced item VAT category code.
        pub invoiced_item_vat_category_code: Option<String>,
        /// BT-152 Invoiced item VAT rate.
        pub invoiced_item_vat_rate: Option<String>,
    }
}

group! {
    /// BG-32 ITEM ATTRIBUTES.
    pub struct ItemAttribute {
        /// BT-160 Item attribute name.
        pub item_attribute_name: Option<String>,
        /// BT-161 Item attribute value.
        pub item_attribute_value: Option<String>,
    }
}

group! {
    /// BT-158 Item classification identifier with BT-158-1 scheme and BT-158-2 version.
    pub struct Classification {
        /// The classification code.
        pub value: Option<String>,
        /// BT-158-1 scheme identifier.
        pub scheme_identifier: Option<String>,
        /// BT-158-2 scheme version identifier.
        pub scheme_version_identifier: Option<String>,
    }
}

group! {
    /// BG-31 ITEM INFORMATION.
    pub struct ItemInformation {
        /// BT-153 Item name.
        pub item_name: Option<String>,
        /// BT-154 Item description.
        pub item_description: Option<String>,
        /// BT-155 Item Seller's identifier.
        pub item_sellers_identifier: Option<String>,
        /// BT-156 Item Buyer's identifier.
        pub item_buyers_identifier: Option<String>,
        /// BT-157 Item standard identifier (with BT-157-1 scheme).
        pub item_standard_identifier: Identifier,
        /// BT-158 Item classification identifier.
        pub item_classification_identifier: Vec<Classification>,
        /// BT-159 Item country of origin.
        pub item_country_of_origin: Option<String>,
        /// BG-32 ITEM ATTRIBUTES.
        pub item_attributes: Vec<ItemAttribute>,
    }
}

group! {
    /// BG-25 INVOICE LINE.
    pub struct InvoiceLine {
        /// BT-126 Invoice line identifier.
        pub invoice_line_identifier: Option<String>,
        /// BT-127 Invoice line note.
        pub invoice_line_note: Option<String>,
        /// BT-128 Invoice line object identifier (with BT-128-1 scheme).
        pub invoice_line_object_identifier: Identifier,
        /// BT-129 Invoiced quantity.
        pub invoiced_quantity: Option<String>,
        /// BT-130 Invoiced quantity unit of measure code.
        pub invoiced_quantity_unit_of_measure_code: Option<String>,
        /// BT-131 Invoice line net amount.
        pub invoice_line_net_amount: Option<String>,
        /// BT-132 Referenced purchase order line reference.
        pub referenced_purchase_order_line_reference: Option<String>,
        /// BT-133 Invoice line Buyer accounting reference.
        pub invoice_line_buyer_accounting_reference: Option<String>,
        /// BG-26 INVOICE LINE PERIOD.
        pub invoice_line_period: Period,
        /// BG-27 INVOICE LINE ALLOWANCES.
        pub invoice_line_allowances: Vec<LineAllowanceCharge>,
        /// BG-28 INVOICE LINE CHARGES.
        pub invoice_line_charges: Vec<LineAllowanceCharge>,
        /// BG-29 PRICE DETAILS.
        pub price_details: PriceDetails,
        /// BG-30 LINE VAT INFORMATION.
        pub line_vat_information: LineVat,
        /// BG-31 ITEM INFORMATION.
        pub item_information: ItemInformation,
    }
}

group! {
    /// The invoice: EN 16931 business terms BT-1 … BT-20 and the groups BG-1 … BG-25.
    pub struct Invoice {
        /// BT-1 Invoice number.
        pub invoice_number: Option<String>,
        /// BT-2 Invoice issue date.
        pub invoice_issue_date: Option<String>,
        /// BT-3 Invoice type code.
        pub invoice_type_code: Option<String>,
        /// BT-5 Invoice currency code.
        pub invoice_currency_code: Option<String>,
        /// BT-6 VAT accounting currency code.
        pub vat_accounting_currency_code: Option<String>,
        /// BT-7 Value added tax point date.
        pub value_added_tax_point_date: Option<String>,
        /// BT-8 Value added tax point date code.
        pub value_added_tax_point_date_code: Option<String>,
        /// BT-9 Payment due date.
        pub payment_due_date: Option<String>,
        /// BT-10 Buyer reference.
        pub buyer_reference: Option<String>,
        /// BT-11 Project reference.
        pub project_reference: Option<String>,
        /// BT-12 Contract reference.
        pub contract_reference: Option<String>,
        /// BT-13 Purchase order reference.
        pub purchase_order_reference: Option<String>,
        /// BT-14 Sales order reference.
        pub sales_order_reference: Option<String>,
        /// BT-15 Receiving advice reference.
        pub receiving_advice_reference: Option<String>,
        /// BT-16 Despatch advice reference.
        pub despatch_advice_reference: Option<String>,
        /// BT-17 Tender or lot reference.
        pub tender_or_lot_reference: Option<String>,
        /// BT-18 Invoiced object identifier (with BT-18-1 scheme).
        pub invoiced_object_identifier: Identifier,
        /// BT-19 Buyer accounting reference.
        pub buyer_accounting_reference: Option<String>,
        /// BT-20 Payment terms.
        pub payment_terms: Option<String>,
        /// BG-1 INVOICE NOTE.
        pub invoice_note: Vec<InvoiceNote>,
        /// BG-2 PROCESS CONTROL.
        pub process_control: ProcessControl,
        /// BG-3 PRECEDING INVOICE REFERENCE.
        pub preceding_invoice_reference: Vec<PrecedingInvoice>,
        /// BG-4 SELLER.
        pub seller: Seller,
        /// BG-7 BUYER.
        pub buyer: Buyer,
        /// BG-10 PAYEE.
        pub payee: Payee,
        /// BG-11 SELLER TAX REPRESENTATIVE PARTY.
        pub seller_tax_representative_party: TaxRepresentative,
        /// BG-13 DELIVERY INFORMATION.
        pub delivery_information: Delivery,
        /// BG-16 PAYMENT INSTRUCTIONS.
        pub payment_instructions: PaymentInstructions,
        /// BG-20 DOCUMENT LEVEL ALLOWANCES.
        pub document_level_allowances: Vec<DocumentAllowanceCharge>,
        /// BG-21 DOCUMENT LEVEL CHARGES.
        pub document_level_charges: Vec<DocumentAllowanceCharge>,
        /// BG-22 DOCUMENT TOTALS.
        pub document_totals: DocumentTotals,
        /// BG-23 VAT BREAKDOWN.
        pub vat_breakdown: Vec<VatBreakdown>,
        /// BG-24 ADDITIONAL SUPPORTING DOCUMENTS.
        pub additional_supporting_documents: Vec<SupportingDocument>,
        /// BG-25 INVOICE LINE.
        pub invoice_line: Vec<InvoiceLine>,
    }
}

// ---------------------------------------------------------------------------------------
// value normalization

/// An amount: at least two decimals (`"12.50"`); text that is not a decimal stays as is.
pub fn amount(s: Option<String>) -> Option<String> {
    s.map(|t| match Dec::parse(&t) {
        Some(d) => d.to_string_min_scale(2),
        None => t,
    })
}

/// A quantity, price or rate: canonical decimal (`"6"`, `"1.5"`).
pub fn number(s: Option<String>) -> Option<String> {
    s.map(|t| match Dec::parse(&t) {
        Some(d) => d.to_string(),
        None => t,
    })
}

/// A CII date (`udt:DateTimeString format="102"`, `YYYYMMDD`) as `YYYY-MM-DD`.
pub fn date102(s: Option<String>) -> Option<String> {
    s.map(|t| {
        if t.len() == 8 && t.bytes().all(|b| b.is_ascii_digit()) {
            format!("{}-{}-{}", &t[..4], &t[4..6], &t[6..])
        } else {
            t
        }
    })
}

// ---------------------------------------------------------------------------------------
// navigation helpers

/// A roxmltree element with prefixed-path navigation.
#[derive(Clone, Copy)]
pub struct E<'a, 'i>(
    pub roxmltree::Node<'a, 'i>,
    /// The document's index, when available: child steps then scan element children by
    /// name id.
    pub Option<&'a XDoc<'a, 'i>>,
);

fn ns_of(prefix: &str) -> &'static str {
    match prefix {
        "cac" => "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
        "cbc" => "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
        "rsm" => "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
        "ram" => {
            "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
        }
        "udt" => "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
        "qdt" => "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
        _ => "",
    }
}

/// The program name id of a path step `prefix:local` (`None` when no rule mentions the
/// name: such steps compare strings).
fn name_id(step: &str) -> Option<u32> {
    thread_local! {
        static NS: [Option<u32>; 6] = ["cac", "cbc", "rsm", "ram", "udt", "qdt"]
            .map(|p| crate::schematron::PROGRAM.ns_number(ns_of(p)));
    }
    // the known prefixes have three letters
    if step.as_bytes().get(3) != Some(&b':') {
        return None;
    }
    let (prefix, local) = (&step[..3], &step[4..]);
    let k = match prefix.as_bytes() {
        b"cac" => 0,
        b"cbc" => 1,
        b"rsm" => 2,
        b"ram" => 3,
        b"udt" => 4,
        b"qdt" => 5,
        _ => return None,
    };
    let ns = NS.with(|t| t[k])?;
    crate::schematron::PROGRAM.name_in(ns, local)
}

/// A path step `prefix:local` resolved once: (namespace URI, local name).
fn step_name(step: &str) -> (&'static str, &str) {
    match step.split_once(':') {
        Some((prefix, local)) => (ns_of(prefix), local),
        None => ("", step),
    }
}

fn is(n: &roxmltree::Node<'_, '_>, (ns, local): (&str, &str)) -> bool {
    n.is_element() && n.tag_name().name() == local && n.tag_name().namespace().unwrap_or("") == ns
}

impl<'a, 'i> E<'a, 'i> {
    /// All elements at a `/`-separated path of prefixed names.
    pub fn all(self, path: &str) -> Vec<E<'a, 'i>> {
        let mut cur = vec![self.0];
        for step in path.split('/') {
            cur = match self.1.and_then(|x| Some((x, name_id(step)?))) {
                Some((x, id)) => cur
                    .iter()
                    .flat_map(|n| {
                        x.element_children(n.id().get_usize() as u32)
                            .iter()
                            .filter(move |&&(nm, _)| nm == id)
                            .map(|&(_, k)| x.node(k))
                    })
                    .collect(),
                None => {
                    let name = step_name(step);
                    cur.iter()
                        .flat_map(|n| n.children().filter(move |c| is(c, name)))
                        .collect()
                }
            };
        }
        cur.into_iter().map(|n| E(n, self.1)).collect()
    }

    /// The first element at `path`.
    pub fn get(self, path: &str) -> Option<E<'a, 'i>> {
        let mut cur = self.0;
        for step in path.split('/') {
            cur = match self.1.and_then(|x| Some((x, name_id(step)?))) {
                Some((x, id)) => x.node(
                    x.element_children(cur.id().get_usize() as u32)
                        .iter()
                        .find(|&&(nm, _)| nm == id)?
                        .1,
                ),
                None => {
                    let name = step_name(step);
                    cur.children().find(|c| is(c, name))?
                }
            };
        }
        Some(E(cur, self.1))
    }

    /// The trimmed text of the first element at `path` (`None` when absent or blank).
    pub fn t(self, path: &str) -> Option<String> {
        self.get(path).and_then(|e| e.text())
    }

    /// This element's trimmed text.
    pub fn text(self) -> Option<String> {
        let only = self
            .0
            .first_child()
            .filter(|c| c.is_text() && c.next_sibling().is_none());
        if let Some(t) = only.and_then(|c| c.text()) {
            let t = t.trim();
            return (!t.is_empty()).then(|| t.to_string());
        }
        let s: String = self
            .0
            .descendants()
            .filter(|d| d.is_text())
            .map(|d| d.text().unwrap_or(""))
            .collect();
        let s = s.trim();
        (!s.is_empty()).then(|| s.to_string())
    }

    /// An attribute of the first element at `path`.
    pub fn a(self, path: &str, attr: &str) -> Option<String> {
        self.get(path).and_then(|e| e.attr(attr))
    }

    /// This element's attribute, trimmed.
    pub fn attr(self, attr: &str) -> Option<String> {
        self.0
            .attribute(attr)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    }

    /// The identifier at `path` with its `schemeID`.
    pub fn id(self, path: &str) -> Identifier {
        match self.get(path) {
            Some(e) => Identifier::of(e.text(), e.attr("schemeID")),
            None => Identifier::default(),
        }
    }
}

/// Which syntax the document is.
pub use crate::validate::Syntax;

/// Maps a UBL Invoice or CreditNote.
pub fn from_ubl(root: roxmltree::Node<'_, '_>, credit_note: bool) -> Invoice {
    from_ubl_in(E(root, None), credit_note)
}

/// [`from_ubl`] on an indexed document (faster, same result).
pub fn from_ubl_indexed(x: &XDoc<'_, '_>, credit_note: bool) -> Invoice {
    from_ubl_in(E(x.doc.root_element(), Some(x)), credit_note)
}

fn from_ubl_in(r: E<'_, '_>, credit_note: bool) -> Invoice {
    let mut inv = Invoice {
        invoice_number: r.t("cbc:ID"),
        invoice_issue_date: r.t("cbc:IssueDate"),
        invoice_type_code: if credit_note {
            r.t("cbc:CreditNoteTypeCode")
        } else {
            r.t("cbc:InvoiceTypeCode")
        },
        invoice_currency_code: r.t("cbc:DocumentCurrencyCode"),
        vat_accounting_currency_code: r.t("cbc:TaxCurrencyCode"),
        value_added_tax_point_date: r.t("cbc:TaxPointDate"),
        value_added_tax_point_date_code: r.t("cac:InvoicePeriod/cbc:DescriptionCode"),
        payment_due_date: if credit_note {
            r.t("cac:PaymentMeans/cbc:PaymentDueDate")
        } else {
            r.t("cbc:DueDate")
        },
        buyer_reference: r.t("cbc:BuyerReference"),
        project_reference: if credit_note {
            r.all("cac:AdditionalDocumentReference")
                .into_iter()
                .find(|d| d.t("cbc:DocumentTypeCode").as_deref() == Some("50"))
                .and_then(|d| d.t("cbc:ID"))
        } else {
            r.t("cac:ProjectReference/cbc:ID")
        },
        contract_reference: r.t("cac:ContractDocumentReference/cbc:ID"),
        purchase_order_reference: r.t("cac:OrderReference/cbc:ID"),
        sales_order_reference: r.t("cac:OrderReference/cbc:SalesOrderID"),
        receiving_advice_reference: r.t("cac:ReceiptDocumentReference/cbc:ID"),
        despatch_advice_reference: r.t("cac:DespatchDocumentReference/cbc:ID"),
        tender_or_lot_reference: r.t("cac:OriginatorDocumentReference/cbc:ID"),
        invoiced_object_identifier: r
            .all("cac:AdditionalDocumentReference")
            .into_iter()
            .find(|d| d.t("cbc:DocumentTypeCode").as_deref() == Some("130"))
            .map(|d| d.id("cbc:ID"))
            .unwrap_or_default(),
        buyer_accounting_reference: r.t("cbc:AccountingCost"),
        payment_terms: r.t("cac:PaymentTerms/cbc:Note"),
        ..Invoice::default()
    };
    for note in r.all("cbc:Note") {
        let Some(text) = note.text() else { continue };
        inv.invoice_note.push(split_note(&text));
    }
    inv.process_control = ProcessControl {
        business_process_type: r.t("cbc:ProfileID"),
        specification_identifier: r.t("cbc:CustomizationID"),
    };
    for b in r.all("cac:BillingReference/cac:InvoiceDocumentReference") {
        inv.preceding_invoice_reference.push(PrecedingInvoice {
            preceding_invoice_reference: b.t("cbc:ID"),
            preceding_invoice_issue_date: b.t("cbc:IssueDate"),
        });
    }
    if let Some(p) = r.get("cac:AccountingSupplierParty/cac:Party") {
        inv.seller = Seller {
            seller_name: p.t("cac:PartyLegalEntity/cbc:RegistrationName"),
            seller_trading_name: p.t("cac:PartyName/cbc:Name"),
            seller_identifier: p
                .all("cac:PartyIdentification/cbc:ID")
                .into_iter()
                .filter(|i| i.attr("schemeID").as_deref() != Some("SEPA"))
                .map(|i| Identifier::of(i.text(), i.attr("schemeID")))
                .collect(),
            seller_legal_registration_identifier: p.id("cac:PartyLegalEntity/cbc:CompanyID"),
            seller_vat_identifier: ubl_tax_id(p, true),
            seller_tax_registration_identifier: ubl_tax_id(p, false),
            seller_additional_legal_information: p.t("cac:PartyLegalEntity/cbc:CompanyLegalForm"),
            seller_electronic_address: p.id("cbc:EndpointID"),
            seller_postal_address: p
                .get("cac:PostalAddress")
                .map(ubl_address)
                .unwrap_or_default(),
            seller_contact: p.get("cac:Contact").map(ubl_contact).unwrap_or_default(),
        };
    }
    if let Some(p) = r.get("cac:AccountingCustomerParty/cac:Party") {
        inv.buyer = Buyer {
            buyer_name: p.t("cac:PartyLegalEntity/cbc:RegistrationName"),
            buyer_trading_name: p.t("cac:PartyName/cbc:Name"),
            buyer_identifier: p.id("cac:PartyIdentification/cbc:ID"),
            buyer_legal_registration_identifier: p.id("cac:PartyLegalEntity/cbc:CompanyID"),
            buyer_vat_identifier: ubl_tax_id(p, true),
            buyer_electronic_address: p.id("cbc:EndpointID"),
            buyer_postal_address: p
                .get("cac:PostalAddress")
                .map(ubl_address)
                .unwrap_or_default(),
            buyer_contact: p.get("cac:Contact").map(ubl_contact).unwrap_or_default(),
        };
    }
    if let Some(p) = r.get("cac:PayeeParty") {
        inv.payee = Payee {
            payee_name: p.t("cac:PartyName/cbc:Name"),
            payee_identifier: p
                .all("cac:PartyIdentification/cbc:ID")
                .into_iter()
                .find(|i| i.attr("schemeID").as_deref() != Some("SEPA"))
                .map(|i| Identifier::of(i.text(), i.attr("schemeID")))
                .unwrap_or_default(),
            payee_legal_registration_identifier: p.id("cac:PartyLegalEntity/cbc:CompanyID"),
        };
    }
    if let Some(p) = r.get("cac:TaxRepresentativeParty") {
        inv.seller_tax_representative_party = TaxRepresentative {
            seller_tax_representative_name: p.t("cac:PartyName/cbc:Name"),
            seller_tax_representative_vat_identifier: p.t("cac:PartyTaxScheme/cbc:CompanyID"),
            seller_tax_representative_postal_address: p
                .get("cac:PostalAddress")
                .map(ubl_address)
                .unwrap_or_default(),
        };
    }
    let d = r.get("cac:Delivery");
    inv.delivery_information = Delivery {
        deliver_to_party_name: d.and_then(|d| d.t("cac:DeliveryParty/cac:PartyName/cbc:Name")),
        deliver_to_location_identifier: d
            .map(|d| d.id("cac:DeliveryLocation/cbc:ID"))
            .unwrap_or_default(),
        actual_delivery_date: d.and_then(|d| d.t("cbc:ActualDeliveryDate")),
        invoicing_period: Period {
            start_date: r.t("cac:InvoicePeriod/cbc:StartDate"),
            end_date: r.t("cac:InvoicePeriod/cbc:EndDate"),
        },
        deliver_to_address: d
            .and_then(|d| d.get("cac:DeliveryLocation/cac:Address"))
            .map(ubl_address)
            .unwrap_or_default(),
    };
    let means = r.all("cac:PaymentMeans");
    if let Some(m) = means.first() {
        inv.payment_instructions.payment_means_type_code = m.t("cbc:PaymentMeansCode");
        inv.payment_instructions.payment_means_text = m.a("cbc:PaymentMeansCode", "name");
        inv.payment_instructions.remittance_information = m.t("cbc:PaymentID");
    }
    for m in &means {
        for a in m.all("cac:PayeeFinancialAccount") {
            inv.payment_instructions
                .credit_transfer
                .push(CreditTransfer {
                    payment_account_identifier: a.t("cbc:ID"),
                    payment_account_name: a.t("cbc:Name"),
                    payment_service_provider_identifier: a
                        .t("cac:FinancialInstitutionBranch/cbc:ID"),
                });
        }
        if let Some(c) = m.get("cac:CardAccount") {
            inv.payment_instructions.payment_card_information = PaymentCard {
                payment_card_primary_account_number: c.t("cbc:PrimaryAccountNumberID"),
                payment_card_holder_name: c.t("cbc:HolderName"),
            };
        }
        if let Some(pm) = m.get("cac:PaymentMandate") {
            inv.payment_instructions
                .direct_debit
                .mandate_reference_identifier = pm.t("cbc:ID");
            inv.payment_instructions
                .direct_debit
                .debited_account_identifier = pm.t("cac:PayerFinancialAccount/cbc:ID");
        }
    }
    let sepa = |path: &str| {
        r.all(path)
            .into_iter()
            .find(|i| i.attr("schemeID").as_deref() == Some("SEPA"))
            .and_then(|i| i.text())
    };
    inv.payment_instructions
        .direct_debit
        .bank_assigned_creditor_identifier =
        sepa("cac:AccountingSupplierParty/cac:Party/cac:PartyIdentification/cbc:ID")
            .or_else(|| sepa("cac:PayeeParty/cac:PartyIdentification/cbc:ID"));
    for ac in r.all("cac:AllowanceCharge") {
        let item = DocumentAllowanceCharge {
            amount: amount(ac.t("cbc:Amount")),
            base_amount: amount(ac.t("cbc:BaseAmount")),
            percentage: number(ac.t("cbc:MultiplierFactorNumeric")),
            vat_category_code: ac.t("cac:TaxCategory/cbc:ID"),
            vat_rate: number(ac.t("cac:TaxCategory/cbc:Percent")),
            reason: ac.t("cbc:AllowanceChargeReason"),
            reason_code: ac.t("cbc:AllowanceChargeReasonCode"),
        };
        if is_true(ac.t("cbc:ChargeIndicator")) {
            inv.document_level_charges.push(item);
        } else {
            inv.document_level_allowances.push(item);
        }
    }
    let currency = inv.invoice_currency_code.clone();
    let tax_currency = inv.vat_accounting_currency_code.clone();
    let tax_in = |cur: &Option<String>| {
        r.all("cac:TaxTotal/cbc:TaxAmount")
            .into_iter()
            .find(|t| cur.is_some() && t.attr("currencyID") == *cur)
            .and_then(|t| t.text())
    };
    let total_vat = tax_in(&currency).or_else(|| {
        // a document without currencyIDs: the tax total that has the breakdown
        r.all("cac:TaxTotal")
            .into_iter()
            .find(|t| t.get("cac:TaxSubtotal").is_some())
            .and_then(|t| t.t("cbc:TaxAmount"))
    });
    let total_vat_acc = if tax_currency.is_some() && tax_currency != currency {
        tax_in(&tax_currency)
    } else {
        None
    };
    if let Some(m) = r.get("cac:LegalMonetaryTotal") {
        inv.document_totals = DocumentTotals {
            sum_of_invoice_line_net_amount: amount(m.t("cbc:LineExtensionAmount")),
            sum_of_allowances_on_document_level: amount(m.t("cbc:AllowanceTotalAmount")),
            sum_of_charges_on_document_level: amount(m.t("cbc:ChargeTotalAmount")),
            invoice_total_amount_without_vat: amount(m.t("cbc:TaxExclusiveAmount")),
            invoice_total_vat_amount: amount(total_vat),
            invoice_total_vat_amount_in_accounting_currency: amount(total_vat_acc),
            invoice_total_amount_with_vat: amount(m.t("cbc:TaxInclusiveAmount")),
            paid_amount: amount(m.t("cbc:PrepaidAmount")),
            rounding_amount: amount(m.t("cbc:PayableRoundingAmount")),
            amount_due_for_payment: amount(m.t("cbc:PayableAmount")),
        };
    } else {
        inv.document_totals.invoice_total_vat_amount = amount(total_vat);
        inv.document_totals
            .invoice_total_vat_amount_in_accounting_currency = amount(total_vat_acc);
    }
    for st in r.all("cac:TaxTotal/cac:TaxSubtotal") {
        inv.vat_breakdown.push(VatBreakdown {
            vat_category_taxable_amount: amount(st.t("cbc:TaxableAmount")),
            vat_category_tax_amount: amount(st.t("cbc:TaxAmount")),
            vat_category_code: st.t("cac:TaxCategory/cbc:ID"),
            vat_category_rate: number(st.t("cac:TaxCategory/cbc:Percent")),
            vat_exemption_reason_text: st.t("cac:TaxCategory/cbc:TaxExemptionReason"),
            vat_exemption_reason_code: st.t("cac:TaxCategory/cbc:TaxExemptionReasonCode"),
        });
    }
    for d in r.all("cac:AdditionalDocumentReference") {
        let code = d.t("cbc:DocumentTypeCode");
        if code.as_deref() == Some("130") || (credit_note && code.as_deref() == Some("50")) {
            continue;
        }
        inv.additional_supporting_documents
            .push(SupportingDocument {
                supporting_document_reference: d.t("cbc:ID"),
                supporting_document_description: d.t("cbc:DocumentDescription"),
                external_document_location: d.t("cac:Attachment/cac:ExternalReference/cbc:URI"),
                attached_document_mime_code: d.a(
                    "cac:Attachment/cbc:EmbeddedDocumentBinaryObject",
                    "mimeCode",
                ),
                attached_document_filename: d.a(
                    "cac:Attachment/cbc:EmbeddedDocumentBinaryObject",
                    "filename",
                ),
            });
    }
    let (line_path, qty_path) = if credit_note {
        ("cac:CreditNoteLine", "cbc:CreditedQuantity")
    } else {
        ("cac:InvoiceLine", "cbc:InvoicedQuantity")
    };
    for l in r.all(line_path) {
        let mut line = InvoiceLine {
            invoice_line_identifier: l.t("cbc:ID"),
            invoice_line_note: l.t("cbc:Note"),
            invoice_line_object_identifier: l.id("cac:DocumentReference/cbc:ID"),
            invoiced_quantity: number(l.t(qty_path)),
            invoiced_quantity_unit_of_measure_code: l.a(qty_path, "unitCode"),
            invoice_line_net_amount: amount(l.t("cbc:LineExtensionAmount")),
            referenced_purchase_order_line_reference: l.t("cac:OrderLineReference/cbc:LineID"),
            invoice_line_buyer_accounting_reference: l.t("cbc:AccountingCost"),
            invoice_line_period: Period {
                start_date: l.t("cac:InvoicePeriod/cbc:StartDate"),
                end_date: l.t("cac:InvoicePeriod/cbc:EndDate"),
            },
            price_details: PriceDetails {
                item_net_price: number(l.t("cac:Price/cbc:PriceAmount")),
                item_price_discount: number(l.t("cac:Price/cac:AllowanceCharge/cbc:Amount")),
                item_gross_price: number(l.t("cac:Price/cac:AllowanceCharge/cbc:BaseAmount")),
                item_price_base_quantity: number(l.t("cac:Price/cbc:BaseQuantity")),
                item_price_base_quantity_unit_of_measure_code: l
                    .a("cac:Price/cbc:BaseQuantity", "unitCode"),
            },
            line_vat_information: LineVat {
                invoiced_item_vat_category_code: l.t("cac:Item/cac:ClassifiedTaxCategory/cbc:ID"),
                invoiced_item_vat_rate: number(
                    l.t("cac:Item/cac:ClassifiedTaxCategory/cbc:Percent"),
                ),
            },
            ..InvoiceLine::default()
        };
        for ac in l.all("cac:AllowanceCharge") {
            let item = LineAllowanceCharge {
                amount: amount(ac.t("cbc:Amount")),
                base_amount: amount(ac.t("cbc:BaseAmount")),
                percentage: number(ac.t("cbc:MultiplierFactorNumeric")),
                reason: ac.t("cbc:AllowanceChargeReason"),
                reason_code: ac.t("cbc:AllowanceChargeReasonCode"),
            };
            if is_true(ac.t("cbc:ChargeIndicator")) {
                line.invoice_line_charges.push(item);
            } else {
                line.invoice_line_allowances.push(item);
            }
        }
        if let Some(it) = l.get("cac:Item") {
            line.item_information = ItemInformation {
                item_name: it.t("cbc:Name"),
                item_description: it.t("cbc:Description"),
                item_sellers_identifier: it.t("cac:SellersItemIdentification/cbc:ID"),
                item_buyers_identifier: it.t("cac:BuyersItemIdentification/cbc:ID"),
                item_standard_identifier: it.id("cac:StandardItemIdentification/cbc:ID"),
                item_classification_identifier: it
                    .all("cac:CommodityClassification/cbc:ItemClassificationCode")
                    .into_iter()
                    .map(|c| Classification {
                        value: c.text(),
                        scheme_identifier: c.attr("listID"),
                        scheme_version_identifier: c.attr("listVersionID"),
                    })
                    .collect(),
                item_country_of_origin: it.t("cac:OriginCountry/cbc:IdentificationCode"),
                item_attributes: it
                    .all("cac:AdditionalItemProperty")
                    .into_iter()
                    .map(|p| ItemAttribute {
                        item_attribute_name: p.t("cbc:Name"),
                        item_attribute_value: p.t("cbc:Value"),
                    })
                    .collect(),
            };
        }
        inv.invoice_line.push(line);
    }
    inv
}

fn is_true(s: Option<String>) -> bool {
    matches!(s.as_deref(), Some("true") | Some("1"))
}

/// Splits a UBL note `#SUBJ#text` into subject code and text.
fn split_note(text: &str) -> InvoiceNote {
    if let Some(rest) = text.strip_prefix('#')
        && let Some((code, body)) = rest.split_once('#')
        && !code.is_empty()
        && code.len() <= 3
        && code.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        let body = body.trim();
        return InvoiceNote {
            invoice_note_subject_code: Some(code.to_string()),
            invoice_note: (!body.is_empty()).then(|| body.to_string()),
        };
    }
    InvoiceNote {
        invoice_note_subject_code: None,
        invoice_note: Some(text.to_string()),
    }
}

fn ubl_tax_id(p: E<'_, '_>, vat: bool) -> Option<String> {
    p.all("cac:PartyTaxScheme")
        .into_iter()
        .find(|s| {
            (s.t("cac:TaxScheme/cbc:ID")
                .map(|i| i.to_uppercase())
                .as_deref()
                == Some("VAT"))
                == vat
        })
        .and_then(|s| s.t("cbc:CompanyID"))
}

fn ubl_address(a: E<'_, '_>) -> Address {
    Address {
        address_line_1: a.t("cbc:StreetName"),
        address_line_2: a.t("cbc:AdditionalStreetName"),
        address_line_3: a.t("cac:AddressLine/cbc:Line"),
        city: a.t("cbc:CityName"),
        post_code: a.t("cbc:PostalZone"),
        country_subdivision: a.t("cbc:CountrySubentity"),
        country_code: a.t("cac:Country/cbc:IdentificationCode"),
    }
}

fn ubl_contact(c: E<'_, '_>) -> Contact {
    Contact {
        contact_point: c.t("cbc:Name"),
        contact_telephone_number: c.t("cbc:Telephone"),
        contact_email_address: c.t("cbc:ElectronicMail"),
    }
}

/// Maps a UN/CEFACT CII CrossIndustryInvoice.
pub fn from_cii(root: roxmltree::Node<'_, '_>) -> Invoice {
    from_cii_in(E(root, None))
}

/// [`from_cii`] on an indexed document (faster, same result).
pub fn from_cii_indexed(x: &XDoc<'_, '_>) -> Invoice {
    from_cii_in(E(x.doc.root_element(), Some(x)))
}

fn from_cii_in(r: E<'_, '_>) -> Invoice {
    let tx = r.get("rsm:SupplyChainTradeTransaction");
    let ag = tx.and_then(|t| t.get("ram:ApplicableHeaderTradeAgreement"));
    let dl = tx.and_then(|t| t.get("ram:ApplicableHeaderTradeDelivery"));
    let st = tx.and_then(|t| t.get("ram:ApplicableHeaderTradeSettlement"));
    let t = |e: Option<E<'_, '_>>, p: &str| e.and_then(|e| e.t(p));
    let doc = r.get("rsm:ExchangedDocument");
    let additional = |code: &str| {
        ag.map(|a| a.all("ram:AdditionalReferencedDocument"))
            .unwrap_or_default()
            .into_iter()
            .find(|d| d.t("ram:TypeCode").as_deref() == Some(code))
    };
    let mut inv = Invoice {
        invoice_number: t(doc, "ram:ID"),
        invoice_issue_date: date102(t(doc, "ram:IssueDateTime/udt:DateTimeString")),
        invoice_type_code: t(doc, "ram:TypeCode"),
        invoice_currency_code: t(st, "ram:InvoiceCurrencyCode"),
        vat_accounting_currency_code: t(st, "ram:TaxCurrencyCode"),
        value_added_tax_point_date: date102(t(
            st,
            "ram:ApplicableTradeTax/ram:TaxPointDate/udt:DateString",
        )),
        value_added_tax_point_date_code: t(st, "ram:ApplicableTradeTax/ram:DueDateTypeCode"),
        payment_due_date: date102(t(
            st,
            "ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/udt:DateTimeString",
        )),
        buyer_reference: t(ag, "ram:BuyerReference"),
        project_reference: t(ag, "ram:SpecifiedProcuringProject/ram:ID"),
        contract_reference: t(ag, "ram:ContractReferencedDocument/ram:IssuerAssignedID"),
        purchase_order_reference: t(ag, "ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID"),
        sales_order_reference: t(ag, "ram:SellerOrderReferencedDocument/ram:IssuerAssignedID"),
        receiving_advice_reference: t(
            dl,
            "ram:ReceivingAdviceReferencedDocument/ram:IssuerAssignedID",
        ),
        despatch_advice_reference: t(
            dl,
            "ram:DespatchAdviceReferencedDocument/ram:IssuerAssignedID",
        ),
        tender_or_lot_reference: additional("50").and_then(|d| d.t("ram:IssuerAssignedID")),
        invoiced_object_identifier: additional("130")
            .map(|d| Identifier::of(d.t("ram:IssuerAssignedID"), d.t("ram:ReferenceTypeCode")))
            .unwrap_or_default(),
        buyer_accounting_reference: t(st, "ram:ReceivableSpecifiedTradeAccountingAccount/ram:ID"),
        payment_terms: t(st, "ram:SpecifiedTradePaymentTerms/ram:Description"),
        ..Invoice::default()
    };
    for note in doc.map(|d| d.all("ram:IncludedNote")).unwrap_or_default() {
        let n = InvoiceNote {
            invoice_note_subject_code: note.t("ram:SubjectCode"),
            invoice_note: note.t("ram:Content"),
        };
        if !n.is_empty() {
            inv.invoice_note.push(n);
        }
    }
    inv.process_control = ProcessControl {
        business_process_type: r.t("rsm:ExchangedDocumentContext/ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID"),
        specification_identifier: r.t("rsm:ExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID"),
    };
    for b in st
        .map(|s| s.all("ram:InvoiceReferencedDocument"))
        .unwrap_or_default()
    {
        inv.preceding_invoice_reference.push(PrecedingInvoice {
            preceding_invoice_reference: b.t("ram:IssuerAssignedID"),
            preceding_invoice_issue_date: date102(
                b.t("ram:FormattedIssueDateTime/qdt:DateTimeString"),
            ),
        });
    }
    if let Some(p) = ag.and_then(|a| a.get("ram:SellerTradeParty")) {
        let mut ids: Vec<Identifier> = p
            .all("ram:ID")
            .into_iter()
            .map(|i| Identifier::of(i.text(), None))
            .collect();
        ids.extend(
            p.all("ram:GlobalID")
                .into_iter()
                .map(|i| Identifier::of(i.text(), i.attr("schemeID"))),
        );
        inv.seller = Seller {
            seller_name: p.t("ram:Name"),
            seller_trading_name: p.t("ram:SpecifiedLegalOrganization/ram:TradingBusinessName"),
            seller_identifier: ids,
            seller_legal_registration_identifier: p.id("ram:SpecifiedLegalOrganization/ram:ID"),
            seller_vat_identifier: cii_tax_id(p, "VA"),
            seller_tax_registration_identifier: cii_tax_id(p, "FC"),
            seller_additional_legal_information: p.t("ram:Description"),
            seller_electronic_address: p.id("ram:URIUniversalCommunication/ram:URIID"),
            seller_postal_address: p
                .get("ram:PostalTradeAddress")
                .map(cii_address)
                .unwrap_or_default(),
            seller_contact: p
                .get("ram:DefinedTradeContact")
                .map(cii_contact)
                .unwrap_or_default(),
        };
    }
    if let Some(p) = ag.and_then(|a| a.get("ram:BuyerTradeParty")) {
        inv.buyer = Buyer {
            buyer_name: p.t("ram:Name"),
            buyer_trading_name: p.t("ram:SpecifiedLegalOrganization/ram:TradingBusinessName"),
            buyer_identifier: cii_party_id(p),
            buyer_legal_registration_identifier: p.id("ram:SpecifiedLegalOrganization/ram:ID"),
            buyer_vat_identifier: cii_tax_id(p, "VA"),
            buyer_electronic_address: p.id("ram:URIUniversalCommunication/ram:URIID"),
            buyer_postal_address: p
                .get("ram:PostalTradeAddress")
                .map(cii_address)
                .unwrap_or_default(),
            buyer_contact: p
                .get("ram:DefinedTradeContact")
                .map(cii_contact)
                .unwrap_or_default(),
        };
    }
    if let Some(p) = st.and_then(|s| s.get("ram:PayeeTradeParty")) {
        inv.payee = Payee {
            payee_name: p.t("ram:Name"),
            payee_identifier: cii_party_id(p),
            payee_legal_registration_identifier: p.id("ram:SpecifiedLegalOrganization/ram:ID"),
        };
    }
    if let Some(p) = ag.and_then(|a| a.get("ram:SellerTaxRepresentativeTradeParty")) {
        inv.seller_tax_representative_party = TaxRepresentative {
            seller_tax_representative_name: p.t("ram:Name"),
            seller_tax_representative_vat_identifier: cii_tax_id(p, "VA"),
            seller_tax_representative_postal_address: p
                .get("ram:PostalTradeAddress")
                .map(cii_address)
                .unwrap_or_default(),
        };
    }
    let ship = dl.and_then(|d| d.get("ram:ShipToTradeParty"));
    inv.delivery_information = Delivery {
        deliver_to_party_name: t(ship, "ram:Name"),
        deliver_to_location_identifier: ship.map(cii_party_id).unwrap_or_default(),
        actual_delivery_date: date102(t(
            dl,
            "ram:ActualDeliverySupplyChainEvent/ram:OccurrenceDateTime/udt:DateTimeString",
        )),
        invoicing_period: Period {
            start_date: date102(t(
                st,
                "ram:BillingSpecifiedPeriod/ram:StartDateTime/udt:DateTimeString",
            )),
            end_date: date102(t(
                st,
                "ram:BillingSpecifiedPeriod/ram:EndDateTime/udt:DateTimeString",
            )),
        },
        deliver_to_address: ship
            .and_then(|s| s.get("ram:PostalTradeAddress"))
            .map(cii_address)
            .unwrap_or_default(),
    };
    let means = st
        .map(|s| s.all("ram:SpecifiedTradeSettlementPaymentMeans"))
        .unwrap_or_default();
    if let Some(m) = means.first() {
        inv.payment_instructions.payment_means_type_code = m.t("ram:TypeCode");
        inv.payment_instructions.payment_means_text = m.t("ram:Information");
    }
    inv.payment_instructions.remittance_information = t(st, "ram:PaymentReference");
    for m in &means {
        for a in m.all("ram:PayeePartyCreditorFinancialAccount") {
            inv.payment_instructions
                .credit_transfer
                .push(CreditTransfer {
                    payment_account_identifier: a
                        .t("ram:IBANID")
                        .or_else(|| a.t("ram:ProprietaryID")),
                    payment_account_name: a.t("ram:AccountName"),
                    payment_service_provider_identifier: m
                        .t("ram:PayeeSpecifiedCreditorFinancialInstitution/ram:BICID"),
                });
        }
        if let Some(c) = m.get("ram:ApplicableTradeSettlementFinancialCard") {
            inv.payment_instructions.payment_card_information = PaymentCard {
                payment_card_primary_account_number: c.t("ram:ID"),
                payment_card_holder_name: c.t("ram:CardholderName"),
            };
        }
        if let Some(d) = m.t("ram:PayerPartyDebtorFinancialAccount/ram:IBANID") {
            inv.payment_instructions
                .direct_debit
                .debited_account_identifier = Some(d);
        }
    }
    inv.payment_instructions
        .direct_debit
        .mandate_reference_identifier = t(
        st,
        "ram:SpecifiedTradePaymentTerms/ram:DirectDebitMandateID",
    );
    inv.payment_instructions
        .direct_debit
        .bank_assigned_creditor_identifier = t(st, "ram:CreditorReferenceID");
    for ac in st
        .map(|s| s.all("ram:SpecifiedTradeAllowanceCharge"))
        .unwrap_or_default()
    {
        let item = DocumentAllowanceCharge {
            amount: amount(ac.t("ram:ActualAmount")),
            base_amount: amount(ac.t("ram:BasisAmount")),
            percentage: number(ac.t("ram:CalculationPercent")),
            vat_category_code: ac.t("ram:CategoryTradeTax/ram:CategoryCode"),
            vat_rate: number(ac.t("ram:CategoryTradeTax/ram:RateApplicablePercent")),
            reason: ac.t("ram:Reason"),
            reason_code: ac.t("ram:ReasonCode"),
        };
        if is_true(ac.t("ram:ChargeIndicator/udt:Indicator")) {
            inv.document_level_charges.push(item);
        } else {
            inv.document_level_allowances.push(item);
        }
    }
    if let Some(m) = st.and_then(|s| s.get("ram:SpecifiedTradeSettlementHeaderMonetarySummation")) {
        let currency = inv.invoice_currency_code.clone();
        let tax_currency = inv.vat_accounting_currency_code.clone();
        let totals = m.all("ram:TaxTotalAmount");
        let vat = totals
            .iter()
            .find(|x| x.attr("currencyID") == currency || x.attr("currencyID").is_none())
            .and_then(|x| x.text());
        let vat_acc = if tax_currency.is_some() && tax_currency != currency {
            totals
                .iter()
                .find(|x| x.attr("currencyID") == tax_currency)
                .and_then(|x| x.text())
        } else {
            None
        };
        inv.document_totals = DocumentTotals {
            sum_of_invoice_line_net_amount: amount(m.t("ram:LineTotalAmount")),
            sum_of_allowances_on_document_level: amount(m.t("ram:AllowanceTotalAmount")),
            sum_of_charges_on_document_level: amount(m.t("ram:ChargeTotalAmount")),
            invoice_total_amount_without_vat: amount(m.t("ram:TaxBasisTotalAmount")),
            invoice_total_vat_amount: amount(vat),
            invoice_total_vat_amount_in_accounting_currency: amount(vat_acc),
            invoice_total_amount_with_vat: amount(m.t("ram:GrandTotalAmount")),
            paid_amount: amount(m.t("ram:TotalPrepaidAmount")),
            rounding_amount: amount(m.t("ram:RoundingAmount")),
            amount_due_for_payment: amount(m.t("ram:DuePayableAmount")),
        };
    }
    for tax in st
        .map(|s| s.all("ram:ApplicableTradeTax"))
        .unwrap_or_default()
    {
        inv.vat_breakdown.push(VatBreakdown {
            vat_category_taxable_amount: amount(tax.t("ram:BasisAmount")),
            vat_category_tax_amount: amount(tax.t("ram:CalculatedAmount")),
            vat_category_code: tax.t("ram:CategoryCode"),
            vat_category_rate: number(tax.t("ram:RateApplicablePercent")),
            vat_exemption_reason_text: tax.t("ram:ExemptionReason"),
            vat_exemption_reason_code: tax.t("ram:ExemptionReasonCode"),
        });
    }
    for d in ag
        .map(|a| a.all("ram:AdditionalReferencedDocument"))
        .unwrap_or_default()
    {
        if d.t("ram:TypeCode").as_deref() != Some("916") {
            continue;
        }
        inv.additional_supporting_documents
            .push(SupportingDocument {
                supporting_document_reference: d.t("ram:IssuerAssignedID"),
                supporting_document_description: d.t("ram:Name"),
                external_document_location: d.t("ram:URIID"),
                attached_document_mime_code: d.a("ram:AttachmentBinaryObject", "mimeCode"),
                attached_document_filename: d.a("ram:AttachmentBinaryObject", "filename"),
            });
    }
    for l in tx
        .map(|t| t.all("ram:IncludedSupplyChainTradeLineItem"))
        .unwrap_or_default()
    {
        let la = l.get("ram:SpecifiedLineTradeAgreement");
        let ld = l.get("ram:SpecifiedLineTradeDelivery");
        let ls = l.get("ram:SpecifiedLineTradeSettlement");
        let mut line = InvoiceLine {
            invoice_line_identifier: l.t("ram:AssociatedDocumentLineDocument/ram:LineID"),
            invoice_line_note: l
                .t("ram:AssociatedDocumentLineDocument/ram:IncludedNote/ram:Content"),
            invoice_line_object_identifier: ls
                .map(|s| s.all("ram:AdditionalReferencedDocument"))
                .unwrap_or_default()
                .into_iter()
                .find(|d| d.t("ram:TypeCode").as_deref() == Some("130"))
                .map(|d| Identifier::of(d.t("ram:IssuerAssignedID"), d.t("ram:ReferenceTypeCode")))
                .unwrap_or_default(),
            invoiced_quantity: number(t(ld, "ram:BilledQuantity")),
            invoiced_quantity_unit_of_measure_code: ld
                .and_then(|d| d.a("ram:BilledQuantity", "unitCode")),
            invoice_line_net_amount: amount(t(
                ls,
                "ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount",
            )),
            referenced_purchase_order_line_reference: t(
                la,
                "ram:BuyerOrderReferencedDocument/ram:LineID",
            ),
            invoice_line_buyer_accounting_reference: t(
                ls,
                "ram:ReceivableSpecifiedTradeAccountingAccount/ram:ID",
            ),
            invoice_line_period: Period {
                start_date: date102(t(
                    ls,
                    "ram:BillingSpecifiedPeriod/ram:StartDateTime/udt:DateTimeString",
                )),
                end_date: date102(t(
                    ls,
                    "ram:BillingSpecifiedPeriod/ram:EndDateTime/udt:DateTimeString",
                )),
            },
            price_details: PriceDetails {
                item_net_price: number(t(la, "ram:NetPriceProductTradePrice/ram:ChargeAmount")),
                item_price_discount: number(t(
                    la,
                    "ram:GrossPriceProductTradePrice/ram:AppliedTradeAllowanceCharge/ram:ActualAmount",
                )),
                item_gross_price: number(t(la, "ram:GrossPriceProductTradePrice/ram:ChargeAmount")),
                item_price_base_quantity: number(t(
                    la,
                    "ram:NetPriceProductTradePrice/ram:BasisQuantity",
                )),
                item_price_base_quantity_unit_of_measure_code: la.and_then(|a| {
                    a.a(
                        "ram:NetPriceProductTradePrice/ram:BasisQuantity",
                        "unitCode",
                    )
                }),
            },
            line_vat_information: LineVat {
                invoiced_item_vat_category_code: t(ls, "ram:ApplicableTradeTax/ram:CategoryCode"),
                invoiced_item_vat_rate: number(t(
                    ls,
                    "ram:ApplicableTradeTax/ram:RateApplicablePercent",
                )),
            },
            ..InvoiceLine::default()
        };
        for ac in ls
            .map(|s| s.all("ram:SpecifiedTradeAllowanceCharge"))
            .unwrap_or_default()
        {
            let item = LineAllowanceCharge {
                amount: amount(ac.t("ram:ActualAmount")),
                base_amount: amount(ac.t("ram:BasisAmount")),
                percentage: number(ac.t("ram:CalculationPercent")),
                reason: ac.t("ram:Reason"),
                reason_code: ac.t("ram:ReasonCode"),
            };
            if is_true(ac.t("ram:ChargeIndicator/udt:Indicator")) {
                line.invoice_line_charges.push(item);
            } else {
                line.invoice_line_allowances.push(item);
            }
        }
        if let Some(p) = l.get("ram:SpecifiedTradeProduct") {
            line.item_information = ItemInformation {
                item_name: p.t("ram:Name"),
                item_description: p.t("ram:Description"),
                item_sellers_identifier: p.t("ram:SellerAssignedID"),
                item_buyers_identifier: p.t("ram:BuyerAssignedID"),
                item_standard_identifier: p.id("ram:GlobalID"),
                item_classification_identifier: p
                    .all("ram:DesignatedProductClassification/ram:ClassCode")
                    .into_iter()
                    .map(|c| Classification {
                        value: c.text(),
                        scheme_identifier: c.attr("listID"),
                        scheme_version_identifier: c.attr("listVersionID"),
                    })
                    .collect(),
                item_country_of_origin: p.t("ram:OriginTradeCountry/ram:ID"),
                item_attributes: p
                    .all("ram:ApplicableProductCharacteristic")
                    .into_iter()
                    .map(|c| ItemAttribute {
                        item_attribute_name: c.t("ram:Description"),
                        item_attribute_value: c.t("ram:Value"),
                    })
                    .collect(),
            };
        }
        inv.invoice_line.push(line);
    }
    inv
}

fn cii_tax_id(p: E<'_, '_>, scheme: &str) -> Option<String> {
    p.all("ram:SpecifiedTaxRegistration/ram:ID")
        .into_iter()
        .find(|i| i.attr("schemeID").as_deref() == Some(scheme))
        .and_then(|i| i.text())
}

/// A party identifier: `ram:ID`, else `ram:GlobalID` with its scheme.
fn cii_party_id(p: E<'_, '_>) -> Identifier {
    match p.get("ram:ID") {
        Some(i) => Identifier::of(i.text(), None),
        None => p.id("ram:GlobalID"),
    }
}

fn cii_address(a: E<'_, '_>) -> Address {
    Address {
        address_line_1: a.t("ram:LineOne"),
        address_line_2: a.t("ram:LineTwo"),
        address_line_3: a.t("ram:LineThree"),
        city: a.t("ram:CityName"),
        post_code: a.t("ram:PostcodeCode"),
        country_subdivision: a.t("ram:CountrySubDivisionName"),
        country_code: a.t("ram:CountryID"),
    }
}

fn cii_contact(c: E<'_, '_>) -> Contact {
    Contact {
        contact_point: c.t("ram:PersonName").or_else(|| c.t("ram:DepartmentName")),
        contact_telephone_number: c.t("ram:TelephoneUniversalCommunication/ram:CompleteNumber"),
        contact_email_address: c.t("ram:EmailURIUniversalCommunication/ram:URIID"),
    }
}

/// A China e-invoice tax rate as a percentage and the matching VAT category code:
/// `0.13`/`13%` → (`13`, `S`), `0` → (`0`, `Z`), 免税 → (`0`, `E`), 不征税 → (`0`, `O`).
fn cn_rate(r: &str) -> (Option<String>, Option<String>) {
    let t = r.trim();
    let cat = |code: &str| Some(code.to_string());
    match t {
        "免税" | "免征增值税" => return (Some("0".into()), cat("E")),
        "不征税" => return (Some("0".into()), cat("O")),
        "出口零税率" => return (Some("0".into()), cat("G")),
        _ => {}
    }
    let pct = match t.strip_suffix('%') {
        Some(p) => Dec::parse(p.trim()),
        None => Dec::parse(t).and_then(|f| f.checked_mul(Dec::int(100))),
    };
    match pct {
        Some(p) if p.is_zero() => (Some("0".into()), cat("Z")),
        Some(p) => (Some(p.to_string()), cat("S")),
        None => (Some(t.to_string()), None),
    }
}

fn plain<'a, 'i>(e: E<'a, 'i>, name: &str) -> Option<E<'a, 'i>> {
    e.0.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
        .map(|n| E(n, e.1))
}

fn pt(e: Option<E<'_, '_>>, name: &str) -> Option<String> {
    e.and_then(|e| plain(e, name)).and_then(|c| c.text())
}

/// Maps a China fully digitalized e-invoice (`EInvoice`) onto the EN 16931 terms whose
/// meaning matches: number, date, parties (unified social credit code as VAT identifier),
/// totals, a VAT breakdown per rate and the item lines. The currency is CNY.
pub fn from_cn(root: roxmltree::Node<'_, '_>) -> Invoice {
    let r = E(root, None);
    let header = plain(r, "Header");
    let data = plain(r, "EInvoiceData");
    let sup = plain(r, "TaxSupervisionInfo");
    let basic = data.and_then(|d| plain(d, "BasicInformation"));
    let seller = data.and_then(|d| plain(d, "SellerInformation"));
    let buyer = data.and_then(|d| plain(d, "BuyerInformation"));
    let inv_number = pt(sup, "InvoiceNumber").or_else(|| pt(header, "EIid"));
    let issued = pt(sup, "IssueTime").or_else(|| pt(basic, "RequestTime"));
    let total_with = pt(basic, "TotalTax-includedAmount");
    let negative = total_with
        .as_deref()
        .and_then(Dec::parse)
        .is_some_and(|d| d.is_negative());
    let mut inv = Invoice {
        invoice_number: inv_number,
        invoice_issue_date: issued.map(|t| t.chars().take(10).collect()),
        invoice_type_code: Some(if negative { "381" } else { "380" }.to_string()),
        invoice_currency_code: Some("CNY".to_string()),
        ..Invoice::default()
    };
    if let Some(remark) = data
        .and_then(|d| plain(d, "AdditionalInformation"))
        .and_then(|a| plain(a, "Remark"))
        .and_then(|x| x.text())
    {
        inv.invoice_note.push(InvoiceNote {
            invoice_note_subject_code: None,
            invoice_note: Some(remark),
        });
    }
    inv.seller = Seller {
        seller_name: pt(seller, "SellerName"),
        seller_vat_identifier: pt(seller, "SellerIdNum"),
        seller_postal_address: Address {
            address_line_1: pt(seller, "SellerAddr"),
            country_code: seller.map(|_| "CN".to_string()),
            ..Address::default()
        },
        seller_contact: Contact {
            contact_telephone_number: pt(seller, "SellerTelNum"),
            ..Contact::default()
        },
        ..Seller::default()
    };
    inv.buyer = Buyer {
        buyer_name: pt(buyer, "BuyerName"),
        buyer_vat_identifier: pt(buyer, "BuyerIdNum"),
        buyer_postal_address: Address {
            address_line_1: pt(buyer, "BuyerAddr"),
            ..Address::default()
        },
        buyer_contact: Contact {
            contact_telephone_number: pt(buyer, "BuyerTelNum"),
            ..Contact::default()
        },
        ..Buyer::default()
    };
    if let Some(acc) = pt(seller, "SellerBankAccNum") {
        inv.payment_instructions
            .credit_transfer
            .push(CreditTransfer {
                payment_account_identifier: Some(acc),
                ..CreditTransfer::default()
            });
    }
    let without = pt(basic, "TotalAmWithoutTax");
    inv.document_totals = DocumentTotals {
        sum_of_invoice_line_net_amount: amount(without.clone()),
        invoice_total_amount_without_vat: amount(without),
        invoice_total_vat_amount: amount(pt(basic, "TotalTaxAm")),
        invoice_total_amount_with_vat: amount(total_with.clone()),
        amount_due_for_payment: amount(total_with),
        ..DocumentTotals::default()
    };
    // VAT breakdown: one group per (category, rate), summed exactly
    let mut groups: Vec<(Option<String>, Option<String>, Dec, Dec)> = Vec::new();
    let lines: Vec<E<'_, '_>> = data
        .map(|d| {
            d.0.children()
                .filter(|c| c.is_element() && c.tag_name().name() == "IssuItemInformation")
                .map(|n| E(n, None))
                .collect()
        })
        .unwrap_or_default();
    for (i, l) in lines.iter().enumerate() {
        let (rate, cat) = pt(Some(*l), "TaxRate")
            .map(|r| cn_rate(&r))
            .unwrap_or((None, None));
        let amt = pt(Some(*l), "Amount");
        let tax = pt(Some(*l), "ComTaxAm");
        let a = amt.as_deref().and_then(Dec::parse).unwrap_or(Dec::ZERO);
        let t = tax.as_deref().and_then(Dec::parse).unwrap_or(Dec::ZERO);
        match groups.iter_mut().find(|g| g.0 == cat && g.1 == rate) {
            Some(g) => {
                g.2 = g.2.checked_add(a).unwrap_or(g.2);
                g.3 = g.3.checked_add(t).unwrap_or(g.3);
            }
            None => groups.push((cat.clone(), rate.clone(), a, t)),
        }
        let mut item = ItemInformation {
            item_name: pt(Some(*l), "ItemName"),
            ..ItemInformation::default()
        };
        if let Some(spec) = pt(Some(*l), "SpecMod") {
            item.item_attributes.push(ItemAttribute {
                item_attribute_name: Some("SpecMod".into()),
                item_attribute_value: Some(spec),
            });
        }
        if let Some(code) = pt(Some(*l), "TaxClassificationCode") {
            item.item_classification_identifier.push(Classification {
                value: Some(code),
                scheme_identifier: Some("CN-TAX-CLASSIFICATION".into()),
                scheme_version_identifier: None,
            });
        }
        inv.invoice_line.push(InvoiceLine {
            invoice_line_identifier: Some((i + 1).to_string()),
            invoiced_quantity: number(pt(Some(*l), "Quantity")),
            invoiced_quantity_unit_of_measure_code: pt(Some(*l), "MeaUnits"),
            invoice_line_net_amount: amount(amt),
            price_details: PriceDetails {
                item_net_price: number(pt(Some(*l), "UnPrice")),
                ..PriceDetails::default()
            },
            line_vat_information: LineVat {
                invoiced_item_vat_category_code: cat,
                invoiced_item_vat_rate: rate,
            },
            item_information: item,
            ..InvoiceLine::default()
        });
    }
    for (cat, rate, taxable, tax) in groups {
        inv.vat_breakdown.push(VatBreakdown {
            vat_category_taxable_amount: Some(taxable.to_string_min_scale(2)),
            vat_category_tax_amount: Some(tax.to_string_min_scale(2)),
            vat_category_code: cat,
            vat_category_rate: rate,
            ..VatBreakdown::default()
        });
    }
    inv
}
