//! Field caps ([`hcp_core::validate::caps`]) on every JSON request body: each string is held to
//! the `maxLength`, each list to the `maxItems`, its operation's OpenAPI schema documents, before
//! the body is typed; a longer one is 422 `invalid_field` naming the field (`disposition.plan`,
//! `evidence[2]`). The document is the one source of the caps, so what a client reads is what
//! is enforced, and a test checks that it caps every string of every request body. A string the
//! document leaves free (inside a free-form object, or on a route without a documented body) is
//! held to [`caps::LONG_TEXT`].
//!
//! Ingest bodies are raw bytes, not [`super::extract::Json`]: the domain checks the same caps
//! there (`validate::rating_shape`), so that a refused item keeps its reason and is kept for
//! replay like any other refusal.

use std::collections::HashMap;
use std::sync::OnceLock;

use hcp_core::validate::caps;
use serde_json::{Map, Value};

use super::ApiError;

/// Schemas nested deeper than this (a recursive schema, a hostile body) are checked against the
/// backstop only.
const MAX_DEPTH: usize = 48;

/// The request body schemas of the API, by operation.
pub struct Caps {
    /// (METHOD, path template as routed) → the JSON body's schema.
    bodies: HashMap<(String, String), Value>,
    /// `components.schemas`.
    schemas: Map<String, Value>,
}

/// A field over its cap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overlong {
    pub field: String,
    pub message: String,
}

static CAPS: OnceLock<Caps> = OnceLock::new();

/// The caps of this build's API document, read from it once.
pub fn caps() -> &'static Caps {
    CAPS.get_or_init(|| Caps::of(&super::openapi()))
}

/// Checks a JSON body of the operation `route` (method and path template; `None` when the
/// request matched no documented route): 422 `invalid_field` naming the first field over its
/// cap.
pub fn check(route: Option<(&str, &str)>, body: &Value) -> Result<(), ApiError> {
    caps().overlong(route, body).map_or(Ok(()), |overlong| {
        Err(ApiError::invalid_field(&overlong.field, overlong.message))
    })
}

fn resolve<'a>(schemas: &'a Map<String, Value>, schema: &'a Value) -> Option<&'a Value> {
    let mut schema = schema;
    for _ in 0..MAX_DEPTH {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                schema = schemas.get(reference.strip_prefix("#/components/schemas/")?)?;
            }
            None => return Some(schema),
        }
    }
    None
}

fn field(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_string()
    } else {
        format!("{at}.{key}")
    }
}

fn shown_key(key: &str) -> String {
    key.chars().take(caps::CODE).collect()
}

