//! Generated sample invoices: a realistic Peppol BIS 3.0 UBL invoice and the same business
//! content as CII, for the benchmark, tests and demos. Amounts are computed in cents so
//! every total and VAT breakdown is consistent.

use std::fmt::Write as _;

struct Line {
    id: usize,
    qty: i64,
    price: i64,
    allowance: i64,
    rate: i64,
    net: i64,
}

fn cents(c: i64) -> String {
    let sign = if c < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", c.abs() / 100, c.abs() % 100)
}

/// Half-up rounding of `num / den` (both positive).
fn div_round(num: i64, den: i64) -> i64 {
    (num * 2 + den) / (2 * den)
}

fn lines(n: usize) -> Vec<Line> {
    (1..=n)
        .map(|i| {
            let qty = (i as i64 % 7) + 1;
            let price = 1250 + (i as i64 * 733) % 9000;
            let allowance = if i % 3 == 0 { 150 } else { 0 };
            let rate = if i % 4 == 0 { 10 } else { 20 };
            Line {
                id: i,
                qty,
                price,
                allowance,
                rate,
                net: qty * price - allowance,
            }
        })
        .collect()
}

struct Totals {
    line_total: i64,
    allowance: i64,
    charge: i64,
    /// (rate, taxable, tax)
    breakdown: Vec<(i64, i64, i64)>,
    tax: i64,
    without: i64,
    with: i64,
}

fn totals(ls: &[Line]) -> Totals {
    let line_total: i64 = ls.iter().map(|l| l.net).sum();
    let allowance = 1000; // document allowance at 20 %
    let charge = 500; // document charge at 20 %
    let mut breakdown = Vec::new();
    for rate in [20, 10] {
        if rate != 20 && !ls.iter().any(|l| l.rate == rate) {
            continue;
        }
        let mut taxable: i64 = ls.iter().filter(|l| l.rate == rate).map(|l| l.net).sum();
        if rate == 20 {
            taxable += charge - allowance;
        }
        breakdown.push((rate, taxable, div_round(taxable * rate, 100)));
    }
    let tax = breakdown.iter().map(|b| b.2).sum();
    let without = line_total - allowance + charge;
    Totals {
        line_total,
        allowance,
        charge,
        breakdown,
        tax,
        without,
        with: without + tax,
    }
}

