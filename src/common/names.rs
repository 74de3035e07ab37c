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
