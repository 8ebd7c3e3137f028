//! What the commands print: tables and key–value blocks for people, the
//! deployment's JSON as it came for scripts (`--json`).

use comfy_table::presets::UTF8_BORDERS_ONLY;
use comfy_table::{ContentArrangement, Table};
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// How to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Tables and key–value lines.
    Human,
    /// The JSON document, pretty-printed.
    Json,
}

/// Print `json` as JSON.
pub fn json(value: &Value) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string()));
}

/// A JSON value as a table cell: strings bare, null as `-`, lists joined.
pub fn cell(value: &Value) -> String {
    match value {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// A client's grants as `audience: scope scope; …`.
pub fn grants(value: &Value) -> String {
    value
        .as_array()
        .map(|grants| {
            grants
                .iter()
                .map(|g| {
                    format!(
                        "{}: {}",
                        cell(&g["audience"]),
                        g["scopes"]
                            .as_array()
                            .map(|s| s.iter().map(cell).collect::<Vec<_>>().join(" "))
                            .unwrap_or_default()
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
        })
        .unwrap_or_default()
}

/// Rows of `items` under `columns` (`(heading, field)`); `render` may
/// override a field's cell.
pub fn table(items: &[Value], columns: &[(&str, &str)], render: impl Fn(&str, &Value) -> Option<String>) {
    let mut table = Table::new();
    table.load_preset(UTF8_BORDERS_ONLY).set_content_arrangement(ContentArrangement::Dynamic);
    table.set_header(columns.iter().map(|(heading, _)| *heading));
    for item in items {
        table.add_row(columns.iter().map(|(_, field)| render(field, item).unwrap_or_else(|| cell(&item[*field]))));
    }
    println!("{table}");
}

/// `field: value` lines for `fields` of `item`, aligned.
pub fn fields(item: &Value, fields: &[&str]) {
    let width = fields.iter().map(|f| f.len()).max().unwrap_or(0);
    for field in fields {
        let shown = match *field {
            "grants" | "allowed_grants" if item[*field].as_array().is_some_and(Vec::is_empty) => "-".into(),
            "grants" | "allowed_grants" => grants(&item[*field]),
            "custom_claims" if item[*field].as_object().is_some_and(|m| m.is_empty()) => "-".into(),
            "custom_claims" => item[*field].to_string(),
            _ => cell(&item[*field]),
        };
        println!("{field:width$}  {shown}");
    }
}

/// Unix seconds as RFC 3339 with how long ago or from now.
pub fn timestamp(seconds: i64, now: i64) -> String {
    let absolute = OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| seconds.to_string());
    let delta = seconds - now;
    let span = duration(delta.unsigned_abs());
    match delta {
        0 => format!("{absolute} (now)"),
        d if d > 0 => format!("{absolute} (in {span})"),
        _ => format!("{absolute} ({span} ago)"),
    }
}

/// `1h 2m 3s`, largest units first, zero parts left out.
pub fn duration(seconds: u64) -> String {
    let (d, h, m, s) = (seconds / 86_400, seconds / 3600 % 24, seconds / 60 % 60, seconds % 60);
    let parts: Vec<String> = [(d, "d"), (h, "h"), (m, "m"), (s, "s")]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect();
    if parts.is_empty() {
        "0s".into()
    } else {
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn times_read_as_dates_and_distances() {
        assert_eq!(timestamp(1_700_000_000, 1_700_000_000 - 300), "2023-11-14T22:13:20Z (in 5m)");
        assert_eq!(timestamp(1_700_000_000, 1_700_003_725), "2023-11-14T22:13:20Z (1h 2m 5s ago)");
        assert_eq!(duration(0), "0s");
        assert_eq!(duration(90_061), "1d 1h 1m 1s");
    }

    #[test]
    fn cells_and_grants_read_plainly() {
        assert_eq!(cell(&json!(null)), "-");
        assert_eq!(cell(&json!(["a", "b"])), "a, b");
        assert_eq!(
            grants(&json!([{"audience": "https://a", "scopes": ["r", "w"]}, {"audience": "https://b", "scopes": []}])),
            "https://a: r w; https://b: "
        );
    }
}
