//! Writing configuration YAML (a migrated file): block style, two-space
//! indentation, mapping keys in the order given.
//!
//! A string is written plain only when every YAML reader takes it back as
//! that same string: one that YAML 1.2 or 1.1 would read as something else
//! (`no`, `on`, `null`, `007`, `1e3`, a time, `""`) or that YAML syntax
//! would cut short (`a: b`, `# x`, `[x]`) is double-quoted, with escapes for
//! control characters. So reading the text back with [`super::parse_yaml`]
//! gives the very values written, and the Python seed's YAML 1.1 reader
//! does not turn a group called `no` into `false`.

use serde::Serialize;
use serde::ser::{self, Impossible};

use super::{Key, Node, Value};

/// `value` as a tree whose mappings keep the order in which serde writes
/// them: a struct's fields in declaration order. (`serde_json::Value`
/// would sort them.)
///
/// # Errors
/// A message when `value` has what a config file cannot hold: a map whose
/// keys are not scalars, an enum variant with fields.
pub(crate) fn to_ordered_node<T: Serialize + ?Sized>(value: &T) -> Result<Node, String> {
    value.serialize(NodeSerializer).map_err(|e| e.0)
}

/// The entries of mapping `entries` written in block style at `indent`
/// spaces, one `key: value` a line (nested mappings and lists below their
/// key), appended to `out`.
pub(crate) fn write_entries(out: &mut String, entries: &[(Key, Node)], indent: usize) {
    for (key, value) in entries {
        push_indent(out, indent);
        write_entry(out, &key.name, value, indent);
    }
}

/// `key: value` at the current position (the indentation is written), with
/// the value's continuation lines at `indent + 2`.
fn write_entry(out: &mut String, key: &str, value: &Node, indent: usize) {
    write_scalar_str(out, key);
    out.push(':');
    match &value.value {
        Value::Map(entries) if !entries.is_empty() => {
            out.push('\n');
            write_entries(out, entries, indent + 2);
        }
        Value::Seq(items) if !items.iter().all(is_scalar) => {
            out.push('\n');
            write_block_items(out, items, indent + 2);
        }
        _ => {
            out.push(' ');
            write_flow(out, value);
            out.push('\n');
        }
    }
}

/// The items of a list, `- item` a line; a mapping item has its first entry
/// on the dash's line and the rest below it.
fn write_block_items(out: &mut String, items: &[Node], indent: usize) {
    for item in items {
        push_indent(out, indent);
        out.push_str("- ");
        match &item.value {
            Value::Map(entries) if !entries.is_empty() => {
                let (first, rest) = entries.split_at(1);
                write_entry(out, &first[0].0.name, &first[0].1, indent + 2);
                write_entries(out, rest, indent + 2);
            }
            _ => {
                write_flow(out, item);
                out.push('\n');
            }
        }
    }
}

fn is_scalar(node: &Node) -> bool {
    !matches!(node.value, Value::Seq(_) | Value::Map(_))
}

/// A value on one line: a scalar, or a list or mapping in flow style
/// (`[a, b]`, `{k: v}`). Plain strings never hold `,[]{}`, so they are safe
/// inside a flow collection too.
fn write_flow(out: &mut String, node: &Node) {
    match &node.value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&float_text(*f)),
        Value::Str(s) => write_scalar_str(out, s),
        Value::Seq(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_flow(out, item);
            }
            out.push(']');
        }
        Value::Map(entries) => {
            out.push('{');
            for (i, (key, value)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_scalar_str(out, &key.name);
                out.push_str(": ");
                write_flow(out, value);
            }
            out.push('}');
        }
    }
}

/// A float that reads back as the same float, never as an integer: `25.0`,
/// `0.1`, `1e-7`, `.inf`.
fn float_text(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf" } else { "-.inf" }.into();
    }
    // Debug is the shortest text that reads back as the same f64; it has a
    // `.` or an exponent except for whole numbers written in full.
    let text = format!("{f:?}");
    if text.contains(['.', 'e', 'E']) {
        text
    } else {
        format!("{text}.0")
    }
}

fn write_scalar_str(out: &mut String, s: &str) {
    if plain_is_safe(s) {
        out.push_str(s);
    } else {
        write_double_quoted(out, s);
    }
}

/// Words that YAML 1.1 or 1.2 reads as a null, a boolean or a special
/// float when plain (compared case-insensitively).
const RESERVED: [&str; 16] = [
    "null", "~", "true", "false", "yes", "no", "on", "off", "y", "n", ".inf", "-.inf", "+.inf",
    ".nan", "<<", "=",
];

