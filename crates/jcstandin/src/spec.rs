//! Request validation against the official Swagger 2.0 descriptions: the route must be
//! in the spec, query parameters declared and well-typed, and the body must validate
//! (JSON Schema, draft 4, with the spec's `definitions` in the root document so
//! `#/definitions/X` references resolve).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{Value, json};

/// Where the specs are: `$JC_API_SPECS`, else `shared/jumpcloud-api` beside the repo.
pub fn spec_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("JC_API_SPECS") {
        return PathBuf::from(dir);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/jumpcloud-api")
}

/// One loaded spec document.
struct Doc {
    base_path: String,
    json: Value,
    /// `(segments, template)` of every path.
    templates: Vec<(Vec<String>, String)>,
}

/// Both API specs, with a cache of compiled body validators.
pub struct Specs {
    docs: Vec<Doc>,
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

impl std::fmt::Debug for Specs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Specs")
            .field("docs", &self.docs.len())
            .finish()
    }
}

/// The operation a request matched.
#[derive(Debug, Clone)]
pub struct Operation {
    /// Index of the spec (0 = v1, 1 = v2).
    doc: usize,
    /// Path template, e.g. `/systems/{id}`.
    pub template: String,
    /// Lower-case method.
    pub method: String,
}

impl Specs {
    /// The specs of this process (loaded once).
    pub fn shared() -> Result<Arc<Specs>, String> {
        static SPECS: OnceLock<Result<Arc<Specs>, String>> = OnceLock::new();
        SPECS
            .get_or_init(|| Specs::load(&spec_dir()).map(Arc::new))
            .clone()
    }

