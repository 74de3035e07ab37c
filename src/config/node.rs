//! A configuration document as a tree of values that remember where they were
//! written, so that every validation problem can point at its line and column.
//!
//! YAML files are parsed into this tree (with locations); JSON updates are
//! converted into it (without). Both then go through the same readers, so a
//! YAML file and a JSON update are checked by one code path.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;
use std::fmt;

/// A 1-based line and column in a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loc {
    pub line: u32,
    pub column: u32,
}

/// One value of a configuration document and where it was written (`None`
/// for values that did not come from a file, such as JSON updates).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub loc: Option<Loc>,
}

/// The value of a [`Node`]. Mappings keep their keys in source order.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

/// A mapping key and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub name: String,
    pub loc: Option<Loc>,
}

impl Node {
    /// A node without a location.
    pub fn new(value: Value) -> Node {
        Node { value, loc: None }
    }

    /// What kind of value this is, for messages ("expected a number, found a string").
    /// This node, located at `key` when it has no location of its own (an
    /// empty or null mapping), so that "missing `type`" points at its key.
    pub fn located_at(&self, key: &Key) -> Node {
        let mut node = self.clone();
        if node.loc.is_none() || node.value == Value::Null {
            node.loc = key.loc;
        }
        node
    }

    pub fn kind(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) | Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    /// The entries of a mapping, or `None` if this is not a mapping.
    pub fn entries(&self) -> Option<&[(Key, Node)]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The value under `key` of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries()?
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(_, v)| v)
    }

    /// The node at a dotted path such as `flags.new_ui.schedule[1].at`, for
    /// pointing a problem found on the typed model back at the file.
    pub fn find(&self, path: &str) -> Option<&Node> {
        let mut node = self;
        for segment in path.split('.').filter(|s| !s.is_empty()) {
            let (key, indices) = match segment.find('[') {
                Some(i) => (&segment[..i], &segment[i..]),
                None => (segment, ""),
            };
            if !key.is_empty() {
                node = node.get(key)?;
            }
            for index in indices.split(['[', ']']).filter(|s| !s.is_empty()) {
                let index: usize = index.parse().ok()?;
                node = match &node.value {
                    Value::Seq(items) => items.get(index)?,
                    _ => return None,
                };
            }
        }
        Some(node)
    }

    /// The location of the node at `path`, or of its nearest located ancestor
    /// (a missing field is reported where its flag is).
    pub fn locate(&self, path: &str) -> Option<Loc> {
        let mut path = path;
        loop {
            if let Some(loc) = self.find(path).and_then(|n| n.loc) {
                return Some(loc);
            }
            match path.rfind(['.', '[']) {
                Some(i) => path = &path[..i],
                None => return self.loc,
            }
        }
    }

    /// The tree of a JSON value (without locations).
    pub fn from_json(value: &serde_json::Value) -> Node {
        use serde_json::Value as J;
        Node::new(match value {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            J::String(s) => Value::Str(s.clone()),
            J::Array(items) => Value::Seq(items.iter().map(Node::from_json).collect()),
            J::Object(map) => Value::Map(
                map.iter()
                    .map(|(k, v)| {
                        let key = Key {
                            name: k.clone(),
                            loc: None,
                        };
                        (key, Node::from_json(v))
                    })
                    .collect(),
            ),
        })
    }

    /// The JSON value of this tree. Non-finite floats (YAML `.nan`, `.inf`),
    /// which JSON cannot carry, become null.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.name.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

// YAML: every node is read as `Spanned<Raw>` so that it keeps its location.
struct Raw(Value);

fn loc_of(location: &serde_saphyr::Location) -> Option<Loc> {
    let (line, column) = (location.line(), location.column());
    (line > 0).then(|| Loc {
        line: u32::try_from(line).unwrap_or(u32::MAX),
        column: u32::try_from(column).unwrap_or(u32::MAX),
    })
}

impl From<Spanned<Raw>> for Node {
    fn from(spanned: Spanned<Raw>) -> Node {
        Node {
            value: spanned.value.0,
            loc: loc_of(&spanned.referenced),
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Spanned::<Raw>::deserialize(deserializer).map(Node::from)
    }
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<Raw, E> {
        Ok(Raw(Value::Null))
    }
    fn visit_none<E>(self) -> Result<Raw, E> {
        Ok(Raw(Value::Null))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Raw, D::Error> {
        Raw::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Raw, E> {
        Ok(Raw(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Raw, E> {
        Ok(Raw(Value::Int(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Raw, E> {
        Ok(Raw(
            i64::try_from(v).map_or(Value::Float(v as f64), Value::Int)
        ))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Raw, E> {
        Ok(Raw(
            i64::try_from(v).map_or(Value::Float(v as f64), Value::Int)
        ))
    }
    fn visit_u128<E>(self, v: u128) -> Result<Raw, E> {
        Ok(Raw(
            i64::try_from(v).map_or(Value::Float(v as f64), Value::Int)
        ))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Raw, E> {
        Ok(Raw(Value::Float(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Raw, E> {
        Ok(Raw(Value::Str(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Raw, E> {
        Ok(Raw(Value::Str(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Raw(Value::Seq(items)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Node>()? {
            let name = match key.value {
                Value::Str(s) => s,
                Value::Int(i) => i.to_string(),
                Value::Bool(b) => b.to_string(),
                Value::Float(f) => f.to_string(),
                Value::Null => "null".to_owned(),
                Value::Seq(_) | Value::Map(_) => {
                    return Err(de::Error::custom("mapping keys must be plain scalars"));
                }
            };
            let value = map.next_value::<Node>()?;
            entries.push((Key { name, loc: key.loc }, value));
        }
        Ok(Raw(Value::Map(entries)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_nodes_keep_their_locations() {
        let yaml = "flags:\n  a:\n    percentage: 25\n    tags: [x, y, no, 007]\n";
        let root = crate::config::parse_yaml(yaml, "t.yml").unwrap();
        let p = root.find("flags.a.percentage").unwrap();
        assert_eq!(p.value, Value::Int(25));
        assert_eq!(
            p.loc,
            Some(Loc {
                line: 3,
                column: 17
            })
        );
        let y = root.find("flags.a.tags[1]").unwrap();
        assert_eq!(y.value, Value::Str("y".into()));
        assert_eq!(y.loc.unwrap().line, 4);
        // YAML 1.2: `no` is a string, `007` keeps its zeros.
        assert_eq!(
            root.find("flags.a.tags[2]").unwrap().value,
            Value::Str("no".into())
        );
        assert_eq!(
            root.find("flags.a.tags[3]").unwrap().value,
            Value::Str("007".into())
        );
        // A missing field is located at its nearest ancestor.
        assert_eq!(root.locate("flags.a.seed").unwrap().line, 3);
    }

    #[test]
    fn json_round_trip() {
        let json = serde_json::json!({"a": [1, 2.5, "x", null, true], "b": {"c": 1}});
        assert_eq!(Node::from_json(&json).to_json(), json);
    }
}
