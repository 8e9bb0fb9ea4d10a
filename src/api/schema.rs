//! The request shape of every action, generated from the official SDK (`schema.json`), used for
//! what serde alone cannot do: refuse unknown parameters by their full path, name a field whose
//! value has the wrong type, and turn the SDK's flattened GET query back into typed JSON.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use serde_json::{Map, Value};

use crate::error::{ApiError, Code};

#[derive(Debug, Clone, PartialEq)]
pub enum FieldType {
    String,
    Integer,
    Boolean,
    Float,
    Object(String),
    List(Box<FieldType>),
}

impl FieldType {
    fn from_json(v: &Value) -> FieldType {
        match v {
            Value::Array(inner) => FieldType::List(Box::new(FieldType::from_json(&inner[0]))),
            Value::String(s) => match s.as_str() {
                "string" => FieldType::String,
                "integer" => FieldType::Integer,
                "boolean" => FieldType::Boolean,
                "float" => FieldType::Float,
                object => FieldType::Object(object.to_owned()),
            },
            other => panic!("schema.json: unexpected type {other}"),
        }
    }

    fn describe(&self) -> &'static str {
        match self {
            FieldType::String => "a string",
            FieldType::Integer => "an integer",
            FieldType::Boolean => "a boolean",
            FieldType::Float => "a number",
            FieldType::Object(_) => "an object",
            FieldType::List(_) => "an array",
        }
    }
}

pub struct Schema {
    /// Action name → its request object's name; ordered like the generated action list.
    actions: BTreeMap<String, String>,
    objects: HashMap<String, HashMap<String, FieldType>>,
}

impl Schema {
    pub fn get() -> &'static Schema {
        static SCHEMA: OnceLock<Schema> = OnceLock::new();
        SCHEMA.get_or_init(|| {
            let raw: Value = serde_json::from_str(include_str!("schema.json")).expect("schema.json is valid JSON");
            let actions = raw["actions"]
                .as_object()
                .expect("actions")
                .iter()
                .map(|(name, a)| (name.clone(), a["request"].as_str().expect("request").to_owned()))
                .collect();
            let objects = raw["objects"]
                .as_object()
                .expect("objects")
                .iter()
                .map(|(name, fields)| {
                    let fields = fields
                        .as_object()
                        .expect("fields")
                        .iter()
                        .map(|(f, t)| (f.clone(), FieldType::from_json(t)))
                        .collect();
                    (name.clone(), fields)
                })
                .collect();
            Schema { actions, objects }
        })
    }

    /// The name of `action`'s request object.
    pub fn request_object(&self, action: &str) -> Option<&str> {
        self.actions.get(action).map(String::as_str)
    }

    /// The fields of object `name` and their types.
    pub fn fields(&self, name: &str) -> Option<&HashMap<String, FieldType>> {
        self.objects.get(name)
    }

    pub fn action_names(&self) -> impl Iterator<Item = &str> {
        self.actions.keys().map(String::as_str)
    }

    /// Refuse a JSON request body that names a parameter the action does not define, or gives a
    /// value of the wrong type. `null` counts as absent, as the SDKs omit unset fields.
    pub fn check(&self, action: &str, body: &Value) -> Result<(), ApiError> {
        let Value::Object(map) = body else {
            return Err(ApiError::new(Code::InvalidParameter, "The request body must be a JSON object."));
        };
        self.check_object(&self.actions[action], map, "")
    }

    fn check_object(&self, object: &str, map: &Map<String, Value>, prefix: &str) -> Result<(), ApiError> {
        let fields = &self.objects[object];
        for (name, value) in map {
            let path = join(prefix, name);
            let Some(t) = fields.get(name) else {
                return Err(unknown(&path));
            };
            self.check_value(t, value, &path)?;
        }
        Ok(())
    }

    fn check_value(&self, t: &FieldType, value: &Value, path: &str) -> Result<(), ApiError> {
        let ok = match (t, value) {
            (_, Value::Null) => true,
            (FieldType::String, Value::String(_)) => true,
            (FieldType::Integer, Value::Number(n)) => n.is_i64() || n.is_u64(),
            (FieldType::Float, Value::Number(_)) => true,
            (FieldType::Boolean, Value::Bool(_)) => true,
            (FieldType::Object(o), Value::Object(m)) => return self.check_object(o, m, path),
            (FieldType::List(inner), Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    self.check_value(inner, item, &format!("{path}.{i}"))?;
                }
                true
            }
            _ => false,
        };
        if ok { Ok(()) } else { Err(wrong_type(path, t)) }
    }

    /// Rebuild the JSON body from the SDK's flattened GET query (`FlowInfos.0.FlowName=…`,
    /// booleans as `True`/`False`), typing each leaf by the schema.
    pub fn unflatten(&self, action: &str, pairs: &[(String, String)]) -> Result<Value, ApiError> {
        let mut root = Node::Object(BTreeMap::new());
        let request = FieldType::Object(self.actions[action].clone());
        for (key, raw) in pairs {
            let mut node = &mut root;
            let mut t = &request;
            let mut path = String::new();
            for part in key.split('.') {
                path = join(&path, part);
                match t {
                    FieldType::Object(o) => {
                        let Some(ft) = self.objects[o].get(part) else {
                            return Err(unknown(&path));
                        };
                        t = ft;
                        let Node::Object(children) = node else { unreachable!("objects hold objects") };
                        node = children.entry(part.to_owned()).or_insert_with(|| Node::empty(ft));
                    }
                    FieldType::List(inner) => {
                        let index: usize = part.parse().map_err(|_| wrong_type(&path, t))?;
                        t = inner;
                        let Node::List(children) = node else { unreachable!("lists hold lists") };
                        node = children.entry(index).or_insert_with(|| Node::empty(inner));
                    }
                    _ => return Err(wrong_type(&path, t)),
                }
            }
            *node = Node::Leaf(leaf(t, raw, &path)?);
        }
        root.into_value("")
    }
}