/// Whether `s` written plain reads back as the string `s`, in block and in
/// flow context, under YAML 1.2 and 1.1 alike. Conservative: a string
/// refused here is merely quoted.
fn plain_is_safe(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(s)) {
        return false;
    }
    // Numbers, times and dates of either version start with a digit, or a
    // sign or dot before one (`-1`, `+.5`, `.5`).
    let second = s.chars().nth(1);
    if first.is_ascii_digit()
        || (matches!(first, '-' | '+' | '.')
            && second.is_some_and(|c| c.is_ascii_digit() || c == '.'))
    {
        return false;
    }
    // Indicators that start something else than a plain scalar.
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        return false;
    }
    if s.ends_with([' ', ':']) || s.starts_with(' ') {
        return false;
    }
    if s.contains(": ") || s.contains(" #") || s.contains([',', '[', ']', '{', '}']) {
        return false;
    }
    // Only printable characters; tabs, line breaks and the like are escaped.
    s.chars().all(|c| !c.is_control() && !is_special_space(c))
}

/// Characters that YAML treats as line breaks or byte-order marks, or that
/// would be invisible in a file: always escaped.
fn is_special_space(c: char) -> bool {
    matches!(c, '\u{2028}' | '\u{2029}' | '\u{FEFF}' | '\u{85}')
}

