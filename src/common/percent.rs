//! Percentages as the engines use them: 0–100 with at most two decimals,
//! held as hundredths of the 10,000 buckets.

/// Whether `p` is a percentage 0–100 with at most two decimals.
///
/// # Errors
/// A message saying what is wrong, for use in a config issue.
pub fn check_percentage(p: f64) -> Result<(), String> {
    if !(0.0..=100.0).contains(&p) {
        return Err(format!("must be between 0 and 100, not {p}"));
    }
    let hundredths = p * 100.0;
    if (hundredths - hundredths.round()).abs() > 1e-6 {
        return Err(format!("{p} has more than two decimals (steps are 0.01)"));
    }
    Ok(())
}

/// `p` percent in hundredths (25.5 → 2550). `p` must have passed validation.
pub fn hundredths(p: f64) -> u32 {
    (p * 100.0).round().clamp(0.0, 10_000.0) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_have_two_decimals_at_most() {
        assert!(check_percentage(12.34).is_ok());
        assert!(check_percentage(0.01).is_ok());
        assert!(check_percentage(12.345).is_err());
        assert!(check_percentage(-0.01).is_err());
        assert!(check_percentage(f64::NAN).is_err());
        assert_eq!(hundredths(12.34), 1234);
        assert_eq!(hundredths(0.29), 29);
    }
}