enum Node {
    Object(BTreeMap<String, Node>),
    List(BTreeMap<usize, Node>),
    Leaf(Value),
    Unset(FieldType),
}

impl Node {
    fn empty(t: &FieldType) -> Node {
        match t {
            FieldType::Object(_) => Node::Object(BTreeMap::new()),
            FieldType::List(_) => Node::List(BTreeMap::new()),
            other => Node::Unset(other.clone()),
        }
    }

    fn into_value(self, path: &str) -> Result<Value, ApiError> {
        Ok(match self {
            Node::Leaf(v) => v,
            Node::Unset(t) => return Err(wrong_type(path, &t)),
            Node::Object(children) => Value::Object(
                children
                    .into_iter()
                    .map(|(k, n)| {
                        let p = join(path, &k);
                        n.into_value(&p).map(|v| (k, v))
                    })
                    .collect::<Result<_, _>>()?,
            ),
            Node::List(children) => {
                let mut items = Vec::with_capacity(children.len());
                for (expected, (index, n)) in children.into_iter().enumerate() {
                    let p = join(path, &index.to_string());
                    if index != expected {
                        return Err(ApiError::new(
                            Code::InvalidParameter,
                            format!(
                                "The parameter `{}` is missing: list indices must start at 0 and have no gaps.",
                                join(path, &expected.to_string())
                            ),
                        ));
                    }
                    items.push(n.into_value(&p)?);
                }
                Value::Array(items)
            }
        })
    }
}

fn leaf(t: &FieldType, raw: &str, path: &str) -> Result<Value, ApiError> {
    let bad = || wrong_type(path, t);
    Ok(match t {
        FieldType::String => Value::String(raw.to_owned()),
        FieldType::Integer => Value::from(raw.parse::<i64>().map_err(|_| bad())?),
        FieldType::Float => {
            let f: f64 = raw.parse().map_err(|_| bad())?;
            serde_json::Number::from_f64(f).map(Value::Number).ok_or_else(bad)?
        }
        FieldType::Boolean => match raw {
            "True" | "true" => Value::Bool(true),
            "False" | "false" => Value::Bool(false),
            _ => return Err(bad()),
        },
        FieldType::Object(_) | FieldType::List(_) => return Err(bad()),
    })
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() { name.to_owned() } else { format!("{prefix}.{name}") }
}

fn unknown(path: &str) -> ApiError {
    ApiError::new(Code::UnknownParameter, format!("The parameter `{path}` is not recognized."))
}