    /// Loads `jumpcloud-api-v1.json` and `jumpcloud-api-v2.json` from `dir`.
    pub fn load(dir: &Path) -> Result<Specs, String> {
        let mut docs = Vec::new();
        // v2 first: its base path is the longer prefix.
        for name in ["jumpcloud-api-v1.json", "jumpcloud-api-v2.json"] {
            let path = dir.join(name);
            let text = std::fs::read_to_string(&path).map_err(|e| {
                format!(
                    "cannot read the JumpCloud API spec {} ({e}); set JC_API_SPECS to the folder holding it",
                    path.display()
                )
            })?;
            let json: Value =
                serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            let base_path = json
                .get("basePath")
                .and_then(Value::as_str)
                .unwrap_or("/")
                .trim_end_matches('/')
                .to_owned();
            let templates = json
                .get("paths")
                .and_then(Value::as_object)
                .map(|paths| {
                    paths
                        .keys()
                        .map(|t| (split(t), t.clone()))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default();
            docs.push(Doc {
                base_path,
                json,
                templates,
            });
        }
        Ok(Specs {
            docs,
            validators: Mutex::new(HashMap::new()),
        })
    }

    /// Finds the operation for a method and a path (`/api/...`, no query).
    pub fn find(&self, method: &str, path: &str) -> Result<Operation, String> {
        // The longest matching base path wins (/api/v2 before /api).
        let mut best: Option<(usize, &str)> = None;
        for (i, d) in self.docs.iter().enumerate() {
            let bp = d.base_path.as_str();
            if (path == bp || path.starts_with(&format!("{bp}/")))
                && best.is_none_or(|(_, b)| bp.len() > b.len())
            {
                best = Some((i, bp));
            }
        }
        let (doc, bp) = best.ok_or_else(|| format!("{path} is under no API base path"))?;
        let rel = &path[bp.len()..];
        let segs = split(rel);
        let mut found: Option<(usize, &str)> = None;
        for (tsegs, t) in &self.docs[doc].templates {
            if tsegs.len() != segs.len() {
                continue;
            }
            let mut literals = 0;
            let ok = tsegs.iter().zip(&segs).all(|(ts, s)| {
                if ts.starts_with('{') && ts.ends_with('}') {
                    !s.is_empty()
                } else {
                    literals += 1;
                    ts == s
                }
            });
            if ok && found.is_none_or(|(l, _)| literals > l) {
                found = Some((literals, t));
            }
        }
        let (_, template) =
            found.ok_or_else(|| format!("{path} is not a path of the JumpCloud API spec"))?;
        let method = method.to_ascii_lowercase();
        let ops = &self.docs[doc].json["paths"][template];
        if !ops.get(&method).is_some_and(Value::is_object) {
            return Err(format!(
                "{} {bp}{template} is not an operation of the JumpCloud API spec",
                method.to_uppercase()
            ));
        }
        Ok(Operation {
            doc,
            template: template.to_owned(),
            method,
        })
    }

    fn op_json(&self, op: &Operation) -> &Value {
        &self.docs[op.doc].json["paths"][&op.template][&op.method]
    }

    /// Path-level and operation-level parameters, `$ref`s resolved.
    fn parameters(&self, op: &Operation) -> Vec<Value> {
        let doc = &self.docs[op.doc].json;
        let mut out = Vec::new();
        let path_level = doc["paths"][&op.template]
            .get("parameters")
            .and_then(Value::as_array);
        let op_level = self.op_json(op).get("parameters").and_then(Value::as_array);
        for p in path_level.into_iter().chain(op_level).flatten() {
            let p = match p.get("$ref").and_then(Value::as_str) {
                Some(r) => match r.strip_prefix("#/parameters/") {
                    Some(name) => doc["parameters"].get(name).cloned().unwrap_or(Value::Null),
                    None => Value::Null,
                },
                None => p.clone(),
            };
            if p.is_object() {
                out.push(p);
            }
        }
        out
    }

    /// Checks the query against the operation's declared query parameters.
    pub fn check_query(&self, op: &Operation, query: &[(String, String)]) -> Vec<String> {
        let params: Vec<Value> = self
            .parameters(op)
            .into_iter()
            .filter(|p| p["in"] == "query")
            .collect();
        let mut problems = Vec::new();
        for (k, v) in query {
            let Some(p) = params.iter().find(|p| p["name"] == k.as_str()) else {
                problems.push(format!(
                    "query parameter {k:?} is not declared for this operation"
                ));
                continue;
            };
            if let Some(msg) = check_scalar(p, v) {
                problems.push(format!("query parameter {k}={v:?}: {msg}"));
            }
            let repeated = query.iter().filter(|(k2, _)| k2 == k).count();
            if repeated > 1 && p["type"] != "array" {
                problems.push(format!("query parameter {k:?} is repeated"));
            }
        }
        for p in &params {
            if p["required"] == true {
                let name = p["name"].as_str().unwrap_or_default();
                if !query.iter().any(|(k, _)| k == name) {
                    problems.push(format!("required query parameter {name:?} is missing"));
                }
            }
        }
        problems
    }

    /// The schema of the body parameter, if the operation takes one.
    fn body_schema(&self, op: &Operation) -> Option<(Value, bool)> {
        self.parameters(op)
            .into_iter()
            .find(|p| p["in"] == "body")
            .map(|p| {
                (
                    p.get("schema").cloned().unwrap_or(json!({})),
                    p["required"] == true,
                )
            })
    }

    /// Checks a request body (`None`: no body sent).
    pub fn check_body(&self, op: &Operation, body: Option<&Value>) -> Vec<String> {
        match (self.body_schema(op), body) {
            (None, None) => Vec::new(),
            (None, Some(_)) => vec!["this operation takes no request body".to_owned()],
            (Some((_, true)), None) => vec!["the required request body is missing".to_owned()],
            (Some(_), None) => Vec::new(),
            (Some((schema, _)), Some(body)) => {
                let key = format!("req {} {} {}", op.doc, op.method, op.template);
                self.validate(&key, op.doc, &schema, body)
            }
        }
    }

    /// Checks a response body against the documented schema for `status`.
    pub fn check_response(&self, op: &Operation, status: u16, body: Option<&Value>) -> Vec<String> {
        let responses = &self.op_json(op)["responses"];
        let Some(resp) = responses.get(status.to_string()) else {
            return vec![format!(
                "status {status} is not documented for this operation"
            )];
        };
        match (resp.get("schema"), body) {
            (None, None) => Vec::new(),
            (None, Some(_)) => vec![format!("status {status} is documented without a body")],
            (Some(_), None) => vec![format!("status {status} is documented with a body")],
            (Some(schema), Some(body)) => {
                let key = format!("resp {} {} {} {status}", op.doc, op.method, op.template);
                self.validate(&key, op.doc, schema, body)
            }
        }
    }

    fn validate(&self, key: &str, doc: usize, schema: &Value, instance: &Value) -> Vec<String> {
        let validator = {
            let mut cache = match self.validators.lock() {
                Ok(c) => c,
                Err(p) => p.into_inner(),
            };
            match cache.get(key) {
                Some(v) => Arc::clone(v),
                None => {
                    let root = json!({
                        "definitions": self.docs[doc].json["definitions"].clone(),
                        "allOf": [schema],
                    });
                    match jsonschema::draft4::options().build(&root) {
                        Ok(v) => {
                            let v = Arc::new(v);
                            cache.insert(key.to_owned(), Arc::clone(&v));
                            v
                        }
                        Err(e) => return vec![format!("the spec's schema does not compile: {e}")],
                    }
                }
            }
        };
        validator
            .iter_errors(instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect()
    }
}

fn split(path: &str) -> Vec<String> {
    path.trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn check_scalar(p: &Value, v: &str) -> Option<String> {
    let ty = p["type"].as_str().unwrap_or("string");
    let item_ty = p["items"]["type"].as_str().unwrap_or("string");
    let ty = if ty == "array" { item_ty } else { ty };
    match ty {
        "integer" => {
            let n: i64 = match v.parse() {
                Ok(n) => n,
                Err(_) => return Some("not an integer".to_owned()),
            };
            if let Some(min) = p["minimum"].as_i64()
                && n < min
            {
                return Some(format!("below the minimum {min}"));
            }
            if let Some(max) = p["maximum"].as_i64()
                && n > max
            {
                return Some(format!("above the maximum {max}"));
            }
        }
        "boolean" if v != "true" && v != "false" => return Some("not a boolean".to_owned()),
        _ => {}
    }
    if let Some(values) = p["enum"].as_array()
        && !values.iter().any(|e| e.as_str() == Some(v))
    {
        return Some(format!("not one of {values:?}"));
    }
    None
}
