//! How the analysis words numbers in its sentences (the report's reasons,
//! recommendation and business impact). Public so that the CLI's table words
//! them the same way.

/// `x` with `digits` significant digits, without exponent for ordinary
/// sizes: `significant(0.04213, 3)` is "0.0421".
pub fn significant(x: f64, digits: i32) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let magnitude = x.abs().log10().floor() as i32;
    let decimals = (digits - 1 - magnitude).clamp(0, 15) as usize;
    format!("{x:.decimals$}")
}

/// A p-value: four decimals, or two significant digits with an exponent
/// below 1e-4 ("0.0123", "2.5e-7").
pub fn p_value(p: f64) -> String {
    if p < 1e-4 {
        format!("{p:.1e}")
    } else {
        format!("{p:.4}")
    }
}

/// A fraction such as 0.95 as "95%" (three significant digits when not a
/// whole percent: "97.5%").
pub fn percent(x: f64) -> String {
    let pct = x * 100.0;
    if (pct - pct.round()).abs() < 1e-9 {
        format!("{}%", pct.round())
    } else {
        format!("{}%", significant(pct, 3))
    }
}

/// A duration in days, read as a person would say it: "2.50 days",
/// "3.2 hours", "12 minutes", "under a minute".
pub fn duration(days: f64) -> String {
    let minutes = days * 24.0 * 60.0;
    if days >= 1.0 {
        format!("{} days", significant(days, 3))
    } else if minutes >= 60.0 {
        format!("{} hours", significant(minutes / 60.0, 2))
    } else if minutes >= 1.0 {
        plural(minutes.floor() as u64, "minute", "minutes")
    } else {
        "under a minute".to_string()
    }
}

/// Whole days still needed, for a sentence ("3 more days").
pub(crate) fn more_days(days: f64) -> String {
    let whole = days.ceil().max(1.0) as u64;
    plural(whole, "more day", "more days")
}

/// `n` and the noun that agrees with it.
pub(crate) fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_formats() {
        assert_eq!(significant(0.042_13, 3), "0.0421");
        assert_eq!(significant(1234.5, 3), "1234");
        assert_eq!(percent(0.95), "95%");
        assert_eq!(percent(0.975), "97.5%");
        assert_eq!(p_value(0.012_345), "0.0123");
        assert_eq!(p_value(2.5e-7), "2.5e-7");
        assert_eq!(more_days(0.2), "1 more day");
        assert_eq!(more_days(3.75), "4 more days");
        assert_eq!(duration(2.5), "2.50 days");
        assert_eq!(duration(0.25), "6.0 hours");
        assert_eq!(duration(0.01), "14 minutes");
        assert_eq!(duration(0.0000026), "under a minute");
    }
}