fn wrong_type(path: &str, t: &FieldType) -> ApiError {
    ApiError::new(
        Code::InvalidParameter,
        format!("The value type of parameter `{path}` is not valid: expected {}.", t.describe()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ACTION: &str = "ChannelCreateFlowGroupByTemplates";

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn a_documented_nested_body_passes() {
        let body = json!({"Agent": {"AppId": "a", "ProxyOperator": {"OpenId": "o"}},
            "FlowGroupName": "g", "FlowInfos": [{"FlowName": "f", "Deadline": 1, "NeedSignReview": false,
            "FlowApprovers": [{"ApproverOption": {"FillType": 1}, "ApproverVerifyTypes": [1]}]}]});
        Schema::get().check(ACTION, &body).unwrap();
    }

    #[test]
    fn an_unknown_parameter_is_named_by_its_full_path() {
        let body = json!({"FlowInfos": [{"FlowName": "f"}, {"FlowApprovers": [{"Nmae": "x"}]}]});
        let e = Schema::get().check(ACTION, &body).unwrap_err();
        assert_eq!(e.code, Code::UnknownParameter);
        assert_eq!(e.message, "The parameter `FlowInfos.1.FlowApprovers.0.Nmae` is not recognized.");
    }

    #[test]
    fn a_wrongly_typed_value_is_named() {
        let e = Schema::get().check(ACTION, &json!({"FlowInfos": [{"Deadline": "soon"}]})).unwrap_err();
        assert_eq!(e.code, Code::InvalidParameter);
        assert_eq!(e.message, "The value type of parameter `FlowInfos.0.Deadline` is not valid: expected an integer.");
        let e = Schema::get().check(ACTION, &json!({"FlowInfos": {"FlowName": "x"}})).unwrap_err();
        assert_eq!(e.message, "The value type of parameter `FlowInfos` is not valid: expected an array.");
        let e = Schema::get().check(ACTION, &json!({"FlowGroupName": 1.5})).unwrap_err();
        assert_eq!(e.message, "The value type of parameter `FlowGroupName` is not valid: expected a string.");
    }

    #[test]
    fn null_counts_as_absent() {
        Schema::get().check(ACTION, &json!({"FlowGroupName": null})).unwrap();
    }

    #[test]
    fn a_body_that_is_not_an_object_is_refused() {
        let e = Schema::get().check(ACTION, &json!([1])).unwrap_err();
        assert_eq!(e.code, Code::InvalidParameter);
    }

    #[test]
    fn a_flattened_query_becomes_typed_json() {
        let v = Schema::get()
            .unflatten(
                ACTION,
                &pairs(&[
                    ("Agent.AppId", "app"),
                    ("FlowInfos.1.FlowName", "二"),
                    ("FlowInfos.0.FlowName", "123"),
                    ("FlowInfos.0.Deadline", "1698202075"),
                    ("FlowInfos.0.NeedSignReview", "True"),
                    ("FlowInfos.0.FlowApprovers.0.ApproverVerifyTypes.0", "1"),
                ]),
            )
            .unwrap();
        assert_eq!(
            v,
            json!({"Agent": {"AppId": "app"}, "FlowInfos": [
                {"Deadline": 1698202075, "FlowApprovers": [{"ApproverVerifyTypes": [1]}], "FlowName": "123", "NeedSignReview": true},
                {"FlowName": "二"}]})
        );
    }

    #[test]
    fn a_flattened_query_with_an_unknown_name_or_bad_value_is_refused() {
        let s = Schema::get();
        let e = s.unflatten(ACTION, &pairs(&[("FlowInfos.0.Bogus", "x")])).unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (Code::UnknownParameter, "The parameter `FlowInfos.0.Bogus` is not recognized.")
        );
        let e = s.unflatten(ACTION, &pairs(&[("FlowInfos.0.Deadline", "tomorrow")])).unwrap_err();
        assert_eq!(e.code, Code::InvalidParameter);
        let e = s.unflatten(ACTION, &pairs(&[("FlowInfos.x.FlowName", "a")])).unwrap_err();
        assert_eq!(e.message, "The value type of parameter `FlowInfos.x` is not valid: expected an array.");
        let e = s.unflatten(ACTION, &pairs(&[("FlowInfos.1.FlowName", "a")])).unwrap_err();
        assert_eq!(e.message, "The parameter `FlowInfos.0` is missing: list indices must start at 0 and have no gaps.");
        let e = s.unflatten(ACTION, &pairs(&[("Agent", "a")])).unwrap_err();
        assert_eq!(e.message, "The value type of parameter `Agent` is not valid: expected an object.");
    }
}
