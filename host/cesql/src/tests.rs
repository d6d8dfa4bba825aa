//! Tests derived from the CESQL v1 text, section by section.

use super::*;

use ErrorKind::{Cast, FunctionEvaluation, Math, MissingAttribute, MissingFunction};

/// An event with every optional context attribute and a few extensions.
fn event() -> Event {
    let mut e = Event::new("myId", "https://example.com/source", "com.example.created");
    e.subject = Some("mySubject".into());
    e.time = Some("2018-04-26T14:48:09+02:00".into());
    e.datacontenttype = Some("application/json".into());
    e.dataschema = Some("https://example.com/schema".into());
    for (k, v) in [
        ("sequence", "10"),
        ("hop", "5"),
        ("ttl", "10"),
        ("firstname", "Francesco"),
        ("lastname", "Guardiani"),
        ("flag", "TRUE"),
        ("word", "abc"),
        ("spaced", "  a b  "),
        ("unicode", "Ünïcödé"),
        ("empty", ""),
    ] {
        e.extensions.insert(k.into(), v.into());
    }
    e
}

fn eval(src: &str) -> Evaluation {
    Expression::parse(src)
        .unwrap_or_else(|e| panic!("`{src}` should parse: {e}"))
        .eval(&event())
}

/// `src` evaluates to `value` without error.
fn ok(src: &str, value: impl Into<Value>) {
    let e = eval(src);
    assert_eq!(
        (e.value.clone(), e.error.as_ref().map(|e| e.kind)),
        (value.into(), None),
        "`{src}`: {:?}",
        e.error
    );
}

/// `src` evaluates to `value` and reports an error of `kind`.
fn err(src: &str, value: impl Into<Value>, kind: ErrorKind) {
    let e = eval(src);
    assert_eq!(
        (e.value.clone(), e.error.as_ref().map(|e| e.kind)),
        (value.into(), Some(kind)),
        "`{src}`: {:?}",
        e.error
    );
    assert!(!e.error.unwrap().message.is_empty());
}

fn parse_error(src: &str) {
    match Expression::parse(src) {
        Err(e) => assert_eq!(e.kind, ErrorKind::Parse, "`{src}`"),
        Ok(x) => panic!("`{src}` should not parse: {x:?}"),
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<i32> for Value {
    fn from(i: i32) -> Self {
        Value::Integer(i)
    }
}
impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.into())
    }
}

// §2 syntax: case-insensitive keywords.
#[test]
fn s2_keywords_are_case_insensitive() {
    ok("int(hop) < int(ttl) and int(hop) < 1000", true);
    ok("INT(hop) < INT(ttl) AND INT(hop) < 1000", true);
    ok("true", true);
    ok("TrUe", true);
    ok("fAlSe", false);
    ok("NoT fAlSe", true);
    ok("'abc' lIkE 'a%'", true);
    ok("exists ID", true);
    ok("1 In (1)", true);
    ok("lower('A') = 'a' xOr FALSE", true);
    ok("SEQUENCE = 10", true);
}

