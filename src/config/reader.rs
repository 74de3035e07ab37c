//! Reading typed fields out of a [`Node`] mapping while collecting problems:
//! a wrong type, a missing field or an unknown field is recorded with its
//! location and field path, and reading goes on.

use super::{Issues, Node, Value};
use crate::common::limits::{MAX_QUOTED_BYTES, excerpt};

/// The fields of one mapping being read. Call the typed getters, then
/// [`Fields::finish`] to report the fields nobody asked for.
pub struct Fields<'n> {
    node: &'n Node,
    path: String,
    known: Vec<&'static str>,
}

impl<'n> Fields<'n> {
    /// Starts reading `node` (at `path`) as a mapping; records a problem and
    /// returns `None` if it is not one.
    pub fn new(node: &'n Node, path: &str, issues: &mut Issues) -> Option<Fields<'n>> {
        if node.entries().is_none() {
            issues.push(
                node.loc,
                path,
                format!("expected a mapping of fields, found {}", node.kind()),
                None,
            );
            return None;
        }
        Some(Fields {
            node,
            path: path.to_owned(),
            known: Vec::new(),
        })
    }

    /// The path of field `key`, e.g. `flags.new_ui.percentage`.
    pub fn path_of(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// The raw node of field `key`; an explicit `null` counts as absent.
    pub fn node(&mut self, key: &'static str) -> Option<&'n Node> {
        self.known.push(key);
        self.node.get(key).filter(|n| n.value != Value::Null)
    }

    /// A string field.
    pub fn str(&mut self, key: &'static str, issues: &mut Issues) -> Option<&'n str> {
        let node = self.node(key)?;
        match &node.value {
            Value::Str(s) => Some(s),
            _ => self.wrong(node, key, "a string", issues),
        }
    }

    /// A boolean field (`true`/`false`).
    pub fn bool(&mut self, key: &'static str, issues: &mut Issues) -> Option<bool> {
        let node = self.node(key)?;
        match node.value {
            Value::Bool(b) => Some(b),
            _ => self.wrong(node, key, "true or false", issues),
        }
    }

    /// A number field. NaN and infinities are refused here, once for all numbers.
    pub fn number(&mut self, key: &'static str, issues: &mut Issues) -> Option<f64> {
        let node = self.node(key)?;
        number(node, &self.path_of(key), issues)
    }

    /// A non-negative whole-number field.
    pub fn unsigned(&mut self, key: &'static str, issues: &mut Issues) -> Option<u32> {
        let node = self.node(key)?;
        match node.value {
            Value::Int(i) if (0..=i64::from(u32::MAX)).contains(&i) => Some(i as u32),
            _ => self.wrong(node, key, "a whole number ≥ 0", issues),
        }
    }

    /// A list-of-strings field.
    pub fn strings(&mut self, key: &'static str, issues: &mut Issues) -> Option<Vec<String>> {
        let node = self.node(key)?;
        let Value::Seq(items) = &node.value else {
            return self.wrong(node, key, "a list of strings", issues);
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            match &item.value {
                Value::Str(s) => out.push(s.clone()),
                // Numeric ids (`allow_users: [1017]`) are ids all the same.
                Value::Int(i) => out.push(i.to_string()),
                _ => issues.push(
                    item.loc,
                    &format!("{}[{i}]", self.path_of(key)),
                    format!("expected a string, found {}", item.kind()),
                    None,
                ),
            }
        }
        Some(out)
    }

    /// A list field, each item given to the caller with its path.
    pub fn list(&mut self, key: &'static str, issues: &mut Issues) -> Option<&'n [Node]> {
        let node = self.node(key)?;
        match &node.value {
            Value::Seq(items) => Some(items),
            _ => self.wrong(node, key, "a list", issues),
        }
    }

    fn wrong<T>(&self, node: &Node, key: &str, expected: &str, issues: &mut Issues) -> Option<T> {
        issues.push(
            node.loc,
            &self.path_of(key),
            format!("expected {expected}, found {}", node.kind()),
            None,
        );
        None
    }

    /// Reports every field that no getter asked for, with the closest known
    /// name as a hint (`percentag` → `percentage`).
    pub fn finish(self, issues: &mut Issues) {
        for (key, _) in self.node.entries().unwrap_or_default() {
            if self.known.contains(&key.name.as_str()) {
                continue;
            }
            let hint = closest(&key.name, &self.known)
                .map(|k| format!("did you mean `{k}`?"))
                .or_else(|| Some(format!("known fields: {}", self.known.join(", "))));
            issues.push(
                key.loc,
                &self.path_of(&key.name),
                format!("unknown field `{}`", excerpt(&key.name)),
                hint,
            );
        }
    }
}

/// A finite number, or a recorded problem.
pub fn number(node: &Node, path: &str, issues: &mut Issues) -> Option<f64> {
    let value = match node.value {
        Value::Int(i) => i as f64,
        Value::Float(f) => f,
        _ => {
            issues.push(
                node.loc,
                path,
                format!("expected a number, found {}", node.kind()),
                None,
            );
            return None;
        }
    };
    if !value.is_finite() {
        issues.push(
            node.loc,
            path,
            format!("{value} is not a finite number"),
            None,
        );
        return None;
    }
    Some(value)
}

/// `parent.key`, or `key` at the top. A key longer than any field or name
/// is shown cut short (see [`excerpt`]): paths go into messages.
pub fn join(parent: &str, key: &str) -> String {
    let key = excerpt(key);
    if parent.is_empty() {
        key.into_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// The known name nearest to `name` by edit distance, if near enough to be a typo.
fn closest<'k>(name: &str, known: &[&'k str]) -> Option<&'k str> {
    // Far longer than any field: no typo of one, and costly to compare.
    if name.len() > MAX_QUOTED_BYTES {
        return None;
    }
    known
        .iter()
        .map(|k| (edit_distance(name, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_wrong_types_and_unknown_fields_together() {
        let node =
            crate::config::parse_yaml("percentag: 5\nenabled: yes please\n", "f.yml").unwrap();
        let mut issues = Issues::new("f.yml");
        let mut fields = Fields::new(&node, "flags.a", &mut issues).unwrap();
        assert_eq!(fields.bool("enabled", &mut issues), None);
        assert_eq!(fields.number("percentage", &mut issues), None);
        fields.finish(&mut issues);
        let err = issues.finish(()).unwrap_err();
        assert_eq!(err.issues.len(), 2);
        assert_eq!(err.issues[0].path, "flags.a.enabled");
        assert_eq!(err.issues[0].line, 2);
        assert_eq!(err.issues[1].path, "flags.a.percentag");
        assert_eq!(
            err.issues[1].hint.as_deref(),
            Some("did you mean `percentage`?")
        );
    }
}