/// A valid Peppol BIS Billing 3.0 UBL invoice with `n` lines (≈ 20 KB for 10 lines).
pub fn ubl_invoice(n: usize) -> String {
    let ls = lines(n);
    let t = totals(&ls);
    let mut s = String::with_capacity(2500 + n * 1800);
    s.push_str(r#"<?xml version="1.0" encoding="UTF-8"?>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
         xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
         xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
  <cbc:CustomizationID>urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0</cbc:CustomizationID>
  <cbc:ProfileID>urn:fdc:peppol.eu:2017:poacc:billing:01:1.0</cbc:ProfileID>
  <cbc:ID>INV-2024-000123</cbc:ID>
  <cbc:IssueDate>2024-03-15</cbc:IssueDate>
  <cbc:DueDate>2024-04-14</cbc:DueDate>
  <cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>
  <cbc:Note>Delivery of industrial supplies according to framework agreement FA-7.</cbc:Note>
  <cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>
  <cbc:BuyerReference>PO-REF-4711</cbc:BuyerReference>
  <cac:InvoicePeriod>
    <cbc:StartDate>2024-03-01</cbc:StartDate>
    <cbc:EndDate>2024-03-31</cbc:EndDate>
  </cac:InvoicePeriod>
  <cac:OrderReference>
    <cbc:ID>PO-4711</cbc:ID>
  </cac:OrderReference>
  <cac:ContractDocumentReference>
    <cbc:ID>FA-7</cbc:ID>
  </cac:ContractDocumentReference>
  <cac:AccountingSupplierParty>
    <cac:Party>
      <cbc:EndpointID schemeID="0009">12345678200010</cbc:EndpointID>
      <cac:PartyIdentification>
        <cbc:ID>SUP-001</cbc:ID>
      </cac:PartyIdentification>
      <cac:PartyName>
        <cbc:Name>Acier Industriel SARL</cbc:Name>
      </cac:PartyName>
      <cac:PostalAddress>
        <cbc:StreetName>12 Rue de la Forge</cbc:StreetName>
        <cbc:AdditionalStreetName>Zone Industrielle Nord</cbc:AdditionalStreetName>
        <cbc:CityName>Lyon</cbc:CityName>
        <cbc:PostalZone>69007</cbc:PostalZone>
        <cac:Country>
          <cbc:IdentificationCode>FR</cbc:IdentificationCode>
        </cac:Country>
      </cac:PostalAddress>
      <cac:PartyTaxScheme>
        <cbc:CompanyID>FR32123456789</cbc:CompanyID>
        <cac:TaxScheme>
          <cbc:ID>VAT</cbc:ID>
        </cac:TaxScheme>
      </cac:PartyTaxScheme>
      <cac:PartyLegalEntity>
        <cbc:RegistrationName>Acier Industriel SARL</cbc:RegistrationName>
        <cbc:CompanyID schemeID="0002">123456789</cbc:CompanyID>
        <cbc:CompanyLegalForm>SARL au capital de 50 000 EUR</cbc:CompanyLegalForm>
      </cac:PartyLegalEntity>
      <cac:Contact>
        <cbc:Name>Claire Martin</cbc:Name>
        <cbc:Telephone>+33 4 72 00 00 00</cbc:Telephone>
        <cbc:ElectronicMail>factures@acier-industriel.example</cbc:ElectronicMail>
      </cac:Contact>
    </cac:Party>
  </cac:AccountingSupplierParty>
  <cac:AccountingCustomerParty>
    <cac:Party>
      <cbc:EndpointID schemeID="0009">98765432100027</cbc:EndpointID>
      <cac:PartyIdentification>
        <cbc:ID>CUST-042</cbc:ID>
      </cac:PartyIdentification>
      <cac:PostalAddress>
        <cbc:StreetName>5 Avenue des Usines</cbc:StreetName>
        <cbc:CityName>Grenoble</cbc:CityName>
        <cbc:PostalZone>38000</cbc:PostalZone>
        <cac:Country>
          <cbc:IdentificationCode>FR</cbc:IdentificationCode>
        </cac:Country>
      </cac:PostalAddress>
      <cac:PartyTaxScheme>
        <cbc:CompanyID>FR61987654321</cbc:CompanyID>
        <cac:TaxScheme>
          <cbc:ID>VAT</cbc:ID>
        </cac:TaxScheme>
      </cac:PartyTaxScheme>
      <cac:PartyLegalEntity>
        <cbc:RegistrationName>Mecanique Alpine SA</cbc:RegistrationName>
        <cbc:CompanyID schemeID="0002">987654321</cbc:CompanyID>
      </cac:PartyLegalEntity>
      <cac:Contact>
        <cbc:Name>Paul Durand</cbc:Name>
        <cbc:ElectronicMail>ap@mecanique-alpine.example</cbc:ElectronicMail>
      </cac:Contact>
    </cac:Party>
  </cac:AccountingCustomerParty>
  <cac:Delivery>
    <cbc:ActualDeliveryDate>2024-03-14</cbc:ActualDeliveryDate>
    <cac:DeliveryLocation>
      <cac:Address>
        <cbc:StreetName>Quai 3, 5 Avenue des Usines</cbc:StreetName>
        <cbc:CityName>Grenoble</cbc:CityName>
        <cbc:PostalZone>38000</cbc:PostalZone>
        <cac:Country>
          <cbc:IdentificationCode>FR</cbc:IdentificationCode>
        </cac:Country>
      </cac:Address>
    </cac:DeliveryLocation>
  </cac:Delivery>
  <cac:PaymentMeans>
    <cbc:PaymentMeansCode name="Credit transfer">30</cbc:PaymentMeansCode>
    <cbc:PaymentID>INV-2024-000123</cbc:PaymentID>
    <cac:PayeeFinancialAccount>
      <cbc:ID>FR7630006000011234567890189</cbc:ID>
      <cbc:Name>Acier Industriel SARL</cbc:Name>
      <cac:FinancialInstitutionBranch>
        <cbc:ID>AGRIFRPP</cbc:ID>
      </cac:FinancialInstitutionBranch>
    </cac:PayeeFinancialAccount>
  </cac:PaymentMeans>
  <cac:PaymentTerms>
    <cbc:Note>Payment within 30 days, 2 % late interest per month.</cbc:Note>
  </cac:PaymentTerms>
"#);
    let _ = write!(
        s,
        r#"  <cac:AllowanceCharge>
    <cbc:ChargeIndicator>false</cbc:ChargeIndicator>
    <cbc:AllowanceChargeReasonCode>95</cbc:AllowanceChargeReasonCode>
    <cbc:AllowanceChargeReason>Discount</cbc:AllowanceChargeReason>
    <cbc:Amount currencyID="EUR">{}</cbc:Amount>
    <cac:TaxCategory>
      <cbc:ID>S</cbc:ID>
      <cbc:Percent>20</cbc:Percent>
      <cac:TaxScheme>
        <cbc:ID>VAT</cbc:ID>
      </cac:TaxScheme>
    </cac:TaxCategory>
  </cac:AllowanceCharge>
  <cac:AllowanceCharge>
    <cbc:ChargeIndicator>true</cbc:ChargeIndicator>
    <cbc:AllowanceChargeReasonCode>FC</cbc:AllowanceChargeReasonCode>
    <cbc:AllowanceChargeReason>Freight</cbc:AllowanceChargeReason>
    <cbc:Amount currencyID="EUR">{}</cbc:Amount>
    <cac:TaxCategory>
      <cbc:ID>S</cbc:ID>
      <cbc:Percent>20</cbc:Percent>
      <cac:TaxScheme>
        <cbc:ID>VAT</cbc:ID>
      </cac:TaxScheme>
    </cac:TaxCategory>
  </cac:AllowanceCharge>
  <cac:TaxTotal>
    <cbc:TaxAmount currencyID="EUR">{}</cbc:TaxAmount>
"#,
        cents(t.allowance),
        cents(t.charge),
        cents(t.tax)
    );
    for (rate, taxable, tax) in &t.breakdown {
        let _ = write!(
            s,
            r#"    <cac:TaxSubtotal>
      <cbc:TaxableAmount currencyID="EUR">{}</cbc:TaxableAmount>
      <cbc:TaxAmount currencyID="EUR">{}</cbc:TaxAmount>
      <cac:TaxCategory>
        <cbc:ID>S</cbc:ID>
        <cbc:Percent>{rate}</cbc:Percent>
        <cac:TaxScheme>
          <cbc:ID>VAT</cbc:ID>
        </cac:TaxScheme>
      </cac:TaxCategory>
    </cac:TaxSubtotal>
"#,
            cents(*taxable),
            cents(*tax)
        );
    }
    let _ = write!(
        s,
        r#"  </cac:TaxTotal>
  <cac:LegalMonetaryTotal>
    <cbc:LineExtensionAmount currencyID="EUR">{}</cbc:LineExtensionAmount>
    <cbc:TaxExclusiveAmount currencyID="EUR">{}</cbc:TaxExclusiveAmount>
    <cbc:TaxInclusiveAmount currencyID="EUR">{}</cbc:TaxInclusiveAmount>
    <cbc:AllowanceTotalAmount currencyID="EUR">{}</cbc:AllowanceTotalAmount>
    <cbc:ChargeTotalAmount currencyID="EUR">{}</cbc:ChargeTotalAmount>
    <cbc:PayableAmount currencyID="EUR">{}</cbc:PayableAmount>
  </cac:LegalMonetaryTotal>
"#,
        cents(t.line_total),
        cents(t.without),
        cents(t.with),
        cents(t.allowance),
        cents(t.charge),
        cents(t.with)
    );
    for l in &ls {
        let _ = write!(
            s,
            r#"  <cac:InvoiceLine>
    <cbc:ID>{id}</cbc:ID>
    <cbc:Note>Batch {id} of the March call-off, delivered to gate 3.</cbc:Note>
    <cbc:InvoicedQuantity unitCode="C62">{qty}</cbc:InvoicedQuantity>
    <cbc:LineExtensionAmount currencyID="EUR">{net}</cbc:LineExtensionAmount>
    <cbc:AccountingCost>CC-{id:03}</cbc:AccountingCost>
    <cac:InvoicePeriod>
      <cbc:StartDate>2024-03-01</cbc:StartDate>
      <cbc:EndDate>2024-03-31</cbc:EndDate>
    </cac:InvoicePeriod>
    <cac:OrderLineReference>
      <cbc:LineID>{id}</cbc:LineID>
    </cac:OrderLineReference>
"#,
            id = l.id,
            qty = l.qty,
            net = cents(l.net)
        );
        if l.allowance > 0 {
            let _ = write!(
                s,
                r#"    <cac:AllowanceCharge>
      <cbc:ChargeIndicator>false</cbc:ChargeIndicator>
      <cbc:AllowanceChargeReasonCode>95</cbc:AllowanceChargeReasonCode>
      <cbc:AllowanceChargeReason>Volume discount</cbc:AllowanceChargeReason>
      <cbc:Amount currencyID="EUR">{}</cbc:Amount>
    </cac:AllowanceCharge>
"#,
                cents(l.allowance)
            );
        }
        let _ = write!(
            s,
            r#"    <cac:Item>
      <cbc:Description>Precision steel component, grade S355, batch {id}, surface treated and packed on pallets.</cbc:Description>
      <cbc:Name>Steel component type {id}</cbc:Name>
      <cac:SellersItemIdentification>
        <cbc:ID>ART-{id:05}</cbc:ID>
      </cac:SellersItemIdentification>
      <cac:OriginCountry>
        <cbc:IdentificationCode>FR</cbc:IdentificationCode>
      </cac:OriginCountry>
      <cac:CommodityClassification>
        <cbc:ItemClassificationCode listID="STI">7208{id:04}</cbc:ItemClassificationCode>
      </cac:CommodityClassification>
      <cac:ClassifiedTaxCategory>
        <cbc:ID>S</cbc:ID>
        <cbc:Percent>{rate}</cbc:Percent>
        <cac:TaxScheme>
          <cbc:ID>VAT</cbc:ID>
        </cac:TaxScheme>
      </cac:ClassifiedTaxCategory>
      <cac:AdditionalItemProperty>
        <cbc:Name>Grade</cbc:Name>
        <cbc:Value>S355</cbc:Value>
      </cac:AdditionalItemProperty>
    </cac:Item>
    <cac:Price>
      <cbc:PriceAmount currencyID="EUR">{price}</cbc:PriceAmount>
      <cbc:BaseQuantity unitCode="C62">1</cbc:BaseQuantity>
    </cac:Price>
  </cac:InvoiceLine>
"#,
            id = l.id,
            rate = l.rate,
            price = cents(l.price)
        );
    }
    s.push_str("</Invoice>\n");
    s
}

fn d102(iso: &str) -> String {
    iso.replace('-', "")
}

/// The same business content as [`ubl_invoice`], as a UN/CEFACT CII CrossIndustryInvoice.
pub fn cii_invoice(n: usize) -> String {
    let ls = lines(n);
    let t = totals(&ls);
    let mut s = String::with_capacity(3000 + n * 2000);
    s.push_str(r#"<?xml version="1.0" encoding="UTF-8"?>
<rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
    xmlns:ram="urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
    xmlns:qdt="urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
    xmlns:udt="urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100">
  <rsm:ExchangedDocumentContext>
    <ram:BusinessProcessSpecifiedDocumentContextParameter>
      <ram:ID>urn:fdc:peppol.eu:2017:poacc:billing:01:1.0</ram:ID>
    </ram:BusinessProcessSpecifiedDocumentContextParameter>
    <ram:GuidelineSpecifiedDocumentContextParameter>
      <ram:ID>urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0</ram:ID>
    </ram:GuidelineSpecifiedDocumentContextParameter>
  </rsm:ExchangedDocumentContext>
  <rsm:ExchangedDocument>
    <ram:ID>INV-2024-000123</ram:ID>
    <ram:TypeCode>380</ram:TypeCode>
    <ram:IssueDateTime>
      <udt:DateTimeString format="102">20240315</udt:DateTimeString>
    </ram:IssueDateTime>
    <ram:IncludedNote>
      <ram:Content>Delivery of industrial supplies according to framework agreement FA-7.</ram:Content>
    </ram:IncludedNote>
  </rsm:ExchangedDocument>
  <rsm:SupplyChainTradeTransaction>
"#);
    for l in &ls {
        let _ = write!(
            s,
            r#"    <ram:IncludedSupplyChainTradeLineItem>
      <ram:AssociatedDocumentLineDocument>
        <ram:LineID>{id}</ram:LineID>
        <ram:IncludedNote>
          <ram:Content>Batch {id} of the March call-off, delivered to gate 3.</ram:Content>
        </ram:IncludedNote>
      </ram:AssociatedDocumentLineDocument>
      <ram:SpecifiedTradeProduct>
        <ram:SellerAssignedID>ART-{id:05}</ram:SellerAssignedID>
        <ram:Name>Steel component type {id}</ram:Name>
        <ram:Description>Precision steel component, grade S355, batch {id}, surface treated and packed on pallets.</ram:Description>
        <ram:ApplicableProductCharacteristic>
          <ram:Description>Grade</ram:Description>
          <ram:Value>S355</ram:Value>
        </ram:ApplicableProductCharacteristic>
        <ram:DesignatedProductClassification>
          <ram:ClassCode listID="STI">7208{id:04}</ram:ClassCode>
        </ram:DesignatedProductClassification>
        <ram:OriginTradeCountry>
          <ram:ID>FR</ram:ID>
        </ram:OriginTradeCountry>
      </ram:SpecifiedTradeProduct>
      <ram:SpecifiedLineTradeAgreement>
        <ram:BuyerOrderReferencedDocument>
          <ram:LineID>{id}</ram:LineID>
        </ram:BuyerOrderReferencedDocument>
        <ram:NetPriceProductTradePrice>
          <ram:ChargeAmount>{price}</ram:ChargeAmount>
          <ram:BasisQuantity unitCode="C62">1</ram:BasisQuantity>
        </ram:NetPriceProductTradePrice>
      </ram:SpecifiedLineTradeAgreement>
      <ram:SpecifiedLineTradeDelivery>
        <ram:BilledQuantity unitCode="C62">{qty}</ram:BilledQuantity>
      </ram:SpecifiedLineTradeDelivery>
      <ram:SpecifiedLineTradeSettlement>
        <ram:ApplicableTradeTax>
          <ram:TypeCode>VAT</ram:TypeCode>
          <ram:CategoryCode>S</ram:CategoryCode>
          <ram:RateApplicablePercent>{rate}</ram:RateApplicablePercent>
        </ram:ApplicableTradeTax>
        <ram:BillingSpecifiedPeriod>
          <ram:StartDateTime><udt:DateTimeString format="102">20240301</udt:DateTimeString></ram:StartDateTime>
          <ram:EndDateTime><udt:DateTimeString format="102">20240331</udt:DateTimeString></ram:EndDateTime>
        </ram:BillingSpecifiedPeriod>
"#,
            id = l.id,
            price = cents(l.price),
            qty = l.qty,
            rate = l.rate
        );
        if l.allowance > 0 {
            let _ = write!(
                s,
                r#"        <ram:SpecifiedTradeAllowanceCharge>
          <ram:ChargeIndicator><udt:Indicator>false</udt:Indicator></ram:ChargeIndicator>
          <ram:ActualAmount>{}</ram:ActualAmount>
          <ram:ReasonCode>95</ram:ReasonCode>
          <ram:Reason>Volume discount</ram:Reason>
        </ram:SpecifiedTradeAllowanceCharge>
"#,
                cents(l.allowance)
            );
        }
        let _ = write!(
            s,
            r#"        <ram:SpecifiedTradeSettlementLineMonetarySummation>
          <ram:LineTotalAmount>{net}</ram:LineTotalAmount>
        </ram:SpecifiedTradeSettlementLineMonetarySummation>
        <ram:ReceivableSpecifiedTradeAccountingAccount>
          <ram:ID>CC-{id:03}</ram:ID>
        </ram:ReceivableSpecifiedTradeAccountingAccount>
      </ram:SpecifiedLineTradeSettlement>
    </ram:IncludedSupplyChainTradeLineItem>
"#,
            net = cents(l.net),
            id = l.id
        );
    }
    s.push_str(
        r#"    <ram:ApplicableHeaderTradeAgreement>
      <ram:BuyerReference>PO-REF-4711</ram:BuyerReference>
      <ram:SellerTradeParty>
        <ram:ID>SUP-001</ram:ID>
        <ram:Name>Acier Industriel SARL</ram:Name>
        <ram:Description>SARL au capital de 50 000 EUR</ram:Description>
        <ram:SpecifiedLegalOrganization>
          <ram:ID schemeID="0002">123456789</ram:ID>
          <ram:TradingBusinessName>Acier Industriel SARL</ram:TradingBusinessName>
        </ram:SpecifiedLegalOrganization>
        <ram:DefinedTradeContact>
          <ram:PersonName>Claire Martin</ram:PersonName>
          <ram:TelephoneUniversalCommunication>
            <ram:CompleteNumber>+33 4 72 00 00 00</ram:CompleteNumber>
          </ram:TelephoneUniversalCommunication>
          <ram:EmailURIUniversalCommunication>
            <ram:URIID>factures@acier-industriel.example</ram:URIID>
          </ram:EmailURIUniversalCommunication>
        </ram:DefinedTradeContact>
        <ram:PostalTradeAddress>
          <ram:PostcodeCode>69007</ram:PostcodeCode>
          <ram:LineOne>12 Rue de la Forge</ram:LineOne>
          <ram:LineTwo>Zone Industrielle Nord</ram:LineTwo>
          <ram:CityName>Lyon</ram:CityName>
          <ram:CountryID>FR</ram:CountryID>
        </ram:PostalTradeAddress>
        <ram:URIUniversalCommunication>
          <ram:URIID schemeID="0009">12345678200010</ram:URIID>
        </ram:URIUniversalCommunication>
        <ram:SpecifiedTaxRegistration>
          <ram:ID schemeID="VA">FR32123456789</ram:ID>
        </ram:SpecifiedTaxRegistration>
      </ram:SellerTradeParty>
      <ram:BuyerTradeParty>
        <ram:ID>CUST-042</ram:ID>
        <ram:Name>Mecanique Alpine SA</ram:Name>
        <ram:SpecifiedLegalOrganization>
          <ram:ID schemeID="0002">987654321</ram:ID>
        </ram:SpecifiedLegalOrganization>
        <ram:DefinedTradeContact>
          <ram:PersonName>Paul Durand</ram:PersonName>
          <ram:EmailURIUniversalCommunication>
            <ram:URIID>ap@mecanique-alpine.example</ram:URIID>
          </ram:EmailURIUniversalCommunication>
        </ram:DefinedTradeContact>
        <ram:PostalTradeAddress>
          <ram:PostcodeCode>38000</ram:PostcodeCode>
          <ram:LineOne>5 Avenue des Usines</ram:LineOne>
          <ram:CityName>Grenoble</ram:CityName>
          <ram:CountryID>FR</ram:CountryID>
        </ram:PostalTradeAddress>
        <ram:URIUniversalCommunication>
          <ram:URIID schemeID="0009">98765432100027</ram:URIID>
        </ram:URIUniversalCommunication>
        <ram:SpecifiedTaxRegistration>
          <ram:ID schemeID="VA">FR61987654321</ram:ID>
        </ram:SpecifiedTaxRegistration>
      </ram:BuyerTradeParty>
      <ram:BuyerOrderReferencedDocument>
        <ram:IssuerAssignedID>PO-4711</ram:IssuerAssignedID>
      </ram:BuyerOrderReferencedDocument>
      <ram:ContractReferencedDocument>
        <ram:IssuerAssignedID>FA-7</ram:IssuerAssignedID>
      </ram:ContractReferencedDocument>
    </ram:ApplicableHeaderTradeAgreement>
    <ram:ApplicableHeaderTradeDelivery>
      <ram:ShipToTradeParty>
        <ram:PostalTradeAddress>
          <ram:PostcodeCode>38000</ram:PostcodeCode>
          <ram:LineOne>Quai 3, 5 Avenue des Usines</ram:LineOne>
          <ram:CityName>Grenoble</ram:CityName>
          <ram:CountryID>FR</ram:CountryID>
        </ram:PostalTradeAddress>
      </ram:ShipToTradeParty>
      <ram:ActualDeliverySupplyChainEvent>
        <ram:OccurrenceDateTime>
          <udt:DateTimeString format="102">20240314</udt:DateTimeString>
        </ram:OccurrenceDateTime>
      </ram:ActualDeliverySupplyChainEvent>
    </ram:ApplicableHeaderTradeDelivery>
    <ram:ApplicableHeaderTradeSettlement>
      <ram:PaymentReference>INV-2024-000123</ram:PaymentReference>
      <ram:InvoiceCurrencyCode>EUR</ram:InvoiceCurrencyCode>
      <ram:SpecifiedTradeSettlementPaymentMeans>
        <ram:TypeCode>30</ram:TypeCode>
        <ram:Information>Credit transfer</ram:Information>
        <ram:PayeePartyCreditorFinancialAccount>
          <ram:IBANID>FR7630006000011234567890189</ram:IBANID>
          <ram:AccountName>Acier Industriel SARL</ram:AccountName>
        </ram:PayeePartyCreditorFinancialAccount>
        <ram:PayeeSpecifiedCreditorFinancialInstitution>
          <ram:BICID>AGRIFRPP</ram:BICID>
        </ram:PayeeSpecifiedCreditorFinancialInstitution>
      </ram:SpecifiedTradeSettlementPaymentMeans>
"#,
    );
    for (rate, taxable, tax) in &t.breakdown {
        let _ = write!(
            s,
            r#"      <ram:ApplicableTradeTax>
        <ram:CalculatedAmount>{}</ram:CalculatedAmount>
        <ram:TypeCode>VAT</ram:TypeCode>
        <ram:BasisAmount>{}</ram:BasisAmount>
        <ram:CategoryCode>S</ram:CategoryCode>
        <ram:RateApplicablePercent>{rate}</ram:RateApplicablePercent>
      </ram:ApplicableTradeTax>
"#,
            cents(*tax),
            cents(*taxable)
        );
    }
    let _ = write!(
        s,
        r#"      <ram:BillingSpecifiedPeriod>
        <ram:StartDateTime><udt:DateTimeString format="102">{}</udt:DateTimeString></ram:StartDateTime>
        <ram:EndDateTime><udt:DateTimeString format="102">{}</udt:DateTimeString></ram:EndDateTime>
      </ram:BillingSpecifiedPeriod>
      <ram:SpecifiedTradeAllowanceCharge>
        <ram:ChargeIndicator><udt:Indicator>false</udt:Indicator></ram:ChargeIndicator>
        <ram:ActualAmount>{}</ram:ActualAmount>
        <ram:ReasonCode>95</ram:ReasonCode>
        <ram:Reason>Discount</ram:Reason>
        <ram:CategoryTradeTax>
          <ram:TypeCode>VAT</ram:TypeCode>
          <ram:CategoryCode>S</ram:CategoryCode>
          <ram:RateApplicablePercent>20</ram:RateApplicablePercent>
        </ram:CategoryTradeTax>
      </ram:SpecifiedTradeAllowanceCharge>
      <ram:SpecifiedTradeAllowanceCharge>
        <ram:ChargeIndicator><udt:Indicator>true</udt:Indicator></ram:ChargeIndicator>
        <ram:ActualAmount>{}</ram:ActualAmount>
        <ram:ReasonCode>FC</ram:ReasonCode>
        <ram:Reason>Freight</ram:Reason>
        <ram:CategoryTradeTax>
          <ram:TypeCode>VAT</ram:TypeCode>
          <ram:CategoryCode>S</ram:CategoryCode>
          <ram:RateApplicablePercent>20</ram:RateApplicablePercent>
        </ram:CategoryTradeTax>
      </ram:SpecifiedTradeAllowanceCharge>
      <ram:SpecifiedTradePaymentTerms>
        <ram:Description>Payment within 30 days, 2 % late interest per month.</ram:Description>
        <ram:DueDateDateTime><udt:DateTimeString format="102">{}</udt:DateTimeString></ram:DueDateDateTime>
      </ram:SpecifiedTradePaymentTerms>
      <ram:SpecifiedTradeSettlementHeaderMonetarySummation>
        <ram:LineTotalAmount>{}</ram:LineTotalAmount>
        <ram:ChargeTotalAmount>{}</ram:ChargeTotalAmount>
        <ram:AllowanceTotalAmount>{}</ram:AllowanceTotalAmount>
        <ram:TaxBasisTotalAmount>{}</ram:TaxBasisTotalAmount>
        <ram:TaxTotalAmount currencyID="EUR">{}</ram:TaxTotalAmount>
        <ram:GrandTotalAmount>{}</ram:GrandTotalAmount>
        <ram:DuePayableAmount>{}</ram:DuePayableAmount>
      </ram:SpecifiedTradeSettlementHeaderMonetarySummation>
    </ram:ApplicableHeaderTradeSettlement>
  </rsm:SupplyChainTradeTransaction>
</rsm:CrossIndustryInvoice>
"#,
        d102("2024-03-01"),
        d102("2024-03-31"),
        cents(t.allowance),
        cents(t.charge),
        d102("2024-04-14"),
        cents(t.line_total),
        cents(t.charge),
        cents(t.allowance),
        cents(t.without),
        cents(t.tax),
        cents(t.with),
        cents(t.with)
    );
    s
}

/// A valid China fully digitalized e-invoice with `n` item lines (13 % and 6 % VAT).
pub fn cn_einvoice(n: usize) -> String {
    let mut items = String::new();
    let (mut total, mut tax) = (0i64, 0i64);
    for i in 1..=n {
        let qty = i as i64 % 5 + 1;
        let price = 8800 + i as i64 * 137;
        let amt = qty * price;
        let rate = if i % 3 == 0 { 6 } else { 13 };
        let t = div_round(amt * rate, 100);
        total += amt;
        tax += t;
        let _ = write!(
            items,
            r#"    <IssuItemInformation>
      <ItemName>*金属制品*钢结构件{i}</ItemName>
      <SpecMod>Q355B</SpecMod>
      <MeaUnits>件</MeaUnits>
      <Quantity>{qty}</Quantity>
      <UnPrice>{}</UnPrice>
      <Amount>{}</Amount>
      <TaxRate>0.{rate:02}</TaxRate>
      <ComTaxAm>{}</ComTaxAm>
      <TotaltaxIncludedAmount>{}</TotaltaxIncludedAmount>
      <TaxClassificationCode>1080413010000000000</TaxClassificationCode>
    </IssuItemInformation>
"#,
            cents(price),
            cents(amt),
            cents(t),
            cents(amt + t)
        );
    }
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<EInvoice>
  <Header>
    <EIid>24312000000001234567</EIid>
    <EInvoiceTag>SWEI3100</EInvoiceTag>
    <Version>0.1</Version>
    <InherentLabel>
      <EInvoiceType>
        <LabelCode>01</LabelCode>
        <LabelName>增值税专用发票</LabelName>
      </EInvoiceType>
    </InherentLabel>
  </Header>
  <EInvoiceData>
    <SellerInformation>
      <SellerIdNum>91310000MA1FL8XQ37</SellerIdNum>
      <SellerName>上海钢构制造有限公司</SellerName>
      <SellerAddr>上海市浦东新区张江路88号</SellerAddr>
      <SellerTelNum>021-50000000</SellerTelNum>
      <SellerBankName>中国工商银行上海分行</SellerBankName>
      <SellerBankAccNum>1001234509000012345</SellerBankAccNum>
    </SellerInformation>
    <BuyerInformation>
      <BuyerIdNum>91110108551385082Q</BuyerIdNum>
      <BuyerName>北京工业设备有限公司</BuyerName>
      <BuyerAddr>北京市海淀区中关村大街1号</BuyerAddr>
    </BuyerInformation>
    <BasicInformation>
      <TotalAmWithoutTax>{}</TotalAmWithoutTax>
      <TotalTaxAm>{}</TotalTaxAm>
      <TotalTax-includedAmount>{}</TotalTax-includedAmount>
      <RequestTime>2024-03-15 10:20:30</RequestTime>
      <Drawer>张三</Drawer>
    </BasicInformation>
{items}    <AdditionalInformation>
      <Remark>合同号 FA-7</Remark>
    </AdditionalInformation>
  </EInvoiceData>
  <TaxSupervisionInfo>
    <InvoiceNumber>24312000000001234567</InvoiceNumber>
    <IssueTime>2024-03-15 10:20:30</IssueTime>
    <TaxBureauCode>13100000000</TaxBureauCode>
    <TaxBureauName>国家税务总局上海市税务局</TaxBureauName>
  </TaxSupervisionInfo>
</EInvoice>
"#,
        cents(total),
        cents(tax),
        cents(total + tax)
    )
}
