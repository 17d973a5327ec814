//! `POST /api/search/systemusers`, evaluated the way the server would.

use regex::Regex;
use serde_json::{Map, Value, json};

use crate::Inner;
use crate::server::{Reply, user_json};

/// `POST /api/search/systemusers`: `filter` with `and`/`or` lists of `{field: value}` or
/// `{field: {"$regex": pattern}}` (regexes evaluated like the server would, so an
/// unescaped `.` matches any character); `fields`, `limit`, `skip`.
pub(crate) fn search_users(g: &Inner, body: &Value, org: Option<&str>) -> Reply {
    let filter = body.get("filter").cloned().unwrap_or(json!({}));
    let mut matched = Vec::new();
    for u in g.users.iter().filter(|u| Some(u.org_id.as_str()) == org) {
        let doc = user_json(u);
        match filter_matches(&filter, &doc) {
            Ok(true) => matched.push(doc),
            Ok(false) => {}
            Err(e) => return Reply::message(400, &e),
        }
    }
    let total = matched.len();
    let limit = body.get("limit").and_then(Value::as_u64).unwrap_or(10) as usize;
    let skip = body.get("skip").and_then(Value::as_u64).unwrap_or(0) as usize;
    let fields: Option<Vec<String>> = body.get("fields").and_then(Value::as_str).map(|f| {
        f.split([' ', ','])
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    });
    let results: Vec<Value> = matched
        .into_iter()
        .skip(skip)
        .take(limit)
        .map(|doc| match &fields {
            None => doc,
            Some(fields) => {
                let mut m = Map::new();
                if let Some(obj) = doc.as_object() {
                    for (k, v) in obj {
                        if k == "_id" || fields.iter().any(|f| f == k) {
                            m.insert(k.clone(), v.clone());
                        }
                    }
                }
                Value::Object(m)
            }
        })
        .collect();
    Reply::json(200, json!({"results": results, "totalCount": total}))
}

pub(crate) fn filter_matches(filter: &Value, doc: &Value) -> Result<bool, String> {
    match filter {
        Value::Array(items) => {
            for f in items {
                if !filter_matches(f, doc)? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        Value::Object(obj) => {
            for (k, cond) in obj {
                let ok = match k.as_str() {
                    "and" => {
                        let items = cond.as_array().ok_or("and must be a list")?;
                        let mut all = true;
                        for f in items {
                            all &= filter_matches(f, doc)?;
                        }
                        all
                    }
                    "or" => {
                        let items = cond.as_array().ok_or("or must be a list")?;
                        let mut any = false;
                        for f in items {
                            any |= filter_matches(f, doc)?;
                        }
                        any
                    }
                    field => field_matches(doc.get(field), cond)?,
                };
                if !ok {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        _ => Err("filter must be an object or a list".to_owned()),
    }
}

fn field_matches(value: Option<&Value>, cond: &Value) -> Result<bool, String> {
    let text = value.and_then(Value::as_str);
    match cond {
        Value::Object(ops) => {
            for (op, arg) in ops {
                let ok = match op.as_str() {
                    "$regex" => {
                        let pattern = arg.as_str().ok_or("$regex needs a string")?;
                        let re = Regex::new(pattern)
                            .map_err(|e| format!("invalid $regex {pattern:?}: {e}"))?;
                        text.is_some_and(|t| re.is_match(t))
                    }
                    "$eq" => value == Some(arg),
                    "$ne" => value != Some(arg),
                    other => return Err(format!("unsupported operator {other}")),
                };
                if !ok {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        other => Ok(value == Some(other)),
    }
}