fn too_long(at: &str, max: usize) -> Overlong {
    Overlong {
        field: if at.is_empty() {
            "body".into()
        } else {
            at.into()
        },
        message: format!("at most {max} characters"),
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(number) if number.is_i64() || number.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

impl Caps {
    /// The request bodies of `doc`, documented as `application/json`.
    pub fn of(doc: &utoipa::openapi::OpenApi) -> Caps {
        let json = serde_json::to_value(doc).unwrap_or_default();
        let schemas = json
            .pointer("/components/schemas")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let mut bodies = HashMap::new();
        if let Some(paths) = json.get("paths").and_then(Value::as_object) {
            for (path, item) in paths {
                let Some(item) = item.as_object() else {
                    continue;
                };
                for (method, operation) in item {
                    if let Some(schema) =
                        operation.pointer("/requestBody/content/application~1json/schema")
                    {
                        bodies.insert((method.to_ascii_uppercase(), path.clone()), schema.clone());
                    }
                }
            }
        }
        Caps { bodies, schemas }
    }

    /// The first field of `body` over its cap, if any.
    pub fn overlong(&self, route: Option<(&str, &str)>, body: &Value) -> Option<Overlong> {
        let schema = route.and_then(|(method, path)| {
            self.bodies
                .get(&(method.to_ascii_uppercase(), path.to_string()))
        });
        match schema {
            Some(schema) => self.walk(schema, body, "", 0),
            None => backstop(body, ""),
        }
    }

    fn walk(&self, schema: &Value, value: &Value, at: &str, depth: usize) -> Option<Overlong> {
        if depth > MAX_DEPTH {
            return backstop(value, at);
        }
        let Some(schema) = resolve(&self.schemas, schema) else {
            return backstop(value, at);
        };
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            return self.walk_all(all, value, at, depth);
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(variants) = schema.get(key).and_then(Value::as_array) {
                let fitting: Vec<&Value> = variants
                    .iter()
                    .filter(|variant| self.fits(variant, value, depth + 1))
                    .collect();
                let mut first = None;
                for variant in &fitting {
                    match self.walk(variant, value, at, depth + 1) {
                        None => return None,
                        Some(overlong) => {
                            first.get_or_insert(overlong);
                        }
                    }
                }
                return first.or_else(|| {
                    if fitting.is_empty() {
                        backstop(value, at)
                    } else {
                        None
                    }
                });
            }
        }
        match value {
            Value::String(text) => {
                let max = schema
                    .get("maxLength")
                    .and_then(Value::as_u64)
                    .and_then(|max| usize::try_from(max).ok())
                    .unwrap_or(caps::LONG_TEXT);
                (text.chars().count() > max).then(|| too_long(at, max))
            }
            Value::Array(items) => {
                if let Some(max) = schema
                    .get("maxItems")
                    .and_then(Value::as_u64)
                    .and_then(|max| usize::try_from(max).ok())
                    && items.len() > max
                {
                    return Some(Overlong {
                        field: if at.is_empty() {
                            "body".into()
                        } else {
                            at.into()
                        },
                        message: format!("at most {max} items"),
                    });
                }
                let item_schema = schema.get("items").filter(|items| items.is_object());
                items.iter().enumerate().find_map(|(index, item)| {
                    let at = format!("{at}[{index}]");
                    match item_schema {
                        Some(item_schema) => self.walk(item_schema, item, &at, depth + 1),
                        None => backstop(item, &at),
                    }
                })
            }
            Value::Object(fields) => {
                let properties = schema.get("properties").and_then(Value::as_object);
                let additional = schema
                    .get("additionalProperties")
                    .filter(|additional| additional.is_object());
                let key_cap = schema
                    .pointer("/propertyNames/maxLength")
                    .and_then(Value::as_u64)
                    .and_then(|max| usize::try_from(max).ok())
                    .unwrap_or(caps::NAME);
                fields.iter().find_map(|(key, item)| {
                    let at = field(at, key);
                    match (
                        properties.and_then(|properties| properties.get(key)),
                        additional,
                    ) {
                        (Some(property), _) => self.walk(property, item, &at, depth + 1),
                        (None, Some(additional)) => {
                            if key.chars().count() > key_cap {
                                return Some(Overlong {
                                    field: field(
                                        at.rsplit_once('.').map_or("", |(up, _)| up),
                                        &shown_key(key),
                                    ),
                                    message: format!("a key has at most {key_cap} characters"),
                                });
                            }
                            self.walk(additional, item, &at, depth + 1)
                        }
                        (None, None) => backstop(item, &at),
                    }
                })
            }
            _ => None,
        }
    }

    /// `allOf` (a flattened struct): each field is checked against the part that documents
    /// it, the rest against the backstop.
    fn walk_all(&self, parts: &[Value], value: &Value, at: &str, depth: usize) -> Option<Overlong> {
        let Value::Object(fields) = value else {
            return parts
                .iter()
                .find_map(|part| self.walk(part, value, at, depth + 1));
        };
        fields.iter().find_map(|(key, item)| {
            let at = field(at, key);
            let documented = parts.iter().find_map(|part| {
                resolve(&self.schemas, part).and_then(|part| {
                    part.pointer(&format!(
                        "/properties/{}",
                        key.replace('~', "~0").replace('/', "~1")
                    ))
                })
            });
            match documented {
                Some(property) => self.walk(property, item, &at, depth + 1),
                None => backstop(item, &at),
            }
        })
    }

    /// Whether `value` may be an instance of `schema`, as far as the caps care: its JSON type,
    /// its enumerated values, and the tags (single-valued properties) of a tagged variant.
    fn fits(&self, schema: &Value, value: &Value, depth: usize) -> bool {
        if depth > MAX_DEPTH {
            return false;
        }
        let Some(schema) = resolve(&self.schemas, schema) else {
            return false;
        };
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            return all.iter().all(|part| self.fits(part, value, depth + 1));
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(variants) = schema.get(key).and_then(Value::as_array) {
                return variants
                    .iter()
                    .any(|variant| self.fits(variant, value, depth + 1));
            }
        }
        let actual = json_type(value);
        let type_fits = match schema.get("type") {
            None => true,
            Some(Value::String(wanted)) => {
                wanted == actual || (wanted == "number" && actual == "integer")
            }
            Some(Value::Array(wanted)) => wanted.iter().any(|wanted| {
                wanted.as_str() == Some(actual) || (wanted == "number" && actual == "integer")
            }),
            Some(_) => true,
        };
        if !type_fits {
            return false;
        }
        if let Some(values) = schema.get("enum").and_then(Value::as_array)
            && !values.contains(value)
        {
            return false;
        }
        let (Value::Object(fields), Some(properties)) =
            (value, schema.get("properties").and_then(Value::as_object))
        else {
            return true;
        };
        properties.iter().all(|(name, property)| {
            let tag = resolve(&self.schemas, property)
                .and_then(|property| property.get("enum"))
                .and_then(Value::as_array)
                .filter(|values| values.len() == 1);
            match tag {
                Some(tag) => fields.get(name).is_some_and(|given| tag.contains(given)),
                None => true,
            }
        })
    }

    /// Every string field of every request body the document leaves without a `maxLength`
    /// (free-form objects aside), as `METHOD path field`; and every `maxLength` outside
    /// [`caps::ALL`] and [`caps::FORMATS`].
    pub fn undocumented(&self) -> Vec<String> {
        let mut found = Vec::new();
        let mut routes: Vec<_> = self.bodies.iter().collect();
        routes.sort_by(|a, b| a.0.cmp(b.0));
        for ((method, path), schema) in routes {
            let mut seen = Vec::new();
            self.audit(
                schema,
                &format!("{method} {path} "),
                &mut seen,
                &mut found,
                0,
            );
        }
        found
    }

    fn audit(
        &self,
        schema: &Value,
        at: &str,
        seen: &mut Vec<String>,
        found: &mut Vec<String>,
        depth: usize,
    ) {
        if depth > MAX_DEPTH {
            return;
        }
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            if seen.iter().any(|name| name == reference) {
                return;
            }
            seen.push(reference.to_string());
            if let Some(resolved) = resolve(&self.schemas, schema) {
                self.audit(resolved, at, seen, found, depth + 1);
            }
            seen.pop();
            return;
        }
        for key in ["allOf", "oneOf", "anyOf"] {
            for part in schema
                .get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                self.audit(part, at, seen, found, depth + 1);
            }
        }
        let types: Vec<&str> = match schema.get("type") {
            Some(Value::String(single)) => vec![single.as_str()],
            Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if types.contains(&"string") && schema.get("enum").is_none() {
            let format = schema.get("format").and_then(Value::as_str);
            match schema.get("maxLength").and_then(Value::as_u64) {
                _ if matches!(format, Some("date" | "date-time")) => {}
                None => found.push(format!("{at}: no maxLength")),
                Some(max) => {
                    let max = usize::try_from(max).unwrap_or(usize::MAX);
                    if !caps::ALL.contains(&max) && !caps::FORMATS.contains(&max) {
                        found.push(format!("{at}: maxLength {max} is none of the caps"));
                    }
                }
            }
        }
        if let Some(items) = schema.get("items").filter(|items| items.is_object()) {
            self.audit(items, &format!("{at}[]"), seen, found, depth + 1);
        }
        for (name, property) in schema
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            self.audit(property, &field(at, name), seen, found, depth + 1);
        }
        if let Some(additional) = schema
            .get("additionalProperties")
            .filter(|additional| additional.is_object())
        {
            if schema.pointer("/propertyNames/maxLength").is_none() {
                found.push(format!("{at}: map keys without maxLength"));
            }
            self.audit(additional, &format!("{at}{{}}"), seen, found, depth + 1);
        }
    }
}

