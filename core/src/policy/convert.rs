//! Conversions between JSON and Rhai values at the edge of a hook call, written by hand so that
//! decimals never pass through a float and every unsupported value is named, not guessed.

use std::str::FromStr;

use rhai::{Array, Dynamic, Map};
use rust_decimal::Decimal;
use serde_json::{Map as JsonMap, Number, Value};

/// Deeper nesting than this is no policy input or output anyone writes; refusing it keeps the
/// recursive walks below from exhausting the stack on a hostile value.
const MAX_DEPTH: usize = 64;

/// JSON → Rhai. Integers become `INT`, other numbers decimals (parsed from their shortest text,
/// so `0.1` is exactly 0.1); values of the top-level maps named in `decimal_maps` are decimal
/// strings (`"0.9512"`) and become decimals.
pub(super) fn to_script(value: &Value, decimal_maps: &[&str]) -> Result<Dynamic, String> {
    let Value::Object(fields) = value else {
        return Err("the input is not a JSON object".to_owned());
    };
    let mut map = Map::new();
    for (key, field) in fields {
        let converted = match field {
            Value::Object(entries) if decimal_maps.contains(&key.as_str()) => {
                let mut inner = Map::new();
                for (name, entry) in entries {
                    inner.insert(name.as_str().into(), decimal_entry(key, name, entry)?);
                }
                Dynamic::from_map(inner)
            }
            other => plain(other, 1).map_err(|e| format!("{key}: {e}"))?,
        };
        map.insert(key.as_str().into(), converted);
    }
    Ok(Dynamic::from_map(map))
}

fn decimal_entry(map: &str, name: &str, entry: &Value) -> Result<Dynamic, String> {
    let parsed = match entry {
        Value::String(text) => Decimal::from_str(text.trim()).ok(),
        Value::Number(number) => number_to_decimal(number),
        _ => None,
    };
    parsed
        .map(Dynamic::from_decimal)
        .ok_or_else(|| format!("{map}.{name}: {entry} is not a decimal such as \"0.9512\""))
}

fn number_to_decimal(number: &Number) -> Option<Decimal> {
    if let Some(i) = number.as_i64() {
        return Some(Decimal::from(i));
    }
    if let Some(u) = number.as_u64() {
        return Some(Decimal::from(u));
    }
    // serde_json prints the shortest text that round-trips, so 0.1 reads back as exactly 0.1.
    let text = number.to_string();
    Decimal::from_str(&text)
        .or_else(|_| Decimal::from_scientific(&text))
        .ok()
}

fn plain(value: &Value, depth: usize) -> Result<Dynamic, String> {
    if depth > MAX_DEPTH {
        return Err(format!("nested deeper than {MAX_DEPTH} levels"));
    }
    Ok(match value {
        Value::Null => Dynamic::UNIT,
        Value::Bool(b) => Dynamic::from_bool(*b),
        Value::Number(number) => match number.as_i64() {
            Some(i) => Dynamic::from_int(i),
            None => Dynamic::from_decimal(
                number_to_decimal(number).ok_or_else(|| format!("{number} is not a number"))?,
            ),
        },
        Value::String(s) => Dynamic::from(s.clone()),
        Value::Array(items) => {
            let mut array = Array::with_capacity(items.len());
            for item in items {
                array.push(plain(item, depth + 1)?);
            }
            Dynamic::from_array(array)
        }
        Value::Object(fields) => {
            let mut map = Map::new();
            for (key, field) in fields {
                map.insert(key.as_str().into(), plain(field, depth + 1)?);
            }
            Dynamic::from_map(map)
        }
    })
}

/// Rhai → JSON. Decimals become strings (normalised: `28.50` → `"28.5"`) so that no consumer
/// rounds them through a float; anything that is not data (a function pointer, a timestamp, a
/// blob) is refused with the path where it was found.
pub(super) fn from_script(value: &Dynamic) -> Result<Value, String> {
    let mut path = String::new();
    walk(value, &mut path, 0)
}

fn walk(value: &Dynamic, path: &mut String, depth: usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err(format!(
            "{} is nested deeper than {MAX_DEPTH} levels",
            at(path)
        ));
    }
    if value.is_unit() {
        return Ok(Value::Null);
    }
    if let Ok(b) = value.as_bool() {
        return Ok(Value::Bool(b));
    }
    if let Ok(i) = value.as_int() {
        return Ok(Value::Number(Number::from(i)));
    }
    if let Ok(d) = value.as_decimal() {
        return Ok(Value::String(d.normalize().to_string()));
    }
    if let Ok(c) = value.as_char() {
        return Ok(Value::String(c.to_string()));
    }
    if value.is_string() {
        return Ok(Value::String(value.to_string()));
    }
    if let Some(items) = value.read_lock::<Array>() {
        let mut out = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let len = path.len();
            path.push_str(&format!("[{index}]"));
            out.push(walk(item, path, depth + 1)?);
            path.truncate(len);
        }
        return Ok(Value::Array(out));
    }
    if let Some(fields) = value.read_lock::<Map>() {
        let mut out = JsonMap::new();
        for (key, field) in fields.iter() {
            let len = path.len();
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(key);
            out.insert(key.to_string(), walk(field, path, depth + 1)?);
            path.truncate(len);
        }
        return Ok(Value::Object(out));
    }
    Err(format!(
        "{} is a {}, which is not data (expected a map, array, string, integer, decimal, bool or ())",
        at(path),
        value.type_name()
    ))
}

fn at(path: &str) -> String {
    if path.is_empty() {
        "the returned value".to_owned()
    } else {
        path.to_owned()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use serde_json::json;

    #[test]
    fn round_trip_keeps_decimals_exact() {
        let input = json!({"a": 1, "b": 0.1, "c": [true, null, "x"], "metrics": {"r": "0.9512"}});
        let script = to_script(&input, &["metrics"]).unwrap();
        let back = from_script(&script).unwrap();
        assert_eq!(
            back,
            json!({"a": 1, "b": "0.1", "c": [true, null, "x"], "metrics": {"r": "0.9512"}})
        );
        let map = script.cast::<Map>();
        assert!(map["metrics"].clone().cast::<Map>()["r"].is_decimal());
    }

    #[test]
    fn refusals_name_the_place() {
        let err = to_script(&json!({"metrics": {"r": "abc"}}), &["metrics"]).unwrap_err();
        assert!(err.contains("metrics.r"), "{err}");
        assert!(to_script(&json!([1]), &[]).is_err());
        let mut deep = json!(1);
        for _ in 0..80 {
            deep = json!([deep]);
        }
        assert!(to_script(&json!({ "x": deep }), &[]).is_err());
    }
}
