//! Validation of the model's answer against the configured JSON Schema (any draft the
//! `jsonschema` crate knows, 2020-12 by default; `format` is checked, not only annotated;
//! remote `$ref`s are not fetched).

use serde_json::Value;

/// How many violations a failure message lists.
const MAX_LISTED_ERRORS: usize = 5;

/// A compiled schema.
pub struct Schema {
    validator: jsonschema::Validator,
}

impl Schema {
    /// Compiles `schema`; the error says what is wrong with it.
    pub fn compile(schema: &Value) -> Result<Schema, String> {
        jsonschema::options()
            .should_validate_formats(true)
            .build(schema)
            .map(|validator| Schema { validator })
            .map_err(|e| format!("is not a valid JSON Schema: {e}"))
    }

    /// Checks `value`; the error lists the first violations with their JSON Pointer.
    pub fn check(&self, value: &Value) -> Result<(), String> {
        if self.validator.is_valid(value) {
            return Ok(());
        }
        let errors: Vec<String> = self
            .validator
            .iter_errors(value)
            .map(|e| {
                let at = e.instance_path().to_string();
                format!("at {}: {e}", if at.is_empty() { "/" } else { &at })
            })
            .collect();
        let mut message = errors
            .iter()
            .take(MAX_LISTED_ERRORS)
            .cloned()
            .collect::<Vec<_>>()
            .join("; ");
        if errors.len() > MAX_LISTED_ERRORS {
            message.push_str(&format!(" (and {} more)", errors.len() - MAX_LISTED_ERRORS));
        }
        Err(message)
    }
}

#[cfg(test)]
mod tests {
    use super::Schema;
    use serde_json::json;

    #[test]
    fn lists_violations_with_their_location() {
        let schema = Schema::compile(&json!({
            "type": "object",
            "properties": {
                "qty": {"type": "integer", "minimum": 1},
                "date": {"type": "string", "format": "date"}
            },
            "required": ["qty", "date"],
            "additionalProperties": false
        }))
        .unwrap();
        assert!(
            schema
                .check(&json!({"qty": 2, "date": "2026-01-31"}))
                .is_ok()
        );
        let err = schema
            .check(&json!({"qty": 0, "date": "31.01.2026"}))
            .unwrap_err();
        assert!(err.contains("at /qty") && err.contains("at /date"), "{err}");
        let err = schema
            .check(&json!({"qty": 1, "date": "2026-01-31", "x": 1}))
            .unwrap_err();
        assert!(err.contains("x"), "{err}");
    }

    #[test]
    fn an_invalid_schema_is_an_error() {
        let err = Schema::compile(&json!({"type": "objekt"})).err().unwrap();
        assert!(err.contains("not a valid JSON Schema"), "{err}");
    }
}
