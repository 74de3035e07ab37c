//! The workflow of a feedback item: the moves between statuses.
//!
//! ```text
//! new ──► acknowledged ──► in_progress ──► resolved ──► closed
//!  │            │               │  ▲           │
//!  │            │               │  └─ reopen ──┘
//!  │            └──► closed ◄───┘
//!  └────────────┴───────────────┴──► duplicate (merged into an earlier item)
//! ```
//!
//! | from | to |
//! |---|---|
//! | new | acknowledged, duplicate |
//! | acknowledged | in_progress, closed, duplicate |
//! | in_progress | resolved, closed, duplicate |
//! | resolved | closed, in_progress (reopened) |
//! | closed, duplicate | nothing: they are final |
//!
//! An item is *acknowledged* by its first move out of `new`, and *done*
//! by its first move to `resolved` or `closed` (or `duplicate`): the times
//! the success metrics measure.

use super::model::Status;

/// The statuses an item in `from` may move to.
pub fn next_statuses(from: Status) -> &'static [Status] {
    use Status::*;
    match from {
        New => &[Acknowledged, Duplicate],
        Acknowledged => &[InProgress, Closed, Duplicate],
        InProgress => &[Resolved, Closed, Duplicate],
        Resolved => &[Closed, InProgress],
        Closed | Duplicate => &[],
    }
}

/// Whether an item may move from `from` to `to`.
pub fn can_move(from: Status, to: Status) -> bool {
    next_statuses(from).contains(&to)
}

/// Why an item in `from` cannot move to `to`, as a sentence naming the
/// moves it has; `None` when it can.
pub fn refusal(from: Status, to: Status) -> Option<String> {
    if can_move(from, to) {
        return None;
    }
    let next = next_statuses(from);
    Some(if next.is_empty() {
        format!(
            "cannot move from {} to {}: {} is final",
            from.as_str(),
            to.as_str(),
            from.as_str()
        )
    } else {
        let names: Vec<&str> = next.iter().map(|s| s.as_str()).collect();
        format!(
            "cannot move from {} to {} (from {} an item can move to {})",
            from.as_str(),
            to.as_str(),
            from.as_str(),
            names.join(", ")
        )
    })
}

/// Whether reaching `to` makes an item done (resolved, closed or merged).
pub fn is_done(to: Status) -> bool {
    matches!(to, Status::Resolved | Status::Closed | Status::Duplicate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_documented_moves_are_allowed() {
        let mut allowed = Vec::new();
        for from in Status::ALL {
            for to in Status::ALL {
                if can_move(from, to) {
                    allowed.push(format!("{}>{}", from.as_str(), to.as_str()));
                }
            }
        }
        assert_eq!(
            allowed,
            [
                "new>acknowledged",
                "new>duplicate",
                "acknowledged>in_progress",
                "acknowledged>closed",
                "acknowledged>duplicate",
                "in_progress>resolved",
                "in_progress>closed",
                "in_progress>duplicate",
                "resolved>in_progress",
                "resolved>closed",
            ]
        );
        assert_eq!(
            refusal(Status::New, Status::Resolved).unwrap(),
            "cannot move from new to resolved (from new an item can move to acknowledged, duplicate)"
        );
        assert_eq!(
            refusal(Status::Closed, Status::New).unwrap(),
            "cannot move from closed to new: closed is final"
        );
        assert_eq!(refusal(Status::New, Status::Acknowledged), None);
    }
}