fn write_double_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || is_special_space(c) => {
                out.push_str(&format!("\\u{:04X}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn push_indent(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

/// Why a value could not become a [`Node`].
#[derive(Debug)]
struct NodeError(String);

impl std::fmt::Display for NodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NodeError {}

impl ser::Error for NodeError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        NodeError(msg.to_string())
    }
}

/// A serde serializer that builds a [`Node`], mappings in the order serde
/// gives their entries.
struct NodeSerializer;

fn leaf(value: Value) -> Result<Node, NodeError> {
    Ok(Node::new(value))
}

impl ser::Serializer for NodeSerializer {
    type Ok = Node;
    type Error = NodeError;
    type SerializeSeq = SeqBuilder;
    type SerializeTuple = SeqBuilder;
    type SerializeTupleStruct = SeqBuilder;
    type SerializeTupleVariant = Impossible<Node, NodeError>;
    type SerializeMap = MapBuilder;
    type SerializeStruct = MapBuilder;
    type SerializeStructVariant = Impossible<Node, NodeError>;

    fn serialize_bool(self, v: bool) -> Result<Node, NodeError> {
        leaf(Value::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Node, NodeError> {
        leaf(Value::Int(v.into()))
    }
    fn serialize_i16(self, v: i16) -> Result<Node, NodeError> {
        leaf(Value::Int(v.into()))
    }
    fn serialize_i32(self, v: i32) -> Result<Node, NodeError> {
        leaf(Value::Int(v.into()))
    }
    fn serialize_i64(self, v: i64) -> Result<Node, NodeError> {
        leaf(Value::Int(v))
    }
    fn serialize_u8(self, v: u8) -> Result<Node, NodeError> {
        leaf(Value::Int(v.into()))
    }
    fn serialize_u16(self, v: u16) -> Result<Node, NodeError> {
        leaf(Value::Int(v.into()))
    }
    fn serialize_u32(self, v: u32) -> Result<Node, NodeError> {
        leaf(Value::Int(v.into()))
    }
    fn serialize_u64(self, v: u64) -> Result<Node, NodeError> {
        // As the YAML reader takes a number beyond i64.
        leaf(i64::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }
    fn serialize_f32(self, v: f32) -> Result<Node, NodeError> {
        leaf(Value::Float(v.into()))
    }
    fn serialize_f64(self, v: f64) -> Result<Node, NodeError> {
        leaf(Value::Float(v))
    }
    fn serialize_char(self, v: char) -> Result<Node, NodeError> {
        leaf(Value::Str(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Result<Node, NodeError> {
        leaf(Value::Str(v.to_owned()))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Node, NodeError> {
        leaf(Value::Seq(
            v.iter()
                .map(|b| Node::new(Value::Int((*b).into())))
                .collect(),
        ))
    }
    fn serialize_none(self) -> Result<Node, NodeError> {
        leaf(Value::Null)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Node, NodeError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Node, NodeError> {
        leaf(Value::Null)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<Node, NodeError> {
        leaf(Value::Null)
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<Node, NodeError> {
        leaf(Value::Str(variant.to_owned()))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<Node, NodeError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Node, NodeError> {
        let key = Key {
            name: variant.to_owned(),
            loc: None,
        };
        leaf(Value::Map(vec![(key, value.serialize(self)?)]))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqBuilder, NodeError> {
        Ok(SeqBuilder(Vec::with_capacity(len.unwrap_or(0))))
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqBuilder, NodeError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<SeqBuilder, NodeError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        name: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Impossible<Node, NodeError>, NodeError> {
        Err(NodeError(format!(
            "{name}::{variant}: an enum variant with fields has no YAML form here"
        )))
    }
    fn serialize_map(self, len: Option<usize>) -> Result<MapBuilder, NodeError> {
        Ok(MapBuilder {
            entries: Vec::with_capacity(len.unwrap_or(0)),
            key: None,
        })
    }
    fn serialize_struct(self, _: &'static str, len: usize) -> Result<MapBuilder, NodeError> {
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        name: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Impossible<Node, NodeError>, NodeError> {
        Err(NodeError(format!(
            "{name}::{variant}: an enum variant with fields has no YAML form here"
        )))
    }
}

/// The items of a list being serialised.
struct SeqBuilder(Vec<Node>);

impl ser::SerializeSeq for SeqBuilder {
    type Ok = Node;
    type Error = NodeError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), NodeError> {
        self.0.push(value.serialize(NodeSerializer)?);
        Ok(())
    }
    fn end(self) -> Result<Node, NodeError> {
        leaf(Value::Seq(self.0))
    }
}

impl ser::SerializeTuple for SeqBuilder {
    type Ok = Node;
    type Error = NodeError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), NodeError> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<Node, NodeError> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for SeqBuilder {
    type Ok = Node;
    type Error = NodeError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), NodeError> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<Node, NodeError> {
        ser::SerializeSeq::end(self)
    }
}

/// The entries of a mapping (or the fields of a struct) being serialised,
/// in order.
struct MapBuilder {
    entries: Vec<(Key, Node)>,
    /// The key whose value comes next.
    key: Option<String>,
}

impl ser::SerializeMap for MapBuilder {
    type Ok = Node;
    type Error = NodeError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), NodeError> {
        // Keys are named as the YAML reader names them.
        self.key = Some(match key.serialize(NodeSerializer)?.value {
            Value::Str(s) => s,
            Value::Int(i) => i.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => return Err(NodeError("a mapping key must be a string".into())),
        });
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), NodeError> {
        let name = self
            .key
            .take()
            .ok_or_else(|| NodeError("a mapping value without its key".into()))?;
        self.entries
            .push((Key { name, loc: None }, value.serialize(NodeSerializer)?));
        Ok(())
    }
    fn end(self) -> Result<Node, NodeError> {
        leaf(Value::Map(self.entries))
    }
}

impl ser::SerializeStruct for MapBuilder {
    type Ok = Node;
    type Error = NodeError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), NodeError> {
        self.entries.push((
            Key {
                name: key.to_owned(),
                loc: None,
            },
            value.serialize(NodeSerializer)?,
        ));
        Ok(())
    }
    fn end(self) -> Result<Node, NodeError> {
        leaf(Value::Map(self.entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_yaml;

    fn read_back(text: &str) -> Node {
        parse_yaml(text, "t.yml").unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    #[test]
    fn strings_that_would_read_as_something_else_are_quoted() {
        let nasty = [
            "no",
            "No",
            "on",
            "OFF",
            "y",
            "null",
            "~",
            "true",
            "007",
            "1e3",
            "1.5",
            "-1",
            ".5",
            "+.5",
            "0x1F",
            "0o17",
            "2026-01-05",
            "2026-01-05T00:00:00Z",
            "12:30",
            "",
            " a",
            "a ",
            "a: b",
            "a #b",
            "#x",
            "-x",
            "- x",
            "[x]",
            "{x}",
            "a,b",
            "x:",
            "*x",
            "&x",
            "!x",
            "|x",
            ">x",
            "'x",
            "\"x",
            "%x",
            "@x",
            "`x",
            "?x",
            "a\nb",
            "tab\there",
            "nul\0",
            "bell\u{7}",
            "ls\u{2028}",
            "bom\u{FEFF}",
            ".inf",
            "-.INF",
            ".NaN",
            "<<",
            "=",
        ];
        let plain = [
            "planner-017",
            "kW/kEUR",
            "beta_testers",
            "Pa/m",
            "a.b",
            "naïve",
            "x-y",
            "back\\slash",
            "quo\"te",
            "it's",
            "a#b",
            "a:b",
        ];
        let mut text = String::new();
        for (i, s) in nasty.iter().chain(plain.iter()).enumerate() {
            let node = Node::new(Value::Str((*s).to_string()));
            text.push_str(&format!("k{i}: "));
            write_flow(&mut text, &node);
            text.push('\n');
            // The same string as a key.
            write_scalar_str(&mut text, s);
            text.push_str(&format!(": {i}\n"));
        }
        let root = read_back(&text);
        let entries = root.entries().unwrap();
        for (i, s) in nasty.iter().chain(plain.iter()).enumerate() {
            assert_eq!(
                root.get(&format!("k{i}")).map(|n| &n.value),
                Some(&Value::Str((*s).to_string())),
                "{s:?} as a value"
            );
            assert_eq!(entries[2 * i + 1].0.name, *s, "{s:?} as a key");
            assert_eq!(entries[2 * i + 1].1.value, Value::Int(i as i64));
        }
        for s in nasty {
            assert!(!plain_is_safe(s), "{s:?} should be quoted");
        }
        for s in plain {
            assert!(plain_is_safe(s), "{s:?} needs no quotes");
        }
    }

    #[test]
    fn numbers_keep_their_kind_and_value() {
        let values = [
            Value::Int(0),
            Value::Int(-7),
            Value::Int(i64::MAX),
            Value::Float(25.0),
            Value::Float(-0.5),
            Value::Float(0.1),
            Value::Float(1e-7),
            Value::Float(1e20),
            Value::Float(f64::MAX),
            Value::Bool(false),
            Value::Null,
        ];
        let entries: Vec<(Key, Node)> = values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let key = Key {
                    name: format!("v{i}"),
                    loc: None,
                };
                (key, Node::new(v.clone()))
            })
            .collect();
        let mut text = String::new();
        write_entries(&mut text, &entries, 0);
        let root = read_back(&text);
        for (i, v) in values.iter().enumerate() {
            assert_eq!(root.get(&format!("v{i}")).unwrap().value, *v, "{text}");
        }
        // The reader refuses non-finite numbers in a config; they are
        // written as YAML spells them all the same.
        assert_eq!(float_text(f64::INFINITY), ".inf");
        assert_eq!(float_text(f64::NEG_INFINITY), "-.inf");
        assert_eq!(float_text(f64::NAN), ".nan");
        assert_eq!(float_text(25.0), "25.0");
    }

    #[test]
    fn nested_documents_read_back_alike_and_look_like_hand_written_yaml() {
        let yaml = "\
a:
  list: [x, \"no\", 3]
  empty_list: []
  empty_map: {}
  items:
    - name: first
      weight: 50.0
      payload:
        k: 1
        deep: [{a: 1}]
    - plain
    - [1, 2]
  z: null
";
        let root = read_back(yaml);
        let mut text = String::new();
        write_entries(&mut text, root.entries().unwrap(), 0);
        assert_eq!(
            text,
            yaml.replace("deep: [{a: 1}]", "deep:\n          - a: 1")
        );
        assert_eq!(read_back(&text).to_json(), root.to_json());
    }

    #[test]
    fn ordered_nodes_keep_the_declaration_order() {
        #[derive(Serialize)]
        #[serde(rename_all = "snake_case")]
        enum Kind {
            AbTest,
        }
        #[derive(Serialize)]
        struct T {
            zulu: u8,
            alpha: &'static str,
            #[serde(skip_serializing_if = "Option::is_none")]
            skipped: Option<u8>,
            kind: Kind,
            mike: Vec<f64>,
            payload: serde_json::Value,
        }
        let node = to_ordered_node(&T {
            zulu: 1,
            alpha: "no",
            skipped: None,
            kind: Kind::AbTest,
            mike: vec![1.0, 2.5],
            payload: serde_json::json!({"b": [1, 2.0, null], "a": {"c": true}}),
        })
        .unwrap();
        let keys: Vec<&str> = node
            .entries()
            .unwrap()
            .iter()
            .map(|(k, _)| k.name.as_str())
            .collect();
        assert_eq!(keys, ["zulu", "alpha", "kind", "mike", "payload"]);
        assert_eq!(
            node.get("kind").unwrap().value,
            Value::Str("ab_test".into())
        );
        assert_eq!(
            node.to_json(),
            serde_json::json!({"zulu": 1, "alpha": "no", "kind": "ab_test", "mike": [1.0, 2.5],
                               "payload": {"a": {"c": true}, "b": [1, 2.0, null]}})
        );
        let keyed = std::collections::BTreeMap::from([((1, 2), 3)]);
        assert!(to_ordered_node(&keyed).is_err());
    }
}
