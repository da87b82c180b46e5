//! restJson1 binding: matching `/v1/...` paths against the model's URI templates (splitting the raw
//! path first and percent-decoding each label afterwards, since ARNs contain `/`), and merging path
//! labels, query parameters and the JSON body into one input document.

use super::shape::{ApiError, BindingKind, Json, Location, OperationInfo};
use percent_encoding::percent_decode_str;

/// Finds the operation whose method and URI template match; returns it with its decoded labels.
pub fn match_operation(
    method: &str,
    raw_path: &str,
    operations: &'static [OperationInfo],
) -> Option<(&'static OperationInfo, Vec<(&'static str, String)>)> {
    let path = raw_path.split('?').next().unwrap_or("");
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    'ops: for op in operations {
        if op.method != method {
            continue;
        }
        let tmpl: Vec<&'static str> = op.uri.split('?').next().unwrap_or("").trim_end_matches('/').split('/').collect();
        if tmpl.len() != segs.len() {
            continue;
        }
        let mut labels = Vec::new();
        for (t, s) in tmpl.iter().zip(&segs) {
            if let Some(name) = t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                let decoded = percent_decode_str(s).decode_utf8().ok()?.into_owned();
                if decoded.is_empty() {
                    continue 'ops;
                }
                labels.push((name, decoded));
            } else if t != s {
                continue 'ops;
            }
        }
        return Some((op, labels));
    }
    None
}

/// Parses a raw query string into decoded (name, value) pairs.
pub fn parse_query(raw: Option<&str>) -> Vec<(String, String)> {
    let Some(raw) = raw else { return Vec::new() };
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec = |s: &str| percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned();
            (dec(k), dec(v))
        })
        .collect()
}

/// Builds the input document of a REST operation from its body, labels and query parameters.
pub fn input_document(
    op: &OperationInfo,
    labels: Vec<(&'static str, String)>,
    query: &[(String, String)],
    body: Json,
    bad_request: &'static super::shape::ErrorShape,
) -> Result<Json, ApiError> {
    let mut doc = match body {
        Json::Object(m) => m,
        Json::Null => serde_json::Map::new(),
        _ => return Err(ApiError::new(bad_request, "The request body must be a JSON object")),
    };
    for b in op.bindings {
        let value = match b.location {
            Location::Label => labels.iter().find(|(n, _)| *n == b.wire_name).map(|(_, v)| Json::String(v.clone())),
            Location::Query => {
                let values: Vec<&String> = query.iter().filter(|(k, _)| k == b.wire_name).map(|(_, v)| v).collect();
                if values.is_empty() {
                    None
                } else {
                    Some(match b.kind {
                        BindingKind::StringList => {
                            Json::Array(values.iter().map(|v| Json::String((*v).clone())).collect())
                        }
                        BindingKind::Integer => match values[0].parse::<i64>() {
                            Ok(n) => Json::from(n),
                            Err(_) => {
                                return Err(ApiError::new(
                                    bad_request,
                                    format!("Query parameter {} must be an integer, got '{}'", b.wire_name, values[0]),
                                ))
                            }
                        },
                        BindingKind::Boolean => match values[0].as_str() {
                            "true" => Json::Bool(true),
                            "false" => Json::Bool(false),
                            other => {
                                return Err(ApiError::new(
                                    bad_request,
                                    format!("Query parameter {} must be true or false, got '{other}'", b.wire_name),
                                ))
                            }
                        },
                        BindingKind::String => Json::String(values[0].clone()),
                    })
                }
            }
            Location::Header => None,
        };
        match value {
            Some(v) => {
                doc.insert(b.member.to_string(), v);
            }
            None => {
                doc.remove(b.member);
            }
        }
    }
    Ok(Json::Object(doc))
}