/// Strings of a value no schema documents: at most [`caps::LONG_TEXT`] characters (keys at most
/// [`caps::NAME`]).
fn backstop(value: &Value, at: &str) -> Option<Overlong> {
    match value {
        Value::String(text) if text.chars().count() > caps::LONG_TEXT => {
            Some(too_long(at, caps::LONG_TEXT))
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(index, item)| backstop(item, &format!("{at}[{index}]"))),
        Value::Object(fields) => fields.iter().find_map(|(key, item)| {
            if key.chars().count() > caps::NAME {
                return Some(Overlong {
                    field: field(at, &shown_key(key)),
                    message: format!("a key has at most {} characters", caps::NAME),
                });
            }
            backstop(item, &field(at, key))
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn overlong(method: &str, path: &str, body: Value) -> Option<(String, String)> {
        caps()
            .overlong(Some((method, path)), &body)
            .map(|overlong| (overlong.field, overlong.message))
    }

    fn text(chars: usize) -> String {
        "字".repeat(chars)
    }

    #[test]
    fn every_string_of_every_request_body_is_capped_by_one_of_the_caps() {
        let undocumented = caps().undocumented();
        assert!(
            undocumented.is_empty(),
            "request fields without a cap of validate::caps:\n{}",
            undocumented.join("\n")
        );
    }

    /// One row per shape of body: the route, a body, and the field refused (or `None`).
    #[test]
    fn a_field_over_its_cap_is_named() {
        let cases: Vec<(&str, &str, Value, Option<&str>)> = vec![
            // A plain field, at its cap and one over (characters, not bytes).
            (
                "POST",
                "/api/v1/intake",
                json!({"kind": "complaint", "area_code": "410421", "text": text(2000)}),
                None,
            ),
            (
                "POST",
                "/api/v1/intake",
                json!({"kind": "complaint", "area_code": "410421", "text": text(2001)}),
                Some("text"),
            ),
            (
                "POST",
                "/api/v1/intake",
                json!({"kind": "complaint", "area_code": "T".repeat(65), "text": "x"}),
                Some("area_code"),
            ),
            // A tagged variant, nested one level down.
            (
                "POST",
                "/api/v1/orders/{id}/actions",
                json!({"type": "close", "root_cause": "staff", "action_taken": text(2001)}),
                Some("action_taken"),
            ),
            (
                "POST",
                "/api/v1/orders/{id}/actions",
                json!({"type": "dispose", "disposition": {"type": "scheduled", "plan": text(10_001), "committed_date": "2026-11-30"}}),
                Some("disposition.plan"),
            ),
            (
                "POST",
                "/api/v1/orders/{id}/actions",
                json!({"type": "dispose", "disposition": {"type": "scheduled", "plan": text(10_000), "committed_date": "2026-11-30"}}),
                None,
            ),
            // A list's items, and its length.
            (
                "POST",
                "/api/v1/orders/{id}/actions",
                json!({"type": "appeal", "reason": "误评", "evidence": ["a", text(2001)]}),
                Some("evidence[1]"),
            ),
            (
                "POST",
                "/api/v1/orders/{id}/actions",
                json!({"type": "appeal", "reason": "误评", "evidence": vec!["a"; 33]}),
                Some("evidence"),
            ),
            // A map's values and keys.
            (
                "POST",
                "/api/v1/rules/simulate",
                json!({"from": "2026-11-01", "to": "2026-11-30", "files": {"default/deadline.rhai": "x".repeat(200_001)}}),
                Some("files.default/deadline.rhai"),
            ),
            (
                "POST",
                "/api/v1/rules/simulate",
                json!({"from": "2026-11-01", "to": "2026-11-30", "files": {"default/deadline.rhai": "x".repeat(20_000)}}),
                None,
            ),
            // An optional field given as null, and master data (a record inside a tagged enum).
            (
                "POST",
                "/api/v1/admin/users",
                json!({"username": "u", "display_name": "d", "role": "admin", "scope": "410400", "staff_id": null, "password": "p".repeat(201)}),
                Some("password"),
            ),
            (
                "POST",
                "/api/v1/admin/master",
                json!({"kind": "item", "record": {"task_code": "T-1", "name": text(201), "department": "D"}}),
                Some("record.name"),
            ),
            // A free-form object and an undocumented route: the backstop.
            (
                "POST",
                "/api/v1/rules/eval",
                json!({"hook": "routing", "county": "410421", "input": {"text": "x".repeat(10_001)}}),
                Some("input.text"),
            ),
            (
                "POST",
                "/api/v1/no/such/route",
                json!({"a": [{"b": "x".repeat(10_001)}]}),
                Some("a[0].b"),
            ),
            (
                "POST",
                "/api/v1/no/such/route",
                json!({"a": [{"b": "x".repeat(10_000)}]}),
                None,
            ),
        ];
        for (method, path, body, expected) in cases {
            let got = overlong(method, path, body.clone());
            assert_eq!(
                got.as_ref().map(|(field, _)| field.as_str()),
                expected,
                "{method} {path} {got:?}"
            );
        }
    }

    #[test]
    fn the_refusal_is_invalid_field_with_the_cap() {
        let refused = check(
            Some(("POST", "/api/v1/intake")),
            &json!({"kind": "complaint", "area_code": "410421", "text": text(2001)}),
        );
        match refused {
            Err(ApiError::Unprocessable(reason)) => {
                assert_eq!(reason.code, "invalid_field");
                assert_eq!(reason.message, "text: at most 2000 characters");
            }
            other => panic!("{other:?}"),
        }
    }
}
