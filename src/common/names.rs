//! The naming rule of flags, experiments, variants and metrics.

/// The longest name accepted.
pub const MAX_NAME: usize = 128;

/// Checks a flag name: 1–128 characters of `A–Z a–z 0–9 _ . -`, so that it
/// is safe in a CLI argument, a path and a log line. Experiment ids, variant
/// and metric names follow the same rule.
///
/// # Errors
/// A message naming the problem ("flag name" in it may be replaced by the
/// caller's word for the thing named).
pub fn check_flag_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(format!("a flag name has 1 to {MAX_NAME} characters"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(format!(
            "flag name `{name}` contains `{c}`; use letters, digits, `_`, `.` and `-`"
        ));
    }
    Ok(())
}

/// `; did you mean `x`?` when one of `known` is close to the unknown `name`
/// (a typo of a few letters, another case, or a part of the name), else
/// nothing: the tail of a "does not exist" message, the same on every
/// surface since it is written once, here.
pub fn did_you_mean<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    // No name is longer; and the distance of a megabyte of input to each
    // known name would take a matrix of that many rows each.
    if name.len() > MAX_NAME {
        return String::new();
    }
    let wanted = name.to_lowercase();
    // Up to a third of the letters may be wrong, and at least two.
    let allowed = (wanted.chars().count() / 3).max(2);
    let best = known
        .into_iter()
        .filter_map(|k| {
            let lower = k.to_lowercase();
            let distance = strsim::damerau_levenshtein(&wanted, &lower);
            let part = wanted.len() >= 3 && (lower.contains(&wanted) || wanted.contains(&lower));
            (distance <= allowed || part).then_some((distance, k))
        })
        .min();
    match best {
        Some((_, k)) => format!("; did you mean `{k}`?"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn did_you_mean_suggests_the_closest_known_name() {
        let known = [
            "intelligent_pipe_sizing",
            "legacy_solver",
            "pipe_sizing_comparison",
        ];
        let hint = |n| did_you_mean(n, known);
        assert_eq!(
            hint("intelligent_pipe_sizng"),
            "; did you mean `intelligent_pipe_sizing`?"
        );
        assert_eq!(hint("Legacy_Solver"), "; did you mean `legacy_solver`?");
        assert_eq!(
            hint("pipe_sizing_comparision"),
            "; did you mean `pipe_sizing_comparison`?"
        );
        assert_eq!(hint("solver"), "; did you mean `legacy_solver`?");
        assert_eq!(hint("velocity_limit"), "");
        assert_eq!(did_you_mean("x", []), "");
        let long = format!("intelligent_pipe_sizing{}", "x".repeat(MAX_NAME));
        assert_eq!(hint(&long), "");
    }
}
