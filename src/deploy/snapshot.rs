//! What a deployment keeps, to know later the configuration it left (what a
//! rollback brings back) and what the files said then (the base of drift).
//!
//! The configuration it left is in the audit log already: every change of a
//! definition stores its text, and the deployment's last audit row
//! (`audit_to`) marks the moment. So the history row keeps only which kinds
//! there were, which had been deployed, and where the files said otherwise
//! than what ran afterwards (runtime changes a deployment kept): a few
//! bytes, where a copy of 10,000 flags would take megabytes per deployment.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::section::Configuration;
use crate::error::{Error, Result};
use crate::store::audit;
use crate::store::deployments::{self, DeploymentRow};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Snapshot {
    /// The kinds of every section at the time.
    known: Vec<String>,
    /// The kinds whose files had been deployed by then.
    deployed: Vec<String>,
    /// Where what the files said differs from what ran after the
    /// deployment: kind → name → the files' definition (null: the files did
    /// not have it).
    differs: BTreeMap<String, BTreeMap<String, Option<Value>>>,
}

impl Snapshot {
    /// The snapshot of a deployment that left `state` while the files said
    /// `intended`.
    pub fn of(intended: &Configuration, state: &Configuration) -> Snapshot {
        let mut differs: BTreeMap<String, BTreeMap<String, Option<Value>>> = BTreeMap::new();
        for (kind, files) in intended {
            let running = state.get(kind);
            let names = files
                .keys()
                .chain(running.into_iter().flat_map(|r| r.keys()));
            for name in names {
                let (f, r) = (files.get(name), running.and_then(|r| r.get(name)));
                if f != r {
                    differs
                        .entry(kind.clone())
                        .or_default()
                        .insert(name.clone(), f.cloned());
                }
            }
        }
        Snapshot {
            known: state.keys().cloned().collect(),
            deployed: intended.keys().cloned().collect(),
            differs,
        }
    }

    /// The snapshot of a history row.
    pub fn read(row: &DeploymentRow) -> Result<Snapshot> {
        deployments::column(&row.intended_json, "what a deployment left")
    }

    /// The configuration the deployment left: each definition's text as of
    /// its last audit row up to the deployment's, for the kinds it knew.
    pub fn state(&self, conn: &rusqlite::Connection, audit_to: i64) -> Result<Configuration> {
        let mut state: Configuration = self
            .known
            .iter()
            .map(|k| (k.clone(), BTreeMap::new()))
            .collect();
        for (kind, name, text) in audit::texts_at(conn, audit_to)? {
            if let Some(definitions) = state.get_mut(&kind) {
                let value: Value = serde_json::from_str(&text).map_err(|e| {
                    Error::storage(format!(
                        "{kind} `{name}` in the audit log cannot be read: {e}"
                    ))
                })?;
                definitions.insert(name, value);
            }
        }
        Ok(state)
    }

    /// What the files said: `state` where they agreed, else their own.
    pub fn intended(&self, state: &Configuration) -> Configuration {
        self.deployed
            .iter()
            .map(|kind| {
                let mut definitions = state.get(kind).cloned().unwrap_or_default();
                for (name, said) in self.differs.get(kind).into_iter().flatten() {
                    match said {
                        Some(v) => definitions.insert(name.clone(), v.clone()),
                        None => definitions.remove(name),
                    };
                }
                (kind.clone(), definitions)
            })
            .collect()
    }
}

/// The deployment in force and what the files said at it: the base a plan
/// measures drift against (`None` before the first deployment).
pub(crate) fn base(
    conn: &rusqlite::Connection,
) -> Result<(Option<DeploymentRow>, Option<Configuration>)> {
    let Some(last) = deployments::latest(conn)? else {
        return Ok((None, None));
    };
    let snapshot = Snapshot::read(&last)?;
    let state = snapshot.state(conn, last.audit_to)?;
    let intended = snapshot.intended(&state);
    Ok((Some(last), Some(intended)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_what_the_files_said_otherwise_is_kept() {
        let state: Configuration = [(
            "flag".to_string(),
            [
                ("a".to_string(), json!({"p": 60})),
                ("b".to_string(), json!({"p": 1})),
                ("night".to_string(), json!({})),
            ]
            .into_iter()
            .collect(),
        )]
        .into_iter()
        .collect();
        let mut intended = state.clone();
        let flags = intended.get_mut("flag").unwrap();
        flags.insert("a".into(), json!({"p": 25}));
        flags.remove("night");
        let snapshot = Snapshot::of(&intended, &state);
        assert_eq!(
            serde_json::to_value(&snapshot.differs).unwrap(),
            json!({"flag": {"a": {"p": 25}, "night": null}})
        );
        assert_eq!(snapshot.intended(&state), intended);
    }
}