// §2.2 literals.
#[test]
fn s2_2_literals() {
    ok("TRUE", true);
    ok("FALSE", false);
    ok("0", 0);
    ok("1", 1);
    ok("-1", -1);
    ok("+7", 7);
    ok("2147483647", i32::MAX);
    ok("-2147483648", i32::MIN);
    parse_error("2147483648");
    parse_error("-2147483649");
    ok("'abc'", "abc");
    ok("\"abc\"", "abc");
    ok("'aBc'", "aBc");
    ok(r#"'a"b\'c'"#, "a\"b'c");
    ok(r#""a'b\"c""#, "a'b\"c");
    ok("''", "");
    ok("'日本語'", "日本語");
    parse_error("'unterminated");
    parse_error("\"unterminated");
}

// §2.2 value identifiers and §3.2 attribute access.
#[test]
fn s3_2_context_attributes_and_extensions() {
    ok("id", "myId");
    ok("source", "https://example.com/source");
    ok("specversion", "1.0");
    ok("type", "com.example.created");
    ok("subject", "mySubject");
    ok("time", "2018-04-26T14:48:09+02:00");
    ok("datacontenttype", "application/json");
    ok("dataschema", "https://example.com/schema");
    ok("firstname", "Francesco");
    parse_error("first_name");
}

#[test]
fn s3_2_json_events_keep_integer_and_boolean_extension_types() {
    let e = JsonEvent::from_json_slice(
        br#"{"specversion":"1.0","id":"1","source":"/s","type":"t","myint":10,"mybool":true,"mystr":"10"}"#,
    )
    .unwrap();
    let run = |src: &str| Expression::parse(src).unwrap().eval_with(&e);
    assert_eq!(run("myint").value, Value::Integer(10));
    assert_eq!(run("mybool").value, Value::Bool(true));
    assert_eq!(run("mystr").value, Value::String("10".into()));
    assert_eq!(run("myint = '10'").value, Value::Bool(true));
    assert_eq!(run("myint + 1").value, Value::Integer(11));
    assert_eq!(run("mybool = 'true'").value, Value::Bool(true));
    assert_eq!(run("mybool AND TRUE").value, Value::Bool(true));
    assert_eq!(run("myint LIKE '1_'").value, Value::Bool(true));
}

#[test]
fn s3_2_missing_attributes_give_the_zero_value_of_the_subexpression_type() {
    // The spec's own examples.
    err(
        "true AND (missingattribute = \"\")",
        false,
        MissingAttribute,
    );
    err("missingattribute * 5", 0, MissingAttribute);
    err("1 / missingattribute", 0, MissingAttribute);
    // A bare attribute: the type cannot be determined, Boolean is assumed.
    err("missing", false, MissingAttribute);
    err("subject2", false, MissingAttribute);
    // Each operator's own zero value, and no other error.
    err("missing / 0", 0, MissingAttribute);
    err("missing % 0", 0, MissingAttribute);
    err("missing = 2", false, MissingAttribute);
    err("missing != 2", false, MissingAttribute);
    err("missing <> 2", false, MissingAttribute);
    err("missing <= 2", false, MissingAttribute);
    err("NOT missing", false, MissingAttribute);
    err("-missing", 0, MissingAttribute);
    err("missing LIKE '%'", false, MissingAttribute);
    err("missing NOT LIKE 'x'", false, MissingAttribute);
    err("missing IN (1, 2)", false, MissingAttribute);
    err("missing NOT IN (1, 2)", false, MissingAttribute);
    err("1 IN (missing, 1)", false, MissingAttribute);
    err("LENGTH(missing)", 0, MissingAttribute);
    err("UPPER(missing)", "", MissingAttribute);
    err("CONCAT('a', missing)", "", MissingAttribute);
    err("ABS(missing)", 0, MissingAttribute);
    err("NOT (missing = 2)", false, MissingAttribute);
    err("(missing = 2) = FALSE", false, MissingAttribute);
    err("LENGTH(missing) + 1", 0, MissingAttribute);
    // Short-circuit: the right side is never evaluated.
    ok("FALSE AND missing", false);
    ok("TRUE OR missing", true);
    err("TRUE AND missing", false, MissingAttribute);
    err("FALSE OR missing", false, MissingAttribute);
    err("missing OR TRUE", false, MissingAttribute);
    err("FALSE XOR missing", false, MissingAttribute);
    // The first error is reported.
    let e = eval("missing1 + missing2");
    assert!(e.error.unwrap().message.contains("missing1"));
}

// §3.3: every error kind can be produced and each has a message.
#[test]
fn s3_3_error_kinds() {
    parse_error("1 +");
    err("1 / 0", 0, Math);
    err("INT('x')", 0, Cast);
    err("missing", false, MissingAttribute);
    err("NOPE()", false, MissingFunction);
    err("LEFT('abc', -1)", "abc", FunctionEvaluation);
    let names: Vec<&str> = [
        ErrorKind::Parse,
        Math,
        Cast,
        MissingFunction,
        FunctionEvaluation,
        MissingAttribute,
        ErrorKind::Generic,
    ]
    .iter()
    .map(|k| k.as_str())
    .collect();
    assert_eq!(
        names,
        [
            "parse",
            "math",
            "cast",
            "missingFunction",
            "functionEvaluation",
            "missingAttribute",
            "generic"
        ]
    );
    for name in names {
        assert_eq!(ErrorKind::from_name(name).unwrap().as_str(), name);
    }
}

// §3.4.1 unary operators.
#[test]
fn s3_4_1_unary_operators() {
    ok("NOT TRUE", false);
    ok("NOT FALSE", true);
    ok("NOT 'TRUE'", false);
    ok("NOT 'false'", true);
    // Integer -> Boolean is a supported cast (§3.7): 10 is true.
    ok("NOT 10", false);
    ok("NOT 0", true);
    err("NOT 'abc'", true, Cast);
    ok("-10", -10);
    ok("--10", 10);
    ok("- -10", 10);
    ok("-'10'", -10);
    ok("--'10'", 10);
    ok("-TRUE", -1);
    ok("-FALSE", 0);
    err("-'x'", 0, Cast);
    ok("-2147483647", -i32::MAX);
    ok("-(-2147483647)", i32::MAX);
    err("-(-2147483648)", i32::MAX, Math);
    err("-INT('-2147483648')", i32::MAX, Math);
}

// §3.4.2 binary operators: equality on each type.
#[test]
fn s3_4_2_equality() {
    ok("TRUE = FALSE", false);
    ok("FALSE = FALSE", true);
    ok("1 = 2", false);
    ok("2 = 2", true);
    ok("'abc' = '123'", false);
    ok("'abc' = 'abc'", true);
    ok("'abc' = 'ABC'", false);
    for op in ["!=", "<>"] {
        ok(&format!("TRUE {op} FALSE"), true);
        ok(&format!("FALSE {op} FALSE"), false);
        ok(&format!("1 {op} 2"), true);
        ok(&format!("2 {op} 2"), false);
        ok(&format!("'abc' {op} '123'"), true);
        ok(&format!("'abc' {op} 'abc'"), false);
        ok(&format!("'abc' {op} 'ABC'"), true);
    }
}

#[test]
fn s3_4_2_ordering() {
    ok("1 < 2", true);
    ok("2 < 2", false);
    ok("2 <= 2", true);
    ok("3 <= 2", false);
    ok("2 > 1", true);
    ok("2 > 2", false);
    ok("2 >= 2", true);
    ok("2 >= 3", false);
    ok("-5 < 3", true);
    // Integer only: strings are cast, so numeric and not lexicographic order.
    ok("hop < ttl", true);
    ok("'9' < '10'", true);
    ok("TRUE > FALSE", true);
    err("'abc' < 1", true, Cast);
    err("1 < 'abc'", false, Cast);
}

#[test]
fn s3_4_2_logic() {
    for (a, b) in [(false, false), (false, true), (true, false), (true, true)] {
        ok(&format!("{a} AND {b}"), a && b);
        ok(&format!("{a} OR {b}"), a || b);
        ok(&format!("{a} XOR {b}"), a ^ b);
    }
    // Casting of operands to Boolean.
    ok("'true' AND 'TRUE'", true);
    ok("1 AND 2", true);
    ok("0 OR 0", false);
    err("'yes' AND TRUE", false, Cast);
    err("TRUE AND 'yes'", false, Cast);
    // Short circuit (§3.4.2, §3.6).
    ok("FALSE AND (1 != 1 / 0)", false);
    err("TRUE AND (1 != 1 / 0)", false, Math);
    ok("TRUE OR (1 != 1 / 0)", true);
    err("FALSE OR (1 != 1 / 0)", false, Math);
    err("TRUE XOR (1 = 1 / 0)", false, Math);
}

#[test]
fn s3_4_2_arithmetic() {
    ok("4 + 1", 5);
    ok("-4 + 1", -3);
    ok("-4 + -1", -5);
    ok("4 + -1", 3);
    ok("4 - 1", 3);
    ok("-4 - 1", -5);
    ok("5-3", 2);
    ok("3 * 4", 12);
    ok("-3 * 4", -12);
    // Division truncates towards zero.
    ok("5 / 3", 1);
    ok("-5 / 3", -1);
    ok("5 / -3", -1);
    ok("-5 / -3", 1);
    // The remainder has the sign of the dividend.
    ok("5 % 2", 1);
    ok("-5 % 3", -2);
    ok("5 % -3", 2);
    ok("-5 % -3", -2);
    err("5 / 0", 0, Math);
    err("5 % 0", 0, Math);
    err("0 / 0", 0, Math);
    // Implicit casts to Integer.
    ok("'5' + 3", 8);
    ok("5 + '3'", 8);
    ok("'5' + '3'", 8);
    ok("5 + TRUE", 6);
    ok("sequence + 1", 11);
    err("'abc' + 1", 1, Cast);
    err("1 + 'abc'", 1, Cast);
}

#[test]
fn s3_1_integer_range_is_32_bits() {
    ok("2147483646 + 1", i32::MAX);
    err("2147483647 + 1", i32::MAX, Math);
    err("-2147483648 - 1", i32::MIN, Math);
    err("65536 * 65536", i32::MAX, Math);
    err("-65536 * 65536", i32::MIN, Math);
    err("-2147483648 / -1", i32::MAX, Math);
    ok("-2147483648 % -1", 0);
    ok("-2147483648 / 1", i32::MIN);
    err("ABS(-2147483648)", i32::MAX, Math);
    // An error inside makes the enclosing operator give its zero value.
    err("(2147483647 + 1) - 1", 0, Math);
    err("INT('2147483648')", 0, Cast);
}

// §3.4.3 LIKE.
#[test]
fn s3_4_3_like() {
    ok("'abc' LIKE 'abc'", true);
    ok(r"'ab\c' LIKE 'ab\c'", true);
    ok("'abc' NOT LIKE 'abc'", false);
    ok("'abc' LIKE 'a%b%c'", true);
    ok("'azzzbzzzc' LIKE 'a%b%c'", true);
    ok("'ac' LIKE 'abc'", false);
    ok("'' LIKE 'abc'", false);
    ok("'' LIKE '%'", true);
    ok("'abc' LIKE 'a_b_c'", false);
    ok("'azbzc' LIKE 'a_b_c'", true);
    ok(r"'a_b_c' LIKE 'a\_b\_c'", true);
    ok(r"'azbzc' LIKE 'a\_b\_c'", false);
    ok(r"'a%b%c' LIKE 'a\%b\%c'", true);
    ok(r"'abc' LIKE 'a\%b\%c'", false);
    // The spec's examples.
    ok("'ab' LIKE '_b%'", true);
    ok("'abcd1' LIKE '_b%'", true);
    ok("'b' LIKE '_b%'", false);
    ok("'aBc' LIKE '_b%'", false);
    ok(r"'abc%' LIKE 'abc\%'", true);
    ok(r"'abcd' LIKE 'abc\%'", false);
    // Left operand cast to String.
    ok("234 LIKE '23_'", true);
    ok("2344 LIKE '23%'", true);
    ok("2344 LIKE '23_'", false);
    ok("TRUE LIKE 'tr%'", true);
    ok("FALSE LIKE 'fal%'", true);
    ok("-12 LIKE '-1_'", true);
    // Attributes.
    ok("type LIKE 'com.example.%'", true);
    ok("source LIKE 'https://%'", true);
    ok("source NOT LIKE 'http://%'", true);
    ok("unicode LIKE '_n%'", true);
    ok("\"abc\" LIKE \"a%\"", true);
    // The pattern must be a string literal.
    parse_error("'abc' LIKE word");
    parse_error("'abc' LIKE 1");
    parse_error("'abc' LIKE CONCAT('a', '%')");
    parse_error("'abc' LIKE");
}

// §3.4.4 EXISTS.
#[test]
fn s3_4_4_exists() {
    for attr in ["id", "source", "type", "specversion"] {
        ok(&format!("EXISTS {attr}"), true);
    }
    ok("EXISTS subject", true);
    ok("EXISTS sequence", true);
    ok("EXISTS empty", true);
    ok("EXISTS missing", false);
    ok("NOT EXISTS missing", true);
    ok("EXISTS data", false);
    let bare = Expression::parse("EXISTS subject").unwrap();
    assert_eq!(
        bare.eval(&Event::new("1", "/s", "t")).value,
        Value::Bool(false)
    );
    parse_error("EXISTS 'id'");
    parse_error("EXISTS (id)");
    parse_error("EXISTS");
}

// §3.4.5 IN.
#[test]
fn s3_4_5_in() {
    ok("'abc' IN ('abc', 'bcd')", true);
    ok("'abc' IN ('bcd', 'abc')", true);
    ok("'abc' IN ('bcd', 'cde')", false);
    ok("'abc' NOT IN ('bcd', 'cde')", true);
    ok("'abc' NOT IN ('abc')", false);
    ok("123 IN (123, 456)", true);
    ok("123 IN (456)", false);
    ok("TRUE IN (TRUE, FALSE)", true);
    ok("FALSE IN (TRUE)", false);
    // The left operand's type is the target type of the elements.
    ok("123 IN ('123')", true);
    ok("'123' IN (123)", true);
    ok("'TRUE' IN (TRUE)", false);
    ok("TRUE IN ('true')", true);
    ok("TRUE IN ('TRUE')", true);
    ok("sequence IN (1, 10)", true);
    ok("sequence IN ('1', '10')", true);
    ok("id IN ('a', 'myId')", true);
    err("123 IN ('abc')", false, Cast);
    // Elements may be expressions.
    ok("6 IN (1 + 5)", true);
    ok("'ab' IN (CONCAT('a', 'b'))", true);
    parse_error("1 IN ()");
    parse_error("1 IN 1");
    parse_error("1 IN (1");
}

// §3.5.1 string functions.
#[test]
fn s3_5_1_length() {
    ok("LENGTH('abc')", 3);
    ok("LENGTH('')", 0);
    ok("LENGTH('2')", 1);
    ok("LENGTH(TRUE)", 4);
    ok("LENGTH(-10)", 3);
    ok("LENGTH('日本語')", 3);
    ok("LENGTH(unicode)", 7);
    err("LENGTH()", false, MissingFunction);
    err("LENGTH('a', 'b')", false, MissingFunction);
}

#[test]
fn s3_5_1_concat_and_concat_ws() {
    ok("CONCAT('a', 'b', 'c')", "abc");
    ok("CONCAT()", "");
    ok("CONCAT('a')", "a");
    ok("CONCAT('a', 1, TRUE)", "a1true");
    ok("CONCAT(firstname, ' ', lastname)", "Francesco Guardiani");
    ok("CONCAT_WS(',', 'a', 'b', 'c')", "a,b,c");
    ok("CONCAT_WS(',')", "");
    ok("CONCAT_WS(',', 'a')", "a");
    ok("CONCAT_WS(', ', 'a', '', 'c')", "a, , c");
    ok("CONCAT_WS(1, 'a', 'b')", "a1b");
    err("CONCAT_WS()", false, MissingFunction);
}

#[test]
fn s3_5_1_lower_upper_trim() {
    ok("LOWER('ABC')", "abc");
    ok("LOWER('AbC')", "abc");
    ok("LOWER('abc')", "abc");
    ok("LOWER('ÀÉÎ')", "àéî");
    ok("LOWER(TRUE)", "true");
    ok("UPPER('ABC')", "ABC");
    ok("UPPER('AbC')", "ABC");
    ok("UPPER('abc')", "ABC");
    ok("UPPER('straße')", "STRASSE");
    ok("TRIM('   a b c   ')", "a b c");
    ok("TRIM('   a b c')", "a b c");
    ok("TRIM('a b c   ')", "a b c");
    ok("TRIM('a b c')", "a b c");
    ok("TRIM(spaced)", "a b");
    // Unicode whitespace is trimmed, control characters are not.
    ok("TRIM('\u{2003}x\u{3000}')", "x");
    ok("TRIM('\u{1}x\u{1}')", "\u{1}x\u{1}");
    ok("TRIM('')", "");
}

#[test]
fn s3_5_1_left_right() {
    ok("LEFT('abc', 2)", "ab");
    ok("LEFT('abc', 10)", "abc");
    ok("LEFT('abc', 3)", "abc");
    ok("LEFT('abc', 0)", "");
    ok("LEFT('', 0)", "");
    ok("LEFT('日本語', 2)", "日本");
    err("LEFT('abc', -2)", "abc", FunctionEvaluation);
    ok("RIGHT('abc', 2)", "bc");
    ok("RIGHT('abc', 10)", "abc");
    ok("RIGHT('abc', 0)", "");
    ok("RIGHT('', 0)", "");
    ok("RIGHT('日本語', 2)", "本語");
    err("RIGHT('abc', -2)", "abc", FunctionEvaluation);
    ok("LEFT(12345, '2')", "12");
    err("LEFT('abc', 'x')", "", Cast);
}

#[test]
fn s3_5_1_substring() {
    ok("SUBSTRING('abcdef', 1)", "abcdef");
    ok("SUBSTRING('abcdef', 2)", "bcdef");
    ok("SUBSTRING('Quadratically', 5)", "ratically");
    ok("SUBSTRING('Sakila', -3)", "ila");
    ok("SUBSTRING('abcdef', 6)", "f");
    ok("SUBSTRING('abcdef', -6)", "abcdef");
    ok("SUBSTRING('abcdef', 1, 6)", "abcdef");
    ok("SUBSTRING('abcdef', 2, 4)", "bcde");
    ok("SUBSTRING('Sakila', -5, 3)", "aki");
    ok("SUBSTRING('abcdef', 3, 100)", "cdef");
    ok("SUBSTRING('abcdef', 3, 0)", "");
    ok("SUBSTRING('Quadratically', 0)", "");
    ok("SUBSTRING('Quadratically', 0, 1)", "");
    ok("SUBSTRING('日本語', 2, 1)", "本");
    ok("SUBSTRING('日本語', -1)", "語");
    err("SUBSTRING('abcdef', 10)", "", FunctionEvaluation);
    err("SUBSTRING('abcdef', 7)", "", FunctionEvaluation);
    err("SUBSTRING('abcdef', -10)", "", FunctionEvaluation);
    err("SUBSTRING('abcdef', -7)", "", FunctionEvaluation);
    err("SUBSTRING('abcdef', 10, 10)", "", FunctionEvaluation);
    err("SUBSTRING('abcdef', -10, 10)", "", FunctionEvaluation);
    err("SUBSTRING('abcdef', 1, -1)", "", FunctionEvaluation);
    err("SUBSTRING('', 1)", "", FunctionEvaluation);
    ok("SUBSTRING('', 0)", "");
    err(
        "SUBSTRING('abcdef', 2147483647, 0) = ''",
        false,
        FunctionEvaluation,
    );
    ok("SUBSTRING('abcdef', 1, 2147483647)", "abcdef");
    err("SUBSTRING('abc')", false, MissingFunction);
    err("SUBSTRING('abc', 1, 2, 3)", false, MissingFunction);
}

// §3.5.2 math functions.
#[test]
fn s3_5_2_abs() {
    ok("ABS(10)", 10);
    ok("ABS(-10)", 10);
    ok("ABS(0)", 0);
    ok("ABS('-3')", 3);
    ok("ABS(2147483647)", i32::MAX);
    ok("ABS(-2147483647)", i32::MAX);
    err("ABS(-2147483648)", i32::MAX, Math);
    err("ABS('x')", 0, Cast);
}

// §3.5 dispatch: unknown names and wrong arities.
#[test]
fn s3_5_missing_functions() {
    err("NOPE()", false, MissingFunction);
    err("NOPE(1, 2)", false, MissingFunction);
    err("ABS(1, 2)", false, MissingFunction);
    err("NOPE(1) = FALSE", false, MissingFunction);
    err("LENGTH(NOPE(1))", 0, MissingFunction);
    ok("abs(-1)", 1);
    ok("Concat_Ws('-', 'a', 'b')", "a-b");
    let e = eval("NOPE(1, 2)").error.unwrap();
    assert!(e.message.contains("NOPE") && e.message.contains('2'), "{e}");
}

// §3.7 casting functions and table.
#[test]
fn s3_7_casting_functions() {
    ok("INT('1')", 1);
    ok("INT('-1')", -1);
    ok("INT('+1')", 1);
    ok("INT(1)", 1);
    ok("INT(-1)", -1);
    ok("INT(TRUE)", 1);
    ok("INT(FALSE)", 0);
    err("INT('ABC')", 0, Cast);
    err("INT('1.5')", 0, Cast);
    err("INT(' 1')", 0, Cast);
    err("INT('')", 0, Cast);
    ok("BOOL('TRUE')", true);
    ok("BOOL('false')", false);
    ok("BOOL(TRUE)", true);
    ok("BOOL(FALSE)", false);
    err("BOOL('ABC')", false, Cast);
    err("BOOL('1')", false, Cast);
    ok("BOOL(1)", true);
    ok("BOOL(0)", false);
    ok("BOOL(100)", true);
    ok("BOOL(-50)", true);
    ok("STRING(TRUE)", "true");
    ok("STRING(FALSE)", "false");
    ok("STRING(1)", "1");
    ok("STRING(-1)", "-1");
    ok("STRING(007)", "7");
    ok("STRING(\"abc\")", "abc");
    ok("IS_INT('12')", true);
    ok("IS_INT('1x')", false);
    ok("IS_INT(3)", true);
    ok("IS_BOOL('False')", true);
    ok("IS_BOOL('no')", false);
    ok("IS_BOOL(TRUE)", true);
}

#[test]
fn s3_7_boolean_string_casts_combined_with_case_insensitive_keywords() {
    ok("TRUE = \"true\" AND FALSE = \"false\"", true);
    ok("TRUE = \"TRUE\" OR FALSE = \"FALSE\"", false);
}

#[test]
fn s3_7_ambiguous_equality_casts_the_left_operand_to_the_right_type() {
    ok("true = 'TRUE'", false);
    ok("'TRUE' = true", true);
    ok("sequence = 10", true);
    ok("sequence = 5", false);
    ok("10 = sequence", true);
    ok("'010' = 10", true);
    ok("10 = '010'", false);
    ok("1 = TRUE", true);
    ok("TRUE = 1", true);
    ok("2 = TRUE", true);
    ok("flag = TRUE", true);
    ok("TRUE = flag", false);
    err("'abc' = 1", false, Cast);
    err("'abc' = TRUE", false, Cast);
}

// §3.6 precedence and associativity, observed through values.
#[test]
fn s3_6_precedence_and_associativity() {
    ok("4 * 2 + 4 / 2", 10);
    ok("4 * (2 + 4) / 2", 12);
    ok("4 * (2 + 3)", 20);
    ok("(2 + 3) * 4", 20);
    ok("(TRUE)", true);
    ok("10 - 4 - 3", 3);
    ok("100 / 10 / 5", 2);
    ok("7 % 4 * 2", 6);
    ok("2 * 7 % 4", 2);
    ok("1 + 2 = 3", true);
    ok("1 < 2 = TRUE", true);
    // AND, OR and XOR share one precedence level and group left to right.
    ok("TRUE OR FALSE AND FALSE", false);
    ok("TRUE OR (FALSE AND FALSE)", true);
    ok("FALSE AND TRUE OR TRUE", true);
    ok("TRUE XOR TRUE OR TRUE", true);
    ok("TRUE OR TRUE XOR TRUE", false);
    // Unary operators bind tighter than binary ones.
    ok("-2 * 3", -6);
    ok("- 2 + 3", 1);
    ok("NOT FALSE = FALSE", false);
    ok("NOT (FALSE = FALSE)", false);
    ok("NOT TRUE AND FALSE", false);
    ok("NOT FALSE AND TRUE", true);
    // LIKE and IN bind tighter than binary operators.
    ok("'a' LIKE 'a' = TRUE", true);
    ok("1 IN (1) AND TRUE", true);
    ok("LENGTH('ab') * 2 + 1", 5);
}

// §5 examples.
#[test]
fn s5_spec_examples() {
    ok("EXISTS subject", true);
    ok("firstname = 'Francesco'", true);
    ok("firstname = 'Francesco' OR subject = 'Francesco'", true);
    ok(
        "(firstname = 'Francesco' AND lastname = 'Guardiani') OR subject = 'Francesco Guardiani'",
        true,
    );
    ok("sequence = 10", true);
    ok("hop < ttl", true);
}

#[test]
fn filters_pass_only_true_without_errors() {
    let e = event();
    let m = |src: &str| Expression::parse(src).unwrap().matches(&e);
    assert!(m("type = 'com.example.created'"));
    assert!(!m("type = 'other'"));
    assert!(!m("'abc'"), "a string never passes");
    assert!(!m("1"), "an integer never passes");
    assert!(!m("NOT 'abc'"), "true with a cast error does not pass");
    assert!(!m("missing = 1 OR TRUE"));
    assert!(m("TRUE OR missing = 1"));
}

#[test]
fn evaluation_renders_the_weft_filter_json() {
    let e = eval("sequence + 1");
    assert_eq!(e.to_json_string(), r#"{"result":11,"error":null}"#);
    let e = eval("5 / 0");
    let json = e.to_json();
    assert_eq!(json["result"], 0);
    assert_eq!(json["error"]["kind"], "math");
    assert!(
        json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("division by zero")
    );
    assert!(
        e.to_json_string()
            .starts_with(r#"{"result":0,"error":{"kind":"math","message":"#)
    );
    let e = evaluate("1 +", &event());
    assert_eq!(e.to_json()["result"], false);
    assert_eq!(e.to_json()["error"]["kind"], "parse");
    assert_eq!(eval("'x'").to_json()["result"], "x");
    assert_eq!(eval("TRUE").to_json()["result"], true);
}

#[test]
fn expressions_round_trip_through_serde_and_display() {
    let x: Expression = serde_json::from_str(r#""a = 1""#).unwrap();
    assert_eq!(x.to_string(), "a = 1");
    assert_eq!(serde_json::to_string(&x).unwrap(), r#""a = 1""#);
    let bad = serde_json::from_str::<Expression>(r#""a = ""#).unwrap_err();
    assert!(
        bad.to_string().contains("invalid CESQL expression"),
        "{bad}"
    );
    assert_eq!(
        "1 + 1".parse::<Expression>().unwrap().result_type(),
        Some(Type::Integer)
    );
    assert_eq!(Expression::parse("a").unwrap().result_type(), None);
}

#[test]
fn expressions_are_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Expression>();
}
