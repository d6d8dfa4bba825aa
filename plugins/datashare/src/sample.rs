//! Sample inputs for examples, benchmarks and tests: a 10-rule sharing policy, a shared
//! event and a ≈2 KB customer record with personal information.

use serde_json::{Value, json};
use weft_sdk::Event;

/// A policy with ten rules (eight permissions to partners with purpose, time and
/// collection constraints, two prohibitions), in Turtle.
pub fn policy_10_rules() -> String {
    let mut s = String::from(
        "@prefix odrl: <http://www.w3.org/ns/odrl/2/> .
@prefix ex: <http://example.com/> .
@prefix dpv: <https://w3id.org/dpv#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
ex:partners a odrl:PartyCollection .
ex:sharing a odrl:Set; odrl:target ex:orders;
    odrl:prohibition ex:noBroker, ex:noResale;
    odrl:permission ",
    );
    let perms: Vec<String> = (0..8).map(|i| format!("ex:perm{i}")).collect();
    s.push_str(&perms.join(", "));
    s.push_str(" .\n");
    for i in 0..8 {
        s.push_str(&format!(
            "ex:perm{i} odrl:assignee {}; odrl:action odrl:distribute;
    odrl:constraint [ a odrl:LogicalConstraint; odrl:and (
        [ odrl:leftOperand odrl:purpose; odrl:operator odrl:isAnyOf; odrl:rightOperand dpv:ServiceProvision, dpv:ResearchAndDevelopment ]
        [ odrl:leftOperand odrl:dateTime; odrl:operator odrl:gteq; odrl:rightOperand \"2024-01-01T00:00:00Z\"^^xsd:dateTime ]
        [ odrl:leftOperand odrl:dateTime; odrl:operator odrl:lt; odrl:rightOperand \"2099-01-01\"^^xsd:date ] ) ] .\n",
            if i == 7 { "ex:partners".to_string() } else { format!("ex:partner{i}") }
        ));
    }
    s.push_str(
        "ex:noBroker odrl:assignee ex:broker; odrl:action odrl:distribute .
ex:noResale odrl:assignee ex:partners; odrl:action odrl:sell .\n",
    );
    s
}

/// The state of the world of [`policy_10_rules`]: the bank is a partner.
pub const SOTW: &str = "<http://example.com/bank> <http://www.w3.org/ns/odrl/2/partOf> <http://example.com/partners> .";

/// A shared-order event for [`policy_10_rules`]: recipient the bank (the eighth
/// permission, through the partner collection), purpose service provision.
pub fn share_event() -> Event {
    let mut e = Event::new("order-1", "/erp", "com.example.order.shared")
        .with_subject("http://example.com/orders")
        .with_json(&json!({"orderId": "PO-1", "total": "99.00"}));
    e.set_extension("recipient", "http://example.com/bank");
    e.set_extension("purpose", "https://w3id.org/dpv#ServiceProvision");
    e
}

/// A 2 KB customer record (2,061 bytes as compact JSON) with identity numbers, credit
/// codes, mobiles, card numbers, e-mail addresses and names.
pub fn record_2kb() -> Value {
    let contact = |i: u32| {
        json!({
            "name": format!("联系人{i}"),
            "mobile": format!("1380013{:04}", 8000 + i),
            "email": format!("contact{i}@example.com.cn"),
            "idNo": "11010519491231002X",
            "note": format!("客户回访记录 {i}：已确认收货地址与开票信息，无异常。"),
        })
    };
    json!({
        "customerId": "C-000123",
        "tags": ["VIP", "华东区", "月结客户"],
        "company": {"name": "示例贸易有限公司", "uscc": "91350100M000100Y43", "address": "上海市浦东新区世纪大道100号"},
        "account": {"bank": "中国银行上海分行", "card": "6222 0202 0000 0000 006", "currency": "CNY"},
        "contacts": (0..6).map(contact).collect::<Vec<_>>(),
        "shipping": {"receiver": "王五", "address": "北京市朝阳区建国路88号", "mobile": "+86 139 1234 5678"},
        "orders": (0..6).map(|i| json!({"orderId": format!("PO-2024-{i:04}"), "amount": format!("{}.00", 1000 + i * 37), "status": "shipped"})).collect::<Vec<_>>(),
        "remarks": "付款请联系 finance@example.com.cn 或 +86 138-0013-8000，卡号 4111 1111 1111 1111。",
    })
}

/// A `com.example.customer.updated` event carrying [`record_2kb`].
pub fn record_event() -> Event {
    Event::new("c-1", "/crm", "com.example.customer.updated").with_json(&record_2kb())
}
